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
)

// EventTypes are the event types the request service emits, for subscriptions to name.
var EventTypes = []string{EventReceived, EventVerified, EventDecided, EventClosed}

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
