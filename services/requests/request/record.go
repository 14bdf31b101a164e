package request

import (
	"cmp"
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	requestsv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/requests/v1"
	"github.com/pipa-kr/pipa/pkg/names"
	"github.com/pipa-kr/pipa/pkg/seoul"
)

// What the unit's ledger records of a request. A data subject's request is recorded once its
// requester is verified: a VIEWING entry, the request log of STD-44-5 (열람등 요구 처리). Another
// body's request is recorded when approved: the PROVISION entry (STD-42-1, DEC-15). Each later step
// appends a PROGRESS amendment that follows that entry, and the fulfilment of a deletion its own
// DESTRUCTION (STD-42-2). Leaves hold only fixed labels and coded grounds besides the sealed
// personal fields: what people write on a request stays in the request, which is sealed and can
// be erased (ARCHITECTURE.md "Identity and tenancy"). Intake, and a withdrawal or refusal before
// anything was recorded, append nothing: no personal data was processed yet.

// record is what a step tells the ledger.
type record struct {
	note      string
	refusal   string
	copyGiven string
	// kind opens the request's record (VIEWING, PROVISION) when nothing is recorded yet; a
	// DESTRUCTION is always its own entry. Zero: a PROGRESS amendment, if anything is recorded.
	kind ledgerv1.EntryKind
	// copy: a copy leaves with this PROVISION; the retention service chases it (C-9).
	copy bool
}

// ledgerStep builds the entry of a step, nil when it records nothing (see above); prior is how
// many entries the request had.
func ledgerStep(r *Request, step, officer string, prior int, rr *record, now time.Time) *LedgerEntry {
	if rr == nil || (prior == 0 && rr.kind == 0) {
		return nil
	}
	rule := typeRules[r.Doc.GetType()]
	e := &ledgerv1.Entry{OccurTime: timestamppb.New(now), Handler: officer, Request: r.Doc.GetName(),
		Note: rr.note, RefusalReason: rr.refusal, CopyGiven: rr.copyGiven}
	le := &LedgerEntry{Step: step, Append: &ledgerv1.AppendEntryRequest{Entry: e}}
	if prior > 0 && rr.kind != ledgerv1.EntryKind_ENTRY_KIND_DESTRUCTION {
		e.Kind = ledgerv1.EntryKind_ENTRY_KIND_AMENDMENT
		e.AmendmentKind = ledgerv1.AmendmentKind_AMENDMENT_KIND_PROGRESS
		e.Follows = proto.Int64(0) // the first entry's index, set on delivery
		le.Follows = true
		return le
	}
	e.Kind = rr.kind
	e.FileName = SubjectMatter(r)
	e.LegalBasis = rule.law
	switch rr.kind {
	case ledgerv1.EntryKind_ENTRY_KIND_PROVISION:
		// STD-42-1 and DEC-15: recipient, purpose, basis, items, period, form, safety requests.
		p := r.Doc.GetProvision()
		e.Counterparty = p.GetRequestingBody()
		e.CounterpartyOfficer = strings.TrimSpace(p.GetOfficerTitle() + " " + r.Personal.Requester.GetName())
		e.Purpose = r.Doc.GetPurpose()
		e.LegalBasis = provisionGrounds[p.GetGround()].text + "; " + p.GetLegalBasis()
		e.Items = p.GetItems()
		e.Form = provisionFormLabel[p.GetForm()]
		e.Period = p.GetPeriodStartDate() + " ~ " + p.GetPeriodEndDate()
		e.DestructionDueDate = p.GetDestructionDueDate()
		e.SafetyRequests = r.Doc.GetGrant().GetSafetyRequests()
		le.Copy = rr.copy
	case ledgerv1.EntryKind_ENTRY_KIND_DESTRUCTION:
		e.DestructionMethod = "정보주체의 삭제 요구에 따른 영구삭제(복구 불가, PIPA-36-3)"
	default:
		// STD-44-5: requester, file and content, purpose, official (the refusal reason and any
		// copy are recorded by the steps that follow).
		e.Purpose = rule.label + " 요구 처리"
		e.Counterparty = "정보주체"
		if a := r.Doc.GetAgency(); a != nil {
			e.Counterparty = "대리인 (" + a.GetRelationship() + ")"
		}
		p := r.Personal.Requester
		e.RequesterName = p.GetName()
		e.RequesterContact = cmp.Or(p.GetPhone(), p.GetEmail(), p.GetAddress())
	}
	return le
}

// Key starts the request_ids of what a request hands to other services (which scope them by
// tenant): fixed for the request, so retries are replays, and unique even if receipt numbers were
// ever issued again (its creation time is part of it). At most 39 bytes.
func Key(r *Request) string {
	return fmt.Sprintf("requests/%s/%d", r.Doc.GetReceiptNumber(), r.Doc.GetCreateTime().AsTime().UnixMicro())
}

// SubjectMatter is the 파일명 and content requested (STD-44-5 2).
func SubjectMatter(r *Request) string {
	d := r.Doc
	label := typeRules[d.GetType()].label
	f := d.GetFootage()
	if p := d.GetProvision(); p != nil {
		f = p.GetFootage()
		if f == nil {
			return strings.Join(p.GetItems(), ", ") + " (" + label + ")"
		}
	}
	if f != nil {
		return fmt.Sprintf("%s %s %s %s ~ %s (%s)", names.Last(f.GetSite()),
			f.GetSiteLocation(), f.GetCameraLocation(),
			f.GetStartTime().AsTime().In(seoul.Location).Format("2006-01-02 15:04"),
			f.GetEndTime().AsTime().In(seoul.Location).Format("2006-01-02 15:04"), label)
	}
	if f := d.GetFile(); f != "" {
		return names.Last(f) + " (" + label + ")"
	}
	return label + " " + receiptNote(d)
}

// CopyDescription is how the retention service describes a provision's copy: what was provided,
// and in which form.
func CopyDescription(r *Request) string {
	return SubjectMatter(r) + ", " + provisionFormLabel[r.Doc.GetProvision().GetForm()]
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
