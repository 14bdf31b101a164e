package clock

import "time"

// DueSoonDays is how many calendar days before its due date a request is due soon: LAW.md §8
// warns at D-3.
const DueSoonDays = 3

// Status is where a request stands against its due date.
type Status uint8

const (
	// OnTime: more than DueSoonDays days left.
	OnTime Status = iota
	// DueSoon: due today or within DueSoonDays calendar days, counted in Seoul (D-3 to D-day).
	DueSoon
	// Overdue: the due instant has passed.
	Overdue
)

// Classify returns the status at now of a request due at due (a Due result).
func Classify(due, now time.Time) Status {
	if now.After(due) {
		return Overdue
	}
	if dateOf(due).Sub(dateOf(now)) <= DueSoonDays*24*time.Hour {
		return DueSoon
	}
	return OnTime
}
