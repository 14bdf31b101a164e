package clock_test

import (
	"errors"
	"testing"
	"time"

	"github.com/pipa-kr/pipa/pkg/seoul"
	"github.com/pipa-kr/pipa/services/requests/clock"
)

func kst(y int, m time.Month, d, hh, mm int) time.Time {
	return time.Date(y, m, d, hh, mm, 0, 0, seoul.Location)
}

// endOf is the due instant of a date: the end of that day in Seoul.
func endOf(t *testing.T, date string) time.Time {
	t.Helper()
	d, err := time.ParseInLocation(time.DateOnly, date, seoul.Location)
	if err != nil {
		t.Fatal(err)
	}
	return d.Add(24*time.Hour - time.Nanosecond)
}

func calendar(t *testing.T, s clock.Settings) *clock.Calendar {
	t.Helper()
	c, err := clock.New(s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestDue(t *testing.T) {
	civil, calendarDays, working := clock.Settings{}, clock.Settings{Counting: clock.CalendarDays}, clock.Settings{Counting: clock.WorkingDays}
	kaecheong := clock.Settings{Closures: []clock.Closure{{Date: "2026-06-29", Name: "개청기념일"}}}
	seollal2028 := clock.Settings{Years: []int{2028}, Closures: []clock.Closure{
		{Date: "2028-01-26", Name: "설날 전날"}, {Date: "2028-01-27", Name: "설날"}, {Date: "2028-01-28", Name: "설날 다음 날"},
	}}
	for _, tc := range []struct {
		name     string
		settings clock.Settings
		at       time.Time
		days     int
		want     string
	}{
		// 추석 2025: 10/03 개천절, 10/05-07 추석, 10/08 대체공휴일, 10/09 한글날.
		{"PIPA-35-3 civil: day 10 is Sat 10/11, moves past the weekend", civil, kst(2025, 10, 1, 10, 0), clock.AccessDays, "2025-10-13"},
		{"PIPA-35-3 calendar days: day 10 stays on Sat 10/11", calendarDays, kst(2025, 10, 1, 10, 0), clock.AccessDays, "2025-10-11"},
		{"PIPA-35-3 working days: 10/01 counts, 추석 holidays do not", working, kst(2025, 10, 1, 10, 0), clock.AccessDays, "2025-10-21"},
		// 설날 2026: 2/16-18.
		{"DEC-43-3 civil: day 10 is 설날 전날, moves to 2/19", civil, kst(2026, 2, 6, 9, 0), clock.CorrectionDays, "2026-02-19"},
		{"DEC-43-3 working days across 설날", working, kst(2026, 2, 6, 9, 0), clock.CorrectionDays, "2026-02-24"},
		// A Friday evening receipt: only the date in Seoul matters.
		{"DEC-44-2 civil: Fri 23:59 KST, Friday not counted", civil, kst(2025, 11, 14, 23, 59), clock.SuspensionDays, "2025-11-24"},
		{"DEC-44-2 civil: Fri 15:00 UTC is Sat 00:00 KST", civil, time.Date(2025, 11, 14, 15, 0, 0, 0, time.UTC), clock.SuspensionDays, "2025-11-25"},
		{"DEC-44-2 working days: Fri 23:59 KST counts as day 1", working, kst(2025, 11, 14, 23, 59), clock.SuspensionDays, "2025-11-27"},
		{"DEC-44-2 working days: a Saturday receipt counts from Monday", working, time.Date(2025, 11, 14, 15, 0, 0, 0, time.UTC), clock.SuspensionDays, "2025-11-28"},
		{"STD-44-4 civil: day 10 is 5/25, 대체공휴일(부처님 오신 날)", civil, kst(2026, 5, 15, 14, 0), clock.CCTVDays, "2026-05-26"},
		{"PIPA-18-4 civil: day 30 is 10/03 개천절 (Sat), 10/05 its 대체공휴일", civil, kst(2026, 9, 3, 11, 0), clock.PublicationDays, "2026-10-06"},
		{"DEC-42-2 civil: a tenant closure on day 10 moves it", kaecheong, kst(2026, 6, 19, 10, 0), clock.AccessDays, "2026-06-30"},
		{"DEC-42-2 civil: without the closure", civil, kst(2026, 6, 19, 10, 0), clock.AccessDays, "2026-06-29"},
		{"PIPA-35-3 civil: a tenant-supplied year", seollal2028, kst(2028, 1, 16, 10, 0), clock.AccessDays, "2028-01-31"},
		{"PIPA-35-3 civil: weekends need no table (2023-12-30 Sat → 2024-01-01 → 01-02)", civil, kst(2023, 12, 20, 10, 0), clock.AccessDays, "2024-01-02"},
		{"PIPA-35-3 calendar days need no table", calendarDays, kst(2027, 12, 28, 10, 0), clock.AccessDays, "2028-01-07"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := calendar(t, tc.settings).Due(tc.at, tc.days)
			if err != nil {
				t.Fatal(err)
			}
			if want := endOf(t, tc.want); !got.Equal(want) {
				t.Errorf("due %v, want %v", got.In(seoul.Location), want)
			}
		})
	}
}

func TestDueUnknownYear(t *testing.T) {
	for _, tc := range []struct {
		name     string
		settings clock.Settings
		at       time.Time
	}{
		{"PIPA-35-3 civil: day 10 is 2028-01-07, a weekday in no table", clock.Settings{}, kst(2027, 12, 28, 10, 0)},
		{"PIPA-35-3 civil: a 2028 closure does not vouch for the rest of 2028",
			clock.Settings{Closures: []clock.Closure{{Date: "2028-01-07", Name: "시무식 휴무"}}}, kst(2027, 12, 28, 10, 0)},
		{"PIPA-35-3 working days: the receipt day 2023-12-28 is in no table", clock.Settings{Counting: clock.WorkingDays}, kst(2023, 12, 28, 10, 0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if due, err := calendar(t, tc.settings).Due(tc.at, clock.AccessDays); !errors.Is(err, clock.ErrYearNotCovered) {
				t.Errorf("Due = %v, %v; want ErrYearNotCovered", due, err)
			}
		})
	}
}

func TestResume(t *testing.T) {
	for _, tc := range []struct {
		name     string
		settings clock.Settings
		ceased   time.Time
		want     string
	}{
		{"STD-31-1 civil: reason ceased Sun 9/28; day 10 is 10/08 대체공휴일, then 10/09 한글날", clock.Settings{}, kst(2025, 9, 28, 15, 0), "2025-10-10"},
		{"STD-31-1 civil: reason ceased on 10/03 개천절, not counted", clock.Settings{}, kst(2025, 10, 3, 9, 0), "2025-10-13"},
		{"STD-31-1 working days: reason ceased on 10/03 개천절, counting starts 10/10", clock.Settings{Counting: clock.WorkingDays}, kst(2025, 10, 3, 9, 0), "2025-10-23"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := calendar(t, tc.settings).Resume(tc.ceased)
			if err != nil {
				t.Fatal(err)
			}
			if want := endOf(t, tc.want); !got.Equal(want) {
				t.Errorf("due %v, want %v", got.In(seoul.Location), want)
			}
		})
	}
}

// TestExtend: DEC-44-3-5, 30 days extendable twice by 30 days. Received 2025-09-05: day 30 is
// Sun 10/05 (추석), so the first period ends on 10/10; each extension runs on from 10/05.
func TestExtend(t *testing.T) {
	cal := calendar(t, clock.Settings{})
	received := kst(2025, 9, 5, 10, 0)
	due, err := cal.Due(received, clock.AutomatedDecisionDays)
	if err != nil || !due.Equal(endOf(t, "2025-10-10")) {
		t.Errorf("DEC-44-3-5 first period: %v, %v; want 2025-10-10", due, err)
	}
	for granted, want := range []string{"2025-11-04", "2025-12-04"} {
		due, err := cal.Extend(received, granted)
		if err != nil || !due.Equal(endOf(t, want)) {
			t.Errorf("DEC-44-3-5 Extend(granted %d) = %v, %v; want %s", granted, due, err, want)
		}
	}
	if _, err := cal.Extend(received, clock.MaxExtensions); !errors.Is(err, clock.ErrExtensionLimit) {
		t.Errorf("DEC-44-3-5 third extension: %v, want ErrExtensionLimit", err)
	}
	if _, err := cal.Extend(received, -1); err == nil {
		t.Error("Extend(-1) succeeded")
	}
}

// TestClassify: LAW.md §8's D-3 warning and overdue, at the day boundaries in Seoul.
func TestClassify(t *testing.T) {
	due := endOf(t, "2025-10-13")
	for _, tc := range []struct {
		name string
		now  time.Time
		want clock.Status
	}{
		{"D-4 at 23:59 KST", kst(2025, 10, 9, 23, 59), clock.OnTime},
		{"D-3 at 00:00 KST", kst(2025, 10, 10, 0, 0), clock.DueSoon},
		{"D-3 at 00:00 KST, given in UTC (still 10/09 in UTC)", time.Date(2025, 10, 9, 15, 0, 0, 0, time.UTC), clock.DueSoon},
		{"D-day at 23:59 KST", kst(2025, 10, 13, 23, 59), clock.DueSoon},
		{"D-day at the due instant", due, clock.DueSoon},
		{"D+1 at 00:00 KST", kst(2025, 10, 14, 0, 0), clock.Overdue},
		{"D+1 at 00:00 KST, given in UTC (still 10/13 in UTC)", time.Date(2025, 10, 13, 15, 0, 0, 0, time.UTC), clock.Overdue},
	} {
		if got := clock.Classify(due, tc.now); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestNewRejects(t *testing.T) {
	for name, s := range map[string]clock.Settings{
		"unknown counting":   {Counting: clock.WorkingDays + 1},
		"date not ISO":       {Closures: []clock.Closure{{Date: "2026-6-29", Name: "개청기념일"}}},
		"closure has a name": {Closures: []clock.Closure{{Date: "2026-06-29"}}},
	} {
		if _, err := clock.New(s); !errors.Is(err, clock.ErrInvalidSettings) {
			t.Errorf("%s: %v, want ErrInvalidSettings", name, err)
		}
	}
	if _, err := calendar(t, clock.Settings{}).Due(kst(2026, 1, 5, 9, 0), 0); err == nil {
		t.Error("Due with a period of 0 days succeeded")
	}
}
