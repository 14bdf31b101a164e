package breach

import (
	"fmt"
	"strings"
	"time"

	requestsv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/requests/v1"
	"github.com/pipa-kr/pipa/pkg/seoul"
)

var typeLabel = map[requestsv1.BreachType]string{
	requestsv1.BreachType_BREACH_TYPE_LEAK:       "유출",
	requestsv1.BreachType_BREACH_TYPE_ALTERATION: "위조·변조·훼손",
	requestsv1.BreachType_BREACH_TYPE_LOSS_THEFT: "분실·도난",
	requestsv1.BreachType_BREACH_TYPE_POSSIBLE:   "유출등 가능성",
}

var causeLabel = map[requestsv1.BreachCause]string{
	requestsv1.BreachCause_BREACH_CAUSE_EXTERNAL_UNLAWFUL_ACCESS: "외부로부터의 불법적인 접근",
	requestsv1.BreachCause_BREACH_CAUSE_INSIDER:                  "내부자에 의한 유출",
	requestsv1.BreachCause_BREACH_CAUSE_MISTAKE:                  "업무 과실",
	requestsv1.BreachCause_BREACH_CAUSE_LOSS_THEFT:               "분실·도난",
	requestsv1.BreachCause_BREACH_CAUSE_OTHER:                    "기타",
}

var noticeLabel = map[requestsv1.BreachNoticeKind]string{
	requestsv1.BreachNoticeKind_BREACH_NOTICE_KIND_INTERIM:   "우선 통지",
	requestsv1.BreachNoticeKind_BREACH_NOTICE_KIND_COMPLETE:  "통지",
	requestsv1.BreachNoticeKind_BREACH_NOTICE_KIND_POSSIBLE:  "유출등 가능성 통지",
	requestsv1.BreachNoticeKind_BREACH_NOTICE_KIND_NO_BREACH: "유출등 아님 통지",
}

var methodLabel = map[requestsv1.BreachNoticeMethod]string{
	requestsv1.BreachNoticeMethod_BREACH_NOTICE_METHOD_WRITING: "서면",
	requestsv1.BreachNoticeMethod_BREACH_NOTICE_METHOD_EMAIL:   "전자우편",
	requestsv1.BreachNoticeMethod_BREACH_NOTICE_METHOD_FAX:     "팩스",
	requestsv1.BreachNoticeMethod_BREACH_NOTICE_METHOD_PHONE:   "전화",
	requestsv1.BreachNoticeMethod_BREACH_NOTICE_METHOD_SMS:     "문자전송",
}

var agencyLabel = map[requestsv1.BreachAgency]string{
	requestsv1.BreachAgency_BREACH_AGENCY_PIPC: "개인정보보호위원회",
	requestsv1.BreachAgency_BREACH_AGENCY_KISA: "한국인터넷진흥원",
}

// rights is item 6 of PIPA-34-1 (DEC-39-1 6): the subject's rights in law, the same in every notice.
const rights = "개인정보 보호법 제39조(손해배상책임) 및 제39조의2(법정손해배상의 청구)에 따라 손해배상을 청구할 수 있으며, " +
	"같은 법 제43조에 따라 개인정보 분쟁조정위원회에 분쟁조정을 신청할 수 있습니다."

const unknownYet = "현재 확인 중이며, 확인되는 대로 지체 없이 알려드리겠습니다."

// NoticeText is the notice of kind to b's subjects, from institution, with every item its rule
// requires: PIPA-34-1 items 1–6 (complete); the fact, what is known and items 3–6 (interim,
// DEC-39-2); the items, the suspected time and circumstances, items 3–5 and the promise of a
// follow-up (possible, DEC-39의2); that there was no breach (DEC-39의3).
func NoticeText(b *requestsv1.Breach, kind requestsv1.BreachNoticeKind, institution string) string {
	var w strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&w, format+"\n", args...) }
	switch kind {
	case requestsv1.BreachNoticeKind_BREACH_NOTICE_KIND_NO_BREACH:
		line("개인정보 유출등 가능성에 대한 확인 결과 안내")
		line("")
		line("%s은(는) %s에 알려드린 개인정보 유출등의 가능성에 대하여 조사한 결과, 개인정보의 유출등이 발생하지 않았음을 확인하였기에 알려드립니다.", institution, date(b.GetKnownTime().AsTime()))
		contact(line, b)
		return w.String()
	case requestsv1.BreachNoticeKind_BREACH_NOTICE_KIND_POSSIBLE:
		line("개인정보 유출등 가능성 통지")
		line("")
		line("%s은(는) %s에 귀하의 개인정보가 유출등이 되었을 가능성을 알게 되어 개인정보 보호법 제34조제2항에 따라 알려드립니다.", institution, stamp(b.GetKnownTime().AsTime()))
		line("")
		line("1. 유출등이 되었을 가능성이 있는 개인정보의 항목: %s", itemsOr(b))
		line("2. 유출등이 된 것으로 추정되는 시점과 그 경위: %s", occurOr(b))
	case requestsv1.BreachNoticeKind_BREACH_NOTICE_KIND_INTERIM:
		line("개인정보 유출등 통지 (우선 통지)")
		line("")
		line("%s은(는) %s에 귀하의 개인정보가 %s되었음을 알게 되어 개인정보 보호법 제34조제1항 및 같은 법 시행령 제39조제2항에 따라 현재까지 확인된 내용을 우선 알려드립니다.", institution, stamp(b.GetKnownTime().AsTime()), typeLabel[b.GetType()])
		line("")
		line("1. 유출등이 된 개인정보의 항목: %s", itemsOr(b))
		line("2. 유출등이 된 시점과 그 경위: %s", occurOr(b))
	default:
		line("개인정보 유출등 통지")
		line("")
		line("%s은(는) %s에 귀하의 개인정보가 %s되었음을 알게 되어 개인정보 보호법 제34조제1항에 따라 다음과 같이 알려드립니다.", institution, stamp(b.GetKnownTime().AsTime()), typeLabel[b.GetType()])
		line("")
		line("1. 유출등이 된 개인정보의 항목: %s", itemsOr(b))
		line("2. 유출등이 된 시점과 그 경위: %s", occurOr(b))
	}
	line("3. 유출등으로 인하여 발생할 수 있는 피해를 최소화하기 위하여 정보주체가 할 수 있는 방법: %s", b.GetSubjectActions())
	line("4. 개인정보처리자의 대응조치 및 피해 구제절차: %s / %s", b.GetMeasures(), b.GetReliefProcedure())
	line("5. 피해가 발생한 경우 신고 등을 접수할 수 있는 담당부서 및 연락처: %s", contactText(b.GetContact()))
	if kind == requestsv1.BreachNoticeKind_BREACH_NOTICE_KIND_POSSIBLE {
		line("")
		line("유출등 여부가 확인되면 그 결과를 지체 없이 다시 알려드리겠습니다.")
		return w.String()
	}
	line("6. 정보주체의 권리: %s", rights)
	if kind == requestsv1.BreachNoticeKind_BREACH_NOTICE_KIND_INTERIM {
		line("")
		line("확인되지 않은 사항은 확인되는 대로 지체 없이 알려드리겠습니다.")
	}
	return w.String()
}

func contact(line func(string, ...any), b *requestsv1.Breach) {
	if b.GetContact() != nil {
		line("문의: %s", contactText(b.GetContact()))
	}
}

// ReportText is the report to agency in the layout of 별지 제1호 서식 (개인정보 유출등 신고서) of
// the standard guideline (STD-28): the reporting body, the PIPA-34-1 items 1–5, the thresholds
// met, whether and when subjects were told; interim when items 1–2 are not known (DEC-40-2).
func ReportText(b *requestsv1.Breach, agency requestsv1.BreachAgency, sent time.Time, interim bool, institution string) string {
	var w strings.Builder
	row := func(label, value string) { fmt.Fprintf(&w, "%s | %s\n", label, value) }
	title := "개인정보 유출등 신고서"
	if interim {
		title += " (우선 신고: 유출등이 된 항목·시점·경위 확인 중, 시행령 제40조제2항)"
	}
	fmt.Fprintf(&w, "%s\n수신: %s\n\n", title, agencyLabel[agency])
	row("기관명", institution)
	row("유출등 유형", typeLabel[b.GetType()])
	row("유출등이 된 개인정보 항목", itemsOr(b))
	row("유출등이 된 정보주체의 수", count(b.GetSubjectCount()))
	row("유출등이 된 시점과 그 경위", occurOr(b))
	row("유출등을 알게 된 시점", stamp(b.GetKnownTime().AsTime()))
	cause := causeLabel[b.GetCause()]
	if d := b.GetCauseDetail(); d != "" {
		cause += " (" + d + ")"
	}
	row("원인", cause)
	row("신고 사유", strings.Join(ReportTriggers(b), "; "))
	row("피해 최소화를 위하여 정보주체가 할 수 있는 방법", b.GetSubjectActions())
	row("대응조치 및 피해 구제절차", b.GetMeasures()+" / "+b.GetReliefProcedure())
	row("정보주체에 대한 통지 여부", notified(b))
	row("담당부서·담당자 및 연락처", contactText(b.GetContact()))
	row("신고 일시", stamp(sent))
	return w.String()
}

func notified(b *requestsv1.Breach) string {
	if len(b.GetNotices()) == 0 {
		return "미통지 (통지 기한 " + stamp(Due(b)) + ")"
	}
	var parts []string
	for _, n := range b.GetNotices() {
		parts = append(parts, fmt.Sprintf("%s %s %s %d명", noticeLabel[n.GetKind()], stamp(n.GetSendTime().AsTime()), methodLabel[n.GetMethod()], n.GetRecipientCount()))
	}
	return strings.Join(parts, "; ")
}

func itemsOr(b *requestsv1.Breach) string {
	if len(b.GetItems()) == 0 {
		return unknownYet
	}
	return strings.Join(b.GetItems(), ", ")
}

func occurOr(b *requestsv1.Breach) string {
	var parts []string
	if t := b.GetOccurTime(); t != nil {
		parts = append(parts, stamp(t.AsTime()))
	}
	if c := strings.TrimSpace(b.GetCircumstances()); c != "" {
		parts = append(parts, c)
	}
	if len(parts) == 0 {
		return unknownYet
	}
	return strings.Join(parts, ", ")
}

func contactText(c *requestsv1.BreachContact) string {
	var parts []string
	for _, p := range []string{c.GetDepartment(), c.GetOfficer(), c.GetPhone(), c.GetEmail()} {
		if p = strings.TrimSpace(p); p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, ", ")
}

// stamp is a time as a person in Korea reads it, to the minute.
func stamp(t time.Time) string { return t.In(seoul.Location).Format("2006. 1. 2. 15:04") }

func date(t time.Time) string { return t.In(seoul.Location).Format("2006. 1. 2.") }
