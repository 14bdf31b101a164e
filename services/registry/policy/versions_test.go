package policy

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pipa-kr/pipa/pkg/apierr"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
)

type vio struct{ Field, Rule string }

func vios(vs []apierr.Violation) []vio {
	out := []vio{}
	for _, v := range vs {
		out = append(out, vio{v.Field, v.Rule})
	}
	return out
}

func announcement() Announcement {
	return Announcement{
		Today:         d("2024-01-05"),
		AnnounceDate:  d("2024-01-08"),
		EffectiveDate: d("2024-01-16"),
		LeadDays:      7,
		HasPrevious:   true,
		Others:        []Period{{Number: 1, State: registryv1.PolicyState_POLICY_STATE_ARCHIVED, Effective: d("2021-12-06")}},
	}
}

func TestValidateAnnouncement_Valid(t *testing.T) {
	require.Empty(t, ValidateAnnouncement(announcement()))
}

func TestValidateAnnouncement_STD_21_NotInThePast(t *testing.T) {
	a := announcement()
	a.AnnounceDate = d("2024-01-04")
	a.EffectiveDate = d("2024-01-11")
	vs := ValidateAnnouncement(a)
	require.Equal(t, []vio{{"announce_date", "STD-21"}}, vios(vs))
	require.Contains(t, vs[0].Description, "2024-01-05")

	a.AnnounceDate = a.Today // today is fine
	a.EffectiveDate = d("2024-01-12")
	require.Empty(t, ValidateAnnouncement(a))
}

func TestValidateAnnouncement_NOTICE_7D_LeadTime(t *testing.T) {
	a := announcement()
	a.EffectiveDate = d("2024-01-14") // announce + 6
	vs := ValidateAnnouncement(a)
	require.Equal(t, []vio{{"effective_date", "NOTICE-7D"}}, vios(vs))
	require.Contains(t, vs[0].Description, "earliest allowed date is 2024-01-15")

	a.EffectiveDate = d("2024-01-15") // announce + 7
	require.Empty(t, ValidateAnnouncement(a))

	// A tenant may configure another lead time, including none ("immediately at it", WG26-24).
	a.LeadDays = 0
	a.EffectiveDate = a.AnnounceDate
	require.Empty(t, ValidateAnnouncement(a))
	a.LeadDays = 14
	require.Equal(t, []vio{{"effective_date", "NOTICE-7D"}}, vios(ValidateAnnouncement(a)))
}

func TestNoticeLeadDays_NOTICE_7D_Default(t *testing.T) {
	require.Equal(t, 7, NoticeLeadDays(nil))
	require.Equal(t, 7, NoticeLeadDays(&registryv1.Tenant{}))
	require.Equal(t, 10, NoticeLeadDays(&registryv1.Tenant{NoticeLeadDays: 10}))
}

func TestValidateAnnouncement_WG26_24_MajorChangeNeedsComparison(t *testing.T) {
	a := announcement()
	a.Major = true
	vs := ValidateAnnouncement(a)
	require.Equal(t, []vio{{"major_change", "WG26-24"}}, vios(vs))
	require.Contains(t, vs[0].Description, "comparison table")

	a.ComparisonRows = 3
	require.Empty(t, ValidateAnnouncement(a))

	a.HasPrevious, a.Others = false, nil
	vs = ValidateAnnouncement(a)
	require.Equal(t, []vio{{"major_change", "WG26-24"}}, vios(vs))
	require.Contains(t, vs[0].Description, "first version")

	a.Major = false // a first version is fine when not flagged major
	require.Empty(t, ValidateAnnouncement(a))
}

// WG26-24: a new version takes effect after every announced or archived one, so the in-force
// versions form one line.
func TestValidateAnnouncement_WG26_24_EffectiveAfterOthers(t *testing.T) {
	a := announcement()
	a.Others = append(a.Others, Period{Number: 2, State: registryv1.PolicyState_POLICY_STATE_ANNOUNCED, Effective: d("2024-01-16")})
	vs := ValidateAnnouncement(a)
	require.Equal(t, []vio{{"effective_date", "WG26-24"}}, vios(vs))
	require.Contains(t, vs[0].Description, "version 2")

	a.Others[1].Effective = d("2024-02-01") // already scheduled later
	vs = ValidateAnnouncement(a)
	require.Equal(t, []vio{{"effective_date", "WG26-24"}}, vios(vs))
	require.Contains(t, vs[0].Description, "2024-02-01")

	a.Others[1].Effective = d("2024-01-15")
	require.Empty(t, ValidateAnnouncement(a))
}

func TestValidateAnnouncement_Required(t *testing.T) {
	require.Equal(t, []vio{{"announce_date", "required"}, {"effective_date", "required"}},
		vios(ValidateAnnouncement(Announcement{Today: d("2024-01-05")})))
}

func version(n int32, state registryv1.PolicyState, effective, end string) *registryv1.PolicyVersion {
	return &registryv1.PolicyVersion{Number: n, State: state, EffectiveDate: effective, EndDate: end}
}

const (
	draft     = registryv1.PolicyState_POLICY_STATE_DRAFT
	announced = registryv1.PolicyState_POLICY_STATE_ANNOUNCED
	archived  = registryv1.PolicyState_POLICY_STATE_ARCHIVED
	upcoming  = registryv1.PolicyStanding_POLICY_STANDING_UPCOMING
	inForce   = registryv1.PolicyStanding_POLICY_STANDING_IN_FORCE
	past      = registryv1.PolicyStanding_POLICY_STANDING_PAST
)

// history: v1 archived with an imported end that leaves a gap before v2; v2 archived, open (it
// ran until v3); v3 announced (seed 000's current version); v4 announced and scheduled; v5 a
// draft; v6 archived with an imported end later than v3's start, which v3 cuts.
func history() []*registryv1.PolicyVersion {
	return []*registryv1.PolicyVersion{
		version(4, announced, "2024-06-01", ""),
		version(1, archived, "2019-03-01", "2021-06-30"),
		version(5, draft, "", ""),
		version(3, announced, "2024-01-16", ""),
		version(2, archived, "2021-12-06", "2024-03-31"),
	}
}

// WG26-24: ends and standings, and at most one version in force on any day.
func TestPeriods_WG26_24_AtMostOneInForce(t *testing.T) {
	tests := []struct {
		today string
		want  map[int32]registryv1.PolicyStanding
	}{
		{"2019-02-28", map[int32]registryv1.PolicyStanding{1: upcoming, 2: upcoming, 3: upcoming, 4: upcoming}},
		{"2019-03-01", map[int32]registryv1.PolicyStanding{1: inForce, 2: upcoming, 3: upcoming, 4: upcoming}},
		{"2021-06-30", map[int32]registryv1.PolicyStanding{1: inForce, 2: upcoming, 3: upcoming, 4: upcoming}},
		// The gap: v1's imported period ended, v2 has not begun; nothing is in force.
		{"2021-07-01", map[int32]registryv1.PolicyStanding{1: past, 2: upcoming, 3: upcoming, 4: upcoming}},
		{"2021-12-05", map[int32]registryv1.PolicyStanding{1: past, 2: upcoming, 3: upcoming, 4: upcoming}},
		{"2021-12-06", map[int32]registryv1.PolicyStanding{1: past, 2: inForce, 3: upcoming, 4: upcoming}},
		{"2024-01-15", map[int32]registryv1.PolicyStanding{1: past, 2: inForce, 3: upcoming, 4: upcoming}},
		{"2024-01-16", map[int32]registryv1.PolicyStanding{1: past, 2: past, 3: inForce, 4: upcoming}},
		{"2024-05-31", map[int32]registryv1.PolicyStanding{1: past, 2: past, 3: inForce, 4: upcoming}},
		{"2024-06-01", map[int32]registryv1.PolicyStanding{1: past, 2: past, 3: past, 4: inForce}},
		{"2030-01-01", map[int32]registryv1.PolicyStanding{1: past, 2: past, 3: past, 4: inForce}},
	}
	for _, tt := range tests {
		t.Run(tt.today, func(t *testing.T) {
			ps := Periods(history(), d(tt.today))
			got := map[int32]registryv1.PolicyStanding{}
			for _, p := range ps {
				got[p.Number] = p.Standing
			}
			require.Equal(t, tt.want, got)
		})
	}

	ps := Periods(history(), d("2024-01-20"))
	type period struct {
		n        int32
		eff, end string
	}
	var got []period
	for _, p := range ps {
		got = append(got, period{p.Number, p.Effective.String(), p.End.String()})
	}
	require.Equal(t, []period{
		{1, "2019-03-01", "2021-06-30"}, // imported end kept: earlier than the day before v2
		{2, "2021-12-06", "2024-01-15"}, // imported 2024-03-31 cut by v3
		{3, "2024-01-16", "2024-05-31"},
		{4, "2024-06-01", ""},
	}, got)

	// Every day from before the first version to after the last: at most one in force, and it
	// is exactly the version whose period covers the day.
	for day := d("2019-01-01"); day.Before(d("2025-01-01")); day = day.AddDays(1) {
		var inForceNow []int32
		var covering []int32
		for _, p := range Periods(history(), day) {
			if p.Standing == inForce {
				inForceNow = append(inForceNow, p.Number)
			}
			if within(day, p.Effective, p.End) {
				covering = append(covering, p.Number)
			}
		}
		require.LessOrEqual(t, len(inForceNow), 1, day.String())
		require.Equal(t, covering, inForceNow, day.String())
	}
}

func TestPeriods_SkipsDraftsAndUndated(t *testing.T) {
	ps := Periods([]*registryv1.PolicyVersion{
		version(1, draft, "2024-01-01", ""),
		version(2, announced, "", ""),
		version(3, announced, "not a date", ""),
	}, d("2024-06-01"))
	require.Empty(t, ps)
}

// WG26-24: imported versions have applied, and their periods do not overlap.
func TestValidateImport_WG26_24(t *testing.T) {
	today := d("2024-06-10")
	// seed 000: v2 archived 2021-12-06 ~ 2024-01-15, v3 announced from 2024-01-16.
	others := Declared([]*registryv1.PolicyVersion{
		version(2, archived, "2021-12-06", "2024-01-15"),
		version(3, announced, "2024-01-16", ""),
	})
	tests := []struct {
		name           string
		effective, end string
		want           []vio
		mentions       string
	}{
		{"older, closed", "2019-03-01", "2021-12-05", []vio{}, ""},
		{"older, open: runs to the day before v2", "2019-03-01", "", []vio{}, ""},
		{"older, with a gap", "2019-03-01", "2020-12-31", []vio{}, ""},
		{"in the future", "2024-07-01", "", []vio{{"effective_date", "WG26-24"}, {"effective_date", "WG26-24"}}, "after today"},
		{"end before effective", "2019-03-01", "2019-02-28", []vio{{"end_date", "range"}}, ""},
		{"end reaches into v2", "2019-03-01", "2021-12-06", []vio{{"end_date", "WG26-24"}}, "version 2 (2021. 12. 06. ~ 2024. 01. 15.)"},
		{"starts within v2", "2022-01-01", "", []vio{{"effective_date", "WG26-24"}}, "version 2"},
		{"same day as v2", "2021-12-06", "2021-12-31", []vio{{"effective_date", "WG26-24"}}, "version 2"},
		{"after the announced v3", "2024-03-01", "", []vio{{"effective_date", "WG26-24"}}, "version 3"},
		{"spans v2 and v3", "2019-03-01", "2024-02-01", []vio{{"end_date", "WG26-24"}, {"end_date", "WG26-24"}}, "version 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vs := ValidateImport(d(tt.effective), d(tt.end), today, others)
			require.Equal(t, tt.want, vios(vs))
			if tt.mentions != "" {
				var text string
				for _, v := range vs {
					text += v.Description + "\n"
				}
				require.Contains(t, text, tt.mentions)
			}
		})
	}
}

// An open-ended import between two archived versions fits: it ends the day before the next.
func TestValidateImport_WG26_24_FillsHistoryInAnyOrder(t *testing.T) {
	others := Declared([]*registryv1.PolicyVersion{
		version(1, archived, "2015-01-01", ""),
		version(3, archived, "2021-12-06", ""),
	})
	require.Empty(t, ValidateImport(d("2019-03-01"), Date{}, d("2024-06-10"), others))
	require.Empty(t, ValidateImport(d("2023-03-01"), Date{}, d("2024-06-10"), others))
	require.Equal(t, []vio{{"effective_date", "required"}}, vios(ValidateImport(Date{}, Date{}, d("2024-06-10"), others)))
}

// Two versions with the same effective date (which ValidateAnnouncement rejects) still leave
// one version in force: the later number, the earlier getting an empty period.
func TestPeriods_WG26_24_SameEffectiveDate(t *testing.T) {
	ps := Periods([]*registryv1.PolicyVersion{
		version(2, announced, "2024-01-16", ""),
		version(1, archived, "2024-01-16", ""),
	}, d("2024-02-01"))
	require.Len(t, ps, 2)
	require.Equal(t, int32(1), ps[0].Number)
	require.Equal(t, past, ps[0].Standing)
	require.Equal(t, d("2024-01-15"), ps[0].End)
	require.Equal(t, inForce, ps[1].Standing)
}
