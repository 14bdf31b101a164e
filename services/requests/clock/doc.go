// Package clock computes the statutory clock of data-subject requests: when a decision or notice
// is due, and whether a request is due soon or overdue. It depends on no proto: callers pass the
// period in days, named by the constants below.
//
// Periods (LAW.md §3, §4, §5):
//   - 10 days from receipt: access, or the notice deferring, restricting or refusing it
//     (PIPA-35-3, DEC-41-4, DEC-42-2); correction or deletion (DEC-43-3); suspension (DEC-44-2);
//     CCTV access or existence check, or its refusal (STD-44-4).
//   - 10 days from the day a deferral's reason ceased: access after the deferral (STD-31-1).
//   - 30 days: automated-decision requests (DEC-44-3-5), extendable twice by 30 days; homepage
//     publication of an outside-purpose use or provision (PIPA-18-4).
//
// Day counting is a tenant setting (Counting), because PIPA does not say how its days are counted
// (LAW.md §8 marks it UNVERIFIED). The default, CivilCode, is the Civil Act, which 행정기본법
// 제6조 applies to administrative periods: the day of receipt is not counted (민법 제157조,
// 초일불산입), the period ends when its last day ends (제159조), and a last day falling on a
// Saturday, Sunday or public holiday moves to the next working day (제161조). The receipt is an
// event, not the start of a day, so 157's proviso for a period that begins at 00:00 is not applied.
// A tenant may choose CalendarDays (the last day never moves: LAW.md §8's conservative reading) or
// WorkingDays (민원처리법 제19조②, as some bodies count 민원: the receipt day counts, Saturdays and
// holidays do not).
//
// Every date is a date in Seoul (Asia/Seoul; tzdata is embedded, so no zoneinfo is needed). A due
// date is the instant its day ends in Seoul, 23:59:59.999999999 KST: anything done on the due date
// is in time, and a request becomes overdue at 00:00 KST the next day.
//
// Holidays come from holidays.csv, embedded: the public holidays of government offices for
// 2024–2027, substitute and temporary holidays included (see README.md for sources and caveats).
// A tenant adds its own closed days and, for a year beyond the table, its holidays (Settings).
// When a computation must know whether a weekday in a year nobody supplied is a holiday, it fails
// with ErrYearNotCovered rather than guess that the year has none.
package clock
