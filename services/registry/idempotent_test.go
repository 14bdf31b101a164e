package registry_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/pipa-kr/pipa/pkg/auth"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/pkg/stacktest"
)

// Every update and delete of the registry takes a request_id (AIP-155): a retry after a lost
// answer, even with the etag the first call was sent with, gets the first call's answer and
// changes nothing more (no second REGISTER entry, no NotFound for a retried delete); the same id
// with another request is refused naming request_id and changes nothing; another tenant can
// neither replay the id on this tenant's resource nor be answered from it on its own.
func TestChangesAreIdempotent(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("jeongeup-library.yaml")
	s.Load("seongnam-library.yaml")
	ctx := s.Admin()
	reg := s.Registry
	mask := func(paths ...string) *fieldmaskpb.FieldMask { return &fieldmaskpb.FieldMask{Paths: paths} }
	pick := func(other bool, first, second string) string {
		if other {
			return second
		}
		return first
	}

	// What the deletes and some updates work on.
	newOfficer := func(id string) string {
		o, err := reg.CreateOfficer(ctx, &registryv1.CreateOfficerRequest{Parent: libraryUnit, OfficerId: id,
			Officer: &registryv1.Officer{DisplayName: "임시 담당자", Affiliation: "도서관사업소", Phone: "063-539-0000",
				Roles: []registryv1.OfficerRole{registryv1.OfficerRole_OFFICER_ROLE_ACCESS_AUTHORIZED}}})
		require.NoError(t, err)
		return o.GetName()
	}
	newSite := func(id string) *registryv1.Site {
		x, err := reg.CreateSite(ctx, &registryv1.CreateSiteRequest{Parent: libraryUnit, SiteId: id, Site: &registryv1.Site{
			DisplayName: "주차장", CameraCount: 4, RecordingHours: "24시간", RetentionDays: 30, StoragePlace: "전산실",
			Manager:  libraryUnit + "/officers/song-hyunsook",
			Purposes: []*registryv1.SitePurpose{{Description: "범죄 예방", Ground: registryv1.CctvGround_CCTV_GROUND_CRIME_PREVENTION}}}})
		require.NoError(t, err)
		return x
	}
	newProcessor := func(id string) string {
		p, err := reg.CreateProcessor(ctx, &registryv1.CreateProcessorRequest{Parent: libraryUnit, ProcessorId: id,
			Processor: &registryv1.Processor{Company: "에이스보안", Work: "CCTV 유지보수", Phone: "063-000-0000"}})
		require.NoError(t, err)
		return p.GetName()
	}
	officerGone, officerKept := newOfficer("leaving"), newOfficer("staying")
	site := newSite("parking")
	siteGone, siteKept := newSite("gone").GetName(), newSite("kept").GetName()
	processorGone, processorKept := newProcessor("gone"), newProcessor("kept")
	draft, err := reg.CreatePolicyVersion(ctx, &registryv1.CreatePolicyVersionRequest{Parent: libraryUnit + "/policies/privacy"})
	require.NoError(t, err)
	attest := func(id string) string {
		a, err := reg.CreateAttestation(ctx, &registryv1.CreateAttestationRequest{Parent: "tenants/jeongeup", AttestationId: id,
			Attestation: &registryv1.Attestation{Unit: libraryUnit, Kind: registryv1.PolicyKind_POLICY_KIND_PRIVACY, Item: "children",
				Statement: "14세 미만 아동의 개인정보를 수집하지 않습니다.", Officer: libraryUnit + "/officers/song-hyunsook"}})
		require.NoError(t, err)
		return a.GetName()
	}
	attestationGone, attestationKept := attest("gone"), attest("kept")
	assessments, err := reg.ListAssessments(ctx, &registryv1.ListAssessmentsRequest{Parent: seongnamUnit})
	require.NoError(t, err)
	assessment := assessments.GetAssessments()[0]
	evaluations, err := reg.ListEvaluations(ctx, &registryv1.ListEvaluationsRequest{Parent: seongnamUnit})
	require.NoError(t, err)
	evaluation := evaluations.GetEvaluations()[0]
	officer, err := reg.GetOfficer(ctx, &registryv1.GetOfficerRequest{Name: libraryUnit + "/officers/song-seunghak"})
	require.NoError(t, err)

	// Each call sends, under request_id id, its request; other sends a different one.
	calls := []struct {
		name string
		call func(id string, other bool) (proto.Message, error)
	}{
		{"UpdateTenant", func(id string, other bool) (proto.Message, error) {
			return reg.UpdateTenant(ctx, &registryv1.UpdateTenantRequest{RequestId: id, UpdateMask: mask("phone"),
				Tenant: &registryv1.Tenant{Name: "tenants/jeongeup", Phone: pick(other, "063-539-5114", "063-539-5115")}})
		}},
		{"UpdateUnit", func(id string, other bool) (proto.Message, error) {
			return reg.UpdateUnit(ctx, &registryv1.UpdateUnitRequest{RequestId: id, UpdateMask: mask("display_name"),
				Unit: &registryv1.Unit{Name: libraryUnit, DisplayName: pick(other, "정읍시립도서관", "정읍시 도서관")}})
		}},
		{"UpdateOfficer", func(id string, other bool) (proto.Message, error) {
			return reg.UpdateOfficer(ctx, &registryv1.UpdateOfficerRequest{RequestId: id, UpdateMask: mask("phone"),
				Officer: &registryv1.Officer{Name: officer.GetName(), Etag: officer.GetEtag(), Phone: pick(other, "063-539-6434", "063-539-6435")}})
		}},
		{"DeleteOfficer", func(id string, other bool) (proto.Message, error) {
			return reg.DeleteOfficer(ctx, &registryv1.DeleteOfficerRequest{RequestId: id, Name: pick(other, officerGone, officerKept)})
		}},
		{"UpdateSite", func(id string, other bool) (proto.Message, error) {
			return reg.UpdateSite(ctx, &registryv1.UpdateSiteRequest{RequestId: id, UpdateMask: mask("camera_count"),
				Site: &registryv1.Site{Name: site.GetName(), Etag: site.GetEtag(), CameraCount: map[bool]int32{false: 6, true: 8}[other]}})
		}},
		{"DeleteSite", func(id string, other bool) (proto.Message, error) {
			return reg.DeleteSite(ctx, &registryv1.DeleteSiteRequest{RequestId: id, Name: pick(other, siteGone, siteKept)})
		}},
		{"UpdateProcessor", func(id string, other bool) (proto.Message, error) {
			return reg.UpdateProcessor(ctx, &registryv1.UpdateProcessorRequest{RequestId: id, UpdateMask: mask("phone"),
				Processor: &registryv1.Processor{Name: processorKept, Phone: pick(other, "063-000-0001", "063-000-0002")}})
		}},
		{"DeleteProcessor", func(id string, other bool) (proto.Message, error) {
			return reg.DeleteProcessor(ctx, &registryv1.DeleteProcessorRequest{RequestId: id, Name: pick(other, processorGone, processorKept)})
		}},
		{"UpdateFile", func(id string, other bool) (proto.Message, error) {
			return reg.UpdateFile(ctx, &registryv1.UpdateFileRequest{RequestId: id, UpdateMask: mask("display_name"),
				File: &registryv1.PersonalInformationFile{Name: seongnamFile, DisplayName: pick(other, "도서관리프로그램 회원", "도서 회원")}})
		}},
		{"UpdatePolicyVersion", func(id string, other bool) (proto.Message, error) {
			return reg.UpdatePolicyVersion(ctx, &registryv1.UpdatePolicyVersionRequest{RequestId: id, UpdateMask: mask("title"),
				PolicyVersion: &registryv1.PolicyVersion{Name: draft.GetName(), Etag: draft.GetEtag(), Title: pick(other, "개인정보 처리방침 (개정안)", "개정안")}})
		}},
		{"DeleteAttestation", func(id string, other bool) (proto.Message, error) {
			return reg.DeleteAttestation(ctx, &registryv1.DeleteAttestationRequest{RequestId: id, Name: pick(other, attestationGone, attestationKept)})
		}},
		{"UpdateAssessment", func(id string, other bool) (proto.Message, error) {
			a := proto.CloneOf(assessment)
			a.Items = pick(other, "일반정보 (회원정보)", "일반정보 (대출정보)")
			return reg.UpdateAssessment(ctx, &registryv1.UpdateAssessmentRequest{RequestId: id, Assessment: a})
		}},
		{"UpdateEvaluation", func(id string, other bool) (proto.Message, error) {
			e := proto.CloneOf(evaluation)
			e.DisplayName = pick(other, "2023 개인정보 관리수준 진단", "관리수준 진단")
			return reg.UpdateEvaluation(ctx, &registryv1.UpdateEvaluationRequest{RequestId: id, Evaluation: e})
		}},
	}
	for _, c := range calls {
		id := "retry-" + c.name
		first, err := c.call(id, false)
		require.NoError(t, err, c.name)
		entries := registerEntries(t, s, "jeongeup") + registerEntries(t, s, "seongnam")
		retry, err := c.call(id, false)
		require.NoError(t, err, "%s: a retry is answered, not refused as stale, gone or frozen", c.name)
		require.True(t, proto.Equal(first, retry), "%s: the retry gets the first answer: %v != %v", c.name, first, retry)

		_, err = c.call(id, true)
		require.Equal(t, codes.InvalidArgument, status.Code(err), "%s: %v", c.name, err)
		v := stacktest.Violation(t, err)
		require.Equal(t, "request_id", v.GetField(), c.name)
		require.Equal(t, "AIP-155", v.GetReason(), c.name)

		again, err := c.call(id, false)
		require.NoError(t, err, c.name)
		require.True(t, proto.Equal(first, again), "%s: the refused reuse changed nothing: %v != %v", c.name, first, again)
		require.Equal(t, entries, registerEntries(t, s, "jeongeup")+registerEntries(t, s, "seongnam"), "%s: no second REGISTER entry", c.name)
	}
	// The deletes happened once; the refused reuses deleted nothing.
	_, err = reg.GetOfficer(ctx, &registryv1.GetOfficerRequest{Name: officerGone})
	require.Equal(t, codes.NotFound, status.Code(err))
	_, err = reg.GetSite(ctx, &registryv1.GetSiteRequest{Name: siteGone})
	require.Equal(t, codes.NotFound, status.Code(err))
	_, err = reg.GetProcessor(ctx, &registryv1.GetProcessorRequest{Name: processorGone})
	require.Equal(t, codes.NotFound, status.Code(err))
	_, err = reg.GetAttestation(ctx, &registryv1.GetAttestationRequest{Name: attestationGone})
	require.Equal(t, codes.NotFound, status.Code(err))
	_, err = reg.GetOfficer(ctx, &registryv1.GetOfficerRequest{Name: officerKept})
	require.NoError(t, err)
	_, err = reg.GetSite(ctx, &registryv1.GetSiteRequest{Name: siteKept})
	require.NoError(t, err)
	_, err = reg.GetProcessor(ctx, &registryv1.GetProcessorRequest{Name: processorKept})
	require.NoError(t, err)
	_, err = reg.GetAttestation(ctx, &registryv1.GetAttestationRequest{Name: attestationKept})
	require.NoError(t, err)

	// Seongnam's staff cannot replay Jeongeup's request_id on Jeongeup's unit, and the same id on
	// Seongnam's own unit is a new request of Seongnam's, not an answer from Jeongeup's record.
	seongnam := s.As(auth.RoleTenantAdmin, "tenants/seongnam")
	_, err = reg.UpdateUnit(seongnam, &registryv1.UpdateUnitRequest{RequestId: "retry-UpdateUnit", UpdateMask: mask("display_name"),
		Unit: &registryv1.Unit{Name: libraryUnit, DisplayName: "정읍시립도서관"}})
	require.Equal(t, codes.PermissionDenied, status.Code(err), "%v", err)
	own, err := reg.UpdateUnit(seongnam, &registryv1.UpdateUnitRequest{RequestId: "retry-UpdateUnit", UpdateMask: mask("display_name"),
		Unit: &registryv1.Unit{Name: seongnamUnit, DisplayName: "성남시 도서관사업소 (본소)"}})
	require.NoError(t, err)
	require.Equal(t, seongnamUnit, own.GetName())
	require.Equal(t, "성남시 도서관사업소 (본소)", own.GetDisplayName())
}
