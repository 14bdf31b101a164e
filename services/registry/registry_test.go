package registry_test

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/pipa-kr/pipa/pkg/auth"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/pkg/stacktest"
	"github.com/pipa-kr/pipa/services/registry/policy"
)

// Seed 000 loaded through the API is published at /p/{t}/{u}/cctv with every fact, its version
// history, and HTTP caching.
func TestPublishedCCTVPolicyOfJeongeupLibrary(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("jeongeup-library.yaml")

	r := s.Get("/p/jeongeup/library/cctv")
	require.Equal(t, http.StatusOK, r.StatusCode)
	require.Equal(t, "text/html; charset=utf-8", r.Header.Get("Content-Type"))
	etag := r.Header.Get("ETag")
	require.NotEmpty(t, etag)
	html := stacktest.Body(t, r)
	for _, fact := range []string{
		"중앙도서관", "27대", "신태인도서관", "8대", "기적의도서관", "25대", "스마트도서관", "1대", "시민공원", "4대",
		"송현숙", "063-539-5049", "송승학", "063-539-6433", "소영휴", "063-539-6442", "육정란", "063-539-6453",
		"24시간", "30일", "중앙도서관 2층 전산실", "2024. 01. 16.", "2021. 12. 06. ~ 2024. 01. 15.",
	} {
		require.Contains(t, html, fact)
	}

	// An unchanged page costs a 304.
	r = s.Get("/p/jeongeup/library/cctv", "If-None-Match", etag)
	stacktest.Body(t, r)
	require.Equal(t, http.StatusNotModified, r.StatusCode)

	// Served as a file server serves a file: the same bytes gzipped once for whoever accepts
	// gzip, each representation with its own ETag and length.
	plain := s.Get("/p/jeongeup/library/cctv", "Accept-Encoding", "identity")
	plainBody := stacktest.Body(t, plain)
	require.Equal(t, html, plainBody)
	require.Empty(t, plain.Header.Get("Content-Encoding"))
	require.Equal(t, strconv.Itoa(len(plainBody)), plain.Header.Get("Content-Length"))
	zipped := s.Get("/p/jeongeup/library/cctv", "Accept-Encoding", "br;q=1.0, gzip;q=0.8")
	require.Equal(t, "gzip", zipped.Header.Get("Content-Encoding"))
	require.Equal(t, "Accept-Encoding", zipped.Header.Get("Vary"))
	zr, err := gzip.NewReader(zipped.Body)
	require.NoError(t, err)
	unzipped, err := io.ReadAll(zr)
	require.NoError(t, err)
	zipped.Body.Close()
	require.Equal(t, plainBody, string(unzipped))
	require.NotEqual(t, plain.Header.Get("ETag"), zipped.Header.Get("ETag"))
	r = s.Get("/p/jeongeup/library/cctv", "Accept-Encoding", "identity", "If-None-Match", zipped.Header.Get("ETag"))
	require.Equal(t, http.StatusOK, r.StatusCode, "another representation's ETag")
	stacktest.Body(t, r)
	r = s.Get("/p/jeongeup/library/cctv", "Accept-Encoding", "gzip", "If-None-Match", zipped.Header.Get("ETag"))
	require.Equal(t, http.StatusNotModified, r.StatusCode)
	require.Empty(t, r.Header.Get("Content-Encoding"))
	stacktest.Body(t, r)
	r = s.Get("/p/jeongeup/library/cctv", "Accept-Encoding", "gzip;q=0")
	require.Empty(t, r.Header.Get("Content-Encoding"))
	stacktest.Body(t, r)

	// The JSON twin carries the rendered document and the history (2 versions).
	r = s.Get("/v1/public/tenants/jeongeup/units/library/policies/cctv")
	require.Equal(t, http.StatusOK, r.StatusCode)
	var pub struct {
		Html    string
		History []struct {
			Number int
			Period string
			State  string
		}
		Version struct{ Standing string }
	}
	require.NoError(t, json.Unmarshal([]byte(stacktest.Body(t, r)), &pub))
	require.Contains(t, pub.Html, "송현숙")
	require.Len(t, pub.History, 2)
	require.Equal(t, "2021. 12. 06. ~ 2024. 01. 15.", pub.History[0].Period)
	require.Equal(t, "POLICY_STATE_ARCHIVED", pub.History[0].State)
	require.Equal(t, "POLICY_STANDING_IN_FORCE", pub.Version.Standing)

	// Each past version has its own page.
	r = s.Get("/p/jeongeup/library/cctv/versions/1")
	b := stacktest.Body(t, r)
	require.Equal(t, http.StatusOK, r.StatusCode, b)
	require.Contains(t, b, "2021. 12. 06. ~ 2024. 01. 15.")
	r = s.Get("/p/jeongeup/library/cctv/versions/99")
	stacktest.Body(t, r)
	require.Equal(t, http.StatusNotFound, r.StatusCode)
}

// Every seed institution loads through the API, and each policy it declares is published.
func TestAllExampleTenantsLoadAndPublish(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	files, err := filepath.Glob(filepath.Join("..", "..", "deploy", "examples", "*.yaml"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), 5)
	for _, path := range files {
		f := s.Load(filepath.Base(path))
		for _, u := range f.Units {
			for _, p := range u.Policies {
				url := fmt.Sprintf("/p/%s/%s/%s", f.Tenant.ID, u.ID, policy.Segment(p.Kind))
				r := s.Get(url)
				b := stacktest.Body(t, r)
				require.Equal(t, http.StatusOK, r.StatusCode, "%s: %s", url, b)
			}
		}
	}
	// Loading again changes nothing and fails nothing (make run does it at every start).
	for _, path := range files {
		s.Load(filepath.Base(path))
	}
}

// A token for tenant A can neither read nor list tenant B's data, nor learn whether it exists.
func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("jeongeup-library.yaml")
	s.Load("seoul-immigration.yaml")
	other := s.As(auth.RoleTenantAdmin, "tenants/seoul-immigration")

	for name, call := range map[string]func() error{
		"GetTenant": func() error {
			_, err := s.Registry.GetTenant(other, &registryv1.GetTenantRequest{Name: "tenants/jeongeup"})
			return err
		},
		"ListUnits": func() error {
			_, err := s.Registry.ListUnits(other, &registryv1.ListUnitsRequest{Parent: "tenants/jeongeup"})
			return err
		},
		"GetUnit": func() error {
			_, err := s.Registry.GetUnit(other, &registryv1.GetUnitRequest{Name: "tenants/jeongeup/units/library"})
			return err
		},
		"ListSites": func() error {
			_, err := s.Registry.ListSites(other, &registryv1.ListSitesRequest{Parent: "tenants/jeongeup/units/library"})
			return err
		},
		"GetSite": func() error {
			_, err := s.Registry.GetSite(other, &registryv1.GetSiteRequest{Name: "tenants/jeongeup/units/library/sites/central"})
			return err
		},
		"Officers": func() error {
			_, err := s.Registry.ListOfficers(other, &registryv1.ListOfficersRequest{Parent: "tenants/jeongeup/units/library"})
			return err
		},
		"Versions": func() error {
			_, err := s.Registry.ListPolicyVersions(other, &registryv1.ListPolicyVersionsRequest{Parent: "tenants/jeongeup/units/library/policies/cctv"})
			return err
		},
		"NoSuchUnit": func() error {
			_, err := s.Registry.GetUnit(other, &registryv1.GetUnitRequest{Name: "tenants/jeongeup/units/nope"})
			return err
		},
		"Delete": func() error {
			_, err := s.Registry.DeleteSite(other, &registryv1.DeleteSiteRequest{Name: "tenants/jeongeup/units/library/sites/central"})
			return err
		},
	} {
		// The same answer whether the resource exists or not: nothing to infer.
		require.Equal(t, codes.PermissionDenied, status.Code(call()), name)
	}
	list, err := s.Registry.ListTenants(other, &registryv1.ListTenantsRequest{})
	require.NoError(t, err)
	require.Len(t, list.GetTenants(), 1)
	require.Equal(t, "tenants/seoul-immigration", list.GetTenants()[0].GetName())

	// Through REST the same holds (403), and without a token it is 401.
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/v1/tenants/jeongeup/units", nil)
	req.Header.Set("Authorization", "Bearer "+s.Token(auth.RoleTenantAdmin, "tenants/seoul-immigration"))
	r, err := s.HTTP.Do(req)
	require.NoError(t, err)
	stacktest.Body(t, r)
	require.Equal(t, http.StatusForbidden, r.StatusCode)
	r = s.Get("/v1/tenants/jeongeup/units")
	stacktest.Body(t, r)
	require.Equal(t, http.StatusUnauthorized, r.StatusCode)

	// A unit-scoped handler sees its subtree only.
	unitTok := s.As(auth.RoleHandler, "tenants/jeongeup/units/library")
	_, err = s.Registry.GetSite(unitTok, &registryv1.GetSiteRequest{Name: "tenants/jeongeup/units/library/sites/central"})
	require.NoError(t, err)
	_, err = s.Registry.CreateOfficer(unitTok, &registryv1.CreateOfficerRequest{Parent: "tenants/jeongeup/units/library", OfficerId: "x",
		Officer: &registryv1.Officer{DisplayName: "김", Roles: []registryv1.OfficerRole{registryv1.OfficerRole_OFFICER_ROLE_HANDLER}}})
	require.Equal(t, codes.PermissionDenied, status.Code(err), "a handler cannot write")
}

// dump is every row of the registry schema, to prove a refused request changed nothing.
func dump(t testing.TB, dbURL string) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	require.NoError(t, err)
	defer conn.Close(ctx)
	// River's tables are the job queue's own bookkeeping (its leader's lease changes by itself).
	rows, err := conn.Query(ctx, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = 'registry' AND table_type = 'BASE TABLE' AND table_name NOT LIKE 'river\_%' ORDER BY 1`)
	require.NoError(t, err)
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	var b strings.Builder
	for _, tbl := range tables {
		var s string
		require.NoError(t, conn.QueryRow(ctx, fmt.Sprintf(
			`SELECT coalesce(string_agg(x::text, E'\n' ORDER BY x::text), '') FROM registry.%s x`, pgx.Identifier{tbl}.Sanitize())).Scan(&s))
		b.WriteString(tbl + "\n" + s + "\n")
	}
	return b.String()
}

// Every bad input is refused with the field and the rule, and the database is unchanged.
func TestBadInputIsRefusedAndChangesNothing(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("jeongeup-library.yaml")
	ctx := s.Admin()
	unit := "tenants/jeongeup/units/library"
	site := func(mut func(*registryv1.Site)) *registryv1.Site {
		st := &registryv1.Site{DisplayName: "주차장", CameraCount: 4, RecordingHours: "24시간", RetentionDays: 30, StoragePlace: "전산실",
			Purposes: []*registryv1.SitePurpose{{Description: "범죄 예방", Ground: registryv1.CctvGround_CCTV_GROUND_CRIME_PREVENTION}}}
		mut(st)
		return st
	}
	draft, err := s.Registry.CreatePolicyVersion(ctx, &registryv1.CreatePolicyVersionRequest{Parent: unit + "/policies/cctv",
		PolicyVersion: &registryv1.PolicyVersion{Articles: []*registryv1.Article{{Heading: "제1조(목적)", Body: "영상정보처리기기의 설치 목적"}}}})
	require.NoError(t, err)
	in := func(days int) string { return policy.Today(time.Now()).AddDays(days).String() }

	cases := []struct {
		name  string
		call  func() error
		code  codes.Code
		field string
		rule  string
	}{
		{"audio", func() error {
			_, err := s.Registry.CreateSite(ctx, &registryv1.CreateSiteRequest{Parent: unit, SiteId: "p1", Site: site(func(x *registryv1.Site) { x.RecordsAudio = true })})
			return err
		}, codes.InvalidArgument, "site.records_audio", "PIPA-25-5"},
		{"retention over 30 days without reason", func() error {
			_, err := s.Registry.CreateSite(ctx, &registryv1.CreateSiteRequest{Parent: unit, SiteId: "p2", Site: site(func(x *registryv1.Site) { x.RetentionDays = 45 })})
			return err
		}, codes.InvalidArgument, "site.retention_reason", "STD-41-2"},
		{"bathroom", func() error {
			_, err := s.Registry.CreateSite(ctx, &registryv1.CreateSiteRequest{Parent: unit, SiteId: "p3", Site: site(func(x *registryv1.Site) { x.RestrictedArea = true })})
			return err
		}, codes.InvalidArgument, "site.restricted_area", "PIPA-25-2"},
		{"purpose without ground", func() error {
			_, err := s.Registry.CreateSite(ctx, &registryv1.CreateSiteRequest{Parent: unit, SiteId: "p4", Site: site(func(x *registryv1.Site) { x.Purposes[0].Ground = 0 })})
			return err
		}, codes.InvalidArgument, "site.purposes[0].ground", "PIPA-25-1"},
		{"split does not add up", func() error {
			_, err := s.Registry.CreateSite(ctx, &registryv1.CreateSiteRequest{Parent: unit, SiteId: "p5", Site: site(func(x *registryv1.Site) {
				pub, non := int32(1), int32(1)
				x.PublicCameraCount, x.NonpublicCameraCount = &pub, &non
			})})
			return err
		}, codes.InvalidArgument, "site.camera_count", "consistency"},
		{"bad id", func() error {
			_, err := s.Registry.CreateSite(ctx, &registryv1.CreateSiteRequest{Parent: unit, SiteId: "Bad Id", Site: site(func(*registryv1.Site) {})})
			return err
		}, codes.InvalidArgument, "site_id", "format"},
		{"manager of another tenant", func() error {
			_, err := s.Registry.CreateSite(ctx, &registryv1.CreateSiteRequest{Parent: unit, SiteId: "p6", Site: site(func(x *registryv1.Site) {
				x.Manager = "tenants/other/units/x/officers/y"
			})})
			return err
		}, codes.InvalidArgument, "site.manager", "reference"},
		{"officer without role", func() error {
			_, err := s.Registry.CreateOfficer(ctx, &registryv1.CreateOfficerRequest{Parent: unit, OfficerId: "o1", Officer: &registryv1.Officer{DisplayName: "김"}})
			return err
		}, codes.InvalidArgument, "officer.roles", "required"},
		{"unknown section", func() error {
			_, err := s.Registry.CreatePolicyVersion(ctx, &registryv1.CreatePolicyVersionRequest{Parent: unit + "/policies/cctv",
				PolicyVersion: &registryv1.PolicyVersion{Articles: []*registryv1.Article{{Heading: "제1조(쿠키)", Body: "x", Items: []string{"cookies"}}}}})
			return err
		}, codes.InvalidArgument, "policy_version.articles[0].items[0]", "enum"},
		{"announce with findings", func() error {
			_, err := s.Registry.AnnouncePolicyVersion(ctx, &registryv1.AnnouncePolicyVersionRequest{Name: draft.GetName(), EffectiveDate: in(30)})
			return err
		}, codes.FailedPrecondition, "articles[installation]", "DEC-25-1"},
		{"update a frozen version", func() error {
			_, err := s.Registry.UpdatePolicyVersion(ctx, &registryv1.UpdatePolicyVersionRequest{
				PolicyVersion: &registryv1.PolicyVersion{Name: unit + "/policies/cctv/versions/2", Title: "x"},
				UpdateMask:    &fieldmaskpb.FieldMask{Paths: []string{"title"}}})
			return err
		}, codes.FailedPrecondition, "", ""},
		{"delete an officer a site names", func() error {
			_, err := s.Registry.DeleteOfficer(ctx, &registryv1.DeleteOfficerRequest{Name: unit + "/officers/song-hyunsook"})
			return err
		}, codes.FailedPrecondition, "", ""},
		{"stale etag", func() error {
			_, err := s.Registry.UpdateUnit(ctx, &registryv1.UpdateUnitRequest{Unit: &registryv1.Unit{Name: unit, DisplayName: "x", Etag: `"stale"`}})
			return err
		}, codes.Aborted, "", ""},
	}
	before := dump(t, s.DatabaseURL)
	for _, c := range cases {
		err := c.call()
		require.Equal(t, c.code, status.Code(err), "%s: %v", c.name, err)
		if c.field != "" {
			v := stacktest.Violation(t, err)
			require.Equal(t, c.field, v.GetField(), c.name)
			require.Equal(t, c.rule, v.GetReason(), c.name)
		}
	}
	require.Equal(t, before, dump(t, s.DatabaseURL), "a refused request changed the database")
}

// A version's life: draft from the registry, findings, completion, announcement with the notice
// lead time (NOTICE-7D), the major change's comparison table (WG26-24), and the dates deciding
// which version is in force.
func TestPolicyVersionLifecycle(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("jeongeup-library.yaml")
	ctx := s.As(auth.RoleCPO, "tenants/jeongeup/units/library")
	parent := "tenants/jeongeup/units/library/policies/cctv"
	today := policy.Today(time.Now())

	// The site moves its storage: a new draft picks the change up from the registry.
	site, err := s.Registry.GetSite(ctx, &registryv1.GetSiteRequest{Name: "tenants/jeongeup/units/library/sites/central"})
	require.NoError(t, err)
	site.StoragePlace = "중앙도서관 3층 통합관제실"
	_, err = s.Registry.UpdateSite(ctx, &registryv1.UpdateSiteRequest{Site: site, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"storage_place"}}})
	require.NoError(t, err)

	d, err := s.Registry.CreatePolicyVersion(ctx, &registryv1.CreatePolicyVersionRequest{Parent: parent, RequestId: "draft-1"})
	require.NoError(t, err)
	require.Equal(t, int32(3), d.GetNumber())
	again, err := s.Registry.CreatePolicyVersion(ctx, &registryv1.CreatePolicyVersionRequest{Parent: parent, RequestId: "draft-1"})
	require.NoError(t, err)
	require.Equal(t, d.GetName(), again.GetName(), "a retried create returns the first draft")

	// The draft starts as the text in force, the library's own articles; :check finds each
	// DEC-25-1 item where the library placed it.
	require.Equal(t, "제1조(영상정보처리기기의 설치근거 및 설치목적)", d.GetArticles()[0].GetHeading())
	chk, err := s.Registry.CheckPolicyVersion(ctx, &registryv1.CheckPolicyVersionRequest{Name: d.GetName()})
	require.NoError(t, err)
	require.True(t, chk.GetReady(), "%v", chk.GetFindings())
	stated := map[string][]string{}
	for _, c := range chk.GetCoverage() {
		stated[c.GetRule()+" "+c.GetItem()] = c.GetArticles()
	}
	require.Equal(t, []string{"제4조(영상정보의 촬영시간, 보관기간, 보관장소 및 처리방법)"}, stated["DEC-25-1 4"])
	require.Equal(t, []string{"제5조(개인영상정보의 확인 방법 및 장소에 관한 사항)"}, stated["DEC-25-1 5"])

	// NOTICE-7D: effective no earlier than announce + 7 days.
	_, err = s.Registry.AnnouncePolicyVersion(ctx, &registryv1.AnnouncePolicyVersionRequest{Name: d.GetName(), EffectiveDate: today.AddDays(6).String()})
	require.Equal(t, codes.InvalidArgument, status.Code(err))
	require.Equal(t, "NOTICE-7D", stacktest.Violation(t, err).GetReason())

	a, err := s.Registry.AnnouncePolicyVersion(ctx, &registryv1.AnnouncePolicyVersionRequest{Name: d.GetName(),
		EffectiveDate: today.AddDays(7).String(), MajorChange: true, ChangeSummary: "보관장소 변경", Etag: d.GetEtag()})
	require.NoError(t, err)
	require.Equal(t, registryv1.PolicyState_POLICY_STATE_ANNOUNCED, a.GetState())
	require.Equal(t, registryv1.PolicyStanding_POLICY_STANDING_UPCOMING, a.GetStanding())
	require.NotEmpty(t, a.GetComparison(), "a major change carries its comparison table")
	joined := ""
	for _, r := range a.GetComparison() {
		joined += r.GetBefore() + "|" + r.GetAfter()
	}
	require.Contains(t, joined, "중앙도서관 3층 통합관제실")
	require.Contains(t, joined, "중앙도서관 2층 전산실")

	// The version in force is still 2, whose period now ends the day before 3 takes effect.
	v2, err := s.Registry.GetPolicyVersion(ctx, &registryv1.GetPolicyVersionRequest{Name: parent + "/versions/2"})
	require.NoError(t, err)
	require.Equal(t, registryv1.PolicyStanding_POLICY_STANDING_IN_FORCE, v2.GetStanding())
	require.Equal(t, today.AddDays(6).String(), v2.GetEndDate())

	// Frozen now; and a second announcement cannot take effect on the same day.
	_, err = s.Registry.AnnouncePolicyVersion(ctx, &registryv1.AnnouncePolicyVersionRequest{Name: d.GetName(), EffectiveDate: today.AddDays(9).String()})
	require.Equal(t, codes.FailedPrecondition, status.Code(err))

	// The diff over REST.
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/v1/"+parent+"/versions/3:diff", nil)
	req.Header.Set("Authorization", "Bearer "+s.Token(auth.RoleAuditor, "tenants/jeongeup"))
	r, err := s.HTTP.Do(req)
	require.NoError(t, err)
	diff := stacktest.Body(t, r)
	require.Equal(t, http.StatusOK, r.StatusCode, diff)
	require.Contains(t, diff, "통합관제실")

	// The sign of the site (PIPA-25-4).
	sign, err := s.Registry.GetSiteSign(ctx, &registryv1.GetSiteSignRequest{Name: site.GetName()})
	require.NoError(t, err)
	require.Contains(t, sign.GetText(), "063-539-5049")
}

// REST errors carry the field and the rule as JSON.
func TestRESTErrorNamesFieldAndRule(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("jeongeup-library.yaml")
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/v1/tenants/jeongeup/units/library/sites?siteId=p",
		strings.NewReader(`{"displayName":"주차장","cameraCount":2,"recordingHours":"24시간","retentionDays":60,"storagePlace":"전산실",
		"purposes":[{"description":"범죄 예방","ground":"CCTV_GROUND_CRIME_PREVENTION"}]}`))
	req.Header.Set("Authorization", "Bearer "+s.Token(auth.RoleManager, "tenants/jeongeup"))
	r, err := s.HTTP.Do(req)
	require.NoError(t, err)
	b := stacktest.Body(t, r)
	require.Equal(t, http.StatusBadRequest, r.StatusCode, b)
	require.Contains(t, b, `"field":"site.retention_reason"`)
	require.Contains(t, b, `"reason":"STD-41-2"`)
}

// Staff holding a role on one unit read their tenant's record (its name and settings are needed
// to render anything), in full.
func TestUnitStaffReadTheirTenant(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("jeongeup-library.yaml")
	ten, err := s.Registry.GetTenant(s.As(auth.RoleHandler, "tenants/jeongeup/units/library"), &registryv1.GetTenantRequest{Name: "tenants/jeongeup"})
	require.NoError(t, err)
	require.Equal(t, "tenants/jeongeup", ten.GetName())
	require.True(t, ten.GetPublicInstitution())
}
