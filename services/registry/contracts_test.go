package registry_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/pipa-kr/pipa/pkg/auth"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/pkg/stacktest"
	"github.com/pipa-kr/pipa/services/registry/policy"
	"github.com/pipa-kr/pipa/services/registry/registrytest"
)

// obligationOf is the obligation of the list on resource under rule, or nil.
func obligationOf(ob *registryv1.ListObligationsResponse, rule, resource string) *registryv1.Obligation {
	for _, o := range ob.GetObligations() {
		if o.GetRule() == rule && o.GetResource() == resource {
			return o
		}
	}
	return nil
}

// PIPA-26-1, DEC-28-1, PIPA-26-3, PIPA-26-4, PIPA-26-6: a processor's contract, its missing items,
// its education and inspection at the body's interval, the consent to its sub-processor and the
// notice of a marketing task, each in the obligations list until recorded (the notice:
// TestMarketingNotices), each change a REGISTER entry.
func TestProcessorContractDuties(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("seongnam-library.yaml")
	ctx := s.Admin()
	p, err := s.Registry.CreateProcessor(ctx, &registryv1.CreateProcessorRequest{Parent: seongnamUnit, ProcessorId: "smart-lib",
		Processor: &registryv1.Processor{Company: "(주)스마트도서", Work: "도서관리시스템 유지보수", ContractStart: registrytest.InDays(-400),
			Subprocessor: "(주)데이터센터"}})
	require.NoError(t, err)

	// PIPA-26-1: no contract recorded.
	ob, err := s.Registry.ListObligations(ctx, &registryv1.ListObligationsRequest{Parent: seongnamUnit})
	require.NoError(t, err)
	require.NotNil(t, obligationOf(ob, "PIPA-26-1", p.GetName()), "%v", rulesOf(ob))

	before := registerEntries(t, s, "seongnam")
	c, err := s.Registry.CreateContract(ctx, &registryv1.CreateContractRequest{Parent: p.GetName(), RequestId: "c1",
		Contract: &registryv1.ProcessorContract{SignedDate: registrytest.InDays(-400), NoOtherProcessing: "제4조", Safeguards: "제5조",
			PurposeAndScope: "제2조", AccessLimits: "제5조", Supervision: "제7조", SupervisionMonths: 12, Marketing: true,
			Educations: []*registryv1.SupervisionRecord{{Date: registrytest.InDays(-380), Description: "개인정보 보호 교육", Evidence: "도서관사업소-1234"}}}})
	require.NoError(t, err)
	require.Equal(t, seongnamUnit+"/contracts/smart-lib", c.GetName())
	require.Equal(t, p.GetName(), c.GetProcessor())
	// A retry of the request is the same contract, recorded once.
	again, err := s.Registry.CreateContract(ctx, &registryv1.CreateContractRequest{Parent: p.GetName(), RequestId: "c1",
		Contract: &registryv1.ProcessorContract{SignedDate: registrytest.InDays(-400), NoOtherProcessing: "제4조", Safeguards: "제5조",
			PurposeAndScope: "제2조", AccessLimits: "제5조", Supervision: "제7조", SupervisionMonths: 12, Marketing: true,
			Educations: []*registryv1.SupervisionRecord{{Date: registrytest.InDays(-380), Description: "개인정보 보호 교육", Evidence: "도서관사업소-1234"}}}})
	require.NoError(t, err)
	require.Equal(t, c.GetEtag(), again.GetEtag())
	require.Equal(t, before+1, registerEntries(t, s, "seongnam"))

	ob, err = s.Registry.ListObligations(ctx, &registryv1.ListObligationsRequest{Parent: seongnamUnit})
	require.NoError(t, err)
	require.Nil(t, obligationOf(ob, "PIPA-26-1", p.GetName()), "the contract is recorded")
	items := obligationOf(ob, "DEC-28-1", c.GetName())
	require.NotNil(t, items)
	require.Contains(t, items.GetTitle(), "재위탁 제한")
	require.Contains(t, items.GetTitle(), "손해배상 등 책임")
	require.NotContains(t, items.GetTitle(), "보호조치", "an item the contract holds is not listed")
	// PIPA-26-4: educated 380 days ago, every 12 months: overdue; never inspected since the
	// contract 400 days ago: overdue.
	edu := obligationOf(ob, "PIPA-26-4", c.GetName()+"#educations")
	require.NotNil(t, edu)
	require.Equal(t, registryv1.DeadlineState_DEADLINE_STATE_OVERDUE, edu.GetState())
	require.Less(t, edu.GetDaysLeft(), int32(0))
	require.NotNil(t, obligationOf(ob, "PIPA-26-4", c.GetName()+"#inspections"))
	require.NotNil(t, obligationOf(ob, "PIPA-26-6", c.GetName()), "the processor names a sub-processor with no consent recorded")
	require.NotNil(t, obligationOf(ob, "PIPA-26-3", c.GetName()), "a marketing task's subjects are not told")

	// Educated and inspected last month, the consent and the notice recorded, through REST.
	c.Educations = append(c.Educations, &registryv1.SupervisionRecord{Date: registrytest.InDays(-30), Description: "수탁자 교육", Evidence: "도서관사업소-2001"})
	c.Inspections = []*registryv1.SupervisionRecord{{Date: registrytest.InDays(-20), Description: "현장 점검", Evidence: "도서관사업소-2002"}}
	c.Subprocessors = []*registryv1.Subprocessor{{Company: "(주)데이터센터", Work: "서버 호스팅", ConsentDate: registrytest.InDays(-390), ConsentEvidence: "도서관사업소-1240"}}
	c.SubprocessingLimits, c.Liability = "제6조", "제9조"
	body, err := protojson.Marshal(c)
	require.NoError(t, err)
	hr, err := http.NewRequest(http.MethodPatch, s.URL+"/v1/"+c.GetName(), strings.NewReader(string(body)))
	require.NoError(t, err)
	hr.Header.Set("Authorization", "Bearer "+s.Token(auth.RoleCPO, "tenants/seongnam"))
	resp, err := s.HTTP.Do(hr)
	require.NoError(t, err)
	got := stacktest.Body(t, resp)
	require.Equal(t, http.StatusOK, resp.StatusCode, got)
	require.Contains(t, got, "도서관사업소-2002")
	require.Equal(t, before+2, registerEntries(t, s, "seongnam"))

	ob, err = s.Registry.ListObligations(ctx, &registryv1.ListObligationsRequest{Parent: seongnamUnit})
	require.NoError(t, err)
	for _, rule := range []string{"DEC-28-1", "PIPA-26-6"} {
		require.Nil(t, obligationOf(ob, rule, c.GetName()), rule)
	}
	require.NotNil(t, obligationOf(ob, "PIPA-26-3", c.GetName()), "no notice recorded yet")
	edu = obligationOf(ob, "PIPA-26-4", c.GetName()+"#educations")
	require.Equal(t, registryv1.DeadlineState_DEADLINE_STATE_DUE, edu.GetState(), "the next education is a year after the last")
	last, err := policy.ParseDate(registrytest.InDays(-30))
	require.NoError(t, err)
	require.Equal(t, last.AddMonths(12).String(), edu.GetDueDate())

	cs, err := s.Registry.ListContracts(ctx, &registryv1.ListContractsRequest{Parent: seongnamUnit})
	require.NoError(t, err)
	require.Len(t, cs.GetContracts(), 1)
	require.Len(t, cs.GetContracts()[0].GetEducations(), 2)

	// Another tenant's officer reads nothing of it.
	_, err = s.Registry.GetContract(s.As(auth.RoleCPO, "tenants/iksan"), &registryv1.GetContractRequest{Name: c.GetName()})
	require.Equal(t, codes.PermissionDenied, status.Code(err), "%v", err)
}

// Bad input to a contract is refused naming the field and the rule, and changes nothing.
func TestBadContractInput(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("seongnam-library.yaml")
	ctx := s.Admin()
	p, err := s.Registry.CreateProcessor(ctx, &registryv1.CreateProcessorRequest{Parent: seongnamUnit, ProcessorId: "p",
		Processor: &registryv1.Processor{Company: "(주)스마트도서", Work: "유지보수"}})
	require.NoError(t, err)
	create := func(c *registryv1.ProcessorContract) func() error {
		return func() error {
			_, err := s.Registry.CreateContract(ctx, &registryv1.CreateContractRequest{Parent: p.GetName(), Contract: c})
			return err
		}
	}
	refuseAll(t, s, []refusal{
		{name: "sub-processor without consent", call: create(&registryv1.ProcessorContract{Subprocessors: []*registryv1.Subprocessor{{Company: "x"}}}),
			code: codes.InvalidArgument, field: "contract.subprocessors[0].consent_date", rule: "PIPA-26-6", n: 2},
		// PIPA-26-2: every processor, sub-processors too, is published by name.
		{name: "sub-processor without a name", call: create(&registryv1.ProcessorContract{Subprocessors: []*registryv1.Subprocessor{{
			ConsentDate: registrytest.InDays(-1), ConsentEvidence: "x"}}}),
			code: codes.InvalidArgument, field: "contract.subprocessors[0].company", rule: "required"},
		{name: "consent without its record", call: create(&registryv1.ProcessorContract{Subprocessors: []*registryv1.Subprocessor{{Company: "x", ConsentDate: registrytest.InDays(-1)}}}),
			code: codes.InvalidArgument, field: "contract.subprocessors[0].consent_evidence", rule: "PIPA-26-6"},
		{name: "education without evidence", call: create(&registryv1.ProcessorContract{Educations: []*registryv1.SupervisionRecord{{Date: registrytest.InDays(-1)}}}),
			code: codes.InvalidArgument, field: "contract.educations[0].evidence", rule: "PIPA-26-4"},
		{name: "inspection in the future", call: create(&registryv1.ProcessorContract{Inspections: []*registryv1.SupervisionRecord{{Date: registrytest.InDays(2), Evidence: "x"}}}),
			code: codes.InvalidArgument, field: "contract.inspections[0].date", rule: "PIPA-26-4"},
		{name: "signed in the future", call: create(&registryv1.ProcessorContract{SignedDate: registrytest.InDays(1)}),
			code: codes.InvalidArgument, field: "contract.signed_date", rule: "PIPA-26-1"},
		{name: "interval", call: create(&registryv1.ProcessorContract{SupervisionMonths: 99}),
			code: codes.InvalidArgument, field: "contract.supervision_months", rule: "range"},
		{name: "unknown processor", call: func() error {
			_, err := s.Registry.CreateContract(ctx, &registryv1.CreateContractRequest{Parent: seongnamUnit + "/processors/nope",
				Contract: &registryv1.ProcessorContract{}})
			return err
		}, code: codes.NotFound},
		{name: "handler may not write", call: func() error {
			_, err := s.Registry.CreateContract(s.As(auth.RoleHandler, "tenants/seongnam"), &registryv1.CreateContractRequest{Parent: p.GetName(),
				Contract: &registryv1.ProcessorContract{}})
			return err
		}, code: codes.PermissionDenied},
	})
}

// PIPA-26-2, PIPA-26-6: the privacy policy lists a processor's sub-processors only from its
// contract's records of the body's consent: the processor's own note of a sub-processor, not
// consented, puts nothing in the text; once the contract records the consent, the text's
// sub-processor row names it under its processor, and only there.
func TestPolicyListsConsentedSubprocessors(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("seongnam-library.yaml")
	ctx := s.Admin()
	p, err := s.Registry.CreateProcessor(ctx, &registryv1.CreateProcessorRequest{Parent: seongnamUnit, ProcessorId: "smart-lib",
		Processor: &registryv1.Processor{Company: "(주)스마트도서", Work: "도서관리시스템 유지보수", Subprocessor: "(주)데이터센터"}})
	require.NoError(t, err)
	_, err = s.Registry.CreateProcessor(ctx, &registryv1.CreateProcessorRequest{Parent: seongnamUnit, ProcessorId: "print-shop",
		Processor: &registryv1.Processor{Company: "(주)인쇄소", Work: "회원증 발급"}})
	require.NoError(t, err)
	privacy := seongnamUnit + "/policies/privacy"
	render := func() string {
		d, err := s.Registry.CreatePolicyVersion(ctx, &registryv1.CreatePolicyVersionRequest{Parent: privacy, PolicyVersion: &registryv1.PolicyVersion{
			Articles: []*registryv1.Article{{Heading: "제8조(개인정보 처리업무의 위탁)",
				Body: "- {{processor.company}}: {{processor.work}}\n  - 재수탁자 {{subprocessor.company}}: {{subprocessor.work}}"}}}})
		require.NoError(t, err)
		text, err := s.Registry.RenderPolicyVersion(ctx, &registryv1.RenderPolicyVersionRequest{Name: d.GetName(), Format: "text"})
		require.NoError(t, err)
		return text.GetContent()
	}
	text := render()
	require.Contains(t, text, "(주)스마트도서: 도서관리시스템 유지보수")
	require.NotContains(t, text, "재수탁자", "no consent recorded: no sub-processor stated")
	require.NotContains(t, text, "(주)데이터센터")

	_, err = s.Registry.CreateContract(ctx, &registryv1.CreateContractRequest{Parent: p.GetName(),
		Contract: &registryv1.ProcessorContract{SignedDate: registrytest.InDays(-30), Subprocessors: []*registryv1.Subprocessor{{
			Company: "(주)데이터센터", Work: "서버 운영", ConsentDate: registrytest.InDays(-20), ConsentEvidence: "도서관사업소-2345"}}}})
	require.NoError(t, err)
	text = render()
	require.Equal(t, 1, strings.Count(text, "재수탁자"), text)
	shop, smart, sub := strings.Index(text, "(주)인쇄소"), strings.Index(text, "(주)스마트도서"), strings.Index(text, "재수탁자 (주)데이터센터: 서버 운영")
	require.True(t, shop >= 0 && smart >= 0 && sub > smart && (shop < smart || shop > sub), "the sub-processor under its processor: %s", text)
}
