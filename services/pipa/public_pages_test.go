package main

import (
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/pipa-kr/pipa/pkg/auth"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
)

var (
	hrefRE = regexp.MustCompile(`href="([^"]*)"`)
	idRE   = regexp.MustCompile(`id="([^"]*)"`)
)

// crawl follows every link of the public pages from start and returns the pages it read (path →
// HTML). Every link must lead to a page that answers 200, and a link to a fragment to an element
// with that id: there is no dead link anywhere.
func crawl(t *testing.T, s *stack, start ...string) map[string]string {
	t.Helper()
	pages := map[string]string{}
	queue := append([]string{}, start...)
	type ref struct{ from, to string }
	var fragments []ref
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if _, seen := pages[p]; seen {
			continue
		}
		r := s.get(p)
		b := body(t, r)
		require.Equal(t, http.StatusOK, r.StatusCode, "%s: %s", p, b)
		pages[p] = b
		if !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") || strings.HasSuffix(p, "/document.html") {
			continue // a frozen document's links are those of its page
		}
		for _, m := range hrefRE.FindAllStringSubmatch(b, -1) {
			href := strings.ReplaceAll(m[1], "&amp;", "&")
			require.False(t, strings.HasPrefix(href, "http"), "%s links outside pipa: %s", p, href)
			path, frag, _ := strings.Cut(href, "#")
			if path == "" {
				path = p
			}
			require.True(t, strings.HasPrefix(path, "/p/"), "%s links %s, not a public page", p, href)
			if frag != "" {
				fragments = append(fragments, ref{p, path + "#" + frag})
			}
			queue = append(queue, path)
		}
	}
	for _, f := range fragments {
		path, frag, _ := strings.Cut(f.to, "#")
		var ids []string
		for _, m := range idRE.FindAllStringSubmatch(pages[path], -1) {
			ids = append(ids, m[1])
		}
		require.Contains(t, ids, frag, "%s links %s", f.from, f.to)
	}
	return pages
}

// Every public page of the five demo bodies, from the list of bodies down: indexes, units'
// pages, policies, every version, the frozen documents, the request forms and the status page.
// No link is dead, and a unit's full name is in its titles and headings.
func TestPublicPagesHaveNoDeadLinks(t *testing.T) {
	s := startStack(t)
	for _, f := range []string{"jeongeup-library.yaml", "yeongtong-school.yaml", "seoul-immigration.yaml", "seongnam-library.yaml", "iksan.yaml"} {
		s.load(f)
	}
	pages := crawl(t, s, "/p/")
	for _, p := range []string{"/p/jeongeup", "/p/iksan", "/p/iksan/transport", "/p/iksan/city/privacy", "/p/seongnam/library-office/privacy/versions/1",
		"/p/jeongeup/library/requests/new", "/p/requests/status", "/p/yeongtong-es/school/cctv/versions/1/document.html"} {
		require.Contains(t, pages, p, "the crawl reaches %s", p)
	}
	// Iksan's policy lists ten departments with their own CCTV policies: each is linked to its
	// page, which says plainly that pipa has none of theirs yet.
	city := pages["/p/iksan/city/privacy"]
	for _, u := range []string{"civil-safety", "civil-service", "sanitation", "transport", "agri-distribution",
		"water-supply", "jewelry-museum", "arts-center", "yeongdeung2-dong", "council-secretariat"} {
		require.Contains(t, city, `href="/p/iksan/`+u+`"`)
		require.Contains(t, pages["/p/iksan/"+u], "pipa에 게시된 방침이 아직 없습니다.")
	}
	unit := pages["/p/iksan/transport"]
	require.Contains(t, unit, "<title>익산시 교통행정과</title>")
	require.Contains(t, unit, "<h1>익산시 교통행정과</h1>")
	require.Contains(t, pages["/p/iksan"], `<h2 id="transport-h">익산시 교통행정과</h2>`)
	require.Contains(t, pages["/p/iksan"], `<a href="/p/iksan/city/privacy">개인정보처리방침</a>`)
	require.Contains(t, pages["/p/jeongeup/library/requests/new"], "<h1>정읍시립도서관 개인정보 열람 등 요구서</h1>")
	// A version known only by its period says so rather than showing a text.
	require.Contains(t, pages["/p/seongnam/library-office/privacy/versions/1"], "이 버전의 본문은 pipa에 보관되어 있지 않습니다")
	// No page says for a body that it does not do something unless the body wrote it: every
	// "…않습니다" on a page is in a seed (pipa's own notes about itself name pipa).
	var seeds strings.Builder
	for _, c := range seedCases {
		b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "examples", "seeds", c.file))
		require.NoError(t, err)
		seeds.WriteString(normal(string(b)))
	}
	negative := regexp.MustCompile(`[^.\n]{1,60}않습니다`)
	tags := regexp.MustCompile(`<[^>]*>`)
	found := 0
	for p, b := range pages {
		for _, sentence := range negative.FindAllString(tags.ReplaceAllString(b, "\n"), -1) {
			if strings.Contains(sentence, "pipa") {
				continue
			}
			require.Contains(t, seeds.String(), normal(sentence), "%s states %q, which no body wrote", p, sentence)
			found++
		}
	}
	require.Greater(t, found, 10, "the bodies' own such sentences are found (and kept)")
}

// Errors on public pages are Korean pages with a way back that works.
func TestPublicErrorPages(t *testing.T) {
	s := startStack(t)
	s.load("jeongeup-library.yaml")
	for path, back := range map[string]string{
		"/p/jeongeup/library/privacy":                       "/p/jeongeup/library",
		"/p/jeongeup/library/cctv/versions/9":               "/p/jeongeup/library",
		"/p/jeongeup/nowhere":                               "/p/jeongeup",
		"/p/nowhere":                                        "/p/",
		"/p/jeongeup/library/cctv/versions/1/document.html": "/p/jeongeup/library",
	} {
		r := s.get(path)
		b := body(t, r)
		require.Equal(t, http.StatusNotFound, r.StatusCode, path)
		require.Equal(t, "text/html; charset=utf-8", r.Header.Get("Content-Type"), path)
		require.Contains(t, b, `<html lang="ko">`, path)
		require.Contains(t, b, "요청하신 페이지를 찾을 수 없습니다.", path)
		require.Contains(t, b, `href="`+back+`"`, path)
		r = s.get(back)
		body(t, r)
		require.Equal(t, http.StatusOK, r.StatusCode, "%s leads back to %s", path, back)
	}
}

// WG26-ITEMS: "we do not process X" appears only where an officer attested it — who, when,
// which item — and only where the policy's article binds it; :check counts the item then, and
// not before.
func TestAttestations(t *testing.T) {
	s := startStack(t)
	s.load("iksan.yaml")
	cpo := s.as(auth.RoleCPO, "tenants/iksan")
	const city = "tenants/iksan/units/city"

	// The imported policy is held as published; :check lists what its next version needs.
	chk, err := s.cl.CheckPolicyVersion(cpo, &registryv1.CheckPolicyVersionRequest{Name: city + "/policies/privacy/versions/2"})
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
		_, err := s.cl.CreateAttestation(cpo, &registryv1.CreateAttestationRequest{Parent: "tenants/iksan", AttestationId: "bad", Attestation: c.a})
		require.Equal(t, codes.InvalidArgument, status.Code(err), "%v", err)
		require.Equal(t, c.field, violation(t, err).GetField())
	}
	att, err := s.cl.CreateAttestation(cpo, &registryv1.CreateAttestationRequest{Parent: "tenants/iksan", AttestationId: "no-children",
		RequestId: "att-1", Attestation: &registryv1.Attestation{Unit: city, Kind: registryv1.PolicyKind_POLICY_KIND_PRIVACY, Item: "children",
			Statement: "익산시는 14세 미만 아동의 개인정보를 수집하지 않습니다.", Officer: city + "/officers/cpo"}})
	require.NoError(t, err)
	require.Equal(t, "안전행정국장 이산재", att.GetOfficerLabel())
	require.Equal(t, "test-cpo", att.GetRecordedBy())
	require.NotEmpty(t, att.GetAttestDate())

	// The next version: attested, but not yet stated anywhere; then bound in 6조.
	d, err := s.cl.CreatePolicyVersion(cpo, &registryv1.CreatePolicyVersionRequest{Parent: city + "/policies/privacy"})
	require.NoError(t, err)
	require.Len(t, d.GetSnapshot().GetAttestations(), 1)
	chk, err = s.cl.CheckPolicyVersion(cpo, &registryv1.CheckPolicyVersionRequest{Name: d.GetName()})
	require.NoError(t, err)
	var msg string
	for _, f := range chk.GetFindings() {
		if f.GetField() == "articles[children]" {
			msg = f.GetMessage()
		}
	}
	require.Contains(t, msg, "bind {{attestation/children}}")
	d.Articles[5].Body += "\n\n{{attestation/children.statement}} ({{attestation/children.officerLabel}}, {{attestation/children.attestDate}} 확인)"
	d, err = s.cl.UpdatePolicyVersion(cpo, &registryv1.UpdatePolicyVersionRequest{PolicyVersion: d, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"articles"}}})
	require.NoError(t, err)
	chk, err = s.cl.CheckPolicyVersion(cpo, &registryv1.CheckPolicyVersionRequest{Name: d.GetName()})
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
	r, err := s.cl.RenderPolicyVersion(cpo, &registryv1.RenderPolicyVersionRequest{Name: d.GetName(), Format: "text"})
	require.NoError(t, err)
	require.Contains(t, r.GetContent(), "익산시는 14세 미만 아동의 개인정보를 수집하지 않습니다. (안전행정국장 이산재, ")

	// Withdrawn, it leaves the next drafts' snapshots.
	_, err = s.cl.DeleteAttestation(cpo, &registryv1.DeleteAttestationRequest{Name: att.GetName()})
	require.NoError(t, err)
	list, err := s.cl.ListAttestations(cpo, &registryv1.ListAttestationsRequest{Parent: "tenants/iksan"})
	require.NoError(t, err)
	require.Empty(t, list.GetAttestations())
	_, err = s.cl.UpdatePolicyVersion(cpo, &registryv1.UpdatePolicyVersionRequest{PolicyVersion: d, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"snapshot"}}})
	require.NoError(t, err)
	chk, err = s.cl.CheckPolicyVersion(cpo, &registryv1.CheckPolicyVersionRequest{Name: d.GetName()})
	require.NoError(t, err)
	require.False(t, chk.GetReady())
}
