package requests_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pipa-kr/pipa/pkg/auth"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	requestsv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/requests/v1"
	"github.com/pipa-kr/pipa/pkg/modules"
	"github.com/pipa-kr/pipa/pkg/outbound/outboundtest"
	"github.com/pipa-kr/pipa/pkg/outbound/sms"
	"github.com/pipa-kr/pipa/pkg/stacktest"
)

func (s *stack) breaches() requestsv1.BreachServiceClient {
	return requestsv1.NewBreachServiceClient(s.Conn)
}

// post sends a JSON body to the gateway as role on scope and decodes the answer into out.
func (s *stack) post(t *testing.T, role auth.Role, scope, path, body string, out any) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+s.Token(role, scope))
	resp, err := s.HTTP.Do(req)
	require.NoError(t, err)
	raw := stacktest.Body(t, resp)
	if out != nil {
		require.NoError(t, json.Unmarshal([]byte(raw), out), raw)
	}
	return resp.StatusCode
}

// A leak of the library members' mailing list, end to end: registered over REST (a retry with
// the same requestId is the same breach), its 72-hour clocks running from when it was known;
// an interim notice while the items are unknown (DEC-39-2), the facts completed, the complete
// notice (PIPA-34-1); 1,200 subjects make the report a duty (DEC-40-1 1), so closing before it
// is refused naming PIPA-34-4; reported to KISA; posted for the unreachable subjects on the
// unit's public page, which stays up 30 days (DEC-39-3); closed. Each step is a BREACH entry in
// the unit's ledger.
func TestBreachJourney(t *testing.T) {
	t.Parallel()
	var offset atomic.Int64
	s := startStack(t, stacktest.WithClock(func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }))
	s.Load("jeongeup-library.yaml")
	cl := s.breaches()
	cpo := s.As(auth.RoleCPO, libraryUnit)
	known := time.Now().Add(-2 * time.Hour).UTC().Truncate(time.Second)

	body := `{"type":"BREACH_TYPE_LEAK","knownTime":"` + known.Format(time.RFC3339) + `","knownEvidence":"민원 접수 기록",
		"subjectCount":1200,"cause":"BREACH_CAUSE_MISTAKE","circumstances":"회원 안내 메일을 숨은참조 없이 발송",
		"subjectActions":"의심스러운 메일의 링크를 열지 마십시오","measures":"수신자에게 삭제 요청",
		"reliefProcedure":"피해 신고 시 상담 및 분쟁조정 안내","contact":{"department":"시립도서관 운영팀","phone":"063-539-6000"}}`
	var created, again map[string]any
	require.Equal(t, http.StatusOK, s.post(t, auth.RoleCPO, libraryUnit, "/v1/"+libraryUnit+"/breaches?requestId=leak-1", body, &created), created)
	require.Equal(t, http.StatusOK, s.post(t, auth.RoleCPO, libraryUnit, "/v1/"+libraryUnit+"/breaches?requestId=leak-1", body, &again))
	name := created["name"].(string)
	require.Equal(t, libraryUnit+"/breaches/1", name)
	require.Equal(t, name, again["name"], "AIP-155: a retry is the same breach")

	b, err := cl.GetBreach(cpo, &requestsv1.GetBreachRequest{Name: name})
	require.NoError(t, err)
	require.Len(t, b.GetReportTriggers(), 1)
	require.Contains(t, b.GetReportTriggers()[0], "DEC-40-1 1")
	for _, d := range b.GetDuties() {
		require.Equal(t, requestsv1.BreachDutyStatus_BREACH_DUTY_STATUS_PENDING, d.GetStatus())
		require.Equal(t, known.Add(72*time.Hour), d.GetDueTime().AsTime())
		require.Contains(t, []int64{69, 70}, d.GetHoursLeft())
	}

	// The items are not known yet: the notice is an interim one, and says so.
	b, err = cl.NotifyBreach(cpo, &requestsv1.NotifyBreachRequest{Name: name, Method: requestsv1.BreachNoticeMethod_BREACH_NOTICE_METHOD_EMAIL, RecipientCount: 1100})
	require.NoError(t, err)
	require.Equal(t, requestsv1.BreachNoticeKind_BREACH_NOTICE_KIND_INTERIM, b.GetNotices()[0].GetKind())
	require.Contains(t, b.GetNotices()[0].GetText(), "정읍시")
	b, err = cl.CompleteBreach(cpo, &requestsv1.CompleteBreachRequest{Name: name, Etag: b.GetEtag(), Breach: &requestsv1.Breach{
		Items: []string{"성명", "전자우편주소"}, OccurTime: timestamppb.New(known.Add(-time.Hour))}})
	require.NoError(t, err)
	require.Equal(t, []string{"성명", "전자우편주소"}, b.GetItems())
	_, err = cl.CompleteBreach(cpo, &requestsv1.CompleteBreachRequest{Name: name, Etag: "stale", Breach: &requestsv1.Breach{Items: []string{"주소"}}})
	require.Equal(t, codes.Aborted, status.Code(err), "an etag that is not the breach's")
	b, err = cl.NotifyBreach(cpo, &requestsv1.NotifyBreachRequest{Name: name, Method: requestsv1.BreachNoticeMethod_BREACH_NOTICE_METHOD_EMAIL, RecipientCount: 1100})
	require.NoError(t, err)
	require.Equal(t, requestsv1.BreachNoticeKind_BREACH_NOTICE_KIND_COMPLETE, b.GetNotices()[1].GetKind())
	require.Contains(t, b.GetNotices()[1].GetText(), "1. 유출등이 된 개인정보의 항목: 성명, 전자우편주소")

	_, err = cl.CloseBreach(cpo, &requestsv1.CloseBreachRequest{Name: name})
	require.Equal(t, codes.FailedPrecondition, status.Code(err))
	require.Equal(t, "PIPA-34-4", stacktest.Violation(t, err).GetReason())

	// A report without its agency is refused over REST too, naming the field and the rule.
	var bad map[string]any
	require.Equal(t, http.StatusBadRequest, s.post(t, auth.RoleCPO, libraryUnit, "/v1/"+name+":report", `{}`, &bad))
	require.Contains(t, bad["message"].(string)+jsonText(t, bad), "DEC-40-3")
	b, err = cl.ReportBreach(cpo, &requestsv1.ReportBreachRequest{Name: name, Agency: requestsv1.BreachAgency_BREACH_AGENCY_KISA, RequestId: "report-1"})
	require.NoError(t, err)
	again2, err := cl.ReportBreach(cpo, &requestsv1.ReportBreachRequest{Name: name, Agency: requestsv1.BreachAgency_BREACH_AGENCY_KISA, RequestId: "report-1"})
	require.NoError(t, err)
	require.Len(t, again2.GetReports(), 1, "a retried report is recorded once")
	require.Contains(t, b.GetReports()[0].GetText(), "개인정보 유출등 신고서")

	b, err = cl.PostBreach(cpo, &requestsv1.PostBreachRequest{Name: name, UnreachableReason: "회원 100명의 연락처 없음"})
	require.NoError(t, err)
	require.Equal(t, "/p/jeongeup/library/notices/1", b.GetPosting().GetPath())
	page := s.Get(b.GetPosting().GetPath())
	text := stacktest.Body(t, page)
	require.Equal(t, http.StatusOK, page.StatusCode, text)
	require.Equal(t, "nosniff", page.Header.Get("X-Content-Type-Options"))
	require.Contains(t, page.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'", "the posting page cannot be framed")
	require.Contains(t, text, "개인정보 유출등 통지")
	require.Contains(t, text, "성명, 전자우편주소")
	require.Regexp(t, `<title>[^<]+ \| 정읍시립도서관</title>`, text, "the posting's title names the body")

	b, err = cl.CloseBreach(cpo, &requestsv1.CloseBreachRequest{Name: name})
	require.NoError(t, err)
	require.Equal(t, requestsv1.BreachState_BREACH_STATE_CLOSED, b.GetState())

	// Closed, the posting still stays up its 30 days, and then comes down.
	offset.Store(int64(29 * 24 * time.Hour))
	require.Equal(t, http.StatusOK, s.Get(b.GetPosting().GetPath()).StatusCode)
	offset.Store(int64(30*24*time.Hour + time.Minute))
	require.Equal(t, http.StatusNotFound, s.Get(b.GetPosting().GetPath()).StatusCode)
	offset.Store(0)

	// Every step is in the unit's ledger, as a BREACH entry naming the breach and the official.
	labels := []string{"유출등 등록", "유출등 통지", "유출등 사실 보완", "유출등 통지", "유출등 신고", "유출등 게시", "유출등 종결"}
	require.Len(t, b.GetSteps(), len(labels))
	entries, err := s.ledger().ListEntries(cpo, &ledgerv1.ListEntriesRequest{Parent: libraryLog, Kind: ledgerv1.EntryKind_ENTRY_KIND_BREACH})
	require.NoError(t, err)
	require.Len(t, entries.GetEntries(), len(labels))
	for i, st := range b.GetSteps() {
		require.Equal(t, labels[i], st.GetLabel())
		require.NotNil(t, st.LedgerIndex, st.GetLabel())
		e, err := s.ledger().GetEntry(cpo, &ledgerv1.GetEntryRequest{Name: libraryLog + "/ledger/entries/" + strconv.FormatInt(st.GetLedgerIndex(), 10)})
		require.NoError(t, err)
		require.Equal(t, name, e.GetFileName())
		require.Equal(t, labels[i], e.GetPurpose())
		require.NotEmpty(t, e.GetHandler())
	}
}

// Lists and metrics count the open breaches whose clocks ran out: one known 72½ hours ago and
// not yet notified is overdue; one known an hour ago is not. Another tenant sees none of it.
func TestBreachOverdueAndIsolation(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("jeongeup-library.yaml")
	s.Load("iksan.yaml")
	cl := s.breaches()
	cpo := s.As(auth.RoleCPO, libraryUnit)
	register := func(ago time.Duration) *requestsv1.Breach {
		b, err := cl.CreateBreach(cpo, &requestsv1.CreateBreachRequest{Parent: libraryUnit, Breach: &requestsv1.Breach{
			Type: requestsv1.BreachType_BREACH_TYPE_LOSS_THEFT, KnownTime: timestamppb.New(time.Now().Add(-ago)),
			Cause: requestsv1.BreachCause_BREACH_CAUSE_LOSS_THEFT, SubjectCount: 40, Circumstances: "대출 기록 출력물 분실"}})
		require.NoError(t, err)
		return b
	}
	late := register(72*time.Hour + 30*time.Minute)
	register(time.Hour)
	require.True(t, late.GetDuties()[0].GetOverdue())
	require.Equal(t, int64(-1), late.GetDuties()[0].GetHoursLeft())

	list, err := cl.ListBreaches(cpo, &requestsv1.ListBreachesRequest{Parent: libraryUnit})
	require.NoError(t, err)
	require.Len(t, list.GetBreaches(), 2)
	require.Equal(t, int32(1), list.GetOverdueCount())
	require.Equal(t, int32(0), list.GetDueSoonCount())
	only, err := cl.ListBreaches(cpo, &requestsv1.ListBreachesRequest{Parent: libraryUnit, Overdue: true})
	require.NoError(t, err)
	require.Len(t, only.GetBreaches(), 1)
	require.Equal(t, late.GetName(), only.GetBreaches()[0].GetName())
	page, err := cl.ListBreaches(cpo, &requestsv1.ListBreachesRequest{Parent: libraryUnit, PageSize: 1})
	require.NoError(t, err)
	require.Len(t, page.GetBreaches(), 1)
	rest, err := cl.ListBreaches(cpo, &requestsv1.ListBreachesRequest{Parent: libraryUnit, PageSize: 1, PageToken: page.GetNextPageToken()})
	require.NoError(t, err)
	require.Equal(t, late.GetName(), rest.GetBreaches()[0].GetName())

	other := s.As(auth.RoleCPO, "tenants/iksan")
	_, err = cl.GetBreach(other, &requestsv1.GetBreachRequest{Name: late.GetName()})
	require.Equal(t, codes.PermissionDenied, status.Code(err))
	_, err = cl.NotifyBreach(other, &requestsv1.NotifyBreachRequest{Name: late.GetName(), Method: requestsv1.BreachNoticeMethod_BREACH_NOTICE_METHOD_SMS})
	require.Equal(t, codes.PermissionDenied, status.Code(err))
	_, err = cl.GetBreach(other, &requestsv1.GetBreachRequest{Name: "tenants/iksan/units/city/breaches/1"})
	require.Equal(t, codes.NotFound, status.Code(err))
	// Not posted: no public page.
	require.Equal(t, http.StatusNotFound, s.Get("/p/jeongeup/library/notices/1").StatusCode)

	// The registration of a public-place CCTV incident says which duties do not apply (PIPA-58-2).
	cctv, err := cl.CreateBreach(cpo, &requestsv1.CreateBreachRequest{Parent: libraryUnit, Breach: &requestsv1.Breach{
		Type: requestsv1.BreachType_BREACH_TYPE_LEAK, KnownTime: timestamppb.New(time.Now().Add(-100 * time.Hour)), PublicCctv: true,
		Cause: requestsv1.BreachCause_BREACH_CAUSE_INSIDER, SubjectCount: 2000}})
	require.NoError(t, err)
	require.Contains(t, cctv.GetNotApplicable()[0], "PIPA-58-2")
	require.Empty(t, cctv.GetReportTriggers())
	list, err = cl.ListBreaches(cpo, &requestsv1.ListBreachesRequest{Parent: libraryUnit})
	require.NoError(t, err)
	require.Equal(t, int32(1), list.GetOverdueCount(), "no clock runs where Art 34 does not apply")
}

func jsonText(t *testing.T, v any) string {
	t.Helper()
	raw, err := json.Marshal(v)
	require.NoError(t, err)
	return string(raw)
}

// PIPA-34-1: the notice to the data subjects, mailed by pipa when the notice step gives their
// addresses (method EMAIL, a 서면등의 방법 of DEC-17-5): each address gets the Korean notice with
// every item through a real SMTP server, each mail a delivery the staff view of the breach shows
// by its state, without the address, also where the relay refused an address and worded its
// refusal with it. Bad addresses are refused naming the field and the rule, as is a send_time
// with them (pipa mails now, and the notice's time is now), and nothing is recorded or sent; a
// retried step sends nothing again. The addresses are kept only sealed in the outbound; closing
// the breach waits until every notice mail is delivered or given up (NOTICE_MAIL_PENDING), then
// erases them and the relay's answers.
func TestBreachNoticeMailedToSubjects(t *testing.T) {
	t.Parallel()
	smtpd := outboundtest.StartMail(t)
	s := startStack(t, outboundtest.WithMail(smtpd.Addr, 15), outboundtest.WithLoopbackReceivers)
	s.Load("jeongeup-library.yaml")
	cl := s.breaches()
	cpo := s.As(auth.RoleCPO, libraryUnit)
	known := time.Now().Add(-3 * time.Hour)
	create := func() string {
		b, err := cl.CreateBreach(cpo, &requestsv1.CreateBreachRequest{Parent: libraryUnit, Breach: &requestsv1.Breach{
			Type: requestsv1.BreachType_BREACH_TYPE_LEAK, KnownTime: timestamppb.New(known), SubjectCount: 3,
			Cause: requestsv1.BreachCause_BREACH_CAUSE_MISTAKE, Circumstances: "회원 안내 메일을 숨은참조 없이 발송",
			OccurTime: timestamppb.New(known.Add(-time.Hour)), Items: []string{"성명", "전자우편주소"},
			SubjectActions: "의심스러운 메일의 링크를 열지 마십시오", Measures: "수신자에게 삭제 요청",
			ReliefProcedure: "피해 신고 시 상담 및 분쟁조정 안내", Contact: &requestsv1.BreachContact{Department: "시립도서관 운영팀", Phone: "063-539-6000"}}})
		require.NoError(t, err)
		return b.GetName()
	}
	name := create()
	email := requestsv1.BreachNoticeMethod_BREACH_NOTICE_METHOD_EMAIL

	for _, tc := range []struct {
		req         *requestsv1.NotifyBreachRequest
		field, rule string
	}{
		{&requestsv1.NotifyBreachRequest{Method: requestsv1.BreachNoticeMethod_BREACH_NOTICE_METHOD_WRITING,
			RecipientEmails: []string{"a@example.kr"}}, "recipient_emails", "DEC-17-5"},
		{&requestsv1.NotifyBreachRequest{Method: email, RecipientEmails: []string{"a@example.kr", "김민원 <b@example.kr>"}}, "recipient_emails[1]", "format"},
		{&requestsv1.NotifyBreachRequest{Method: email, RecipientEmails: []string{"a@example.kr", "not an address"}}, "recipient_emails[1]", "format"},
		{&requestsv1.NotifyBreachRequest{Method: email, RecipientEmails: []string{"a@example.kr", "A@example.kr"}}, "recipient_emails[1]", "unique"},
		{&requestsv1.NotifyBreachRequest{Method: email, RecipientCount: 1, RecipientEmails: []string{"a@example.kr", "b@example.kr"}}, "recipient_count", "range"},
		{&requestsv1.NotifyBreachRequest{Method: email, SendTime: timestamppb.New(known.Add(time.Hour)),
			RecipientEmails: []string{"a@example.kr"}}, "send_time", "PIPA-34-1"},
	} {
		tc.req.Name = name
		_, err := cl.NotifyBreach(cpo, tc.req)
		v := stacktest.Violation(t, err)
		require.Equal(t, tc.field, v.GetField(), tc.req.String())
		require.Equal(t, tc.rule, v.GetReason(), tc.req.String())
	}
	b, err := cl.GetBreach(cpo, &requestsv1.GetBreachRequest{Name: name})
	require.NoError(t, err)
	require.Empty(t, b.GetNotices(), "a refused notice records nothing")
	require.Empty(t, smtpd.Mail(), "nor sends anything")

	smtpd.Refuse("minwon3@example.kr", 550) // "550 5.1.1 <minwon3@example.kr>: Recipient address rejected"
	to := []string{"minwon1@example.kr", "minwon2@example.kr", "minwon3@example.kr"}
	notify := &requestsv1.NotifyBreachRequest{Name: name, Method: email, RecipientEmails: to, RequestId: "notice-1"}
	b, err = cl.NotifyBreach(cpo, notify)
	require.NoError(t, err)
	require.Len(t, b.GetNotices(), 1)
	require.EqualValues(t, 3, b.GetNotices()[0].GetRecipientCount(), "the addresses count the subjects notified")
	_, err = cl.NotifyBreach(cpo, notify)
	require.NoError(t, err, "a retry of the step")

	require.Eventually(t, func() bool { return len(smtpd.Mail()) == 2 }, 60*time.Second, 100*time.Millisecond)
	require.Never(t, func() bool { return len(smtpd.Mail()) > 2 }, 2*time.Second, 200*time.Millisecond, "the retry sent nothing again")
	var got []string
	for _, m := range smtpd.Mail() {
		require.Len(t, m.To, 1)
		got = append(got, m.To[0])
		require.Equal(t, "[정읍시립도서관] 개인정보 유출등 통지", m.Subject)
		for _, item := range []string{"개인정보 보호법 제34조제1항", "1. 유출등이 된 개인정보의 항목: 성명, 전자우편주소",
			"2. 유출등이 된 시점과 그 경위:", "회원 안내 메일을 숨은참조 없이 발송", "3. 유출등으로 인하여 발생할 수 있는 피해를 최소화하기 위하여 정보주체가 할 수 있는 방법: 의심스러운 메일의 링크를 열지 마십시오",
			"4. 개인정보처리자의 대응조치 및 피해 구제절차: 수신자에게 삭제 요청 / 피해 신고 시 상담 및 분쟁조정 안내",
			"5. 피해가 발생한 경우 신고 등을 접수할 수 있는 담당부서 및 연락처: 시립도서관 운영팀", "6. 정보주체의 권리"} {
			require.Contains(t, m.Text, item)
		}
		require.Equal(t, strings.TrimSpace(b.GetNotices()[0].GetText()), strings.TrimSpace(strings.ReplaceAll(m.Text, "\r\n", "\n")),
			"the notice as recorded is the notice as mailed")
	}
	require.ElementsMatch(t, to[:2], got)

	require.Eventually(t, func() bool {
		b, err = cl.GetBreach(cpo, &requestsv1.GetBreachRequest{Name: name})
		require.NoError(t, err)
		ds := b.GetNotices()[0].GetDeliveries()
		return len(ds) == 3 && !slices.ContainsFunc(ds, func(d *requestsv1.Delivery) bool {
			return d.GetState() == requestsv1.DeliveryState_DELIVERY_STATE_PENDING
		})
	}, 30*time.Second, 100*time.Millisecond, "the staff view shows each delivery settled")
	states := map[string]requestsv1.DeliveryState{}
	for _, d := range b.GetNotices()[0].GetDeliveries() {
		states[d.GetTarget()] = d.GetState()
		require.Equal(t, "mail", d.GetChannel())
	}
	require.Equal(t, map[string]requestsv1.DeliveryState{"subject:1": requestsv1.DeliveryState_DELIVERY_STATE_DELIVERED,
		"subject:2": requestsv1.DeliveryState_DELIVERY_STATE_DELIVERED, "subject:3": requestsv1.DeliveryState_DELIVERY_STATE_FAILED}, states)
	require.Contains(t, protojson.Format(b), "<recipient>", "the refusal is shown, its address not")
	require.NotContains(t, protojson.Format(b), "minwon", "the breach's view names no subject")

	ctx := context.Background()
	var named int
	require.NoError(t, s.DB().QueryRow(ctx, `SELECT count(*) FROM requests.outbound WHERE position('minwon' in answer) > 0`).Scan(&named))
	require.Zero(t, named, "no answer recorded in clear names a subject")

	// PIPA-34-1: a breach whose notice mail is still on its way (the relay answers 450 for now)
	// stays open: closing would erase the address and give the mail up unsent.
	smtpd.Refuse("minwon4@example.kr", 450)
	second := create()
	_, err = cl.NotifyBreach(cpo, &requestsv1.NotifyBreachRequest{Name: second, Method: email, RecipientEmails: []string{"minwon4@example.kr"}})
	require.NoError(t, err)
	_, err = cl.CloseBreach(cpo, &requestsv1.CloseBreachRequest{Name: second})
	code, reason := stacktest.Reason(err)
	require.Equal(t, codes.FailedPrecondition, code, "%v", err)
	require.Equal(t, "NOTICE_MAIL_PENDING", reason)
	vs, _ := stacktest.Details(err)
	require.Len(t, vs, 1)
	require.Equal(t, "PIPA-34-1", vs[0].GetReason())
	b2, err := cl.GetBreach(cpo, &requestsv1.GetBreachRequest{Name: second})
	require.NoError(t, err)
	require.Equal(t, requestsv1.BreachState_BREACH_STATE_OPEN, b2.GetState())
	var waiting int
	require.NoError(t, s.DB().QueryRow(ctx, `SELECT count(*) FROM requests.outbound WHERE tenant_id = 'jeongeup' AND subject = $1
		AND length(payload) > 0 AND deliver_time IS NULL AND fail_time IS NULL`, second).Scan(&waiting))
	require.Equal(t, 1, waiting, "the mail still waits to be sent")

	var sealed int
	require.NoError(t, s.DB().QueryRow(ctx, `SELECT count(*) FROM requests.outbound WHERE tenant_id = 'jeongeup' AND subject = $1
		AND sealed AND length(payload) > 0 AND position('minwon'::bytea in payload) = 0`, name).Scan(&sealed))
	require.Equal(t, 3, sealed, "the addresses are stored sealed")
	_, err = cl.CloseBreach(cpo, &requestsv1.CloseBreachRequest{Name: name})
	_, reason = stacktest.Reason(err)
	require.Equal(t, "UNREACHED_SUBJECTS", reason, "DEC-39-3: the refused address is a subject not reached")
	_, err = cl.PostBreach(cpo, &requestsv1.PostBreachRequest{Name: name, UnreachableReason: "전자우편 반송 1명"})
	require.NoError(t, err)
	_, err = cl.CloseBreach(cpo, &requestsv1.CloseBreachRequest{Name: name})
	require.NoError(t, err)
	var kept int
	require.NoError(t, s.DB().QueryRow(ctx, `SELECT count(*) FROM requests.outbound WHERE tenant_id = 'jeongeup' AND subject = $1
		AND length(payload) > 0`, name).Scan(&kept))
	require.Zero(t, kept, "closed, the breach's addresses are erased")
	require.NoError(t, s.DB().QueryRow(ctx, `SELECT count(*) FROM requests.outbound WHERE tenant_id = 'jeongeup' AND subject = $1
		AND answer <> ''`, name).Scan(&kept))
	require.Zero(t, kept, "and the relay's answers, which may word a refusal with the address")
	b, err = cl.GetBreach(cpo, &requestsv1.GetBreachRequest{Name: name})
	require.NoError(t, err)
	require.Len(t, b.GetNotices()[0].GetDeliveries(), 3, "the delivery records stay")
}

// DEC-39-3, PIPA-34-1, over REST: a subject's notice mail the relay refuses for good is a subject
// not reached: the breach and the list show it, the posting is owed on the notice's clock, and
// the breach does not close until it is posted. The notice also goes by text message (method
// SMS) through an HTTP server of SENS's API shape, each number a delivery the staff view shows;
// the numbers, refused in a form that is not one, are kept only sealed, erased at close, and
// appear in no answer, list, ledger entry, event or stored answer.
func TestBreachNoticeUnreachedAndTexted(t *testing.T) {
	t.Parallel()
	smtpd, sens := outboundtest.StartMail(t), outboundtest.StartSENS(t)
	s := startStack(t, outboundtest.WithMail(smtpd.Addr, 15), outboundtest.WithLoopbackReceivers, func(c *modules.Config) {
		var err error
		c.SMS, err = sms.NewSENS(sens.Config())
		require.NoError(t, err)
	})
	s.Load("jeongeup-library.yaml")
	known := time.Now().Add(-3 * time.Hour).UTC().Truncate(time.Second)
	body := `{"type":"BREACH_TYPE_LEAK","knownTime":"` + known.Format(time.RFC3339) + `","subjectCount":4,
		"cause":"BREACH_CAUSE_MISTAKE","circumstances":"회원 안내 메일을 숨은참조 없이 발송","occurTime":"` + known.Add(-time.Hour).Format(time.RFC3339) + `",
		"items":["성명","전자우편주소"],"subjectActions":"의심스러운 메일의 링크를 열지 마십시오","measures":"수신자에게 삭제 요청",
		"reliefProcedure":"피해 신고 시 상담 및 분쟁조정 안내","contact":{"department":"시립도서관 운영팀","phone":"063-539-6000"}}`
	var b map[string]any
	require.Equal(t, http.StatusOK, s.post(t, auth.RoleCPO, libraryUnit, "/v1/"+libraryUnit+"/breaches", body, &b), b)
	name := b["name"].(string)
	get := func() map[string]any {
		t.Helper()
		var out map[string]any
		raw := stacktest.Body(t, s.Get("/v1/"+name, "Authorization", "Bearer "+s.Token(auth.RoleCPO, libraryUnit)))
		require.NoError(t, json.Unmarshal([]byte(raw), &out), raw)
		return out
	}
	duty := func(b map[string]any, kind string) map[string]any {
		for _, d := range b["duties"].([]any) {
			if d := d.(map[string]any); d["kind"] == kind {
				return d
			}
		}
		return nil
	}

	smtpd.Refuse("gone@example.kr", 550)
	require.Equal(t, http.StatusOK, s.post(t, auth.RoleCPO, libraryUnit, "/v1/"+name+":notify",
		`{"method":"BREACH_NOTICE_METHOD_EMAIL","recipientEmails":["here@example.kr","gone@example.kr"]}`, &b), b)
	require.Nil(t, duty(b, "BREACH_DUTY_KIND_POSTING"), "nothing owed while the mail is on its way")
	require.Eventually(t, func() bool { b = get(); return b["unreachedSubjects"] == "1" }, 30*time.Second, 100*time.Millisecond, "the refused mail is a subject not reached")
	posting := duty(b, "BREACH_DUTY_KIND_POSTING")
	require.Equal(t, "BREACH_DUTY_STATUS_PENDING", posting["status"])
	require.Equal(t, known.Add(72*time.Hour).Format(time.RFC3339), posting["dueTime"], "due with the notice, 72 hours from when it was known")
	require.Equal(t, []any{"DEC-39-3", "PIPA-34-1"}, posting["rules"])
	require.Len(t, smtpd.Mail(), 1)
	var list map[string]any
	raw := stacktest.Body(t, s.Get("/v1/"+libraryUnit+"/breaches", "Authorization", "Bearer "+s.Token(auth.RoleCPO, libraryUnit)))
	require.NoError(t, json.Unmarshal([]byte(raw), &list))
	require.Equal(t, "1", list["breaches"].([]any)[0].(map[string]any)["unreachedSubjects"], "the list shows it")
	require.Regexp(t, `pipa_requests_breach_subjects_unreached\{[^}]*tenant="jeongeup",unit="library"\} 1\n`, stacktest.Body(t, s.Get("/metrics")))
	obligations, err := s.requests().ListObligations(s.As(auth.RoleCPO, libraryUnit), &requestsv1.ListObligationsRequest{Parent: libraryUnit})
	require.NoError(t, err)
	require.True(t, slices.ContainsFunc(obligations.GetObligations(), func(o *registryv1.Obligation) bool {
		return o.GetResource() == name && o.GetTitle() == "통지가 닿지 않은 정보주체를 위한 홈페이지 게시 (유출등 1번, 알게 된 때부터 72시간)"
	}), "%v", obligations)

	var refused map[string]any
	require.Equal(t, http.StatusBadRequest, s.post(t, auth.RoleCPO, libraryUnit, "/v1/"+name+":close", `{}`, &refused))
	require.Contains(t, jsonText(t, refused), "UNREACHED_SUBJECTS")
	require.Contains(t, jsonText(t, refused), "DEC-39-3")

	// By text message: numbers in their usual forms; one that is not a mobile number is refused
	// naming the field and the rule, and without repeating it.
	require.Equal(t, http.StatusBadRequest, s.post(t, auth.RoleCPO, libraryUnit, "/v1/"+name+":notify",
		`{"method":"BREACH_NOTICE_METHOD_SMS","recipientPhones":["010-1234-5678","063-539-5049"]}`, &refused))
	require.Contains(t, jsonText(t, refused), `"field":"recipient_phones[1]","reason":"format"`)
	require.NotContains(t, jsonText(t, refused), "539-5049")
	require.Equal(t, http.StatusOK, s.post(t, auth.RoleCPO, libraryUnit, "/v1/"+name+":notify",
		`{"method":"BREACH_NOTICE_METHOD_SMS","recipientPhones":["010-1234-5678","+82 10-9876-5432"],"requestId":"text-1"}`, &b), b)
	answers := jsonText(t, b)
	require.Eventually(t, func() bool { return len(sens.Messages()) == 2 }, 30*time.Second, 100*time.Millisecond)
	var to []any
	for _, m := range sens.Messages() {
		to = append(to, m["messages"].([]any)[0].(map[string]any)["to"])
		require.Equal(t, "LMS", m["type"])
		require.Contains(t, m["content"], "개인정보 보호법 제34조제1항")
		require.Contains(t, m["content"], "1. 유출등이 된 개인정보의 항목: 성명, 전자우편주소")
		require.Contains(t, m["content"], "6. 정보주체의 권리")
	}
	require.ElementsMatch(t, []any{"01012345678", "01098765432"}, to)
	require.Eventually(t, func() bool {
		b = get()
		ds := b["notices"].([]any)[1].(map[string]any)["deliveries"].([]any)
		return len(ds) == 2 && !slices.ContainsFunc(ds, func(d any) bool { return d.(map[string]any)["state"] != "DELIVERY_STATE_DELIVERED" })
	}, 30*time.Second, 100*time.Millisecond, "the staff view shows each text message delivered")
	for _, d := range b["notices"].([]any)[1].(map[string]any)["deliveries"].([]any) {
		require.Equal(t, "sms", d.(map[string]any)["channel"])
		require.Regexp(t, `^subject:[12]$`, d.(map[string]any)["target"])
	}
	answers += jsonText(t, b)
	require.Equal(t, "1", b["unreachedSubjects"], "texting others does not reach the one the mail missed")
	clean(t, s)
	var sealed int
	require.NoError(t, s.DB().QueryRow(context.Background(), `SELECT count(*) FROM requests.outbound WHERE subject = $1 AND channel = 'sms'
		AND sealed AND length(payload) > 0`, name).Scan(&sealed))
	require.Equal(t, 2, sealed, "the numbers are kept sealed until the close")
	require.Equal(t, http.StatusBadRequest, s.post(t, auth.RoleCPO, libraryUnit, "/v1/"+name+":close", `{}`, &refused))
	require.Contains(t, jsonText(t, refused), "UNREACHED_SUBJECTS")

	require.Equal(t, http.StatusOK, s.post(t, auth.RoleCPO, libraryUnit, "/v1/"+name+":post", `{"unreachableReason":"전자우편 반송 1명"}`, &b), b)
	require.Equal(t, "BREACH_DUTY_STATUS_DONE", duty(b, "BREACH_DUTY_KIND_POSTING")["status"])
	require.Regexp(t, `pipa_requests_breach_subjects_unreached\{[^}]*tenant="jeongeup",unit="library"\} 0\n`, stacktest.Body(t, s.Get("/metrics")), "posted for")
	require.Equal(t, http.StatusOK, s.post(t, auth.RoleCPO, libraryUnit, "/v1/"+name+":close", `{}`, &b), b)
	require.Equal(t, "BREACH_STATE_CLOSED", b["state"])
	answers += jsonText(t, b)
	raw = stacktest.Body(t, s.Get("/v1/"+libraryUnit+"/breaches", "Authorization", "Bearer "+s.Token(auth.RoleCPO, libraryUnit)))
	answers += raw
	entries, err := s.ledger().ListEntries(s.As(auth.RoleCPO, libraryUnit), &ledgerv1.ListEntriesRequest{Parent: libraryLog, Kind: ledgerv1.EntryKind_ENTRY_KIND_BREACH})
	require.NoError(t, err)
	require.NotEmpty(t, entries.GetEntries())
	answers += protojson.Format(entries)
	require.Contains(t, answers, "pipa 문자전송 2건", "the ledger counts the text messages")
	for _, n := range []string{"12345678", "1234-5678", "98765432", "9876-5432"} {
		require.NotContains(t, answers, n, "no answer, list or ledger entry names a number")
	}

	clean(t, s)
	var kept int
	require.NoError(t, s.DB().QueryRow(context.Background(), `SELECT count(*) FROM requests.outbound WHERE tenant_id = 'jeongeup' AND subject = $1
		AND length(payload) > 0`, name).Scan(&kept))
	require.Zero(t, kept, "closed, the breach's addresses and numbers are erased")
}

// clean fails t when a table of any schema of s's database holds the test's mobile numbers in
// clear (bytea compared as hex too): they are only ever sealed.
func clean(t *testing.T, s *stack) {
	t.Helper()
	ctx, db := context.Background(), s.DB()
	rows, err := db.Query(ctx, `SELECT format('%I.%I', table_schema, table_name) FROM information_schema.tables
		WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')`)
	require.NoError(t, err)
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Contains(t, tables, "requests.outbound")
	for _, table := range tables {
		var n int
		require.NoError(t, db.QueryRow(ctx, `SELECT count(*) FROM `+table+` r WHERE strpos(r::text, '12345678') > 0
			OR strpos(r::text, '98765432') > 0 OR strpos(r::text, encode('12345678', 'hex')) > 0 OR strpos(r::text, encode('98765432', 'hex')) > 0`).Scan(&n))
		require.Zero(t, n, "%s names a number", table)
	}
}
