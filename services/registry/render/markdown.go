package render

import (
	"regexp"
	"strings"
)

// The Markdown subset of article bodies, parsed into blocks for the HTML template. Anything the
// subset does not know is text: html/template escapes it.

type span struct {
	Text string
	URL  string
}

type listItem struct {
	Lines [][]span
	Sub   []*listItem
}

type htmlTable struct {
	Caption string
	Head    [][]span
	Rows    [][][]span
}

type block struct {
	Para  [][]span
	List  []*listItem
	Table *htmlTable
}

var (
	linkRE = regexp.MustCompile(`\[([^\]]+)\]\(([^)\s]+)\)`)
	sepRE  = regexp.MustCompile(`^:?-{3,}:?$`)
)

// spans splits a line into text and links. Only http(s) and site-relative links are links;
// html/template would neutralise other schemes anyway.
func spans(s string) []span {
	var out []span
	for {
		m := linkRE.FindStringSubmatchIndex(s)
		if m == nil {
			break
		}
		text, url := s[m[2]:m[3]], s[m[4]:m[5]]
		if !(strings.HasPrefix(url, "https://") || strings.HasPrefix(url, "http://") || strings.HasPrefix(url, "/")) {
			out = append(out, span{Text: s[:m[1]]})
			s = s[m[1]:]
			continue
		}
		if m[0] > 0 {
			out = append(out, span{Text: s[:m[0]]})
		}
		out = append(out, span{Text: text, URL: url})
		s = s[m[1]:]
	}
	if s != "" {
		out = append(out, span{Text: s})
	}
	return out
}

// cells splits a table row on unescaped pipes.
func cells(line string) []string {
	line = strings.TrimSpace(line)
	line = strings.TrimPrefix(line, "|")
	if strings.HasSuffix(line, "|") && !strings.HasSuffix(line, `\|`) {
		line = line[:len(line)-1]
	}
	var out []string
	var cur strings.Builder
	for i := 0; i < len(line); i++ {
		switch {
		case line[i] == '\\' && i+1 < len(line) && line[i+1] == '|':
			cur.WriteByte('|')
			i++
		case line[i] == '|':
			out = append(out, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteByte(line[i])
		}
	}
	return append(out, strings.TrimSpace(cur.String()))
}

func isSeparator(cs []string) bool {
	for _, c := range cs {
		if !sepRE.MatchString(c) {
			return false
		}
	}
	return len(cs) > 0
}

func addItem(items *[]*listItem, level int, text string) {
	if level == 0 || len(*items) == 0 {
		*items = append(*items, &listItem{Lines: [][]span{spans(text)}})
		return
	}
	addItem(&(*items)[len(*items)-1].Sub, level-1, text)
}

func lastItem(items []*listItem) *listItem {
	it := items[len(items)-1]
	for len(it.Sub) > 0 {
		it = it.Sub[len(it.Sub)-1]
	}
	return it
}

// parseBlocks parses a body; caption names its tables.
func parseBlocks(body, caption string) []block {
	var out []block
	var cur *block
	flush := func() {
		if cur != nil {
			out = append(out, *cur)
			cur = nil
		}
	}
	for _, raw := range strings.Split(body, "\n") {
		line := strings.TrimRight(raw, " \t\r")
		trimmed := strings.TrimLeft(line, " \t")
		indent := len(line) - len(trimmed)
		switch {
		case trimmed == "":
			flush()
		case strings.HasPrefix(trimmed, "|"):
			if cur == nil || cur.Table == nil {
				flush()
				cur = &block{Table: &htmlTable{Caption: caption}}
			}
			cs := cells(trimmed)
			if isSeparator(cs) {
				continue
			}
			row := make([][]span, len(cs))
			for i, c := range cs {
				row[i] = spans(c)
			}
			if cur.Table.Head == nil {
				cur.Table.Head = row
			} else {
				cur.Table.Rows = append(cur.Table.Rows, row)
			}
		case strings.HasPrefix(trimmed, "- "):
			if cur == nil || cur.List == nil {
				flush()
				cur = &block{}
			}
			addItem(&cur.List, indent/2, strings.TrimPrefix(trimmed, "- "))
		case cur != nil && cur.List != nil && indent > 0:
			it := lastItem(cur.List)
			it.Lines = append(it.Lines, spans(trimmed))
		case cur != nil && cur.Para != nil:
			cur.Para = append(cur.Para, spans(trimmed))
		default:
			flush()
			cur = &block{Para: [][]span{spans(trimmed)}}
		}
	}
	flush()
	return out
}
