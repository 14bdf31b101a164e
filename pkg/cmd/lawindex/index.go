package main

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
)

// token is one citation in text: a prefix (PIPA, DEC, STD, S, WG26, …), then hyphenated parts;
// a branch article is written with 의 (DEC-39의2). The match is maximal, so PIPA-35-45 is one
// token and never PIPA-35-4, and STD-42-1 is never STD-42.
var token = regexp.MustCompile(`[A-Z][A-Z0-9]*-[0-9A-Za-z]+(?:(?:-|의)[0-9A-Za-z]+)*`)

// citations are the distinct tokens of text that are not the tail of a longer word (ABS-2 does
// not cite S-2), in order of first appearance.
func citations(text string) []string {
	var out []string
	for _, loc := range token.FindAllStringIndex(text, -1) {
		if loc[0] > 0 && isWordByte(text[loc[0]-1]) {
			continue
		}
		if id := text[loc[0]:loc[1]]; !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

func isWordByte(b byte) bool {
	return b == '_' || b == '-' || b >= '0' && b <= '9' || b >= 'A' && b <= 'Z' || b >= 'a' && b <= 'z'
}

var (
	bold   = regexp.MustCompile(`\*\*(.+?)\*\*`)
	fullID = regexp.MustCompile(`^` + token.String() + `$`)
	number = regexp.MustCompile(`^[0-9]+$`)
	// shorthand is an id without its prefix, within a line that names the article in full:
	// "21-3" after PIPA-21-1, "27-2" in "DEC-27, 27-2", "39의3" in "DEC-39의2, 39의3".
	shorthand = regexp.MustCompile(`^([0-9]{1,3})(?:(?:-|의)[0-9A-Za-z]+)*$`)
	article   = regexp.MustCompile(`^[A-Z][A-Z0-9]*-([0-9]+)`)
)

// ruleIDs reads the rule ids LAW.md defines, in its order. A rule is defined where its id opens a
// bold run: "**PIPA-30-1**", "**STD-20 / DEC-31-2,3**" (DEC-31-2 and DEC-31-3), "**PIPA-25의2 /
// DEC-27, 27-2 / STD-39-2 (mobile cameras …)**", and "**21-3:**", an article's paragraph after
// that article was named in full on the same line (PIPA-21-1 → PIPA-21-3). Bold runs that open
// with words ("**State machine.**", "**within 10 days**") or a date define nothing.
func ruleIDs(law string) []string {
	var ids []string
	for _, line := range strings.Split(law, "\n") {
		var named []string // the ids of this line so far
		for _, m := range bold.FindAllStringSubmatch(line, -1) {
			for _, id := range defined(m[1], &named) {
				if !slices.Contains(ids, id) {
					ids = append(ids, id)
				}
			}
		}
	}
	return ids
}

// defined are the ids a bold run opens with; named are the line's ids before it, which a
// shorthand continues.
func defined(run string, named *[]string) []string {
	run = strings.TrimSpace(run)
	colon := strings.HasSuffix(run, ":")
	head := strings.TrimSuffix(run, ":")
	if i := strings.IndexAny(head, "(—"); i >= 0 {
		head = head[:i]
	}
	var out []string
	for i, part := range strings.FieldsFunc(head, func(r rune) bool { return r == '/' || r == ',' }) {
		part = strings.TrimSpace(part)
		id := ""
		switch {
		case fullID.MatchString(part):
			id = part
		case i > 0 && number.MatchString(part) && len(*named) > 0: // "DEC-31-2,3"
			last := (*named)[len(*named)-1]
			id = last[:strings.LastIndex(last, "-")+1] + part
		case (i > 0 || colon) && shorthand.MatchString(part): // "21-3:", "DEC-27, 27-2"
			id = continued(*named, shorthand.FindStringSubmatch(part)[1], part)
		}
		if id == "" {
			if i == 0 {
				return nil // a run of words, or a date
			}
			continue
		}
		*named = append(*named, id)
		out = append(out, id)
	}
	return out
}

// continued is part with the prefix of the latest of named that names the same article, or "".
func continued(named []string, art, part string) string {
	for _, id := range slices.Backward(named) {
		if m := article.FindStringSubmatch(id); m != nil && m[1] == art {
			return id[:strings.Index(id, "-")+1] + part
		}
	}
	return ""
}

// Index is, for each rule id, where the code cites it and which tests name it.
type Index struct {
	IDs []string
	// Code and Tests are the files citing each id, sorted.
	Code, Tests map[string][]string
	// Unknown are ids cited in code that LAW.md does not define, with their files.
	Unknown map[string][]string
}

// Build indexes files (path → text) against ids; isTest tells the tests from the code. Tokens
// with a prefix no LAW.md id has (receipt numbers R-2026-…, UTF-8) are not citations.
func Build(ids []string, files map[string]string, isTest func(path string) bool) *Index {
	known, prefixes := map[string]bool{}, map[string]bool{}
	for _, id := range ids {
		known[id] = true
		prefixes[id[:strings.Index(id, "-")]] = true
	}
	x := &Index{IDs: ids, Code: map[string][]string{}, Tests: map[string][]string{}, Unknown: map[string][]string{}}
	for path, text := range files {
		for _, c := range citations(text) {
			switch {
			case isTest(path) && known[c]:
				x.Tests[c] = append(x.Tests[c], path)
			case isTest(path):
			case known[c]:
				x.Code[c] = append(x.Code[c], path)
			case prefixes[c[:strings.Index(c, "-")]]:
				x.Unknown[c] = append(x.Unknown[c], path)
			}
		}
	}
	for _, m := range []map[string][]string{x.Code, x.Tests, x.Unknown} {
		for _, paths := range m {
			slices.Sort(paths)
		}
	}
	return x
}

// Untested are the ids the code cites that no test names.
func (x *Index) Untested() []string {
	var out []string
	for _, id := range x.IDs {
		if len(x.Code[id]) > 0 && len(x.Tests[id]) == 0 {
			out = append(out, id)
		}
	}
	return out
}

// Markdown renders the index; lawPath is how the header names LAW.md.
func (x *Index) Markdown(lawPath string) string {
	var enforced, tested, neither []string
	for _, id := range x.IDs {
		if len(x.Code[id]) > 0 {
			enforced = append(enforced, id)
		}
		if len(x.Tests[id]) > 0 {
			tested = append(tested, id)
		}
		if len(x.Code[id]) == 0 {
			neither = append(neither, id)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# LAW index\n\nWhere pipa enforces each rule of %s and which tests name it. Generated by\n", lawPath)
	b.WriteString("`make lawindex` (pkg/cmd/lawindex), checked by `make test`: do not edit. Code is every non-test Go\n")
	b.WriteString("and SQL file outside pkg/gen; tests are `_test.go` files and test-support packages (`…test/`).\n\n")
	fmt.Fprintf(&b, "%d rule ids: %d enforced in code, %d named by tests, %d not enforced yet.\n\n",
		len(x.IDs), len(enforced), len(tested), len(neither))
	b.WriteString("| rule | enforced in | tested in |\n|---|---|---|\n")
	for _, id := range x.IDs {
		if len(x.Code[id]) == 0 {
			continue
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", id, cell(x.Code[id]), cell(x.Tests[id]))
	}
	b.WriteString("\n## Not enforced yet\n\nNo code cites these rules; a test may name one that a document shows (a seed's text, a\nfinding).\n\n")
	b.WriteString("| rule | named in tests |\n|---|---|\n")
	for _, id := range neither {
		fmt.Fprintf(&b, "| %s | %s |\n", id, cell(x.Tests[id]))
	}
	if len(x.Unknown) > 0 {
		b.WriteString("\n## Cited but not defined by LAW.md\n\nArticles cited as a whole, or ids LAW.md does not (or no longer) define.\n\n")
		b.WriteString("| citation | in |\n|---|---|\n")
		for _, c := range slices.Sorted(maps.Keys(x.Unknown)) {
			fmt.Fprintf(&b, "| %s | %s |\n", c, cell(x.Unknown[c]))
		}
	}
	return b.String()
}

func cell(paths []string) string {
	if len(paths) == 0 {
		return "—"
	}
	return strings.Join(paths, "<br>")
}
