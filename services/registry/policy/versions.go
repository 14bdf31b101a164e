package policy

import (
	"cmp"
	"slices"

	"github.com/pipa-kr/pipa/pkg/apierr"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
)

// DefaultNoticeLeadDays is the days between announcing a change and its taking effect when the
// tenant sets none (NOTICE-7D: common practice, not a legal rule, hence configurable).
const DefaultNoticeLeadDays = 7

// NoticeLeadDays is the tenant's lead time; 0 (unset) means DefaultNoticeLeadDays.
func NoticeLeadDays(t *registryv1.Tenant) int {
	if d := t.GetNoticeLeadDays(); d > 0 {
		return int(d)
	}
	return DefaultNoticeLeadDays
}

// Period is the applicability period of one non-draft version (WG26-24: "20XX.X.X ~ 20XX.X.X 적용").
type Period struct {
	Number int32
	State  registryv1.PolicyState
	// Effective is the first day the version applies.
	Effective Date
	// End is the last day it applies; zero while open.
	End Date
	// Standing is set by Periods only.
	Standing registryv1.PolicyStanding
}

// Declared returns the periods of the non-draft versions as stored, ordered by effective date
// then number: End is set only where an archived version was imported with an end date (an
// announced version's end follows from its successor). Versions without a valid effective date
// cannot be placed in time and are left out; :announce and import never store one.
// This is what ValidateAnnouncement and ValidateImport take as others.
func Declared(versions []*registryv1.PolicyVersion) []Period {
	ps := make([]Period, 0, len(versions))
	for _, v := range versions {
		if v.GetState() == registryv1.PolicyState_POLICY_STATE_DRAFT ||
			v.GetState() == registryv1.PolicyState_POLICY_STATE_UNSPECIFIED {
			continue
		}
		eff, err := ParseDate(v.GetEffectiveDate())
		if err != nil || eff.IsZero() {
			continue
		}
		p := Period{Number: v.GetNumber(), State: v.GetState(), Effective: eff}
		if v.GetState() == registryv1.PolicyState_POLICY_STATE_ARCHIVED {
			if end, err := ParseDate(v.GetEndDate()); err == nil {
				p.End = end
			}
		}
		ps = append(ps, p)
	}
	slices.SortStableFunc(ps, func(a, b Period) int {
		return cmp.Or(a.Effective.Compare(b.Effective), cmp.Compare(a.Number, b.Number))
	})
	return ps
}

// Periods computes, for every non-draft version, its end date and its standing on today
// (WG26-24). A version ends the day before the next one takes effect; the latest stays open,
// except that an archived version keeps an imported end date when that is earlier, which may
// leave days with no version in force. A version is UPCOMING before its effective date, IN_FORCE
// if it is the latest version already effective and its period covers today, PAST otherwise, so
// at most one version is in force on any day.
func Periods(versions []*registryv1.PolicyVersion, today Date) []Period {
	ps := Declared(versions)
	latest := -1
	for i := range ps {
		if i+1 < len(ps) {
			next := ps[i+1].Effective.AddDays(-1)
			if ps[i].End.IsZero() || next.Before(ps[i].End) {
				ps[i].End = next
			}
		}
		if !ps[i].Effective.After(today) {
			latest = i
		}
	}
	for i := range ps {
		switch p := &ps[i]; {
		case p.Effective.After(today):
			p.Standing = registryv1.PolicyStanding_POLICY_STANDING_UPCOMING
		case i == latest && (p.End.IsZero() || !p.End.Before(today)):
			p.Standing = registryv1.PolicyStanding_POLICY_STANDING_IN_FORCE
		default:
			p.Standing = registryv1.PolicyStanding_POLICY_STANDING_PAST
		}
	}
	return ps
}

// Announcement is what :announce decides on.
type Announcement struct {
	Today         Date
	AnnounceDate  Date
	EffectiveDate Date
	// LeadDays is the tenant's notice lead time (NoticeLeadDays).
	LeadDays int
	// Major marks a change affecting data subjects' rights (WG26-24).
	Major       bool
	HasPrevious bool
	// ComparisonRows is the size of the before/after table against the previous version.
	ComparisonRows int
	// Others are the unit's other announced and archived versions (Declared).
	Others []Period
}

// ValidateAnnouncement checks the dates and the change flags of an announcement.
func ValidateAnnouncement(a Announcement) []apierr.Violation {
	var vs apierr.Violations
	switch {
	case a.AnnounceDate.IsZero():
		vs.Add("announce_date", "required", "the announcement date is required")
	case a.AnnounceDate.Before(a.Today):
		// STD-21: the change is published with its timing; it cannot be announced in the past.
		vs.Add("announce_date", "STD-21", "announcement date %s is before today %s", a.AnnounceDate, a.Today)
	}
	switch {
	case a.EffectiveDate.IsZero():
		vs.Add("effective_date", "required", "the effective date is required")
	case !a.AnnounceDate.IsZero():
		// NOTICE-7D: the tenant's lead time between announcement and effect.
		earliest := a.AnnounceDate.AddDays(max(a.LeadDays, 0))
		if a.EffectiveDate.Before(earliest) {
			vs.Add("effective_date", "NOTICE-7D",
				"effective date %s is too early: with %d days' notice after the announcement on %s, the earliest allowed date is %s",
				a.EffectiveDate, a.LeadDays, a.AnnounceDate, earliest)
		}
	}
	// WG26-24: a major change is announced with a before/after comparison table (대조표).
	if a.Major {
		switch {
		case !a.HasPrevious:
			vs.Add("major_change", "WG26-24", "a major change needs a previous version to compare with, and this is the first version")
		case a.ComparisonRows == 0:
			vs.Add("major_change", "WG26-24", "a major change needs a before/after comparison table (대조표), and the comparison with the previous version is empty")
		}
	}
	// WG26-24: versions follow one another, so at any instant at most one is in force.
	if !a.EffectiveDate.IsZero() {
		for _, o := range a.Others {
			if !a.EffectiveDate.After(o.Effective) {
				vs.Add("effective_date", "WG26-24",
					"effective date %s is not after version %d's effective date %s; a new version must take effect after every version already announced",
					a.EffectiveDate, o.Number, o.Effective)
			}
		}
	}
	return vs
}

// ValidateImport checks the period of an imported (archived) version against today and the
// unit's other versions (Declared).
func ValidateImport(effective, end Date, today Date, others []Period) []apierr.Violation {
	var vs apierr.Violations
	switch {
	case effective.IsZero():
		vs.Add("effective_date", "required", "the effective date is required")
		return vs
	case effective.After(today):
		// WG26-24: archived versions are the previous versions kept accessible; they have applied.
		vs.Add("effective_date", "WG26-24", "an imported version must already have taken effect, and %s is after today %s", effective, today)
	}
	if !end.IsZero() && end.Before(effective) {
		vs.Add("end_date", "range", "end date %s is before effective date %s", end, effective)
		return vs
	}
	// An open end runs to the day before the next version, as Periods computes it.
	endOf := func(p Period, all []Period) Date {
		if !p.End.IsZero() {
			return p.End
		}
		var next Date
		for _, q := range all {
			if q.Effective.After(p.Effective) && (next.IsZero() || q.Effective.Before(next)) {
				next = q.Effective
			}
		}
		if next.IsZero() {
			return Date{}
		}
		return next.AddDays(-1)
	}
	self := Period{State: registryv1.PolicyState_POLICY_STATE_ARCHIVED, Effective: effective, End: end}
	all := append(slices.Clone(others), self)
	selfEnd := endOf(self, all)
	for _, o := range others {
		oEnd := endOf(o, all)
		// WG26-24: imported versions predate pipa, so they precede every announced version.
		if o.State == registryv1.PolicyState_POLICY_STATE_ANNOUNCED && !effective.Before(o.Effective) {
			vs.Add("effective_date", "WG26-24",
				"an imported version must precede the announced versions, and version %d took effect on %s", o.Number, o.Effective)
			continue
		}
		if within(o.Effective, effective, selfEnd) || within(effective, o.Effective, oEnd) {
			field := "end_date"
			if within(effective, o.Effective, oEnd) {
				field = "effective_date"
			}
			vs.Add(field, "WG26-24", "period %s overlaps version %d (%s); at most one version applies on any day",
				PeriodLabel(effective, selfEnd), o.Number, PeriodLabel(o.Effective, oEnd))
		}
	}
	return vs
}

// within reports whether d falls in [from, to], to being open when zero.
func within(d, from, to Date) bool {
	return !d.Before(from) && (to.IsZero() || !d.After(to))
}
