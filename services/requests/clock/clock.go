package clock

import (
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/pipa-kr/pipa/pkg/seoul"
)

// Statutory periods, in days.
const (
	// PIPA-35-3, DEC-41-4, DEC-42-2: give access, or notify its deferral, restriction or refusal.
	AccessDays = 10
	// DEC-43-3: correct or delete, or refuse, and notify the result.
	CorrectionDays = 10
	// DEC-44-2: suspend processing, or notify the refusal.
	SuspensionDays = 10
	// STD-44-4: CCTV access or existence check, or notify its restriction or refusal.
	CCTVDays = 10
	// STD-31-1: give access once a deferral's reason has ceased, counted from that day.
	ResumeDays = 10
	// DEC-44-3-5: act on the refusal of, or a request to explain, an automated decision.
	AutomatedDecisionDays = 30
	// DEC-44-3-5: each extension of AutomatedDecisionDays, given with notice.
	ExtensionDays = 30
	// DEC-44-3-5: at most two extensions.
	MaxExtensions = 2
	// PIPA-18-4: publish an outside-purpose use or provision, counted from the day it was made.
	PublicationDays = 30
)

var (
	// ErrYearNotCovered: the computation needs to know whether a weekday is a holiday in a year
	// that neither the shipped table nor the tenant's Settings.Years covers.
	ErrYearNotCovered = errors.New("clock: no holiday table for year")
	// ErrExtensionLimit: DEC-44-3-5 allows two extensions and no more.
	ErrExtensionLimit = errors.New("clock: automated-decision period already extended twice")
	// ErrInvalidSettings: a tenant's Settings cannot be used.
	ErrInvalidSettings = errors.New("clock: invalid settings")
)

// Counting is how a tenant counts a period of days. The zero value is the default, CivilCode.
type Counting uint8

const (
	// CivilCode (민법 제157조, 제161조): the receipt day is not counted, and a last day that is a
	// Saturday, Sunday, holiday or closure moves to the next working day.
	CivilCode Counting = iota
	// CalendarDays: the receipt day is not counted and the last day never moves (LAW.md §8's
	// conservative reading). Never later than CivilCode; needs no holiday table.
	CalendarDays
	// WorkingDays (민원처리법 제19조②): the receipt day counts if it is a working day, and only
	// working days count.
	WorkingDays
)

// Settings is a tenant's clock configuration, stored per tenant. The zero value is the default:
// CivilCode over the shipped public holidays.
type Settings struct {
	Counting Counting
	// Closures are closed days besides the shipped holidays: a 임시공휴일 designated after the
	// table was written, a 지방공휴일, or a closure the tenant declares (a 시 개청기념일 is not a
	// public holiday). They are non-working days like holidays. 민법 제161조 moves a deadline only
	// over a 공휴일, so a closure that is not one gives the tenant a later date than the Act does.
	Closures []Closure
	// Years are years beyond the shipped table whose holidays the tenant has listed in full in
	// Closures, so that deadlines may run into them.
	Years []int
}

// Closure is one closed day.
type Closure struct {
	Date string // YYYY-MM-DD, a date in Seoul
	Name string // for people, e.g. "개청기념일"
}

// Calendar computes one tenant's due dates. It is immutable and safe for concurrent use.
type Calendar struct {
	counting Counting
	closed   map[string]string // YYYY-MM-DD → name
	years    map[int]bool
}

// New returns the calendar for a tenant's settings.
func New(s Settings) (*Calendar, error) {
	if s.Counting > WorkingDays {
		return nil, fmt.Errorf("%w: unknown counting %d", ErrInvalidSettings, s.Counting)
	}
	c := &Calendar{counting: s.Counting, closed: maps.Clone(publicHolidays), years: map[int]bool{}}
	for y := firstYear; y <= lastYear; y++ {
		c.years[y] = true
	}
	for _, y := range s.Years {
		c.years[y] = true
	}
	for _, cl := range s.Closures {
		d, err := time.Parse(time.DateOnly, cl.Date)
		if err != nil {
			return nil, fmt.Errorf("%w: closure date %q is not YYYY-MM-DD", ErrInvalidSettings, cl.Date)
		}
		if cl.Name == "" {
			return nil, fmt.Errorf("%w: closure %s has no name", ErrInvalidSettings, cl.Date)
		}
		addName(c.closed, d.Format(time.DateOnly), cl.Name)
	}
	return c, nil
}

// Due returns when a period of days that starts with the event at t (a receipt, the end of a
// deferral's reason, a provision) ends: the end of its last day in Seoul.
func (c *Calendar) Due(t time.Time, days int) (time.Time, error) {
	if days < 1 {
		return time.Time{}, fmt.Errorf("clock: a period of %d days", days)
	}
	d := dateOf(t)
	var err error
	switch c.counting {
	case CivilCode:
		d, err = c.nthWorkingDay(d.AddDate(0, 0, days), 1)
	case CalendarDays:
		d = d.AddDate(0, 0, days)
	case WorkingDays:
		d, err = c.nthWorkingDay(d, days)
	}
	if err != nil {
		return time.Time{}, err
	}
	return time.Date(d.Year(), d.Month(), d.Day(), 23, 59, 59, 999_999_999, seoul.Location), nil
}

// Resume returns the STD-31-1 due date of access after a deferral whose reason ceased at t.
func (c *Calendar) Resume(t time.Time) (time.Time, error) { return c.Due(t, ResumeDays) }

// Publication returns the PIPA-18-4 due date for publishing an outside-purpose use or provision
// made at t.
func (c *Calendar) Publication(t time.Time) (time.Time, error) { return c.Due(t, PublicationDays) }

// Extend returns the DEC-44-3-5 due date of an automated-decision request received at t once one
// more extension is granted on top of the granted ones; a third extension fails with
// ErrExtensionLimit. An extension runs on from the end of the period it extends as counted before
// any 민법 제161조 move, so a holiday that ended the first period late does not also delay the
// extension: the earlier of the two readings.
func (c *Calendar) Extend(t time.Time, granted int) (time.Time, error) {
	if granted < 0 {
		return time.Time{}, fmt.Errorf("clock: %d extensions granted", granted)
	}
	if granted >= MaxExtensions {
		return time.Time{}, ErrExtensionLimit
	}
	return c.Due(t, AutomatedDecisionDays+(granted+1)*ExtensionDays)
}

// closedOn names why the tenant is closed on day d (a holiday, a closure, "토요일" or "일요일"),
// or returns "" on a working day. It fails with ErrYearNotCovered for a weekday whose year the
// calendar does not cover.
func (c *Calendar) closedOn(d time.Time) (string, error) {
	if name, ok := c.closed[d.Format(time.DateOnly)]; ok {
		return name, nil
	}
	switch d.Weekday() {
	case time.Saturday:
		return "토요일", nil
	case time.Sunday:
		return "일요일", nil
	}
	if !c.years[d.Year()] {
		return "", fmt.Errorf("%w %d", ErrYearNotCovered, d.Year())
	}
	return "", nil
}

// nthWorkingDay returns the n-th working day counting from d itself.
func (c *Calendar) nthWorkingDay(d time.Time, n int) (time.Time, error) {
	for ; ; d = d.AddDate(0, 0, 1) {
		name, err := c.closedOn(d)
		if err != nil {
			return time.Time{}, err
		}
		if name == "" {
			if n--; n == 0 {
				return d, nil
			}
		}
	}
}

// dateOf returns t's date in Seoul as midnight UTC, where adding days is plain arithmetic.
func dateOf(t time.Time) time.Time {
	y, m, d := t.In(seoul.Location).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

func addName(closed map[string]string, date, name string) {
	if prev, ok := closed[date]; ok {
		name = prev + "·" + name
	}
	closed[date] = name
}
