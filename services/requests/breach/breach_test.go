package breach_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pipa-kr/pipa/pkg/apierr"
	requestsv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/requests/v1"
	"github.com/pipa-kr/pipa/pkg/outbound/sms"
	"github.com/pipa-kr/pipa/services/requests/breach"
)

// Plain tests of the domain: no database, the clock handed in.

var known = time.Date(2026, 12, 4, 22, 30, 0, 0, time.UTC) // a Friday night in Seoul: the weekend does not stop the clock

// mailing is a mis-sent mailing of the library's members list, facts complete.
func mailing(subjects int64) *requestsv1.Breach {
	return &requestsv1.Breach{Type: requestsv1.BreachType_BREACH_TYPE_LEAK, KnownTime: timestamppb.New(known),
		KnownEvidence: "민원 접수 기록 2026-1204-17", OccurTime: timestamppb.New(known.Add(-3 * time.Hour)),
		Circumstances: "회원 안내 메일을 숨은참조 없이 발송", Items: []string{"성명", "전자우편주소"}, SubjectCount: subjects,
		Cause: requestsv1.BreachCause_BREACH_CAUSE_MISTAKE, SubjectActions: "의심스러운 메일의 링크를 열지 마십시오",
		Measures: "수신자에게 삭제 요청, 발송 절차 개선", ReliefProcedure: "피해 신고 시 상담 및 분쟁조정 안내",
		Contact: &requestsv1.BreachContact{Department: "시립도서관 운영팀", Phone: "063-539-6000"}}
}

func intake(t *testing.T, b *requestsv1.Breach) *requestsv1.Breach {
	t.Helper()
	out, err := breach.Intake(b, known.Add(time.Hour))
	require.NoError(t, err)
	out.Name = "tenants/jeongeup/units/library/breaches/1"
	return out
}

func violation(t *testing.T, err error) apierr.Violation {
	t.Helper()
	var e *apierr.Error
	require.True(t, errors.As(err, &e), "%v", err)
	require.NotEmpty(t, e.Violations, "%v", err)
	return e.Violations[0]
}

func reason(t *testing.T, err error) string {
	t.Helper()
	var e *apierr.Error
	require.True(t, errors.As(err, &e), "%v", err)
	return e.Reason
}

func duty(b *requestsv1.Breach, kind requestsv1.BreachDutyKind, now time.Time) *requestsv1.BreachDuty {
	for _, d := range breach.Duties(b, now) {
		if d.GetKind() == kind {
			return d
		}
	}
	return nil
}

// PIPA-34-4 / DEC-40-1 1: the report is a duty from 1,000 subjects, not at 999.
func TestReportThresholdSubjects(t *testing.T) {
	require.Empty(t, breach.ReportTriggers(intake(t, mailing(999))))
	b := intake(t, mailing(1000))
	require.Len(t, breach.ReportTriggers(b), 1)
	require.Contains(t, breach.ReportTriggers(b)[0], "DEC-40-1 1")
	require.Equal(t, requestsv1.BreachDutyStatus_BREACH_DUTY_STATUS_NOT_REQUIRED,
		duty(intake(t, mailing(999)), requestsv1.BreachDutyKind_BREACH_DUTY_KIND_REPORT, known).GetStatus())
	require.Equal(t, requestsv1.BreachDutyStatus_BREACH_DUTY_STATUS_PENDING,
		duty(b, requestsv1.BreachDutyKind_BREACH_DUTY_KIND_REPORT, known).GetStatus())
}

// DEC-40-1 2 and 3: sensitive data or unique identifiers, and external unlawful access, whatever the count.
func TestReportThresholdKinds(t *testing.T) {
	b := mailing(3)
	b.UniqueIdentifiers = true
	require.Contains(t, breach.ReportTriggers(intake(t, b))[0], "DEC-40-1 2")
	b = mailing(3)
	b.Cause = requestsv1.BreachCause_BREACH_CAUSE_EXTERNAL_UNLAWFUL_ACCESS
	require.Contains(t, breach.ReportTriggers(intake(t, b))[0], "DEC-40-1 3")
}

// PIPA-34-1: 72 hours from known_time, counted in hours over a weekend; 71 h 59 m in, one minute
// is left; at 72 h the notice is still on time; a minute later it is overdue, and a notice then
// needs the proof of when the breach was known (STD-26-4).
func TestNoticeClockBoundary(t *testing.T) {
	b := intake(t, mailing(10))
	d := duty(b, requestsv1.BreachDutyKind_BREACH_DUTY_KIND_NOTICE, known.Add(71*time.Hour+59*time.Minute))
	require.Equal(t, known.Add(72*time.Hour), d.GetDueTime().AsTime())
	require.False(t, d.GetOverdue())
	require.Equal(t, int64(0), d.GetHoursLeft())
	overdue, soon := breach.Standing(b, known.Add(71*time.Hour+59*time.Minute))
	require.False(t, overdue)
	require.True(t, soon)

	require.False(t, duty(b, requestsv1.BreachDutyKind_BREACH_DUTY_KIND_NOTICE, known.Add(72*time.Hour)).GetOverdue())
	late := duty(b, requestsv1.BreachDutyKind_BREACH_DUTY_KIND_NOTICE, known.Add(72*time.Hour+time.Minute))
	require.True(t, late.GetOverdue())
	require.Equal(t, int64(-1), late.GetHoursLeft())
	require.Equal(t, int64(72), duty(b, requestsv1.BreachDutyKind_BREACH_DUTY_KIND_NOTICE, known).GetHoursLeft())

	env := breach.Env{Now: known.Add(80 * time.Hour), Officer: "주무관 김담당", Institution: "정읍시립도서관"}
	onTime := proto.CloneOf(b)
	_, err := breach.Apply(onTime, breach.Notify{Method: requestsv1.BreachNoticeMethod_BREACH_NOTICE_METHOD_EMAIL,
		SendTime: timestamppb.New(known.Add(72 * time.Hour)), Count: 10}, env)
	require.NoError(t, err)
	require.False(t, onTime.GetNotices()[0].GetLate())
	noEvidence := proto.CloneOf(b)
	noEvidence.KnownEvidence = ""
	_, err = breach.Apply(noEvidence, breach.Notify{Method: requestsv1.BreachNoticeMethod_BREACH_NOTICE_METHOD_EMAIL,
		SendTime: timestamppb.New(known.Add(72*time.Hour + time.Minute)), Count: 10}, env)
	require.Equal(t, "STD-26-4", violation(t, err).Rule)
	_, err = breach.Apply(b, breach.Notify{Method: requestsv1.BreachNoticeMethod_BREACH_NOTICE_METHOD_EMAIL,
		SendTime: timestamppb.New(known.Add(72*time.Hour + time.Minute)), Count: 10}, env)
	require.NoError(t, err)
	require.True(t, b.GetNotices()[0].GetLate())
	require.Equal(t, requestsv1.BreachDutyStatus_BREACH_DUTY_STATUS_DONE,
		duty(b, requestsv1.BreachDutyKind_BREACH_DUTY_KIND_NOTICE, env.Now).GetStatus())
}

// The complete notice carries all six items of PIPA-34-1 (DEC-39-1); one without item 3 is refused naming
// the field and the rule; with items 1–2 unknown it is an interim notice (DEC-39-2) that says so.
func TestNoticeItems(t *testing.T) {
	env := breach.Env{Now: known.Add(2 * time.Hour), Officer: "주무관 김담당", Institution: "정읍시립도서관"}
	b := intake(t, mailing(10))
	b.SubjectActions = ""
	_, err := breach.Apply(b, breach.Notify{Method: requestsv1.BreachNoticeMethod_BREACH_NOTICE_METHOD_SMS}, env)
	v := violation(t, err)
	require.Equal(t, "breach.subject_actions", v.Field)
	require.Equal(t, "PIPA-34-1", v.Rule)
	require.Empty(t, b.GetNotices(), "a refused notice changes nothing")

	b = intake(t, mailing(10))
	_, err = breach.Apply(b, breach.Notify{Method: requestsv1.BreachNoticeMethod_BREACH_NOTICE_METHOD_SMS, Count: 10}, env)
	require.NoError(t, err)
	text := b.GetNotices()[0].GetText()
	require.Equal(t, requestsv1.BreachNoticeKind_BREACH_NOTICE_KIND_COMPLETE, b.GetNotices()[0].GetKind())
	for _, want := range []string{"1. 유출등이 된 개인정보의 항목: 성명, 전자우편주소", "2. 유출등이 된 시점과 그 경위: 2026. 12. 5. 04:30, 회원 안내 메일",
		"3. ", "4. ", "5. 피해가 발생한 경우 신고 등을 접수할 수 있는 담당부서 및 연락처: 시립도서관 운영팀, 063-539-6000", "6. 정보주체의 권리: 개인정보 보호법 제39조"} {
		require.Contains(t, text, want)
	}

	partial := mailing(0)
	partial.Items, partial.OccurTime = nil, nil
	b = intake(t, partial)
	_, err = breach.Apply(b, breach.Notify{Method: requestsv1.BreachNoticeMethod_BREACH_NOTICE_METHOD_WRITING, Count: 1}, env)
	require.NoError(t, err)
	require.Equal(t, requestsv1.BreachNoticeKind_BREACH_NOTICE_KIND_INTERIM, b.GetNotices()[0].GetKind())
	require.Contains(t, b.GetNotices()[0].GetText(), "현재 확인 중")
	require.Equal(t, requestsv1.BreachDutyStatus_BREACH_DUTY_STATUS_INTERIM,
		duty(b, requestsv1.BreachDutyKind_BREACH_DUTY_KIND_NOTICE, env.Now).GetStatus())
	_, err = breach.Apply(b, breach.Close{}, env)
	require.Equal(t, "PIPA-34-1", violation(t, err).Rule, "closing needs the complete notice")
}

// A report that a threshold requires is made, or exempted with its reason; closing without
// either is refused naming PIPA-34-4 (DEC-40). The report renders the 별지 제1호 rows (STD-28).
func TestReportOrExemption(t *testing.T) {
	env := breach.Env{Now: known.Add(5 * time.Hour), Officer: "주무관 김담당", Institution: "정읍시립도서관"}
	b := intake(t, mailing(1000))
	_, err := breach.Apply(b, breach.Notify{Method: requestsv1.BreachNoticeMethod_BREACH_NOTICE_METHOD_EMAIL, Count: 1000}, env)
	require.NoError(t, err)
	_, err = breach.Apply(b, breach.Close{}, env)
	require.Equal(t, "PIPA-34-4", violation(t, err).Rule)

	exempt := proto.CloneOf(b)
	_, err = breach.Apply(exempt, breach.Exempt{RouteIdentified: true, Reason: "수신자 전원 삭제 확인"}, env)
	require.Equal(t, "retrieved_or_deleted", violation(t, err).Field)
	_, err = breach.Apply(exempt, breach.Exempt{RouteIdentified: true, RetrievedOrDeleted: true, Reason: "수신자 전원 삭제 확인"}, env)
	require.NoError(t, err)
	_, err = breach.Apply(exempt, breach.Close{}, env)
	require.NoError(t, err)
	require.Equal(t, requestsv1.BreachState_BREACH_STATE_CLOSED, exempt.GetState())

	_, err = breach.Apply(b, breach.Report{Agency: requestsv1.BreachAgency_BREACH_AGENCY_KISA}, env)
	require.NoError(t, err)
	r := b.GetReports()[0]
	require.False(t, r.GetInterim())
	for _, want := range []string{"개인정보 유출등 신고서", "수신: 한국인터넷진흥원", "기관명 | 정읍시립도서관", "유출등이 된 정보주체의 수 | 1000명",
		"신고 사유 | DEC-40-1 1", "정보주체에 대한 통지 여부 | 통지 "} {
		require.Contains(t, r.GetText(), want)
	}
	_, err = breach.Apply(b, breach.Close{}, env)
	require.NoError(t, err)
	_, err = breach.Apply(b, breach.Notify{Method: requestsv1.BreachNoticeMethod_BREACH_NOTICE_METHOD_EMAIL}, env)
	require.Error(t, err, "a closed breach takes no step")

	small := intake(t, mailing(5))
	_, err = breach.Apply(small, breach.Exempt{RouteIdentified: true, RetrievedOrDeleted: true, Reason: "x"}, env)
	require.ErrorContains(t, err, "no threshold")
}

// PIPA-58-2: Art 34 does not apply to fixed CCTV in a public place; the breach says which duties
// do not apply, none runs a clock, and it closes without notice or report.
func TestPublicCCTVOutsideArticle34(t *testing.T) {
	b := mailing(5000)
	b.PublicCctv = true
	got := breach.View(intake(t, b), known.Add(100*time.Hour))
	require.Empty(t, got.GetReportTriggers())
	require.NotEmpty(t, got.GetNotApplicable())
	require.Contains(t, got.GetNotApplicable()[0], "PIPA-58-2")
	for _, d := range got.GetDuties() {
		require.Equal(t, requestsv1.BreachDutyStatus_BREACH_DUTY_STATUS_NOT_APPLICABLE, d.GetStatus())
		require.False(t, d.GetOverdue())
	}
	_, err := breach.Apply(got, breach.Close{}, breach.Env{Now: known.Add(100 * time.Hour)})
	require.NoError(t, err)
}

// PIPA-34-2, DEC-39의2/의3: a possible breach names its trigger, its notice promises a follow-up,
// and it closes once confirmed (then the complete notice) or found to be none (then that notice).
func TestPossibleBreach(t *testing.T) {
	env := breach.Env{Now: known.Add(time.Hour), Officer: "주무관 김담당", Institution: "정읍시립도서관"}
	b := mailing(0)
	b.Type, b.Items, b.OccurTime = requestsv1.BreachType_BREACH_TYPE_POSSIBLE, nil, nil
	b.Cause = requestsv1.BreachCause_BREACH_CAUSE_EXTERNAL_UNLAWFUL_ACCESS
	_, err := breach.Intake(b, env.Now)
	require.Equal(t, "breach.possible_trigger", violation(t, err).Field)
	b.PossibleTrigger = requestsv1.PossibleTrigger_POSSIBLE_TRIGGER_SUBJECTS_UNIDENTIFIED
	got := intake(t, b)
	_, err = breach.Apply(got, breach.Notify{Method: requestsv1.BreachNoticeMethod_BREACH_NOTICE_METHOD_EMAIL, Count: 300}, env)
	require.NoError(t, err)
	require.Equal(t, requestsv1.BreachNoticeKind_BREACH_NOTICE_KIND_POSSIBLE, got.GetNotices()[0].GetKind())
	require.Contains(t, got.GetNotices()[0].GetText(), "다시 알려드리겠습니다")
	_, err = breach.Apply(got, breach.Close{}, env)
	require.Equal(t, "DEC-39의3", violation(t, err).Rule)

	_, err = breach.Apply(got, breach.Complete{Facts: &requestsv1.Breach{PossibleOutcome: requestsv1.PossibleOutcome_POSSIBLE_OUTCOME_NO_BREACH}}, env)
	require.NoError(t, err)
	require.Empty(t, breach.ReportTriggers(got), "no breach, nothing to report")
	_, err = breach.Apply(got, breach.Notify{Method: requestsv1.BreachNoticeMethod_BREACH_NOTICE_METHOD_EMAIL, Count: 300}, env)
	require.NoError(t, err)
	require.Equal(t, requestsv1.BreachNoticeKind_BREACH_NOTICE_KIND_NO_BREACH, got.GetNotices()[1].GetKind())
	_, err = breach.Apply(got, breach.Close{}, env)
	require.NoError(t, err)
}

// Registration refuses what it cannot take, naming the field and the rule.
func TestIntakeRefusals(t *testing.T) {
	now := known.Add(time.Hour)
	b := mailing(10)
	b.Type = requestsv1.BreachType_BREACH_TYPE_UNSPECIFIED
	_, err := breach.Intake(b, now)
	require.Equal(t, "PIPA-23-2", violation(t, err).Rule)
	b = mailing(10)
	b.KnownTime = timestamppb.New(now.Add(time.Minute))
	_, err = breach.Intake(b, now)
	require.Equal(t, "breach.known_time", violation(t, err).Field)
	// PIPA-34-1: known before the Act took effect is a mistyped year, not a breach of Art 34.
	b = mailing(10)
	b.KnownTime = timestamppb.New(time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC))
	_, err = breach.Intake(b, now)
	require.Equal(t, "breach.known_time", violation(t, err).Field)
	require.Equal(t, "PIPA-34-1", violation(t, err).Rule)
	b.KnownTime = timestamppb.New(time.Date(2011, 9, 29, 14, 59, 59, 0, time.UTC))
	_, err = breach.Intake(b, now)
	require.Equal(t, "PIPA-34-1", violation(t, err).Rule)
	b.KnownTime, b.OccurTime = timestamppb.New(time.Date(2011, 9, 29, 15, 0, 0, 0, time.UTC)), nil
	_, err = breach.Intake(b, now)
	require.NoError(t, err, "known from the first day of the Act")
	b = mailing(-1)
	_, err = breach.Intake(b, now)
	require.Equal(t, "breach.subject_count", violation(t, err).Field)
	b = mailing(10)
	b.Contact = &requestsv1.BreachContact{Department: "운영팀"}
	_, err = breach.Intake(b, now)
	require.Equal(t, "PIPA-34-1", violation(t, err).Rule)
}

// The alerts of the 72-hour clock (PIPA-34-1, PIPA-34-4): none before D-24h (47 h 59 m after the
// breach was known), D-24h from 48 h to 72 h, overdue after 72 h; a report's clock alerts only
// when a threshold makes the report a duty (999 subjects: none; 1,000: both); a duty done alerts
// no more, nor does a closed breach.
func TestAlerts(t *testing.T) {
	b := intake(t, mailing(999))
	require.Empty(t, breach.Alerts(b, known.Add(47*time.Hour+59*time.Minute)))
	at48 := breach.Alerts(b, known.Add(48*time.Hour))
	require.Len(t, at48, 1)
	require.Equal(t, requestsv1.BreachDutyKind_BREACH_DUTY_KIND_NOTICE, at48[0].Duty.GetKind())
	require.False(t, at48[0].Overdue)
	require.False(t, breach.Alerts(b, known.Add(72*time.Hour))[0].Overdue)
	require.True(t, breach.Alerts(b, known.Add(72*time.Hour+time.Minute))[0].Overdue)

	big := intake(t, mailing(1000))
	kinds := func(as []breach.Alert) []requestsv1.BreachDutyKind {
		var out []requestsv1.BreachDutyKind
		for _, a := range as {
			out = append(out, a.Duty.GetKind())
		}
		return out
	}
	require.Equal(t, []requestsv1.BreachDutyKind{requestsv1.BreachDutyKind_BREACH_DUTY_KIND_NOTICE, requestsv1.BreachDutyKind_BREACH_DUTY_KIND_REPORT},
		kinds(breach.Alerts(big, known.Add(73*time.Hour))))

	env := breach.Env{Now: known.Add(50 * time.Hour), Officer: "주무관 김담당", Institution: "정읍시립도서관"}
	_, err := breach.Apply(b, breach.Notify{Method: requestsv1.BreachNoticeMethod_BREACH_NOTICE_METHOD_EMAIL,
		SendTime: timestamppb.New(env.Now), Count: 999}, env)
	require.NoError(t, err)
	require.Empty(t, breach.Alerts(b, known.Add(80*time.Hour)), "the notice is done")
	big.State = requestsv1.BreachState_BREACH_STATE_CLOSED
	require.Empty(t, breach.Alerts(big, known.Add(80*time.Hour)), "a closed breach")
}

// DEC-17-5: a notice says how it was sent (서면등); without a method it is refused and nothing is
// recorded.
func TestNoticeMethodRequired(t *testing.T) {
	env := breach.Env{Now: known.Add(2 * time.Hour), Officer: "주무관 김담당", Institution: "정읍시립도서관"}
	b := intake(t, mailing(10))
	_, err := breach.Apply(b, breach.Notify{Count: 10}, env)
	v := violation(t, err)
	require.Equal(t, "method", v.Field)
	require.Equal(t, "DEC-17-5", v.Rule)
	require.Empty(t, b.GetNotices())
}

// DEC-39-3: a notice pipa sent that did not reach a subject (its delivery given up) owes the
// posting, due with the notice at known_time + 72 h, or at once when the delivery failed later;
// the breach does not close until it is posted or a notice by another channel reached as many
// (to_unreached, whose own failures reach no one). A subject two notices missed counts twice.
func TestUnreachedSubjectsOweThePosting(t *testing.T) {
	env := breach.Env{Now: known.Add(2 * time.Hour), Institution: "정읍시립도서관", Path: "/p/jeongeup/library/notices/1", SendsMail: true, SendsText: true}
	b := intake(t, mailing(3))
	_, err := breach.Apply(b, breach.Notify{Method: requestsv1.BreachNoticeMethod_BREACH_NOTICE_METHOD_EMAIL,
		Emails: []string{"a@example.kr", "b@example.kr", "c@example.kr"}}, env)
	require.NoError(t, err)
	require.Nil(t, duty(b, requestsv1.BreachDutyKind_BREACH_DUTY_KIND_POSTING, env.Now), "no posting is owed while every delivery may arrive")
	_, err = breach.Apply(b, breach.Notify{Method: requestsv1.BreachNoticeMethod_BREACH_NOTICE_METHOD_PHONE, Count: 1, ToUnreached: true}, env)
	require.Equal(t, "to_unreached", violation(t, err).Field, "nobody is unreached yet")
	require.Equal(t, "DEC-39-3", violation(t, err).Rule)

	require.NoError(t, breach.Undelivered(b, 1, known.Add(3*time.Hour)))
	require.NoError(t, breach.Undelivered(b, 1, known.Add(4*time.Hour)))
	require.Error(t, breach.Undelivered(b, 2, known), "there is no notice 2")
	require.EqualValues(t, 2, breach.Unreached(b))
	require.Equal(t, known.Add(3*time.Hour), b.GetUnreachedTime().AsTime(), "the first failure")
	p := duty(b, requestsv1.BreachDutyKind_BREACH_DUTY_KIND_POSTING, known.Add(71*time.Hour+59*time.Minute))
	require.Equal(t, requestsv1.BreachDutyStatus_BREACH_DUTY_STATUS_PENDING, p.GetStatus())
	require.Equal(t, breach.Due(b), p.GetDueTime().AsTime(), "due with the notice")
	require.False(t, p.GetOverdue())
	require.Equal(t, []string{"DEC-39-3", "PIPA-34-1"}, p.GetRules())
	require.True(t, duty(b, requestsv1.BreachDutyKind_BREACH_DUTY_KIND_POSTING, known.Add(72*time.Hour+time.Minute)).GetOverdue())
	overdue, _ := breach.Standing(b, known.Add(73*time.Hour))
	require.True(t, overdue, "lists and metrics count it")

	env.Now = known.Add(5 * time.Hour)
	_, err = breach.Apply(b, breach.Close{}, env)
	require.Equal(t, "UNREACHED_SUBJECTS", reason(t, err))
	require.Equal(t, "DEC-39-3", violation(t, err).Rule)

	// Reached by phone, one of the two: still one owed.
	_, err = breach.Apply(b, breach.Notify{Method: requestsv1.BreachNoticeMethod_BREACH_NOTICE_METHOD_PHONE, ToUnreached: true}, env)
	require.Equal(t, "recipient_count", violation(t, err).Field, "how many it reached")
	_, err = breach.Apply(b, breach.Notify{Method: requestsv1.BreachNoticeMethod_BREACH_NOTICE_METHOD_PHONE, Count: 3, ToUnreached: true}, env)
	require.Equal(t, "recipient_count", violation(t, err).Field, "at most the 2 unreached")
	require.Equal(t, "DEC-39-3", violation(t, err).Rule)
	require.Len(t, b.GetNotices(), 1)
	_, err = breach.Apply(b, breach.Notify{Method: requestsv1.BreachNoticeMethod_BREACH_NOTICE_METHOD_PHONE, Count: 1, ToUnreached: true}, env)
	require.NoError(t, err)
	require.True(t, b.GetNotices()[1].GetToUnreached())
	require.EqualValues(t, 1, breach.Unreached(b))
	_, err = breach.Apply(b, breach.Close{}, env)
	require.Equal(t, "UNREACHED_SUBJECTS", reason(t, err))

	// A text message to the last one, given up: it reached no one.
	_, err = breach.Apply(b, breach.Notify{Method: requestsv1.BreachNoticeMethod_BREACH_NOTICE_METHOD_SMS, Phones: []string{"010-1234-5678"}, ToUnreached: true}, env)
	require.NoError(t, err)
	require.EqualValues(t, 0, breach.Unreached(b))
	require.NoError(t, breach.Undelivered(b, 3, known.Add(6*time.Hour)))
	require.EqualValues(t, 1, breach.Unreached(b))

	posted := proto.CloneOf(b)
	_, err = breach.Apply(posted, breach.Post{UnreachableReason: "전자우편 반송, 연락처 없음"}, env)
	require.NoError(t, err)
	require.Equal(t, requestsv1.BreachDutyStatus_BREACH_DUTY_STATUS_DONE, duty(posted, requestsv1.BreachDutyKind_BREACH_DUTY_KIND_POSTING, env.Now).GetStatus())
	_, err = breach.Apply(posted, breach.Close{}, env)
	require.NoError(t, err)

	_, err = breach.Apply(b, breach.Notify{Method: requestsv1.BreachNoticeMethod_BREACH_NOTICE_METHOD_WRITING, Count: 1, ToUnreached: true}, env)
	require.NoError(t, err)
	require.Equal(t, requestsv1.BreachDutyStatus_BREACH_DUTY_STATUS_DONE, duty(b, requestsv1.BreachDutyKind_BREACH_DUTY_KIND_POSTING, env.Now).GetStatus())
	_, err = breach.Apply(b, breach.Close{}, env)
	require.NoError(t, err, "reached by post instead")

	// A delivery given up after the 72 hours: the posting is due at once.
	late := intake(t, mailing(1))
	late.Notices = []*requestsv1.BreachNotice{{Kind: requestsv1.BreachNoticeKind_BREACH_NOTICE_KIND_COMPLETE, RecipientCount: 1}}
	require.NoError(t, breach.Undelivered(late, 1, known.Add(80*time.Hour)))
	p = duty(late, requestsv1.BreachDutyKind_BREACH_DUTY_KIND_POSTING, known.Add(80*time.Hour))
	require.Equal(t, known.Add(80*time.Hour), p.GetDueTime().AsTime())
	require.EqualValues(t, 0, p.GetHoursLeft())
	require.Equal(t, "통지 실패 시점", breach.DueBasis(late, p), "alerts and obligations do not say 72 hours")
	require.Equal(t, "알게 된 때부터 72시간", breach.DueBasis(late, duty(late, requestsv1.BreachDutyKind_BREACH_DUTY_KIND_NOTICE, known)))

	// Two notices missing the same subject count twice: the posting covers both.
	twice := intake(t, mailing(1))
	twice.Notices = []*requestsv1.BreachNotice{{RecipientCount: 1}, {RecipientCount: 1}}
	require.NoError(t, breach.Undelivered(twice, 1, known))
	require.NoError(t, breach.Undelivered(twice, 2, known))
	require.EqualValues(t, 2, breach.View(twice, known).GetUnreachedSubjects())
}

// DEC-39-3: a posting tells the subjects a notice missed only while it is up: a delivery given up
// after it ended owes the posting again, and the ended posting may be replaced; one still up may
// not. The metrics' count follows the duty.
func TestPostingUpAtTheLastFailure(t *testing.T) {
	day := 24 * time.Hour
	env := breach.Env{Now: known.Add(2 * time.Hour), Institution: "정읍시립도서관", Path: "/p/jeongeup/library/notices/1"}
	b := intake(t, mailing(3))
	b.Notices = []*requestsv1.BreachNotice{{Kind: requestsv1.BreachNoticeKind_BREACH_NOTICE_KIND_COMPLETE, RecipientCount: 3}}
	require.NoError(t, breach.Undelivered(b, 1, env.Now))
	require.EqualValues(t, 1, breach.UnreachedOwed(b, env.Now))
	_, err := breach.Apply(b, breach.Post{UnreachableReason: "연락처 없음"}, env)
	require.NoError(t, err)
	require.Zero(t, breach.UnreachedOwed(b, env.Now))
	env.Now = known.Add(20 * day)
	_, err = breach.Apply(b, breach.Post{UnreachableReason: "연락처 없음"}, env)
	require.Equal(t, "ALREADY_POSTED", reason(t, err), "still up")
	require.NoError(t, breach.Undelivered(b, 1, env.Now), "a failure while it is up")
	require.Equal(t, requestsv1.BreachDutyStatus_BREACH_DUTY_STATUS_DONE, duty(b, requestsv1.BreachDutyKind_BREACH_DUTY_KIND_POSTING, env.Now).GetStatus())

	env.Now = known.Add(40 * day)
	require.NoError(t, breach.Undelivered(b, 1, env.Now), "a failure after it ended")
	require.Equal(t, env.Now, b.GetLastUnreachedTime().AsTime())
	require.Equal(t, known.Add(2*time.Hour), b.GetUnreachedTime().AsTime(), "the first failure is kept")
	require.Equal(t, requestsv1.BreachDutyStatus_BREACH_DUTY_STATUS_PENDING, duty(b, requestsv1.BreachDutyKind_BREACH_DUTY_KIND_POSTING, env.Now).GetStatus())
	require.EqualValues(t, 3, breach.UnreachedOwed(b, env.Now))
	_, err = breach.Apply(b, breach.Close{}, env)
	require.Equal(t, "UNREACHED_SUBJECTS", reason(t, err))
	_, err = breach.Apply(b, breach.Post{UnreachableReason: "전자우편 반송"}, env)
	require.NoError(t, err, "the ended posting is replaced")
	require.Equal(t, env.Now, b.GetPosting().GetStartTime().AsTime())
	_, err = breach.Apply(b, breach.Close{}, env)
	require.NoError(t, err)
}

// PIPA-34-1, DEC-39-2: the complete notice sent only to the subjects an interim notice missed
// (to_unreached) does not tell the others: the notice duty stays interim and the breach open.
func TestCompleteNoticeToUnreachedOnly(t *testing.T) {
	env := breach.Env{Now: known.Add(80 * time.Hour), Institution: "정읍시립도서관"}
	b := intake(t, mailing(1000))
	b.ExemptionReason = "신고 완료"
	b.Notices = []*requestsv1.BreachNotice{
		{Kind: requestsv1.BreachNoticeKind_BREACH_NOTICE_KIND_INTERIM, RecipientCount: 1000, UnreachedCount: 2},
		{Kind: requestsv1.BreachNoticeKind_BREACH_NOTICE_KIND_COMPLETE, RecipientCount: 2, ToUnreached: true},
	}
	require.Equal(t, requestsv1.BreachDutyStatus_BREACH_DUTY_STATUS_INTERIM, duty(b, requestsv1.BreachDutyKind_BREACH_DUTY_KIND_NOTICE, env.Now).GetStatus())
	_, err := breach.Apply(b, breach.Close{}, env)
	require.Equal(t, "NOTICE_REQUIRED", reason(t, err))
	require.Equal(t, "PIPA-34-1", violation(t, err).Rule)
}

// PIPA-34-1, DEC-17-5: the subjects' mobile numbers (method SMS) are read in their usual forms
// and sent as digits, and refused while no text-message provider is configured; anything else is refused naming the field and the rule, without repeating
// what was given; the notice must fit one text message with every item (DEC-39-1).
func TestNoticeByText(t *testing.T) {
	env := breach.Env{Now: known.Add(time.Hour), Institution: "정읍시립도서관", SendsMail: true, SendsText: true}
	sms := requestsv1.BreachNoticeMethod_BREACH_NOTICE_METHOD_SMS
	for _, tc := range []struct {
		n           breach.Notify
		field, rule string
	}{
		{breach.Notify{Method: requestsv1.BreachNoticeMethod_BREACH_NOTICE_METHOD_EMAIL, Phones: []string{"01012345678"}}, "recipient_phones", "DEC-17-5"},
		{breach.Notify{Method: sms, Phones: []string{"01012345678", "063-539-6000"}}, "recipient_phones[1]", "format"},
		{breach.Notify{Method: sms, Phones: []string{"01012345678", "010-555-6666"}}, "recipient_phones[1]", "format"},
		{breach.Notify{Method: sms, Phones: []string{"01012345678", "+82 10-1234-5678"}}, "recipient_phones[1]", "unique"},
		{breach.Notify{Method: sms, Phones: make([]string, breach.MaxRecipients+1)}, "recipient_phones", "max"},
		{breach.Notify{Method: sms, Phones: []string{"01012345678"}, SendTime: timestamppb.New(known)}, "send_time", "PIPA-34-1"},
	} {
		b := intake(t, mailing(3))
		_, err := breach.Apply(b, tc.n, env)
		v := violation(t, err)
		require.Equal(t, tc.field, v.Field, "%+v", tc.n)
		require.Equal(t, tc.rule, v.Rule, "%+v", tc.n)
		if last := tc.n.Phones[len(tc.n.Phones)-1]; last != "" {
			require.NotContains(t, err.Error(), last, "a refusal repeats no number")
		}
		require.Empty(t, b.GetNotices())
	}

	b := intake(t, mailing(3))
	out, err := breach.Apply(b, breach.Notify{Method: sms, Phones: []string{"010-1234-5678", "+82 10 9876 5432", "0169876543"}}, env)
	require.NoError(t, err)
	require.Equal(t, []string{"01012345678", "01098765432", "0169876543"}, out.Mail.To)
	require.True(t, out.Mail.ByText)
	require.Equal(t, b.GetNotices()[0].GetText(), out.Mail.Text)
	require.EqualValues(t, 3, b.GetNotices()[0].GetRecipientCount())
	require.NotContains(t, out.Note, "5678", "the ledger's note counts, it does not name")

	unsent := intake(t, mailing(3))
	_, err = breach.Apply(unsent, breach.Notify{Method: sms, Phones: []string{"01012345678"}}, breach.Env{Now: env.Now, Institution: env.Institution})
	require.Equal(t, "SMS_NOT_CONFIGURED", reason(t, err), "no provider: the notice would not leave")
	require.Equal(t, "recipient_phones", violation(t, err).Field)
	require.Equal(t, "DEC-17-5", violation(t, err).Rule)
	require.Empty(t, unsent.GetNotices())
	_, err = breach.Apply(unsent, breach.Notify{Method: requestsv1.BreachNoticeMethod_BREACH_NOTICE_METHOD_EMAIL, Emails: []string{"a@example.kr"}},
		breach.Env{Now: env.Now, Institution: env.Institution, SendsText: true})
	require.Equal(t, "MAIL_NOT_CONFIGURED", reason(t, err), "no relay: the notice would not leave")
	require.Equal(t, "recipient_emails", violation(t, err).Field)
	require.Equal(t, "DEC-17-5", violation(t, err).Rule)
	require.Empty(t, unsent.GetNotices())

	long := intake(t, mailing(3))
	long.Measures = strings.Repeat("가", 1000)
	_, err = breach.Apply(long, breach.Notify{Method: sms, Phones: []string{"01012345678"}}, env)
	require.Equal(t, "recipient_phones", violation(t, err).Field)
	require.Equal(t, "DEC-39-1", violation(t, err).Rule)
	_, err = breach.Apply(long, breach.Notify{Method: requestsv1.BreachNoticeMethod_BREACH_NOTICE_METHOD_EMAIL, Emails: []string{"a@example.kr"}}, env)
	require.NoError(t, err, "a mail has no such bound")
}

// DEC-39-1: a text message carries every item, so the notice must fit one message: exactly
// sms.MaxBytes is sent, one byte more is refused.
func TestNoticeByTextBound(t *testing.T) {
	env := breach.Env{Now: known.Add(time.Hour), Institution: "정읍시립도서관", SendsMail: true, SendsText: true}
	sized := func(bytes int) *requestsv1.Breach {
		b := intake(t, mailing(3))
		b.Measures = "x"
		base := sms.Bytes(breach.NoticeText(b, breach.NoticeKind(b), env.Institution))
		b.Measures = strings.Repeat("x", bytes-base+1)
		require.Equal(t, bytes, sms.Bytes(breach.NoticeText(b, breach.NoticeKind(b), env.Institution)))
		return b
	}
	n := breach.Notify{Method: requestsv1.BreachNoticeMethod_BREACH_NOTICE_METHOD_SMS, Phones: []string{"01012345678"}}
	_, err := breach.Apply(sized(sms.MaxBytes), n, env)
	require.NoError(t, err)
	over := sized(sms.MaxBytes + 1)
	_, err = breach.Apply(over, n, env)
	require.Equal(t, "recipient_phones", violation(t, err).Field)
	require.Equal(t, "DEC-39-1", violation(t, err).Rule)
	require.Empty(t, over.GetNotices())
}
