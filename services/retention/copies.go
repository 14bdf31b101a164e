package retention

import (
	"context"
	"time"

	"github.com/riverqueue/river"

	"github.com/pipa-kr/pipa/pkg/apierr"
	"github.com/pipa-kr/pipa/pkg/auth"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	retentionv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/retention/v1"
	"github.com/pipa-kr/pipa/pkg/names"
	"github.com/pipa-kr/pipa/pkg/seoul"
	"github.com/pipa-kr/pipa/pkg/unitauth"
	"github.com/pipa-kr/pipa/services/retention/lifecycle"
	"github.com/pipa-kr/pipa/services/retention/store/pg"
)

// A copy handed to another body (seed 001 별표3: footage to the police, with a destruction due
// date and the reply to chase) is tracked from its PROVISION entry until the recipient reports
// it destroyed or returns it (C-9). Each outcome is an AMENDMENT that follows the PROVISION
// entry; a daily job records a reminder for every copy past its due date, and another makes, once
// a quarter, the check of public recipients' replies that C-9 asks for.

func (s *Server) CreateCopy(ctx context.Context, req *retentionv1.CreateCopyRequest) (*retentionv1.Copy, error) {
	tenant, unit, err := s.authorizedUnit(ctx, req.GetParent(), copyRoles)
	if err != nil {
		return nil, err
	}
	c, err := lifecycle.NewCopy(unitauth.ForwardToken(ctx), s.lookups, tenant, unit, req.GetCopy())
	if err != nil {
		return nil, err
	}
	key, err := idem(req.GetRequestId(), retentionv1.RetentionService_CreateCopy_FullMethodName, req)
	if err != nil {
		return nil, err
	}
	out, err := s.store.CreateCopy(ctx, tenant, unit, key, c)
	if err != nil {
		return nil, err
	}
	return lifecycle.CopyView(out, s.now()), nil
}

func (s *Server) GetCopy(ctx context.Context, req *retentionv1.GetCopyRequest) (*retentionv1.Copy, error) {
	tenant, unit, id, err := s.authorizedN(ctx, req.GetName(), names.Copies, readRoles)
	if err != nil {
		return nil, err
	}
	c, err := s.store.GetCopy(ctx, tenant, unit, id)
	if err != nil {
		return nil, err
	}
	return lifecycle.CopyView(c, s.now()), nil
}

func (s *Server) ListCopies(ctx context.Context, req *retentionv1.ListCopiesRequest) (*retentionv1.ListCopiesResponse, error) {
	tenant, unit, err := s.authorizedUnit(ctx, req.GetParent(), readRoles)
	if err != nil {
		return nil, err
	}
	var vs apierr.Violations
	if _, ok := pg.CopyFilters[req.GetState()]; !ok {
		vs.Add("state", "format", "one of out, overdue, destroyed, returned (or empty for all)")
	}
	size := names.PageSize(&vs, req.GetPageSize())
	query := names.Query{"retention.copies", req.GetParent(), req.GetState()}
	after, terr := query.ParseN(req.GetPageToken())
	if err := vs.Err(); err != nil {
		return nil, err
	}
	if terr != nil {
		return nil, terr
	}
	now := s.now()
	copies, next, err := s.store.ListCopies(ctx, tenant, unit, req.GetState(), seoul.Date(now), size, after)
	if err != nil {
		return nil, err
	}
	out := &retentionv1.ListCopiesResponse{NextPageToken: query.TokenN(next)}
	for _, c := range copies {
		out.Copies = append(out.Copies, lifecycle.CopyView(c, now))
	}
	return out, nil
}

func (s *Server) RecordCopyOutcome(ctx context.Context, req *retentionv1.RecordCopyOutcomeRequest) (*retentionv1.Copy, error) {
	tenant, unit, id, err := s.authorizedN(ctx, req.GetName(), names.Copies, staffRoles)
	if err != nil {
		return nil, err
	}
	in, now := req.GetOutcome(), s.now()
	var vs apierr.Violations
	lifecycle.ValidateOutcome(&vs, in, now)
	if err := vs.Err(); err != nil {
		return nil, err
	}
	by := auth.Officer(ctx)
	key, err := idem(req.GetRequestId(), retentionv1.RetentionService_RecordCopyOutcome_FullMethodName, req)
	if err != nil {
		return nil, err
	}
	c, outbox, err := s.store.RecordOutcome(ctx, tenant, unit, id, req.GetEtag(), key, func(c *lifecycle.Copy) (*lifecycle.Outcome, error) {
		return lifecycle.OutcomeOf(c, in, by, now)
	})
	if err != nil {
		return nil, err
	}
	// Delivered now, in order, so the answer usually shows the copy changed; if the ledger is out,
	// the outbox jobs deliver them later and the copy stays as it was, outcome_pending, until then.
	// An entry the ledger refuses for good is undone (the copy stays as it was) and reported.
	for _, e := range outbox {
		if err := s.deliver(unitauth.ForwardToken(ctx), tenant, e); isRefused(err) {
			return nil, err
		} else if err != nil {
			s.log.Warn("ledger entry left to the outbox", "copy", c.Doc.GetName(), "err", err)
			return lifecycle.CopyView(c, now), nil
		}
	}
	if c, err = s.store.GetCopy(ctx, tenant, unit, id); err != nil {
		return nil, err
	}
	return lifecycle.CopyView(c, now), nil
}

// RemindCopiesArgs is the daily job that records a reminder for every copy past its due date.
type RemindCopiesArgs struct{}

func (RemindCopiesArgs) Kind() string { return "retention.remind_copies" }

// RemindCopiesWorker records the reminders, at the server's clock.
type RemindCopiesWorker struct {
	river.WorkerDefaults[RemindCopiesArgs]
	S *Server
}

func (w *RemindCopiesWorker) Work(ctx context.Context, _ *river.Job[RemindCopiesArgs]) error {
	n, err := w.S.store.RemindOverdue(ctx, seoul.Date(w.S.now()))
	if n > 0 {
		w.S.log.Info("retention: reminders recorded for copies past their destruction date", "copies", n)
	}
	return err
}

// CheckCopiesArgs is the daily job that makes the quarter's check of public recipients' replies
// (C-9), once a quarter.
type CheckCopiesArgs struct{}

func (CheckCopiesArgs) Kind() string { return "retention.check_copies" }

// CheckCopiesWorker makes the quarter's check at the server's clock: the first run in a quarter
// records, per unit, the copies given to public bodies still out, and appends for each an
// AMENDMENT (PROGRESS) on its PROVISION entry stating the check (C-9: the providing body checks
// the replies at least quarterly and records them in the ledger); later runs in the quarter find
// it done.
type CheckCopiesWorker struct {
	river.WorkerDefaults[CheckCopiesArgs]
	S *Server
}

func (w *CheckCopiesWorker) Work(ctx context.Context, _ *river.Job[CheckCopiesArgs]) error {
	now := w.S.now()
	queued, err := w.S.store.CheckPublicCopies(ctx, lifecycle.Quarter(now), seoul.Date(now), func(c *lifecycle.Copy) *ledgerv1.AppendEntryRequest {
		return lifecycle.QuarterlyCheck(c, now)
	})
	if err != nil {
		return err
	}
	sctx, err := w.S.asService(ctx)
	if err != nil {
		return err
	}
	for _, e := range queued {
		if ctx.Err() != nil { // out of time (jobs.Timeout): the outbox's drain delivers the rest
			break
		}
		if err := w.S.deliver(sctx, e.Tenant, e.ID); err != nil {
			w.S.log.Warn("ledger entry left to the outbox", "tenant", e.Tenant, "outbox", e.ID, "err", err)
		}
	}
	return nil
}

// dailyAt fires every day at the hour, Asia/Seoul.
type dailyAt int

func (h dailyAt) Next(t time.Time) time.Time {
	l := t.In(seoul.Location)
	n := time.Date(l.Year(), l.Month(), l.Day(), int(h), 0, 0, 0, seoul.Location)
	if !n.After(t) {
		n = n.AddDate(0, 0, 1)
	}
	return n
}
