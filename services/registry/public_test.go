package registry_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/pipa-kr/pipa/pkg/auth"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/pkg/modules"
	"github.com/pipa-kr/pipa/pkg/stacktest"
)

// Errors on public pages are Korean pages with a way back that works.
func TestPublicErrorPages(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("jeongeup-library.yaml")
	for path, back := range map[string]string{
		"/p/jeongeup/library/privacy":                       "/p/jeongeup/library",
		"/p/jeongeup/library/cctv/versions/9":               "/p/jeongeup/library",
		"/p/jeongeup/nowhere":                               "/p/jeongeup",
		"/p/nowhere":                                        "/p/",
		"/p/jeongeup/library/cctv/versions/1/document.html": "/p/jeongeup/library",
	} {
		r := s.Get(path)
		b := stacktest.Body(t, r)
		require.Equal(t, http.StatusNotFound, r.StatusCode, path)
		require.Equal(t, "text/html; charset=utf-8", r.Header.Get("Content-Type"), path)
		require.Contains(t, b, `<html lang="ko">`, path)
		require.Contains(t, b, "요청하신 페이지를 찾을 수 없습니다.", path)
		require.Contains(t, b, `href="`+back+`"`, path)
		r = s.Get(back)
		stacktest.Body(t, r)
		require.Equal(t, http.StatusOK, r.StatusCode, "%s leads back to %s", path, back)
	}
}

// A unit's page lists the notices it has posted (DEC-39-3), which the requests service holds. When
// that service does not answer, the page does not wait for it nor claim there are none: within a
// short deadline it says the postings cannot be shown now, with the rest of the page as usual, and
// it is not kept by any cache.
func TestUnitPageWhenPostingsCannotBeRead(t *testing.T) {
	t.Parallel()
	mute := stacktest.Listen(t) // the requests service's address: connects, never answers
	s := startStack(t, func(c *modules.Config) { c.Addrs = map[string]string{"requests": mute.Addr().String()} })
	s.Load("jeongeup-library.yaml")
	start := time.Now()
	r := s.Get("/p/jeongeup/library")
	b := stacktest.Body(t, r)
	require.Less(t, time.Since(start), 8*time.Second, "the page does not wait for the requests service")
	require.Equal(t, http.StatusOK, r.StatusCode, b)
	require.Contains(t, b, "게시 중인 안내문을 지금 불러올 수 없습니다.")
	require.Contains(t, b, `href="/p/jeongeup/library/cctv"`)
	require.Equal(t, "no-store", r.Header.Get("Cache-Control"))
}

// WG26-ITEMS: "we do not process X" appears only where an officer attested it — who, when,
// which item — and only where the policy's article binds it; :check counts the item then, and
// not before.
func TestAttestations(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("iksan.yaml")
	cpo := s.As(auth.RoleCPO, "tenants/iksan")
	const city = "tenants/iksan/units/city"

	// The imported policy is held as published; :check lists what its next version needs.
	chk, err := s.Registry.CheckPolicyVersion(cpo, &registryv1.CheckPolicyVersionRequest{Name: city + "/policies/privacy/versions/2"})
	require.NoError(t, err)
	missing := map[string]bool{}
	for _, f := range chk.GetFindings() {
		if f.GetBlocking() {
			missing[f.GetField()] = true
		}
	}
	require.True(t, missing["articles[children]"], "%v", chk.GetFindings())
	require.True(t, missing["articles[auto_collection]"], "%v", chk.GetFindings())

	// Only an "only if applicable" item can be attested, by an officer above the unit.
	bad := []struct {
		a     *registryv1.Attestation
		field string
	}{
		{&registryv1.Attestation{Unit: city, Kind: registryv1.PolicyKind_POLICY_KIND_PRIVACY, Item: "rights", Statement: "x", Officer: city + "/officers/cpo"}, "attestation.item"},
		{&registryv1.Attestation{Unit: city, Kind: registryv1.PolicyKind_POLICY_KIND_PRIVACY, Item: "children", Statement: "x", Officer: "tenants/iksan/units/education-info/officers/lim-sungsook"}, "attestation.officer"},
		{&registryv1.Attestation{Unit: city, Kind: registryv1.PolicyKind_POLICY_KIND_PRIVACY, Item: "children", Officer: city + "/officers/cpo"}, "attestation.statement"},
	}
	for _, c := range bad {
		_, err := s.Registry.CreateAttestation(cpo, &registryv1.CreateAttestationRequest{Parent: "tenants/iksan", AttestationId: "bad", Attestation: c.a})
		require.Equal(t, codes.InvalidArgument, status.Code(err), "%v", err)
		require.Equal(t, c.field, stacktest.Violation(t, err).GetField())
	}
	// The CPO answers for the policy (PIPA-31-4), a manager for the unit; a handler attests nothing.
	_, err = s.Registry.CreateAttestation(s.As(auth.RoleHandler, city), &registryv1.CreateAttestationRequest{Parent: "tenants/iksan",
		AttestationId: "by-handler", Attestation: &registryv1.Attestation{Unit: city, Kind: registryv1.PolicyKind_POLICY_KIND_PRIVACY,
			Item: "children", Statement: "x", Officer: city + "/officers/cpo"}})
	require.Equal(t, codes.PermissionDenied, status.Code(err), "%v", err)
	att, err := s.Registry.CreateAttestation(cpo, &registryv1.CreateAttestationRequest{Parent: "tenants/iksan", AttestationId: "no-children",
		RequestId: "att-1", Attestation: &registryv1.Attestation{Unit: city, Kind: registryv1.PolicyKind_POLICY_KIND_PRIVACY, Item: "children",
			Statement: "익산시는 14세 미만 아동의 개인정보를 수집하지 않습니다.", Officer: city + "/officers/cpo"}})
	require.NoError(t, err)
	require.Equal(t, "안전행정국장 이산재", att.GetOfficerLabel())
	require.Equal(t, "test-cpo", att.GetRecordedBy())
	require.NotEmpty(t, att.GetAttestDate())

	// The next version: attested, but not yet stated anywhere; then bound in 6조.
	d, err := s.Registry.CreatePolicyVersion(cpo, &registryv1.CreatePolicyVersionRequest{Parent: city + "/policies/privacy"})
	require.NoError(t, err)
	require.Len(t, d.GetSnapshot().GetAttestations(), 1)
	chk, err = s.Registry.CheckPolicyVersion(cpo, &registryv1.CheckPolicyVersionRequest{Name: d.GetName()})
	require.NoError(t, err)
	var msg string
	for _, f := range chk.GetFindings() {
		if f.GetField() == "articles[children]" {
			msg = f.GetMessage()
		}
	}
	require.Contains(t, msg, "bind {{attestation/children}}")
	d.Articles[5].Body += "\n\n{{attestation/children.statement}} ({{attestation/children.officerLabel}}, {{attestation/children.attestDate}} 확인)"
	d, err = s.Registry.UpdatePolicyVersion(cpo, &registryv1.UpdatePolicyVersionRequest{PolicyVersion: d, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"articles"}}})
	require.NoError(t, err)
	chk, err = s.Registry.CheckPolicyVersion(cpo, &registryv1.CheckPolicyVersionRequest{Name: d.GetName()})
	require.NoError(t, err)
	for _, f := range chk.GetFindings() {
		require.NotEqual(t, "articles[children]", f.GetField(), "the bound attestation states the item")
	}
	for _, c := range chk.GetCoverage() {
		if c.GetRule() == "WG26-ITEMS" && c.GetItem() == "4" {
			require.Equal(t, att.GetName(), c.GetAttestation())
			require.Equal(t, []string{"6조. 처리하는 개인정보의 항목"}, c.GetArticles())
		}
	}
	r, err := s.Registry.RenderPolicyVersion(cpo, &registryv1.RenderPolicyVersionRequest{Name: d.GetName(), Format: "text"})
	require.NoError(t, err)
	require.Contains(t, r.GetContent(), "익산시는 14세 미만 아동의 개인정보를 수집하지 않습니다. (안전행정국장 이산재, ")

	// Withdrawn, it leaves the next drafts' snapshots.
	_, err = s.Registry.DeleteAttestation(cpo, &registryv1.DeleteAttestationRequest{Name: att.GetName()})
	require.NoError(t, err)
	list, err := s.Registry.ListAttestations(cpo, &registryv1.ListAttestationsRequest{Parent: "tenants/iksan"})
	require.NoError(t, err)
	require.Empty(t, list.GetAttestations())
	_, err = s.Registry.UpdatePolicyVersion(cpo, &registryv1.UpdatePolicyVersionRequest{PolicyVersion: d, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"snapshot"}}})
	require.NoError(t, err)
	chk, err = s.Registry.CheckPolicyVersion(cpo, &registryv1.CheckPolicyVersionRequest{Name: d.GetName()})
	require.NoError(t, err)
	require.False(t, chk.GetReady())
}
