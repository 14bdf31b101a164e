package render

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"html"
	"strings"

	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/services/registry/policy"
)

// Problem is what keeps a version's text from resolving: where it is, and why.
type Problem struct {
	// Field is the version's field, e.g. "articles[3].body" or "preamble".
	Field string
	// Heading is the article's heading, empty for the preamble.
	Heading string
	// Line is the line within the field's text.
	Line int
	Msg  string
}

func (p Problem) Error() string {
	where := p.Field
	if p.Heading != "" {
		where += " (" + p.Heading + ")"
	}
	return fmt.Sprintf("%s line %d: %s", where, p.Line, p.Msg)
}

type part struct {
	id, heading, number string
	blocks              []rblock
}

type resolved struct {
	title       string
	dates       string
	preamble    []rblock
	articles    []part
	attachments []part
}

// Title is the document's heading: the title as published, every word of it kept, with the unit's
// full name said once. A title that names the unit stays as it is; one that starts with the names
// before the unit's (the tenant's, "과천시 체육시설 …") gets the unit's own name after them ("과천시
// 체육시설관리과 체육시설 …"); any other is led by the full name.
func Title(v *registryv1.PolicyVersion) string {
	title := strings.TrimSpace(v.GetTitle())
	if title == "" {
		title = policy.DefaultTitle(v.GetKind())
	}
	u := v.GetSnapshot().GetUnit()
	full := u.GetFullName()
	if full == "" {
		full = u.GetDisplayName()
	}
	if full == "" || strings.Contains(title, u.GetDisplayName()) || strings.Contains(title, full) {
		return title
	}
	if before, ok := strings.CutSuffix(full, " "+u.GetDisplayName()); ok && before != "" {
		if rest, ok := strings.CutPrefix(title, before+" "); ok {
			return full + " " + rest
		}
	}
	return full + " " + title
}

// Dates is the line of a version's dates as published: "공고일자 2024. 01. 09. · 시행일자 2024. 01. 16.".
func Dates(v *registryv1.PolicyVersion) string {
	var ds []string
	if a := v.GetAnnounceDate(); a != "" {
		ds = append(ds, "공고일자 "+Date(a))
	}
	if e := v.GetEffectiveDate(); e != "" {
		ds = append(ds, "시행일자 "+Date(e))
	}
	return strings.Join(ds, " · ")
}

func resolve(v *registryv1.PolicyVersion, f Facts) (*resolved, []Problem) {
	var probs []Problem
	do := func(field, heading, body string) []rblock {
		bs, errs := parse(body)
		r := &resolver{f: f}
		out := r.blocks(bs, nil)
		for _, e := range append(errs, r.errs...) {
			probs = append(probs, Problem{Field: field, Heading: heading, Line: e.Line, Msg: e.Msg})
		}
		return out
	}
	d := &resolved{title: Title(v), dates: Dates(v), preamble: do("preamble", "", v.GetPreamble())}
	for i, a := range v.GetArticles() {
		d.articles = append(d.articles, part{id: fmt.Sprintf("article-%d", i+1), heading: a.GetHeading(), number: a.GetNumber(),
			blocks: do(fmt.Sprintf("articles[%d].body", i), a.GetHeading(), a.GetBody())})
	}
	for i, a := range v.GetAttachments() {
		d.attachments = append(d.attachments, part{id: fmt.Sprintf("attachment-%d", i+1), heading: a.GetHeading(), number: a.GetNumber(),
			blocks: do(fmt.Sprintf("attachments[%d].body", i), a.GetHeading(), a.GetBody())})
	}
	return d, probs
}

// Problems lists what keeps a version's preamble, articles and attachments from resolving: their
// syntax, bindings that name no fact of the snapshot, links to no unit or version.
func Problems(v *registryv1.PolicyVersion, f Facts) []Problem {
	_, probs := resolve(v, f)
	return probs
}

func (d *resolved) html() string {
	var b strings.Builder
	b.WriteString(`<article class="policy" lang="ko" aria-labelledby="doc-title">` + "\n")
	b.WriteString(`<h1 id="doc-title">` + html.EscapeString(d.title) + "</h1>\n")
	if d.dates != "" {
		b.WriteString(`<p class="dates">` + html.EscapeString(d.dates) + "</p>\n")
	}
	if len(d.preamble) > 0 {
		b.WriteString(`<div class="preamble">` + "\n")
		blocksHTML(&b, d.preamble, "")
		b.WriteString("</div>\n")
	}
	for _, group := range [][]part{d.articles, d.attachments} {
		for _, p := range group {
			class := "article"
			if strings.HasPrefix(p.id, "attachment") {
				class = "attachment"
			}
			fmt.Fprintf(&b, `<section class="%s" id="%s" aria-labelledby="%s-h">`+"\n"+`<h2 id="%s-h">%s</h2>`+"\n",
				class, p.id, p.id, p.id, html.EscapeString(p.heading))
			blocksHTML(&b, p.blocks, p.heading)
			b.WriteString("</section>\n")
		}
	}
	b.WriteString("</article>\n")
	return b.String()
}

func (d *resolved) text() string {
	parts := []string{d.title}
	if d.dates != "" {
		parts[0] += "\n" + d.dates
	}
	if t := blocksText(d.preamble); t != "" {
		parts = append(parts, t)
	}
	for _, group := range [][]part{d.articles, d.attachments} {
		for _, p := range group {
			parts = append(parts, p.heading)
			if t := blocksText(p.blocks); t != "" {
				parts = append(parts, t)
			}
		}
	}
	return strings.Join(parts, "\n\n") + "\n"
}

// Freeze renders the version's document as published, HTML and text, with their SHA-256; it
// refuses a version whose text does not resolve. The caller sets the freeze time.
func Freeze(v *registryv1.PolicyVersion, f Facts) (*registryv1.PublishedDocument, []Problem) {
	d, probs := resolve(v, f)
	if len(probs) > 0 {
		return nil, probs
	}
	h, t := d.html(), d.text()
	return &registryv1.PublishedDocument{Html: h, Text: t, HtmlSha256: sha(h), TextSha256: sha(t)}, nil
}

func sha(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// Preview renders a draft's document as Freeze would, whatever its problems (what does not resolve
// is left empty), for staff reviewing it.
func Preview(v *registryv1.PolicyVersion, f Facts) (htmlDoc, text string, probs []Problem) {
	d, probs := resolve(v, f)
	return d.html(), d.text(), probs
}

// ArticleText is an article or attachment as published: its heading and its text, resolved.
type ArticleText struct {
	Number, Heading, Text string
}

// Texts returns the articles and attachments of a version as their text, for comparison.
func Texts(v *registryv1.PolicyVersion, f Facts) []ArticleText {
	d, _ := resolve(v, f)
	var out []ArticleText
	for _, group := range [][]part{d.articles, d.attachments} {
		for _, p := range group {
			out = append(out, ArticleText{Number: p.number, Heading: p.heading, Text: blocksText(p.blocks)})
		}
	}
	return out
}

// Compare builds the before/after table (신·구 대조표, STD-21, WG26-24) of two versions' texts:
// one row per article that was added, removed or changed, matched by number (by heading where
// unnumbered), in the after-version's order and then the removed ones.
func Compare(before, after []ArticleText) []*registryv1.ComparisonRow {
	key := func(a ArticleText) string {
		if a.Number != "" {
			return "#" + a.Number
		}
		return a.Heading
	}
	old := map[string]ArticleText{}
	for _, a := range before {
		old[key(a)] = a
	}
	seen := map[string]bool{}
	var rows []*registryv1.ComparisonRow
	for _, a := range after {
		k := key(a)
		seen[k] = true
		b, ok := old[k]
		switch {
		case !ok:
			rows = append(rows, &registryv1.ComparisonRow{Article: a.Heading, After: a.Text})
		case a.Heading != b.Heading:
			rows = append(rows, &registryv1.ComparisonRow{Article: a.Heading,
				Before: b.Heading + "\n\n" + b.Text, After: a.Heading + "\n\n" + a.Text})
		case a.Text != b.Text:
			rows = append(rows, &registryv1.ComparisonRow{Article: a.Heading, Before: b.Text, After: a.Text})
		}
	}
	for _, b := range before {
		if !seen[key(b)] {
			rows = append(rows, &registryv1.ComparisonRow{Article: b.Heading, Before: b.Text})
		}
	}
	return rows
}
