package render

import "time"

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
