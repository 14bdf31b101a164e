package render

import (
	"fmt"
	"regexp"
	"strings"
)

// The body syntax, parsed into blocks. Lines are 1-based within the body, so that an importer can
// point at the line of its source.

type block struct {
	line  int
	para  []line // a paragraph: its lines
	list  []*item
	table *table
}

type line struct {
	n    int
	text string
}

type item struct {
	line
	more []line // continuation lines of the item
	sub  []*item
}

type table struct {
	line int
	head []row // rows before the "| --- |" row
	rows []row
	sep  bool
}

type row struct {
	n     int
	cells []string
}

// Error is a problem in a body, at a line of it.
type Error struct {
	Line int
	Msg  string
}

func (e Error) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

var sepRE = regexp.MustCompile(`^:?-{3,}:?$`)

// splitCells splits a table row on pipes; "\|" is a pipe inside a cell, as is one inside a
// binding ({{site.locations|, }}).
func splitCells(s string) []string {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "|")
	if strings.HasSuffix(s, "|") && !strings.HasSuffix(s, `\|`) {
		s = s[:len(s)-1]
	}
	var out []string
	var cur strings.Builder
	inBinding := false
	for i := 0; i < len(s); i++ {
		switch {
		case strings.HasPrefix(s[i:], "{{"):
			inBinding = true
			cur.WriteByte(s[i])
		case strings.HasPrefix(s[i:], "}}"):
			inBinding = false
			cur.WriteByte(s[i])
		case s[i] == '\\' && i+1 < len(s) && s[i+1] == '|':
			cur.WriteByte('|')
			i++
		case s[i] == '|' && !inBinding:
			out = append(out, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteByte(s[i])
		}
	}
	return append(out, strings.TrimSpace(cur.String()))
}

func isSeparator(cells []string) bool {
	for _, c := range cells {
		if !sepRE.MatchString(c) {
			return false
		}
	}
	return len(cells) > 0
}

// MergeUp and MergeLeft are the whole text of a table cell merged with the cell above it or to its
// left (an HTML rowspan or colspan). They are written as bindings so that no cell of a body's own
// words can be read as one: "{{" always starts a binding.
const (
	MergeUp   = "{{^}}"
	MergeLeft = "{{<}}"
)

// merges works out the merged cells of a table part (its header rows, or its body rows): for each
// cell that starts a merge, its row and column span. A cell merged upward in the part's first row
// or leftward in a row's first cell, or merges that do not make one rectangle per starting cell
// (a span overlapping another), give the index of the row at fault and why.
func merges(grid [][]string) (spans map[[2]int][2]int, badRow int, why string) {
	origin := make([][][2]int, len(grid))
	for r, cells := range grid {
		origin[r] = make([][2]int, len(cells))
		for c, cell := range cells {
			switch cell {
			case MergeUp:
				if r == 0 || c >= len(origin[r-1]) {
					return nil, r, fmt.Sprintf("cell %d is merged with the cell above (%s), but it has none above it in the table's %s", c+1, MergeUp, "header or body rows")
				}
				origin[r][c] = origin[r-1][c]
			case MergeLeft:
				if c == 0 {
					return nil, r, fmt.Sprintf("cell 1 is merged with the cell to its left (%s), but it is the row's first", MergeLeft)
				}
				origin[r][c] = origin[r][c-1]
			default:
				origin[r][c] = [2]int{r, c}
			}
		}
	}
	type extent struct{ r1, c1, n int }
	ext := map[[2]int]*extent{}
	for r, cells := range origin {
		for c, o := range cells {
			e := ext[o]
			if e == nil {
				e = &extent{r1: r, c1: c}
				ext[o] = e
			}
			e.r1, e.c1, e.n = max(e.r1, r), max(e.c1, c), e.n+1
		}
	}
	spans = map[[2]int][2]int{}
	for r, cells := range origin {
		for c, o := range cells {
			if o != [2]int{r, c} {
				continue
			}
			e := ext[o]
			rs, cs := e.r1-r+1, e.c1-c+1
			ok := rs*cs == e.n
			for i := r; ok && i <= e.r1; i++ {
				ok = e.c1 < len(origin[i]) && origin[i][e.c1] == o && origin[i][c] == o
			}
			if !ok {
				return nil, e.r1, fmt.Sprintf("the cells merged with row %d's cell %d do not make a rectangle: a merged cell overlaps another", r+1, c+1)
			}
			if rs > 1 || cs > 1 {
				spans[o] = [2]int{rs, cs}
			}
		}
	}
	return spans, -1, ""
}

// checkMerges checks the merged cells of a table's header rows and body rows.
func checkMerges(t *table) []Error {
	var errs []Error
	for _, part := range [][]row{t.head, t.rows} {
		grid := make([][]string, len(part))
		for i, rw := range part {
			grid[i] = rw.cells
		}
		if _, bad, why := merges(grid); bad >= 0 {
			errs = append(errs, Error{part[bad].n, why})
		}
	}
	return errs
}

// parse reads a body into blocks. Tables must have their "| --- |" row and the same number of
// cells in every row; anything else that is not a table or an item is a paragraph line.
func parse(body string) ([]block, []Error) {
	var out []block
	var errs []Error
	var cur *block
	flush := func() {
		if cur == nil {
			return
		}
		if t := cur.table; t != nil && !t.sep {
			errs = append(errs, Error{t.line, "the table has no \"| --- |\" row after its header rows"})
		} else if t != nil {
			errs = append(errs, checkMerges(t)...)
		}
		out = append(out, *cur)
		cur = nil
	}
	for i, raw := range strings.Split(body, "\n") {
		n := i + 1
		text := strings.TrimRight(raw, " \t\r")
		trimmed := strings.TrimLeft(text, " \t")
		indent := len(text) - len(trimmed)
		switch {
		case trimmed == "":
			flush()
		case strings.HasPrefix(trimmed, "|"):
			if cur == nil || cur.table == nil {
				flush()
				cur = &block{line: n, table: &table{line: n}}
			}
			t := cur.table
			cells := splitCells(trimmed)
			if first := firstRow(t); first != nil && len(cells) != len(first.cells) {
				errs = append(errs, Error{n, fmt.Sprintf("the row has %d cells and the table's first row %d", len(cells), len(first.cells))})
			}
			switch {
			case isSeparator(cells) && !t.sep:
				if len(t.head) == 0 {
					errs = append(errs, Error{n, "the \"| --- |\" row comes before any header row"})
				}
				t.sep = true
			case t.sep:
				t.rows = append(t.rows, row{n, cells})
			default:
				t.head = append(t.head, row{n, cells})
			}
		case strings.HasPrefix(trimmed, "- ") || trimmed == "-":
			if cur == nil || cur.list == nil {
				flush()
				cur = &block{line: n}
			}
			addItem(&cur.list, indent/2, line{n, strings.TrimSpace(strings.TrimPrefix(trimmed, "-"))})
		case cur != nil && cur.list != nil && indent > 0:
			it := lastItem(cur.list)
			it.more = append(it.more, line{n, trimmed})
		case cur != nil && cur.para != nil:
			cur.para = append(cur.para, line{n, trimmed})
		default:
			flush()
			cur = &block{line: n, para: []line{{n, trimmed}}}
		}
	}
	flush()
	return out, errs
}

func firstRow(t *table) *row {
	if len(t.head) > 0 {
		return &t.head[0]
	}
	if len(t.rows) > 0 {
		return &t.rows[0]
	}
	return nil
}

func addItem(items *[]*item, level int, l line) {
	if level == 0 || len(*items) == 0 {
		*items = append(*items, &item{line: l})
		return
	}
	addItem(&(*items)[len(*items)-1].sub, level-1, l)
}

func lastItem(items []*item) *item {
	it := items[len(items)-1]
	for len(it.sub) > 0 {
		it = it.sub[len(it.sub)-1]
	}
	return it
}

// Check parses a body and resolves nothing: the errors of its syntax, with their lines.
func Check(body string) []Error {
	_, errs := parse(body)
	return errs
}
