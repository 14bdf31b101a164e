package clock

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestHolidayTable checks the embedded holidays.csv against the rules of 관공서의 공휴일에 관한 규정.
func TestHolidayTable(t *testing.T) {
	rows, err := parseHolidays(holidaysCSV)
	if err != nil {
		t.Fatal(err)
	}
	day := func(d time.Time) string { return d.Format(time.DateOnly) }
	byDate := map[string][]holiday{}
	byName := map[int]map[string][]string{} // year → name → dates
	for _, h := range rows {
		y := h.date.Year()
		if y < firstYear || y > lastYear {
			t.Errorf("%s %s: outside %d-%d", day(h.date), h.name, firstYear, lastYear)
		}
		for _, o := range byDate[day(h.date)] {
			if o.name == h.name {
				t.Errorf("%s %s: duplicate row", day(h.date), h.name)
			}
		}
		byDate[day(h.date)] = append(byDate[day(h.date)], h)
		if byName[y] == nil {
			byName[y] = map[string][]string{}
		}
		byName[y][h.name] = append(byName[y][h.name], day(h.date))
	}

	// Every year has each statutory holiday once, on its date (규정 제2조; 노동절 and 제헌절 from 2026).
	lunar := map[int][3]string{ // 설날 (음 1.1), 추석 (음 8.15), 부처님 오신 날 (음 4.8), per the 월력요항
		2024: {"2024-02-10", "2024-09-17", "2024-05-15"},
		2025: {"2025-01-29", "2025-10-06", "2025-05-05"},
		2026: {"2026-02-17", "2026-09-25", "2026-05-24"},
		2027: {"2027-02-07", "2027-09-15", "2027-05-13"},
	}
	for y := firstYear; y <= lastYear; y++ {
		want := map[string]string{
			"1월 1일": "01-01", "3·1절": "03-01", "어린이날": "05-05", "현충일": "06-06",
			"광복절": "08-15", "개천절": "10-03", "한글날": "10-09", "기독탄신일": "12-25",
		}
		if y >= 2026 {
			want["노동절"], want["제헌절"] = "05-01", "07-17"
		}
		for name, md := range want {
			want[name] = strconv.Itoa(y) + "-" + md
		}
		for i, festival := range []string{"설날", "추석"} {
			d, _ := time.Parse(time.DateOnly, lunar[y][i])
			want[festival+" 전날"], want[festival], want[festival+" 다음 날"] = day(d.AddDate(0, 0, -1)), day(d), day(d.AddDate(0, 0, 1))
		}
		want["부처님 오신 날"] = lunar[y][2]
		for name, date := range want {
			if got := byName[y][name]; len(got) != 1 || got[0] != date {
				t.Errorf("%d %s: rows %v, want [%s]", y, name, got, date)
			}
		}
	}

	// 대체공휴일 (규정 제3조): 설날·추석 days that fall on a Sunday or on another holiday, and the
	// days below that fall on a Saturday, a Sunday or another holiday, are made up on the first
	// following day that is neither a weekend day nor a holiday. 1월 1일, 현충일, elections and
	// 임시공휴일 are not.
	sundayOnly := set("설날 전날", "설날", "설날 다음 날", "추석 전날", "추석", "추석 다음 날")
	weekend := set("3·1절", "노동절", "어린이날", "부처님 오신 날", "제헌절", "광복절", "개천절", "한글날", "기독탄신일")
	displaced := func(date string) bool {
		d, _ := time.Parse(time.DateOnly, date)
		hs := byDate[date]
		for _, h := range hs {
			overlap := len(hs) > 1
			if sundayOnly[h.name] && (d.Weekday() == time.Sunday || overlap) ||
				weekend[h.name] && (d.Weekday() == time.Saturday || d.Weekday() == time.Sunday || overlap) {
				return true
			}
		}
		return false
	}
	madeUp := map[string]int{}
	for _, h := range rows {
		paren, isSub := strings.CutPrefix(h.name, "대체공휴일(")
		if isSub != !h.substitutes.IsZero() {
			t.Errorf("%s %s: name and substitutes column disagree", day(h.date), h.name)
			continue
		}
		if !isSub {
			continue
		}
		paren = strings.TrimSuffix(paren, ")")
		orig := day(h.substitutes)
		if !displaced(orig) {
			t.Errorf("%s %s: %s %v was not displaced", day(h.date), h.name, orig, names(byDate[orig]))
		}
		if !hasPrefixName(byDate[orig], paren) {
			t.Errorf("%s %s: no %s on %s", day(h.date), h.name, paren, orig)
		}
		if len(byDate[day(h.date)]) != 1 {
			t.Errorf("%s %s: shares its date with %v", day(h.date), h.name, names(byDate[day(h.date)]))
		}
		free := func(d time.Time) bool { // a weekday holding no holiday but this one
			if wd := d.Weekday(); wd == time.Saturday || wd == time.Sunday {
				return false
			}
			for _, o := range byDate[day(d)] {
				if o.name != h.name {
					return false
				}
			}
			return true
		}
		next := h.substitutes.AddDate(0, 0, 1)
		for !free(next) {
			next = next.AddDate(0, 0, 1)
		}
		if !next.Equal(h.date) {
			t.Errorf("%s %s: the first free day after %s is %s", day(h.date), h.name, orig, day(next))
		}
		madeUp[orig]++
	}
	for date := range byDate {
		if displaced(date) && madeUp[date] != 1 {
			t.Errorf("%s %v: displaced, made up %d times", date, names(byDate[date]), madeUp[date])
		}
	}
}

func set(names ...string) map[string]bool {
	m := map[string]bool{}
	for _, n := range names {
		m[n] = true
	}
	return m
}

func names(hs []holiday) []string {
	var s []string
	for _, h := range hs {
		s = append(s, h.name)
	}
	return s
}

func hasPrefixName(hs []holiday, prefix string) bool {
	for _, h := range hs {
		if strings.HasPrefix(h.name, prefix) {
			return true
		}
	}
	return false
}
