package registry_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
)

// Every child kind still takes an update with no mask (the fields the message sets) and one with
// a mask naming an ordinary field; without a mask, a file's derived fields are left alone
// (PIPA-32-1: registration comes from the registration records, not from an update).
func TestChildUpdateMasks(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("jeongeup-library.yaml")
	ctx := s.Admin()
	mask := func(p string) *fieldmaskpb.FieldMask { return &fieldmaskpb.FieldMask{Paths: []string{p}} }

	officers, err := s.Registry.ListOfficers(ctx, &registryv1.ListOfficersRequest{Parent: libraryUnit})
	require.NoError(t, err)
	o := officers.GetOfficers()[0]
	o.Phone = "063-539-6401"
	o, err = s.Registry.UpdateOfficer(ctx, &registryv1.UpdateOfficerRequest{Officer: o})
	require.NoError(t, err)
	require.Equal(t, "063-539-6401", o.GetPhone())
	o, err = s.Registry.UpdateOfficer(ctx, &registryv1.UpdateOfficerRequest{Officer: &registryv1.Officer{Name: o.GetName(), Title: "주무관"},
		UpdateMask: mask("title")})
	require.NoError(t, err)
	require.Equal(t, "주무관", o.GetTitle())
	require.Equal(t, "063-539-6401", o.GetPhone(), "a field outside the mask is kept")

	sites, err := s.Registry.ListSites(ctx, &registryv1.ListSitesRequest{Parent: libraryUnit})
	require.NoError(t, err)
	site := sites.GetSites()[0]
	site.StoragePlace = "본관 전산실"
	site, err = s.Registry.UpdateSite(ctx, &registryv1.UpdateSiteRequest{Site: site})
	require.NoError(t, err)
	require.Equal(t, "본관 전산실", site.GetStoragePlace())
	site, err = s.Registry.UpdateSite(ctx, &registryv1.UpdateSiteRequest{Site: &registryv1.Site{Name: site.GetName(), CameraCount: 9},
		UpdateMask: mask("cameraCount")})
	require.NoError(t, err)
	require.EqualValues(t, 9, site.GetCameraCount())
	require.Equal(t, "본관 전산실", site.GetStoragePlace())

	p, err := s.Registry.CreateProcessor(ctx, &registryv1.CreateProcessorRequest{Parent: libraryUnit, ProcessorId: "ace",
		Processor: &registryv1.Processor{Company: "에이스보안", Work: "CCTV 유지보수", ContractStart: "2024-01-01", ContractEnd: "2024-12-31"}})
	require.NoError(t, err)
	p.Email = "ace@example.kr"
	p, err = s.Registry.UpdateProcessor(ctx, &registryv1.UpdateProcessorRequest{Processor: p})
	require.NoError(t, err)
	require.Equal(t, "ace@example.kr", p.GetEmail())
	p, err = s.Registry.UpdateProcessor(ctx, &registryv1.UpdateProcessorRequest{Processor: &registryv1.Processor{Name: p.GetName(), ContractEnd: "2025-12-31"},
		UpdateMask: mask("contract_end")})
	require.NoError(t, err)
	require.Equal(t, "2025-12-31", p.GetContractEnd())
	require.Equal(t, "ace@example.kr", p.GetEmail())

	f, err := s.Registry.CreateFile(ctx, &registryv1.CreateFileRequest{Parent: libraryUnit, FileId: "members",
		File: &registryv1.PersonalInformationFile{DisplayName: "도서관 회원", Purpose: "도서 대출 및 반납", Retention: "회원 탈퇴 시까지",
			RequiredItems: []string{"성명", "전화번호"}, SubjectCount: 12000}})
	require.NoError(t, err)
	require.False(t, f.GetRegistered())
	f.Registered, f.SubjectCount = true, 12500
	f, err = s.Registry.UpdateFile(ctx, &registryv1.UpdateFileRequest{File: f})
	require.NoError(t, err)
	require.EqualValues(t, 12500, f.GetSubjectCount())
	require.False(t, f.GetRegistered(), "a derived field is not taken from the update")
	var stored bool // the answer derives registered anew: the stored file must not hold it either
	require.NoError(t, s.DB().QueryRow(ctx, `SELECT bool_or(data ? 'registered') FROM registry.unit_resources
		WHERE tenant_id = 'jeongeup' AND unit_id = 'library' AND id = 'members'`).Scan(&stored))
	require.False(t, stored, "a derived field is not stored")
	f, err = s.Registry.UpdateFile(ctx, &registryv1.UpdateFileRequest{File: &registryv1.PersonalInformationFile{Name: f.GetName(), Retention: "탈퇴 후 1년"},
		UpdateMask: mask("retention")})
	require.NoError(t, err)
	require.Equal(t, "탈퇴 후 1년", f.GetRetention())
}

// A record stored before the size limits, too large for them, is refused on any update, even of
// another field, naming the field and rule; an update that brings it within them passes (the
// README's "Limits on stored records").
func TestUpdateOfOversizedRecord(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("jeongeup-library.yaml")
	ctx := s.Admin()
	_, err := s.DB().Exec(ctx, `UPDATE registry.units SET data = jsonb_set(data, '{displayName}', to_jsonb(repeat('가', 90000)))
		WHERE tenant_id = 'jeongeup' AND unit_id = 'library'`)
	require.NoError(t, err)

	refuseAll(t, s, []refusal{{name: "update of the phone alone", call: func() error {
		_, err := s.Registry.UpdateUnit(ctx, &registryv1.UpdateUnitRequest{Unit: &registryv1.Unit{Name: libraryUnit, Phone: "063-539-5050"},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"phone"}}})
		return err
	}, code: codes.InvalidArgument, field: "unit.display_name", rule: "range"}})

	u, err := s.Registry.UpdateUnit(ctx, &registryv1.UpdateUnitRequest{Unit: &registryv1.Unit{Name: libraryUnit, Phone: "063-539-5050",
		DisplayName: "정읍시립도서관"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"phone", "display_name"}}})
	require.NoError(t, err)
	require.Equal(t, "063-539-5050", u.GetPhone())
}
