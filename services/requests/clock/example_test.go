package clock_test

import (
	"fmt"
	"time"

	"github.com/pipa-kr/pipa/services/requests/clock"
)

func ExampleCalendar_Due() {
	cal, err := clock.New(clock.Settings{}) // the default: 민법 제157조, 제161조
	if err != nil {
		panic(err)
	}
	seoul, _ := time.LoadLocation("Asia/Seoul")
	received := time.Date(2025, 10, 1, 10, 0, 0, 0, seoul)

	// PIPA-35-3: day 10 is Saturday 10/11, so access is due on Monday 10/13.
	due, err := cal.Due(received, clock.AccessDays)
	if err != nil {
		panic(err)
	}
	fmt.Println(due.Format(time.DateTime))
	fmt.Println(clock.Classify(due, time.Date(2025, 10, 10, 9, 0, 0, 0, seoul)) == clock.DueSoon)
	// Output:
	// 2025-10-13 23:59:59
	// true
}
