package render

import (
	"strings"
	"time"
	"unicode/utf8"
)

// Date formats a YYYY-MM-DD date as the seeds print it: "2024. 01. 16.". Other input is returned
// unchanged.
func Date(date string) string {
	t, err := time.Parse(time.DateOnly, date)
	if err != nil {
		return date
	}
	return t.Format("2006. 01. 02.")
}

// Period formats a version's period as the seeds publish it: "2021. 12. 06. ~ 2024. 01. 15.",
// "2024. 01. 16. ~" while in force, "~ 2011. 09. 29." when only the end is known.
func Period(effectiveDate, endDate string) string {
	switch {
	case effectiveDate == "" && endDate == "":
		return ""
	case endDate == "":
		return Date(effectiveDate) + " ~"
	case effectiveDate == "":
		return "~ " + Date(endDate)
	}
	return Date(effectiveDate) + " ~ " + Date(endDate)
}

// batchim reports whether the last syllable of s has a final consonant, and whether that could be
// decided (the last letter is a Hangul syllable).
func batchim(s string) (has, known bool) {
	s = strings.TrimRight(s, " )」』\"'")
	r, _ := utf8.DecodeLastRuneInString(s)
	if r < 0xAC00 || r > 0xD7A3 {
		return false, false
	}
	return (r-0xAC00)%28 != 0, true
}

// topic appends the topic particle: 도서관 → 도서관은, 도서관사업소 → 도서관사업소는.
func topic(s string) string { return particle(s, "은", "는") }

// object appends the object particle: 가명정보 → 가명정보를.
func object(s string) string { return particle(s, "을", "를") }

func particle(s, after, otherwise string) string {
	has, known := batchim(s)
	switch {
	case !known:
		return s + after + "(" + otherwise + ")"
	case has:
		return s + after
	}
	return s + otherwise
}
