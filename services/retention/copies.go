package retention

import (
	"context"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pipa-kr/pipa/pkg/apierr"
	"github.com/pipa-kr/pipa/pkg/auth"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	retentionv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/retention/v1"
	"github.com/pipa-kr/pipa/pkg/names"
	"github.com/pipa-kr/pipa/pkg/seoul"
	"github.com/pipa-kr/pipa/pkg/unitauth"
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
	c := proto.CloneOf(req.GetCopy())
	if c == nil {
		c = &retentionv1.Copy{}
	}
	var vs apierr.Violations
	if c.GetProvisionIndex() < 0 {
		vs.Add("copy.provision_index", "C-9", "the index of the PROVISION entry that records the copy is required")
		return nil, vs.Err()
	}
	entryName := names.Entries.NameN(tenant, unit, c.GetProvisionIndex())
	e, err := s.ledger.GetEntry(unitauth.ForwardToken(ctx), &ledgerv1.GetEntryRequest{Name: entryName})
	switch {
	case status.Code(err) == codes.NotFound:
		vs.Add("copy.provision_index", "C-9", "no entry %d in this unit's ledger: a copy follows the PROVISION entry that records it", c.GetProvisionIndex())
	case err != nil:
		return nil, err
	case e.GetKind() != ledgerv1.EntryKind_ENTRY_KIND_PROVISION:
		vs.Add("copy.provision_index", "C-9", "entry %d is a %s entry, not a PROVISION", c.GetProvisionIndex(), e.GetKind())
	}
	if err := vs.Err(); err != nil {
		return nil, err
	}
	// What the PROVISION entry states is the default.
	if c.Recipient == "" {
		c.Recipient = e.GetCounterparty()
	}
	if c.DestructionDueDate == "" {
		c.DestructionDueDate = e.GetDestructionDueDate()
	}
	if c.Description == "" {
		c.Description = e.GetFileName()
	}
	if c.Request == "" {
		c.Request = e.GetRequest()
	}
	checkText(&vs, "copy.recipient", c.GetRecipient(), true)
	checkText(&vs, "copy.description", c.GetDescription(), false)
	if c.GetDestructionDueDate() == "" {
		vs.Add("copy.destruction_due_date", "C-9", "the date by which the recipient destroys the copy is required (YYYY-MM-DD)")
	} else {
		parseDate(&vs, "copy.destruction_due_date", c.GetDestructionDueDate(), "C-9")
	}
	if r := c.GetRequest(); r != "" && !names.Requests.In(tenant, unit, r) {
		vs.Add("copy.request", "format", "must be a request of this unit: %s/requests/{receipt}", names.Unit(tenant, unit))
	}
	if err := vs.Err(); err != nil {
		return nil, err
	}
	c.Name, c.Etag, c.CreateTime, c.State, c.Overdue = "", "", nil, retentionv1.CopyState_COPY_STATE_OUT, false
	c.Reminders, c.LastReminderTime, c.Outcomes = 0, nil, nil
	key, err := idem(req.GetRequestId(), retentionv1.RetentionService_CreateCopy_FullMethodName, req)
	if err != nil {
		return nil, err
	}
	out, err := s.store.CreateCopy(ctx, tenant, unit, key, c)
	if err != nil {
		return nil, err
	}
	return s.copyView(out, s.now()), nil
}

// copyView is a copy as served: overdue when still out after its destruction due date (Asia/Seoul).
func (s *Server) copyView(c *pg.Copy, now time.Time) *retentionv1.Copy {
	out := c.Doc
	out.Overdue = out.GetState() == retentionv1.CopyState_COPY_STATE_OUT && out.GetDestructionDueDate() < seoul.Date(now)
	return out
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
	return s.copyView(c, s.now()), nil
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
	size := pageSize(&vs, req.GetPageSize())
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
		out.Copies = append(out.Copies, s.copyView(c, now))
	}
	return out, nil
}

func (s *Server) RecordCopyOutcome(ctx context.Context, req *retentionv1.RecordCopyOutcomeRequest) (*retentionv1.Copy, error) {
	tenant, unit, id, err := s.authorizedN(ctx, req.GetName(), names.Copies, staffRoles)
	if err != nil {
		return nil, err
	}
	in := req.GetOutcome()
	kind, now := in.GetKind(), s.now()
	var vs apierr.Violations
	validateOutcome(&vs, in, now)
	if err := vs.Err(); err != nil {
		return nil, err
	}
	by := auth.Officer(ctx)
	c, outbox, err := s.store.RecordOutcome(ctx, tenant, unit, id, req.GetEtag(), func(c *pg.Copy) (*pg.Outcome, error) {
		d := c.Doc
		if d.GetState() != retentionv1.CopyState_COPY_STATE_OUT {
			return nil, apierr.Precondition("COPY_NOT_OUT", d.GetName()+" is "+d.GetState().String()+": nothing is left to chase")
		}
		if d.GetOutcomePending() {
			return nil, apierr.Precondition("OUTCOME_PENDING", d.GetName()+"'s last outcome is not yet in the ledger; retry once it is")
		}
		o := proto.CloneOf(in)
		o.RecordTime, o.RecordedBy, o.LedgerIndex, o.DestructionLedgerIndex = timestamppb.New(now), by, 0, 0
		index := d.GetProvisionIndex()
		e := &ledgerv1.Entry{Kind: ledgerv1.EntryKind_ENTRY_KIND_AMENDMENT, OccurTime: timestamppb.New(now),
			Follows: &index, Handler: by, Request: d.GetRequest()}
		out := &pg.Outcome{Doc: o, Amendment: &ledgerv1.AppendEntryRequest{Entry: e}}
		switch kind {
		case retentionv1.OutcomeKind_OUTCOME_KIND_DESTROYED:
			out.State = retentionv1.CopyState_COPY_STATE_DESTROYED
			e.AmendmentKind, e.Note = ledgerv1.AmendmentKind_AMENDMENT_KIND_DESTRUCTION_REPLY, "파기 결과 회신: "+in.GetEvidence()
		case retentionv1.OutcomeKind_OUTCOME_KIND_RETURNED:
			out.State = retentionv1.CopyState_COPY_STATE_RETURNED
			e.AmendmentKind, e.Note = ledgerv1.AmendmentKind_AMENDMENT_KIND_RETURN, "자료 반환: "+in.GetEvidence()
			out.Destruction = &ledgerv1.AppendEntryRequest{Entry: &ledgerv1.Entry{Kind: ledgerv1.EntryKind_ENTRY_KIND_DESTRUCTION,
				OccurTime: in.GetDestructionTime(), FileName: d.GetDescription() + " (" + d.GetRecipient() + " 반환 사본)",
				Handler: in.GetDestroyedBy(), Purpose: "제공 사본 반환", DestructionMethod: in.GetDestructionMethod(), Request: d.GetRequest()}}
		case retentionv1.OutcomeKind_OUTCOME_KIND_EXTENDED:
			old := d.GetDestructionDueDate()
			if in.GetNewDueDate() <= old {
				return nil, apierr.Invalid(apierr.Violation{Field: "outcome.new_due_date", Rule: "C-9",
					Description: "must be later than the current destruction due date " + old})
			}
			out.State, out.DueDate = retentionv1.CopyState_COPY_STATE_OUT, in.GetNewDueDate()
			// STD-42-1 5: the extended period is written in the ledger's 기간.
			e.AmendmentKind, e.Period, e.DestructionDueDate = ledgerv1.AmendmentKind_AMENDMENT_KIND_EXTENSION, old+" ~ "+in.GetNewDueDate(), in.GetNewDueDate()
			e.Note = "기간 연장: 파기 예정일 " + old + " → " + in.GetNewDueDate() + " (" + in.GetReason() + "; " + in.GetEvidence() + ")"
		}
		return out, nil
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
			return s.copyView(c, now), nil
		}
	}
	if c, err = s.store.GetCopy(ctx, tenant, unit, id); err != nil {
		return nil, err
	}
	return s.copyView(c, now), nil
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
	q, today := quarter(now.In(seoul.Location)), seoul.Date(now)
	queued, err := w.S.store.CheckPublicCopies(ctx, q, today, func(c *pg.Copy) *ledgerv1.AppendEntryRequest {
		d := c.Doc
		index := d.GetProvisionIndex()
		note := fmt.Sprintf("C-9 분기 점검(%s): %s의 파기 결과 회신 미접수, 파기 예정일 %s", q, d.GetRecipient(), d.GetDestructionDueDate())
		if d.GetDestructionDueDate() < today {
			note += " (기한 경과)"
		}
		return &ledgerv1.AppendEntryRequest{Entry: &ledgerv1.Entry{Kind: ledgerv1.EntryKind_ENTRY_KIND_AMENDMENT,
			OccurTime: timestamppb.New(now), Follows: &index, AmendmentKind: ledgerv1.AmendmentKind_AMENDMENT_KIND_PROGRESS,
			Note: note, Request: d.GetRequest()}}
	})
	if err != nil {
		return err
	}
	sctx, err := w.S.asService(ctx)
	if err != nil {
		return err
	}
	for _, e := range queued {
		if err := w.S.deliver(sctx, e.Tenant, e.ID); err != nil {
			w.S.log.Warn("ledger entry left to the outbox", "tenant", e.Tenant, "outbox", e.ID, "err", err)
		}
	}
	return nil
}

// quarter names t's quarter, e.g. "2026-Q4".
func quarter(t time.Time) string { return fmt.Sprintf("%d-Q%d", t.Year(), (int(t.Month())+2)/3) }

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
