// Package breach is the domain of a unit's personal-information breaches (유출등, PIPA 34,
// Decree 39–40, LAW.md 9a), plain Go without gRPC or SQL: what a registration must say, which
// thresholds make the report to the PIPC or KISA a duty (PIPA-34-4, DEC-40), the 72-hour clocks
// counted in hours from when the breach was known (the tenant's working days do not stop them),
// which step may follow which, and the Korean texts of the notice, the report (별지 제1호) and the
// posting (render.go). The server gathers, this package decides, the store writes.
package breach

import (
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pipa-kr/pipa/pkg/apierr"
	requestsv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/requests/v1"
)

const (
	// Clock is the time the notice (PIPA-34-1, PIPA-34-2) and the report (PIPA-34-4) have from
	// known_time: "72시간 이내", so known_time + 72 h is the last instant on time.
	Clock = 72 * time.Hour
	// PostingPeriod is how long a posting stays up at least (DEC-39-3: 30일 이상).
	PostingPeriod = 30 * 24 * time.Hour
	// ReportSubjects is the number of subjects from which the report is a duty (DEC-40-1 1).
	ReportSubjects = 1000
	// DueSoon is how close a due time counts as due soon in lists and metrics.
	DueSoon = 24 * time.Hour

	maxText  = 4000
	maxItems = 100
)

// actInForce is when the Act took effect (2011-09-30, 00:00 in Seoul): a breach known earlier
// is no breach of Art 34, and a known_time before it is a mistyped year (0026 for 2026), whose
// clocks would be decades overdue.
var actInForce = time.Date(2011, 9, 29, 15, 0, 0, 0, time.UTC)

// Intake checks a new breach b as registered at now and returns what is stored: the input
// fields only, state OPEN. Every refusal names its field and rule.
func Intake(b *requestsv1.Breach, now time.Time) (*requestsv1.Breach, error) {
	var vs apierr.Violations
	if b == nil {
		vs.Add("breach", "required", "the breach is required")
		return nil, vs.Err()
	}
	out := &requestsv1.Breach{Type: b.GetType(), KnownTime: b.GetKnownTime(), KnownEvidence: b.GetKnownEvidence(),
		PublicCctv: b.GetPublicCctv(), PossibleTrigger: b.GetPossibleTrigger(), State: requestsv1.BreachState_BREACH_STATE_OPEN}
	switch t := b.GetType(); {
	case t == requestsv1.BreachType_BREACH_TYPE_UNSPECIFIED:
		vs.Add("breach.type", "PIPA-23-2", "what happened is required: LEAK (유출), ALTERATION (위조·변조·훼손), LOSS_THEFT (분실·도난) or POSSIBLE (유출등 가능성)")
	case requestsv1.BreachType_name[int32(t)] == "":
		vs.Add("breach.type", "range", "unknown type %d", t)
	}
	if checkTime(&vs, "breach.known_time", b.GetKnownTime(), true) {
		switch k := b.GetKnownTime().AsTime(); {
		case k.After(now):
			vs.Add("breach.known_time", "range", "when the breach was known must not be in the future")
		case k.Before(actInForce):
			vs.Add("breach.known_time", "PIPA-34-1", "must be on or after 2011-09-30, when the Act took effect (got %s)", k.Format(time.RFC3339))
		}
	}
	checkText(&vs, "breach.known_evidence", b.GetKnownEvidence(), false)
	if b.GetType() == requestsv1.BreachType_BREACH_TYPE_POSSIBLE {
		if b.GetPossibleTrigger() == requestsv1.PossibleTrigger_POSSIBLE_TRIGGER_UNSPECIFIED {
			vs.Add("breach.possible_trigger", "DEC-39의2", "a possible breach names its trigger: SUBJECTS_UNIDENTIFIED or PARTLY_CONFIRMED")
		}
	} else if b.GetPossibleTrigger() != requestsv1.PossibleTrigger_POSSIBLE_TRIGGER_UNSPECIFIED {
		vs.Add("breach.possible_trigger", "DEC-39의2", "only a POSSIBLE breach has a trigger")
	}
	if b.GetPossibleOutcome() != requestsv1.PossibleOutcome_POSSIBLE_OUTCOME_UNSPECIFIED {
		vs.Add("breach.possible_outcome", "DEC-39의3", "the outcome of a possible breach is recorded by :complete")
	}
	if b.GetCause() == requestsv1.BreachCause_BREACH_CAUSE_UNSPECIFIED {
		vs.Add("breach.cause", "PIPA-34-1", "the cause is required (EXTERNAL_UNLAWFUL_ACCESS, INSIDER, MISTAKE, LOSS_THEFT or OTHER)")
	}
	facts(&vs, out, b, now)
	if err := vs.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// facts checks and copies into dst the facts that registration and :complete both take; set
// fields of src replace dst's.
func facts(vs *apierr.Violations, dst, src *requestsv1.Breach, now time.Time) {
	if t := src.GetOccurTime(); t != nil {
		if checkTime(vs, "breach.occur_time", t, false) {
			switch {
			case t.AsTime().After(now):
				vs.Add("breach.occur_time", "range", "when it happened must not be in the future")
			case dst.GetKnownTime() != nil && t.AsTime().After(dst.GetKnownTime().AsTime()):
				vs.Add("breach.occur_time", "range", "it cannot have happened after it was known (known_time)")
			}
		}
		dst.OccurTime = t
	}
	text := func(field string, v string, set func(string)) {
		checkText(vs, "breach."+field, v, false)
		if v != "" {
			set(v)
		}
	}
	text("circumstances", src.GetCircumstances(), func(v string) { dst.Circumstances = v })
	text("cause_detail", src.GetCauseDetail(), func(v string) { dst.CauseDetail = v })
	text("subject_actions", src.GetSubjectActions(), func(v string) { dst.SubjectActions = v })
	text("measures", src.GetMeasures(), func(v string) { dst.Measures = v })
	text("relief_procedure", src.GetReliefProcedure(), func(v string) { dst.ReliefProcedure = v })
	list := func(field string, vals []string, set func([]string)) {
		if len(vals) > maxItems {
			vs.Add("breach."+field, "range", "at most %d, got %d", maxItems, len(vals))
		}
		for i, v := range vals {
			checkText(vs, fmt.Sprintf("breach.%s[%d]", field, i), v, true)
		}
		if len(vals) > 0 {
			set(vals)
		}
	}
	list("items", src.GetItems(), func(v []string) { dst.Items = v })
	list("files", src.GetFiles(), func(v []string) { dst.Files = v })
	if n := src.GetSubjectCount(); n < 0 {
		vs.Add("breach.subject_count", "range", "must not be negative (0: not known yet)")
	} else if n > 0 {
		dst.SubjectCount = n
	}
	dst.SensitiveData = dst.GetSensitiveData() || src.GetSensitiveData()
	dst.UniqueIdentifiers = dst.GetUniqueIdentifiers() || src.GetUniqueIdentifiers()
	if c := src.GetCause(); c != requestsv1.BreachCause_BREACH_CAUSE_UNSPECIFIED {
		if requestsv1.BreachCause_name[int32(c)] == "" {
			vs.Add("breach.cause", "range", "unknown cause %d", c)
		}
		dst.Cause = c
	}
	if dst.GetCause() == requestsv1.BreachCause_BREACH_CAUSE_OTHER && strings.TrimSpace(dst.GetCauseDetail()) == "" {
		vs.Add("breach.cause_detail", "PIPA-34-1", "a cause OTHER says what it was")
	}
	if c := src.GetContact(); c != nil {
		checkText(vs, "breach.contact.department", c.GetDepartment(), true)
		checkText(vs, "breach.contact.officer", c.GetOfficer(), false)
		checkText(vs, "breach.contact.email", c.GetEmail(), false)
		if strings.TrimSpace(c.GetPhone()) == "" && strings.TrimSpace(c.GetEmail()) == "" {
			vs.Add("breach.contact.phone", "PIPA-34-1", "the contact for damage reports (item 5) needs a phone number or an e-mail address")
		}
		checkText(vs, "breach.contact.phone", c.GetPhone(), false)
		dst.Contact = c
	}
}

// ReportTriggers are the thresholds of PIPA-34-4 / DEC-40-1 that b meets, each naming its
// rule; empty when the report is not a duty. Art 34 does not apply to public-place CCTV.
func ReportTriggers(b *requestsv1.Breach) []string {
	if b.GetPublicCctv() || b.GetPossibleOutcome() == requestsv1.PossibleOutcome_POSSIBLE_OUTCOME_NO_BREACH {
		return nil
	}
	var out []string
	if b.GetSubjectCount() >= ReportSubjects {
		out = append(out, fmt.Sprintf("DEC-40-1 1: 정보주체 %d명 (1,000명 이상)", b.GetSubjectCount()))
	}
	if b.GetSensitiveData() || b.GetUniqueIdentifiers() {
		out = append(out, "DEC-40-1 2: 민감정보 또는 고유식별정보")
	}
	if b.GetCause() == requestsv1.BreachCause_BREACH_CAUSE_EXTERNAL_UNLAWFUL_ACCESS {
		out = append(out, "DEC-40-1 3: 외부로부터의 불법적인 접근")
	}
	return out
}

// NotApplicable says which duties do not apply to b and why: for fixed CCTV in a public place,
// none of Art 34 (PIPA-58-2).
func NotApplicable(b *requestsv1.Breach) []string {
	if !b.GetPublicCctv() {
		return nil
	}
	return []string{
		"PIPA-58-2: 공개된 장소에 설치·운영하는 고정형 영상정보처리기기의 영상정보에는 법 제34조가 적용되지 않습니다",
		"PIPA-34-1: 정보주체에 대한 72시간 이내 통지 의무 없음",
		"PIPA-34-4: 개인정보보호위원회·한국인터넷진흥원 신고 의무 없음",
		"DEC-39-3: 홈페이지 게시 의무 없음",
	}
}

// Due is when b's notice and report are due: known_time + 72 hours.
func Due(b *requestsv1.Breach) time.Time { return b.GetKnownTime().AsTime().Add(Clock) }

// Duties are b's notice and report duties as they stand at now, and the posting duty once a notice
// did not reach a subject (DEC-39-3).
func Duties(b *requestsv1.Breach, now time.Time) []*requestsv1.BreachDuty {
	due := Due(b)
	duty := func(kind requestsv1.BreachDutyKind, status requestsv1.BreachDutyStatus, rules ...string) *requestsv1.BreachDuty {
		return dutyAt(kind, status, due, now, rules...)
	}
	if b.GetPublicCctv() {
		return []*requestsv1.BreachDuty{
			duty(requestsv1.BreachDutyKind_BREACH_DUTY_KIND_NOTICE, requestsv1.BreachDutyStatus_BREACH_DUTY_STATUS_NOT_APPLICABLE, "PIPA-58-2"),
			duty(requestsv1.BreachDutyKind_BREACH_DUTY_KIND_REPORT, requestsv1.BreachDutyStatus_BREACH_DUTY_STATUS_NOT_APPLICABLE, "PIPA-58-2"),
		}
	}
	notice := duty(requestsv1.BreachDutyKind_BREACH_DUTY_KIND_NOTICE, noticeStatus(b), noticeRule(b))
	var report *requestsv1.BreachDuty
	triggers := ReportTriggers(b)
	switch {
	case len(triggers) == 0:
		report = duty(requestsv1.BreachDutyKind_BREACH_DUTY_KIND_REPORT, requestsv1.BreachDutyStatus_BREACH_DUTY_STATUS_NOT_REQUIRED, "PIPA-34-4")
	case b.GetExemptionReason() != "":
		report = duty(requestsv1.BreachDutyKind_BREACH_DUTY_KIND_REPORT, requestsv1.BreachDutyStatus_BREACH_DUTY_STATUS_EXEMPT, "PIPA-34-4")
	default:
		report = duty(requestsv1.BreachDutyKind_BREACH_DUTY_KIND_REPORT, reportStatus(b), append([]string{"PIPA-34-4"}, triggers...)...)
	}
	out := []*requestsv1.BreachDuty{notice, report}
	if p := postingDuty(b, now); p != nil {
		out = append(out, p)
	}
	return out
}

// postingDuty is the posting owed for the subjects b's notices did not reach (DEC-39-3: 연락처를
// 알 수 없는 경우 등, the notice is posted on the body's website for 30 days instead), nil while
// every delivery pipa made reached its subject or is still on its way. It is done once the breach
// is posted and the posting is still up at the last failure (one that ended before does not tell
// the subjects missed since), or once notices by another channel (to_unreached) reached as many. The posting stands
// for the notice, so it is due with the notice (known_time + 72 hours, PIPA-34-1), or at once
// when a delivery failed after that.
func postingDuty(b *requestsv1.Breach, now time.Time) *requestsv1.BreachDuty {
	lost, _ := unreached(b)
	if lost == 0 {
		return nil
	}
	status := requestsv1.BreachDutyStatus_BREACH_DUTY_STATUS_PENDING
	if postedAtLastFailure(b) || Unreached(b) == 0 {
		status = requestsv1.BreachDutyStatus_BREACH_DUTY_STATUS_DONE
	}
	due := Due(b)
	if t := b.GetUnreachedTime(); t != nil && t.AsTime().After(due) {
		due = t.AsTime()
	}
	return dutyAt(requestsv1.BreachDutyKind_BREACH_DUTY_KIND_POSTING, status, due, now, "DEC-39-3", "PIPA-34-1")
}

// postedAtLastFailure: b's posting is up at its last delivery given up (unreached_time for a
// breach stored before last_unreached_time was kept).
func postedAtLastFailure(b *requestsv1.Breach) bool {
	p := b.GetPosting()
	if p == nil {
		return false
	}
	last := b.GetLastUnreachedTime()
	if last == nil {
		last = b.GetUnreachedTime()
	}
	return last == nil || p.GetEndTime().AsTime().After(last.AsTime())
}

// Posted: b has a posting up at now.
func Posted(b *requestsv1.Breach, now time.Time) bool {
	return b.GetPosting() != nil && b.GetPosting().GetEndTime().AsTime().After(now)
}

// UnreachedOwed is Unreached while the posting duty is owed (pending), else 0: the subjects
// neither reached nor told by a posting, as the metrics count them.
func UnreachedOwed(b *requestsv1.Breach, now time.Time) int64 {
	if p := postingDuty(b, now); p == nil || p.GetStatus() != requestsv1.BreachDutyStatus_BREACH_DUTY_STATUS_PENDING {
		return 0
	}
	return Unreached(b)
}

// Unreached is how many subjects b's notices did not reach and nothing reached since: each
// delivery given up of a notice to the subjects (a subject two notices missed counts twice), less
// the recipients reached by the notices to the unreached (to_unreached).
func Unreached(b *requestsv1.Breach) int64 {
	lost, reached := unreached(b)
	return max(0, lost-reached)
}

func unreached(b *requestsv1.Breach) (lost, reached int64) {
	for _, n := range b.GetNotices() {
		if n.GetToUnreached() {
			reached += max(0, n.GetRecipientCount()-n.GetUnreachedCount())
		} else {
			lost += n.GetUnreachedCount()
		}
	}
	return lost, reached
}

// Undelivered records, at now, that pipa gave up a delivery of b's notice i (from 1): its subject
// was not reached. The caller stores b.
func Undelivered(b *requestsv1.Breach, i int, now time.Time) error {
	if i < 1 || i > len(b.GetNotices()) {
		return fmt.Errorf("breach: %s has no notice %d", b.GetName(), i)
	}
	b.Notices[i-1].UnreachedCount++
	if b.GetUnreachedTime() == nil {
		b.UnreachedTime = timestamppb.New(now)
	}
	b.LastUnreachedTime = timestamppb.New(now)
	b.UpdateTime = timestamppb.New(now)
	return nil
}

// DueBasis says in Korean what duty d of b is due from: 72 hours from when b was known, or, for a
// posting owed by a delivery given up after those hours, that failure (due at once).
func DueBasis(b *requestsv1.Breach, d *requestsv1.BreachDuty) string {
	if t := d.GetDueTime(); t != nil && !t.AsTime().Equal(Due(b)) {
		return "통지 실패 시점"
	}
	return "알게 된 때부터 72시간"
}

// dutyAt is a duty of kind in status, due at due, as it stands at now.
func dutyAt(kind requestsv1.BreachDutyKind, status requestsv1.BreachDutyStatus, due, now time.Time, rules ...string) *requestsv1.BreachDuty {
	d := &requestsv1.BreachDuty{Kind: kind, Status: status, Rules: rules}
	if status == requestsv1.BreachDutyStatus_BREACH_DUTY_STATUS_PENDING || status == requestsv1.BreachDutyStatus_BREACH_DUTY_STATUS_INTERIM {
		d.DueTime = timestamppb.New(due)
	}
	if status == requestsv1.BreachDutyStatus_BREACH_DUTY_STATUS_PENDING {
		d.HoursLeft = hoursLeft(due, now)
		d.Overdue = now.After(due)
	}
	return d
}

func noticeRule(b *requestsv1.Breach) string {
	if b.GetType() == requestsv1.BreachType_BREACH_TYPE_POSSIBLE && b.GetPossibleOutcome() == requestsv1.PossibleOutcome_POSSIBLE_OUTCOME_UNSPECIFIED {
		return "PIPA-34-2"
	}
	return "PIPA-34-1"
}

// noticeStatus: a complete notice (or, for a possible breach found to be none, the notice that
// says so) is DONE; an interim or possible-breach notice, or a posting, met the clock but the rest
// follows when known (DEC-39-2, DEC-39의3). A notice to the unreached (to_unreached) went only to
// the subjects an earlier notice missed, so it settles nothing for the others.
func noticeStatus(b *requestsv1.Breach) requestsv1.BreachDutyStatus {
	status := requestsv1.BreachDutyStatus_BREACH_DUTY_STATUS_PENDING
	for _, n := range b.GetNotices() {
		if n.GetToUnreached() {
			continue
		}
		switch n.GetKind() {
		case requestsv1.BreachNoticeKind_BREACH_NOTICE_KIND_COMPLETE, requestsv1.BreachNoticeKind_BREACH_NOTICE_KIND_NO_BREACH:
			return requestsv1.BreachDutyStatus_BREACH_DUTY_STATUS_DONE
		default:
			status = requestsv1.BreachDutyStatus_BREACH_DUTY_STATUS_INTERIM
		}
	}
	if p := b.GetPosting(); p != nil && status == requestsv1.BreachDutyStatus_BREACH_DUTY_STATUS_PENDING {
		status = requestsv1.BreachDutyStatus_BREACH_DUTY_STATUS_INTERIM
	}
	return status
}

func reportStatus(b *requestsv1.Breach) requestsv1.BreachDutyStatus {
	status := requestsv1.BreachDutyStatus_BREACH_DUTY_STATUS_PENDING
	for _, r := range b.GetReports() {
		if !r.GetInterim() {
			return requestsv1.BreachDutyStatus_BREACH_DUTY_STATUS_DONE
		}
		status = requestsv1.BreachDutyStatus_BREACH_DUTY_STATUS_INTERIM
	}
	return status
}

// hoursLeft rounds toward the past: 71 h 59 m left is 71, one minute overdue is -1.
func hoursLeft(due, now time.Time) int64 {
	d := due.Sub(now)
	h := int64(d / time.Hour)
	if d < 0 && d%time.Hour != 0 {
		h--
	}
	return h
}

// Alert is a pending duty of an open breach whose 72-hour clock calls for an alert: due within
// DueSoon (D-24h) or overdue.
type Alert struct {
	Duty    *requestsv1.BreachDuty
	Overdue bool
}

// Alerts are b's pending duties (the notice, PIPA-34-1/34-2; the report, PIPA-34-4) due within
// DueSoon or past due at now; nothing for a closed breach, or a duty done, interim or exempt.
func Alerts(b *requestsv1.Breach, now time.Time) []Alert {
	if b.GetState() != requestsv1.BreachState_BREACH_STATE_OPEN {
		return nil
	}
	var out []Alert
	for _, d := range Duties(b, now) {
		if d.GetStatus() != requestsv1.BreachDutyStatus_BREACH_DUTY_STATUS_PENDING {
			continue
		}
		if d.GetOverdue() || d.GetDueTime().AsTime().Sub(now) <= DueSoon {
			out = append(out, Alert{Duty: d, Overdue: d.GetOverdue()})
		}
	}
	return out
}

// Standing is where an open breach stands on its clocks at now: a duty overdue, one due within
// DueSoon, or neither. A closed breach stands nowhere.
func Standing(b *requestsv1.Breach, now time.Time) (overdue, dueSoon bool) {
	for _, a := range Alerts(b, now) {
		overdue = overdue || a.Overdue
		dueSoon = dueSoon || !a.Overdue
	}
	return overdue, dueSoon && !overdue
}

// View is b as a reader sees it at now: the stored fields with the outputs computed.
func View(b *requestsv1.Breach, now time.Time) *requestsv1.Breach {
	b.NotApplicable = NotApplicable(b)
	b.ReportTriggers = ReportTriggers(b)
	b.Duties = Duties(b, now)
	b.UnreachedSubjects = Unreached(b)
	return b
}

func checkText(vs *apierr.Violations, field, v string, required bool) {
	switch {
	case required && strings.TrimSpace(v) == "":
		vs.Add(field, "required", "must not be empty")
	case len(v) > maxText:
		vs.Add(field, "range", "must be at most %d bytes", maxText)
	case strings.ContainsRune(v, 0):
		vs.Add(field, "format", "must not contain NUL")
	}
}

func checkTime(vs *apierr.Violations, field string, t *timestamppb.Timestamp, required bool) bool {
	if t == nil {
		if required {
			vs.Add(field, "required", "must be set")
		}
		return false
	}
	if err := t.CheckValid(); err != nil {
		vs.Add(field, "format", "not a valid time: %v", err)
		return false
	}
	return true
}
