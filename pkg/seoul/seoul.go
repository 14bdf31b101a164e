// Package seoul is the time zone of every date a person reads and of every statutory deadline
// (ARCHITECTURE.md: Asia/Seoul). The zone data is embedded, so it resolves on hosts without a
// zoneinfo database.
package seoul

import (
	"time"
	_ "time/tzdata" // Asia/Seoul must resolve everywhere.
)

// Location is Asia/Seoul.
var Location = func() *time.Location {
	loc, err := time.LoadLocation("Asia/Seoul")
	if err != nil {
		panic(err) // the zone is embedded
	}
	return loc
}()

// Date is t's calendar day in Seoul, YYYY-MM-DD.
func Date(t time.Time) string { return t.In(Location).Format(time.DateOnly) }
