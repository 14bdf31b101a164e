package pg_test

// Every test here needs PostgreSQL (DATABASE_URL; see pkg/pgtest), hence the PG in their names.

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/pipa-kr/pipa/pkg/apierr"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/pkg/pgtest"
	"github.com/pipa-kr/pipa/services/registry/store/pg"
)

// newStore returns a store on a fresh database holding the tenants ids.
func newStore(t *testing.T, ids ...string) *pg.Store {
	t.Helper()
	s := pg.New(pgtest.New(t, pg.Schema, pg.Migrations))
	for _, id := range ids {
		_, err := s.CreateTenant(t.Context(), id, &registryv1.Tenant{DisplayName: id + "시"}, pg.Idem{})
		require.NoError(t, err)
	}
	return s
}

// requireCode asserts that err is an *apierr.Error with code and returns it.
func requireCode(t *testing.T, err error, code codes.Code) *apierr.Error {
	t.Helper()
	var e *apierr.Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, code, apierr.CodeOf(e), "%v", err)
	return e
}

func requireNotFound(t *testing.T, err error, name string) {
	t.Helper()
	e := requireCode(t, err, codes.NotFound)
	require.Equal(t, name, e.Metadata["resource"])
}

func requireField(t *testing.T, err error, field string) {
	t.Helper()
	e := requireCode(t, err, codes.InvalidArgument)
	require.Len(t, e.Violations, 1)
	require.Equal(t, field, e.Violations[0].Field)
}

func requireProtoEqual(t *testing.T, want, got proto.Message) {
	t.Helper()
	require.True(t, proto.Equal(want, got), "want %v\ngot  %v", want, got)
}

func names[M interface{ GetName() string }](ms []M) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.GetName()
	}
	return out
}

func TestPGTenants(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := newStore(t)

	iksan, err := s.CreateTenant(ctx, "iksan", &registryv1.Tenant{
		DisplayName: "익산시", Kind: registryv1.TenantKind_TENANT_KIND_LOCAL_GOVERNMENT, NoticeLeadDays: 7,
	}, pg.Idem{})
	require.NoError(t, err)
	require.Equal(t, "tenants/iksan", iksan.Name)
	require.NotEmpty(t, iksan.Etag)
	require.NotNil(t, iksan.CreateTime)

	_, err = s.CreateTenant(ctx, "iksan", &registryv1.Tenant{DisplayName: "다른"}, pg.Idem{})
	requireCode(t, err, codes.AlreadyExists)

	got, err := s.Tenant("iksan").Get(ctx)
	require.NoError(t, err)
	requireProtoEqual(t, iksan, got)

	_, err = s.Tenant("nowhere").Get(ctx)
	requireNotFound(t, err, "tenants/nowhere")

	upd := proto.Clone(iksan).(*registryv1.Tenant)
	upd.Phone = "063-859-5114"
	updated, err := s.Tenant("iksan").Update(ctx, upd, iksan.Etag)
	require.NoError(t, err)
	require.Equal(t, "063-859-5114", updated.Phone)
	require.NotEqual(t, iksan.Etag, updated.Etag)
	require.Equal(t, iksan.CreateTime.AsTime(), updated.CreateTime.AsTime())
	_, err = s.Tenant("iksan").Update(ctx, upd, iksan.Etag) // stale
	e := requireCode(t, err, codes.Aborted)
	require.Equal(t, "ETAG_MISMATCH", e.Reason)
	got, err = s.Tenant("iksan").Get(ctx)
	require.NoError(t, err)
	requireProtoEqual(t, updated, got)

	for _, id := range []string{"seongnam", "jeongeup", "anyang"} {
		_, err := s.CreateTenant(ctx, id, &registryv1.Tenant{DisplayName: id}, pg.Idem{})
		require.NoError(t, err)
	}
	var all []string
	token := ""
	for {
		page, next, err := s.ListTenants(ctx, true, nil, 3, token)
		require.NoError(t, err)
		all = append(all, names(page)...)
		if next == "" {
			break
		}
		token = next
	}
	require.Equal(t, []string{"tenants/anyang", "tenants/iksan", "tenants/jeongeup", "tenants/seongnam"}, all)

	mine, next, err := s.ListTenants(ctx, false, []string{"seongnam", "iksan", "missing"}, 0, "")
	require.NoError(t, err)
	require.Empty(t, next)
	require.Equal(t, []string{"tenants/iksan", "tenants/seongnam"}, names(mine))

	_, _, err = s.ListTenants(ctx, true, nil, 0, "not-a-token")
	requireField(t, err, "page_token")
}

// The tree of seed 000: 도서관사업소 → 중앙도서관 → 어린이실, and a second top-level unit.
func createLibraryTree(t *testing.T, ts *pg.TenantStore) {
	t.Helper()
	ctx := t.Context()
	for _, u := range []struct{ id, parent, name string }{
		{"library-office", "", "도서관사업소"},
		{"central-library", "library-office", "중앙도서관"},
		{"civil-safety", "", "시민안전과"},
		{"children-room", "central-library", "어린이실"},
		{"branch-library", "library-office", "분관"},
	} {
		_, err := ts.CreateUnit(ctx, u.id, u.parent, &registryv1.Unit{DisplayName: u.name}, pg.Idem{})
		require.NoError(t, err, u.id)
	}
}

func TestPGUnits(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	ts := newStore(t, "iksan").Tenant("iksan")
	createLibraryTree(t, ts)

	u, err := ts.GetUnit(ctx, "children-room")
	require.NoError(t, err)
	require.Equal(t, "tenants/iksan/units/children-room", u.Name)
	require.Equal(t, "tenants/iksan/units/central-library", u.Parent)
	require.Equal(t, "어린이실", u.DisplayName)

	path, err := ts.UnitPath(ctx, "children-room")
	require.NoError(t, err)
	require.Equal(t, []string{"library-office", "central-library", "children-room"}, path)
	path, err = ts.UnitPath(ctx, "library-office")
	require.NoError(t, err)
	require.Equal(t, []string{"library-office"}, path)

	sub, err := ts.Subtree(ctx, "library-office")
	require.NoError(t, err)
	require.Equal(t, []string{
		"tenants/iksan/units/branch-library",
		"tenants/iksan/units/central-library",
		"tenants/iksan/units/children-room",
	}, names(sub))
	sub, err = ts.Subtree(ctx, "children-room")
	require.NoError(t, err)
	require.Empty(t, sub)
	_, err = ts.Subtree(ctx, "missing")
	requireNotFound(t, err, "tenants/iksan/units/missing")

	// Tree order, page by page.
	var all []string
	token := ""
	for {
		page, next, err := ts.ListUnits(ctx, 2, token)
		require.NoError(t, err)
		all = append(all, names(page)...)
		if next == "" {
			break
		}
		token = next
	}
	require.Equal(t, []string{
		"tenants/iksan/units/civil-safety",
		"tenants/iksan/units/library-office",
		"tenants/iksan/units/branch-library",
		"tenants/iksan/units/central-library",
		"tenants/iksan/units/children-room",
	}, all)
	_, _, err = ts.ListUnits(ctx, 0, "bm90IGEgdG9rZW4")
	requireField(t, err, "page_token")
	_, _, err = ts.ListChildren(ctx, pg.Officers, []string{"civil-safety"}, 0, token, newMsg(pg.Officers)) // a units token
	requireField(t, err, "page_token")

	_, err = ts.CreateUnit(ctx, "orphan", "missing", &registryv1.Unit{DisplayName: "고아"}, pg.Idem{})
	requireField(t, err, "unit.parent")
	_, err = ts.CreateUnit(ctx, "civil-safety", "", &registryv1.Unit{DisplayName: "중복"}, pg.Idem{})
	requireCode(t, err, codes.AlreadyExists)
	_, err = ts.GetUnit(ctx, "orphan")
	requireNotFound(t, err, "tenants/iksan/units/orphan")

	upd := proto.Clone(u).(*registryv1.Unit)
	upd.Phone = "063-859-4000"
	updated, err := ts.UpdateUnit(ctx, upd, u.Etag)
	require.NoError(t, err)
	require.Equal(t, "063-859-4000", updated.Phone)
	require.Equal(t, u.Parent, updated.Parent)
	_, err = ts.UpdateUnit(ctx, upd, u.Etag)
	requireCode(t, err, codes.Aborted)
	upd.Parent = "tenants/iksan/units/civil-safety"
	_, err = ts.UpdateUnit(ctx, upd, "")
	requireField(t, err, "unit.parent")
	upd.Parent = ""
	unconditional, err := ts.UpdateUnit(ctx, upd, "")
	require.NoError(t, err)
	require.Equal(t, u.Parent, unconditional.Parent, "an empty parent keeps the parent")
	got, err := ts.GetUnit(ctx, "children-room")
	require.NoError(t, err)
	requireProtoEqual(t, unconditional, got)

	_, err = newStore(t).Tenant("nowhere").CreateUnit(ctx, "x", "", &registryv1.Unit{}, pg.Idem{})
	requireNotFound(t, err, "tenants/nowhere")
}

// sample returns a message of kind with content that depends on i.
func sample(kind pg.Kind, i int) proto.Message {
	switch kind {
	case pg.Officers:
		return &registryv1.Officer{DisplayName: fmt.Sprintf("홍길동%d", i), Title: "주무관",
			Roles: []registryv1.OfficerRole{registryv1.OfficerRole_OFFICER_ROLE_CCTV_MANAGER}}
	case pg.Sites:
		return &registryv1.Site{DisplayName: fmt.Sprintf("중앙도서관%d", i), CameraCount: 12,
			Locations: []string{"도서관 주차장"}, RetentionDays: 30, PublicCameraCount: proto.Int32(10)}
	case pg.Files:
		return &registryv1.PersonalInformationFile{DisplayName: fmt.Sprintf("도서관 회원 관리%d", i),
			RequiredItems: []string{"성명", "연락처"}, SubjectCount: 52000}
	case pg.Processors:
		return &registryv1.Processor{Company: fmt.Sprintf("(주)보안%d", i), Work: "CCTV 유지보수"}
	}
	panic(kind)
}

func newMsg(kind pg.Kind) func() proto.Message {
	return func() proto.Message { return proto.Clone(sample(kind, 0)).ProtoReflect().Type().New().Interface() }
}

func TestPGChildrenCRUD(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	ts := newStore(t, "iksan").Tenant("iksan")
	createLibraryTree(t, ts)
	units := []string{"children-room", "library-office", "central-library"}

	for _, kind := range []pg.Kind{pg.Officers, pg.Sites, pg.Files, pg.Processors} {
		t.Run(string(kind), func(t *testing.T) {
			// Two per unit, created out of order.
			created := map[string]proto.Message{}
			for i, unit := range units {
				for _, id := range []string{"b", "a"} {
					m := sample(kind, i)
					require.NoError(t, ts.CreateChild(ctx, kind, unit, id, m, pg.Idem{}))
					name := fmt.Sprintf("tenants/iksan/units/%s/%s/%s", unit, kind, id)
					require.Equal(t, name, m.(interface{ GetName() string }).GetName())
					created[name] = m
				}
			}
			err := ts.CreateChild(ctx, kind, "children-room", "a", sample(kind, 9), pg.Idem{})
			requireCode(t, err, codes.AlreadyExists)
			err = ts.CreateChild(ctx, kind, "missing", "a", sample(kind, 9), pg.Idem{})
			requireNotFound(t, err, "tenants/iksan/units/missing")

			got := newMsg(kind)()
			require.NoError(t, ts.GetChild(ctx, kind, "central-library", "a", got))
			requireProtoEqual(t, created["tenants/iksan/units/central-library/"+string(kind)+"/a"], got)
			err = ts.GetChild(ctx, kind, "central-library", "zz", newMsg(kind)())
			requireNotFound(t, err, "tenants/iksan/units/central-library/"+string(kind)+"/zz")

			// Ordered by unit path, then creation (b before a); two per page.
			var listed []string
			token := ""
			for {
				page, next, err := ts.ListChildren(ctx, kind, units, 2, token, newMsg(kind))
				require.NoError(t, err)
				for _, m := range page {
					n := m.(interface{ GetName() string }).GetName()
					requireProtoEqual(t, created[n], m)
					listed = append(listed, n)
				}
				if next == "" {
					break
				}
				token = next
			}
			p := "tenants/iksan/units/"
			require.Equal(t, []string{
				p + "library-office/" + string(kind) + "/b", p + "library-office/" + string(kind) + "/a",
				p + "central-library/" + string(kind) + "/b", p + "central-library/" + string(kind) + "/a",
				p + "children-room/" + string(kind) + "/b", p + "children-room/" + string(kind) + "/a",
			}, listed)
			none, _, err := ts.ListChildren(ctx, kind, nil, 0, "", newMsg(kind))
			require.NoError(t, err)
			require.Empty(t, none)

			// Update with the right etag, then a stale one.
			m := created[p+"central-library/"+string(kind)+"/a"]
			etag := m.ProtoReflect().Get(m.ProtoReflect().Descriptor().Fields().ByName("etag")).String()
			upd := sample(kind, 42)
			require.NoError(t, ts.UpdateChild(ctx, kind, "central-library", "a", upd, etag))
			got = newMsg(kind)()
			require.NoError(t, ts.GetChild(ctx, kind, "central-library", "a", got))
			requireProtoEqual(t, upd, got)
			err = ts.UpdateChild(ctx, kind, "central-library", "a", sample(kind, 43), etag)
			requireCode(t, err, codes.Aborted)
			err = ts.UpdateChild(ctx, kind, "central-library", "zz", sample(kind, 43), "")
			requireNotFound(t, err, p+"central-library/"+string(kind)+"/zz")

			// Delete: stale etag, then the current one, then again.
			err = ts.DeleteChild(ctx, kind, "central-library", "a", etag)
			requireCode(t, err, codes.Aborted)
			newEtag := upd.ProtoReflect().Get(upd.ProtoReflect().Descriptor().Fields().ByName("etag")).String()
			require.NoError(t, ts.DeleteChild(ctx, kind, "central-library", "a", newEtag))
			err = ts.DeleteChild(ctx, kind, "central-library", "a", "")
			requireNotFound(t, err, p+"central-library/"+string(kind)+"/a")
			err = ts.GetChild(ctx, kind, "central-library", "a", newMsg(kind)())
			requireNotFound(t, err, p+"central-library/"+string(kind)+"/a")
		})
	}
}

func TestPGDeleteInUse(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	ts := newStore(t, "iksan").Tenant("iksan")
	createLibraryTree(t, ts)
	p := "tenants/iksan/units/"

	require.NoError(t, ts.CreateChild(ctx, pg.Officers, "library-office", "kim", &registryv1.Officer{DisplayName: "김관리"}, pg.Idem{}))
	require.NoError(t, ts.CreateChild(ctx, pg.Processors, "library-office", "secu", &registryv1.Processor{Company: "(주)보안"}, pg.Idem{}))
	site := &registryv1.Site{DisplayName: "중앙도서관", Manager: p + "library-office/officers/kim",
		Processor: p + "library-office/processors/secu"}
	require.NoError(t, ts.CreateChild(ctx, pg.Sites, "central-library", "main", site, pg.Idem{}))
	file := &registryv1.PersonalInformationFile{DisplayName: "회원", Processors: []string{p + "library-office/processors/secu"}}
	require.NoError(t, ts.CreateChild(ctx, pg.Files, "children-room", "members", file, pg.Idem{}))

	err := ts.DeleteChild(ctx, pg.Officers, "library-office", "kim", "")
	e := requireCode(t, err, codes.FailedPrecondition)
	require.Equal(t, "IN_USE", e.Reason)
	require.Equal(t, p+"central-library/sites/main", e.Metadata["referenced_by"])

	err = ts.DeleteChild(ctx, pg.Processors, "library-office", "secu", "")
	e = requireCode(t, err, codes.FailedPrecondition)
	require.Equal(t, "IN_USE", e.Reason)
	require.Equal(t, p+"central-library/sites/main,"+p+"children-room/files/members", e.Metadata["referenced_by"])
	require.Contains(t, e.Message, p+"children-room/files/members")

	// References must name existing resources of the right kind in this tenant.
	bad := &registryv1.Site{Manager: p + "library-office/officers/nobody"}
	requireField(t, ts.CreateChild(ctx, pg.Sites, "central-library", "x", bad, pg.Idem{}), "site.manager")
	bad = &registryv1.Site{Processor: p + "library-office/officers/kim"}
	requireField(t, ts.CreateChild(ctx, pg.Sites, "central-library", "x", bad, pg.Idem{}), "site.processor")
	bad = &registryv1.Site{Manager: "tenants/other/units/library-office/officers/kim"}
	requireField(t, ts.CreateChild(ctx, pg.Sites, "central-library", "x", bad, pg.Idem{}), "site.manager")
	badFile := &registryv1.PersonalInformationFile{Processors: []string{p + "library-office/processors/secu", "ACME"}}
	requireField(t, ts.CreateChild(ctx, pg.Files, "central-library", "x", badFile, pg.Idem{}), "file.processors[1]")

	// Once nothing refers to them, they can go.
	site.Manager, site.Processor = "", ""
	require.NoError(t, ts.UpdateChild(ctx, pg.Sites, "central-library", "main", site, site.Etag))
	require.NoError(t, ts.DeleteChild(ctx, pg.Officers, "library-office", "kim", ""))
	require.NoError(t, ts.DeleteChild(ctx, pg.Files, "children-room", "members", ""))
	require.NoError(t, ts.DeleteChild(ctx, pg.Processors, "library-office", "secu", ""))
}

func TestPGVersionNumbersUnderConcurrency(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	ts := newStore(t, "iksan").Tenant("iksan")
	createLibraryTree(t, ts)

	const n = 20
	numbers := make(chan int32, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			v, err := ts.CreateVersion(ctx, "central-library", &registryv1.PolicyVersion{
				Kind: registryv1.PolicyKind_POLICY_KIND_CCTV, Title: "영상정보처리기기 운영·관리방침"}, pg.Idem{})
			if err != nil {
				t.Error(err)
				return
			}
			numbers <- v.Number
		})
	}
	wg.Wait()
	close(numbers)
	seen := map[int32]bool{}
	for num := range numbers {
		require.False(t, seen[num], "number %d given twice", num)
		seen[num] = true
	}
	for i := int32(1); i <= n; i++ {
		require.True(t, seen[i], "number %d missing", i)
	}

	// Numbers are per unit and kind.
	v, err := ts.CreateVersion(ctx, "central-library", &registryv1.PolicyVersion{Kind: registryv1.PolicyKind_POLICY_KIND_PRIVACY}, pg.Idem{})
	require.NoError(t, err)
	require.Equal(t, int32(1), v.Number)
	require.Equal(t, "tenants/iksan/units/central-library/policies/privacy/versions/1", v.Name)
	require.Equal(t, registryv1.PolicyState_POLICY_STATE_DRAFT, v.State)
	v, err = ts.CreateVersion(ctx, "children-room", &registryv1.PolicyVersion{Kind: registryv1.PolicyKind_POLICY_KIND_CCTV}, pg.Idem{})
	require.NoError(t, err)
	require.Equal(t, int32(1), v.Number)

	all, err := ts.ListVersions(ctx, "central-library", registryv1.PolicyKind_POLICY_KIND_CCTV)
	require.NoError(t, err)
	require.Len(t, all, n)
	for i, v := range all {
		require.Equal(t, int32(i+1), v.Number)
	}
}

func TestPGVersions(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	ts := newStore(t, "iksan").Tenant("iksan")
	createLibraryTree(t, ts)
	cctv := registryv1.PolicyKind_POLICY_KIND_CCTV
	snapshot := &registryv1.UnitSnapshot{
		Unit:  &registryv1.Unit{Name: "tenants/iksan/units/central-library", DisplayName: "중앙도서관"},
		Sites: []*registryv1.Site{{DisplayName: "중앙도서관", CameraCount: 12}},
	}

	archived, err := ts.CreateVersion(ctx, "central-library", &registryv1.PolicyVersion{Kind: cctv,
		State: registryv1.PolicyState_POLICY_STATE_ARCHIVED, EffectiveDate: "2021-12-06",
		OriginalUrl: "https://www.iksan.go.kr/old", Snapshot: snapshot}, pg.Idem{})
	require.NoError(t, err)
	announced, err := ts.CreateVersion(ctx, "central-library", &registryv1.PolicyVersion{Kind: cctv,
		Title: "영상정보처리기기 운영·관리방침", Snapshot: snapshot,
		Articles: []*registryv1.Article{{Heading: "제1조(목적)", Body: "시설 안전 및 화재 예방"}}}, pg.Idem{})
	require.NoError(t, err)
	draft, err := ts.CreateVersion(ctx, "central-library", &registryv1.PolicyVersion{Kind: cctv, Snapshot: snapshot}, pg.Idem{})
	require.NoError(t, err)
	require.Equal(t, []int32{1, 2, 3}, []int32{archived.Number, announced.Number, draft.Number})

	got, err := ts.GetVersion(ctx, "central-library", cctv, 2)
	require.NoError(t, err)
	requireProtoEqual(t, announced, got)
	_, err = ts.GetVersion(ctx, "central-library", cctv, 9)
	requireNotFound(t, err, "tenants/iksan/units/central-library/policies/cctv/versions/9")
	_, err = ts.GetVersion(ctx, "central-library", registryv1.PolicyKind_POLICY_KIND_UNSPECIFIED, 1)
	requireField(t, err, "policy_version.kind")

	// Announce version 2.
	upd := proto.Clone(announced).(*registryv1.PolicyVersion)
	upd.State = registryv1.PolicyState_POLICY_STATE_ANNOUNCED
	upd.AnnounceDate, upd.EffectiveDate = "2026-11-20", "2026-11-27"
	err = ts.InTx(ctx, func(tx *pg.TenantStore) error {
		if err := tx.LockPolicy(ctx, "central-library", cctv); err != nil {
			return err
		}
		upd, err = tx.UpdateVersion(ctx, "central-library", upd, announced.Etag)
		return err
	})
	require.NoError(t, err)
	_, err = ts.UpdateVersion(ctx, "central-library", upd, announced.Etag)
	requireCode(t, err, codes.Aborted)
	bad := proto.Clone(upd).(*registryv1.PolicyVersion)
	bad.EffectiveDate = "2026. 11. 27."
	_, err = ts.UpdateVersion(ctx, "central-library", bad, "")
	requireField(t, err, "policy_version.effective_date")
	require.Error(t, ts.LockPolicy(ctx, "central-library", cctv), "outside a transaction")

	published, err := ts.PublishedVersions(ctx, "central-library", cctv)
	require.NoError(t, err)
	require.Equal(t, []string{archived.Name, announced.Name}, names(published))
	for _, v := range published {
		require.Nil(t, v.Snapshot)
	}
	// The history's versions leave the text and the snapshot in PostgreSQL.
	light := proto.Clone(upd).(*registryv1.PolicyVersion)
	light.Snapshot, light.Articles = nil, nil
	requireProtoEqual(t, light, published[1])

	all, err := ts.ListVersions(ctx, "central-library", cctv)
	require.NoError(t, err)
	require.Len(t, all, 3)
	requireProtoEqual(t, upd, all[1])
	require.NotNil(t, all[2].Snapshot)

	none, err := ts.ListVersions(ctx, "children-room", cctv)
	require.NoError(t, err)
	require.Empty(t, none)
	_, err = ts.PublishedVersions(ctx, "missing", cctv)
	requireNotFound(t, err, "tenants/iksan/units/missing")
	_, err = ts.CreateVersion(ctx, "missing", &registryv1.PolicyVersion{Kind: cctv}, pg.Idem{})
	requireNotFound(t, err, "tenants/iksan/units/missing")
}

func TestPGTenantIsolation(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := newStore(t, "iksan", "seongnam")
	a, b := s.Tenant("iksan"), s.Tenant("seongnam")
	createLibraryTree(t, a)
	require.NoError(t, a.CreateChild(ctx, pg.Officers, "central-library", "kim", &registryv1.Officer{DisplayName: "김"}, pg.Idem{}))
	va, err := a.CreateVersion(ctx, "central-library", &registryv1.PolicyVersion{Kind: registryv1.PolicyKind_POLICY_KIND_CCTV,
		State: registryv1.PolicyState_POLICY_STATE_ANNOUNCED}, pg.Idem{})
	require.NoError(t, err)
	ua, err := a.GetUnit(ctx, "central-library")
	require.NoError(t, err)

	// B sees none of A's rows, by id or by A's full names.
	_, err = b.GetUnit(ctx, "central-library")
	requireNotFound(t, err, "tenants/seongnam/units/central-library")
	units, _, err := b.ListUnits(ctx, 0, "")
	require.NoError(t, err)
	require.Empty(t, units)
	_, err = b.UnitPath(ctx, "central-library")
	requireCode(t, err, codes.NotFound)
	_, err = b.Subtree(ctx, "library-office")
	requireCode(t, err, codes.NotFound)
	_, err = b.UpdateUnit(ctx, ua, "")
	requireNotFound(t, err, ua.Name)
	requireNotFound(t, b.GetChild(ctx, pg.Officers, "central-library", "kim", &registryv1.Officer{}),
		"tenants/seongnam/units/central-library/officers/kim")
	officers, _, err := b.ListChildren(ctx, pg.Officers, []string{"central-library"}, 0, "", newMsg(pg.Officers))
	require.NoError(t, err)
	require.Empty(t, officers)
	requireCode(t, b.UpdateChild(ctx, pg.Officers, "central-library", "kim", &registryv1.Officer{}, ""), codes.NotFound)
	requireCode(t, b.DeleteChild(ctx, pg.Officers, "central-library", "kim", ""), codes.NotFound)
	_, err = b.GetVersion(ctx, "central-library", registryv1.PolicyKind_POLICY_KIND_CCTV, 1)
	requireCode(t, err, codes.NotFound)
	_, err = b.UpdateVersion(ctx, "central-library", va, "")
	requireCode(t, err, codes.NotFound)
	_, err = b.PublishedVersions(ctx, "central-library", registryv1.PolicyKind_POLICY_KIND_CCTV)
	requireCode(t, err, codes.NotFound)
	// Nor can B refer to A's officer.
	createLibraryTree(t, b)
	err = b.CreateChild(ctx, pg.Sites, "central-library", "main",
		&registryv1.Site{Manager: "tenants/iksan/units/central-library/officers/kim"}, pg.Idem{})
	requireField(t, err, "site.manager")

	// The same ids exist in both tenants, independently.
	require.NoError(t, b.CreateChild(ctx, pg.Officers, "central-library", "kim", &registryv1.Officer{DisplayName: "킴"}, pg.Idem{}))
	vb, err := b.CreateVersion(ctx, "central-library", &registryv1.PolicyVersion{Kind: registryv1.PolicyKind_POLICY_KIND_CCTV}, pg.Idem{})
	require.NoError(t, err)
	require.Equal(t, int32(1), vb.Number)
	require.Equal(t, "tenants/seongnam/units/central-library/policies/cctv/versions/1", vb.Name)
	require.NoError(t, b.DeleteChild(ctx, pg.Officers, "central-library", "kim", ""))
	officer := &registryv1.Officer{}
	require.NoError(t, a.GetChild(ctx, pg.Officers, "central-library", "kim", officer))
	require.Equal(t, "김", officer.DisplayName)
	got, err := a.GetVersion(ctx, "central-library", registryv1.PolicyKind_POLICY_KIND_CCTV, 1)
	require.NoError(t, err)
	requireProtoEqual(t, va, got)
	ua2, err := a.GetUnit(ctx, "central-library")
	require.NoError(t, err)
	requireProtoEqual(t, ua, ua2)
}

func TestPGIdempotentReplay(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := newStore(t, "iksan")
	ts := s.Tenant("iksan")
	createLibraryTree(t, ts)
	idem := pg.Idem{RequestID: "req-1", Method: "/pipa.registry.v1.RegistryService/CreateUnit", Hash: []byte("h1")}

	// Eight concurrent creates with one request_id create one unit, and all get it.
	const n = 8
	results := make([]*registryv1.Unit, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			results[i], errs[i] = ts.CreateUnit(ctx, "reading-room", "central-library",
				&registryv1.Unit{DisplayName: "열람실"}, idem)
		})
	}
	wg.Wait()
	for i := range n {
		require.NoError(t, errs[i])
		requireProtoEqual(t, results[0], results[i])
	}
	sub, err := ts.Subtree(ctx, "central-library")
	require.NoError(t, err)
	require.Equal(t, []string{"tenants/iksan/units/children-room", "tenants/iksan/units/reading-room"}, names(sub))

	// A later replay returns the stored unit even though it changed since.
	upd := proto.Clone(results[0]).(*registryv1.Unit)
	upd.Phone = "063-000-0000"
	upd, err = ts.UpdateUnit(ctx, upd, "")
	require.NoError(t, err)
	replay, err := ts.CreateUnit(ctx, "reading-room", "central-library", &registryv1.Unit{DisplayName: "열람실"}, idem)
	require.NoError(t, err)
	requireProtoEqual(t, upd, replay)

	// The same request_id with another request is refused and creates nothing.
	other := idem
	other.Hash = []byte("h2")
	_, err = ts.CreateUnit(ctx, "other-room", "", &registryv1.Unit{}, other)
	requireField(t, err, "request_id")
	_, err = ts.GetUnit(ctx, "other-room")
	requireCode(t, err, codes.NotFound)

	// Children, versions and tenants replay too.
	childIdem := pg.Idem{RequestID: "req-2", Method: "CreateOfficer", Hash: []byte("h")}
	first := &registryv1.Officer{DisplayName: "김"}
	require.NoError(t, ts.CreateChild(ctx, pg.Officers, "central-library", "kim", first, childIdem))
	again := &registryv1.Officer{DisplayName: "김"}
	require.NoError(t, ts.CreateChild(ctx, pg.Officers, "central-library", "kim", again, childIdem))
	requireProtoEqual(t, first, again)

	versionIdem := pg.Idem{RequestID: "req-3", Method: "CreateVersion", Hash: []byte("h")}
	v1, err := ts.CreateVersion(ctx, "central-library", &registryv1.PolicyVersion{Kind: registryv1.PolicyKind_POLICY_KIND_CCTV}, versionIdem)
	require.NoError(t, err)
	v1again, err := ts.CreateVersion(ctx, "central-library", &registryv1.PolicyVersion{Kind: registryv1.PolicyKind_POLICY_KIND_CCTV}, versionIdem)
	require.NoError(t, err)
	requireProtoEqual(t, v1, v1again)
	all, err := ts.ListVersions(ctx, "central-library", registryv1.PolicyKind_POLICY_KIND_CCTV)
	require.NoError(t, err)
	require.Len(t, all, 1)

	tenantIdem := pg.Idem{RequestID: "req-1", Method: "CreateTenant", Hash: []byte("h")} // request ids are per tenant
	t1, err := s.CreateTenant(ctx, "seongnam", &registryv1.Tenant{DisplayName: "성남시"}, tenantIdem)
	require.NoError(t, err)
	t2, err := s.CreateTenant(ctx, "seongnam", &registryv1.Tenant{DisplayName: "성남시"}, tenantIdem)
	require.NoError(t, err)
	requireProtoEqual(t, t1, t2)
}

func TestPGInTx(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	ts := newStore(t, "iksan").Tenant("iksan")
	errBoom := errors.New("boom")

	err := ts.InTx(ctx, func(tx *pg.TenantStore) error {
		_, err := tx.CreateUnit(ctx, "a", "", &registryv1.Unit{DisplayName: "가"}, pg.Idem{})
		require.NoError(t, err)
		// A failed write inside the transaction does not spoil it.
		_, err = tx.CreateUnit(ctx, "a", "", &registryv1.Unit{}, pg.Idem{})
		requireCode(t, err, codes.AlreadyExists)
		_, err = tx.GetUnit(ctx, "a")
		require.NoError(t, err)
		return errBoom
	})
	require.ErrorIs(t, err, errBoom)
	_, err = ts.GetUnit(ctx, "a")
	requireCode(t, err, codes.NotFound)

	require.NoError(t, ts.InTx(ctx, func(tx *pg.TenantStore) error {
		_, err := tx.CreateUnit(ctx, "a", "", &registryv1.Unit{DisplayName: "가"}, pg.Idem{})
		return err
	}))
	_, err = ts.GetUnit(ctx, "a")
	require.NoError(t, err)
}

func TestPGContextCanceled(t *testing.T) {
	t.Parallel()
	ts := newStore(t, "iksan").Tenant("iksan")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := ts.GetUnit(ctx, "a")
	require.ErrorIs(t, err, context.Canceled)
}

// A site created while its manager is being deleted: one of the two fails, never both succeed
// (which would leave the site referring to nothing).
func TestPGDeleteInUseRace(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	ts := newStore(t, "iksan").Tenant("iksan")
	createLibraryTree(t, ts)
	for i := range 10 {
		officer := fmt.Sprintf("officer-%d", i)
		require.NoError(t, ts.CreateChild(ctx, pg.Officers, "library-office", officer, &registryv1.Officer{}, pg.Idem{}))
		var createErr, deleteErr error
		var wg sync.WaitGroup
		wg.Go(func() {
			createErr = ts.CreateChild(ctx, pg.Sites, "central-library", officer, &registryv1.Site{
				Manager: "tenants/iksan/units/library-office/officers/" + officer}, pg.Idem{})
		})
		wg.Go(func() { deleteErr = ts.DeleteChild(ctx, pg.Officers, "library-office", officer, "") })
		wg.Wait()
		if createErr == nil {
			requireCode(t, deleteErr, codes.FailedPrecondition)
		} else {
			require.NoError(t, deleteErr)
			requireField(t, createErr, "site.manager")
		}
	}
}

// A site may name an officer of its own unit or of the units above or below it, never one of a
// sibling department (PIPA-25-4 (3): the sign gives its own manager's contact).
func TestPGReferencesFollowTheTree(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	ts := newStore(t, "iksan").Tenant("iksan")
	createLibraryTree(t, ts)
	officer := &registryv1.Officer{DisplayName: "송현숙", Roles: []registryv1.OfficerRole{registryv1.OfficerRole_OFFICER_ROLE_CCTV_MANAGER}}
	require.NoError(t, ts.CreateChild(ctx, pg.Officers, "library-office", "manager", officer, pg.Idem{}))

	site := func(manager string) *registryv1.Site {
		s := sample(pg.Sites, 0).(*registryv1.Site)
		s.Manager = manager
		return s
	}
	// From a branch two levels down: allowed.
	require.NoError(t, ts.CreateChild(ctx, pg.Sites, "children-room", "a", site(officer.GetName()), pg.Idem{}))
	// From a sibling department: refused, and nothing is written.
	err := ts.CreateChild(ctx, pg.Sites, "civil-safety", "b", site(officer.GetName()), pg.Idem{})
	e := requireCode(t, err, codes.InvalidArgument)
	require.Equal(t, "site.manager", e.Violations[0].Field)
	require.Equal(t, "reference", e.Violations[0].Rule)
	err = ts.GetChild(ctx, pg.Sites, "civil-safety", "b", &registryv1.Site{})
	requireCode(t, err, codes.NotFound)
}
