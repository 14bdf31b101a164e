package registry_test

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/pipa-kr/pipa/pkg/auth"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/pkg/modules"
	"github.com/pipa-kr/pipa/pkg/stacktest"
	"github.com/pipa-kr/pipa/services/registry"
	"github.com/pipa-kr/pipa/services/registry/registrytest"
)

// send makes an HTTP request of the CPO of the seongnam tenant with body (nil: none) and returns
// its status and body.
func send(t *testing.T, s *stack, method, path string, body []byte) (int, string) {
	t.Helper()
	hr, err := http.NewRequest(method, s.URL+path, strings.NewReader(string(body)))
	require.NoError(t, err)
	hr.Header.Set("Authorization", "Bearer "+s.Token(auth.RoleCPO, "tenants/seongnam"))
	resp, err := s.HTTP.Do(hr)
	require.NoError(t, err)
	return resp.StatusCode, stacktest.Body(t, resp)
}

// PIPA-26-3, DEC-28-4, DEC-28-5: a marketing task owes a notice to the subjects from the day it
// is entrusted; a notice records when and how, and the registry records what it told (the
// processor and the task as they stood); a change of either makes a new notice due that day;
// when the subjects could not be told, a posting on the unit's public page, up for 30 days and
// gone after. Each notice and each change of processor or task is a REGISTER entry, once per
// request_id. Through REST.
func TestMarketingNotices(t *testing.T) {
	t.Parallel()
	var ahead atomic.Int64 // how far the registry's clock runs ahead of the wall's
	s := registrytest.Start(t, []modules.Module{registry.ModuleWith(registry.WithClock(func() time.Time {
		return time.Now().Add(time.Duration(ahead.Load()))
	}))})
	s.Load("seongnam-library.yaml")
	ctx := s.Admin()
	p, err := s.Registry.CreateProcessor(ctx, &registryv1.CreateProcessorRequest{Parent: seongnamUnit, ProcessorId: "sms-agency",
		Processor: &registryv1.Processor{Company: "(주)문자나라", Work: "문화행사 홍보 문자 발송"}})
	require.NoError(t, err)
	c, err := s.Registry.CreateContract(ctx, &registryv1.CreateContractRequest{Parent: p.GetName(),
		Contract: &registryv1.ProcessorContract{SignedDate: registrytest.InDays(-10), Marketing: true}})
	require.NoError(t, err)
	notices := "/v1/" + c.GetName() + "/notices"
	obligations := func() *registryv1.ListObligationsResponse {
		code, body := send(t, s, http.MethodGet, "/v1/"+seongnamUnit+"/obligations", nil)
		require.Equal(t, http.StatusOK, code, body)
		var ob registryv1.ListObligationsResponse
		require.NoError(t, protojson.Unmarshal([]byte(body), &ob))
		return &ob
	}

	// Entrusted ten days ago, nobody told: overdue since that day.
	o := obligationOf(obligations(), "PIPA-26-3", c.GetName())
	require.NotNil(t, o)
	require.Equal(t, registrytest.InDays(-10), o.GetDueDate())
	require.Equal(t, registryv1.DeadlineState_DEADLINE_STATE_OVERDUE, o.GetState())

	// The letters went out two days ago; a retry of the request records nothing more.
	before := registerEntries(t, s, "seongnam")
	sent := []byte(`{"date":"` + registrytest.InDays(-2) + `","method":"우편(서면)","processorCompany":"(주)딴회사"}`)
	code, body := send(t, s, http.MethodPost, notices+"?requestId=n1", sent)
	require.Equal(t, http.StatusOK, code, body)
	var first registryv1.SubjectNotice
	require.NoError(t, protojson.Unmarshal([]byte(body), &first))
	require.Equal(t, c.GetName()+"/notices/1", first.GetName())
	require.Equal(t, "(주)문자나라", first.GetProcessorCompany(), "what it told is the registry's, not the client's")
	require.Equal(t, "문화행사 홍보 문자 발송", first.GetTask())
	require.Empty(t, first.GetPostingPath())
	code, body = send(t, s, http.MethodPost, notices+"?requestId=n1", sent)
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, `"name":"`+first.GetName()+`"`)
	require.Equal(t, before+1, registerEntries(t, s, "seongnam"))
	require.Nil(t, obligationOf(obligations(), "PIPA-26-3", c.GetName()), "told of the processor and task as they stand")

	// A change of contact is no change of processor or task; a new processor is, and owes a new
	// notice from today.
	p.Phone = "031-000-0000"
	p, err = s.Registry.UpdateProcessor(ctx, &registryv1.UpdateProcessorRequest{Processor: p})
	require.NoError(t, err)
	require.Nil(t, obligationOf(obligations(), "PIPA-26-3", c.GetName()))
	require.Equal(t, before+1, registerEntries(t, s, "seongnam"), "no entry for a change of contact")
	p.Company = "(주)알림마당"
	_, err = s.Registry.UpdateProcessor(ctx, &registryv1.UpdateProcessorRequest{Processor: p})
	require.NoError(t, err)
	require.Equal(t, before+2, registerEntries(t, s, "seongnam"), "the change of processor is recorded")
	o = obligationOf(obligations(), "PIPA-26-3", c.GetName())
	require.NotNil(t, o, "the processor changed after the notice")
	require.Equal(t, registrytest.InDays(0), o.GetDueDate())
	require.Equal(t, int32(0), o.GetDaysLeft())
	require.Contains(t, o.GetTitle(), "(주)문자나라: 문화행사 홍보 문자 발송 → (주)알림마당: 문화행사 홍보 문자 발송")

	// The new processor's subjects cannot be reached by 서면등: the posting, on the unit's
	// public page for 30 days (DEC-28-5), meets the duty.
	code, body = send(t, s, http.MethodPost, notices, []byte(`{"postingReason":"수신자 연락처 미보유"}`))
	require.Equal(t, http.StatusOK, code, body)
	var posted registryv1.SubjectNotice
	require.NoError(t, protojson.Unmarshal([]byte(body), &posted))
	require.Equal(t, registrytest.InDays(0), posted.GetDate())
	require.Equal(t, registrytest.InDays(30), posted.GetPostingEndDate())
	require.Equal(t, "/p/seongnam/library-office/outsourcing/sms-agency.2", posted.GetPostingPath())
	require.Nil(t, obligationOf(obligations(), "PIPA-26-3", c.GetName()))
	page := s.Get(posted.GetPostingPath())
	html := stacktest.Body(t, page)
	require.Equal(t, http.StatusOK, page.StatusCode, html)
	for _, want := range []string{"(주)알림마당", "문화행사 홍보 문자 발송", registrytest.Published(t, registrytest.InDays(30))} {
		require.Contains(t, html, want)
	}
	public := s.Get("/v1/public/tenants/seongnam/units/library-office/processors/sms-agency/notices/2")
	require.Equal(t, http.StatusOK, public.StatusCode, stacktest.Body(t, public))
	// A notice sent is no posting.
	require.Equal(t, http.StatusNotFound, s.Get("/p/seongnam/library-office/outsourcing/sms-agency.1").StatusCode)

	code, body = send(t, s, http.MethodGet, notices, nil)
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, 2, strings.Count(body, `"processorCompany"`), body)

	// Its 30 days over, the posting is down.
	ahead.Store(int64(31 * 24 * time.Hour))
	require.Eventually(t, func() bool { // the pages' microcache holds an answer for 2 seconds
		return s.Get(posted.GetPostingPath()).StatusCode == http.StatusNotFound
	}, 10*time.Second, 200*time.Millisecond)
}

// Bad input to a notice is refused naming the field and the rule, and changes nothing.
func TestBadNoticeInput(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("seongnam-library.yaml")
	ctx := s.Admin()
	p, err := s.Registry.CreateProcessor(ctx, &registryv1.CreateProcessorRequest{Parent: seongnamUnit, ProcessorId: "p",
		Processor: &registryv1.Processor{Company: "(주)스마트도서", Work: "유지보수"}})
	require.NoError(t, err)
	c, err := s.Registry.CreateContract(ctx, &registryv1.CreateContractRequest{Parent: p.GetName(), Contract: &registryv1.ProcessorContract{}})
	require.NoError(t, err)
	m, err := s.Registry.CreateProcessor(ctx, &registryv1.CreateProcessorRequest{Parent: seongnamUnit, ProcessorId: "m",
		Processor: &registryv1.Processor{Company: "(주)문자나라", Work: "홍보 문자 발송"}})
	require.NoError(t, err)
	mc, err := s.Registry.CreateContract(ctx, &registryv1.CreateContractRequest{Parent: m.GetName(), Contract: &registryv1.ProcessorContract{Marketing: true}})
	require.NoError(t, err)
	create := func(parent string, n *registryv1.SubjectNotice) func() error {
		return func() error {
			_, err := s.Registry.CreateSubjectNotice(ctx, &registryv1.CreateSubjectNoticeRequest{Parent: parent, Notice: n})
			return err
		}
	}
	refuseAll(t, s, []refusal{
		{name: "notice of a task that is not marketing", call: create(c.GetName(), &registryv1.SubjectNotice{Date: registrytest.InDays(-1), Method: "서면"}),
			code: codes.FailedPrecondition, field: "parent", rule: "PIPA-26-3", info: "NOT_MARKETING"},
		{name: "notice without how", call: create(mc.GetName(), &registryv1.SubjectNotice{Date: registrytest.InDays(-1)}),
			code: codes.InvalidArgument, field: "notice.method", rule: "DEC-28-4"},
		{name: "notice in the future", call: create(mc.GetName(), &registryv1.SubjectNotice{Date: registrytest.InDays(1), Method: "서면"}),
			code: codes.InvalidArgument, field: "notice.date", rule: "PIPA-26-3"},
		{name: "posting under 30 days", call: create(mc.GetName(), &registryv1.SubjectNotice{PostingReason: "연락처 없음", PostingEndDate: registrytest.InDays(20)}),
			code: codes.InvalidArgument, field: "notice.posting_end_date", rule: "DEC-28-5"},
		{name: "posting dated in the past", call: create(mc.GetName(), &registryv1.SubjectNotice{PostingReason: "연락처 없음", Date: registrytest.InDays(-5)}),
			code: codes.InvalidArgument, field: "notice.date", rule: "DEC-28-5"},
		{name: "no contract", call: create(seongnamUnit+"/contracts/nope", &registryv1.SubjectNotice{Date: registrytest.InDays(-1), Method: "서면"}),
			code: codes.NotFound},
		{name: "handler may not write", call: func() error {
			_, err := s.Registry.CreateSubjectNotice(s.As(auth.RoleHandler, "tenants/seongnam"), &registryv1.CreateSubjectNoticeRequest{Parent: mc.GetName(),
				Notice: &registryv1.SubjectNotice{Date: registrytest.InDays(-1), Method: "서면"}})
			return err
		}, code: codes.PermissionDenied},
	})
}
