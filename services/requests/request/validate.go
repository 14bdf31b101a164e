package request

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pipa-kr/pipa/pkg/apierr"
	requestsv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/requests/v1"
	"github.com/pipa-kr/pipa/pkg/mailaddr"
	"github.com/pipa-kr/pipa/pkg/outbound/sms"
	"github.com/pipa-kr/pipa/pkg/seoul"
)

// Field validation of what requesters and officers send. Every rule names its field and, where
// the Act sets it, its LAW.md id.

var (
	phonePattern = regexp.MustCompile(`^[0-9+][0-9 ()~-]{5,24}$`)
)

// Text limits, in bytes: free text, and the shorter fields that ledger entries are built from
// (the ledger takes at most 4,000 bytes a field, labels included).
const (
	maxText  = 4000
	maxLine  = 200
	maxShort = 1000
)

func CheckText(vs *apierr.Violations, field, v string, required bool) {
	checkTextN(vs, field, v, required, maxText)
}

func checkTextN(vs *apierr.Violations, field, v string, required bool, max int) {
	switch {
	case required && strings.TrimSpace(v) == "":
		vs.Add(field, "required", "must not be empty")
	case len(v) > max:
		vs.Add(field, "range", "must be at most %d bytes", max)
	case !utf8.ValidString(v):
		vs.Add(field, "format", "must be UTF-8 text")
	}
}

// under14 reports whether someone born on birth (YYYY-MM-DD) is under 14 on now's day in Seoul.
func under14(birth string, now time.Time) bool {
	b, err := time.Parse(time.DateOnly, birth)
	return err == nil && b.AddDate(14, 0, 0).Format(time.DateOnly) > seoul.Date(now)
}

// checkDate checks a date a person wrote (YYYY-MM-DD, a day in Asia/Seoul) that must not lie
// after now's day there.
func CheckDate(vs *apierr.Violations, field, v string, now time.Time) {
	if v == "" {
		return
	}
	if _, err := time.Parse(time.DateOnly, v); err != nil {
		vs.Add(field, "format", "must be a date YYYY-MM-DD (got %q)", v)
	} else if v > seoul.Date(now) {
		vs.Add(field, "range", "must not be in the future")
	}
}

// checkTime refuses a timestamp out of protobuf's range, which would otherwise fail deep inside.
func CheckTime(vs *apierr.Violations, field string, t interface{ CheckValid() error }) bool {
	if err := t.CheckValid(); err != nil {
		vs.Add(field, "format", "not a valid time: %v", err)
		return false
	}
	return true
}

func checkPerson(vs *apierr.Violations, field string, p *requestsv1.Person, now time.Time) {
	CheckText(vs, field+".name", p.GetName(), true)
	if p.GetPhone() != "" && !phonePattern.MatchString(p.GetPhone()) {
		vs.Add(field+".phone", "format", "must be a phone number such as 063-539-5049")
	}
	mailaddr.Check(vs, field+".email", p.GetEmail())
	CheckDate(vs, field+".birth_date", p.GetBirthDate(), now)
	CheckText(vs, field+".address", p.GetAddress(), false)
}

// validateIntake checks a new request as the statutory forms ask for it (별지 제8호, 제2호, 제11호).
// Site facts (PIPA-58-2) are checked by the server, which asks the registry.
func validateIntake(r *requestsv1.Request, now time.Time) apierr.Violations {
	var vs apierr.Violations
	rule, ok := typeRules[r.GetType()]
	if !ok {
		vs.Add("request.type", "required", "type is required: ACCESS, CORRECTION, DELETION, SUSPENSION, AUTOMATED_DECISION, CCTV_ACCESS, CCTV_EXISTENCE or CCTV_DELETION")
		return vs
	}
	if r.GetType() == requestsv1.RequestType_REQUEST_TYPE_THIRD_PARTY_PROVISION {
		return validateProvision(r, now)
	}
	if r.GetProvision() != nil {
		vs.Add("request.provision", "PIPA-18-2", "provision belongs to THIRD_PARTY_PROVISION requests (CreateProvision)")
	}
	checkPerson(&vs, "request.requester", r.GetRequester(), now)
	if p := r.GetRequester(); p.GetPhone() == "" && p.GetEmail() == "" && p.GetAddress() == "" {
		vs.Add("request.requester", "PIPA-35-3", "a phone number, e-mail or address is required to send the notice to")
	}
	checkNoticeMethod(&vs, r)
	a := r.GetAgency()
	switch {
	case r.GetSubject() != nil && a == nil:
		vs.Add("request.agency", "PIPA-38-1", "a request for someone else is made by a legal representative or a proxy: give agency")
	case a != nil && r.GetSubject() == nil:
		vs.Add("request.subject", "PIPA-38-1", "an agent's request names the data subject (정보주체)")
	}
	if r.GetSubject() != nil {
		checkPerson(&vs, "request.subject", r.GetSubject(), now)
	}
	// PIPA-38-2: a child under 14 acts through the legal representative, by the flag or by the
	// birth date given.
	child := r.GetSubjectUnder_14() || under14(r.GetSubject().GetBirthDate(), now)
	switch {
	case r.GetSubject() == nil && under14(r.GetRequester().GetBirthDate(), now):
		vs.Add("request.requester.birth_date", "PIPA-38-2", "a child under 14 makes a request through the legal representative (법정대리인), who files it naming the child as the data subject")
	case child && a.GetKind() != requestsv1.AgentKind_AGENT_KIND_LEGAL_REPRESENTATIVE:
		vs.Add("request.agency.kind", "PIPA-38-2", "a request for a child under 14 is made by the child's legal representative (법정대리인)")
	case r.GetSubjectUnder_14() && r.GetSubject().GetBirthDate() != "" && !under14(r.GetSubject().GetBirthDate(), now):
		vs.Add("request.subject_under_14", "PIPA-38-2", "the data subject's birth date says they are 14 or older")
	}
	if a != nil {
		switch a.GetKind() {
		case requestsv1.AgentKind_AGENT_KIND_LEGAL_REPRESENTATIVE:
		case requestsv1.AgentKind_AGENT_KIND_PROXY:
			if !slices.Contains(a.GetScope(), rule.proxy) {
				vs.Add("request.agency.scope", "DEC-45", "the power of attorney (별지 제11호) must cover %s requests", typeRules[rule.proxy].label)
			}
			if a.GetGrantedDate() == "" {
				vs.Add("request.agency.granted_date", "DEC-45", "the date of the power of attorney is required")
			}
			CheckDate(&vs, "request.agency.granted_date", a.GetGrantedDate(), now)
		default:
			vs.Add("request.agency.kind", "PIPA-38-1", "kind is required: LEGAL_REPRESENTATIVE or PROXY")
		}
		checkTextN(&vs, "request.agency.relationship", a.GetRelationship(), true, 50)
	}
	if r.GetType() == requestsv1.RequestType_REQUEST_TYPE_ACCESS {
		items := r.GetAccessItems()
		if len(items) == 0 {
			vs.Add("request.access_items", "DEC-41-1", "choose at least one of CONTENT, PURPOSE, RETENTION, PROVISION_HISTORY, CONSENT")
		}
		for i, it := range items {
			if requestsv1.AccessItem_name[int32(it)] == "" || it == 0 || slices.Index(items, it) != i {
				vs.Add("request.access_items", "DEC-41-1", "each item once, from CONTENT, PURPOSE, RETENTION, PROVISION_HISTORY, CONSENT")
				break
			}
		}
	} else if len(r.GetAccessItems()) > 0 {
		vs.Add("request.access_items", "DEC-41-1", "access items belong to ACCESS requests")
	}
	switch r.GetType() {
	case requestsv1.RequestType_REQUEST_TYPE_CORRECTION, requestsv1.RequestType_REQUEST_TYPE_DELETION,
		requestsv1.RequestType_REQUEST_TYPE_SUSPENSION, requestsv1.RequestType_REQUEST_TYPE_AUTOMATED_DECISION:
		CheckText(&vs, "request.details", r.GetDetails(), true)
	default:
		CheckText(&vs, "request.details", r.GetDetails(), false)
	}
	checkTextN(&vs, "request.purpose", r.GetPurpose(), rule.cctv, maxShort) // 별지 제2호 청구 목적 및 사유

	switch {
	case rule.cctv:
		validateFootage(&vs, "request.footage", r.GetFootage(), now, true)
	case r.GetFootage() != nil && r.GetType() == requestsv1.RequestType_REQUEST_TYPE_SUSPENSION:
		// Named so that PIPA-58-2 can be checked against the site.
		validateFootage(&vs, "request.footage", r.GetFootage(), now, false)
	case r.GetFootage() != nil:
		vs.Add("request.footage", "STD-44-1", "footage belongs to CCTV requests (CCTV_ACCESS, CCTV_EXISTENCE, CCTV_DELETION)")
	}
	return vs
}

func validateFootage(vs *apierr.Violations, field string, f *requestsv1.Footage, now time.Time, own bool) {
	if f == nil {
		vs.Add(field, "STD-44-2", "a CCTV request names the footage: site, recording period and camera location")
		return
	}
	if f.GetSite() == "" {
		vs.Add(field+".site", "STD-44-2", "the CCTV site is required")
	}
	start, end := f.GetStartTime(), f.GetEndTime()
	switch {
	case start != nil && !CheckTime(vs, field+".start_time", start), end != nil && !CheckTime(vs, field+".end_time", end):
	case start == nil || end == nil:
		vs.Add(field+".start_time", "STD-44-2", "the recording period (촬영기간) is required: start_time and end_time")
	case !end.AsTime().After(start.AsTime()):
		vs.Add(field+".end_time", "range", "must be after start_time")
	case start.AsTime().After(now):
		vs.Add(field+".start_time", "range", "must not be in the future")
	case end.AsTime().Sub(start.AsTime()) > 7*24*time.Hour:
		vs.Add(field+".end_time", "C-12-Q2", "a request covers at most 7 days of footage: name the minimal segment")
	}
	checkTextN(vs, field+".camera_location", f.GetCameraLocation(), true, maxLine)
	checkTextN(vs, field+".site_location", f.GetSiteLocation(), false, maxLine)
	if own && !f.GetRequesterAppears() {
		vs.Add(field+".requester_appears", "STD-44-1",
			"a data subject may ask only for footage showing themselves; footage of someone else is a third-party provision (C-12-Q2)")
	}
}

// validateProvision checks another body's request (PIPA-18-2, STD-40, DEC-15, C-9, seed 001 별표3).
// Whether a public-only ground fits the tenant is checked by the server, which asks the registry.
func validateProvision(r *requestsv1.Request, now time.Time) apierr.Violations {
	var vs apierr.Violations
	p := r.GetProvision()
	checkPerson(&vs, "request.requester", r.GetRequester(), now)
	if q := r.GetRequester(); q.GetPhone() == "" && q.GetEmail() == "" {
		vs.Add("request.requester", "STD-42-1", "the requesting officer's phone or e-mail is required")
	}
	if r.GetSubject() != nil || r.GetAgency() != nil || len(r.GetAccessItems()) > 0 || r.GetFootage() != nil {
		vs.Add("request", "PIPA-18-2", "a provision request names what it asks for in provision, not subject, agency, access_items or footage")
	}
	checkTextN(&vs, "request.purpose", r.GetPurpose(), true, maxShort) // STD-42-1 3
	if p == nil {
		vs.Add("request.provision", "PIPA-18-2", "provision is required: the requesting body, ground, items or footage, form and period")
		return vs
	}
	checkTextN(&vs, "request.provision.requesting_body", p.GetRequestingBody(), true, maxLine) // STD-42-1 2
	checkTextN(&vs, "request.provision.officer_title", p.GetOfficerTitle(), false, 50)
	if _, ok := provisionGrounds[p.GetGround()]; !ok {
		vs.Add("request.provision.ground", "PIPA-18-2", "ground is required: one of the grounds of PIPA 18(2) (CONSENT, OTHER_LAW, URGENT_INTERESTS, PUBLIC_DUTY_PIPC, TREATY, CRIMINAL_INVESTIGATION, COURT, SENTENCE, PUBLIC_SAFETY)")
	}
	checkTextN(&vs, "request.provision.legal_basis", p.GetLegalBasis(), true, maxShort) // STD-40, DEC-15 4
	switch n := len(p.GetItems()); {
	case n == 0:
		vs.Add("request.provision.items", "DEC-15", "the data items asked for (항목, DEC-15 5) are required, e.g. \"영상(얼굴, 차량번호)\"")
	case n > 100:
		vs.Add("request.provision.items", "range", "at most 100 items, got %d", n)
	}
	for i, it := range p.GetItems() {
		checkTextN(&vs, fmt.Sprintf("request.provision.items[%d]", i), it, true, maxLine)
	}
	if p.GetFootage() != nil {
		validateFootage(&vs, "request.provision.footage", p.GetFootage(), now, false)
	}
	if f := p.GetForm(); f == 0 || requestsv1.ProvisionForm_name[int32(f)] == "" {
		vs.Add("request.provision.form", "STD-42-1", "the form of provision (이용·제공 형태) is required, e.g. ON_SITE_VIEWING or USB_COPY")
	}
	CheckDate(&vs, "request.provision.period_start_date", p.GetPeriodStartDate(), FarFuture)
	CheckDate(&vs, "request.provision.period_end_date", p.GetPeriodEndDate(), FarFuture)
	if p.GetPeriodStartDate() == "" || p.GetPeriodEndDate() == "" {
		vs.Add("request.provision.period_end_date", "DEC-15", "the period of use (기간, DEC-15 6) is required: period_start_date and period_end_date")
	} else if p.GetPeriodEndDate() < p.GetPeriodStartDate() {
		vs.Add("request.provision.period_end_date", "range", "must not be before period_start_date")
	}
	d := p.GetDestructionDueDate()
	CheckDate(&vs, "request.provision.destruction_due_date", d, FarFuture)
	switch {
	case d == "" && p.GetForm() != requestsv1.ProvisionForm_PROVISION_FORM_ON_SITE_VIEWING:
		vs.Add("request.provision.destruction_due_date", "C-9", "a copy given out needs the date by which the recipient destroys it")
	case d != "" && d < seoul.Date(now):
		vs.Add("request.provision.destruction_due_date", "C-9", "must not be in the past")
	}
	return vs
}

// FarFuture bounds dates that may lie ahead (periods, due dates).
var FarFuture = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)

// validateVerification checks how the requester of r was verified: the data subject or a lawful
// agent (DEC-46), by ID card for CCTV (STD-44-3), another body by its official document (STD-40).
func validateVerification(r *requestsv1.Request, v *requestsv1.Verification) apierr.Violations {
	var vs apierr.Violations
	m := v.GetMethod()
	switch {
	case m == 0 || requestsv1.VerificationMethod_name[int32(m)] == "":
		vs.Add("verification.method", "DEC-46", "method is required: RESIDENT_CARD, DRIVER_LICENSE, PASSPORT, ADMIN_DATA_SHARING or ONLINE_AUTH")
	case r.GetType() == requestsv1.RequestType_REQUEST_TYPE_THIRD_PARTY_PROVISION:
		if m != requestsv1.VerificationMethod_VERIFICATION_METHOD_OFFICIAL_DOCUMENT && m > requestsv1.VerificationMethod_VERIFICATION_METHOD_PASSPORT {
			vs.Add("verification.method", "STD-40", "another body's request is verified by its official document (OFFICIAL_DOCUMENT) or the officer's ID card")
		}
	case m == requestsv1.VerificationMethod_VERIFICATION_METHOD_OFFICIAL_DOCUMENT:
		vs.Add("verification.method", "DEC-46", "OFFICIAL_DOCUMENT verifies another body's provision request, not a data subject")
	case typeRules[r.GetType()].cctv && m > requestsv1.VerificationMethod_VERIFICATION_METHOD_PASSPORT:
		vs.Add("verification.method", "STD-44-3", "a CCTV request is verified by ID card: RESIDENT_CARD, DRIVER_LICENSE or PASSPORT")
	}
	if r.GetAgency() != nil {
		CheckText(&vs, "verification.agency_evidence", v.GetAgencyEvidence(), true)
	}
	CheckText(&vs, "verification.note", v.GetNote(), false)
	return vs
}

// validateReason checks a restriction, deferral or refusal: grounds from the type's list
// (PIPA-35-4, 36-1, 37-2, STD-44-4), the reason in words, and how to object (PIPA-38-5).
func validateReason(vs *apierr.Violations, t rtype, r *requestsv1.Reason) {
	rule := typeRules[t]
	if len(r.GetGrounds()) == 0 {
		vs.Add("reason.grounds", groundRule(t), "at least one coded ground is required for a %s request", rule.label)
	}
	for _, g := range r.GetGrounds() {
		if !slices.Contains(rule.grounds, g) {
			vs.Add("reason.grounds", groundRule(t), "%s is not a ground for a %s request", g, rule.label)
			break
		}
	}
	CheckText(vs, "reason.text", r.GetText(), true)
	CheckText(vs, "reason.objection_method", r.GetObjectionMethod(), false)
}

func groundRule(t rtype) string {
	switch t {
	case requestsv1.RequestType_REQUEST_TYPE_CORRECTION, requestsv1.RequestType_REQUEST_TYPE_DELETION:
		return "PIPA-36-1"
	case requestsv1.RequestType_REQUEST_TYPE_SUSPENSION:
		return "PIPA-37-2"
	case requestsv1.RequestType_REQUEST_TYPE_AUTOMATED_DECISION:
		return "DEC-44-3-5"
	}
	if typeRules[t].cctv {
		return "STD-44-4"
	}
	return "PIPA-35-4"
}

// validateGrant checks what an approval offers (별지 제9호·제10호) and, for footage to be
// released, that others in it were masked or need not be (STD-46).
func validateGrant(vs *apierr.Violations, t rtype, g *requestsv1.Grant) {
	if g == nil {
		vs.Add("grant", "required", "the grant (what is offered, how and when) is required")
		return
	}
	if t == requestsv1.RequestType_REQUEST_TYPE_THIRD_PARTY_PROVISION {
		// PIPA 18(5), DEC-15 8: the recipient is told how it may use the data and how to protect it.
		checkTextN(vs, "grant.safety_requests", g.GetSafetyRequests(), true, maxShort)
		CheckText(vs, "grant.content", g.GetContent(), false)
		return
	}
	if g.GetSafetyRequests() != "" {
		vs.Add("grant.safety_requests", "PIPA-18-2", "safety requests belong to a THIRD_PARTY_PROVISION's grant")
	}
	access := t == requestsv1.RequestType_REQUEST_TYPE_ACCESS || t == requestsv1.RequestType_REQUEST_TYPE_CCTV_ACCESS
	if access {
		if g.GetForm() == 0 || requestsv1.AccessForm_name[int32(g.GetForm())] == "" {
			vs.Add("grant.form", "PIPA-35-3", "the form of access (열람 형태) is required")
		}
		if g.GetMethod() == 0 || requestsv1.DeliveryMethod_name[int32(g.GetMethod())] == "" {
			vs.Add("grant.method", "PIPA-35-3", "the method of access (열람 방법) is required")
		}
		if t := g.GetAccessTime(); t != nil {
			CheckTime(vs, "grant.access_time", t)
		}
		if g.GetMethod() == requestsv1.DeliveryMethod_DELIVERY_METHOD_VISIT {
			if g.GetAccessTime() == nil {
				vs.Add("grant.access_time", "DEC-41-4", "access in person needs its date and time (열람 일시)")
			}
			CheckText(vs, "grant.access_place", g.GetAccessPlace(), true)
		}
	}
	CheckText(vs, "grant.content", g.GetContent(), !access)
	if g.GetFeeWon() < 0 || g.GetPostageWon() < 0 {
		vs.Add("grant.fee_won", "PIPA-38-3", "fees are not negative")
	}
	if (g.GetFeeWon() > 0 || g.GetPostageWon() > 0) && strings.TrimSpace(g.GetFeeBasis()) == "" {
		vs.Add("grant.fee_basis", "PIPA-38-3", "a fee states how it was calculated (수수료 산정 명세): actual cost, per the ordinance")
	}
	CheckText(vs, "grant.fee_basis", g.GetFeeBasis(), false)
	if t == requestsv1.RequestType_REQUEST_TYPE_CCTV_ACCESS {
		checkMasking(vs, g.GetMasking())
	}
}

// checkMasking: footage is released only with others in it masked, or a reason why that is not
// needed (STD-46).
func checkMasking(vs *apierr.Violations, m *requestsv1.Masking) {
	if !m.GetDone() && strings.TrimSpace(m.GetNotNeededReason()) == "" {
		vs.Add("grant.masking", "STD-46", "releasing footage needs others in it masked (done) or a reason why masking is not needed")
	}
	CheckText(vs, "grant.masking.not_needed_reason", m.GetNotNeededReason(), false)
}

// checkNoticeMethod checks how the requester wants notices: by e-mail to an address given, by
// post to an address given, or in person; a text message to a phone number given (PIPA-38-4).
func checkNoticeMethod(vs *apierr.Violations, r *requestsv1.Request) {
	p := r.GetRequester()
	switch r.GetNoticeMethod() {
	case requestsv1.DeliveryMethod_DELIVERY_METHOD_UNSPECIFIED, requestsv1.DeliveryMethod_DELIVERY_METHOD_VISIT:
	case requestsv1.DeliveryMethod_DELIVERY_METHOD_EMAIL:
		if p.GetEmail() == "" {
			vs.Add("request.requester.email", "PIPA-38-4", "notices by e-mail need the requester's e-mail address")
		}
	case requestsv1.DeliveryMethod_DELIVERY_METHOD_MAIL:
		if p.GetAddress() == "" {
			vs.Add("request.requester.address", "PIPA-38-4", "notices by post need the requester's address")
		}
	default:
		vs.Add("request.notice_method", "PIPA-38-4", "notices go by DELIVERY_METHOD_EMAIL, DELIVERY_METHOD_MAIL (post) or DELIVERY_METHOD_VISIT (in person)")
	}
	if r.GetNoticeByText() {
		if p.GetPhone() == "" {
			vs.Add("request.requester.phone", "PIPA-38-4", "a text message about the notice needs the requester's phone number")
		} else if _, ok := sms.Mobile(p.GetPhone()); !ok {
			vs.Add("request.requester.phone", "format", "the number for text messages %s", sms.MobileFormat)
		}
	}
}

// MailsNotices reports whether r's notices are e-mailed: asked for, or not asked otherwise and an
// address given.
func MailsNotices(r *Request) bool {
	switch r.Doc.GetNoticeMethod() {
	case requestsv1.DeliveryMethod_DELIVERY_METHOD_EMAIL:
		return true
	case requestsv1.DeliveryMethod_DELIVERY_METHOD_UNSPECIFIED:
		return r.Personal.Requester.GetEmail() != ""
	}
	return false
}
