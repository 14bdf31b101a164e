package ledger

import (
	"context"
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pipa-kr/pipa/pkg/apierr"
	"github.com/pipa-kr/pipa/pkg/auth"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	"github.com/pipa-kr/pipa/pkg/names"
	"github.com/pipa-kr/pipa/pkg/seoul"
	"github.com/pipa-kr/pipa/services/ledger/entry"
	"github.com/pipa-kr/pipa/services/ledger/store/pg"
)

// Reviews implements pipa.ledger.v1.AccessReviewService: a review is an ACCESS_REVIEW entry of
// the unit's log, so that the reviews are as tamper-evident as the log they review (S-8-3), and
// the list reads them back from the log.
type Reviews struct {
	ledgerv1.UnimplementedAccessReviewServiceServer
	s *Server
}

// Reviews is the access-log review service beside s.
func (s *Server) Reviews() *Reviews { return &Reviews{s: s} }

// reviewRoles may record a review: the officers who inspect the access log (S-8-2).
var reviewRoles = []auth.Role{auth.RoleCPO, auth.RoleManager, auth.RoleTenantAdmin}

const reviewPurpose = "접속기록 점검 (S-8-2)"

func (r *Reviews) CreateAccessReview(ctx context.Context, req *ledgerv1.CreateAccessReviewRequest) (*ledgerv1.AccessReview, error) {
	t, u, err := names.ParseUnit("parent", req.GetParent())
	if err != nil {
		return nil, err
	}
	if err := r.s.units.Authorize(ctx, t, u, reviewRoles); err != nil {
		return nil, err
	}
	now := r.s.now()
	rv := req.GetReview()
	var vs apierr.Violations
	month, err := time.ParseInLocation("2006-01", rv.GetPeriod(), seoul.Location)
	switch {
	case err != nil:
		vs.Add("review.period", "format", "the month reviewed, YYYY-MM")
	case !month.Before(now):
		vs.Add("review.period", "range", "a month is reviewed once it has begun")
	}
	if strings.TrimSpace(rv.GetChecked()) == "" {
		vs.Add("review.checked", "S-8-2", "what was checked")
	}
	if !rv.GetDownloadsChecked() {
		vs.Add("review.downloads_checked", "S-8-2", "the reasons of the month's downloads are always checked")
	}
	if strings.TrimSpace(rv.GetFindings()) == "" {
		vs.Add("review.findings", "S-8-2", "what was found (or \"이상 없음\")")
	}
	if strings.TrimSpace(rv.GetFollowUp()) == "" {
		vs.Add("review.follow_up", "S-8-2", "the follow-up (or \"없음\")")
	}
	if err := vs.Err(); err != nil {
		return nil, err
	}
	text := fmt.Sprintf("점검 대상·내용: %s\n다운로드 사유 확인: 예\n점검 결과: %s\n후속 조치: %s",
		strings.TrimSpace(rv.GetChecked()), strings.TrimSpace(rv.GetFindings()), strings.TrimSpace(rv.GetFollowUp()))
	p, _ := auth.FromContext(ctx)
	e := &ledgerv1.Entry{Kind: ledgerv1.EntryKind_ENTRY_KIND_ACCESS_REVIEW, OccurTime: timestamppb.New(now), Purpose: reviewPurpose,
		Period:  month.Format(time.DateOnly) + " ~ " + month.AddDate(0, 1, -1).Format(time.DateOnly),
		Handler: auth.Officer(ctx), Note: text, RecordedBy: p.Subject}
	if err := apierr.Violations(entry.Validate(e, now)).Err(); err != nil {
		return nil, err
	}
	// The request_id's hash is the call's, not the entry's: a retry's entry differs in its time.
	got, err := r.s.append(ctx, t, u, e, req, appendOpts{})
	if err != nil {
		return nil, err
	}
	return review(got), nil
}

// review is the AccessReview an ACCESS_REVIEW entry states.
func review(e *ledgerv1.Entry) *ledgerv1.AccessReview {
	period, _, _ := strings.Cut(e.GetPeriod(), " ~ ")
	return &ledgerv1.AccessReview{Name: e.GetName(), Period: period[:min(7, len(period))],
		Reviewer: e.GetHandler(), ReviewTime: e.GetOccurTime(), Text: e.GetNote(), DownloadsChecked: true}
}

func (r *Reviews) ListAccessReviews(ctx context.Context, req *ledgerv1.ListAccessReviewsRequest) (*ledgerv1.ListAccessReviewsResponse, error) {
	t, u, err := names.ParseUnit("parent", req.GetParent())
	if err != nil {
		return nil, err
	}
	if err := r.s.units.Authorize(ctx, t, u, readRoles); err != nil {
		return nil, err
	}
	out := &ledgerv1.ListAccessReviewsResponse{}
	reviewed := map[string]bool{}
	for after := int64(-1); ; {
		rows, err := r.s.store.Entries(ctx, t, u, pg.Filter{Kind: entry.KindName(ledgerv1.EntryKind_ENTRY_KIND_ACCESS_REVIEW)}, after, pg.MaxEntries)
		if err != nil {
			return nil, err
		}
		for _, row := range rows {
			e, err := r.s.entry(t, u, row)
			if err != nil {
				return nil, err
			}
			rv := review(e)
			reviewed[rv.GetPeriod()] = true
			out.Reviews = append(out.Reviews, rv)
			after = row.Index
		}
		if len(rows) < pg.MaxEntries {
			break
		}
	}
	first, err := r.s.store.Entries(ctx, t, u, pg.Filter{Kind: entry.KindName(ledgerv1.EntryKind_ENTRY_KIND_ACCESS)}, -1, 1)
	if err != nil {
		return nil, err
	}
	if len(first) == 1 {
		out.OverduePeriods = Overdue(first[0].OccurTime, r.s.now(), reviewed)
		out.OverdueCount = int32(len(out.OverduePeriods))
	}
	return out, nil
}

// Overdue are the months from the one of first to now's whose review is past due (the end of
// the next month, Asia/Seoul) and not in reviewed (S-8-2, monthly).
func Overdue(first, now time.Time, reviewed map[string]bool) []string {
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
