package registry_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pipa-kr/pipa/pkg/auth"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/pkg/stacktest"
	"github.com/pipa-kr/pipa/services/registry/registrytest"
)

// These tests need PostgreSQL (DATABASE_URL): the registers of seed 003's institution, over gRPC
// and REST, with their REGISTER entries written to the outbox in the same transaction.

const (
	seongnamUnit  = "tenants/seongnam/units/library-office"
	seongnamFile  = seongnamUnit + "/files/library-members"
	seongnamFile2 = seongnamUnit + "/files/homepage-members"
)

// registerEntries counts the REGISTER entries in the registry's outbox for the tenant.
func registerEntries(t *testing.T, s *stack, tenant string) int {
	t.Helper()
	var n int
	require.NoError(t, s.DB().QueryRow(context.Background(),
		`SELECT count(*) FROM registry.ledger_outbox WHERE tenant_id = $1 AND kind = 'REGISTER'`, tenant).Scan(&n))
	return n
}

// The demo data of seed 003 are records: the 2016 assessment of the two files, the 2023
// evaluation with its grade and improvements done, and each file's registration not recorded.
func TestSeongnamRegistersFromSeed(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("seongnam-library.yaml")
	ctx := s.Admin()

	as, err := s.Registry.ListAssessments(ctx, &registryv1.ListAssessmentsRequest{Parent: seongnamUnit})
	require.NoError(t, err)
	require.Len(t, as.GetAssessments(), 1)
	a := as.GetAssessments()[0]
	require.Equal(t, int32(2016), a.GetYear())
	require.Equal(t, "일반정보", a.GetItems())
	require.ElementsMatch(t, []string{seongnamFile, seongnamFile2}, a.GetFiles())

	es, err := s.Registry.ListEvaluations(ctx, &registryv1.ListEvaluationsRequest{Parent: seongnamUnit})
	require.NoError(t, err)
	require.Len(t, es.GetEvaluations(), 1)
	require.Equal(t, "A", es.GetEvaluations()[0].GetGrade())
	require.Len(t, es.GetEvaluations()[0].GetImprovements(), 2)

	// Two records, two REGISTER entries waiting for the ledger (which does not run here).
	require.Equal(t, 2, registerEntries(t, s, "seongnam"))

	// A second import changes nothing.
	s.Load("seongnam-library.yaml")
	require.Equal(t, 2, registerEntries(t, s, "seongnam"))

	// PIPA-32-1: the two files' registration is not recorded, so the list asks for it; the
	// improvements are done; PIPA-11의2: this year's evaluation is owed by the city. DEC-32-2: the
	// CPO's grade (4급) is recorded, so nothing is asked of it.
	ob, err := s.Registry.ListObligations(ctx, &registryv1.ListObligationsRequest{Parent: "tenants/seongnam"})
	require.NoError(t, err)
	var rules []string
	for _, o := range ob.GetObligations() {
		rules = append(rules, o.GetRule()+" "+o.GetResource())
	}
	// S-4-1: no internal management plan is recorded (the seed states none).
	require.ElementsMatch(t, []string{"PIPA-32-1 " + seongnamFile, "PIPA-32-1 " + seongnamFile2, "PIPA-11의2 tenants/seongnam", "S-4-1 tenants/seongnam"}, rules)
	require.Equal(t, int32(4), ob.GetDueCount())
	require.Zero(t, ob.GetOverdueCount())
	// The registry runs alone here: the other services' duties are named as missing, not dropped.
	require.Len(t, ob.GetMissing(), 2)
	require.True(t, strings.HasPrefix(ob.GetMissing()[0], "requests: Unavailable"), ob.GetMissing()[0])
	require.True(t, strings.HasPrefix(ob.GetMissing()[1], "retention: Unavailable"), ob.GetMissing()[1])
	for _, o := range ob.GetObligations() {
		require.Equal(t, "registry", o.GetSource())
	}
}

// DEC-34-1: a registration is due 60 days from the event, overdue after, done once filed with
// PIPC's date and number; every change is a REGISTER entry.
func TestRegistrationDeadline(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("seongnam-library.yaml")
	ctx := s.Admin()
	before := registerEntries(t, s, "seongnam")

	live := registrytest.InDays(-70)
	r, err := s.Registry.CreateRegistration(ctx, &registryv1.CreateRegistrationRequest{Parent: seongnamFile, RequestId: "r1",
		Registration: &registryv1.Registration{Kind: registryv1.RegistrationKind_REGISTRATION_KIND_REGISTRATION, EventDate: live,
			ProcessingMethod: "전자", AccessDepartment: "도서관사업소"}})
	require.NoError(t, err)
	require.Equal(t, seongnamFile+"/registrations/1", r.GetName())
	require.Equal(t, registryv1.DeadlineState_DEADLINE_STATE_OVERDUE, r.GetState())
	require.Equal(t, registrytest.InDays(-10), r.GetDueDate())

	// A retry with the same request_id is the same event, recorded once.
	again, err := s.Registry.CreateRegistration(ctx, &registryv1.CreateRegistrationRequest{Parent: seongnamFile, RequestId: "r1",
		Registration: &registryv1.Registration{Kind: registryv1.RegistrationKind_REGISTRATION_KIND_REGISTRATION, EventDate: live,
			ProcessingMethod: "전자", AccessDepartment: "도서관사업소"}})
	require.NoError(t, err)
	require.Equal(t, r.GetName(), again.GetName())
	require.Equal(t, before+1, registerEntries(t, s, "seongnam"))

	ob, err := s.Registry.ListObligations(ctx, &registryv1.ListObligationsRequest{Parent: seongnamUnit,
		States: []registryv1.DeadlineState{registryv1.DeadlineState_DEADLINE_STATE_OVERDUE}})
	require.NoError(t, err)
	require.Len(t, ob.GetObligations(), 1)
	require.Equal(t, "DEC-34-1", ob.GetObligations()[0].GetRule())
	require.Equal(t, int32(-10), ob.GetObligations()[0].GetDaysLeft())
	require.Equal(t, int32(1), ob.GetOverdueCount())

	// PIPA-32-1: the file's registration status is its records', whatever a client sends.
	f, err := s.Registry.GetFile(ctx, &registryv1.GetFileRequest{Name: seongnamFile})
	require.NoError(t, err)
	require.False(t, f.GetRegistered())
	require.Equal(t, registryv1.DeadlineState_DEADLINE_STATE_OVERDUE, f.GetRegistrationState())
	f, err = s.Registry.UpdateFile(ctx, &registryv1.UpdateFileRequest{File: &registryv1.PersonalInformationFile{Name: seongnamFile,
		Registered: true, RegistrationState: registryv1.DeadlineState_DEADLINE_STATE_DONE, Etag: f.GetEtag()}})
	require.NoError(t, err)
	require.False(t, f.GetRegistered(), "registered is output only")
	require.Equal(t, registryv1.DeadlineState_DEADLINE_STATE_OVERDUE, f.GetRegistrationState())

	// A change 5 days ago is due in 55 days (D-55).
	c, err := s.Registry.CreateRegistration(ctx, &registryv1.CreateRegistrationRequest{Parent: seongnamFile,
		Registration: &registryv1.Registration{Kind: registryv1.RegistrationKind_REGISTRATION_KIND_CHANGE, EventDate: registrytest.InDays(-5),
			Description: "선택항목에 이메일주소 추가"}})
	require.NoError(t, err)
	require.Equal(t, registryv1.DeadlineState_DEADLINE_STATE_DUE, c.GetState())

	// Filed with PIPC: done, through REST as the officer's client would.
	hr, err := http.NewRequest(http.MethodPost, s.URL+"/v1/"+r.GetName()+":file", strings.NewReader(
		fmt.Sprintf(`{"filedDate": %q, "pipcNumber": "2026-성남-0042", "etag": %q}`, registrytest.InDays(-1), r.GetEtag())))
	require.NoError(t, err)
	hr.Header.Set("Authorization", "Bearer "+s.Token(auth.RoleCPO, "tenants/seongnam"))
	resp, err := s.HTTP.Do(hr)
	require.NoError(t, err)
	body := stacktest.Body(t, resp)
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	require.Contains(t, body, `"state":"DEADLINE_STATE_DONE"`)

	list, err := s.Registry.ListRegistrations(ctx, &registryv1.ListRegistrationsRequest{Parent: "tenants/seongnam"})
	require.NoError(t, err)
	for _, fr := range list.GetFiles() {
		if fr.GetFile().GetName() != seongnamFile {
			require.Empty(t, fr.GetRegistrations())
			continue
		}
		require.Len(t, fr.GetRegistrations(), 2)
		require.Equal(t, c.GetName(), fr.GetRegistrations()[0].GetName(), "last first")
		require.Equal(t, registryv1.DeadlineState_DEADLINE_STATE_DUE, fr.GetState())
		require.Equal(t, "2026-성남-0042", fr.GetRegistrations()[1].GetPipcNumber())
	}
	require.Equal(t, before+3, registerEntries(t, s, "seongnam"))
	// Registered once filed, while its change is due; the list of files says the same.
	files, err := s.Registry.ListFiles(ctx, &registryv1.ListFilesRequest{Parent: seongnamUnit})
	require.NoError(t, err)
	for _, f := range files.GetFiles() {
		require.Equal(t, f.GetName() == seongnamFile, f.GetRegistered(), f.GetName())
		if f.GetName() == seongnamFile {
			require.Equal(t, registryv1.DeadlineState_DEADLINE_STATE_DUE, f.GetRegistrationState())
		}
	}

	// PIPA-32-1 / DEC-33-1: the export in the columns of PIPC's registration form, for the officer
	// who files on the portal.
	resp = s.Get("/v1/tenants/seongnam/files:exportRegistrations", "Authorization", "Bearer "+s.Token(auth.RoleCPO, "tenants/seongnam"))
	csv := stacktest.Body(t, resp)
	require.Equal(t, http.StatusOK, resp.StatusCode, csv)
	require.Equal(t, "text/csv; charset=utf-8", resp.Header.Get("Content-Type"))
	lines := strings.Split(strings.TrimSpace(csv), "\r\n")
	require.Len(t, lines, 3, "the header and the unit's two files")
	require.True(t, strings.HasPrefix(lines[0], "\uFEFF번호,개인정보파일의 명칭,운영 근거"), lines[0])
	require.Contains(t, csv, "도서관리프로그램 회원가입 및 관리")
	require.Contains(t, csv, "변경등록,"+registrytest.InDays(-5)+","+registrytest.InDays(55)+",기한 내")
	require.Contains(t, csv, "기록 없음", "the other file's registration is not recorded")
	resp = s.Get("/v1/tenants/seongnam/files:exportRegistrations?format=xlsx", "Authorization", "Bearer "+s.Token(auth.RoleAuditor, "tenants/seongnam"))
	xlsx := stacktest.Body(t, resp)
	require.Equal(t, http.StatusOK, resp.StatusCode, xlsx)
	require.True(t, strings.HasPrefix(xlsx, "PK"), "a zip (XLSX)")
	resp = s.Get("/v1/tenants/seongnam/files:exportRegistrations", "Authorization", "Bearer "+s.Token(auth.RoleTenantAdmin, "tenants/iksan"))
	stacktest.Body(t, resp)
	require.Equal(t, http.StatusForbidden, resp.StatusCode, "another tenant's export")

	// Filing again with other facts is refused: the filing stands.
	_, err = s.Registry.FileRegistration(ctx, &registryv1.FileRegistrationRequest{Name: r.GetName(), FiledDate: registrytest.InDays(0), PipcNumber: "other"})
	require.Equal(t, codes.FailedPrecondition, status.Code(err), "%v", err)

	// Another tenant's administrator sees nothing of it.
	_, err = s.Registry.ListRegistrations(s.As(auth.RoleTenantAdmin, "tenants/iksan"), &registryv1.ListRegistrationsRequest{Parent: "tenants/seongnam"})
	require.Equal(t, codes.PermissionDenied, status.Code(err))
}

// Two events of one file recorded at once take two numbers.
func TestRegistrationsNumberedUnderConcurrency(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("seongnam-library.yaml")
	var wg sync.WaitGroup
	got := make([]string, 4)
	errs := make([]error, 4)
	for i := range got {
		wg.Go(func() {
			r, err := s.Registry.CreateRegistration(s.Admin(), &registryv1.CreateRegistrationRequest{Parent: seongnamFile2,
				Registration: &registryv1.Registration{Kind: registryv1.RegistrationKind_REGISTRATION_KIND_CHANGE,
					EventDate: registrytest.InDays(-i), Description: fmt.Sprintf("change %d", i)}})
			got[i], errs[i] = r.GetName(), err
		})
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	require.ElementsMatch(t, []string{seongnamFile2 + "/registrations/1", seongnamFile2 + "/registrations/2",
		seongnamFile2 + "/registrations/3", seongnamFile2 + "/registrations/4"}, got)
}

// DEC-35 and DEC-38-2: a file over a threshold must be assessed; an assessment's report goes to
// PIPC within two months of receipt, each improvement's result within a year.
func TestAssessmentDuties(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("seongnam-library.yaml")
	ctx := s.Admin()

	f, err := s.Registry.CreateFile(ctx, &registryv1.CreateFileRequest{Parent: seongnamUnit, FileId: "welfare",
		File: &registryv1.PersonalInformationFile{DisplayName: "복지대상자 관리", Purpose: "복지 급여", LegalBasis: "사회보장급여법",
			RequiredItems: []string{"이름", "주민등록번호"}, Retention: "5년", SubjectCount: 60_000, UniqueIdentifiers: true}})
	require.NoError(t, err)
	list, err := s.Registry.ListRegistrations(ctx, &registryv1.ListRegistrationsRequest{Parent: seongnamUnit})
	require.NoError(t, err)
	var required []string
	for _, fr := range list.GetFiles() {
		if fr.GetAssessmentRequired() {
			required = append(required, fr.GetFile().GetName())
			require.Contains(t, fr.GetAssessmentThreshold(), "DEC-35 1")
		}
	}
	require.Equal(t, []string{f.GetName()}, required, "DEC-35: only the file with 60,000 subjects' unique identifiers")
	ob, err := s.Registry.ListObligations(ctx, &registryv1.ListObligationsRequest{Parent: seongnamUnit})
	require.NoError(t, err)
	require.Contains(t, rulesOf(ob), "DEC-35 "+f.GetName())

	a, err := s.Registry.CreateAssessment(ctx, &registryv1.CreateAssessmentRequest{Parent: seongnamUnit, AssessmentId: "welfare-2026",
		Assessment: &registryv1.ImpactAssessment{DisplayName: "복지시스템 영향평가", Files: []string{f.GetName()}, Year: int32(registrytestYear()),
			Assessor: "한국정보보호평가원", StartDate: registrytest.InDays(-120), ReportDate: registrytest.InDays(-90),
			Improvements: []*registryv1.Improvement{{Description: "접근권한 재설정", DueDate: registrytest.InDays(30)}}}})
	require.NoError(t, err)
	ob, err = s.Registry.ListObligations(ctx, &registryv1.ListObligationsRequest{Parent: seongnamUnit})
	require.NoError(t, err)
	rules := rulesOf(ob)
	require.NotContains(t, rules, "DEC-35 "+f.GetName(), "assessed")
	require.Contains(t, rules, "DEC-38-2 "+a.GetName(), "the report is not submitted two months after receipt")
	for _, o := range ob.GetObligations() {
		if o.GetResource() == a.GetName() {
			require.Equal(t, registryv1.DeadlineState_DEADLINE_STATE_OVERDUE, o.GetState())
		}
	}
	require.Contains(t, rules, "DEC-38-2 "+a.GetName()+"#improvements[0]")

	// Submitted and the improvement done and reported: nothing of it is left.
	a.SubmitDate = registrytest.InDays(-60)
	a.Improvements[0].DoneDate, a.Improvements[0].ReportDate = registrytest.InDays(-10), registrytest.InDays(-5)
	a, err = s.Registry.UpdateAssessment(ctx, &registryv1.UpdateAssessmentRequest{Assessment: a})
	require.NoError(t, err)
	ob, err = s.Registry.ListObligations(ctx, &registryv1.ListObligationsRequest{Parent: seongnamUnit})
	require.NoError(t, err)
	for _, r := range rulesOf(ob) {
		require.NotContains(t, r, a.GetName())
	}
	// A stale etag is refused.
	a.Etag = "stale"
	_, err = s.Registry.UpdateAssessment(ctx, &registryv1.UpdateAssessmentRequest{Assessment: a})
	require.Equal(t, codes.Aborted, status.Code(err), "%v", err)
}

func rulesOf(ob *registryv1.ListObligationsResponse) []string {
	var out []string
	for _, o := range ob.GetObligations() {
		out = append(out, o.GetRule()+" "+o.GetResource())
	}
	return out
}

func registrytestYear() int {
	var y int
	fmt.Sscanf(registrytest.InDays(0), "%d", &y)
	return y
}

// Bad input to the registers is refused naming the field and the rule, and changes nothing.
func TestBadRegisterInput(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("seongnam-library.yaml")
	ctx := s.Admin()
	reg := func(r *registryv1.Registration) func() error {
		return func() error {
			_, err := s.Registry.CreateRegistration(ctx, &registryv1.CreateRegistrationRequest{Parent: seongnamFile, Registration: r})
			return err
		}
	}
	assess := func(a *registryv1.ImpactAssessment) func() error {
		return func() error {
			_, err := s.Registry.CreateAssessment(ctx, &registryv1.CreateAssessmentRequest{Parent: seongnamUnit, AssessmentId: "x", Assessment: a})
			return err
		}
	}
	live := registryv1.RegistrationKind_REGISTRATION_KIND_REGISTRATION
	refuseAll(t, s, []refusal{
		{name: "no kind", call: reg(&registryv1.Registration{EventDate: registrytest.InDays(-1)}),
			code: codes.InvalidArgument, field: "registration.kind", rule: "PIPA-32-1"},
		{name: "no event date", call: reg(&registryv1.Registration{Kind: live}),
			code: codes.InvalidArgument, field: "registration.event_date", rule: "DEC-34-1"},
		{name: "event in the future", call: reg(&registryv1.Registration{Kind: live, EventDate: registrytest.InDays(3)}),
			code: codes.InvalidArgument, field: "registration.event_date", rule: "DEC-34-1"},
		{name: "exemption without ground", call: reg(&registryv1.Registration{Kind: registryv1.RegistrationKind_REGISTRATION_KIND_EXEMPTION}),
			code: codes.InvalidArgument, field: "registration.exemption", rule: "PIPA-32-2"},
		{name: "change without what", call: reg(&registryv1.Registration{Kind: registryv1.RegistrationKind_REGISTRATION_KIND_CHANGE, EventDate: registrytest.InDays(-1)}),
			code: codes.InvalidArgument, field: "registration.description", rule: "DEC-34-1"},
		{name: "filed before the event", call: reg(&registryv1.Registration{Kind: live, EventDate: registrytest.InDays(-5),
			FiledDate: registrytest.InDays(-6), PipcNumber: "1"}),
			code: codes.InvalidArgument, field: "registration.filed_date", rule: "DEC-34-1"},
		{name: "filed without number", call: reg(&registryv1.Registration{Kind: live, EventDate: registrytest.InDays(-5),
			FiledDate: registrytest.InDays(-1)}),
			code: codes.InvalidArgument, field: "registration.pipc_number", rule: "DEC-34-1"},
		{name: "unknown file", call: func() error {
			_, err := s.Registry.CreateRegistration(ctx, &registryv1.CreateRegistrationRequest{Parent: seongnamUnit + "/files/nope",
				Registration: &registryv1.Registration{Kind: live, EventDate: registrytest.InDays(-1)}})
			return err
		}, code: codes.NotFound},
		{name: "assessment of another unit's file", call: assess(&registryv1.ImpactAssessment{DisplayName: "x", Year: 2020,
			Files: []string{"tenants/iksan/units/city/files/x"}}),
			code: codes.InvalidArgument, field: "assessment.files[0]", rule: "exists"},
		{name: "assessment submitted before its report", call: assess(&registryv1.ImpactAssessment{DisplayName: "x", Year: 2020,
			Files: []string{seongnamFile}, ReportDate: registrytest.InDays(-5), SubmitDate: registrytest.InDays(-6)}),
			code: codes.InvalidArgument, field: "assessment.submit_date", rule: "DEC-38-2"},
		{name: "improvement reported before done", call: assess(&registryv1.ImpactAssessment{DisplayName: "x", Year: 2020,
			Files: []string{seongnamFile}, Improvements: []*registryv1.Improvement{{Description: "x", DoneDate: registrytest.InDays(-1), ReportDate: registrytest.InDays(-2)}}}),
			code: codes.InvalidArgument, field: "assessment.improvements[0].report_date", rule: "DEC-38-2"},
		{name: "evaluation year", call: func() error {
			_, err := s.Registry.CreateEvaluation(ctx, &registryv1.CreateEvaluationRequest{Parent: seongnamUnit,
				Evaluation: &registryv1.ProtectionEvaluation{Year: 1999}})
			return err
		}, code: codes.InvalidArgument, field: "evaluation.year", rule: "range"},
		{name: "evaluation twice", call: func() error {
			_, err := s.Registry.CreateEvaluation(ctx, &registryv1.CreateEvaluationRequest{Parent: seongnamUnit,
				Evaluation: &registryv1.ProtectionEvaluation{Year: 2023, Grade: "B"}})
			return err
		}, code: codes.AlreadyExists},
		{name: "handler may not write", call: func() error {
			_, err := s.Registry.CreateRegistration(s.As(auth.RoleHandler, "tenants/seongnam"), &registryv1.CreateRegistrationRequest{Parent: seongnamFile,
				Registration: &registryv1.Registration{Kind: live, EventDate: registrytest.InDays(-1)}})
			return err
		}, code: codes.PermissionDenied},
	})
}

// DEC-38-3: the policy's assessment and evaluation articles are filled from the records the body
// publishes, and from no other: a draft of seed 003's policy renders this year's grade as
// recorded, and a record withdrawn from publication leaves its binding unresolved (a finding),
// never a sentence pipa wrote.
func TestPolicyReadsPublishedRegisters(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("seongnam-library.yaml")
	ctx := s.Admin()
	es, err := s.Registry.ListEvaluations(ctx, &registryv1.ListEvaluationsRequest{Parent: seongnamUnit})
	require.NoError(t, err)
	e := es.GetEvaluations()[0]
	e.Grade = "S"
	e, err = s.Registry.UpdateEvaluation(ctx, &registryv1.UpdateEvaluationRequest{Evaluation: e})
	require.NoError(t, err)

	privacy := seongnamUnit + "/policies/privacy"
	d, err := s.Registry.CreatePolicyVersion(ctx, &registryv1.CreatePolicyVersionRequest{Parent: privacy, PolicyVersion: &registryv1.PolicyVersion{}})
	require.NoError(t, err)
	text, err := s.Registry.RenderPolicyVersion(ctx, &registryv1.RenderPolicyVersionRequest{Name: d.GetName(), Format: "text"})
	require.NoError(t, err)
	require.Contains(t, text.GetContent(), "성남시는 2023년도 개인정보 관리수준 진단 평가에서 'S'등급을 획득하였습니다.")
	require.Contains(t, text.GetContent(), "도서대출회원정보 등 2개")

	e.Publish = false
	_, err = s.Registry.UpdateEvaluation(ctx, &registryv1.UpdateEvaluationRequest{Evaluation: e})
	require.NoError(t, err)
	d, err = s.Registry.CreatePolicyVersion(ctx, &registryv1.CreatePolicyVersionRequest{Parent: privacy, PolicyVersion: &registryv1.PolicyVersion{}})
	require.NoError(t, err)
	check, err := s.Registry.CheckPolicyVersion(ctx, &registryv1.CheckPolicyVersionRequest{Name: d.GetName()})
	require.NoError(t, err)
	require.False(t, check.GetReady())
	found := false
	for _, f := range check.GetFindings() {
		found = found || strings.Contains(f.String(), "evaluation")
	}
	require.True(t, found, "the unresolved binding is a finding: %v", check.GetFindings())
}

// PIPA-32-1: the privacy policy states a file's registration where the body's text binds it, from
// the registrations register: filed, it reads as filed; not filed, the binding stays unresolved
// (a finding), never a sentence pipa wrote.
func TestPolicyReadsFileRegistration(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("seongnam-library.yaml")
	ctx := s.Admin()
	privacy := seongnamUnit + "/policies/privacy"
	draft := func() *registryv1.PolicyVersion {
		d, err := s.Registry.CreatePolicyVersion(ctx, &registryv1.CreatePolicyVersionRequest{Parent: privacy, PolicyVersion: &registryv1.PolicyVersion{
			Articles: []*registryv1.Article{{Heading: "제9조(개인정보파일 등록 현황)",
				Body: "도서관 회원: {{registration/library-members.status}} ({{registration/library-members.pipcNumber}})"}}}})
		require.NoError(t, err)
		return d
	}
	check, err := s.Registry.CheckPolicyVersion(ctx, &registryv1.CheckPolicyVersionRequest{Name: draft().GetName()})
	require.NoError(t, err)
	require.Contains(t, fmt.Sprint(check.GetFindings()), "library-members", "not filed: unresolved")

	r, err := s.Registry.CreateRegistration(ctx, &registryv1.CreateRegistrationRequest{Parent: seongnamFile,
		Registration: &registryv1.Registration{Kind: registryv1.RegistrationKind_REGISTRATION_KIND_REGISTRATION, EventDate: registrytest.InDays(-20)}})
	require.NoError(t, err)
	_, err = s.Registry.FileRegistration(ctx, &registryv1.FileRegistrationRequest{Name: r.GetName(), FiledDate: registrytest.InDays(-2), PipcNumber: "2026-성남-0042"})
	require.NoError(t, err)
	text, err := s.Registry.RenderPolicyVersion(ctx, &registryv1.RenderPolicyVersionRequest{Name: draft().GetName(), Format: "text"})
	require.NoError(t, err)
	require.Contains(t, text.GetContent(), "도서관 회원: 등록 (2026-성남-0042)")
}
