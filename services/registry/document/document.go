// Package document reads a policy as a public body publishes it — Markdown, HTML, or plain text
// with 제N조 headings and 별표 tables — into its title, preamble, articles and attachments, each
// article keeping its heading as written. It refuses a document without article structure, with an
// article number given twice, or with a table whose rows do not line up, naming the line, so that
// nothing half-read is ever stored.
//
// It changes no word. What it does to the text is what each format's structure requires: Markdown
// is taken as it is (comments "<!-- -->" dropped); HTML's elements become the body syntax's
// paragraphs, items and tables (a cell a rowspan covers becomes "{{^}}", merged with the cell
// above, one a colspan covers "{{<}}", merged with the cell to its left; see render's package
// doc); plain text's bullets ("•", "·", "▪", "-") become items and its tab-separated lines table
// rows. HTML is parsed with golang.org/x/net/html, the Go project's HTML5 parser.
package document

import (
	"fmt"
	"strings"

	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/services/registry/policy"
	"github.com/pipa-kr/pipa/services/registry/render"
)

// Document is a policy as read.
type Document struct {
	Title       string
	Preamble    string
	Articles    []*registryv1.Article
	Attachments []*registryv1.Article
}

// Error is a problem at a line of the source.
type Error struct {
	Line int
	Msg  string
}

func (e Error) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

// Read reads a source in its format.
func Read(format registryv1.PolicySourceFormat, content string) (*Document, []Error) {
	content = strings.ReplaceAll(strings.TrimPrefix(content, "\ufeff"), "\r\n", "\n")
	var ls []srcLine
	var errs []Error
	switch format {
	case registryv1.PolicySourceFormat_POLICY_SOURCE_FORMAT_MARKDOWN:
		ls, errs = markdownLines(content)
	case registryv1.PolicySourceFormat_POLICY_SOURCE_FORMAT_HTML:
		ls, errs = htmlLines(content)
	case registryv1.PolicySourceFormat_POLICY_SOURCE_FORMAT_TEXT:
		ls, errs = textLines(content)
	default:
		return nil, []Error{{0, "the format must be MARKDOWN, HTML or TEXT"}}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return assemble(ls)
}

// srcLine is a line of the body syntax with the source line it comes from; title and heading
// lines are marked.
type srcLine struct {
	n       int
	text    string
	title   bool
	heading bool
}

// assemble splits the lines into the title, the preamble and the parts, and checks each part.
func assemble(ls []srcLine) (*Document, []Error) {
	d := &Document{}
	var errs []Error
	type open struct {
		a    *registryv1.Article
		body []string
		ns   []int
	}
	var cur *open
	var preamble []string
	preambleStart := 0
	style := policy.NoStyle
	numbers := map[string]int{}
	attachmentsBegun := false
	finish := func() {
		if cur == nil {
			return
		}
		first := firstText(cur.body)
		cur.a.Body = strings.Trim(strings.Join(cur.body, "\n"), "\n")
		for _, e := range render.Check(cur.a.Body) {
			errs = append(errs, Error{cur.ns[min(first+e.Line-1, len(cur.ns)-1)], fmt.Sprintf("%s: %s", cur.a.GetHeading(), e.Msg)})
		}
	}
	for _, l := range ls {
		switch {
		case l.title:
			if d.Title != "" {
				errs = append(errs, Error{l.n, fmt.Sprintf("a second title %q (the document has %q)", l.text, d.Title)})
			}
			d.Title = l.text
		case l.heading:
			finish()
			kind, s, number, title := policy.ParseHeading(l.text, style)
			switch kind {
			case policy.NotAHeading:
				errs = append(errs, Error{l.n, fmt.Sprintf("%q is not an article heading (제N조(…), N조. …, N. …, 부칙) in this document's style, nor an attachment (별표N, 별지 제N호)", l.text)})
				cur = nil
				continue
			case policy.ArticleHeading:
				if style == policy.NoStyle {
					style = s
				}
				if attachmentsBegun {
					errs = append(errs, Error{l.n, fmt.Sprintf("article %q comes after the attachments (별표, 별지); articles come first", l.text)})
				}
			case policy.AttachmentHeading:
				attachmentsBegun = true
			}
			if number != "" {
				if prev, dup := numbers[number]; dup {
					errs = append(errs, Error{l.n, fmt.Sprintf("%s is numbered %s again (line %d has it already)", l.text, number, prev)})
				}
				numbers[number] = l.n
			}
			a := &registryv1.Article{Heading: strings.TrimSpace(l.text), Number: number, Title: title}
			if a.Title == "" {
				a.Title = a.Heading
			}
			if kind == policy.AttachmentHeading {
				d.Attachments = append(d.Attachments, a)
			} else {
				d.Articles = append(d.Articles, a)
			}
			cur = &open{a: a}
		case cur != nil:
			cur.body = append(cur.body, l.text)
			cur.ns = append(cur.ns, l.n)
		default:
			if preambleStart == 0 && strings.TrimSpace(l.text) != "" {
				preambleStart = l.n
			}
			if preambleStart != 0 {
				preamble = append(preamble, l.text)
			}
		}
	}
	finish()
	d.Preamble = strings.Trim(strings.Join(preamble, "\n"), "\n")
	for _, e := range render.Check(d.Preamble) {
		errs = append(errs, Error{preambleStart + e.Line - 1, "preamble: " + e.Msg})
	}
	if len(d.Articles) == 0 && len(errs) == 0 {
		errs = append(errs, Error{1, "no article heading was found (제N조(…), N조. … or N. …): a policy is read article by article"})
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return d, nil
}

// firstText is the index of the first line with text.
func firstText(lines []string) int {
	for i, l := range lines {
		if strings.TrimSpace(l) != "" {
			return i
		}
	}
	return 0
}

// Apply sets a version's title (when the document has one), preamble, articles and attachments.
func (d *Document) Apply(v *registryv1.PolicyVersion) {
	if d.Title != "" {
		v.Title = d.Title
	}
	v.Preamble, v.Articles, v.Attachments = d.Preamble, d.Articles, d.Attachments
}
