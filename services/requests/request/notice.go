package request

import (
	"bytes"
	"html/template"
	"strings"
	"time"

	requestsv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/requests/v1"
	"github.com/pipa-kr/pipa/pkg/seoul"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Notices render as one Korean HTML page with the fields of 별지 제9호 (열람) or 제10호 (정정·삭제,
// 처리정지 결과): recipient, request, decision, grant or reason, and how to object (PIPA-38-5).

var noticeTitle = map[requestsv1.NoticeKind]string{
	requestsv1.NoticeKind_NOTICE_KIND_APPROVAL: "결정 통지",
	requestsv1.NoticeKind_NOTICE_KIND_PARTIAL:  "일부 결정 통지",
	requestsv1.NoticeKind_NOTICE_KIND_DEFERRAL: "연기 통지",
	requestsv1.NoticeKind_NOTICE_KIND_REFUSAL:  "거절 통지",
}

var accessFormLabel = map[requestsv1.AccessForm]string{
	requestsv1.AccessForm_ACCESS_FORM_VIEWING: "열람·시청", requestsv1.AccessForm_ACCESS_FORM_COPY: "사본·출력물",
	requestsv1.AccessForm_ACCESS_FORM_ELECTRONIC_FILE: "전자파일", requestsv1.AccessForm_ACCESS_FORM_REPRODUCTION: "복제물·인화물",
	requestsv1.AccessForm_ACCESS_FORM_OTHER: "기타",
}

var methodLabel = map[requestsv1.DeliveryMethod]string{
	requestsv1.DeliveryMethod_DELIVERY_METHOD_VISIT: "직접방문", requestsv1.DeliveryMethod_DELIVERY_METHOD_MAIL: "우편",
	requestsv1.DeliveryMethod_DELIVERY_METHOD_FAX: "팩스", requestsv1.DeliveryMethod_DELIVERY_METHOD_EMAIL: "전자우편",
	requestsv1.DeliveryMethod_DELIVERY_METHOD_OTHER: "기타",
}

var noticePage = template.Must(template.New("notice").Parse(`<!doctype html>
<html lang="ko"><head><meta charset="utf-8"><title>{{.Label}} {{.Title}}</title>
<style>body{font-family:"Nanum Myeongjo","Batang",serif;margin:2rem;color:#000}table{border-collapse:collapse;width:100%}th,td{border:1px solid #000;padding:.4rem .6rem;text-align:left;vertical-align:top}th{width:9rem;background:#f2f2f2}@page{size:A4;margin:20mm}@media print{body{margin:0}th{background:none}}</style></head>
<body><main>
<p>[{{.Form}}]</p>
<h1>{{.Label}} {{.Title}}</h1>
<table>
<tr><th scope="row">접수번호</th><td>{{.Receipt}}</td></tr>
<tr><th scope="row">수신자</th><td>{{.Recipient}} 귀하</td></tr>
<tr><th scope="row">요구 내용</th><td>{{.Label}}{{with .Details}} — {{.}}{{end}}</td></tr>
{{with .Grant}}{{with .AccessTime}}<tr><th scope="row">일시</th><td>{{.}}</td></tr>{{end}}
{{with .Place}}<tr><th scope="row">장소</th><td>{{.}}</td></tr>{{end}}
{{with .Form}}<tr><th scope="row">형태</th><td>{{.}}</td></tr>{{end}}
{{with .Method}}<tr><th scope="row">방법</th><td>{{.}}</td></tr>{{end}}
{{with .Content}}<tr><th scope="row">내용</th><td>{{.}}</td></tr>{{end}}
<tr><th scope="row">수수료</th><td>{{.Fee}}원 (우송료 {{.Postage}}원, 합계 {{.Total}}원){{with .FeeBasis}} — {{.}}{{end}}</td></tr>
{{with .Masking}}<tr><th scope="row">타인 영상 보호조치</th><td>{{.}}</td></tr>{{end}}{{end}}
{{with .Grounds}}<tr><th scope="row">사유</th><td><ul>{{range .}}<li>{{.}}</li>{{end}}</ul>{{$.ReasonText}}</td></tr>{{end}}
{{with .Objection}}<tr><th scope="row">이의제기방법</th><td>{{.}}</td></tr>{{end}}
</table>
<p>{{.Issued}}</p>
<p>{{.Issuer}}</p>
</main></body></html>
`))

type grantView struct {
	AccessTime, Place, Form, Method, Content, FeeBasis, Masking string
	Fee, Postage, Total                                         int64
}

// renderNotice renders a notice of request rec as issued at now by the unit named issuer.
func renderNotice(rec *Request, n *requestsv1.Notice, issuer string, now time.Time) (string, error) {
	rule := typeRules[rec.Doc.GetType()]
	v := map[string]any{
		"Form": n.GetForm(), "Label": rule.label, "Title": noticeTitle[n.GetKind()],
		"Receipt": rec.Doc.GetReceiptNumber(), "Recipient": rec.Personal.Requester.GetName(),
		"Details": rec.Doc.GetDetails(), "Issuer": issuer,
		"Issued": now.In(seoul.Location).Format("2006년 1월 2일"),
	}
	if g := n.GetGrant(); g != nil {
		gv := grantView{Place: g.GetAccessPlace(), Form: accessFormLabel[g.GetForm()], Method: methodLabel[g.GetMethod()],
			Content: g.GetContent(), FeeBasis: g.GetFeeBasis(), Fee: g.GetFeeWon(), Postage: g.GetPostageWon(),
			Total: g.GetFeeWon() + g.GetPostageWon(), AccessTime: TimeText(g.GetAccessTime())}
		switch m := g.GetMasking(); {
		case m.GetDone():
			gv.Masking = "타인 모자이크·마스킹 처리함"
		case m.GetNotNeededReason() != "":
			gv.Masking = "마스킹 불필요: " + m.GetNotNeededReason()
		}
		v["Grant"] = gv
	}
	if r := n.GetReason(); r != nil {
		var grounds []string
		for _, g := range r.GetGrounds() {
			grounds = append(grounds, groundText[g])
		}
		v["Grounds"], v["ReasonText"] = grounds, r.GetText()
		v["Objection"] = r.GetObjectionMethod()
	}
	var b bytes.Buffer
	if err := noticePage.Execute(&b, v); err != nil {
		return "", err
	}
	return strings.ReplaceAll(b.String(), "\n\n", "\n"), nil
}

// TimeText is a time as a Korean notice or page states it, in Asia/Seoul; empty for none.
func TimeText(ts *timestamppb.Timestamp) string {
	if ts == nil {
		return ""
	}
	return ts.AsTime().In(seoul.Location).Format("2006년 1월 2일 15:04")
}
