package requests_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pipa-kr/pipa/pkg/auth"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	requestsv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/requests/v1"
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
