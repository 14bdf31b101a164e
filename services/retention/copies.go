package retention

import (
	"context"
	"fmt"
	"strconv"
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
	"github.com/pipa-kr/pipa/pkg/seoul"
	"github.com/pipa-kr/pipa/pkg/unitauth"
	"github.com/pipa-kr/pipa/services/retention/store/pg"
)

// A copy handed to another body (seed 001 별표3: footage to the police, with a destruction due
// date and the reply to chase) is tracked from its PROVISION entry until the recipient reports
// it destroyed or returns it (C-9). Each outcome is an AMENDMENT that follows the PROVISION
// entry; a daily job records a reminder for every copy past its due date, and a quarterly job
// records the check of public recipients' replies that C-9 asks for.

func (s *Server) CreateCopy(ctx context.Context, req *retentionv1.CreateCopyRequest) (*retentionv1.Copy, error) {
	tenant, unit, err := parseUnit("parent", req.GetParent())
	if err != nil {
		return nil, err
	}
	if err := s.units.Authorize(ctx, tenant, unit, copyRoles); err != nil {
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
	entryName := fmt.Sprintf("%s/ledger/entries/%d", unitName(tenant, unit), c.GetProvisionIndex())
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
	if r := c.GetRequest(); r != "" && !inUnit(r, tenant, unit, "requests") {
		vs.Add("copy.request", "format", "must be a request of this unit: %s/requests/{receipt}", unitName(tenant, unit))
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
	out.Overdue = out.GetState() == retentionv1.CopyState_COPY_STATE_OUT && out.GetDestructionDueDate() < day(now)
	return out
}

func (s *Server) GetCopy(ctx context.Context, req *retentionv1.GetCopyRequest) (*retentionv1.Copy, error) {
	tenant, unit, id, err := s.authorized(ctx, req.GetName(), "copies", readRoles)
	if err != nil {
		return nil, err
	}
	c, err := s.store.GetCopy(ctx, tenant, unit, numID(id))
	if err != nil {
		return nil, err
	}
	return s.copyView(c, s.now()), nil
}

func (s *Server) ListCopies(ctx context.Context, req *retentionv1.ListCopiesRequest) (*retentionv1.ListCopiesResponse, error) {
	tenant, unit, err := parseUnit("parent", req.GetParent())
	if err != nil {
		return nil, err
	}
	if err := s.units.Authorize(ctx, tenant, unit, readRoles); err != nil {
		return nil, err
	}
	var vs apierr.Violations
	if _, ok := pg.CopyFilters[req.GetState()]; !ok {
		vs.Add("state", "format", "one of out, overdue, destroyed, returned (or empty for all)")
	}
	size := pageSize(&vs, req.GetPageSize())
	after := parseIDToken(&vs, "copies", req.GetPageToken())
	if err := vs.Err(); err != nil {
		return nil, err
	}
	now := s.now()
	copies, next, err := s.store.ListCopies(ctx, tenant, unit, req.GetState(), day(now), size, after)
	if err != nil {
		return nil, err
	}
	out := &retentionv1.ListCopiesResponse{NextPageToken: pageToken("copies", strconv.FormatInt(next, 10))}
	for _, c := range copies {
		out.Copies = append(out.Copies, s.copyView(c, now))
	}
	return out, nil
}

func (s *Server) RecordCopyOutcome(ctx context.Context, req *retentionv1.RecordCopyOutcomeRequest) (*retentionv1.Copy, error) {
	tenant, unit, id, err := s.authorized(ctx, req.GetName(), "copies", staffRoles)
	if err != nil {
		return nil, err
	}
	in := req.GetOutcome()
	var vs apierr.Violations
	switch in.GetKind() {
	case retentionv1.OutcomeKind_OUTCOME_KIND_DESTROYED, retentionv1.OutcomeKind_OUTCOME_KIND_RETURNED:
		// C-9: the recipient destroys the copy and reports back; the reply is the evidence.
		if in.GetEvidence() == "" {
			vs.Add("outcome.evidence", "C-9", "the recipient's notice is required, e.g. \"정읍경찰서 형사과-2345, 2026.6.2. 파기 통보\"")
		}
		if in.GetNewDueDate() != "" {
			vs.Add("outcome.new_due_date", "format", "a new due date belongs to an EXTENDED outcome")
		}
	case retentionv1.OutcomeKind_OUTCOME_KIND_EXTENDED:
		if in.GetNewDueDate() == "" {
			vs.Add("outcome.new_due_date", "STD-42-1", "an extension states the new destruction due date (YYYY-MM-DD)")
		} else {
			parseDate(&vs, "outcome.new_due_date", in.GetNewDueDate(), "format")
		}
		if in.GetReason() == "" {
			vs.Add("outcome.reason", "C-9", "an extension states why, e.g. the recipient's request for more time")
		}
	default:
		vs.Add("outcome.kind", "required", "kind is required: DESTROYED, RETURNED or EXTENDED")
	}
	checkText(&vs, "outcome.evidence", in.GetEvidence(), false)
	checkText(&vs, "outcome.reason", in.GetReason(), false)
	if err := vs.Err(); err != nil {
		return nil, err
	}
	now := s.now()
	by := auth.Officer(ctx)
	c, outbox, err := s.store.RecordOutcome(ctx, tenant, unit, numID(id), req.GetEtag(), func(c *pg.Copy) (*retentionv1.CopyOutcome, *ledgerv1.AppendEntryRequest, error) {
		d := c.Doc
		if d.GetState() != retentionv1.CopyState_COPY_STATE_OUT {
			return nil, nil, apierr.Precondition("COPY_NOT_OUT", d.GetName()+" is "+d.GetState().String()+": nothing is left to chase")
		}
		o := &retentionv1.CopyOutcome{Kind: in.GetKind(), Evidence: in.GetEvidence(), NewDueDate: in.GetNewDueDate(),
			Reason: in.GetReason(), RecordTime: timestamppb.New(now), RecordedBy: by}
		index := d.GetProvisionIndex()
		e := &ledgerv1.Entry{Kind: ledgerv1.EntryKind_ENTRY_KIND_AMENDMENT, OccurTime: timestamppb.New(now),
			Follows: &index, Handler: by, Request: d.GetRequest()}
		switch in.GetKind() {
		case retentionv1.OutcomeKind_OUTCOME_KIND_DESTROYED:
			d.State = retentionv1.CopyState_COPY_STATE_DESTROYED
			e.AmendmentKind, e.Note = ledgerv1.AmendmentKind_AMENDMENT_KIND_DESTRUCTION_REPLY, "파기 결과 회신: "+in.GetEvidence()
		case retentionv1.OutcomeKind_OUTCOME_KIND_RETURNED:
			d.State = retentionv1.CopyState_COPY_STATE_RETURNED
			e.AmendmentKind, e.Note = ledgerv1.AmendmentKind_AMENDMENT_KIND_RETURN, "자료 반환 (반환받은 사본은 파기): "+in.GetEvidence()
		case retentionv1.OutcomeKind_OUTCOME_KIND_EXTENDED:
			old := d.GetDestructionDueDate()
			if in.GetNewDueDate() <= old {
				return nil, nil, apierr.Invalid(apierr.Violation{Field: "outcome.new_due_date", Rule: "C-9",
					Description: "must be later than the current destruction due date " + old})
			}
			d.DestructionDueDate = in.GetNewDueDate()
			// STD-42-1 5: the extended period is written in the ledger's 기간.
			e.AmendmentKind, e.Period, e.DestructionDueDate = ledgerv1.AmendmentKind_AMENDMENT_KIND_EXTENSION, old+" ~ "+in.GetNewDueDate(), in.GetNewDueDate()
			e.Note = "기간 연장: 파기 예정일 " + old + " → " + in.GetNewDueDate() + " (" + in.GetReason() + ")"
		}
		return o, &ledgerv1.AppendEntryRequest{Entry: e}, nil
	})
	if err != nil {
		return nil, err
	}
	// Delivered now, so the answer usually carries the entry's index; if the ledger is out, the
	// outbox job delivers it later and the outcome shows index 0 until then.
	if _, err := s.deliver(unitauth.ForwardToken(ctx), tenant, outbox); err != nil {
		s.log.Warn("ledger entry left to the outbox", "copy", c.Doc.GetName(), "err", err)
	} else if c, err = s.store.GetCopy(ctx, tenant, unit, numID(id)); err != nil {
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
	n, err := w.S.store.RemindOverdue(ctx, day(w.S.now()))
	if n > 0 {
		w.S.log.Info("retention: reminders recorded for copies past their destruction date", "copies", n)
	}
	return err
}

// CheckCopiesArgs is the quarterly job that records the check of public recipients' replies (C-9).
type CheckCopiesArgs struct{}

func (CheckCopiesArgs) Kind() string { return "retention.check_copies" }

// CheckCopiesWorker records the quarter's check, at the server's clock.
type CheckCopiesWorker struct {
	river.WorkerDefaults[CheckCopiesArgs]
	S *Server
}

func (w *CheckCopiesWorker) Work(ctx context.Context, _ *river.Job[CheckCopiesArgs]) error {
	now := w.S.now().In(seoul.Location)
	_, err := w.S.store.CheckPublicCopies(ctx, quarter(now), day(now))
	return err
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

// quarterly fires at 09:00 on the first day of each quarter, Asia/Seoul: C-9 asks for the check
// at least quarterly.
type quarterly struct{}

func (quarterly) Next(t time.Time) time.Time {
	l := t.In(seoul.Location)
	first := time.Date(l.Year(), time.Month((int(l.Month())-1)/3*3+1), 1, 9, 0, 0, 0, seoul.Location)
	if !first.After(t) {
		first = first.AddDate(0, 3, 0)
	}
	return first
}
