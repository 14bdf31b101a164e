package render

import (
	"fmt"
	"html"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/pipa-kr/pipa/pkg/names"
	"github.com/pipa-kr/pipa/services/registry/policy"
)

// A body resolved: its blocks with every binding filled and every link's address known.

type span struct {
	text  string
	url   string
	brk   bool   // a line break
	value bool   // text a binding filled in (for the draft preview's marks)
	merge string // MergeUp or MergeLeft: the cell is merged with its neighbour
}

type rblock struct {
	para  [][]span
	list  []*ritem
	table *rtable
}

type ritem struct {
	lines [][]span
	sub   []*ritem
}

type rtable struct {
	head [][][]span
	rows [][][]span
}

type resolver struct {
	f    Facts
	errs []Error
}

// errorf records a problem once, however many rows repeat the line it is on.
func (r *resolver) errorf(n int, format string, args ...any) {
	e := Error{n, fmt.Sprintf(format, args...)}
	if !slices.Contains(r.errs, e) {
		r.errs = append(r.errs, e)
	}
}

var (
	linkRE = regexp.MustCompile(`\[([^\]]+)\]\(([^)\s]+)\)`)
	brRE   = regexp.MustCompile(`(?i)<br\s*/?>`)
)

// inline resolves one line of text: its links and bindings.
func (r *resolver) inline(text string, n int, env rowEnv) []span {
	var out []span
	for {
		m := linkRE.FindStringSubmatchIndex(text)
		if m == nil {
			break
		}
		out = append(out, r.bindings(text[:m[0]], n, env)...)
		label := r.bindings(text[m[2]:m[3]], n, env)
		url, ok := r.url(text[m[4]:m[5]], n)
		for _, s := range label {
			if ok && !s.brk {
				s.url = url
			}
			out = append(out, s)
		}
		if !ok {
			// Not an address pipa links to (a scheme other than http(s)): the text stays as written.
			out = append(out[:len(out)-len(label)], span{text: text[m[0]:m[1]]})
		}
		text = text[m[1]:]
	}
	return append(out, r.bindings(text, n, env)...)
}

// url resolves a link's address: http(s) and site paths as they are, unit:<id> to the unit's
// public page and version:<n> to a published version of the policy.
func (r *resolver) url(u string, n int) (string, bool) {
	switch {
	case strings.HasPrefix(u, "https://"), strings.HasPrefix(u, "http://"), strings.HasPrefix(u, "/"):
		return u, true
	case strings.HasPrefix(u, "unit:"):
		id := strings.TrimPrefix(u, "unit:")
		for _, un := range append(r.f.Snapshot.GetSubunits(), r.f.Snapshot.GetUnit()) {
			if names.Last(un.GetName()) == id {
				return "/p/" + r.f.tenantID() + "/" + id, true
			}
		}
		r.errorf(n, "link %q: no unit %q in the unit's tree", u, id)
		return "", false
	case strings.HasPrefix(u, "version:"):
		num, err := strconv.Atoi(strings.TrimPrefix(u, "version:"))
		known := err == nil && (int32(num) == r.f.Version.GetNumber())
		for _, v := range r.f.Versions {
			known = known || int32(num) == v
		}
		if !known {
			r.errorf(n, "link %q: the policy has no published version %s", u, strings.TrimPrefix(u, "version:"))
			return "", false
		}
		return fmt.Sprintf("/p/%s/%s/%s/versions/%d", r.f.tenantID(), r.f.unitID(), policy.Segment(r.f.Version.GetKind()), num), true
	}
	return "", false
}

// bindings fills the bindings of a text without links.
func (r *resolver) bindings(text string, n int, env rowEnv) []span {
	var out []span
	for {
		m := bindingRE.FindStringSubmatchIndex(text)
		if m == nil {
			break
		}
		if m[0] > 0 {
			out = append(out, span{text: text[:m[0]]})
		}
		b, err := parseBinding(text[m[2]:m[3]])
		var vs []string
		if err == nil {
			vs, err = b.values(r.f, env)
		}
		if err != nil {
			r.errorf(n, "%v", err)
		}
		for i, v := range vs {
			if i > 0 {
				if b.sep == "\n" {
					out = append(out, span{brk: true})
				} else {
					out = append(out, span{text: b.sep, value: true})
				}
			}
			out = append(out, span{text: v, value: true})
		}
		text = text[m[1]:]
	}
	if text != "" {
		out = append(out, span{text: text})
	}
	return out
}

// repeat finds the row binding of texts that asks for a repetition (one not already bound by an
// enclosing row) and returns the elements to repeat over, or nil elements and ok=false when the
// texts repeat nothing.
func (r *resolver) repeat(texts []string, n int, env rowEnv) (name string, elems []protoreflect.Message, ok bool) {
	var key string
	var b0 *binding
	for _, t := range texts {
		for _, m := range bindingRE.FindAllStringSubmatch(t, -1) {
			b, err := parseBinding(m[1])
			if err != nil || b.mode != modeRow {
				continue
			}
			if _, bound := env[b.coll.name]; bound {
				continue
			}
			switch {
			case key == "":
				key, b0 = b.key(), b
			case b.key() != key:
				r.errorf(n, "one line repeats over both %s and %s; a line repeats over one collection", key, b.key())
			}
		}
	}
	if b0 == nil {
		return "", nil, false
	}
	elems, err := b0.coll.elems(r.f, env, b0.filter)
	if err != nil {
		r.errorf(n, "%v", err)
		return "", nil, false
	}
	return b0.coll.name, elems, true
}

func with(e rowEnv, name string, m protoreflect.Message) rowEnv {
	out := maps.Clone(e)
	if out == nil {
		out = rowEnv{}
	}
	out[name] = m
	return out
}

func (r *resolver) blocks(bs []block, env rowEnv) []rblock {
	var out []rblock
	for _, b := range bs {
		switch {
		case b.table != nil:
			out = append(out, rblock{table: r.table(b.table, env)})
		case b.list != nil:
			out = append(out, rblock{list: r.items(b.list, env)})
		default:
			var lines [][]span
			for _, l := range b.para {
				if name, elems, ok := r.repeat([]string{l.text}, l.n, env); ok {
					for _, e := range elems {
						lines = append(lines, r.inline(l.text, l.n, with(env, name, e)))
					}
					continue
				}
				lines = append(lines, r.inline(l.text, l.n, env))
			}
			if len(lines) > 0 {
				out = append(out, rblock{para: lines})
			}
		}
	}
	return out
}

func (r *resolver) items(items []*item, env rowEnv) []*ritem {
	var out []*ritem
	for _, it := range items {
		texts := []string{it.text}
		for _, l := range it.more {
			texts = append(texts, l.text)
		}
		one := func(e rowEnv) *ritem {
			ri := &ritem{lines: [][]span{r.inline(it.text, it.n, e)}}
			for _, l := range it.more {
				ri.lines = append(ri.lines, r.inline(l.text, l.n, e))
			}
			ri.sub = r.items(it.sub, e)
			return ri
		}
		if name, elems, ok := r.repeat(texts, it.n, env); ok {
			for _, e := range elems {
				out = append(out, one(with(env, name, e)))
			}
			continue
		}
		out = append(out, one(env))
	}
	return out
}

func (r *resolver) cells(rw row, env rowEnv) [][]span {
	out := make([][]span, len(rw.cells))
	for i, c := range rw.cells {
		if c == MergeUp || c == MergeLeft {
			out[i] = []span{{merge: c}}
			continue
		}
		for j, part := range brRE.Split(c, -1) {
			if j > 0 {
				out[i] = append(out[i], span{brk: true})
			}
			out[i] = append(out[i], r.inline(strings.TrimSpace(part), rw.n, env)...)
		}
	}
	return out
}

// table resolves a table; consecutive rows that repeat over one collection repeat together, so
// that a body may give each element two rows (seed 002's public/non-public split).
func (r *resolver) table(t *table, env rowEnv) *rtable {
	out := &rtable{}
	for _, h := range t.head {
		if _, _, ok := r.repeat(h.cells, h.n, env); ok {
			r.errorf(h.n, "a header row cannot repeat; put the row bindings below the \"| --- |\" row")
			continue
		}
		out.head = append(out.head, r.cells(h, env))
	}
	for i := 0; i < len(t.rows); {
		name, elems, ok := r.repeat(t.rows[i].cells, t.rows[i].n, env)
		if !ok {
			out.rows = append(out.rows, r.cells(t.rows[i], env))
			i++
			continue
		}
		j := i + 1
		for j < len(t.rows) {
			next, _, ok := r.repeat(t.rows[j].cells, t.rows[j].n, env)
			if !ok || next != name {
				break
			}
			j++
		}
		for _, e := range elems {
			for _, rw := range t.rows[i:j] {
				out.rows = append(out.rows, r.cells(rw, with(env, name, e)))
			}
		}
		i = j
	}
	for _, part := range [][][][]span{out.head, out.rows} {
		if _, _, why := merges(mergeGrid(part)); why != "" {
			r.errorf(t.line, "as filled in, %s", why)
		}
	}
	return out
}

// mergeGrid is a resolved table part's cells as merges reads them: the merge marks, else "".
func mergeGrid(rows [][][]span) [][]string {
	grid := make([][]string, len(rows))
	for i, rw := range rows {
		grid[i] = make([]string, len(rw))
		for j, c := range rw {
			if len(c) == 1 {
				grid[i][j] = c[0].merge
			}
		}
	}
	return grid
}

// rowsHTML writes a table part's rows, a merged cell once with its rowspan and colspan (merges
// that do not line up, left in a draft preview, are written as empty cells).
func rowsHTML(b *strings.Builder, rows [][][]span, open string) {
	spans, _, _ := merges(mergeGrid(rows))
	for i, rw := range rows {
		b.WriteString("<tr>")
		for j, c := range rw {
			if len(c) == 1 && c[0].merge != "" && spans != nil {
				continue
			}
			b.WriteString("<" + open)
			if sp := spans[[2]int{i, j}]; sp[0] > 1 {
				fmt.Fprintf(b, ` rowspan="%d"`, sp[0])
			}
			if sp := spans[[2]int{i, j}]; sp[1] > 1 {
				fmt.Fprintf(b, ` colspan="%d"`, sp[1])
			}
			b.WriteString(">")
			spansHTML(b, c)
			b.WriteString("</" + open[:2] + ">")
		}
		b.WriteString("</tr>")
	}
}

// --- writers ---

func spansHTML(b *strings.Builder, ss []span) {
	for _, s := range ss {
		switch {
		case s.brk:
			b.WriteString("<br>")
		case s.url != "":
			b.WriteString(`<a href="` + html.EscapeString(s.url) + `">` + html.EscapeString(s.text) + "</a>")
		default:
			b.WriteString(html.EscapeString(s.text))
		}
	}
}

func linesHTML(b *strings.Builder, ls [][]span) {
	for i, l := range ls {
		if i > 0 {
			b.WriteString("<br>")
		}
		spansHTML(b, l)
	}
}

func itemsHTML(b *strings.Builder, items []*ritem) {
	b.WriteString("<ul>")
	for _, it := range items {
		b.WriteString("<li>")
		linesHTML(b, it.lines)
		if len(it.sub) > 0 {
			itemsHTML(b, it.sub)
		}
		b.WriteString("</li>")
	}
	b.WriteString("</ul>")
}

func blocksHTML(b *strings.Builder, bs []rblock, caption string) {
	for _, bl := range bs {
		switch {
		case bl.table != nil:
			b.WriteString(`<div class="table"><table>`)
			if caption != "" {
				b.WriteString(`<caption>` + html.EscapeString(caption) + `</caption>`)
			}
			if len(bl.table.head) > 0 {
				b.WriteString("<thead>")
				rowsHTML(b, bl.table.head, `th scope="col"`)
				b.WriteString("</thead>")
			}
			b.WriteString("<tbody>")
			rowsHTML(b, bl.table.rows, "td")
			b.WriteString("</tbody></table></div>\n")
		case bl.list != nil:
			itemsHTML(b, bl.list)
			b.WriteString("\n")
		default:
			b.WriteString("<p>")
			linesHTML(b, bl.para)
			b.WriteString("</p>\n")
		}
	}
}

func spansText(ss []span, brk string) string {
	var b strings.Builder
	for _, s := range ss {
		if s.brk {
			b.WriteString(brk)
		} else {
			b.WriteString(s.text)
		}
	}
	return b.String()
}

func itemsText(b *strings.Builder, items []*ritem, depth int) {
	indent := strings.Repeat("  ", depth)
	for _, it := range items {
		for i, l := range it.lines {
			lead := indent + "- "
			if i > 0 {
				lead = indent + "  "
			}
			b.WriteString(lead + strings.ReplaceAll(spansText(l, "\n"), "\n", "\n"+indent+"  ") + "\n")
		}
		itemsText(b, it.sub, depth+1)
	}
}

func rowText(b *strings.Builder, cells [][]span) {
	b.WriteString("|")
	for _, c := range cells {
		b.WriteString(" " + strings.TrimSpace(spansText(c, " ")) + " |")
	}
	b.WriteString("\n")
}

// blocksText writes blocks as plain text: paragraphs, "- " items, "| a | b |" rows.
func blocksText(bs []rblock) string {
	var parts []string
	for _, bl := range bs {
		var b strings.Builder
		switch {
		case bl.table != nil:
			for _, rw := range bl.table.head {
				rowText(&b, rw)
			}
			if n := len(firstCells(bl.table)); n > 0 && len(bl.table.head) > 0 {
				b.WriteString("|" + strings.Repeat(" --- |", n) + "\n")
			}
			for _, rw := range bl.table.rows {
				rowText(&b, rw)
			}
		case bl.list != nil:
			itemsText(&b, bl.list, 0)
		default:
			for _, l := range bl.para {
				b.WriteString(spansText(l, "\n") + "\n")
			}
		}
		parts = append(parts, strings.TrimSuffix(b.String(), "\n"))
	}
	return strings.Join(parts, "\n\n")
}

func firstCells(t *rtable) [][]span {
	if len(t.head) > 0 {
		return t.head[0]
	}
	if len(t.rows) > 0 {
		return t.rows[0]
	}
	return nil
}
