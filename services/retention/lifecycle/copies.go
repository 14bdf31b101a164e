package lifecycle

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pipa-kr/pipa/pkg/apierr"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	retentionv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/retention/v1"
	"github.com/pipa-kr/pipa/pkg/mailaddr"
	"github.com/pipa-kr/pipa/pkg/names"
	"github.com/pipa-kr/pipa/pkg/seoul"
)

// A copy handed to another body (seed 001 별표3: footage to the police, with a destruction due
// date and the reply to chase) is tracked from its PROVISION entry until the recipient reports
// it destroyed or returns it (C-9). Each outcome is an AMENDMENT that follows the PROVISION
// entry; once a quarter the check of public recipients' replies is recorded too.

// NewCopy checks copy c of the tenant's unit against the PROVISION entry it follows (C-9), read
// from the unit's ledger, and fills in what the entry states that c does not: recipient,
// destruction due date, description, request. It returns the copy to store, out.
func NewCopy(ctx context.Context, recs Records, tenant, unit string, c *retentionv1.Copy) (*retentionv1.Copy, error) {
	if c = proto.CloneOf(c); c == nil {
		c = &retentionv1.Copy{}
	}
	var vs apierr.Violations
	if c.GetProvisionIndex() < 0 {
		vs.Add("copy.provision_index", "C-9", "the index of the PROVISION entry that records the copy is required")
		return nil, vs.Err()
	}
	e, err := recs.Entry(ctx, names.Entries.NameN(tenant, unit, c.GetProvisionIndex()))
	switch {
	case apierr.KindOf(err) == apierr.KindNotFound:
		vs.Add("copy.provision_index", "C-9", "no entry %d in this unit's ledger: a copy follows the PROVISION entry that records it", c.GetProvisionIndex())
	case err != nil:
		return nil, err
	case e.GetKind() != ledgerv1.EntryKind_ENTRY_KIND_PROVISION:
		vs.Add("copy.provision_index", "C-9", "entry %d is a %s entry, not a PROVISION", c.GetProvisionIndex(), e.GetKind())
	}
	if err := vs.Err(); err != nil {
		return nil, err
	}
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
	CheckText(&vs, "copy.recipient", c.GetRecipient(), true)
	mailaddr.Check(&vs, "copy.recipient_email", c.GetRecipientEmail())
	CheckText(&vs, "copy.description", c.GetDescription(), false)
	if c.GetDestructionDueDate() == "" {
		vs.Add("copy.destruction_due_date", "C-9", "the date by which the recipient destroys the copy is required (YYYY-MM-DD)")
	} else {
		ParseDate(&vs, "copy.destruction_due_date", c.GetDestructionDueDate(), "C-9")
	}
	if r := c.GetRequest(); r != "" && !names.Requests.In(tenant, unit, r) {
		vs.Add("copy.request", "format", "must be a request of this unit: %s/requests/{receipt}", names.Unit(tenant, unit))
	}
	if err := vs.Err(); err != nil {
		return nil, err
	}
	c.Name, c.Etag, c.CreateTime, c.State, c.Overdue = "", "", nil, retentionv1.CopyState_COPY_STATE_OUT, false
	c.Reminders, c.LastReminderTime, c.Outcomes = 0, nil, nil
	return c, nil
}

// CopyView is a copy as served: overdue when still out after its destruction due date (Asia/Seoul).
func CopyView(c *Copy, now time.Time) *retentionv1.Copy {
	out := c.Doc
	out.Overdue = out.GetState() == retentionv1.CopyState_COPY_STATE_OUT && out.GetDestructionDueDate() < seoul.Date(now)
	return out
}

// OutcomeOf is the outcome in of copy c as official by records it at now (ValidateOutcome checked
// its fields): the AMENDMENT that follows the PROVISION entry with the recipient's notice or
// request (C-9) — DESTRUCTION_REPLY, RETURN (then the DESTRUCTION of the returned copy here), or
// EXTENSION with the new period (STD-42-1 5) — and what it makes of the copy once in the ledger.
// A copy no longer out, or whose last outcome is not yet in the ledger, takes none.
func OutcomeOf(c *Copy, in *retentionv1.CopyOutcome, by string, now time.Time) (*Outcome, error) {
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
	out := &Outcome{Doc: o, Amendment: &ledgerv1.AppendEntryRequest{Entry: e}}
	switch in.GetKind() {
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
}

// Quarter names t's quarter in Asia/Seoul, e.g. "2026-Q4".
func Quarter(t time.Time) string {
	t = t.In(seoul.Location)
	return fmt.Sprintf("%d-Q%d", t.Year(), (int(t.Month())+2)/3)
}

// QuarterlyCheck is the AMENDMENT (PROGRESS) that records, at now, the quarter's check of a copy
// given to a public body still out (C-9: the providing body checks the replies at least
// quarterly and records them in the ledger).
func QuarterlyCheck(c *Copy, now time.Time) *ledgerv1.AppendEntryRequest {
	d := c.Doc
	index := d.GetProvisionIndex()
	note := fmt.Sprintf("C-9 분기 점검(%s): %s의 파기 결과 회신 미접수, 파기 예정일 %s", Quarter(now), d.GetRecipient(), d.GetDestructionDueDate())
	if d.GetDestructionDueDate() < seoul.Date(now) {
		note += " (기한 경과)"
	}
	return &ledgerv1.AppendEntryRequest{Entry: &ledgerv1.Entry{Kind: ledgerv1.EntryKind_ENTRY_KIND_AMENDMENT,
		OccurTime: timestamppb.New(now), Follows: &index, AmendmentKind: ledgerv1.AmendmentKind_AMENDMENT_KIND_PROGRESS,
		Note: note, Request: d.GetRequest()}}
}

// Reminder is a reminder of a copy past its due date, as mailed to its recipient (C-9).
type Reminder struct {
	Tenant, Unit string
	Copy         int64
	// Count numbers the copy's reminders.
	Count                                  int
	DueDate, Recipient, Email, Description string
}

// Subject is the reminder's mail subject.
func (r Reminder) Subject() string {
	return fmt.Sprintf("[파기 결과 회신 요청] 제공받은 개인정보 사본의 파기 기한(%s)이 지났습니다", r.DueDate)
}

// Text is the reminder's mail: what copy, by when it was to be destroyed, and what to send back.
func (r Reminder) Text() string {
	return fmt.Sprintf("%s 담당자께\n\n귀 기관에 제공된 개인정보 사본의 파기 기한이 지났으나 파기 또는 반환 결과를 받지 못하였습니다.\n\n"+
		"제공 내용: %s\n파기 기한: %s\n알림 횟수: %d\n사본 번호: %s\n\n"+
		"사본을 파기하거나 반환하신 뒤 그 결과(파기 일시, 방법, 확인자)를 회신하여 주십시오. 이용 기간의 연장이 필요하면 그 사유를 알려 주십시오.",
		r.Recipient, r.Description, r.DueDate, r.Count, names.Copies.NameN(r.Tenant, r.Unit, r.Copy))
}
