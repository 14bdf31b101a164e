package ledger

import (
	"context"
	"strings"

	"github.com/pipa-kr/pipa/pkg/apierr"
	"github.com/pipa-kr/pipa/pkg/auth"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	"github.com/pipa-kr/pipa/pkg/names"
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

func (r *Reviews) CreateAccessReview(ctx context.Context, req *ledgerv1.CreateAccessReviewRequest) (*ledgerv1.AccessReview, error) {
	t, u, err := names.ParseUnit("parent", req.GetParent())
	if err != nil {
		return nil, err
	}
	if err := r.s.units.Authorize(ctx, t, u, reviewRoles); err != nil {
		return nil, err
	}
	set, err := r.s.store.Settings(ctx, t)
	if err != nil {
		return nil, err
	}
	now := r.s.now()
	p, _ := auth.FromContext(ctx)
	e, vs := entry.Review(req.GetReview(), entry.Cycle(set.ReviewCycleMonths), auth.Officer(ctx), p.Subject, now)
	if err := apierr.Violations(vs).Err(); err != nil {
		return nil, err
	}
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
		set, err := r.s.store.Settings(ctx, t)
		if err != nil {
			return nil, err
		}
		out.OverduePeriods = entry.ReviewsOverdue(first[0].OccurTime, r.s.now(), reviewed, entry.Cycle(set.ReviewCycleMonths))
		out.OverdueCount = int32(len(out.OverduePeriods))
	}
	return out, nil
}
