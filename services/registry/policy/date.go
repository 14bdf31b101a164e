package policy

import (
	"fmt"
	"time"

	"github.com/pipa-kr/pipa/pkg/seoul"
)

// dateLayout is the wire form of a date (PolicyVersion.announce_date and friends).
const dateLayout = "2006-01-02"

// Date is a calendar day in Asia/Seoul. The zero Date is "no date" (an open end, an unset field)
// and prints as "".
type Date struct {
	y int
	m time.Month
	d int
}

// NewDate returns the date y-m-d, normalising out-of-range days and months as time.Date does.
func NewDate(y int, m time.Month, d int) Date {
	return dateOf(time.Date(y, m, d, 0, 0, 0, 0, time.UTC))
}

func dateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{y, m, d}
}

// ParseDate parses YYYY-MM-DD. The empty string is the zero Date.
func ParseDate(s string) (Date, error) {
	if s == "" {
		return Date{}, nil
	}
	t, err := time.Parse(dateLayout, s)
	if err != nil {
		return Date{}, fmt.Errorf("date %q is not a YYYY-MM-DD calendar day", s)
	}
	return dateOf(t), nil
}

// Today is the calendar day of now in Asia/Seoul.
func Today(now time.Time) Date { return dateOf(now.In(seoul.Location)) }

// IsZero reports whether d is the zero Date.
func (d Date) IsZero() bool { return d == Date{} }

// String is YYYY-MM-DD, or "" for the zero Date.
func (d Date) String() string {
	if d.IsZero() {
		return ""
	}
	return d.time().Format(dateLayout)
}

func (d Date) time() time.Time { return time.Date(d.y, d.m, d.d, 0, 0, 0, 0, time.UTC) }

// AddDays returns the date n calendar days after d (before it when n < 0).
func (d Date) AddDays(n int) Date { return dateOf(d.time().AddDate(0, 0, n)) }

// AddMonths returns the date n months after d; a day the month lacks is its last day (two months
// from 12-31 is 02-28 or 02-29).
func (d Date) AddMonths(n int) Date {
	first := time.Date(d.y, d.m+time.Month(n), 1, 0, 0, 0, 0, time.UTC)
	last := first.AddDate(0, 1, -1).Day()
	return NewDate(first.Year(), first.Month(), min(d.d, last))
}

// Year is d's year.
func (d Date) Year() int { return d.y }

// Compare returns -1, 0 or +1 as d is before, equal to or after o.
func (d Date) Compare(o Date) int { return d.time().Compare(o.time()) }

// Before reports whether d is strictly before o.
func (d Date) Before(o Date) bool { return d.Compare(o) < 0 }

// After reports whether d is strictly after o.
func (d Date) After(o Date) bool { return d.Compare(o) > 0 }

// published formats d as the seeds print dates: "2024. 01. 16.".
func (d Date) published() string { return d.time().Format("2006. 01. 02.") }

// PeriodLabel is a version's applicability period as published (WG26-24, seed 000):
// "2021. 12. 06. ~ 2024. 01. 15.", or "2024. 01. 16. ~" while it has no end. It is "" without an
// effective date.
func PeriodLabel(effective, end Date) string {
	if effective.IsZero() {
		return ""
	}
	if end.IsZero() {
		return effective.published() + " ~"
	}
	return effective.published() + " ~ " + end.published()
}
