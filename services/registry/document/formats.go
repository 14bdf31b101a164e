package document

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/pipa-kr/pipa/services/registry/policy"
)

// markdownLines reads Markdown: "# " is the title, "## " starts an article or attachment, the rest
// is the body syntax as it is; "<!-- … -->" comments are dropped.
func markdownLines(content string) ([]srcLine, []Error) {
	var out []srcLine
	var errs []Error
	comment := 0
	for i, l := range strings.Split(content, "\n") {
		n := i + 1
		if comment > 0 {
			if _, after, ok := strings.Cut(l, "-->"); ok {
				comment = 0
				if strings.TrimSpace(after) != "" {
					errs = append(errs, Error{n, "text after the end of a comment; start it on a line of its own"})
				}
			}
			continue
		}
		if t := strings.TrimSpace(l); strings.HasPrefix(t, "<!--") {
			if !strings.HasSuffix(t, "-->") {
				comment = n
			}
			continue
		}
		switch {
		case strings.HasPrefix(l, "# "):
			out = append(out, srcLine{n: n, text: strings.TrimSpace(l[2:]), title: true})
		case strings.HasPrefix(l, "## "):
			out = append(out, srcLine{n: n, text: strings.TrimSpace(l[3:]), heading: true})
		case strings.HasPrefix(l, "#"):
			errs = append(errs, Error{n, "only \"# \" (the title) and \"## \" (an article or attachment) are headings"})
		default:
			out = append(out, srcLine{n: n, text: l})
		}
	}
	if comment > 0 {
		errs = append(errs, Error{comment, "the comment is never closed with -->"})
	}
	return out, errs
}

var bulletRE = regexp.MustCompile(`^(\s*)[•·▪◦]\s*(.*)$`)

// textLines reads plain text: a line in the document's article style (the first found of 제N조,
// N조 and N.), or 부칙, 별표N, 별지 제N호, starts a part; the first line before any is the title;
// "•" (and "·", "▪", "◦") bullets become items, two spaces of indent a level; "-" items stay
// items; lines with tabs are table rows, the first of a run its header.
func textLines(content string) ([]srcLine, []Error) {
	lines := strings.Split(content, "\n")
	style := policy.NoStyle
	for _, want := range []policy.ArticleStyle{policy.StyleJe, policy.StyleJo, policy.StyleDot} {
		for _, l := range lines {
			if k, _, _, _ := policy.ParseHeading(l, want); k == policy.ArticleHeading {
				style = want
				break
			}
		}
		if style != policy.NoStyle {
			break
		}
	}
	var out []srcLine
	var errs []Error
	seenTitle, inTable, cells := false, false, 0
	for i, l := range lines {
		n := i + 1
		l = strings.TrimRight(l, " \r")
		if !strings.Contains(l, "\t") && inTable {
			inTable = false
		}
		kind, _, _, _ := policy.ParseHeading(l, style)
		switch {
		case strings.TrimSpace(l) == "":
			out = append(out, srcLine{n: n})
		case strings.Contains(l, "\t"):
			row := strings.Split(strings.TrimLeft(l, " "), "\t")
			for j := range row {
				row[j] = strings.ReplaceAll(strings.TrimSpace(row[j]), "|", `\|`)
			}
			text := "| " + strings.Join(row, " | ") + " |"
			if !inTable {
				inTable, cells = true, len(row)
				out = append(out, srcLine{n: n}, srcLine{n: n, text: text}, srcLine{n: n, text: "|" + strings.Repeat(" --- |", len(row))})
				continue
			}
			if len(row) != cells {
				errs = append(errs, Error{n, fmt.Sprintf("the table row has %d cells (tab-separated) and its first row %d", len(row), cells)})
			}
			out = append(out, srcLine{n: n, text: text})
		case kind != policy.NotAHeading && strings.TrimSpace(l) == l:
			out = append(out, srcLine{n: n, text: l, heading: true})
		case !seenTitle && firstContent(out):
			out = append(out, srcLine{n: n, text: strings.TrimSpace(l), title: true})
		default:
			if m := bulletRE.FindStringSubmatch(l); m != nil {
				l = strings.Repeat("  ", len(m[1])/4) + "- " + m[2]
			}
			out = append(out, srcLine{n: n, text: l})
		}
		if len(out) > 0 && out[len(out)-1].title {
			seenTitle = true
		}
	}
	return out, errs
}

// firstContent reports whether no line with text came yet.
func firstContent(ls []srcLine) bool {
	for _, l := range ls {
		if l.text != "" {
			return false
		}
	}
	return true
}
