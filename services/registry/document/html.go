package document

import (
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/pipa-kr/pipa/services/registry/policy"
	"github.com/pipa-kr/pipa/services/registry/render"
)

// htmlBlock is a block of an HTML page in document order: a heading candidate, or lines of the
// body syntax.
type htmlBlock struct {
	title   bool
	heading bool // h2–h6, or a paragraph that is only a heading
	lines   []string
	hint    string // text to find the block's source line by
	// bad is why the block cannot be read (a table whose rows do not line up), found in the source
	// by badHint after the block's start.
	bad, badHint string
}

// htmlLines reads HTML: the first h1 is the title; h2–h6 and paragraphs in the document's article
// style start parts; p, ul/ol and table become paragraphs, items and tables. Scripts, styles and
// navigation are left out.
func htmlLines(content string) ([]srcLine, []Error) {
	doc, err := html.Parse(strings.NewReader(content))
	if err != nil {
		return nil, []Error{{1, "not HTML: " + err.Error()}}
	}
	w := &walker{}
	w.walk(doc)
	w.flushPara()
	// The article style is the first found of 제N조, N조 and N. among the heading candidates.
	style := policy.NoStyle
	for _, want := range []policy.ArticleStyle{policy.StyleJe, policy.StyleJo, policy.StyleDot} {
		for _, b := range w.blocks {
			if k, _, _, _ := policy.ParseHeading(b.hint, want); b.heading && k == policy.ArticleHeading {
				style = want
			}
		}
		if style != policy.NoStyle {
			break
		}
	}
	var out []srcLine
	var errs []Error
	pos := 0
	for _, b := range w.blocks {
		n := 1
		if b.hint != "" {
			if i := strings.Index(content[pos:], firstWords(b.hint)); i >= 0 {
				pos += i
			}
			n = strings.Count(content[:pos], "\n") + 1
		}
		switch {
		case b.bad != "":
			if i := strings.Index(content[pos:], firstWords(b.badHint)); b.badHint != "" && i >= 0 {
				n = strings.Count(content[:pos+i], "\n") + 1
			}
			errs = append(errs, Error{n, b.bad})
			continue
		case b.title:
			out = append(out, srcLine{n: n, text: b.hint, title: true})
			continue
		case b.heading:
			if k, _, _, _ := policy.ParseHeading(b.hint, style); k != policy.NotAHeading {
				out = append(out, srcLine{n: n, text: b.hint, heading: true})
				continue
			}
		}
		out = append(out, srcLine{n: n})
		for _, l := range b.lines {
			out = append(out, srcLine{n: n, text: l})
		}
	}
	return out, errs
}

func firstWords(s string) string {
	r := []rune(s)
	if len(r) > 12 {
		r = r[:12]
	}
	return string(r)
}

type walker struct {
	blocks []htmlBlock
	para   strings.Builder
	lines  []string
}

func (w *walker) flushPara() {
	w.breakLine()
	if len(w.lines) > 0 {
		text := strings.Join(w.lines, " ")
		w.blocks = append(w.blocks, htmlBlock{lines: w.lines, hint: text,
			heading: len(w.lines) == 1})
	}
	w.lines = nil
}

func (w *walker) breakLine() {
	if t := collapse(w.para.String()); t != "" {
		w.lines = append(w.lines, t)
	}
	w.para.Reset()
}

func collapse(s string) string { return strings.Join(strings.Fields(s), " ") }

var skipped = map[atom.Atom]bool{atom.Script: true, atom.Style: true, atom.Noscript: true, atom.Template: true,
	atom.Nav: true, atom.Head: true, atom.Button: true, atom.Form: true}

func (w *walker) walk(n *html.Node) {
	if n.Type == html.TextNode {
		w.para.WriteString(strings.ReplaceAll(n.Data, "|", `\|`))
		return
	}
	if n.Type == html.ElementNode {
		if skipped[n.DataAtom] {
			return
		}
		switch n.DataAtom {
		case atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6:
			w.flushPara()
			t := collapse(inlineText(n))
			if t != "" {
				w.blocks = append(w.blocks, htmlBlock{title: n.DataAtom == atom.H1 && !w.hasTitle(), heading: true, hint: t})
			}
			return
		case atom.Br:
			w.breakLine()
			return
		case atom.Ul, atom.Ol:
			w.flushPara()
			lines := listLines(n, 0)
			if len(lines) > 0 {
				w.blocks = append(w.blocks, htmlBlock{lines: lines, hint: strings.TrimPrefix(lines[0], "- ")})
			}
			return
		case atom.Table:
			w.flushPara()
			lines, bad, badHint := tableLines(n)
			if len(lines) > 0 {
				w.blocks = append(w.blocks, htmlBlock{lines: lines, hint: strings.Trim(strings.Split(lines[0], "|")[1], " "),
					bad: bad, badHint: badHint})
			}
			return
		case atom.A:
			if linkable(attr(n, "href")) {
				w.para.WriteString(inlineText(n))
				return
			}
		case atom.P, atom.Div, atom.Section, atom.Article, atom.Li, atom.Dd, atom.Dt, atom.Blockquote, atom.Pre:
			w.flushPara()
			defer w.flushPara()
		}
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		w.walk(c)
	}
}

func (w *walker) hasTitle() bool {
	for _, b := range w.blocks {
		if b.title {
			return true
		}
	}
	return false
}

// linkable: the addresses a body's link keeps (http(s) and site paths).
func linkable(href string) bool {
	return strings.HasPrefix(href, "http://") || strings.HasPrefix(href, "https://") || strings.HasPrefix(href, "/")
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

// inlineText is the text of n, <br> as a line break, links as [text](url).
func inlineText(n *html.Node) string {
	var b strings.Builder
	var rec func(*html.Node)
	rec = func(n *html.Node) {
		switch {
		case n.Type == html.TextNode:
			b.WriteString(n.Data)
			return
		case n.Type == html.ElementNode && skipped[n.DataAtom]:
			return
		case n.Type == html.ElementNode && n.DataAtom == atom.Br:
			b.WriteString("\n")
			return
		case n.Type == html.ElementNode && n.DataAtom == atom.A && linkable(attr(n, "href")):
			var t strings.Builder
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				t.WriteString(inlineText(c))
			}
			if s := collapse(t.String()); s != "" {
				b.WriteString("[" + s + "](" + attr(n, "href") + ")")
				return
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			rec(c)
		}
	}
	rec(n)
	return b.String()
}

// listLines turns a list into "- " items, two spaces of indent a level.
func listLines(n *html.Node, depth int) []string {
	var out []string
	for li := n.FirstChild; li != nil; li = li.NextSibling {
		if li.Type != html.ElementNode || li.DataAtom != atom.Li {
			continue
		}
		var text strings.Builder
		var sub []string
		for c := li.FirstChild; c != nil; c = c.NextSibling {
			if c.Type == html.ElementNode && (c.DataAtom == atom.Ul || c.DataAtom == atom.Ol) {
				sub = append(sub, listLines(c, depth+1)...)
				continue
			}
			text.WriteString(inlineText(c))
		}
		indent := strings.Repeat("  ", depth)
		parts := strings.Split(text.String(), "\n")
		first := true
		for _, p := range parts {
			if p = collapse(p); p == "" {
				continue
			}
			if first {
				out = append(out, indent+"- "+p)
				first = false
			} else {
				out = append(out, indent+"  "+p)
			}
		}
		out = append(out, sub...)
	}
	return out
}

// tableLines turns a table into body-syntax rows, rowspan and colspan into cells merged with the
// one above (render.MergeUp) or to the left (render.MergeLeft), refusing a rowspan past the last
// row; its leading rows of th cells (or its thead) are the header rows, else the first row is. A table
// whose rows do not line up (a row with more or fewer cells than the first, spans counted) is
// broken: bad says which row, and badHint is that row's first text, to find its line by.
func tableLines(n *html.Node) (out []string, bad, badHint string) {
	type cell struct {
		text string
	}
	var grid [][]cell
	var heads []bool
	pending := map[[2]int]bool{} // cells covered by a rowspan above
	ends := map[[2]int]int{}     // the last row a rowspan reaches, by its cell
	var endHint map[[2]int]string
	var rows func(*html.Node, bool)
	rows = func(n *html.Node, inHead bool) {
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if c.Type != html.ElementNode {
				continue
			}
			switch c.DataAtom {
			case atom.Thead:
				rows(c, true)
			case atom.Tbody, atom.Tfoot:
				rows(c, false)
			case atom.Tr:
				r := len(grid)
				var line []cell
				allTH := true
				col := 0
				for td := c.FirstChild; td != nil; td = td.NextSibling {
					if td.Type != html.ElementNode || (td.DataAtom != atom.Td && td.DataAtom != atom.Th) {
						continue
					}
					for pending[[2]int{r, col}] {
						line = append(line, cell{text: render.MergeUp})
						col++
					}
					text := strings.Join(strings.FieldsFunc(inlineText(td), func(r rune) bool { return r == '\n' }), "<br>")
					text = strings.ReplaceAll(collapseKeepBr(text), "|", `\|`)
					allTH = allTH && td.DataAtom == atom.Th
					cs, _ := strconv.Atoi(attr(td, "colspan"))
					rs, _ := strconv.Atoi(attr(td, "rowspan"))
					line = append(line, cell{text: text})
					for k := 1; k < cs; k++ {
						line = append(line, cell{text: render.MergeLeft})
					}
					if rs > 1 {
						ends[[2]int{r, col}] = r + rs - 1
						if endHint == nil {
							endHint = map[[2]int]string{}
						}
						endHint[[2]int{r, col}] = text
					}
					for k := 1; k < rs; k++ {
						for j := 0; j < max(cs, 1); j++ {
							pending[[2]int{r + k, col + j}] = true
						}
					}
					col += max(cs, 1)
				}
				for pending[[2]int{r, col}] {
					line = append(line, cell{text: render.MergeUp})
					col++
				}
				if len(line) == 0 {
					continue // an empty <tr>: no row
				}
				grid = append(grid, line)
				heads = append(heads, inHead || (allTH && len(line) > 0 && (r == 0 || heads[r-1])))
			}
		}
	}
	rows(n, false)
	if len(grid) == 0 {
		return nil, "", ""
	}
	for at, end := range ends {
		if end >= len(grid) {
			return []string{"|"}, fmt.Sprintf("a cell of the table's row %d spans %d rows (rowspan) and runs past the table's last row", at[0]+1, end-at[0]+1), endHint[at]
		}
	}
	width := len(grid[0])
	for i, l := range grid {
		if len(l) != width {
			for _, c := range l {
				if badHint == "" && c.text != render.MergeUp && c.text != render.MergeLeft {
					badHint = c.text
				}
			}
			return []string{"|"}, fmt.Sprintf("the table's row %d has %d cells and its first row %d (rowspan and colspan counted): a table whose rows do not line up cannot be read", i+1, len(l), width), badHint
		}
	}
	nHead := 0
	for nHead < len(heads) && heads[nHead] {
		nHead++
	}
	nHead = max(nHead, 1)
	for i, l := range grid {
		cells := make([]string, width)
		for j, c := range l {
			cells[j] = c.text
		}
		out = append(out, "| "+strings.Join(cells, " | ")+" |")
		if i == nHead-1 {
			out = append(out, "|"+strings.Repeat(" --- |", width))
		}
	}
	return out, "", ""
}

func collapseKeepBr(s string) string {
	parts := strings.Split(s, "<br>")
	for i, p := range parts {
		parts[i] = collapse(p)
	}
	return strings.Join(parts, "<br>")
}
