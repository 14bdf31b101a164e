package entry

import (
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pipa-kr/pipa/pkg/apierr"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	"github.com/pipa-kr/pipa/pkg/seoul"
)

// ReviewPurpose is the purpose of every ACCESS_REVIEW entry.
const ReviewPurpose = "접속기록 점검 (S-8-2)"

// Cycles are the review cycles a tenant may set, in months (S-8-2): the divisors of 12, so that
// the periods fall within the calendar year (a quarter, a half, a year).
var Cycles = []int{1, 2, 3, 4, 6, 12}

// Cycle is the review cycle n (LedgerSettings.review_cycle_months) in months: monthly when n is 0
// (S-8-2: 월 1회 이상 by default).
func Cycle(n int32) int {
	if n <= 0 {
		return 1
	}
	return int(n)
}

// periodStart is the first month of the period of cycle months that holds t (Asia/Seoul).
func periodStart(t time.Time, cycle int) time.Time {
	t = t.In(seoul.Location)
	return time.Date(t.Year(), time.Month((int(t.Month())-1)/cycle*cycle+1), 1, 0, 0, 0, 0, seoul.Location)
}

// Review is the ACCESS_REVIEW entry that records rv, the review of one period of the access log
// (cycle months, see Cycle) made at now by handler (recorded by the account recordedBy), or the
// rules rv breaks (S-8-2): a period that has begun, named by its first month, what was checked,
// the downloads' reasons checked, the findings and the follow-up.
func Review(rv *ledgerv1.AccessReview, cycle int, handler, recordedBy string, now time.Time) (*ledgerv1.Entry, []apierr.Violation) {
	var vs apierr.Violations
	month, err := time.ParseInLocation("2006-01", rv.GetPeriod(), seoul.Location)
	switch {
	case err != nil:
		vs.Add("review.period", "format", "the period reviewed by its first month, YYYY-MM")
	case !month.Before(now):
		vs.Add("review.period", "range", "a period is reviewed once it has begun")
	case !periodStart(month, cycle).Equal(month):
		vs.Add("review.period", "S-8-2", "the tenant reviews every %d months: %s lies in the period that starts in %s",
			cycle, rv.GetPeriod(), periodStart(month, cycle).Format("2006-01"))
	}
	checked, findings, followUp := strings.TrimSpace(rv.GetChecked()), strings.TrimSpace(rv.GetFindings()), strings.TrimSpace(rv.GetFollowUp())
	if checked == "" {
		vs.Add("review.checked", "S-8-2", "what was checked")
	}
	if !rv.GetDownloadsChecked() {
		vs.Add("review.downloads_checked", "S-8-2", "the reasons of the period's downloads are always checked")
	}
	if findings == "" {
		vs.Add("review.findings", "S-8-2", "what was found (or \"이상 없음\")")
	}
	if followUp == "" {
		vs.Add("review.follow_up", "S-8-2", "the follow-up (or \"없음\")")
	}
	if len(vs) > 0 {
		return nil, vs
	}
	return &ledgerv1.Entry{Kind: ledgerv1.EntryKind_ENTRY_KIND_ACCESS_REVIEW, OccurTime: timestamppb.New(now), Purpose: ReviewPurpose,
		Period:  month.Format(time.DateOnly) + " ~ " + month.AddDate(0, cycle, -1).Format(time.DateOnly),
		Handler: handler, RecordedBy: recordedBy,
		Note: fmt.Sprintf("점검 대상·내용: %s\n다운로드 사유 확인: 예\n점검 결과: %s\n후속 조치: %s", checked, findings, followUp)}, nil
}

// ReviewsOverdue are the periods of cycle months (by their first month, YYYY-MM), from the one
// of first to now's, whose review is past due (the end of the month after the period, Asia/Seoul)
// and not in reviewed (S-8-2). A review recorded under another cycle counts for the period that
// holds its first month.
func ReviewsOverdue(first, now time.Time, reviewed map[string]bool, cycle int) []string {
	covered := map[string]bool{}
	for p := range reviewed {
		if m, err := time.ParseInLocation("2006-01", p, seoul.Location); err == nil {
			covered[periodStart(m, cycle).Format("2006-01")] = true
		}
	}
	var out []string
	for m := periodStart(first, cycle); ; m = m.AddDate(0, cycle, 0) {
		due := m.AddDate(0, cycle+1, 0) // the instant the month after the period ends
		if !now.After(due) {
			return out
		}
		if p := m.Format("2006-01"); !covered[p] {
			out = append(out, p)
		}
	}
}
