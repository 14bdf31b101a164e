package breach

import (
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pipa-kr/pipa/pkg/apierr"
	requestsv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/requests/v1"
	"github.com/pipa-kr/pipa/pkg/mailaddr"
	"github.com/pipa-kr/pipa/pkg/outbound/sms"
)

// Env is what a step needs besides the breach: the clock, the official taking it (for the
// ledger), the unit's published name (the notices' sender) and its posting's public path.
type Env struct {
	Now         time.Time
	Officer     string
	Institution string
	Path        string
	// SendsMail and SendsText: a mail relay (PIPA_SMTP_ADDR) or a text-message provider
	// (PIPA_SMS_PROVIDER) is configured, so a notice to addresses or numbers leaves now; without
	// one it would wait unsent while the notice counts as sent.
	SendsMail, SendsText bool
}

// Outcome is what the unit's ledger records of a step (a BREACH entry): its label, the rule it
// fulfils and a note of what was done. No personal data: a breach record names no subject.
// Mail, of a notice step given the subjects' addresses or numbers, is what pipa sends them.
type Outcome struct {
	Label, Rule, Note string
	Mail              *Mailing
}

// Mailing is a notice pipa sends, one message to each address or number of To (PIPA-34-1: the
// notice by e-mail or text message, two of the 서면등의 방법 of DEC-17-5): Notice is its number
// among the breach's notices, from 1; Subject (a mail's) and Text are the message's. ByText: To
// are mobile numbers (01012345678), each sent the Text as a text message.
type Mailing struct {
	Notice        int
	To            []string
	Subject, Text string
	ByText        bool
}

// MaxRecipients bounds the addresses or numbers of one notice step.
const MaxRecipients = 1000

// Step is one of the steps below.
type Step interface {
	apply(b *requestsv1.Breach, env Env) (Outcome, error)
}

// Registered is what the ledger records of a registration.
func Registered(b *requestsv1.Breach) Outcome {
	note := fmt.Sprintf("%s, 인지 %s, 통지·신고 기한 %s", typeLabel[b.GetType()], stamp(b.GetKnownTime().AsTime()), stamp(Due(b)))
	if t := ReportTriggers(b); len(t) > 0 {
		note += ", 신고 대상(" + strings.Join(t, "; ") + ")"
	}
	if b.GetPublicCctv() {
		note = typeLabel[b.GetType()] + ", 공개된 장소의 고정형 영상정보처리기기: 법 제34조 적용 제외 (PIPA-58-2)"
	}
	return Outcome{Label: "유출등 등록", Rule: "PIPA-34", Note: note}
}

// Apply takes step st on b (which it changes) at env.Now.
func Apply(b *requestsv1.Breach, st Step, env Env) (Outcome, error) {
	if b.GetState() != requestsv1.BreachState_BREACH_STATE_OPEN {
		return Outcome{}, apierr.Precondition("BREACH_CLOSED", b.GetName()+" is closed")
	}
	out, err := st.apply(b, env)
	if err != nil {
		return Outcome{}, err
	}
	b.UpdateTime = timestamppb.New(env.Now)
	return out, nil
}

// Complete adds the facts that were missing (DEC-39-2) or says what a possible breach turned out
// to be (DEC-39의3).
type Complete struct{ Facts *requestsv1.Breach }

func (c Complete) apply(b *requestsv1.Breach, env Env) (Outcome, error) {
	var vs apierr.Violations
	if c.Facts == nil {
		vs.Add("breach", "required", "the facts to complete are required")
		return Outcome{}, vs.Err()
	}
	facts(&vs, b, c.Facts, env.Now)
	label := "유출등 사실 보완"
	if o := c.Facts.GetPossibleOutcome(); o != requestsv1.PossibleOutcome_POSSIBLE_OUTCOME_UNSPECIFIED {
		switch {
		case requestsv1.PossibleOutcome_name[int32(o)] == "":
			vs.Add("breach.possible_outcome", "range", "unknown outcome %d", o)
		case b.GetType() != requestsv1.BreachType_BREACH_TYPE_POSSIBLE:
			vs.Add("breach.possible_outcome", "DEC-39의3", "only a POSSIBLE breach has an outcome")
		case b.GetPossibleOutcome() != requestsv1.PossibleOutcome_POSSIBLE_OUTCOME_UNSPECIFIED:
			vs.Add("breach.possible_outcome", "DEC-39의3", "the outcome was already recorded")
		default:
			b.PossibleOutcome = o
			label = map[requestsv1.PossibleOutcome]string{
				requestsv1.PossibleOutcome_POSSIBLE_OUTCOME_CONFIRMED: "유출등 확인",
				requestsv1.PossibleOutcome_POSSIBLE_OUTCOME_NO_BREACH: "유출등 아님 확인"}[o]
		}
	}
	if err := vs.Err(); err != nil {
		return Outcome{}, err
	}
	return Outcome{Label: label, Rule: "DEC-39-2", Note: fmt.Sprintf("항목 %d개, 정보주체 %s", len(b.GetItems()), count(b.GetSubjectCount()))}, nil
}

// Notify records the notice sent to the subjects: which one is decided by what is known. With
// Emails (method EMAIL) or Phones (method SMS), pipa sends it: the outcome's Mail. ToUnreached:
// it went to subjects an earlier notice did not reach (DEC-39-3).
type Notify struct {
	Method      requestsv1.BreachNoticeMethod
	SendTime    *timestamppb.Timestamp
	Count       int64
	Emails      []string
	Phones      []string
	ToUnreached bool
}

func (n Notify) apply(b *requestsv1.Breach, env Env) (Outcome, error) {
	var vs apierr.Violations
	switch m := n.Method; {
	case m == requestsv1.BreachNoticeMethod_BREACH_NOTICE_METHOD_UNSPECIFIED:
		vs.Add("method", "DEC-17-5", "how it was sent (서면등): WRITING, EMAIL, FAX, PHONE or SMS")
	case requestsv1.BreachNoticeMethod_name[int32(m)] == "":
		vs.Add("method", "range", "unknown method %d", m)
	}
	if n.Count < 0 {
		vs.Add("recipient_count", "range", "must not be negative")
	}
	count := n.Count
	var to []string
	for _, r := range []recipients{emails, phones} {
		if list := r.of(n); len(list) > 0 {
			to = r.check(&vs, n, list)
			if count == 0 {
				count = int64(len(list))
			}
		}
	}
	if n.ToUnreached {
		switch u := Unreached(b); {
		case u == 0:
			vs.Add("to_unreached", "DEC-39-3", "no subject is unreached: no delivery of a notice of this breach was given up, or later notices reached as many")
		case count == 0:
			vs.Add("recipient_count", "required", "how many of the unreached subjects this notice reached")
		case count > u:
			vs.Add("recipient_count", "DEC-39-3", "at most the %d unreached subjects (got %d)", u, count)
		}
	}
	sent := sendTime(&vs, b, n.SendTime, env.Now)
	kind := NoticeKind(b)
	missing(&vs, b, kind)
	text := NoticeText(b, kind, env.Institution)
	if len(n.Phones) > 0 && sms.Bytes(text) > sms.MaxBytes {
		vs.Add("recipient_phones", "DEC-39-1", "the notice (%d bytes, a Hangul syllable counting 2) does not fit one text message of %d bytes, and a text message must carry every item: shorten the facts or send it another way",
			sms.Bytes(text), sms.MaxBytes)
	}
	if err := vs.Err(); err != nil {
		return Outcome{}, err
	}
	if len(n.Emails) > 0 && !env.SendsMail {
		return Outcome{}, apierr.Precondition("MAIL_NOT_CONFIGURED", "no mail relay is configured (PIPA_SMTP_ADDR), so the notice would not leave",
			apierr.Violation{Field: "recipient_emails", Rule: "DEC-17-5", Description: "send the notice another way and record it, or configure a relay"})
	}
	if len(n.Phones) > 0 && !env.SendsText {
		return Outcome{}, apierr.Precondition("SMS_NOT_CONFIGURED", "no text-message provider is configured (PIPA_SMS_PROVIDER), so the notice would not leave",
			apierr.Violation{Field: "recipient_phones", Rule: "DEC-17-5", Description: "send the notice another way and record it, or configure a provider"})
	}
	late, err := lateness(b, sent, "PIPA-34-1")
	if err != nil {
		return Outcome{}, err
	}
	b.Notices = append(b.Notices, &requestsv1.BreachNotice{Kind: kind, Method: n.Method, SendTime: timestamppb.New(sent),
		RecipientCount: count, Text: text, Late: late, ToUnreached: n.ToUnreached})
	note := fmt.Sprintf("%s, %s, %s, %d명", noticeLabel[kind], methodLabel[n.Method], stamp(sent), count)
	if n.ToUnreached {
		note += ", 통지가 닿지 않은 정보주체 대상 (DEC-39-3)"
	}
	if late {
		note += ", 72시간 경과 (인지 시점 증빙: STD-26-4)"
	}
	out := Outcome{Label: "유출등 통지", Rule: noticeRule(b), Note: note}
	switch {
	case len(n.Emails) > 0:
		title, _, _ := strings.Cut(text, "\n")
		out.Mail = &Mailing{Notice: len(b.Notices), To: to, Subject: "[" + env.Institution + "] " + title, Text: text}
		out.Note += fmt.Sprintf(", pipa 전자우편 발송 %d건", len(to))
	case len(n.Phones) > 0:
		out.Mail = &Mailing{Notice: len(b.Notices), To: to, Text: text, ByText: true}
		out.Note += fmt.Sprintf(", pipa 문자전송 %d건", len(to))
	}
	return out, nil
}

// recipients are the addresses or numbers of a notice step that pipa sends the notice to: the
// request's field, the method they go with, and how one is read (its normal form and its key for
// duplicates; ok false when it is not one).
type recipients struct {
	field, what string
	method      requestsv1.BreachNoticeMethod
	of          func(Notify) []string
	read        func(string) (normal, key string, ok bool)
	format      string
}

var (
	emails = recipients{field: "recipient_emails", what: "addresses", method: requestsv1.BreachNoticeMethod_BREACH_NOTICE_METHOD_EMAIL,
		of:     func(n Notify) []string { return n.Emails },
		read:   func(e string) (string, string, bool) { return e, strings.ToLower(e), mailaddr.Valid(e) },
		format: mailaddr.Format}
	phones = recipients{field: "recipient_phones", what: "numbers", method: requestsv1.BreachNoticeMethod_BREACH_NOTICE_METHOD_SMS,
		of:     func(n Notify) []string { return n.Phones },
		read:   func(s string) (string, string, bool) { d, ok := sms.Mobile(s); return d, d, ok },
		format: sms.MobileFormat}
)

// check refuses the list pipa cannot send the notice to, and returns it in normal form: with
// another method, with a send_time (the message leaves now, and the notice's lateness is judged
// by now), more than MaxRecipients, one that is not an address or number, one given twice, or more
// than recipient_count says. A refusal never repeats what was given.
func (r recipients) check(vs *apierr.Violations, n Notify, list []string) []string {
	if n.Method != r.method {
		vs.Add(r.field, "DEC-17-5", "pipa sends the notice to %s only with method %s; otherwise the unit sends it and the step records it",
			r.what, strings.TrimPrefix(r.method.String(), "BREACH_NOTICE_METHOD_"))
	}
	if n.SendTime != nil {
		vs.Add("send_time", "PIPA-34-1", "pipa sends the notice now, and its time is now: give send_time only for a notice the unit sent itself")
	}
	if len(list) > MaxRecipients {
		vs.Add(r.field, "max", "at most %d %s a call (got %d): notify the rest in another call", MaxRecipients, r.what, len(list))
		return nil
	}
	if n.Count > 0 && n.Count < int64(len(list)) {
		vs.Add("recipient_count", "range", "counts the subjects notified, at least the %d %s given (got %d)", len(list), r.what, n.Count)
	}
	out := make([]string, len(list))
	seen := make(map[string]bool, len(list))
	for i, v := range list {
		field := fmt.Sprintf("%s[%d]", r.field, i)
		normal, key, ok := r.read(v)
		switch {
		case !ok:
			vs.Add(field, "format", "%s", r.format)
		case seen[key]:
			vs.Add(field, "unique", "given twice: each subject gets the notice once")
		}
		seen[key], out[i] = true, normal
	}
	return out
}

// NoticeKind is the notice b's facts allow now.
func NoticeKind(b *requestsv1.Breach) requestsv1.BreachNoticeKind {
	switch {
	case b.GetPossibleOutcome() == requestsv1.PossibleOutcome_POSSIBLE_OUTCOME_NO_BREACH:
		return requestsv1.BreachNoticeKind_BREACH_NOTICE_KIND_NO_BREACH
	case b.GetType() == requestsv1.BreachType_BREACH_TYPE_POSSIBLE && b.GetPossibleOutcome() == requestsv1.PossibleOutcome_POSSIBLE_OUTCOME_UNSPECIFIED:
		return requestsv1.BreachNoticeKind_BREACH_NOTICE_KIND_POSSIBLE
	case !known(b):
		return requestsv1.BreachNoticeKind_BREACH_NOTICE_KIND_INTERIM
	}
	return requestsv1.BreachNoticeKind_BREACH_NOTICE_KIND_COMPLETE
}

// known: items 1 and 2 of PIPA-34-1 (the items; when and how) are known.
func known(b *requestsv1.Breach) bool {
	return len(b.GetItems()) > 0 && b.GetOccurTime() != nil && strings.TrimSpace(b.GetCircumstances()) != ""
}

// missing adds a violation for each item the notice of kind (or the report) must carry and b
// lacks: items 3–5 always (DEC-39-2, DEC-39의2), items 1–2 in a complete one (PIPA-34-1); the
// rights of item 6 are the law's and always written.
func missing(vs *apierr.Violations, b *requestsv1.Breach, kind requestsv1.BreachNoticeKind) {
	rule := map[requestsv1.BreachNoticeKind]string{
		requestsv1.BreachNoticeKind_BREACH_NOTICE_KIND_INTERIM:  "DEC-39-2",
		requestsv1.BreachNoticeKind_BREACH_NOTICE_KIND_COMPLETE: "PIPA-34-1",
		requestsv1.BreachNoticeKind_BREACH_NOTICE_KIND_POSSIBLE: "DEC-39의2",
	}[kind]
	if rule == "" {
		return // DEC-39의3: that there was no breach, said at once, needs nothing more
	}
	if kind == requestsv1.BreachNoticeKind_BREACH_NOTICE_KIND_POSSIBLE && strings.TrimSpace(b.GetCircumstances()) == "" {
		vs.Add("breach.circumstances", rule, "a possible-breach notice says the suspected time and circumstances")
	}
	if strings.TrimSpace(b.GetSubjectActions()) == "" {
		vs.Add("breach.subject_actions", rule, "item 3: what subjects can do to limit the damage")
	}
	if strings.TrimSpace(b.GetMeasures()) == "" {
		vs.Add("breach.measures", rule, "item 4: the measures the unit took")
	}
	if strings.TrimSpace(b.GetReliefProcedure()) == "" {
		vs.Add("breach.relief_procedure", rule, "item 4: how subjects get relief")
	}
	if b.GetContact() == nil {
		vs.Add("breach.contact", rule, "item 5: the department and contact for damage reports")
	}
}

// sendTime is when a notice or report was sent: now unless given, neither in the future nor
// before the breach was known.
func sendTime(vs *apierr.Violations, b *requestsv1.Breach, t *timestamppb.Timestamp, now time.Time) time.Time {
	if t == nil {
		return now
	}
	if !checkTime(vs, "send_time", t, false) {
		return now
	}
	at := t.AsTime()
	switch {
	case at.After(now):
		vs.Add("send_time", "range", "must not be in the future")
	case at.Before(b.GetKnownTime().AsTime()):
		vs.Add("send_time", "range", "must not be before the breach was known (known_time)")
	}
	return at
}

// lateness: a notice or report after its 72 hours is taken only with the proof of when the
// breach was known (STD-26-4).
func lateness(b *requestsv1.Breach, sent time.Time, rule string) (bool, error) {
	if !sent.After(Due(b)) {
		return false, nil
	}
	if strings.TrimSpace(b.GetKnownEvidence()) == "" {
		return true, apierr.Precondition("KNOWN_EVIDENCE_REQUIRED",
			fmt.Sprintf("sent more than 72 hours after the breach was known (%s): record the proof of when it was known first", rule),
			apierr.Violation{Field: "breach.known_evidence", Rule: "STD-26-4",
				Description: "a notice or report later than 72 hours needs the proof of when the breach was known (:complete cannot change it; register it with known_evidence)"})
	}
	return true, nil
}

// Report records the report to the PIPC or KISA (PIPA-34-4, DEC-40).
type Report struct {
	Agency        requestsv1.BreachAgency
	SendTime      *timestamppb.Timestamp
	ReceiptNumber string
}

func (r Report) apply(b *requestsv1.Breach, env Env) (Outcome, error) {
	var vs apierr.Violations
	switch a := r.Agency; {
	case a == requestsv1.BreachAgency_BREACH_AGENCY_UNSPECIFIED:
		vs.Add("agency", "DEC-40-3", "to whom it was reported: PIPC or KISA")
	case requestsv1.BreachAgency_name[int32(a)] == "":
		vs.Add("agency", "range", "unknown agency %d", a)
	}
	checkText(&vs, "receipt_number", r.ReceiptNumber, false)
	if b.GetPublicCctv() {
		vs.Add("name", "PIPA-58-2", "Art 34 does not apply to public-place fixed CCTV: there is nothing to report")
	}
	if b.GetExemptionReason() != "" {
		vs.Add("name", "PIPA-34-4", "the report was exempted")
	}
	if b.GetPossibleOutcome() == requestsv1.PossibleOutcome_POSSIBLE_OUTCOME_NO_BREACH {
		vs.Add("name", "DEC-39의3", "the possible breach was found to be none")
	}
	sent := sendTime(&vs, b, r.SendTime, env.Now)
	interim := !known(b)
	kind := requestsv1.BreachNoticeKind_BREACH_NOTICE_KIND_COMPLETE
	if interim {
		kind = requestsv1.BreachNoticeKind_BREACH_NOTICE_KIND_INTERIM
	}
	missing(&vs, b, kind)
	if err := vs.Err(); err != nil {
		return Outcome{}, err
	}
	late, err := lateness(b, sent, "PIPA-34-4")
	if err != nil {
		return Outcome{}, err
	}
	b.Reports = append(b.Reports, &requestsv1.BreachReport{Agency: r.Agency, SendTime: timestamppb.New(sent), Interim: interim,
		Text: ReportText(b, r.Agency, sent, interim, env.Institution), Late: late, ReceiptNumber: r.ReceiptNumber})
	note := fmt.Sprintf("%s, %s", agencyLabel[r.Agency], stamp(sent))
	if interim {
		note += ", 우선 신고 (DEC-40-2)"
	}
	if late {
		note += ", 72시간 경과 (STD-26-4)"
	}
	return Outcome{Label: "유출등 신고", Rule: "PIPA-34-4", Note: note}, nil
}

// Exempt records why a report that a threshold requires is not made (PIPA-34-4 proviso): the
// route was found and the data retrieved or deleted.
type Exempt struct {
	RouteIdentified, RetrievedOrDeleted bool
	Reason                              string
}

func (x Exempt) apply(b *requestsv1.Breach, env Env) (Outcome, error) {
	var vs apierr.Violations
	if !x.RouteIdentified {
		vs.Add("route_identified", "PIPA-34-4", "the exemption needs the route of the breach identified")
	}
	if !x.RetrievedOrDeleted {
		vs.Add("retrieved_or_deleted", "PIPA-34-4", "the exemption needs the data retrieved or deleted")
	}
	checkText(&vs, "reason", x.Reason, true)
	if err := vs.Err(); err != nil {
		return Outcome{}, err
	}
	if len(ReportTriggers(b)) == 0 {
		return Outcome{}, apierr.Precondition("REPORT_NOT_REQUIRED", "no threshold of PIPA-34-4 / DEC-40 is met: there is no report to exempt")
	}
	if reportStatus(b) == requestsv1.BreachDutyStatus_BREACH_DUTY_STATUS_DONE {
		return Outcome{}, apierr.Precondition("ALREADY_REPORTED", "the breach was reported")
	}
	b.ExemptionReason = strings.TrimSpace(x.Reason)
	return Outcome{Label: "유출등 신고 면제", Rule: "PIPA-34-4", Note: "경로 확인, 회수·삭제 완료: " + b.ExemptionReason}, nil
}

// Post puts the notice on the unit's public pages for PostingPeriod (DEC-39-3). A posting that has
// ended is replaced: a notice that failed after it is told by the new one.
type Post struct{ UnreachableReason string }

func (p Post) apply(b *requestsv1.Breach, env Env) (Outcome, error) {
	var vs apierr.Violations
	checkText(&vs, "unreachable_reason", p.UnreachableReason, true)
	kind := NoticeKind(b)
	missing(&vs, b, kind)
	if err := vs.Err(); err != nil {
		return Outcome{}, err
	}
	if Posted(b, env.Now) {
		return Outcome{}, apierr.Precondition("ALREADY_POSTED", "the breach is posted at "+b.GetPosting().GetPath()+" until "+stamp(b.GetPosting().GetEndTime().AsTime()))
	}
	b.Posting = &requestsv1.BreachPosting{Breach: b.GetName(), UnitDisplayName: env.Institution, StartTime: timestamppb.New(env.Now),
		EndTime: timestamppb.New(env.Now.Add(PostingPeriod)), Text: NoticeText(b, kind, env.Institution), Path: env.Path}
	return Outcome{Label: "유출등 게시", Rule: "DEC-39-3",
		Note: fmt.Sprintf("%s, %s ~ %s, 사유: %s", env.Path, stamp(env.Now), stamp(env.Now.Add(PostingPeriod)), strings.TrimSpace(p.UnreachableReason))}, nil
}

// Close ends the breach once its duties are met: the subjects told everything (or, for a possible
// breach found to be none, that), and the report made or exempted where a threshold requires it.
type Close struct{}

func (Close) apply(b *requestsv1.Breach, env Env) (Outcome, error) {
	if b.GetType() == requestsv1.BreachType_BREACH_TYPE_POSSIBLE && b.GetPossibleOutcome() == requestsv1.PossibleOutcome_POSSIBLE_OUTCOME_UNSPECIFIED {
		return Outcome{}, apierr.Precondition("OUTCOME_REQUIRED", "a possible breach closes once it is confirmed or found to be none",
			apierr.Violation{Field: "breach.possible_outcome", Rule: "DEC-39의3", Description: "record the outcome with :complete"})
	}
	for _, d := range Duties(b, env.Now) {
		switch d.GetStatus() {
		case requestsv1.BreachDutyStatus_BREACH_DUTY_STATUS_PENDING, requestsv1.BreachDutyStatus_BREACH_DUTY_STATUS_INTERIM:
		default:
			continue
		}
		switch d.GetKind() {
		case requestsv1.BreachDutyKind_BREACH_DUTY_KIND_POSTING:
			return Outcome{}, apierr.Precondition("UNREACHED_SUBJECTS", fmt.Sprintf("the notice did not reach %d subject(s): post it on the unit's pages (DEC-39-3), or record the notice that reached them another way (to_unreached)", Unreached(b)),
				apierr.Violation{Field: "name", Rule: "DEC-39-3", Description: "subjects a notice did not reach are told by a posting of at least 30 days, or by another channel"})
		case requestsv1.BreachDutyKind_BREACH_DUTY_KIND_REPORT:
			return Outcome{}, apierr.Precondition("REPORT_REQUIRED", "a threshold of PIPA-34-4 / DEC-40 is met: report the breach in full, or exempt it with its reason",
				apierr.Violation{Field: "name", Rule: "PIPA-34-4", Description: strings.Join(ReportTriggers(b), "; ")})
		}
		return Outcome{}, apierr.Precondition("NOTICE_REQUIRED", "the subjects have not been sent the complete notice",
			apierr.Violation{Field: "name", Rule: "PIPA-34-1", Description: "send the notice with every item of PIPA-34-1 (DEC-39-2: the rest once known)"})
	}
	b.State = requestsv1.BreachState_BREACH_STATE_CLOSED
	b.CloseTime = timestamppb.New(env.Now)
	return Outcome{Label: "유출등 종결", Rule: "PIPA-34", Note: "종결 " + stamp(env.Now)}, nil
}

func count(n int64) string {
	if n == 0 {
		return "미확인"
	}
	return fmt.Sprintf("%d명", n)
}
