package request

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pipa-kr/pipa/pkg/apierr"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	requestsv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/requests/v1"
	"github.com/pipa-kr/pipa/pkg/seoul"
	"github.com/pipa-kr/pipa/services/ledger/entry"
	"github.com/pipa-kr/pipa/services/requests/clock"
)

// A step of a request changes its state, may issue a notice (별지 제9호·제10호) and says what the
// unit's ledger records of it (API.md: every operation the law says must be recorded appends its
// entry in the same operation; record.go says which entry).

// Step is one of the workflow's steps with what the official sent.
type Step interface {
	// Name is the step as the API's custom method names it, e.g. "approve".
	Name() string
	apply(r *Request, env Env) (*requestsv1.Notice, *record, error)
}

// Env is what a step is decided with, gathered before the request's row is locked.
type Env struct {
	Now time.Time
	// Officer is the official taking the step (auth.Officer).
	Officer string
	Tenant  Tenant
	// Issuer names the unit in the notice a step issues (its display name).
	Issuer string
}

// Outcome is what a step decided besides the request's new state.
type Outcome struct {
	// Notice is the notice it issues, rendered; nil for none.
	Notice *requestsv1.Notice
	// Entry is what the unit's ledger records of it; nil for nothing.
	Entry *LedgerEntry
	// Closed: the request closed, and its record is handed to retention (PIPA-21-1).
	Closed bool
	// Event is the type of the event the step emits; empty for none.
	Event string
	// Issuer names the unit in the notice's mail.
	Issuer string
}

// LedgerEntry is the entry a step appends.
type LedgerEntry struct {
	Step   string
	Append *ledgerv1.AppendEntryRequest
	// Follows: an AMENDMENT that follows the request's first entry, whose index it takes once
	// that entry is in the ledger.
	Follows bool
	// Copy: a PROVISION after which a copy leaves, which the retention service chases (C-9).
	Copy bool
}

// IssuesNotice reports whether a step may issue a notice, so that its issuer is looked up only
// then.
func IssuesNotice(s Step) bool { return noticeSteps[s.Name()] }

// noticeSteps are the steps that may issue a notice.
var noticeSteps = map[string]bool{"approve": true, "partiallyApprove": true, "defer": true, "refuse": true}

// Apply takes step s on r at env: it checks that s may start from r's state (transitions), changes
// r.Doc, and returns the notice it issues and the ledger entry it records, checked against the
// ledger's own rules before anything commits, so that no entry waits in the outbox to be refused.
// A step refused changes nothing.
func Apply(r *Request, s Step, env Env) (Outcome, error) {
	if !slices.Contains(transitions[s.Name()], r.Doc.GetState()) {
		reason, msg := precondition(s.Name(), r.Doc.GetState())
		return Outcome{}, apierr.Precondition(reason, msg)
	}
	next := *r
	next.Doc = proto.CloneOf(r.Doc)
	out, err := apply(&next, s, env)
	if err == nil {
		*r = next
	}
	return out, err
}

func apply(r *Request, s Step, env Env) (Outcome, error) {
	prior := len(r.Doc.GetLedger())
	notice, rr, err := s.apply(r, env)
	if err != nil {
		return Outcome{}, err
	}
	var out Outcome
	if notice != nil {
		notice.Form = typeRules[r.Doc.GetType()].form
		if notice.Reason != nil && notice.Reason.ObjectionMethod == "" {
			notice.Reason.ObjectionMethod = defaultObjection // PIPA-38-5
		}
		if notice.Html, err = renderNotice(r, notice, env.Issuer, env.Now); err != nil {
			return Outcome{}, err
		}
		out.Notice = notice
	}
	if le := ledgerStep(r, s.Name(), env.Officer, prior, rr, env.Now); le != nil {
		if vs := entry.Validate(le.Append.GetEntry(), env.Now); len(vs) > 0 {
			for i := range vs {
				vs[i].Field = "ledger." + vs[i].Field
				vs[i].Description = "the ledger entry of this step would be refused: " + vs[i].Description
			}
			return Outcome{}, apierr.Invalid(vs...)
		}
		out.Entry = le
	}
	out.Closed = r.Doc.GetState() == requestsv1.RequestState_REQUEST_STATE_CLOSED
	out.Event, out.Issuer = stepEvents[s.Name()], env.Issuer
	return out, nil
}

// Due is the deadline a count gives on the tenant's clock. A year the holiday table does not
// cover is the tenant's to add, so it is said plainly.
func Due(t Tenant, count func(*clock.Calendar) (time.Time, error)) (time.Time, error) {
	d, err := count(t.Calendar)
	if errors.Is(err, clock.ErrYearNotCovered) {
		return time.Time{}, apierr.Precondition("HOLIDAYS_NOT_COVERED",
			"the deadline runs into a year without a public-holiday table: add that year's holidays to the tenant (closures, holiday_years)")
	}
	return d, err
}

func setDue(r *requestsv1.Request, due time.Time) {
	if due.IsZero() {
		r.DueTime, r.DueDate = nil, ""
		return
	}
	r.DueTime, r.DueDate = timestamppb.New(due), seoul.Date(due)
}

// checkReason validates a decision's reason: a missing or foreign ground is the kind of invalid
// transition the workflow refuses (FailedPrecondition), other faults are bad input.
func checkReason(t rtype, r *requestsv1.Reason) error {
	var vs apierr.Violations
	validateReason(&vs, t, r)
	for _, v := range vs {
		if v.Field == "reason.grounds" {
			return apierr.Precondition("GROUND_REQUIRED", v.Description, vs...)
		}
	}
	return vs.Err()
}

// Verify records how the requester was verified (DEC-46, STD-44-3, STD-40).
type Verify struct{ Verification *requestsv1.Verification }

func (Verify) Name() string { return "verifyIdentity" }

func (s Verify) apply(r *Request, env Env) (*requestsv1.Notice, *record, error) {
	v := s.Verification
	if err := validateVerification(r.Doc, v).Err(); err != nil {
		return nil, nil, err
	}
	r.Doc.Verification = &requestsv1.Verification{Method: v.GetMethod(), VerifiedBy: env.Officer,
		VerifyTime: timestamppb.New(env.Now), AgencyEvidence: v.GetAgencyEvidence(), Note: v.GetNote()}
	r.Doc.State = requestsv1.RequestState_REQUEST_STATE_VERIFIED
	if r.Doc.GetType() == requestsv1.RequestType_REQUEST_TYPE_THIRD_PARTY_PROVISION {
		return nil, nil, nil // recorded by its PROVISION entry, once approved
	}
	return nil, &record{kind: ledgerv1.EntryKind_ENTRY_KIND_VIEWING, note: "접수 및 본인확인 (" + receiptNote(r.Doc) + ")"}, nil
}

// Approve grants the request (별지 제9호·제10호), or another body's provision (PIPA-18-2).
type Approve struct{ Grant *requestsv1.Grant }

func (Approve) Name() string { return "approve" }

func (s Approve) apply(r *Request, env Env) (*requestsv1.Notice, *record, error) {
	var vs apierr.Violations
	validateGrant(&vs, r.Doc.GetType(), s.Grant)
	if err := vs.Err(); err != nil {
		return nil, nil, err
	}
	r.Doc.State, r.Doc.Grant, r.Doc.Reason = requestsv1.RequestState_REQUEST_STATE_APPROVED, s.Grant, nil
	rr, err := granted(r, env, "결정: 승인")
	return &requestsv1.Notice{Kind: requestsv1.NoticeKind_NOTICE_KIND_APPROVAL, Grant: s.Grant}, rr, err
}

// PartiallyApprove grants part of the request and restricts the rest on coded grounds
// (PIPA-35-4, 36-1, 37-2, STD-44-4).
type PartiallyApprove struct {
	Grant  *requestsv1.Grant
	Reason *requestsv1.Reason
}

func (PartiallyApprove) Name() string { return "partiallyApprove" }

func (s PartiallyApprove) apply(r *Request, env Env) (*requestsv1.Notice, *record, error) {
	if err := checkReason(r.Doc.GetType(), s.Reason); err != nil {
		return nil, nil, err
	}
	var vs apierr.Violations
	validateGrant(&vs, r.Doc.GetType(), s.Grant)
	if err := vs.Err(); err != nil {
		return nil, nil, err
	}
	r.Doc.State, r.Doc.Grant, r.Doc.Reason = requestsv1.RequestState_REQUEST_STATE_APPROVED, s.Grant, s.Reason
	rr, err := granted(r, env, "결정: 일부 승인")
	if rr != nil {
		rr.refusal = groundsText(s.Reason)
	}
	return &requestsv1.Notice{Kind: requestsv1.NoticeKind_NOTICE_KIND_PARTIAL, Grant: s.Grant, Reason: s.Reason}, rr, err
}

// granted is what an approval records: the request log entry (STD-44-5), or for another body's
// request the PROVISION entry (STD-42-1, DEC-15), after which PIPA-18-4 may require publication.
func granted(r *Request, env Env, note string) (*record, error) {
	rr := &record{note: note}
	if r.Doc.GetType() != requestsv1.RequestType_REQUEST_TYPE_THIRD_PARTY_PROVISION {
		return rr, nil
	}
	p := r.Doc.GetProvision()
	var vs apierr.Violations
	if p.GetFootage() != nil {
		checkMasking(&vs, r.Doc.GetGrant().GetMasking()) // STD-46: footage to the police too
	}
	if err := vs.Err(); err != nil {
		return nil, err
	}
	if d := p.GetDestructionDueDate(); d != "" && d < seoul.Date(env.Now) {
		return nil, apierr.Precondition("DESTRUCTION_DATE_PASSED",
			"the copy's destruction due date "+d+" has passed (C-9); take the request again with a later date")
	}
	rr.kind = ledgerv1.EntryKind_ENTRY_KIND_PROVISION
	rr.copy = p.GetForm() != requestsv1.ProvisionForm_PROVISION_FORM_ON_SITE_VIEWING
	if provisionGrounds[p.GetGround()].publish && env.Tenant.Public { // PIPA-18-4 binds public bodies
		due, err := Due(env.Tenant, func(c *clock.Calendar) (time.Time, error) { return c.Publication(env.Now) }) // PIPA-18-4: within 30 days
		if err != nil {
			return nil, err
		}
		r.Doc.PublicationDueDate = seoul.Date(due)
	}
	return rr, nil
}

// Defer puts the decision off on a coded ground (PIPA-35-3, DEC-42-2), or extends an
// automated-decision request (DEC-44-3-5), which names the etag it read.
type Defer struct {
	Reason *requestsv1.Reason
	Etag   string
}

func (Defer) Name() string { return "defer" }

func (s Defer) apply(r *Request, env Env) (*requestsv1.Notice, *record, error) {
	t := r.Doc.GetType()
	if t == requestsv1.RequestType_REQUEST_TYPE_AUTOMATED_DECISION {
		return s.extend(r, env)
	}
	if !typeRules[t].deferrable {
		return nil, nil, apierr.Precondition("NOT_DEFERRABLE", "only access and CCTV access or existence requests may be deferred (PIPA-35-3, DEC-42-2)")
	}
	if err := checkReason(t, s.Reason); err != nil {
		return nil, nil, err
	}
	r.Doc.State, r.Doc.Reason = requestsv1.RequestState_REQUEST_STATE_DEFERRED, s.Reason
	r.Doc.DeferTime = timestamppb.New(env.Now)
	setDue(r.Doc, time.Time{}) // STD-31-1: a new clock starts when the reason ends
	return &requestsv1.Notice{Kind: requestsv1.NoticeKind_NOTICE_KIND_DEFERRAL, Reason: s.Reason},
		&record{note: "결정: 연기 — " + groundsText(s.Reason)}, nil
}

// extend is DEC-44-3-5: an automated-decision request is extended by 30 days, twice at most, with
// notice within the period; the clock keeps running. The etag makes a retried call fail instead
// of extending twice.
func (s Defer) extend(r *Request, env Env) (*requestsv1.Notice, *record, error) {
	t := r.Doc.GetType()
	if s.Etag == "" {
		return nil, nil, apierr.Invalid(apierr.Violation{Field: "etag", Rule: "DEC-44-3-5",
			Description: "an extension names the request's etag, so that a retry cannot extend it twice"})
	}
	if env.Now.After(r.Doc.GetDueTime().AsTime()) {
		return nil, nil, apierr.Precondition("PERIOD_ENDED", "an extension is notified within the period it extends (DEC-44-3-5); this one ended on "+r.Doc.GetDueDate())
	}
	if len(s.Reason.GetGrounds()) > 0 {
		if err := checkReason(t, s.Reason); err != nil {
			return nil, nil, err
		}
	}
	due, err := Due(env.Tenant, func(c *clock.Calendar) (time.Time, error) {
		return c.Extend(r.Doc.GetReceiveTime().AsTime(), int(r.Doc.GetExtensions()))
	})
	if errors.Is(err, clock.ErrExtensionLimit) {
		return nil, nil, apierr.Precondition("EXTENSION_LIMIT", "an automated-decision request is extended twice at most (DEC-44-3-5)")
	} else if err != nil {
		return nil, nil, err
	}
	var vs apierr.Violations
	CheckText(&vs, "reason.text", s.Reason.GetText(), true)
	if err := vs.Err(); err != nil {
		return nil, nil, err
	}
	r.Doc.Extensions++
	setDue(r.Doc, due)
	r.Doc.Reason = s.Reason
	return &requestsv1.Notice{Kind: requestsv1.NoticeKind_NOTICE_KIND_DEFERRAL, Reason: s.Reason},
		&record{note: fmt.Sprintf("처리기간 연장 %d회, 새 기한 %s (DEC-44-3-5)", r.Doc.Extensions, r.Doc.DueDate)}, nil
}

// Resume restarts the clock of a deferred request when its reason ended (STD-31-1).
type Resume struct {
	// ReasonEndDate is the day the reason ended (YYYY-MM-DD, Asia/Seoul); empty: now.
	ReasonEndDate string
}

func (Resume) Name() string { return "resume" }

func (s Resume) apply(r *Request, env Env) (*requestsv1.Notice, *record, error) {
	ended := env.Now
	if d := s.ReasonEndDate; d != "" {
		var vs apierr.Violations
		CheckDate(&vs, "reason_end_date", d, env.Now)
		if err := vs.Err(); err != nil {
			return nil, nil, err
		}
		if d < seoul.Date(r.Doc.GetDeferTime().AsTime()) {
			return nil, nil, apierr.Invalid(apierr.Violation{Field: "reason_end_date", Rule: "STD-31-1",
				Description: "the deferral's reason cannot end before the request was deferred"})
		}
		ended, _ = time.ParseInLocation(time.DateOnly, d, seoul.Location)
	}
	due, err := Due(env.Tenant, func(c *clock.Calendar) (time.Time, error) { return c.Resume(ended) }) // STD-31-1
	if err != nil {
		return nil, nil, err
	}
	r.Doc.State = requestsv1.RequestState_REQUEST_STATE_VERIFIED
	setDue(r.Doc, due)
	return nil, &record{note: "연기 사유 해소 " + seoul.Date(ended) + ", 새 기한 " + r.Doc.DueDate + " (STD-31-1)"}, nil
}

// Refuse refuses the request on coded grounds (PIPA-35-4, 36-1, 37-2, STD-44-4).
type Refuse struct{ Reason *requestsv1.Reason }

func (Refuse) Name() string { return "refuse" }

func (s Refuse) apply(r *Request, _ Env) (*requestsv1.Notice, *record, error) {
	if err := checkReason(r.Doc.GetType(), s.Reason); err != nil {
		return nil, nil, err
	}
	r.Doc.State, r.Doc.Reason, r.Doc.Grant = requestsv1.RequestState_REQUEST_STATE_REFUSED, s.Reason, nil
	return &requestsv1.Notice{Kind: requestsv1.NoticeKind_NOTICE_KIND_REFUSAL, Reason: s.Reason},
		&record{note: "결정: 거절", refusal: groundsText(s.Reason)}, nil
}

// Fulfill records that an approved request was carried out; a deletion's is its DESTRUCTION
// (STD-42-2).
type Fulfill struct{ Note, CopyGiven string }

func (Fulfill) Name() string { return "fulfill" }

func (s Fulfill) apply(r *Request, _ Env) (*requestsv1.Notice, *record, error) {
	var vs apierr.Violations
	CheckText(&vs, "note", s.Note, true)
	CheckText(&vs, "copy_given", s.CopyGiven, false)
	if err := vs.Err(); err != nil {
		return nil, nil, err
	}
	r.Doc.State = requestsv1.RequestState_REQUEST_STATE_FULFILLED
	rr := &record{note: "이행", copyGiven: s.CopyGiven}
	if t := r.Doc.GetType(); t == requestsv1.RequestType_REQUEST_TYPE_DELETION || t == requestsv1.RequestType_REQUEST_TYPE_CCTV_DELETION {
		rr.kind, rr.note = ledgerv1.EntryKind_ENTRY_KIND_DESTRUCTION, "삭제 요구 이행 ("+receiptNote(r.Doc)+")" // STD-42-2
	}
	return nil, rr, nil
}

// Withdraw records the requester's withdrawal.
type Withdraw struct{ Note string }

func (Withdraw) Name() string { return "withdraw" }

func (s Withdraw) apply(r *Request, _ Env) (*requestsv1.Notice, *record, error) {
	var vs apierr.Violations
	CheckText(&vs, "note", s.Note, false)
	if err := vs.Err(); err != nil {
		return nil, nil, err
	}
	r.Doc.State = requestsv1.RequestState_REQUEST_STATE_WITHDRAWN
	setDue(r.Doc, time.Time{})
	return nil, &record{note: "취하"}, nil
}

// Close closes a decided request, only once its decision's notice was issued (PIPA-35-3, DEC-43-3).
type Close struct{}

func (Close) Name() string { return "close" }

func (Close) apply(r *Request, env Env) (*requestsv1.Notice, *record, error) {
	if r.Doc.GetState() != requestsv1.RequestState_REQUEST_STATE_WITHDRAWN && len(r.Doc.GetNotices()) == 0 {
		return nil, nil, apierr.Precondition("NOTICE_REQUIRED", "a request closes only once a decision's notice is issued (PIPA-35-3, DEC-43-3)")
	}
	r.Doc.State, r.Doc.CloseTime = requestsv1.RequestState_REQUEST_STATE_CLOSED, timestamppb.New(env.Now)
	setDue(r.Doc, time.Time{})
	return nil, &record{note: "종결"}, nil
}
