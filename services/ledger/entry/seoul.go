package entry

import (
	"time"
	_ "time/tzdata" // Asia/Seoul must resolve even on hosts without a zoneinfo database.
)

var seoul = func() *time.Location {
	if loc, err := time.LoadLocation("Asia/Seoul"); err == nil {
		return loc
	}
	return time.FixedZone("KST", 9*60*60) // Korea has kept +09:00 without DST since 1988.
}()

// Seoul is the zone of every date a person reads (ARCHITECTURE.md: statutory dates are Asia/Seoul).
func Seoul() *time.Location { return seoul }
