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

// Review is the ACCESS_REVIEW entry that records rv, a month's review of the access log made at
// now by handler (recorded by the account recordedBy), or the rules rv breaks (S-8-2): a month
// that has begun, what was checked, the downloads' reasons checked, the findings and the
// follow-up.
func Review(rv *ledgerv1.AccessReview, handler, recordedBy string, now time.Time) (*ledgerv1.Entry, []apierr.Violation) {
	var vs apierr.Violations
	month, err := time.ParseInLocation("2006-01", rv.GetPeriod(), seoul.Location)
	switch {
	case err != nil:
		vs.Add("review.period", "format", "the month reviewed, YYYY-MM")
	case !month.Before(now):
		vs.Add("review.period", "range", "a month is reviewed once it has begun")
	}
	checked, findings, followUp := strings.TrimSpace(rv.GetChecked()), strings.TrimSpace(rv.GetFindings()), strings.TrimSpace(rv.GetFollowUp())
	if checked == "" {
		vs.Add("review.checked", "S-8-2", "what was checked")
	}
	if !rv.GetDownloadsChecked() {
		vs.Add("review.downloads_checked", "S-8-2", "the reasons of the month's downloads are always checked")
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
		Period:  month.Format(time.DateOnly) + " ~ " + month.AddDate(0, 1, -1).Format(time.DateOnly),
		Handler: handler, RecordedBy: recordedBy,
		Note: fmt.Sprintf("점검 대상·내용: %s\n다운로드 사유 확인: 예\n점검 결과: %s\n후속 조치: %s", checked, findings, followUp)}, nil
}

// ReviewsOverdue are the months from the one of first to now's whose review is past due (the end of
// the next month, Asia/Seoul) and not in reviewed (S-8-2, monthly).
func ReviewsOverdue(first, now time.Time, reviewed map[string]bool) []string {
	f := first.In(seoul.Location)
	var out []string
	for m := time.Date(f.Year(), f.Month(), 1, 0, 0, 0, 0, seoul.Location); ; m = m.AddDate(0, 1, 0) {
		due := m.AddDate(0, 2, 0) // the instant the next month ends
		if !now.After(due) {
			return out
		}
		if p := m.Format("2006-01"); !reviewed[p] {
			out = append(out, p)
		}
	}
}
