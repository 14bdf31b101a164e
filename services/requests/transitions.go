package requests

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pipa-kr/pipa/pkg/apierr"
	"github.com/pipa-kr/pipa/pkg/auth"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	requestsv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/requests/v1"
	"github.com/pipa-kr/pipa/pkg/seoul"
	"github.com/pipa-kr/pipa/pkg/unitauth"
	"github.com/pipa-kr/pipa/services/ledger/entry"
	"github.com/pipa-kr/pipa/services/requests/clock"
	"github.com/pipa-kr/pipa/services/requests/store/pg"
)

// A step of a request: the state change, the notice it issues and the ledger entry it appends
// (API.md: every operation the law says must be recorded appends its entry in the same operation).
// A data subject's request is recorded once its requester is verified: a VIEWING entry, the
// request log of STD-44-5 (열람등 요구 처리). Another body's request is recorded when approved: the
// PROVISION entry (STD-42-1, DEC-15). Each later step appends a PROGRESS amendment that follows
// that entry, and the fulfilment of a deletion its own DESTRUCTION (STD-42-2). Leaves hold only
// fixed labels and coded grounds besides the sealed personal fields: what people write on a request
// stays in the request, which is sealed and can be erased (ARCHITECTURE.md "Identity and tenancy").
// Intake, and a withdrawal or refusal before anything was recorded, append nothing: no personal
// data was processed yet.

// stepFunc checks a step's input against the request and changes rec.Doc; it returns the notice to
// issue (nil for none) and what to record in the ledger (nil for nothing).
type stepFunc func(rec *pg.Record, now time.Time) (*requestsv1.Notice, *record, error)

// record is what a step tells the ledger.
type record struct {
	note      string
	refusal   string
	copyGiven string
	// kind opens the request's record (VIEWING, PROVISION) when nothing is recorded yet; a
	// DESTRUCTION is always its own entry. Zero: a PROGRESS amendment, if anything is recorded.
	kind ledgerv1.EntryKind
	// trackCopy: a copy leaves with this PROVISION; the retention service chases it (C-9).
	trackCopy bool
}

func (s *Server) step(ctx context.Context, name, etag, step string, fn stepFunc) (*requestsv1.Request, error) {
	tenant, unit, receipt, err := s.authorizeRequest(ctx, name, staffRoles)
	if err != nil {
		return nil, err
	}
	officer := auth.Officer(ctx)
	if _, err := s.calendar(ctx, tenant); err != nil { // fetched before the row is locked
		return nil, err
	}
	var issuer string // the unit that issues the step's notice, asked for only by steps that issue one
	if noticeSteps[step] {
		if u, err := s.registry.GetUnit(unitauth.ForwardToken(ctx), &registryv1.GetUnitRequest{Name: "tenants/" + tenant + "/units/" + unit}); err == nil {
			issuer = u.GetFullName()
		}
	}
	rec, seqs, err := s.store.Transition(ctx, tenant, unit, receipt, etag, func(rec *pg.Record) (*pg.Change, error) {
		if !slices.Contains(transitions[step], rec.Doc.GetState()) {
			reason, msg := precondition(step, rec.Doc.GetState())
			return nil, apierr.Precondition(reason, msg)
		}
		now := s.now()
		prior := len(rec.Doc.GetLedger())
		notice, rr, err := fn(rec, now)
		if err != nil {
			return nil, err
		}
		ch := &pg.Change{}
		if notice != nil {
			notice.Form = typeRules[rec.Doc.GetType()].form
			if notice.Reason != nil && notice.Reason.ObjectionMethod == "" {
				notice.Reason.ObjectionMethod = defaultObjection
			}
			if notice.Html, err = renderNotice(rec, notice, issuer, now); err != nil {
				return nil, err
			}
			ch.Notice = notice
		}
		if st := s.ledgerStep(rec, step, officer, prior, rr, now); st != nil {
			// The ledger's own checks, before anything commits: an entry it would refuse
			// must not wait in the outbox for ever.
			if vs := entry.Validate(st.Entry.GetEntry(), now); len(vs) > 0 {
				for i := range vs {
					vs[i].Field = "ledger." + vs[i].Field
					vs[i].Description = "the ledger entry of this step would be refused: " + vs[i].Description
				}
				return nil, apierr.Invalid(vs...)
			}
			ch.Steps = []pg.Step{*st}
			ch.TrackCopy = rr.trackCopy
		}
		ch.Closed = rec.Doc.GetState() == requestsv1.RequestState_REQUEST_STATE_CLOSED
		return ch, nil
	})
	if err != nil {
		return nil, err
	}
	// Deliver now, so the answer usually carries the entry's index; if the ledger is out, the
	// outbox job delivers it later and the step shows pending.
	for _, seq := range seqs {
		if _, err := s.ledger.Deliver(ctx, tenant, receipt, seq); err != nil {
			s.ledger.log.Warn("ledger entry left to the outbox", "request", rec.Doc.GetName(), "seq", seq, "err", err)
			break
		}
		if rec.Doc.GetCopy() == "" && rec.Doc.GetType() == requestsv1.RequestType_REQUEST_TYPE_THIRD_PARTY_PROVISION &&
			rec.Doc.GetState() == requestsv1.RequestState_REQUEST_STATE_APPROVED && seq == 1 {
			if err := s.ledger.TrackCopy(ctx, tenant, receipt, seq); err != nil && err != errNoCopy {
				s.ledger.log.Warn("copy tracking left to the outbox", "request", rec.Doc.GetName(), "err", err)
			}
		}
	}
	if rec.Doc.GetState() == requestsv1.RequestState_REQUEST_STATE_CLOSED {
		if err := s.ledger.RegisterClosed(ctx, tenant, receipt); err != nil {
			s.ledger.log.Warn("closed request's record left to the outbox for retention", "request", rec.Doc.GetName(), "err", err)
		}
	}
	if len(seqs) > 0 {
		if rec, err = s.store.Get(ctx, tenant, unit, receipt); err != nil {
			return nil, err
		}
	}
	return s.view(rec), nil
}

// noticeSteps are the steps that may issue a notice (별지 제9호·제10호).
var noticeSteps = map[string]bool{"approve": true, "partiallyApprove": true, "defer": true, "refuse": true}

// ledgerStep builds the entry of a step, nil when it records nothing (see above).
func (s *Server) ledgerStep(rec *pg.Record, step, officer string, prior int, rr *record, now time.Time) *pg.Step {
	if rr == nil || (prior == 0 && rr.kind == 0) {
		return nil
	}
	rule := typeRules[rec.Doc.GetType()]
	e := &ledgerv1.Entry{OccurTime: timestamppb.New(now), Handler: officer, Request: rec.Doc.GetName(),
		Note: rr.note, RefusalReason: rr.refusal, CopyGiven: rr.copyGiven}
	parent := "tenants/" + rec.Tenant + "/units/" + rec.Unit
	reqID := fmt.Sprintf("%s/%d", requestKey(rec), prior+1)
	st := &pg.Step{Name: step, Entry: &ledgerv1.AppendEntryRequest{Parent: parent, Entry: e, RequestId: reqID}}
	if prior > 0 && rr.kind != ledgerv1.EntryKind_ENTRY_KIND_DESTRUCTION {
		e.Kind = ledgerv1.EntryKind_ENTRY_KIND_AMENDMENT
		e.AmendmentKind = ledgerv1.AmendmentKind_AMENDMENT_KIND_PROGRESS
		e.Follows = proto.Int64(0) // the first entry's index, set on delivery
		st.Follows = 1
		return st
	}
	e.Kind = rr.kind
	e.FileName = subjectMatter(rec)
	e.LegalBasis = rule.law
	switch rr.kind {
	case ledgerv1.EntryKind_ENTRY_KIND_PROVISION:
		// STD-42-1 and DEC-15: recipient, purpose, basis, items, period, form, safety requests.
		p := rec.Doc.GetProvision()
		e.Counterparty = p.GetRequestingBody()
		e.CounterpartyOfficer = strings.TrimSpace(p.GetOfficerTitle() + " " + rec.Personal.Requester.GetName())
		e.Purpose = rec.Doc.GetPurpose()
		e.LegalBasis = provisionGrounds[p.GetGround()].text + "; " + p.GetLegalBasis()
		e.Items = p.GetItems()
		e.Form = provisionFormLabel[p.GetForm()]
		e.Period = p.GetPeriodStartDate() + " ~ " + p.GetPeriodEndDate()
		e.DestructionDueDate = p.GetDestructionDueDate()
		e.SafetyRequests = rec.Doc.GetGrant().GetSafetyRequests()
	case ledgerv1.EntryKind_ENTRY_KIND_DESTRUCTION:
		e.DestructionMethod = "정보주체의 삭제 요구에 따른 영구삭제(복구 불가, PIPA-36-3)"
	default:
		// STD-44-5: requester, file and content, purpose, official (the refusal reason and any
		// copy are recorded by the steps that follow).
		e.Purpose = rule.label + " 요구 처리"
		e.Counterparty = "정보주체"
		if a := rec.Doc.GetAgency(); a != nil {
			e.Counterparty = "대리인 (" + a.GetRelationship() + ")"
		}
		p := rec.Personal.Requester
		e.RequesterName = p.GetName()
		e.RequesterContact = cmp.Or(p.GetPhone(), p.GetEmail(), p.GetAddress())
	}
	return st
}

// requestKey starts the request_ids of what a request sends to other services (which scope them
// by tenant): fixed for the request, so retries are replays, and unique even if receipt numbers
// were ever issued again (its creation time is part of it). At most 39 bytes.
func requestKey(rec *pg.Record) string {
	return fmt.Sprintf("requests/%s/%d", rec.Doc.GetReceiptNumber(), rec.Doc.GetCreateTime().AsTime().UnixMicro())
}

// subjectMatter is the 파일명 and content requested (STD-44-5 2).
func subjectMatter(rec *pg.Record) string {
	r := rec.Doc
	label := typeRules[r.GetType()].label
	f := r.GetFootage()
	if p := r.GetProvision(); p != nil {
		f = p.GetFootage()
		if f == nil {
			return strings.Join(p.GetItems(), ", ") + " (" + label + ")"
		}
	}
	if f != nil {
		return fmt.Sprintf("%s %s %s %s ~ %s (%s)", f.GetSite()[strings.LastIndex(f.GetSite(), "/")+1:],
			f.GetSiteLocation(), f.GetCameraLocation(),
			f.GetStartTime().AsTime().In(seoul.Location).Format("2006-01-02 15:04"),
			f.GetEndTime().AsTime().In(seoul.Location).Format("2006-01-02 15:04"), label)
	}
	if f := r.GetFile(); f != "" {
		return f[strings.LastIndex(f, "/")+1:] + " (" + label + ")"
	}
	return label + " " + receiptNote(r)
}

func receiptNote(r *requestsv1.Request) string { return "접수번호 " + r.GetReceiptNumber() }

// groundsText are a decision's coded grounds as the law words them: what the ledger records of a
// reason (the officer's own words stay in the sealed request and its notice).
func groundsText(r *requestsv1.Reason) string {
	var parts []string
	for _, g := range r.GetGrounds() {
		parts = append(parts, groundText[g])
	}
	return strings.Join(parts, "; ")
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

func (s *Server) VerifyIdentity(ctx context.Context, req *requestsv1.VerifyIdentityRequest) (*requestsv1.Request, error) {
	return s.step(ctx, req.GetName(), req.GetEtag(), "verifyIdentity", func(rec *pg.Record, now time.Time) (*requestsv1.Notice, *record, error) {
		v := req.GetVerification()
		if err := validateVerification(rec.Doc, v).Err(); err != nil {
			return nil, nil, err
		}
		rec.Doc.Verification = &requestsv1.Verification{Method: v.GetMethod(), VerifiedBy: auth.Officer(ctx),
			VerifyTime: timestamppb.New(now), AgencyEvidence: v.GetAgencyEvidence(), Note: v.GetNote()}
		rec.Doc.State = requestsv1.RequestState_REQUEST_STATE_VERIFIED
		if rec.Doc.GetType() == requestsv1.RequestType_REQUEST_TYPE_THIRD_PARTY_PROVISION {
			return nil, nil, nil // recorded by its PROVISION entry, once approved
		}
		return nil, &record{kind: ledgerv1.EntryKind_ENTRY_KIND_VIEWING, note: "접수 및 본인확인 (" + receiptNote(rec.Doc) + ")"}, nil
	})
}

func (s *Server) ApproveRequest(ctx context.Context, req *requestsv1.ApproveRequestRequest) (*requestsv1.Request, error) {
	return s.step(ctx, req.GetName(), req.GetEtag(), "approve", func(rec *pg.Record, now time.Time) (*requestsv1.Notice, *record, error) {
		var vs apierr.Violations
		validateGrant(&vs, rec.Doc.GetType(), req.GetGrant())
		if err := vs.Err(); err != nil {
			return nil, nil, err
		}
		rec.Doc.State, rec.Doc.Grant, rec.Doc.Reason = requestsv1.RequestState_REQUEST_STATE_APPROVED, req.GetGrant(), nil
		rr, err := s.granted(ctx, rec, now, "결정: 승인")
		return &requestsv1.Notice{Kind: requestsv1.NoticeKind_NOTICE_KIND_APPROVAL, Grant: req.GetGrant()}, rr, err
	})
}

func (s *Server) PartiallyApproveRequest(ctx context.Context, req *requestsv1.PartiallyApproveRequestRequest) (*requestsv1.Request, error) {
	return s.step(ctx, req.GetName(), req.GetEtag(), "partiallyApprove", func(rec *pg.Record, now time.Time) (*requestsv1.Notice, *record, error) {
		if err := checkReason(rec.Doc.GetType(), req.GetReason()); err != nil {
			return nil, nil, err
		}
		var vs apierr.Violations
		validateGrant(&vs, rec.Doc.GetType(), req.GetGrant())
		if err := vs.Err(); err != nil {
			return nil, nil, err
		}
		rec.Doc.State, rec.Doc.Grant, rec.Doc.Reason = requestsv1.RequestState_REQUEST_STATE_APPROVED, req.GetGrant(), req.GetReason()
		rr, err := s.granted(ctx, rec, now, "결정: 일부 승인")
		if rr != nil {
			rr.refusal = groundsText(req.GetReason())
		}
		return &requestsv1.Notice{Kind: requestsv1.NoticeKind_NOTICE_KIND_PARTIAL, Grant: req.GetGrant(), Reason: req.GetReason()}, rr, err
	})
}

// granted is what an approval records: the request log entry (STD-44-5), or for another body's
// request the PROVISION entry (STD-42-1, DEC-15), after which PIPA-18-4 may require publication.
func (s *Server) granted(ctx context.Context, rec *pg.Record, now time.Time, note string) (*record, error) {
	rr := &record{note: note}
	if rec.Doc.GetType() != requestsv1.RequestType_REQUEST_TYPE_THIRD_PARTY_PROVISION {
		return rr, nil
	}
	p := rec.Doc.GetProvision()
	var vs apierr.Violations
	if p.GetFootage() != nil {
		checkMasking(&vs, rec.Doc.GetGrant().GetMasking()) // STD-46: footage to the police too
	}
	if err := vs.Err(); err != nil {
		return nil, err
	}
	if d := p.GetDestructionDueDate(); d != "" && d < seoul.Date(now) {
		return nil, apierr.Precondition("DESTRUCTION_DATE_PASSED",
			"the copy's destruction due date "+d+" has passed (C-9); take the request again with a later date")
	}
	rr.kind = ledgerv1.EntryKind_ENTRY_KIND_PROVISION
	rr.trackCopy = p.GetForm() != requestsv1.ProvisionForm_PROVISION_FORM_ON_SITE_VIEWING
	t, err := s.tenant(ctx, rec.Tenant) // cached by step before the row was locked
	if err != nil {
		return nil, err
	}
	if provisionGrounds[rec.Doc.GetProvision().GetGround()].publish && t.public { // PIPA-18-4 binds public bodies
		due, err := s.due(ctx, rec.Tenant, func(c *clock.Calendar) (time.Time, error) { return c.Publication(now) }) // PIPA-18-4: within 30 days
		if err != nil {
			return nil, err
		}
		rec.Doc.PublicationDueDate = seoul.Date(due)
	}
	return rr, nil
}

func (s *Server) DeferRequest(ctx context.Context, req *requestsv1.DeferRequestRequest) (*requestsv1.Request, error) {
	return s.step(ctx, req.GetName(), req.GetEtag(), "defer", func(rec *pg.Record, now time.Time) (*requestsv1.Notice, *record, error) {
		t := rec.Doc.GetType()
		if t == requestsv1.RequestType_REQUEST_TYPE_AUTOMATED_DECISION {
			// DEC-44-3-5: extended by 30 days, twice at most, with notice within the period; the
			// clock keeps running. The etag makes a retried call fail instead of extending twice.
			if req.GetEtag() == "" {
				return nil, nil, apierr.Invalid(apierr.Violation{Field: "etag", Rule: "DEC-44-3-5",
					Description: "an extension names the request's etag, so that a retry cannot extend it twice"})
			}
			if now.After(rec.Doc.GetDueTime().AsTime()) {
				return nil, nil, apierr.Precondition("PERIOD_ENDED", "an extension is notified within the period it extends (DEC-44-3-5); this one ended on "+rec.Doc.GetDueDate())
			}
			if len(req.GetReason().GetGrounds()) > 0 {
				if err := checkReason(t, req.GetReason()); err != nil {
					return nil, nil, err
				}
			}
			due, err := s.due(ctx, rec.Tenant, func(c *clock.Calendar) (time.Time, error) {
				return c.Extend(rec.Doc.GetReceiveTime().AsTime(), int(rec.Doc.GetExtensions()))
			})
			if errors.Is(err, clock.ErrExtensionLimit) {
				return nil, nil, apierr.Precondition("EXTENSION_LIMIT", "an automated-decision request is extended twice at most (DEC-44-3-5)")
			} else if err != nil {
				return nil, nil, err
			}
			var vs apierr.Violations
			checkText(&vs, "reason.text", req.GetReason().GetText(), true)
			if err := vs.Err(); err != nil {
				return nil, nil, err
			}
			rec.Doc.Extensions++
			setDue(rec.Doc, due)
			rec.Doc.Reason = req.GetReason()
			return &requestsv1.Notice{Kind: requestsv1.NoticeKind_NOTICE_KIND_DEFERRAL, Reason: req.GetReason()},
				&record{note: fmt.Sprintf("처리기간 연장 %d회, 새 기한 %s (DEC-44-3-5)", rec.Doc.Extensions, rec.Doc.DueDate)}, nil
		}
		if !typeRules[t].deferrable {
			return nil, nil, apierr.Precondition("NOT_DEFERRABLE", "only access and CCTV access or existence requests may be deferred (PIPA-35-3, DEC-42-2)")
		}
		if err := checkReason(t, req.GetReason()); err != nil {
			return nil, nil, err
		}
		rec.Doc.State, rec.Doc.Reason = requestsv1.RequestState_REQUEST_STATE_DEFERRED, req.GetReason()
		rec.Doc.DeferTime = timestamppb.New(now)
		setDue(rec.Doc, time.Time{}) // STD-31-1: a new clock starts when the reason ends
		return &requestsv1.Notice{Kind: requestsv1.NoticeKind_NOTICE_KIND_DEFERRAL, Reason: req.GetReason()},
			&record{note: "결정: 연기 — " + groundsText(req.GetReason())}, nil
	})
}

func (s *Server) ResumeRequest(ctx context.Context, req *requestsv1.ResumeRequestRequest) (*requestsv1.Request, error) {
	return s.step(ctx, req.GetName(), req.GetEtag(), "resume", func(rec *pg.Record, now time.Time) (*requestsv1.Notice, *record, error) {
		ended := now
		if d := req.GetReasonEndDate(); d != "" {
			var vs apierr.Violations
			checkDate(&vs, "reason_end_date", d, now)
			if err := vs.Err(); err != nil {
				return nil, nil, err
			}
			if d < seoul.Date(rec.Doc.GetDeferTime().AsTime()) {
				return nil, nil, apierr.Invalid(apierr.Violation{Field: "reason_end_date", Rule: "STD-31-1",
					Description: "the deferral's reason cannot end before the request was deferred"})
			}
			ended, _ = time.ParseInLocation(time.DateOnly, d, seoul.Location)
		}
		due, err := s.due(ctx, rec.Tenant, func(c *clock.Calendar) (time.Time, error) { return c.Resume(ended) }) // STD-31-1
		if err != nil {
			return nil, nil, err
		}
		rec.Doc.State = requestsv1.RequestState_REQUEST_STATE_VERIFIED
		setDue(rec.Doc, due)
		return nil, &record{note: "연기 사유 해소 " + seoul.Date(ended) + ", 새 기한 " + rec.Doc.DueDate + " (STD-31-1)"}, nil
	})
}

func (s *Server) RefuseRequest(ctx context.Context, req *requestsv1.RefuseRequestRequest) (*requestsv1.Request, error) {
	return s.step(ctx, req.GetName(), req.GetEtag(), "refuse", func(rec *pg.Record, now time.Time) (*requestsv1.Notice, *record, error) {
		if err := checkReason(rec.Doc.GetType(), req.GetReason()); err != nil {
			return nil, nil, err
		}
		rec.Doc.State, rec.Doc.Reason, rec.Doc.Grant = requestsv1.RequestState_REQUEST_STATE_REFUSED, req.GetReason(), nil
		return &requestsv1.Notice{Kind: requestsv1.NoticeKind_NOTICE_KIND_REFUSAL, Reason: req.GetReason()},
			&record{note: "결정: 거절", refusal: groundsText(req.GetReason())}, nil
	})
}

func (s *Server) FulfillRequest(ctx context.Context, req *requestsv1.FulfillRequestRequest) (*requestsv1.Request, error) {
	return s.step(ctx, req.GetName(), req.GetEtag(), "fulfill", func(rec *pg.Record, now time.Time) (*requestsv1.Notice, *record, error) {
		var vs apierr.Violations
		checkText(&vs, "note", req.GetNote(), true)
		checkText(&vs, "copy_given", req.GetCopyGiven(), false)
		if err := vs.Err(); err != nil {
			return nil, nil, err
		}
		rec.Doc.State = requestsv1.RequestState_REQUEST_STATE_FULFILLED
		rr := &record{note: "이행", copyGiven: req.GetCopyGiven()}
		if t := rec.Doc.GetType(); t == requestsv1.RequestType_REQUEST_TYPE_DELETION || t == requestsv1.RequestType_REQUEST_TYPE_CCTV_DELETION {
			rr.kind, rr.note = ledgerv1.EntryKind_ENTRY_KIND_DESTRUCTION, "삭제 요구 이행 ("+receiptNote(rec.Doc)+")" // STD-42-2
		}
		return nil, rr, nil
	})
}

func (s *Server) WithdrawRequest(ctx context.Context, req *requestsv1.WithdrawRequestRequest) (*requestsv1.Request, error) {
	return s.step(ctx, req.GetName(), req.GetEtag(), "withdraw", func(rec *pg.Record, now time.Time) (*requestsv1.Notice, *record, error) {
		var vs apierr.Violations
		checkText(&vs, "note", req.GetNote(), false)
		if err := vs.Err(); err != nil {
			return nil, nil, err
		}
		rec.Doc.State = requestsv1.RequestState_REQUEST_STATE_WITHDRAWN
		setDue(rec.Doc, time.Time{})
		return nil, &record{note: "취하"}, nil
	})
}

func (s *Server) CloseRequest(ctx context.Context, req *requestsv1.CloseRequestRequest) (*requestsv1.Request, error) {
	return s.step(ctx, req.GetName(), req.GetEtag(), "close", func(rec *pg.Record, now time.Time) (*requestsv1.Notice, *record, error) {
		if rec.Doc.GetState() != requestsv1.RequestState_REQUEST_STATE_WITHDRAWN && len(rec.Doc.GetNotices()) == 0 {
			return nil, nil, apierr.Precondition("NOTICE_REQUIRED", "a request closes only once a decision's notice is issued (PIPA-35-3, DEC-43-3)")
		}
		rec.Doc.State, rec.Doc.CloseTime = requestsv1.RequestState_REQUEST_STATE_CLOSED, timestamppb.New(now)
		setDue(rec.Doc, time.Time{})
		return nil, &record{note: "종결"}, nil
	})
}
