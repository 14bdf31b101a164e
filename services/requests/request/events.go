package request

import (
	requestsv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/requests/v1"
)

// The events a request's life emits for integrations (CloudEvents types): names and codes —
// its name, receipt number, type, state, due date, the decision's kind — never what identifies
// the requester or the data subject.
const (
	EventReceived = "kr.pipa.request.received"
	EventVerified = "kr.pipa.request.verified"
	EventDecided  = "kr.pipa.request.decided"
	EventClosed   = "kr.pipa.request.closed"
	// EventOverdue: undecided past its due time, found by the deadline alerts.
	EventOverdue = "kr.pipa.request.overdue"
)

// EventTypes are the event types the request service emits, for subscriptions to name.
var EventTypes = []string{EventReceived, EventVerified, EventDecided, EventOverdue, EventClosed}

// stepEvents are the events of the steps that emit one.
var stepEvents = map[string]string{"verifyIdentity": EventVerified, "approve": EventDecided,
	"partiallyApprove": EventDecided, "defer": EventDecided, "refuse": EventDecided, "close": EventClosed}

// EventData is what an event about r says, with the notice the step issued (nil for none).
func EventData(r *Request, n *requestsv1.Notice) map[string]any {
	d := map[string]any{"request": r.Doc.GetName(), "receiptNumber": r.Doc.GetReceiptNumber(),
		"type": r.Doc.GetType().String(), "state": r.Doc.GetState().String()}
	if r.Doc.GetDueDate() != "" {
		d["dueDate"] = r.Doc.GetDueDate()
	}
	if n != nil {
		d["decision"], d["notice"] = n.GetKind().String(), n.GetName()
	}
	return d
}

// NoticeSubject is the subject of the mail that carries notice n of r to the requester.
func NoticeSubject(r *Request, n *requestsv1.Notice, issuer string) string {
	s := "[" + r.Doc.GetReceiptNumber() + "] " + typeRules[r.Doc.GetType()].label + " " + noticeTitle[n.GetKind()]
	if issuer != "" {
		s = issuer + " " + s
	}
	return s
}

// noticeHow says where the requester finds the notice.
var noticeHow = map[requestsv1.DeliveryMethod]string{
	requestsv1.DeliveryMethod_DELIVERY_METHOD_EMAIL: "전자우편으로 보냈습니다",
	requestsv1.DeliveryMethod_DELIVERY_METHOD_MAIL:  "우편으로 보냅니다",
	requestsv1.DeliveryMethod_DELIVERY_METHOD_VISIT: "방문하시면 드립니다",
}

// NoticeText is the text message that tells the requester notice n of r was issued: no more
// than the receipt, the kind and where to find it (the status page, with the status secret).
func NoticeText(r *Request, n *requestsv1.Notice, issuer string) string {
	how := noticeHow[r.Doc.GetNoticeMethod()]
	if MailsNotices(r) {
		how = noticeHow[requestsv1.DeliveryMethod_DELIVERY_METHOD_EMAIL]
	} else if how == "" {
		how = noticeHow[requestsv1.DeliveryMethod_DELIVERY_METHOD_VISIT]
	}
	return "[" + issuer + "] " + typeRules[r.Doc.GetType()].label + " 요구(" + r.Doc.GetReceiptNumber() + ")의 " +
		noticeTitle[n.GetKind()] + "서를 발급했습니다. 통지서는 " + how + ". 처리 상태 확인에서 접수번호와 확인번호로도 볼 수 있습니다."
}
