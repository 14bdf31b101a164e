package registry_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/pipa-kr/pipa/pkg/auth"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/pkg/stacktest"
	"github.com/pipa-kr/pipa/services/registry/registrytest"
	"github.com/pipa-kr/pipa/services/registry/tenantfile"
)

// These tests need PostgreSQL (DATABASE_URL) and run a whole pipa over gRPC and HTTP: the rules of
// LAW.md section 1 on policy versions (WG26-24, STD-21, NOTICE-7D), their publication, and who
// may see and create what.

// libraryCPO is the CPO of the seed's library unit, who drafts and announces.
func libraryCPO(s *stack) context.Context { return s.As(auth.RoleCPO, libraryUnit) }

// draftLike creates a draft of the policy parent copying the text of version from, so that it is
// complete and, with the registry unchanged, says exactly what from says.
func draftLike(t *testing.T, s *stack, ctx context.Context, parent string, from int) *registryv1.PolicyVersion {
	t.Helper()
	src, err := s.Registry.GetPolicyVersion(ctx, &registryv1.GetPolicyVersionRequest{Name: parent + "/versions/" + strconv.Itoa(from)})
	require.NoError(t, err)
	d, err := s.Registry.CreatePolicyVersion(ctx, &registryv1.CreatePolicyVersionRequest{Parent: parent,
		PolicyVersion: &registryv1.PolicyVersion{Title: src.GetTitle(), Preamble: src.GetPreamble(),
			Articles: src.GetArticles(), Attachments: src.GetAttachments()}})
	require.NoError(t, err)
	chk, err := s.Registry.CheckPolicyVersion(ctx, &registryv1.CheckPolicyVersionRequest{Name: d.GetName()})
	require.NoError(t, err)
	require.True(t, chk.GetReady(), "%v", chk.GetFindings())
	return d
}

func announce(s *stack, ctx context.Context, name string, days int, major bool) (*registryv1.PolicyVersion, error) {
	return s.Registry.AnnouncePolicyVersion(ctx, &registryv1.AnnouncePolicyVersionRequest{Name: name,
		EffectiveDate: registrytest.InDays(days), MajorChange: major, ChangeSummary: "변경"})
}

// AIP-155: an announcement retried after a lost answer (the same request_id, the etag now stale)
// gets the version as announced instead of a refusal as no longer a draft, and announces nothing
// twice; the same request_id with another request is refused naming request_id.
func TestPolicyAnnouncementRetry(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("jeongeup-library.yaml")
	ctx := libraryCPO(s)
	v3 := draftLike(t, s, ctx, libraryCCTV, 2)
	req := &registryv1.AnnouncePolicyVersionRequest{Name: v3.GetName(), EffectiveDate: registrytest.InDays(7),
		ChangeSummary: "변경", Etag: v3.GetEtag(), RequestId: "announce-v3"}
	first, err := s.Registry.AnnouncePolicyVersion(ctx, req)
	require.NoError(t, err)
	require.Equal(t, registryv1.PolicyState_POLICY_STATE_ANNOUNCED, first.GetState())
	again, err := s.Registry.AnnouncePolicyVersion(ctx, req)
	require.NoError(t, err, "a retry is answered, not refused as announced")
	require.Equal(t, first.GetEtag(), again.GetEtag(), "nothing changed twice")
	require.Equal(t, first.GetAnnounceTime().AsTime(), again.GetAnnounceTime().AsTime())
	_, err = s.Registry.AnnouncePolicyVersion(ctx, &registryv1.AnnouncePolicyVersionRequest{Name: v3.GetName(),
		EffectiveDate: registrytest.InDays(8), ChangeSummary: "변경", RequestId: "announce-v3"})
	require.Equal(t, codes.InvalidArgument, status.Code(err))
	require.Equal(t, "request_id", stacktest.Violation(t, err).GetField())
	_, err = announce(s, ctx, v3.GetName(), 7, false)
	require.Equal(t, codes.FailedPrecondition, status.Code(err), "without a request_id a second announcement is refused: %v", err)
}

// WG26-24: at most one version in force on any day, so no two versions take effect on one date.
func TestPolicyWG2624NoTwoVersionsOnOneDate(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("jeongeup-library.yaml")
	ctx := libraryCPO(s)

	v3 := draftLike(t, s, ctx, libraryCCTV, 2)
	_, err := announce(s, ctx, v3.GetName(), 7, false)
	require.NoError(t, err)

	v4 := draftLike(t, s, ctx, libraryCCTV, 2)
	require.Equal(t, int32(4), v4.GetNumber())
	_, err = announce(s, ctx, v4.GetName(), 7, false)
	require.Equal(t, codes.InvalidArgument, status.Code(err), "%v", err)
	v := stacktest.Violation(t, err)
	require.Equal(t, "effective_date", v.GetField())
	require.Equal(t, "WG26-24", v.GetReason())

	_, err = announce(s, ctx, v4.GetName(), 8, false)
	require.NoError(t, err)

	// Each version ends the day before the next takes effect; the latest stays open.
	for _, c := range []struct {
		n        string
		end      string
		standing registryv1.PolicyStanding
	}{
		{"2", registrytest.InDays(6), registryv1.PolicyStanding_POLICY_STANDING_IN_FORCE},
		{"3", registrytest.InDays(7), registryv1.PolicyStanding_POLICY_STANDING_UPCOMING},
		{"4", "", registryv1.PolicyStanding_POLICY_STANDING_UPCOMING},
	} {
		got, err := s.Registry.GetPolicyVersion(ctx, &registryv1.GetPolicyVersionRequest{Name: libraryCCTV + "/versions/" + c.n})
		require.NoError(t, err)
		require.Equal(t, c.end, got.GetEndDate(), "version %s", c.n)
		require.Equal(t, c.standing, got.GetStanding(), "version %s", c.n)
	}
}

// WG26-24 under concurrency: two drafts announced at once for the same date; the policy lock lets
// exactly one through.
func TestPolicyWG2624ConcurrentAnnouncements(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("jeongeup-library.yaml")
	ctx := libraryCPO(s)

	for round, days := range []int{7, 8, 9} {
		drafts := []*registryv1.PolicyVersion{draftLike(t, s, ctx, libraryCCTV, 2), draftLike(t, s, ctx, libraryCCTV, 2)}
		start := make(chan struct{})
		errs := make([]error, len(drafts))
		var wg sync.WaitGroup
		for i, d := range drafts {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, errs[i] = announce(s, ctx, d.GetName(), days, false)
			}()
		}
		close(start)
		wg.Wait()

		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
				continue
			}
			require.Equal(t, codes.InvalidArgument, status.Code(err), "round %d: %v", round, err)
			require.Equal(t, "WG26-24", stacktest.Violation(t, err).GetReason(), "round %d", round)
		}
		require.Equal(t, 1, ok, "round %d: exactly one announcement succeeds: %v", round, errs)
	}

	list, err := s.Registry.ListPolicyVersions(ctx, &registryv1.ListPolicyVersionsRequest{Parent: libraryCCTV})
	require.NoError(t, err)
	seen := map[string]int32{}
	announced := 0
	for _, v := range list.GetPolicyVersions() {
		if v.GetState() == registryv1.PolicyState_POLICY_STATE_DRAFT {
			continue
		}
		announced++
		prev, dup := seen[v.GetEffectiveDate()]
		require.False(t, dup, "versions %d and %d both take effect on %s", prev, v.GetNumber(), v.GetEffectiveDate())
		seen[v.GetEffectiveDate()] = v.GetNumber()
	}
	require.Equal(t, 2+3, announced, "the seed's two versions and one per round")
}

// STD-21/WG26-24: what is announced is what the registry says at the announcement; a draft whose
// data changed is refreshed first.
func TestPolicyStaleSnapshotIsRefreshedBeforeAnnouncing(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("jeongeup-library.yaml")
	ctx := libraryCPO(s)

	d := draftLike(t, s, ctx, libraryCCTV, 2)
	site, err := s.Registry.GetSite(ctx, &registryv1.GetSiteRequest{Name: libraryUnit + "/sites/central"})
	require.NoError(t, err)
	site.CameraCount = 31
	_, err = s.Registry.UpdateSite(ctx, &registryv1.UpdateSiteRequest{Site: site, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"camera_count"}}})
	require.NoError(t, err)

	_, err = announce(s, ctx, d.GetName(), 7, false)
	require.Equal(t, codes.FailedPrecondition, status.Code(err), "%v", err)
	_, reason := stacktest.Reason(err)
	require.Equal(t, "SNAPSHOT_STALE", reason)

	_, err = s.Registry.UpdatePolicyVersion(ctx, &registryv1.UpdatePolicyVersionRequest{
		PolicyVersion: &registryv1.PolicyVersion{Name: d.GetName()},
		UpdateMask:    &fieldmaskpb.FieldMask{Paths: []string{"snapshot"}}})
	require.NoError(t, err)
	_, err = announce(s, ctx, d.GetName(), 7, false)
	require.NoError(t, err)

	got, err := s.Registry.GetPolicyVersion(ctx, &registryv1.GetPolicyVersionRequest{Name: d.GetName()})
	require.NoError(t, err)
	require.Equal(t, registryv1.PolicyState_POLICY_STATE_ANNOUNCED, got.GetState())
	var count int32
	for _, st := range got.GetSnapshot().GetSites() {
		if st.GetName() == site.GetName() {
			count = st.GetCameraCount()
		}
	}
	require.Equal(t, int32(31), count, "the announced snapshot has the new count")
}

// WG26-24: a major change is announced with a comparison table; with nothing changed there is no
// table, so it cannot be flagged major.
func TestPolicyWG2624MajorChangeNeedsAComparison(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("jeongeup-library.yaml")
	ctx := libraryCPO(s)

	d := draftLike(t, s, ctx, libraryCCTV, 2)
	_, err := announce(s, ctx, d.GetName(), 7, true)
	require.Equal(t, codes.InvalidArgument, status.Code(err), "%v", err)
	v := stacktest.Violation(t, err)
	require.Equal(t, "major_change", v.GetField())
	require.Equal(t, "WG26-24", v.GetReason())

	a, err := announce(s, ctx, d.GetName(), 7, false)
	require.NoError(t, err)
	require.Empty(t, a.GetComparison())
}

// WG26-24/DEC-31-2: only announced and archived versions are published; a draft is not, by any path.
func TestPolicyDraftsAreNeverPublic(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("jeongeup-library.yaml")
	d, err := s.Registry.CreatePolicyVersion(libraryCPO(s), &registryv1.CreatePolicyVersionRequest{Parent: libraryCCTV})
	require.NoError(t, err)
	require.Equal(t, int32(3), d.GetNumber())

	for _, path := range []string{
		"/p/jeongeup/library/cctv/versions/3",
		"/v1/public/tenants/jeongeup/units/library/policies/cctv/versions/3",
	} {
		r := s.Get(path)
		b := stacktest.Body(t, r)
		require.Equal(t, http.StatusNotFound, r.StatusCode, "%s: %s", path, b)
	}
	_, err = s.Registry.GetPublishedPolicyVersion(context.Background(), &registryv1.GetPublishedPolicyVersionRequest{
		Tenant: "jeongeup", Unit: "library", Kind: "cctv", Number: 3})
	require.Equal(t, codes.NotFound, status.Code(err), "%v", err)
}

// WG26-24: a unit's first version is published once announced, before it takes effect, with its
// effective date.
func TestPolicyUpcomingFirstVersionIsPublished(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("jeongeup-library.yaml")
	admin := s.Admin()
	unit := "tenants/jeongeup/units/sports"

	_, err := s.Registry.CreateUnit(admin, &registryv1.CreateUnitRequest{Parent: "tenants/jeongeup", UnitId: "sports",
		Unit: &registryv1.Unit{DisplayName: "정읍시 체육시설관리사업소", Phone: "063-539-6000"}})
	require.NoError(t, err)
	for _, o := range []struct {
		id   string
		name string
		role registryv1.OfficerRole
	}{
		{"kim", "김정읍", registryv1.OfficerRole_OFFICER_ROLE_CCTV_MANAGER},
		{"lee", "이체육", registryv1.OfficerRole_OFFICER_ROLE_ACCESS_AUTHORIZED},
	} {
		_, err = s.Registry.CreateOfficer(admin, &registryv1.CreateOfficerRequest{Parent: unit, OfficerId: o.id,
			Officer: &registryv1.Officer{DisplayName: o.name, Title: "주무관", Phone: "063-539-6001", Roles: []registryv1.OfficerRole{o.role}}})
		require.NoError(t, err)
	}
	_, err = s.Registry.CreateSite(admin, &registryv1.CreateSiteRequest{Parent: unit, SiteId: "gym", Site: &registryv1.Site{
		DisplayName: "실내체육관", CameraCount: 12, RecordingHours: "24시간", RetentionDays: 30, StoragePlace: "체육관 관리실",
		Manager:  unit + "/officers/kim",
		Purposes: []*registryv1.SitePurpose{{Description: "시설 안전 및 화재 예방", Ground: registryv1.CctvGround_CCTV_GROUND_FACILITY_SAFETY}}}})
	require.NoError(t, err)

	// A unit without a policy starts from the writing guide's outline, whose registry tables are
	// filled; the texts the body writes are what :check asks for.
	d, err := s.Registry.CreatePolicyVersion(admin, &registryv1.CreatePolicyVersionRequest{Parent: unit + "/policies/cctv"})
	require.NoError(t, err)
	require.Equal(t, int32(1), d.GetNumber())
	chk0, err := s.Registry.CheckPolicyVersion(admin, &registryv1.CheckPolicyVersionRequest{Name: d.GetName()})
	require.NoError(t, err)
	require.False(t, chk0.GetReady(), "the outline's articles without text block the announcement")
	d = writeOutline(t, s, admin, d)
	chk, err := s.Registry.CheckPolicyVersion(admin, &registryv1.CheckPolicyVersionRequest{Name: d.GetName()})
	require.NoError(t, err)
	require.True(t, chk.GetReady(), "%v", chk.GetFindings())
	a, err := announce(s, admin, d.GetName(), 7, false)
	require.NoError(t, err)
	require.Equal(t, registryv1.PolicyStanding_POLICY_STANDING_UPCOMING, a.GetStanding())

	r := s.Get("/p/jeongeup/sports/cctv")
	html := stacktest.Body(t, r)
	require.Equal(t, http.StatusOK, r.StatusCode, html)
	require.Contains(t, html, registrytest.Published(t, registrytest.InDays(7)))
	require.Contains(t, html, "실내체육관")
}

// writeOutline gives every article of a draft without text one of its own, as a body would.
func writeOutline(t *testing.T, s *stack, ctx context.Context, d *registryv1.PolicyVersion) *registryv1.PolicyVersion {
	t.Helper()
	for _, a := range d.GetArticles() {
		if a.GetBody() == "" {
			a.Body = "본 기관이 정하여 공개하는 " + a.GetTitle() + "입니다."
		}
	}
	out, err := s.Registry.UpdatePolicyVersion(ctx, &registryv1.UpdatePolicyVersionRequest{PolicyVersion: d,
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"articles"}}})
	require.NoError(t, err)
	return out
}

// NOTICE-7D: the lead time is the tenant's setting, here 14 days, and it cannot be 0.
func TestPolicyNotice7DTenantLeadTime(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("jeongeup-library.yaml")
	tenantAdmin := s.As(auth.RoleTenantAdmin, "tenants/jeongeup")
	mask := &fieldmaskpb.FieldMask{Paths: []string{"notice_lead_days"}}

	ten, err := s.Registry.UpdateTenant(tenantAdmin, &registryv1.UpdateTenantRequest{
		Tenant: &registryv1.Tenant{Name: "tenants/jeongeup", NoticeLeadDays: 14}, UpdateMask: mask})
	require.NoError(t, err)
	require.Equal(t, int32(14), ten.GetNoticeLeadDays())

	ctx := libraryCPO(s)
	d := draftLike(t, s, ctx, libraryCCTV, 2)
	_, err = announce(s, ctx, d.GetName(), 7, false)
	require.Equal(t, codes.InvalidArgument, status.Code(err), "%v", err)
	v := stacktest.Violation(t, err)
	require.Equal(t, "effective_date", v.GetField())
	require.Equal(t, "NOTICE-7D", v.GetReason())
	require.Contains(t, v.GetDescription(), registrytest.InDays(14), "the message names the earliest date")
	_, err = announce(s, ctx, d.GetName(), 14, false)
	require.NoError(t, err)

	_, err = s.Registry.UpdateTenant(tenantAdmin, &registryv1.UpdateTenantRequest{
		Tenant: &registryv1.Tenant{Name: "tenants/jeongeup", NoticeLeadDays: 0}, UpdateMask: mask})
	require.Equal(t, codes.InvalidArgument, status.Code(err), "%v", err)
	v = stacktest.Violation(t, err)
	require.Equal(t, "tenant.notice_lead_days", v.GetField())
	require.Equal(t, "NOTICE-7D", v.GetReason())
	ten, err = s.Registry.GetTenant(tenantAdmin, &registryv1.GetTenantRequest{Name: "tenants/jeongeup"})
	require.NoError(t, err)
	require.Equal(t, int32(14), ten.GetNoticeLeadDays())
}

// Only the platform operator (tenant_admin on "*") creates tenants.
func TestPolicyOnlyOperatorCreatesTenants(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("jeongeup-library.yaml")
	_, err := s.Registry.CreateTenant(s.As(auth.RoleTenantAdmin, "tenants/jeongeup"), &registryv1.CreateTenantRequest{TenantId: "newcity",
		Tenant: &registryv1.Tenant{DisplayName: "새도시", Kind: registryv1.TenantKind_TENANT_KIND_LOCAL_GOVERNMENT}})
	require.Equal(t, codes.PermissionDenied, status.Code(err), "%v", err)
	_, err = s.Registry.GetTenant(s.Admin(), &registryv1.GetTenantRequest{Name: "tenants/newcity"})
	require.Equal(t, codes.NotFound, status.Code(err), "%v", err)
}

// A unit-scoped token reaches its unit's subtree and nothing beside it.
func TestPolicyUnitSubtreeIsolation(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("jeongeup-library.yaml")
	admin := s.Admin()
	site := &registryv1.Site{DisplayName: "전시실", CameraCount: 3, RecordingHours: "24시간", RetentionDays: 30, StoragePlace: "관리실",
		Purposes: []*registryv1.SitePurpose{{Description: "범죄 예방", Ground: registryv1.CctvGround_CCTV_GROUND_CRIME_PREVENTION}}}
	for _, u := range []struct{ id, parent string }{{"museum", ""}, {"children-room", libraryUnit}} {
		_, err := s.Registry.CreateUnit(admin, &registryv1.CreateUnitRequest{Parent: "tenants/jeongeup", UnitId: u.id,
			Unit: &registryv1.Unit{DisplayName: u.id, Parent: u.parent}})
		require.NoError(t, err)
		_, err = s.Registry.CreateSite(admin, &registryv1.CreateSiteRequest{Parent: "tenants/jeongeup/units/" + u.id, SiteId: "hall", Site: site})
		require.NoError(t, err)
	}

	handler := s.As(auth.RoleHandler, libraryUnit)
	_, err := s.Registry.GetSite(handler, &registryv1.GetSiteRequest{Name: "tenants/jeongeup/units/museum/sites/hall"})
	require.Equal(t, codes.PermissionDenied, status.Code(err), "%v", err)
	_, err = s.Registry.ListSites(handler, &registryv1.ListSitesRequest{Parent: "tenants/jeongeup/units/museum"})
	require.Equal(t, codes.PermissionDenied, status.Code(err), "%v", err)

	got, err := s.Registry.GetSite(handler, &registryv1.GetSiteRequest{Name: "tenants/jeongeup/units/children-room/sites/hall"})
	require.NoError(t, err)
	require.Equal(t, "전시실", got.GetDisplayName())
	list, err := s.Registry.ListSites(handler, &registryv1.ListSitesRequest{Parent: "tenants/jeongeup/units/children-room"})
	require.NoError(t, err)
	require.Len(t, list.GetSites(), 1)
}

// STD-20: the public JSON is cached like the page, under the same ETag.
func TestPolicyPublicJSONCaching(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("jeongeup-library.yaml")

	r := s.Get("/v1/public/tenants/jeongeup/units/library/policies/cctv")
	b := stacktest.Body(t, r)
	require.Equal(t, http.StatusOK, r.StatusCode, b)
	etag := r.Header.Get("ETag")
	require.NotEmpty(t, etag)
	require.NotEmpty(t, r.Header.Get("Cache-Control"))

	r = s.Get("/v1/public/tenants/jeongeup/units/library/policies/cctv", "If-None-Match", etag)
	require.Empty(t, stacktest.Body(t, r))
	require.Equal(t, http.StatusNotModified, r.StatusCode)

	r = s.Get("/p/jeongeup/library/cctv", "Accept-Encoding", "identity")
	stacktest.Body(t, r)
	require.Equal(t, http.StatusOK, r.StatusCode)
	require.Equal(t, etag, r.Header.Get("ETag"))
	// Its gzip is another representation of the same version: the same tag, marked.
	r = s.Get("/p/jeongeup/library/cctv", "Accept-Encoding", "gzip")
	stacktest.Body(t, r)
	require.Equal(t, strings.TrimSuffix(etag, `"`)+`-gzip"`, r.Header.Get("ETag"))
}

// WG26-24: previous versions are listed in time order, whatever order they were imported in.
func TestPolicyHistoryInTimeOrder(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("jeongeup-library.yaml")
	old, err := s.Registry.ImportPolicyVersion(s.Admin(), &registryv1.ImportPolicyVersionRequest{Parent: libraryCCTV,
		PolicyVersion: &registryv1.PolicyVersion{EffectiveDate: "2015-01-01", EndDate: "2021-12-05"}})
	require.NoError(t, err)
	require.Equal(t, int32(3), old.GetNumber())

	// First fetches after the import: nothing stale in the page cache.
	r := s.Get("/v1/public/tenants/jeongeup/units/library/policies/cctv")
	b := stacktest.Body(t, r)
	require.Equal(t, http.StatusOK, r.StatusCode, b)
	var pub struct{ History []struct{ Number int } }
	require.NoError(t, json.Unmarshal([]byte(b), &pub))
	var numbers []int
	for _, h := range pub.History {
		numbers = append(numbers, h.Number)
	}
	require.Equal(t, []int{3, 1, 2}, numbers)

	r = s.Get("/p/jeongeup/library/cctv/versions/2")
	html := stacktest.Body(t, r)
	require.Equal(t, http.StatusOK, r.StatusCode, html)
	// The history table lists the earlier versions in time order, each linked.
	_, history, found := strings.Cut(html, `<h2 id="history-h">`)
	require.True(t, found, "the page has a history section")
	first := strings.Index(history, "2015. 01. 01. ~ 2021. 12. 05.")
	second := strings.Index(history, "2021. 12. 06. ~ 2024. 01. 15.")
	require.GreaterOrEqual(t, first, 0, "the history lists version 3")
	require.Greater(t, second, first, "the history lists version 1 after version 3")
	require.Contains(t, history, `href="/p/jeongeup/library/cctv/versions/3"`)
}

// A tenant file's version still to take effect is drafted from its text and announced; the items
// its articleItems give the articles are the draft's too, so :check finds them (seed 001's rules
// name none of them in their titles).
func TestPolicyUpcomingVersionFromATenantFileKeepsItsArticleItems(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	f, err := tenantfile.Load(registrytest.Example(t, "yeongtong-school.yaml"))
	require.NoError(t, err)
	pe := f.Unit("school").Policy(registryv1.PolicyKind_POLICY_KIND_CCTV)
	require.Len(t, pe.Versions, 1)
	v := pe.Versions[0].Version
	v.AnnounceDate, v.EffectiveDate = registrytest.InDays(0), registrytest.InDays(10)
	require.NotEmpty(t, pe.Versions[0].ArticleItems)
	require.NoError(t, tenantfile.Import(s.Admin(), s.Registry, f, time.Now()))

	got, err := s.Registry.GetPolicyVersion(s.Admin(), &registryv1.GetPolicyVersionRequest{
		Name: "tenants/yeongtong-es/units/school/policies/cctv/versions/1"})
	require.NoError(t, err)
	require.Equal(t, registryv1.PolicyState_POLICY_STATE_ANNOUNCED, got.GetState())
	require.Equal(t, registrytest.InDays(10), got.GetEffectiveDate())
	items := map[string][]string{}
	for _, a := range got.GetArticles() {
		items[a.GetNumber()] = a.GetItems()
	}
	for _, ai := range pe.Versions[0].ArticleItems {
		require.Equal(t, ai.GetItems(), items[ai.GetNumber()], "%s", ai.GetNumber())
	}
}
