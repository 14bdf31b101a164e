package requests_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	kst "github.com/pipa-kr/pipa/pkg/seoul"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pipa-kr/pipa/pkg/auth"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	requestsv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/requests/v1"
	"github.com/pipa-kr/pipa/pkg/stacktest"
	"github.com/pipa-kr/pipa/services/requests/requeststest"
)

// A citizen's access request end to end: submitted on the public REST API, checked on the
// public status endpoint with the receipt and secret, verified, approved with the 별지 제9호
// notice, fulfilled and closed — each decision and step appended to the unit's ledger, the
// request carrying the entries' indexes (PIPA-35-3, DEC-41-1, DEC-46, STD-44-5).
func TestRequestJourney(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("jeongeup-library.yaml")
	cl := s.requests()

	// Public intake over REST: no token.
	payload := `{"request":{"type":"REQUEST_TYPE_ACCESS","requester":{"name":"김민원","phone":"010-1234-5678"},
		"accessItems":["ACCESS_ITEM_CONTENT","ACCESS_ITEM_PURPOSE"]},"requestId":"web-1"}`
	submit := func() map[string]any {
		resp, err := s.HTTP.Post(s.URL+"/v1/public/tenants/jeongeup/units/library/requests", "application/json", strings.NewReader(payload))
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		var out map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
		return out
	}
	sub := submit()
	receipt, secret := sub["receiptNumber"].(string), sub["statusSecret"].(string)
	require.Regexp(t, `^R-\d{4}-000001$`, receipt)
	require.NotEmpty(t, secret)
	require.Equal(t, sub, submit(), "a retried submission returns the same receipt and secret (AIP-155)")

	resp := s.Get("/v1/public/requests/" + receipt + "?secret=" + secret)
	page := stacktest.Body(t, resp)
	require.Equal(t, http.StatusOK, resp.StatusCode, page)
	require.Contains(t, page, `"state":"REQUEST_STATE_RECEIVED"`)
	require.NotContains(t, page, "김민원", "the status check reveals no personal data")
	require.Equal(t, http.StatusNotFound, s.Get("/v1/public/requests/"+receipt+"?secret=WRONGSECRET").StatusCode)

	staff := s.As(auth.RoleHandler, libraryUnit)
	name := libraryUnit + "/requests/" + receipt
	got, err := cl.GetRequest(staff, &requestsv1.GetRequestRequest{Name: name})
	require.NoError(t, err)
	require.Equal(t, "김민원", got.GetRequester().GetName())
	require.NotEmpty(t, got.GetDueDate())

	// Nothing is decided before identity is verified (DEC-46).
	_, err = cl.ApproveRequest(staff, &requestsv1.ApproveRequestRequest{Name: name, Grant: requeststest.VisitGrant()})
	code, reason := stacktest.Reason(err)
	require.Equal(t, codes.FailedPrecondition, code)
	require.Equal(t, "IDENTITY_NOT_VERIFIED", reason)

	got, err = cl.VerifyIdentity(staff, &requestsv1.VerifyIdentityRequest{Name: name,
		Verification: &requestsv1.Verification{Method: requestsv1.VerificationMethod_VERIFICATION_METHOD_ADMIN_DATA_SHARING}})
	require.NoError(t, err)
	require.Equal(t, requestsv1.RequestState_REQUEST_STATE_VERIFIED, got.GetState())

	// Refusing without a ground is an invalid transition (PIPA-35-4) and changes nothing.
	_, err = cl.RefuseRequest(staff, &requestsv1.RefuseRequestRequest{Name: name, Reason: &requestsv1.Reason{Text: "사유"}})
	code, reason = stacktest.Reason(err)
	require.Equal(t, codes.FailedPrecondition, code)
	require.Equal(t, "GROUND_REQUIRED", reason)
	// A ground of another type's list is refused too.
	_, err = cl.RefuseRequest(staff, &requestsv1.RefuseRequestRequest{Name: name, Reason: &requestsv1.Reason{
		Text: "사유", Grounds: []requestsv1.Ground{requestsv1.Ground_GROUND_SUSPENSION_CONTRACT}}})
	require.Equal(t, codes.FailedPrecondition, status.Code(err))
	// Closing before a decision's notice is refused.
	_, err = cl.CloseRequest(staff, &requestsv1.CloseRequestRequest{Name: name})
	_, reason = stacktest.Reason(err)
	require.Equal(t, "NOTICE_REQUIRED", reason)

	require.Len(t, got.GetLedger(), 1, "the verified request is recorded (STD-44-5)")
	first := got.GetLedger()[0]
	got, err = cl.ApproveRequest(staff, &requestsv1.ApproveRequestRequest{Name: name, Grant: requeststest.VisitGrant(), Etag: got.GetEtag()})
	require.NoError(t, err)
	require.Equal(t, requestsv1.RequestState_REQUEST_STATE_APPROVED, got.GetState())
	require.Len(t, got.GetNotices(), 1)
	require.Len(t, got.GetLedger(), 2)
	require.False(t, got.GetLedger()[1].GetPending(), "the ledger answered, so the approval carries its entry's index")

	notice, err := cl.GetNotice(staff, &requestsv1.GetNoticeRequest{Name: got.GetNotices()[0]})
	require.NoError(t, err)
	require.Equal(t, "별지 제9호", notice.GetForm())
	require.Contains(t, notice.GetHtml(), "김민원 귀하")
	require.Contains(t, notice.GetHtml(), "직접방문")
	require.Contains(t, notice.GetHtml(), "정읍시립도서관 2층 민원실")

	// A stale etag is refused.
	_, err = cl.FulfillRequest(staff, &requestsv1.FulfillRequestRequest{Name: name, Note: "열람 제공", Etag: "stale"})
	require.Equal(t, codes.Aborted, status.Code(err))
	_, err = cl.FulfillRequest(staff, &requestsv1.FulfillRequestRequest{Name: name, Note: "원본 열람 제공", CopyGiven: "열람 결과 사본 1부, 요청에 따라"})
	require.NoError(t, err)
	got, err = cl.CloseRequest(staff, &requestsv1.CloseRequestRequest{Name: name})
	require.NoError(t, err)
	require.Equal(t, requestsv1.RequestState_REQUEST_STATE_CLOSED, got.GetState())
	require.Len(t, got.GetLedger(), 4, "verification, approval, fulfilment, closing")

	// The ledger holds the request log entry (STD-44-5) and the amendments that follow it.
	led := s.ledger()
	e, err := led.GetEntry(staff, &ledgerv1.GetEntryRequest{Name: first.GetEntry()})
	require.NoError(t, err)
	require.Equal(t, ledgerv1.EntryKind_ENTRY_KIND_VIEWING, e.GetKind())
	require.Equal(t, "김민원", e.GetRequesterName())
	require.Equal(t, name, e.GetRequest())
	for _, lr := range got.GetLedger()[1:] {
		require.False(t, lr.GetPending())
		a, err := led.GetEntry(staff, &ledgerv1.GetEntryRequest{Name: lr.GetEntry()})
		require.NoError(t, err)
		require.Equal(t, ledgerv1.EntryKind_ENTRY_KIND_AMENDMENT, a.GetKind())
		require.Equal(t, ledgerv1.AmendmentKind_AMENDMENT_KIND_PROGRESS, a.GetAmendmentKind())
		require.Equal(t, first.GetIndex(), a.GetFollows())
		require.NotContains(t, a.GetNote()+a.GetCopyGiven(), "김민원", "no personal data in clear in a leaf")
	}

	// Status now shows the notice kind, and the closed state.
	page = stacktest.Body(t, s.Get("/v1/public/requests/"+receipt+"?secret="+secret))
	require.Contains(t, page, `"state":"REQUEST_STATE_CLOSED"`)
	require.Contains(t, page, "NOTICE_KIND_APPROVAL")

	// At the end of its retention the retention service, and only it, erases the personal data
	// (PIPA-21-1); the record of what was decided stays, and a retry changes nothing.
	erase := &requestsv1.ErasePersonalDataRequest{Name: name, Reason: "보유기간 경과"}
	_, err = cl.ErasePersonalData(s.As(auth.RoleCPO, libraryUnit), erase)
	require.Equal(t, codes.PermissionDenied, status.Code(err))
	service := s.As(auth.RoleService, auth.ScopeAll)
	erased, err := cl.ErasePersonalData(service, erase)
	require.NoError(t, err)
	require.NotNil(t, erased.GetEraseTime())
	require.Empty(t, erased.GetRequester().GetName())
	require.Equal(t, requestsv1.RequestState_REQUEST_STATE_CLOSED, erased.GetState())
	require.Len(t, erased.GetLedger(), 4)
	again, err := cl.ErasePersonalData(service, erase)
	require.NoError(t, err)
	require.Equal(t, erased.GetEraseTime().AsTime(), again.GetEraseTime().AsTime())
	notice, err = cl.GetNotice(staff, &requestsv1.GetNoticeRequest{Name: got.GetNotices()[0]})
	require.NoError(t, err)
	require.NotContains(t, notice.GetHtml(), "김민원")
	require.Equal(t, "별지 제9호", notice.GetForm())
	g, err := cl.GetRequest(staff, &requestsv1.GetRequestRequest{Name: name})
	require.NoError(t, err)
	require.Empty(t, g.GetRequester().GetName())
}

// Intake refuses what the Act excludes, naming the field and the rule, and stores nothing.
func TestRequestIntakeRules(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("jeongeup-library.yaml")
	cl := s.requests()
	staff := s.As(auth.RoleHandler, libraryUnit)
	footage := &requestsv1.Footage{Site: libraryUnit + "/sites/central", SiteLocation: "도서관 주차장", CameraLocation: "주차장 출입구",
		StartTime: timestamppb.New(time.Now().Add(-26 * time.Hour)), EndTime: timestamppb.New(time.Now().Add(-25 * time.Hour)),
		RequesterAppears: true}
	child := &requestsv1.Person{Name: "김아동", BirthDate: "2016-03-01"}
	cases := []struct {
		name  string
		req   *requestsv1.Request
		field string
		rule  string
	}{
		{"child under 14 through a proxy", &requestsv1.Request{Type: requestsv1.RequestType_REQUEST_TYPE_ACCESS, Requester: requeststest.Citizen(),
			Subject: child, SubjectUnder_14: true, AccessItems: []requestsv1.AccessItem{1},
			Agency: &requestsv1.Agency{Kind: requestsv1.AgentKind_AGENT_KIND_PROXY, Relationship: "이웃",
				Scope: []requestsv1.RequestType{1}, GrantedDate: "2026-01-01"}}, "request.agency.kind", "PIPA-38-2"},
		{"child by birth date, flag unset", &requestsv1.Request{Type: requestsv1.RequestType_REQUEST_TYPE_ACCESS, Requester: requeststest.Citizen(),
			Subject: child, AccessItems: []requestsv1.AccessItem{1},
			Agency: &requestsv1.Agency{Kind: requestsv1.AgentKind_AGENT_KIND_PROXY, Relationship: "이웃",
				Scope: []requestsv1.RequestType{1}, GrantedDate: "2026-01-01"}}, "request.agency.kind", "PIPA-38-2"},
		{"child filing alone", &requestsv1.Request{Type: requestsv1.RequestType_REQUEST_TYPE_ACCESS,
			Requester:   &requestsv1.Person{Name: "김아동", BirthDate: "2016-03-01", Phone: "010-0000-0000"},
			AccessItems: []requestsv1.AccessItem{1}}, "request.requester.birth_date", "PIPA-38-2"},
		{"suspension naming footage without its site", &requestsv1.Request{Type: requestsv1.RequestType_REQUEST_TYPE_SUSPENSION, Requester: requeststest.Citizen(),
			Details: "촬영 중지", Footage: &requestsv1.Footage{CameraLocation: "주차장", StartTime: footage.StartTime, EndTime: footage.EndTime}},
			"request.footage.site", "STD-44-2"},
		{"a file of another unit", &requestsv1.Request{Type: requestsv1.RequestType_REQUEST_TYPE_DELETION, Requester: requeststest.Citizen(),
			Details: "회원정보 삭제", File: "tenants/iksan/units/city/files/members"}, "request.file", "format"},
		{"proxy without the scope", &requestsv1.Request{Type: requestsv1.RequestType_REQUEST_TYPE_DELETION, Requester: requeststest.Citizen(),
			Subject: requeststest.Citizen(), Details: "회원정보 삭제",
			Agency: &requestsv1.Agency{Kind: requestsv1.AgentKind_AGENT_KIND_PROXY, Relationship: "지인",
				Scope: []requestsv1.RequestType{1}, GrantedDate: "2026-01-01"}}, "request.agency.scope", "DEC-45"},
		{"access without items", &requestsv1.Request{Type: requestsv1.RequestType_REQUEST_TYPE_ACCESS, Requester: requeststest.Citizen()},
			"request.access_items", "DEC-41-1"},
		{"footage of someone else", &requestsv1.Request{Type: requestsv1.RequestType_REQUEST_TYPE_CCTV_ACCESS, Requester: requeststest.Citizen(),
			Purpose: "분실물 확인", Footage: &requestsv1.Footage{Site: footage.Site, SiteLocation: "도서관 주차장", CameraLocation: "주차장",
				StartTime: footage.StartTime, EndTime: footage.EndTime}}, "request.footage.requester_appears", "STD-44-1"},
		{"suspension of public CCTV", &requestsv1.Request{Type: requestsv1.RequestType_REQUEST_TYPE_SUSPENSION, Requester: requeststest.Citizen(),
			Details: "촬영 중지", Footage: footage}, "request.type", "PIPA-58-2"},
		{"a location the site does not publish", &requestsv1.Request{Type: requestsv1.RequestType_REQUEST_TYPE_CCTV_ACCESS, Requester: requeststest.Citizen(),
			Purpose: "사고 확인", Footage: &requestsv1.Footage{Site: footage.Site, SiteLocation: "시청 주차장", CameraLocation: "정문",
				StartTime: footage.StartTime, EndTime: footage.EndTime, RequesterAppears: true}}, "request.footage.site_location", "STD-44-2"},
		{"a site of another unit", &requestsv1.Request{Type: requestsv1.RequestType_REQUEST_TYPE_CCTV_ACCESS, Requester: requeststest.Citizen(),
			Purpose: "사고 확인", Footage: &requestsv1.Footage{Site: "tenants/iksan/units/city/sites/x", CameraLocation: "정문",
				StartTime: footage.StartTime, EndTime: footage.EndTime, RequesterAppears: true}}, "request.footage.site", "STD-44-2"},
		{"more than a week of footage", &requestsv1.Request{Type: requestsv1.RequestType_REQUEST_TYPE_CCTV_ACCESS, Requester: requeststest.Citizen(),
			Purpose: "사고 확인", Footage: &requestsv1.Footage{Site: footage.Site, SiteLocation: "도서관 주차장", CameraLocation: "주차장 출입구",
				StartTime: timestamppb.New(time.Now().Add(-9 * 24 * time.Hour)), EndTime: footage.EndTime, RequesterAppears: true}},
			"request.footage.end_time", "C-12-Q2"},
		{"a file the unit does not keep", &requestsv1.Request{Type: requestsv1.RequestType_REQUEST_TYPE_DELETION, Requester: requeststest.Citizen(),
			Details: "회원정보 삭제", File: libraryUnit + "/files/nothing"}, "request.file", "PIPA-32"},
		{"for someone else without agency", &requestsv1.Request{Type: requestsv1.RequestType_REQUEST_TYPE_ACCESS, Requester: requeststest.Citizen(),
			Subject: &requestsv1.Person{Name: "김가족", BirthDate: "1950-01-01"}, AccessItems: []requestsv1.AccessItem{1}}, "request.agency", "PIPA-38-1"},
		{"an agent without the data subject", &requestsv1.Request{Type: requestsv1.RequestType_REQUEST_TYPE_ACCESS, Requester: requeststest.Citizen(),
			AccessItems: []requestsv1.AccessItem{1}, Agency: &requestsv1.Agency{Kind: requestsv1.AgentKind_AGENT_KIND_LEGAL_REPRESENTATIVE,
				Relationship: "부"}}, "request.subject", "PIPA-38-1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := cl.CreateRequest(staff, &requestsv1.CreateRequestRequest{Parent: libraryUnit, Request: requeststest.WithChannel(c.req)})
			require.Equal(t, codes.InvalidArgument, status.Code(err), "%v", err)
			v := stacktest.Violation(t, err)
			require.Equal(t, c.field, v.GetField(), v.GetDescription())
			require.Equal(t, c.rule, v.GetReason(), v.GetDescription())
		})
	}
	list, err := cl.ListRequests(staff, &requestsv1.ListRequestsRequest{Parent: libraryUnit})
	require.NoError(t, err)
	require.Empty(t, list.GetRequests(), "nothing refused was stored")
	_, err = cl.ListRequests(staff, &requestsv1.ListRequestsRequest{Parent: libraryUnit, State: 65537})
	require.Equal(t, "state", stacktest.Violation(t, err).GetField(), "an unknown state is bad input, not a filter that wraps")
	_, err = cl.CreateRequest(staff, &requestsv1.CreateRequestRequest{Parent: libraryUnit, Request: requeststest.WithChannel(requeststest.AccessRequest()),
		RequestId: strings.Repeat("r", 129)})
	require.Equal(t, "request_id", stacktest.Violation(t, err).GetField())

	// Staff intake names the channel the request came by, at least the one data were collected by
	// (PIPA-38-4), and one the PIPC transferred carries its reference (PIPA-35-2).
	for _, c := range []struct {
		channel     requestsv1.Channel
		field, rule string
	}{
		{0, "request.channel", "PIPA-38-4"},
		{requestsv1.Channel_CHANNEL_PIPC_TRANSFER, "request.transfer_reference", "PIPA-35-2"},
	} {
		r := requeststest.AccessRequest()
		r.Channel = c.channel
		_, err = cl.CreateRequest(staff, &requestsv1.CreateRequestRequest{Parent: libraryUnit, Request: r})
		v := stacktest.Violation(t, err)
		require.Equal(t, [2]string{c.field, c.rule}, [2]string{v.GetField(), v.GetReason()}, v.GetDescription())
	}

	// The same CCTV request, with the requester in the footage, is accepted.
	ok := &requestsv1.Request{Type: requestsv1.RequestType_REQUEST_TYPE_CCTV_ACCESS, Requester: requeststest.Citizen(), Purpose: "주차 차량 파손 확인", Footage: footage}
	_, err = cl.CreateRequest(staff, &requestsv1.CreateRequestRequest{Parent: libraryUnit, Request: requeststest.WithChannel(ok)})
	require.NoError(t, err)
}

// Due dates follow the tenant's default counting (민법 157, 161): across 추석 and 한글날 2025,
// a deadline on the 3·1절 substitute holiday of 2026 or on a closure the tenant declared moving
// to the next working day (PIPA-35-3); a deferral stops the clock and its end starts a new 10
// days (STD-31-1).
func TestRequestDueDates(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("jeongeup-library.yaml")
	cl := s.requests()
	_, err := s.Registry.UpdateTenant(s.Admin(), &registryv1.UpdateTenantRequest{
		Tenant:     &registryv1.Tenant{Name: "tenants/jeongeup", Closures: []*registryv1.Closure{{Date: "2026-11-12", Name: "개청기념일"}}},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"closures"}}})
	require.NoError(t, err)
	staff := s.As(auth.RoleHandler, libraryUnit)
	create := func(received string) *requestsv1.Request {
		at, err := time.ParseInLocation("2006-01-02 15:04", received, kst.Location)
		require.NoError(t, err)
		r, err := cl.CreateRequest(staff, &requestsv1.CreateRequestRequest{Parent: libraryUnit,
			Request: requeststest.WithChannel(requeststest.AccessRequest()), ReceiveTime: timestamppb.New(at)})
		require.NoError(t, err)
		return r.GetRequest()
	}
	require.Equal(t, "2025-10-13", create("2025-10-01 09:00").GetDueDate(), "추석 2025: 10-11 is a Saturday, so the 13th")
	require.Equal(t, "2026-03-03", create("2026-02-20 14:00").GetDueDate(), "day 10 is 2026-03-02, the 3·1절 substitute holiday")

	r := create("2026-11-02 10:00")
	require.Equal(t, "2026-11-13", r.GetDueDate(), "day 10, 2026-11-12, is the tenant's closure")
	name := r.GetName()
	_, err = cl.VerifyIdentity(staff, &requestsv1.VerifyIdentityRequest{Name: name,
		Verification: &requestsv1.Verification{Method: requestsv1.VerificationMethod_VERIFICATION_METHOD_RESIDENT_CARD}})
	require.NoError(t, err)
	d, err := cl.DeferRequest(staff, &requestsv1.DeferRequestRequest{Name: name, Reason: &requestsv1.Reason{
		Grounds: []requestsv1.Ground{requestsv1.Ground_GROUND_ACCESS_ONGOING_AUDIT}, Text: "감사원 감사 진행 중"}})
	require.NoError(t, err)
	require.Empty(t, d.GetDueDate(), "a deferred request has no running clock")
	today := time.Now().In(kst.Location).Format(time.DateOnly)
	yesterday := time.Now().In(kst.Location).AddDate(0, 0, -1).Format(time.DateOnly)
	_, err = cl.ResumeRequest(staff, &requestsv1.ResumeRequestRequest{Name: name, ReasonEndDate: yesterday})
	require.Equal(t, "STD-31-1", stacktest.Violation(t, err).GetReason(), "the deferral's reason cannot end before the deferral")
	res, err := cl.ResumeRequest(staff, &requestsv1.ResumeRequestRequest{Name: name, ReasonEndDate: today})
	require.NoError(t, err)
	require.Equal(t, requestsv1.RequestState_REQUEST_STATE_VERIFIED, res.GetState())
	require.Greater(t, res.GetDueDate(), today)

	list, err := cl.ListRequests(staff, &requestsv1.ListRequestsRequest{Parent: libraryUnit, Overdue: true})
	require.NoError(t, err)
	require.Len(t, list.GetRequests(), 2, "the two undecided requests received long ago are overdue; the resumed one is not")
	require.EqualValues(t, 2, list.GetOverdueCount())
	for _, r := range list.GetRequests() {
		require.True(t, r.GetOverdue())
	}
	metrics := stacktest.Body(t, s.Get("/metrics"))
	require.Regexp(t, `pipa_ledger_appends_total(\{[^}]*\})? [1-9]`, metrics, "the ledger's appends (the verification and deferral entries)")
	require.Regexp(t, `pipa_requests_open\{clock="overdue",[^}]*tenant="jeongeup",unit="library"\} 2\n`, metrics)
	require.Regexp(t, `pipa_requests_ledger_pending(_ratio)?\{[^}]*\} 0\n`, metrics)
}

// A ledger outage during an approval delays the entry but loses neither it nor the request: the
// approval commits with its outbox row, answers with the entry pending, and the outbox job
// appends it once the ledger is back.
func TestRequestLedgerOutage(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("jeongeup-library.yaml")
	cl := s.requests()
	staff := s.As(auth.RoleHandler, libraryUnit)
	r, err := cl.CreateRequest(staff, &requestsv1.CreateRequestRequest{Parent: libraryUnit, Request: requeststest.WithChannel(requeststest.AccessRequest())})
	require.NoError(t, err)
	name := r.GetRequest().GetName()
	_, err = cl.VerifyIdentity(staff, &requestsv1.VerifyIdentityRequest{Name: name,
		Verification: &requestsv1.Verification{Method: requestsv1.VerificationMethod_VERIFICATION_METHOD_PASSPORT}})
	require.NoError(t, err)

	// The outage: the ledger's tables are locked, so appends cannot commit.
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, s.DatabaseURL)
	require.NoError(t, err)
	defer conn.Close(ctx)
	tx, err := conn.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, "LOCK TABLE ledger.entries IN ACCESS EXCLUSIVE MODE")
	require.NoError(t, err)

	got, err := cl.ApproveRequest(staff, &requestsv1.ApproveRequestRequest{Name: name, Grant: requeststest.VisitGrant()})
	require.NoError(t, err, "the approval does not wait for the ledger")
	require.Equal(t, requestsv1.RequestState_REQUEST_STATE_APPROVED, got.GetState())
	require.Len(t, got.GetLedger(), 2)
	require.False(t, got.GetLedger()[0].GetPending(), "the verification was recorded before the outage")
	require.True(t, got.GetLedger()[1].GetPending())

	require.NoError(t, tx.Rollback(ctx)) // the ledger is back
	require.Eventually(t, func() bool {
		g, err := cl.GetRequest(staff, &requestsv1.GetRequestRequest{Name: name})
		return err == nil && !g.GetLedger()[1].GetPending()
	}, 60*time.Second, 500*time.Millisecond, "the outbox job appended the entry")
	g, err := cl.GetRequest(staff, &requestsv1.GetRequestRequest{Name: name})
	require.NoError(t, err)
	e, err := s.ledger().GetEntry(staff, &ledgerv1.GetEntryRequest{Name: g.GetLedger()[1].GetEntry()})
	require.NoError(t, err)
	require.Equal(t, name, e.GetRequest())
	require.Equal(t, g.GetLedger()[0].GetIndex(), e.GetFollows())
	list, err := s.ledger().ListEntries(staff, &ledgerv1.ListEntriesRequest{Parent: libraryLog, Kind: ledgerv1.EntryKind_ENTRY_KIND_AMENDMENT})
	require.NoError(t, err)
	require.Len(t, list.GetEntries(), 1, "delivered once, though both the answer and the job tried")
}

// A request to a unit the registry does not have is refused NotFound, by staff intake (its
// authorization asks the registry for the unit) and by public submission (which asks it itself),
// and takes no receipt number: the next request is the year's first.
func TestRequestToAnUnknownUnit(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("jeongeup-library.yaml")
	cl := s.requests()
	const unknown = "tenants/jeongeup/units/nosuch"
	_, err := cl.CreateRequest(s.As(auth.RoleHandler, "tenants/jeongeup"), &requestsv1.CreateRequestRequest{Parent: unknown,
		Request: requeststest.WithChannel(requeststest.AccessRequest()), RequestId: "desk-1"})
	require.Equal(t, codes.NotFound, status.Code(err), "%v", err)
	_, err = cl.SubmitRequest(context.Background(), &requestsv1.SubmitRequestRequest{Tenant: "jeongeup", Unit: "nosuch",
		Request: requeststest.AccessRequest(), RequestId: "web-1"})
	require.Equal(t, codes.NotFound, status.Code(err), "%v", err)

	r, err := cl.CreateRequest(s.As(auth.RoleHandler, libraryUnit), &requestsv1.CreateRequestRequest{Parent: libraryUnit,
		Request: requeststest.WithChannel(requeststest.AccessRequest()), RequestId: "desk-1"})
	require.NoError(t, err)
	require.Regexp(t, `^R-\d{4}-000001$`, r.GetRequest().GetReceiptNumber())
	sub, err := cl.SubmitRequest(context.Background(), &requestsv1.SubmitRequestRequest{Tenant: "jeongeup", Unit: "library",
		Request: requeststest.AccessRequest(), RequestId: "web-1"})
	require.NoError(t, err)
	require.Regexp(t, `^R-\d{4}-000002$`, sub.GetReceiptNumber())
}

// One tenant's staff can neither read nor act on another tenant's requests, nor learn whether
// a receipt exists there.
func TestRequestTenantIsolation(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("jeongeup-library.yaml")
	s.Load("iksan.yaml")
	cl := s.requests()
	r, err := cl.CreateRequest(s.As(auth.RoleHandler, libraryUnit), &requestsv1.CreateRequestRequest{Parent: libraryUnit, Request: requeststest.WithChannel(requeststest.AccessRequest())})
	require.NoError(t, err)
	name := r.GetRequest().GetName()
	other := s.As(auth.RoleCPO, "tenants/iksan")
	_, err = cl.GetRequest(other, &requestsv1.GetRequestRequest{Name: name})
	require.Equal(t, codes.PermissionDenied, status.Code(err))
	_, err = cl.GetRequest(other, &requestsv1.GetRequestRequest{Name: libraryUnit + "/requests/R-2026-999999"})
	require.Equal(t, codes.PermissionDenied, status.Code(err), "existence is not revealed")
	_, err = cl.ListRequests(other, &requestsv1.ListRequestsRequest{Parent: libraryUnit})
	require.Equal(t, codes.PermissionDenied, status.Code(err))
	_, err = cl.VerifyIdentity(other, &requestsv1.VerifyIdentityRequest{Name: name,
		Verification: &requestsv1.Verification{Method: requestsv1.VerificationMethod_VERIFICATION_METHOD_PASSPORT}})
	require.Equal(t, codes.PermissionDenied, status.Code(err))
	// Iksan's own unit does not see Jeongeup's receipt under its name.
	_, err = cl.GetRequest(other, &requestsv1.GetRequestRequest{Name: "tenants/iksan/units/city/requests/" + r.GetRequest().GetReceiptNumber()})
	require.Equal(t, codes.NotFound, status.Code(err))
}

// A police station asks for footage (seed 001 별표3 row 2): taken as a provision request, verified
// by its official document, approved with the safety requests made of the police (PIPA 18(5)),
// and recorded as a PROVISION entry with every DEC-15 field. Ground 7 (investigation) carries no
// publication duty; ground 2 (another law) must be published within 30 days (PIPA-18-4).
func TestProvisionToPolice(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("jeongeup-library.yaml")
	cl := s.requests()
	staff := s.As(auth.RoleManager, libraryUnit)
	today := time.Now().In(kst.Location)
	police := func(ground requestsv1.ProvisionGround) *requestsv1.Request {
		return requeststest.PoliceProvision(libraryUnit+"/sites/central", ground)
	}
	// A data subject's intake does not take a provision.
	_, err := cl.CreateRequest(staff, &requestsv1.CreateRequestRequest{Parent: libraryUnit,
		Request: &requestsv1.Request{Type: requestsv1.RequestType_REQUEST_TYPE_THIRD_PARTY_PROVISION, Requester: requeststest.Citizen(), Channel: requestsv1.Channel_CHANNEL_VISIT}})
	require.Equal(t, "PIPA-18-2", stacktest.Violation(t, err).GetReason())
	// A copy needs its destruction due date (C-9).
	bad := police(requestsv1.ProvisionGround_PROVISION_GROUND_CRIMINAL_INVESTIGATION)
	bad.Provision.DestructionDueDate = ""
	_, err = cl.CreateProvision(staff, &requestsv1.CreateProvisionRequest{Parent: libraryUnit, Request: bad})
	require.Equal(t, "request.provision.destruction_due_date", stacktest.Violation(t, err).GetField())

	approve := func(ground requestsv1.ProvisionGround) *requestsv1.Request {
		created, err := cl.CreateProvision(staff, &requestsv1.CreateProvisionRequest{Parent: libraryUnit, Request: police(ground)})
		require.NoError(t, err)
		r := created.GetRequest()
		require.Regexp(t, `^P-\d{4}-\d{6}$`, r.GetReceiptNumber())
		require.Empty(t, r.GetDueDate(), "no statutory clock runs on another body's request")
		_, err = cl.VerifyIdentity(staff, &requestsv1.VerifyIdentityRequest{Name: r.GetName(),
			Verification: &requestsv1.Verification{Method: requestsv1.VerificationMethod_VERIFICATION_METHOD_OFFICIAL_DOCUMENT}})
		require.NoError(t, err)
		_, err = cl.ApproveRequest(staff, &requestsv1.ApproveRequestRequest{Name: r.GetName(), Grant: &requestsv1.Grant{}})
		require.Equal(t, "grant.safety_requests", stacktest.Violation(t, err).GetField(), "PIPA 18(5): the recipient is told its limits")
		_, err = cl.ApproveRequest(staff, &requestsv1.ApproveRequestRequest{Name: r.GetName(),
			Grant: &requestsv1.Grant{SafetyRequests: "수사 목적 외 이용 금지, 사건 종결 시 파기 후 회신"}})
		require.Equal(t, "grant.masking", stacktest.Violation(t, err).GetField(), "STD-46: footage leaves masked or with a reason")
		got, err := cl.ApproveRequest(staff, &requestsv1.ApproveRequestRequest{Name: r.GetName(),
			Grant: &requestsv1.Grant{SafetyRequests: "수사 목적 외 이용 금지, 사건 종결 시 파기 후 회신",
				Masking: &requestsv1.Masking{NotNeededReason: "피의 차량 외 촬영된 사람 없음"}}})
		require.NoError(t, err)
		return got
	}
	got := approve(requestsv1.ProvisionGround_PROVISION_GROUND_CRIMINAL_INVESTIGATION)
	require.Empty(t, got.GetPublicationDueDate(), "PIPA-18-4 exempts ground 7")
	require.Len(t, got.GetLedger(), 1)
	e, err := s.ledger().GetEntry(staff, &ledgerv1.GetEntryRequest{Name: got.GetLedger()[0].GetEntry()})
	require.NoError(t, err)
	require.Equal(t, ledgerv1.EntryKind_ENTRY_KIND_PROVISION, e.GetKind())
	require.Equal(t, "정읍경찰서", e.GetCounterparty())
	require.Equal(t, "경위 홍길동", e.GetCounterpartyOfficer())
	require.Equal(t, "USB 사본 제공", e.GetForm())
	require.Equal(t, []string{"영상(얼굴, 차량번호)"}, e.GetItems())
	require.Contains(t, e.GetLegalBasis(), "제18조제2항제7호")
	require.Equal(t, got.GetProvision().GetDestructionDueDate(), e.GetDestructionDueDate())

	// Without a retention service the copy waits in the outbox (services/retention's
	// TestProvidedCopiesAreTracked follows it there); the approval does not wait for it.
	require.Empty(t, got.GetCopy())

	got = approve(requestsv1.ProvisionGround_PROVISION_GROUND_OTHER_LAW)
	require.NotEmpty(t, got.GetPublicationDueDate(), "PIPA-18-4: ground 2 is published within 30 days")
	require.GreaterOrEqual(t, got.GetPublicationDueDate(), today.AddDate(0, 0, 30).Format(time.DateOnly))
}

// An automated decision's period is extended twice at most, each time within the period and
// naming the request's etag, so that a retried call cannot extend it twice (DEC-44-3-5).
func TestAutomatedDecisionExtensions(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("jeongeup-library.yaml")
	cl := s.requests()
	staff := s.As(auth.RoleHandler, libraryUnit)
	r, err := cl.CreateRequest(staff, &requestsv1.CreateRequestRequest{Parent: libraryUnit, Request: requeststest.WithChannel(&requestsv1.Request{
		Type: requestsv1.RequestType_REQUEST_TYPE_AUTOMATED_DECISION, Requester: requeststest.Citizen(), Details: "감면 대상 자동 판정의 설명 요구"})})
	require.NoError(t, err)
	name, due := r.GetRequest().GetName(), r.GetRequest().GetDueDate()
	v, err := cl.VerifyIdentity(staff, &requestsv1.VerifyIdentityRequest{Name: name,
		Verification: &requestsv1.Verification{Method: requestsv1.VerificationMethod_VERIFICATION_METHOD_ONLINE_AUTH}})
	require.NoError(t, err)
	extend := func(etag string) (*requestsv1.Request, error) {
		return cl.DeferRequest(staff, &requestsv1.DeferRequestRequest{Name: name, Etag: etag,
			Reason: &requestsv1.Reason{Text: "외부 시스템 운영기관 회신 대기"}})
	}
	_, err = extend("")
	require.Equal(t, "etag", stacktest.Violation(t, err).GetField())
	once, err := extend(v.GetEtag())
	require.NoError(t, err)
	require.EqualValues(t, 1, once.GetExtensions())
	require.Greater(t, once.GetDueDate(), due)
	require.Equal(t, requestsv1.RequestState_REQUEST_STATE_VERIFIED, once.GetState(), "the clock keeps running")
	_, err = extend(v.GetEtag())
	require.Equal(t, codes.Aborted, status.Code(err), "a retry with the old etag does not extend again")
	twice, err := extend(once.GetEtag())
	require.NoError(t, err)
	require.EqualValues(t, 2, twice.GetExtensions())
	_, err = extend(twice.GetEtag())
	_, reason := stacktest.Reason(err)
	require.Equal(t, "EXTENSION_LIMIT", reason)
	require.Len(t, twice.GetNotices(), 2, "each extension is notified")
}

// A decision holds to what its notice must say: access in person names its date and time
// (DEC-41-4); fees are not negative and state how they were counted (PIPA-38-3); a refusal's
// grounds come from the request type's own list, PIPA-36-1 for a deletion and PIPA-37-2 for a
// suspension; the notice tells how to object (PIPA-38-5), in the unit's words or, when the
// decision gives none, with the statutory remedies; and a deletion carried out is recorded as a
// DESTRUCTION that says the data cannot be recovered (PIPA-36-3).
func TestRequestDecisionRules(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("jeongeup-library.yaml")
	cl := s.requests()
	staff := s.As(auth.RoleHandler, libraryUnit)
	verified := func(r *requestsv1.Request) string {
		created, err := cl.CreateRequest(staff, &requestsv1.CreateRequestRequest{Parent: libraryUnit, Request: requeststest.WithChannel(r)})
		require.NoError(t, err)
		name := created.GetRequest().GetName()
		_, err = cl.VerifyIdentity(staff, &requestsv1.VerifyIdentityRequest{Name: name,
			Verification: &requestsv1.Verification{Method: requestsv1.VerificationMethod_VERIFICATION_METHOD_RESIDENT_CARD}})
		require.NoError(t, err)
		return name
	}
	refused := func(err error, field, rule string) {
		t.Helper()
		v := stacktest.Violation(t, err)
		require.Equal(t, [2]string{field, rule}, [2]string{v.GetField(), v.GetReason()}, v.GetDescription())
	}

	access := verified(requeststest.AccessRequest())
	visit := requeststest.VisitGrant()
	visit.AccessTime = nil
	_, err := cl.ApproveRequest(staff, &requestsv1.ApproveRequestRequest{Name: access, Grant: visit})
	refused(err, "grant.access_time", "DEC-41-4")
	negative := requeststest.VisitGrant()
	negative.FeeWon = -1000
	_, err = cl.ApproveRequest(staff, &requestsv1.ApproveRequestRequest{Name: access, Grant: negative})
	refused(err, "grant.fee_won", "PIPA-38-3")
	unexplained := requeststest.VisitGrant()
	unexplained.FeeWon = 1000
	_, err = cl.ApproveRequest(staff, &requestsv1.ApproveRequestRequest{Name: access, Grant: unexplained})
	refused(err, "grant.fee_basis", "PIPA-38-3")
	unexplained.FeeBasis = "사본 10매 × 100원 (정읍시 수수료 조례)"
	approved, err := cl.ApproveRequest(staff, &requestsv1.ApproveRequestRequest{Name: access, Grant: unexplained})
	require.NoError(t, err)
	require.EqualValues(t, 1000, approved.GetGrant().GetFeeWon())

	deletion := &requestsv1.Request{Type: requestsv1.RequestType_REQUEST_TYPE_DELETION, Requester: requeststest.Citizen(), Details: "회원정보 삭제"}
	refusedDeletion := verified(deletion)
	_, err = cl.RefuseRequest(staff, &requestsv1.RefuseRequestRequest{Name: refusedDeletion, Reason: &requestsv1.Reason{Text: "조세 부과 중",
		Grounds: []requestsv1.Ground{requestsv1.Ground_GROUND_ACCESS_TAX}}})
	refused(err, "reason.grounds", "PIPA-36-1")
	suspension := verified(&requestsv1.Request{Type: requestsv1.RequestType_REQUEST_TYPE_SUSPENSION, Requester: requeststest.Citizen(),
		Details: "도서관 소식 문자 발송 중지"})
	_, err = cl.RefuseRequest(staff, &requestsv1.RefuseRequestRequest{Name: suspension, Reason: &requestsv1.Reason{Text: "법령상 의무",
		Grounds: []requestsv1.Ground{requestsv1.Ground_GROUND_DELETION_REQUIRED_BY_LAW}}})
	refused(err, "reason.grounds", "PIPA-37-2")

	// The notices say how to object: the unit's own method, or the statutory remedies.
	own := "정읍시립도서관 민원실에 서면으로 이의신청"
	for name, objection := range map[string]string{refusedDeletion: "", suspension: own} {
		ground := requestsv1.Ground_GROUND_DELETION_REQUIRED_BY_LAW
		if name == suspension {
			ground = requestsv1.Ground_GROUND_SUSPENSION_REQUIRED_BY_LAW
		}
		r, err := cl.RefuseRequest(staff, &requestsv1.RefuseRequestRequest{Name: name, Reason: &requestsv1.Reason{
			Text: "도서관법에 따른 회원 관리", Grounds: []requestsv1.Ground{ground}, ObjectionMethod: objection}})
		require.NoError(t, err)
		n, err := cl.GetNotice(staff, &requestsv1.GetNoticeRequest{Name: r.GetNotices()[0]})
		require.NoError(t, err)
		require.Equal(t, "별지 제10호", n.GetForm())
		if objection == "" {
			require.Contains(t, n.GetHtml(), "행정심판법에 따른 행정심판을 청구")
		} else {
			require.Contains(t, n.GetHtml(), own)
		}
	}

	// A deletion carried out is a DESTRUCTION of the data, beyond recovery.
	deleted := verified(deletion)
	_, err = cl.ApproveRequest(staff, &requestsv1.ApproveRequestRequest{Name: deleted, Grant: &requestsv1.Grant{Content: "회원정보 전부 삭제"}})
	require.NoError(t, err)
	done, err := cl.FulfillRequest(staff, &requestsv1.FulfillRequestRequest{Name: deleted, Note: "회원 DB에서 삭제"})
	require.NoError(t, err)
	last := done.GetLedger()[len(done.GetLedger())-1]
	require.False(t, last.GetPending())
	e, err := s.ledger().GetEntry(staff, &ledgerv1.GetEntryRequest{Name: last.GetEntry()})
	require.NoError(t, err)
	require.Equal(t, ledgerv1.EntryKind_ENTRY_KIND_DESTRUCTION, e.GetKind())
	require.Contains(t, e.GetDestructionMethod(), "복구 불가")
}
