package entry_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	"github.com/pipa-kr/pipa/pkg/seoul"
	"github.com/pipa-kr/pipa/services/ledger/entry"
)

// S-8-2, monthly: a month's review is due when the next month ends; the first month is the one
// of the log's first ACCESS entry.
func TestReviewsOverdue(t *testing.T) {
	first := time.Date(2026, 9, 15, 10, 0, 0, 0, seoul.Location)
	endOfOctober := time.Date(2026, 11, 1, 0, 0, 0, 0, seoul.Location)
	require.Empty(t, entry.ReviewsOverdue(first, endOfOctober, nil, 1), "September's review is due at the end of October, not before")
	require.Equal(t, []string{"2026-09"}, entry.ReviewsOverdue(first, endOfOctober.Add(time.Second), nil, 1))
	require.Equal(t, []string{"2026-10"}, entry.ReviewsOverdue(first, time.Date(2026, 12, 7, 0, 0, 0, 0, seoul.Location), map[string]bool{"2026-09": true}, 1))
}

// S-8-2: a review states what was checked, that the downloads' reasons were, what was found and
// the follow-up, of a month that has begun; its entry is a valid ACCESS_REVIEW of that month.
func TestReview(t *testing.T) {
	now := time.Date(2026, 12, 7, 9, 0, 0, 0, seoul.Location)
	ok := &ledgerv1.AccessReview{Period: "2026-11", Checked: "접속기록 전수", DownloadsChecked: true, Findings: "이상 없음", FollowUp: "없음"}
	e, vs := entry.Review(ok, 1, "김점검", "officer-1", now)
	require.Empty(t, vs)
	require.Equal(t, ledgerv1.EntryKind_ENTRY_KIND_ACCESS_REVIEW, e.GetKind())
	require.Equal(t, "2026-11-01 ~ 2026-11-30", e.GetPeriod())
	require.Empty(t, entry.Validate(e, now))

	for field, bad := range map[string]*ledgerv1.AccessReview{
		"review.period":            {Period: "2027-01", Checked: "x", DownloadsChecked: true, Findings: "x", FollowUp: "x"},
		"review.checked":           {Period: "2026-11", Checked: " ", DownloadsChecked: true, Findings: "x", FollowUp: "x"},
		"review.downloads_checked": {Period: "2026-11", Checked: "x", Findings: "x", FollowUp: "x"},
		"review.findings":          {Period: "2026-11", Checked: "x", DownloadsChecked: true, FollowUp: "x"},
		"review.follow_up":         {Period: "2026-11", Checked: "x", DownloadsChecked: true, Findings: "x"},
	} {
		e, vs := entry.Review(bad, 1, "김점검", "officer-1", now)
		require.Nil(t, e, field)
		require.Len(t, vs, 1, field)
		require.Equal(t, field, vs[0].Field)
	}
}

// S-8-2, a tenant's own cycle: quarterly periods fall in the calendar year (July–September), the
// third quarter's review is due when October ends, a monthly review inside the quarter counts for
// it, and a quarterly review names the quarter's first month.
func TestReviewsOverdueQuarterly(t *testing.T) {
	first := time.Date(2026, 8, 20, 10, 0, 0, 0, seoul.Location)
	endOfOctober := time.Date(2026, 11, 1, 0, 0, 0, 0, seoul.Location)
	require.Empty(t, entry.ReviewsOverdue(first, endOfOctober, nil, 3))
	require.Equal(t, []string{"2026-07"}, entry.ReviewsOverdue(first, endOfOctober.Add(time.Second), nil, 3))
	require.Empty(t, entry.ReviewsOverdue(first, endOfOctober.Add(time.Second), map[string]bool{"2026-08": true}, 3))

	now := time.Date(2026, 12, 7, 9, 0, 0, 0, seoul.Location)
	q := &ledgerv1.AccessReview{Period: "2026-07", Checked: "접속기록 전수", DownloadsChecked: true, Findings: "이상 없음", FollowUp: "없음"}
	e, vs := entry.Review(q, 3, "김점검", "officer-1", now)
	require.Empty(t, vs)
	require.Equal(t, "2026-07-01 ~ 2026-09-30", e.GetPeriod())
	q.Period = "2026-08"
	_, vs = entry.Review(q, 3, "김점검", "officer-1", now)
	require.Len(t, vs, 1)
	require.Equal(t, "S-8-2", vs[0].Rule)
}
