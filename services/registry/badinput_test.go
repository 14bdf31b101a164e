package registry_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/pipa-kr/pipa/pkg/auth"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/pkg/stacktest"
	"github.com/pipa-kr/pipa/services/registry/registrytest"
)

// These tests need PostgreSQL (DATABASE_URL) and run a whole pipa: every bad input of the registry
// is refused with its gRPC code, the field and the rule (the BadRequest violation's reason is the
// LAW.md rule id or a generic rule), and the database is byte-for-byte unchanged afterwards.

// refusal is one bad call and how it must be refused.
type refusal struct {
	name string
	call func() error
	code codes.Code
	// field and rule are the expected field violation; empty when the error carries none.
	field, rule string
	// n is the number of field violations expected when field is set (1 if 0); field and rule are
	// the first one's.
	n int
	// info, when set, is the expected ErrorInfo reason (VERSION_FROZEN, IN_USE, ...).
	info string
}

// refuseAll runs every case as a subtest between two dumps of the registry schema, which must be
// equal: a refused request changes nothing.
func refuseAll(t *testing.T, s *stack, cases []refusal) {
	t.Helper()
	before := dump(t, s.DatabaseURL)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.call()
			require.Equal(t, c.code, status.Code(err), "%v", err)
			vs, reason := stacktest.Details(err)
			if c.field == "" {
				require.Empty(t, vs, "%v", err)
			} else {
				n := max(c.n, 1)
				require.Len(t, vs, n, "%v", err)
				require.Equal(t, c.field, vs[0].GetField(), "%v", err)
				require.Equal(t, c.rule, vs[0].GetReason(), "%v", err)
				require.NotEmpty(t, vs[0].GetDescription())
			}
			if c.info != "" {
				require.Equal(t, c.info, reason, "%v", err)
			}
		})
	}
	require.Equal(t, before, dump(t, s.DatabaseURL), "a refused request changed the database")
}

const (
	libraryUnit = "tenants/jeongeup/units/library"
	libraryCCTV = libraryUnit + "/policies/cctv"
)

func TestBadTenantInput(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("jeongeup-library.yaml")
	ctx := s.Admin()
	tenant := func(mut func(*registryv1.Tenant)) *registryv1.Tenant {
		x := &registryv1.Tenant{DisplayName: "익산시", Kind: registryv1.TenantKind_TENANT_KIND_LOCAL_GOVERNMENT}
		mut(x)
		return x
	}
	create := func(id, requestID string, x *registryv1.Tenant) func() error {
		return func() error {
			_, err := s.Registry.CreateTenant(ctx, &registryv1.CreateTenantRequest{TenantId: id, Tenant: x, RequestId: requestID})
			return err
		}
	}
	// A request_id already used by a create that succeeded.
	_, err := s.Registry.CreateTenant(ctx, &registryv1.CreateTenantRequest{TenantId: "reused", RequestId: "req-1", Tenant: tenant(func(*registryv1.Tenant) {})})
	require.NoError(t, err)
	none := func(*registryv1.Tenant) {}

	refuseAll(t, s, []refusal{
		{name: "tenant id with capitals", call: create("Iksan", "", tenant(none)),
			code: codes.InvalidArgument, field: "tenant_id", rule: "format"},
		{name: "tenant id with underscore", call: create("iksan_city", "", tenant(none)),
			code: codes.InvalidArgument, field: "tenant_id", rule: "format"},
		{name: "tenant id empty", call: create("", "", tenant(none)),
			code: codes.InvalidArgument, field: "tenant_id", rule: "format"},
		{name: "tenant id ending in a dash", call: create("iksan-", "", tenant(none)),
			code: codes.InvalidArgument, field: "tenant_id", rule: "format"},
		{name: "missing display name", call: create("iksan", "", tenant(func(x *registryv1.Tenant) { x.DisplayName = " " })),
			code: codes.InvalidArgument, field: "tenant.display_name", rule: "required"},
		{name: "unspecified kind", call: create("iksan", "", tenant(func(x *registryv1.Tenant) { x.Kind = 0 })),
			code: codes.InvalidArgument, field: "tenant.kind", rule: "required"},
		// NOTICE-7D: the lead time is a tenant setting between 0 and 90 days.
		{name: "notice lead days 91", call: create("iksan", "", tenant(func(x *registryv1.Tenant) { x.NoticeLeadDays = 91 })),
			code: codes.InvalidArgument, field: "tenant.notice_lead_days", rule: "NOTICE-7D"},
		{name: "notice lead days negative", call: create("iksan", "", tenant(func(x *registryv1.Tenant) { x.NoticeLeadDays = -1 })),
			code: codes.InvalidArgument, field: "tenant.notice_lead_days", rule: "NOTICE-7D"},
		{name: "closure without a date", call: create("iksan", "", tenant(func(x *registryv1.Tenant) {
			x.Closures = []*registryv1.Closure{{Name: "개청기념일"}}
		})), code: codes.InvalidArgument, field: "tenant.closures[0].date", rule: "required"},
		{name: "closure listed twice", call: create("iksan", "", tenant(func(x *registryv1.Tenant) {
			x.Closures = []*registryv1.Closure{{Date: "2026-05-01", Name: "a"}, {Date: "2026-05-01", Name: "b"}}
		})), code: codes.InvalidArgument, field: "tenant.closures[1].date", rule: "unique"},
		{name: "holiday year already shipped", call: create("iksan", "", tenant(func(x *registryv1.Tenant) { x.HolidayYears = []int32{2026} })),
			code: codes.InvalidArgument, field: "tenant.holiday_years[0]", rule: "range"},
		{name: "bad phone", call: create("iksan", "", tenant(func(x *registryv1.Tenant) { x.Phone = "call us" })),
			code: codes.InvalidArgument, field: "tenant.phone", rule: "format"},
		// A name heads every page and table that lists the body: 200 characters at most.
		{name: "display name of 201 characters", call: create("iksan", "", tenant(func(x *registryv1.Tenant) { x.DisplayName = strings.Repeat("가", 201) })),
			code: codes.InvalidArgument, field: "tenant.display_name", rule: "range"},
		{name: "huge address", call: create("iksan", "", tenant(func(x *registryv1.Tenant) { x.Address = strings.Repeat("a", 20001) })),
			code: codes.InvalidArgument, field: "tenant.address", rule: "range"},
		{name: "duplicate id", call: create("jeongeup", "", tenant(none)),
			code: codes.AlreadyExists, info: "ALREADY_EXISTS"},
		// AIP-155: a request_id names one request; reused with another body it is refused.
		{name: "request id reused with another body", call: create("other", "req-1", tenant(none)),
			code: codes.InvalidArgument, field: "request_id", rule: "AIP-155"},
		{name: "request id too long", call: create("iksan", strings.Repeat("r", 129), tenant(none)),
			code: codes.InvalidArgument, field: "request_id", rule: "range"},
		{name: "update with unknown mask path", call: func() error {
			_, err := s.Registry.UpdateTenant(ctx, &registryv1.UpdateTenantRequest{Tenant: &registryv1.Tenant{Name: "tenants/jeongeup"},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"colour"}}})
			return err
		}, code: codes.InvalidArgument, field: "update_mask.paths[0]", rule: "enum"},
		{name: "update clearing kind", call: func() error {
			_, err := s.Registry.UpdateTenant(ctx, &registryv1.UpdateTenantRequest{Tenant: &registryv1.Tenant{Name: "tenants/jeongeup"},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"kind"}}})
			return err
		}, code: codes.InvalidArgument, field: "tenant.kind", rule: "required"},
		{name: "update with stale etag", call: func() error {
			_, err := s.Registry.UpdateTenant(ctx, &registryv1.UpdateTenantRequest{Tenant: &registryv1.Tenant{Name: "tenants/jeongeup", Phone: "063-539-5114", Etag: `"stale"`},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"phone"}}})
			return err
		}, code: codes.Aborted, info: "ETAG_MISMATCH"},
		{name: "get with a malformed name", call: func() error {
			_, err := s.Registry.GetTenant(ctx, &registryv1.GetTenantRequest{Name: "tenant/jeongeup"})
			return err
		}, code: codes.InvalidArgument, field: "name", rule: "format"},
	})
}

func TestBadUnitInput(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("jeongeup-library.yaml")
	s.Load("seoul-immigration.yaml")
	ctx := s.Admin()
	create := func(id string, u *registryv1.Unit) func() error {
		return func() error {
			_, err := s.Registry.CreateUnit(ctx, &registryv1.CreateUnitRequest{Parent: "tenants/jeongeup", UnitId: id, Unit: u})
			return err
		}
	}
	update := func(u *registryv1.Unit, paths ...string) func() error {
		return func() error {
			_, err := s.Registry.UpdateUnit(ctx, &registryv1.UpdateUnitRequest{Unit: u, UpdateMask: &fieldmaskpb.FieldMask{Paths: paths}})
			return err
		}
	}

	refuseAll(t, s, []refusal{
		{name: "bad unit id", call: create("Library 2", &registryv1.Unit{DisplayName: "분관"}),
			code: codes.InvalidArgument, field: "unit_id", rule: "format"},
		{name: "missing display name", call: create("branch", &registryv1.Unit{}),
			code: codes.InvalidArgument, field: "unit.display_name", rule: "required"},
		{name: "parent in another tenant", call: create("branch", &registryv1.Unit{DisplayName: "분관", Parent: "tenants/seoul-immigration/units/office"}),
			code: codes.InvalidArgument, field: "unit.parent", rule: "tenancy"},
		{name: "parent that does not exist", call: create("branch", &registryv1.Unit{DisplayName: "분관", Parent: "tenants/jeongeup/units/nope"}),
			code: codes.InvalidArgument, field: "unit.parent", rule: "exists"},
		{name: "parent not a unit name", call: create("branch", &registryv1.Unit{DisplayName: "분관", Parent: "units/library"}),
			code: codes.InvalidArgument, field: "unit.parent", rule: "format"},
		{name: "duplicate id", call: create("library", &registryv1.Unit{DisplayName: "정읍시립도서관"}),
			code: codes.AlreadyExists, info: "ALREADY_EXISTS"},
		{name: "bad phone", call: create("branch", &registryv1.Unit{DisplayName: "분관", Phone: "063"}),
			code: codes.InvalidArgument, field: "unit.phone", rule: "format"},
		{name: "display name of 201 characters", call: create("branch", &registryv1.Unit{DisplayName: strings.Repeat("가", 201)}),
			code: codes.InvalidArgument, field: "unit.display_name", rule: "range"},
		{name: "update with a display name of 30,000 characters", call: update(&registryv1.Unit{Name: libraryUnit, DisplayName: strings.Repeat("가", 30000)}, "display_name"),
			code: codes.InvalidArgument, field: "unit.display_name", rule: "range"},
		{name: "tenant that does not exist", call: func() error {
			_, err := s.Registry.CreateUnit(ctx, &registryv1.CreateUnitRequest{Parent: "tenants/nowhere", UnitId: "x", Unit: &registryv1.Unit{DisplayName: "x"}})
			return err
		}, code: codes.NotFound},
		{name: "update with unknown mask path", call: update(&registryv1.Unit{Name: libraryUnit, DisplayName: "x"}, "colour"),
			code: codes.InvalidArgument, field: "update_mask.paths[0]", rule: "enum"},
		{name: "update with output-only mask path", call: update(&registryv1.Unit{Name: libraryUnit}, "display_name", "update_time"),
			code: codes.InvalidArgument, field: "update_mask.paths[1]", rule: "enum"},
		// The tree is fixed at creation and the full name derived: a mask naming either was
		// answered 200 with nothing changed.
		{name: "update of the parent", call: update(&registryv1.Unit{Name: libraryUnit, Parent: "tenants/jeongeup/units/nope"}, "parent"),
			code: codes.InvalidArgument, field: "update_mask.paths[0]", rule: "enum"},
		{name: "update of the full name", call: update(&registryv1.Unit{Name: libraryUnit, FullName: "가짜 도서관"}, "full_name"),
			code: codes.InvalidArgument, field: "update_mask.paths[0]", rule: "enum"},
		{name: "update with bad phone", call: update(&registryv1.Unit{Name: libraryUnit, Phone: "전화"}, "phone"),
			code: codes.InvalidArgument, field: "unit.phone", rule: "format"},
		{name: "update clearing the display name", call: update(&registryv1.Unit{Name: libraryUnit}, "display_name"),
			code: codes.InvalidArgument, field: "unit.display_name", rule: "required"},
		{name: "update with stale etag", call: update(&registryv1.Unit{Name: libraryUnit, DisplayName: "x", Etag: `"stale"`}, "display_name"),
			code: codes.Aborted, info: "ETAG_MISMATCH"},
		{name: "update of a unit that does not exist", call: update(&registryv1.Unit{Name: "tenants/jeongeup/units/nope", DisplayName: "x"}, "display_name"),
			code: codes.NotFound, info: "NOT_FOUND"},
	})
}

func TestBadOfficerInput(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("jeongeup-library.yaml")
	ctx := s.Admin()
	officer := func(mut func(*registryv1.Officer)) *registryv1.Officer {
		o := &registryv1.Officer{DisplayName: "김민수", Title: "주무관", Affiliation: "도서관사업소", Phone: "063-539-6400",
			Email: "kim@jeongeup.go.kr", Roles: []registryv1.OfficerRole{registryv1.OfficerRole_OFFICER_ROLE_ACCESS_AUTHORIZED}}
		mut(o)
		return o
	}
	create := func(mut func(*registryv1.Officer)) func() error {
		return func() error {
			_, err := s.Registry.CreateOfficer(ctx, &registryv1.CreateOfficerRequest{Parent: libraryUnit, OfficerId: "kim", Officer: officer(mut)})
			return err
		}
	}
	// The base officer is valid: each case below breaks one thing only.
	_, err := s.Registry.CreateOfficer(ctx, &registryv1.CreateOfficerRequest{Parent: libraryUnit, OfficerId: "base", Officer: officer(func(*registryv1.Officer) {})})
	require.NoError(t, err)
	free, err := s.Registry.GetOfficer(ctx, &registryv1.GetOfficerRequest{Name: libraryUnit + "/officers/so-younghyu"})
	require.NoError(t, err)
	const cpo, mgr = registryv1.OfficerRole_OFFICER_ROLE_CPO, registryv1.OfficerRole_OFFICER_ROLE_CCTV_MANAGER

	refuseAll(t, s, []refusal{
		// Seeds publish a person, a post or a department: at least one of the three.
		{name: "no name, title or affiliation", call: create(func(o *registryv1.Officer) { o.DisplayName, o.Title, o.Affiliation = "", " ", "" }),
			code: codes.InvalidArgument, field: "officer.display_name", rule: "required"},
		{name: "no role", call: create(func(o *registryv1.Officer) { o.Roles = nil }),
			code: codes.InvalidArgument, field: "officer.roles", rule: "required"},
		{name: "unknown role value", call: create(func(o *registryv1.Officer) { o.Roles = []registryv1.OfficerRole{cpo, 99} }),
			code: codes.InvalidArgument, field: "officer.roles[1]", rule: "enum"},
		{name: "unspecified role", call: create(func(o *registryv1.Officer) { o.Roles = []registryv1.OfficerRole{0} }),
			code: codes.InvalidArgument, field: "officer.roles[0]", rule: "enum"},
		{name: "duplicated role", call: create(func(o *registryv1.Officer) { o.Roles = []registryv1.OfficerRole{mgr, cpo, mgr} }),
			code: codes.InvalidArgument, field: "officer.roles[2]", rule: "unique"},
		{name: "bad phone", call: create(func(o *registryv1.Officer) { o.Phone = "내선 123" }),
			code: codes.InvalidArgument, field: "officer.phone", rule: "format"},
		{name: "display name of 201 characters", call: create(func(o *registryv1.Officer) { o.DisplayName = strings.Repeat("가", 201) }),
			code: codes.InvalidArgument, field: "officer.display_name", rule: "range"},
		{name: "huge title", call: create(func(o *registryv1.Officer) { o.Title = strings.Repeat("a", 20001) }),
			code: codes.InvalidArgument, field: "officer.title", rule: "range"},
		{name: "bad email", call: create(func(o *registryv1.Officer) { o.Email = "kim at jeongeup.go.kr" }),
			code: codes.InvalidArgument, field: "officer.email", rule: "format"},
		{name: "email with two @", call: create(func(o *registryv1.Officer) { o.Email = "kim@@jeongeup.go.kr" }),
			code: codes.InvalidArgument, field: "officer.email", rule: "format"},
		{name: "bad officer id", call: func() error {
			_, err := s.Registry.CreateOfficer(ctx, &registryv1.CreateOfficerRequest{Parent: libraryUnit, OfficerId: "1kim", Officer: officer(func(*registryv1.Officer) {})})
			return err
		}, code: codes.InvalidArgument, field: "officer_id", rule: "format"},
		{name: "duplicate id", call: func() error {
			_, err := s.Registry.CreateOfficer(ctx, &registryv1.CreateOfficerRequest{Parent: libraryUnit, OfficerId: "song-hyunsook", Officer: officer(func(*registryv1.Officer) {})})
			return err
		}, code: codes.AlreadyExists},
		{name: "unit that does not exist", call: func() error {
			_, err := s.Registry.CreateOfficer(ctx, &registryv1.CreateOfficerRequest{Parent: "tenants/jeongeup/units/nope", OfficerId: "kim", Officer: officer(func(*registryv1.Officer) {})})
			return err
		}, code: codes.NotFound},
		// Server-set fields cannot be updated (AIP-134).
		{name: "update with name in the mask", call: func() error {
			_, err := s.Registry.UpdateOfficer(ctx, &registryv1.UpdateOfficerRequest{Officer: &registryv1.Officer{Name: free.GetName(), DisplayName: "x"},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"name"}}})
			return err
		}, code: codes.InvalidArgument, field: "update_mask.paths[0]", rule: "enum"},
		{name: "update with create_time in the mask", call: func() error {
			_, err := s.Registry.UpdateOfficer(ctx, &registryv1.UpdateOfficerRequest{Officer: &registryv1.Officer{Name: free.GetName(), Phone: "063-539-6400"},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"phone", "createTime"}}})
			return err
		}, code: codes.InvalidArgument, field: "update_mask.paths[1]", rule: "enum"},
		{name: "update clearing the roles", call: func() error {
			_, err := s.Registry.UpdateOfficer(ctx, &registryv1.UpdateOfficerRequest{Officer: &registryv1.Officer{Name: free.GetName()},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"roles"}}})
			return err
		}, code: codes.InvalidArgument, field: "officer.roles", rule: "required"},
		{name: "update with stale etag", call: func() error {
			_, err := s.Registry.UpdateOfficer(ctx, &registryv1.UpdateOfficerRequest{Officer: &registryv1.Officer{Name: free.GetName(), Phone: "063-539-6400", Etag: `"stale"`},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"phone"}}})
			return err
		}, code: codes.Aborted, info: "ETAG_MISMATCH"},
		// AIP-154: a delete conditioned on an old etag does not happen.
		{name: "delete with stale etag", call: func() error {
			_, err := s.Registry.DeleteOfficer(ctx, &registryv1.DeleteOfficerRequest{Name: free.GetName(), Etag: free.GetEtag() + "x"})
			return err
		}, code: codes.Aborted, info: "ETAG_MISMATCH"},
		// PIPA-25-4: the sign of every site names its manager, who cannot disappear under it.
		{name: "delete an officer a site names", call: func() error {
			_, err := s.Registry.DeleteOfficer(ctx, &registryv1.DeleteOfficerRequest{Name: libraryUnit + "/officers/song-hyunsook"})
			return err
		}, code: codes.FailedPrecondition, info: "IN_USE"},
		{name: "delete an officer that does not exist", call: func() error {
			_, err := s.Registry.DeleteOfficer(ctx, &registryv1.DeleteOfficerRequest{Name: libraryUnit + "/officers/nobody"})
			return err
		}, code: codes.NotFound},
		{name: "delete by a site's name", call: func() error {
			_, err := s.Registry.DeleteOfficer(ctx, &registryv1.DeleteOfficerRequest{Name: libraryUnit + "/sites/central"})
			return err
		}, code: codes.InvalidArgument, field: "name", rule: "format"},
	})
}

func TestBadSiteInput(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("jeongeup-library.yaml")
	s.Load("seoul-immigration.yaml")
	ctx := s.Admin()
	// A processor of the unit, to be named where an officer is expected.
	acme, err := s.Registry.CreateProcessor(ctx, &registryv1.CreateProcessorRequest{Parent: libraryUnit, ProcessorId: "acme",
		Processor: &registryv1.Processor{Company: "에이스보안", Work: "CCTV 유지보수", Phone: "063-000-0000"}})
	require.NoError(t, err)
	site := func(mut func(*registryv1.Site)) *registryv1.Site {
		x := &registryv1.Site{DisplayName: "주차장", CameraCount: 4, RecordingHours: "24시간", RetentionDays: 30, StoragePlace: "전산실",
			Manager:  libraryUnit + "/officers/song-hyunsook",
			Purposes: []*registryv1.SitePurpose{{Description: "범죄 예방", Ground: registryv1.CctvGround_CCTV_GROUND_CRIME_PREVENTION}}}
		mut(x)
		return x
	}
	create := func(mut func(*registryv1.Site)) func() error {
		return func() error {
			_, err := s.Registry.CreateSite(ctx, &registryv1.CreateSiteRequest{Parent: libraryUnit, SiteId: "parking", Site: site(mut)})
			return err
		}
	}
	split := func(pub, non int32) func(*registryv1.Site) {
		return func(x *registryv1.Site) { x.PublicCameraCount, x.NonpublicCameraCount = &pub, &non }
	}
	// The base site is valid: each case below breaks one thing only.
	_, err = s.Registry.CreateSite(ctx, &registryv1.CreateSiteRequest{Parent: libraryUnit, SiteId: "base", Site: site(func(*registryv1.Site) {})})
	require.NoError(t, err)

	refuseAll(t, s, []refusal{
		{name: "huge location", call: create(func(x *registryv1.Site) { x.Locations = []string{"정문", strings.Repeat("a", 20001)} }),
			code: codes.InvalidArgument, field: "site.locations[1]", rule: "range"},
		{name: "huge purpose", call: create(func(x *registryv1.Site) { x.Purposes[0].Description = strings.Repeat("a", 20001) }),
			code: codes.InvalidArgument, field: "site.purposes[0].description", rule: "range"},
		// DEC-25-1 item 2: the number of cameras installed.
		{name: "camera count 0", call: create(func(x *registryv1.Site) { x.CameraCount = 0 }),
			code: codes.InvalidArgument, field: "site.camera_count", rule: "DEC-25-1"},
		{name: "split does not add up", call: create(split(3, 2)),
			code: codes.InvalidArgument, field: "site.camera_count", rule: "consistency"},
		{name: "negative split", call: create(split(-1, 5)),
			code: codes.InvalidArgument, field: "site.public_camera_count", rule: "range"},
		// PIPA-25-1: installed only for the grounds the Act lists.
		{name: "no purposes", call: create(func(x *registryv1.Site) { x.Purposes = nil }),
			code: codes.InvalidArgument, field: "site.purposes", rule: "PIPA-25-1"},
		{name: "purpose without description", call: create(func(x *registryv1.Site) { x.Purposes[0].Description = "" }),
			code: codes.InvalidArgument, field: "site.purposes[0].description", rule: "required"},
		{name: "ground unspecified", call: create(func(x *registryv1.Site) {
			x.Purposes = append(x.Purposes, &registryv1.SitePurpose{Description: "시설 안전"})
		}), code: codes.InvalidArgument, field: "site.purposes[1].ground", rule: "PIPA-25-1"},
		{name: "ground out of range", call: create(func(x *registryv1.Site) { x.Purposes[0].Ground = 42 }),
			code: codes.InvalidArgument, field: "site.purposes[0].ground", rule: "PIPA-25-1"},
		// DEC-25-1 item 4: the retention period.
		{name: "retention 0", call: create(func(x *registryv1.Site) { x.RetentionDays = 0 }),
			code: codes.InvalidArgument, field: "site.retention_days", rule: "DEC-25-1"},
		{name: "retention over 3650 days", call: create(func(x *registryv1.Site) { x.RetentionDays, x.RetentionReason = 3651, "소송 대비" }),
			code: codes.InvalidArgument, field: "site.retention_days", rule: "range"},
		// STD-41-2: more than 30 days needs a stated reason; 30 (the base site) does not.
		{name: "retention 31 without reason", call: create(func(x *registryv1.Site) { x.RetentionDays = 31 }),
			code: codes.InvalidArgument, field: "site.retention_reason", rule: "STD-41-2"},
		{name: "zone retention over 30 without reason", call: create(func(x *registryv1.Site) {
			x.ZoneRetentions = []*registryv1.ZoneRetention{{Zone: "출입구", RetentionDays: 60}}
		}), code: codes.InvalidArgument, field: "site.zone_retentions[0].reason", rule: "STD-41-2"},
		{name: "zone without name", call: create(func(x *registryv1.Site) {
			x.ZoneRetentions = []*registryv1.ZoneRetention{{RetentionDays: 10}}
		}), code: codes.InvalidArgument, field: "site.zone_retentions[0].zone", rule: "required"},
		// PIPA-25-5: no audio.
		{name: "audio", call: create(func(x *registryv1.Site) { x.RecordsAudio = true }),
			code: codes.InvalidArgument, field: "site.records_audio", rule: "PIPA-25-5"},
		// PIPA-25-2: not inside toilets, baths, changing rooms, save the Decree 22(2) exception.
		{name: "restricted area without exception", call: create(func(x *registryv1.Site) { x.RestrictedArea = true }),
			code: codes.InvalidArgument, field: "site.restricted_area", rule: "PIPA-25-2"},
		{name: "manager naming a processor", call: create(func(x *registryv1.Site) { x.Manager = acme.GetName() }),
			code: codes.InvalidArgument, field: "site.manager", rule: "reference"},
		{name: "manager in another tenant", call: create(func(x *registryv1.Site) {
			x.Manager = "tenants/seoul-immigration/units/office/officers/cpo"
		}), code: codes.InvalidArgument, field: "site.manager", rule: "reference"},
		{name: "manager that does not exist", call: create(func(x *registryv1.Site) { x.Manager = libraryUnit + "/officers/nobody" }),
			code: codes.InvalidArgument, field: "site.manager", rule: "reference"},
		{name: "processor that does not exist", call: create(func(x *registryv1.Site) { x.Processor = libraryUnit + "/processors/ghost" }),
			code: codes.InvalidArgument, field: "site.processor", rule: "reference"},
		{name: "processor naming an officer", call: create(func(x *registryv1.Site) { x.Processor = libraryUnit + "/officers/song-seunghak" }),
			code: codes.InvalidArgument, field: "site.processor", rule: "reference"},
		{name: "bad site id", call: func() error {
			_, err := s.Registry.CreateSite(ctx, &registryv1.CreateSiteRequest{Parent: libraryUnit, SiteId: "주차장", Site: site(func(*registryv1.Site) {})})
			return err
		}, code: codes.InvalidArgument, field: "site_id", rule: "format"},
		{name: "duplicate id", call: func() error {
			_, err := s.Registry.CreateSite(ctx, &registryv1.CreateSiteRequest{Parent: libraryUnit, SiteId: "central", Site: site(func(*registryv1.Site) {})})
			return err
		}, code: codes.AlreadyExists},
		{name: "update turning on audio", call: func() error {
			_, err := s.Registry.UpdateSite(ctx, &registryv1.UpdateSiteRequest{Site: &registryv1.Site{Name: libraryUnit + "/sites/central", RecordsAudio: true},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"records_audio"}}})
			return err
		}, code: codes.InvalidArgument, field: "site.records_audio", rule: "PIPA-25-5"},
		{name: "update to 45 days without reason", call: func() error {
			_, err := s.Registry.UpdateSite(ctx, &registryv1.UpdateSiteRequest{Site: &registryv1.Site{Name: libraryUnit + "/sites/central", RetentionDays: 45},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"retentionDays"}}})
			return err
		}, code: codes.InvalidArgument, field: "site.retention_reason", rule: "STD-41-2"},
		{name: "update to a manager of another tenant", call: func() error {
			_, err := s.Registry.UpdateSite(ctx, &registryv1.UpdateSiteRequest{Site: &registryv1.Site{Name: libraryUnit + "/sites/central",
				Manager: "tenants/seoul-immigration/units/office/officers/cpo"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"manager"}}})
			return err
		}, code: codes.InvalidArgument, field: "site.manager", rule: "reference"},
		{name: "delete with stale etag", call: func() error {
			_, err := s.Registry.DeleteSite(ctx, &registryv1.DeleteSiteRequest{Name: libraryUnit + "/sites/smart", Etag: `"stale"`})
			return err
		}, code: codes.Aborted, info: "ETAG_MISMATCH"},
	})
}

func TestBadFileInput(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("jeongeup-library.yaml")
	ctx := s.Admin()
	file := func(mut func(*registryv1.PersonalInformationFile)) *registryv1.PersonalInformationFile {
		f := &registryv1.PersonalInformationFile{DisplayName: "도서관 회원", Purpose: "도서 대출 및 반납", Retention: "회원 탈퇴 시까지",
			RequiredItems: []string{"성명", "전화번호"}, SubjectCount: 12000,
			Recipients: []*registryv1.Recipient{{Recipient: "정읍시청", Purpose: "통계"}}}
		mut(f)
		return f
	}
	create := func(mut func(*registryv1.PersonalInformationFile)) func() error {
		return func() error {
			_, err := s.Registry.CreateFile(ctx, &registryv1.CreateFileRequest{Parent: libraryUnit, FileId: "members", File: file(mut)})
			return err
		}
	}
	_, err := s.Registry.CreateFile(ctx, &registryv1.CreateFileRequest{Parent: libraryUnit, FileId: "visitors", File: file(func(*registryv1.PersonalInformationFile) {})})
	require.NoError(t, err)
	visitors := libraryUnit + "/files/visitors"

	refuseAll(t, s, []refusal{
		// Whether a file is registered is derived from its registrations (PIPA-32-1), not set.
		{name: "update of a derived field", call: func() error {
			_, err := s.Registry.UpdateFile(ctx, &registryv1.UpdateFileRequest{File: &registryv1.PersonalInformationFile{
				Name: libraryUnit + "/files/visitors", Registered: true}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"registered"}}})
			return err
		}, code: codes.InvalidArgument, field: "update_mask.paths[0]", rule: "enum"},
		{name: "huge required item", call: create(func(f *registryv1.PersonalInformationFile) {
			f.RequiredItems = []string{"성명", strings.Repeat("a", 20001)}
		}),
			code: codes.InvalidArgument, field: "file.required_items[1]", rule: "range"},
		{name: "huge recipient", call: create(func(f *registryv1.PersonalInformationFile) { f.Recipients[0].Recipient = strings.Repeat("a", 20001) }),
			code: codes.InvalidArgument, field: "file.recipients[0].recipient", rule: "range"},
		{name: "missing display name", call: create(func(f *registryv1.PersonalInformationFile) { f.DisplayName = "" }),
			code: codes.InvalidArgument, field: "file.display_name", rule: "required"},
		{name: "missing purpose", call: create(func(f *registryv1.PersonalInformationFile) { f.Purpose = "" }),
			code: codes.InvalidArgument, field: "file.purpose", rule: "required"},
		{name: "missing retention", call: create(func(f *registryv1.PersonalInformationFile) { f.Retention = "\t" }),
			code: codes.InvalidArgument, field: "file.retention", rule: "required"},
		{name: "negative subject count", call: create(func(f *registryv1.PersonalInformationFile) { f.SubjectCount = -1 }),
			code: codes.InvalidArgument, field: "file.subject_count", rule: "range"},
		{name: "a system named with spaces around it (S-8-1)", call: create(func(f *registryv1.PersonalInformationFile) { f.Systems = []string{" 새올행정시스템"} }),
			code: codes.InvalidArgument, field: "file.systems[0]", rule: "S-8-1"},
		{name: "a system listed twice", call: create(func(f *registryv1.PersonalInformationFile) { f.Systems = []string{"새올", "새올"} }),
			code: codes.InvalidArgument, field: "file.systems[1]", rule: "unique"},
		{name: "recipient without purpose", call: create(func(f *registryv1.PersonalInformationFile) {
			f.Recipients = append(f.Recipients, &registryv1.Recipient{Recipient: "경찰서"})
		}), code: codes.InvalidArgument, field: "file.recipients[1].purpose", rule: "required"},
		{name: "recipient without recipient", call: create(func(f *registryv1.PersonalInformationFile) { f.Recipients[0].Recipient = "" }),
			code: codes.InvalidArgument, field: "file.recipients[0].recipient", rule: "required"},
		{name: "processor that does not exist", call: create(func(f *registryv1.PersonalInformationFile) {
			f.Processors = []string{libraryUnit + "/processors/ghost"}
		}), code: codes.InvalidArgument, field: "file.processors[0]", rule: "reference"},
		{name: "duplicate id", call: func() error {
			_, err := s.Registry.CreateFile(ctx, &registryv1.CreateFileRequest{Parent: libraryUnit, FileId: "visitors", File: file(func(*registryv1.PersonalInformationFile) {})})
			return err
		}, code: codes.AlreadyExists},
		{name: "update clearing the purpose", call: func() error {
			_, err := s.Registry.UpdateFile(ctx, &registryv1.UpdateFileRequest{File: &registryv1.PersonalInformationFile{Name: visitors},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"purpose"}}})
			return err
		}, code: codes.InvalidArgument, field: "file.purpose", rule: "required"},
		{name: "update with unknown mask path", call: func() error {
			_, err := s.Registry.UpdateFile(ctx, &registryv1.UpdateFileRequest{File: &registryv1.PersonalInformationFile{Name: visitors},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"retention", "owner"}}})
			return err
		}, code: codes.InvalidArgument, field: "update_mask.paths[1]", rule: "enum"},
	})
}

func TestBadProcessorInput(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("jeongeup-library.yaml")
	ctx := s.Admin()
	create := func(mut func(*registryv1.Processor)) func() error {
		return func() error {
			p := &registryv1.Processor{Company: "에이스보안", Work: "CCTV 유지보수", Phone: "063-000-0000",
				ContractStart: "2024-01-01", ContractEnd: "2024-12-31"}
			mut(p)
			_, err := s.Registry.CreateProcessor(ctx, &registryv1.CreateProcessorRequest{Parent: libraryUnit, ProcessorId: "acme", Processor: p})
			return err
		}
	}
	// The base processor is valid, and a contract of one day is too (start = end).
	_, err := s.Registry.CreateProcessor(ctx, &registryv1.CreateProcessorRequest{Parent: libraryUnit, ProcessorId: "base",
		Processor: &registryv1.Processor{Company: "에이스보안", Work: "CCTV 유지보수", ContractStart: "2024-01-01", ContractEnd: "2024-01-01"}})
	require.NoError(t, err)

	refuseAll(t, s, []refusal{
		{name: "missing company", call: create(func(p *registryv1.Processor) { p.Company = "" }),
			code: codes.InvalidArgument, field: "processor.company", rule: "required"},
		{name: "missing work", call: create(func(p *registryv1.Processor) { p.Work = "" }),
			code: codes.InvalidArgument, field: "processor.work", rule: "required"},
		{name: "huge work", call: create(func(p *registryv1.Processor) { p.Work = strings.Repeat("a", 20001) }),
			code: codes.InvalidArgument, field: "processor.work", rule: "range"},
		{name: "contract end before start", call: create(func(p *registryv1.Processor) { p.ContractEnd = "2023-12-31" }),
			code: codes.InvalidArgument, field: "processor.contract_end", rule: "range"},
		{name: "malformed start", call: create(func(p *registryv1.Processor) { p.ContractStart = "2024-1-1" }),
			code: codes.InvalidArgument, field: "processor.contract_start", rule: "format"},
		{name: "start not a day", call: create(func(p *registryv1.Processor) { p.ContractStart = "2024-02-30" }),
			code: codes.InvalidArgument, field: "processor.contract_start", rule: "format"},
		{name: "malformed end", call: create(func(p *registryv1.Processor) { p.ContractEnd = "2024/12/31" }),
			code: codes.InvalidArgument, field: "processor.contract_end", rule: "format"},
		{name: "bad phone", call: create(func(p *registryv1.Processor) { p.Phone = "x" }),
			code: codes.InvalidArgument, field: "processor.phone", rule: "format"},
		{name: "bad email", call: create(func(p *registryv1.Processor) { p.Email = "<ace@example.com>" }),
			code: codes.InvalidArgument, field: "processor.email", rule: "format"},
	})
}

func TestBadPolicyInput(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("jeongeup-library.yaml")
	ctx := s.Admin()

	// Setup, before the dump. The libraryUnit's libraryCCTV policy: 1 imported (period only), 2 in
	// force (seed), 3 announced to take effect in 7 days, 4 a complete draft (the text in force), 5 a
	// draft of one article.
	v2, err := s.Registry.GetPolicyVersion(ctx, &registryv1.GetPolicyVersionRequest{Name: libraryCCTV + "/versions/2"})
	require.NoError(t, err)
	draft := func(parent string) *registryv1.PolicyVersion {
		d, err := s.Registry.CreatePolicyVersion(ctx, &registryv1.CreatePolicyVersionRequest{Parent: parent})
		require.NoError(t, err)
		return d
	}
	v3 := draft(libraryCCTV)
	_, err = s.Registry.AnnouncePolicyVersion(ctx, &registryv1.AnnouncePolicyVersionRequest{Name: v3.GetName(), EffectiveDate: registrytest.InDays(7)})
	require.NoError(t, err)
	v4 := draft(libraryCCTV)
	require.Equal(t, libraryCCTV+"/versions/4", v4.GetName())
	v5, err := s.Registry.CreatePolicyVersion(ctx, &registryv1.CreatePolicyVersionRequest{Parent: libraryCCTV,
		PolicyVersion: &registryv1.PolicyVersion{Articles: []*registryv1.Article{{Heading: "제1조(목적)", Body: "시설 안전"}}}})
	require.NoError(t, err)
	chk, err := s.Registry.CheckPolicyVersion(ctx, &registryv1.CheckPolicyVersionRequest{Name: v5.GetName()})
	require.NoError(t, err)
	require.False(t, chk.GetReady())
	var blocking []*registryv1.Finding
	for _, f := range chk.GetFindings() {
		if f.GetBlocking() {
			blocking = append(blocking, f)
		}
	}
	require.Equal(t, "articles[installation]", blocking[0].GetField(), "%v", blocking)
	// A museum with a complete registry and no version yet.
	_, err = s.Registry.CreateUnit(ctx, &registryv1.CreateUnitRequest{Parent: "tenants/jeongeup", UnitId: "museum", Unit: &registryv1.Unit{DisplayName: "정읍시립박물관"}})
	require.NoError(t, err)
	museum := "tenants/jeongeup/units/museum"
	_, err = s.Registry.CreateOfficer(ctx, &registryv1.CreateOfficerRequest{Parent: museum, OfficerId: "kim", Officer: &registryv1.Officer{
		DisplayName: "김관장", Phone: "063-539-6000", Roles: []registryv1.OfficerRole{
			registryv1.OfficerRole_OFFICER_ROLE_CCTV_MANAGER, registryv1.OfficerRole_OFFICER_ROLE_ACCESS_AUTHORIZED}}})
	require.NoError(t, err)
	_, err = s.Registry.CreateSite(ctx, &registryv1.CreateSiteRequest{Parent: museum, SiteId: "hall", Site: &registryv1.Site{
		DisplayName: "전시실", CameraCount: 6, RecordingHours: "24시간", RetentionDays: 30, StoragePlace: "관리실", Manager: museum + "/officers/kim",
		Purposes: []*registryv1.SitePurpose{{Description: "시설 안전", Ground: registryv1.CctvGround_CCTV_GROUND_FACILITY_SAFETY}}}})
	require.NoError(t, err)
	first := writeOutline(t, s, ctx, draft(museum+"/policies/cctv"))
	chk, err = s.Registry.CheckPolicyVersion(ctx, &registryv1.CheckPolicyVersionRequest{Name: first.GetName()})
	require.NoError(t, err)
	require.True(t, chk.GetReady(), "%v", chk.GetFindings())
	// A page token of another list.
	officers, err := s.Registry.ListOfficers(ctx, &registryv1.ListOfficersRequest{Parent: libraryUnit, PageSize: 1})
	require.NoError(t, err)
	require.NotEmpty(t, officers.GetNextPageToken())

	announce := func(r *registryv1.AnnouncePolicyVersionRequest) func() error {
		return func() error {
			if r.Name == "" {
				r.Name = v4.GetName()
			}
			_, err := s.Registry.AnnouncePolicyVersion(ctx, r)
			return err
		}
	}
	imp := func(v *registryv1.PolicyVersion) func() error {
		return func() error {
			_, err := s.Registry.ImportPolicyVersion(ctx, &registryv1.ImportPolicyVersionRequest{Parent: libraryCCTV, PolicyVersion: v})
			return err
		}
	}
	articles := func(headings ...string) *registryv1.PolicyVersion {
		v := &registryv1.PolicyVersion{}
		for _, h := range headings {
			v.Articles = append(v.Articles, &registryv1.Article{Heading: h, Body: "본문"})
		}
		return v
	}
	importText := func(text string) func() error {
		return func() error {
			_, err := s.Registry.ImportPolicyVersion(ctx, &registryv1.ImportPolicyVersionRequest{Parent: libraryCCTV,
				PolicyVersion: &registryv1.PolicyVersion{EffectiveDate: "2019-01-01", EndDate: "2019-12-31"},
				Source:        &registryv1.PolicySource{Format: registryv1.PolicySourceFormat_POLICY_SOURCE_FORMAT_TEXT, Content: text}})
			return err
		}
	}

	refuseAll(t, s, []refusal{
		{name: "create under an unknown kind", call: func() error {
			_, err := s.Registry.CreatePolicyVersion(ctx, &registryv1.CreatePolicyVersionRequest{Parent: libraryUnit + "/policies/cookies"})
			return err
		}, code: codes.InvalidArgument, field: "parent", rule: "format"},
		// DEC-25-1 is the catalogue of a CCTV policy; WG26-ITEMS items do not belong to it.
		{name: "create with an item of the other policy", call: func() error {
			v := articles("제1조(목적)", "제2조(아동)")
			v.Articles[1].Items = []string{"children"}
			_, err := s.Registry.CreatePolicyVersion(ctx, &registryv1.CreatePolicyVersionRequest{Parent: libraryCCTV, PolicyVersion: v})
			return err
		}, code: codes.InvalidArgument, field: "policy_version.articles[1].items[0]", rule: "enum"},
		{name: "create with an article number twice", call: func() error {
			_, err := s.Registry.CreatePolicyVersion(ctx, &registryv1.CreatePolicyVersionRequest{Parent: libraryCCTV,
				PolicyVersion: articles("제1조(목적)", "제2조(설치)", "제1조(정의)")})
			return err
		}, code: codes.InvalidArgument, field: "policy_version.articles[2].heading", rule: "unique"},
		{name: "create with a table whose rows do not line up", call: func() error {
			v := articles("제1조(설치대수)")
			v.Articles[0].Body = "| 구분 | 대수 |\n| --- | --- |\n| 본관 | 3대 | 비고 |"
			_, err := s.Registry.CreatePolicyVersion(ctx, &registryv1.CreatePolicyVersionRequest{Parent: libraryCCTV, PolicyVersion: v})
			return err
		}, code: codes.InvalidArgument, field: "policy_version.articles[0].body", rule: "format"},
		// A malformed import is refused naming the line, and nothing is stored.
		{name: "import a text without articles", call: importText("안내\n영상정보처리기기를 운영합니다."),
			code: codes.InvalidArgument, field: "source.content", rule: "format"},
		{name: "import a text numbering an article twice", call: importText("방침\n제1조(목적)\n목적\n제1조(정의)\n정의"),
			code: codes.InvalidArgument, field: "source.content", rule: "format"},
		{name: "import a text with a broken table", call: importText("방침\n제1조(설치)\n구분\t대수\n본관\t3대\t비고"),
			code: codes.InvalidArgument, field: "source.content", rule: "format"},
		{name: "create for a unit that does not exist", call: func() error {
			_, err := s.Registry.CreatePolicyVersion(ctx, &registryv1.CreatePolicyVersionRequest{Parent: "tenants/jeongeup/units/nope/policies/cctv"})
			return err
		}, code: codes.NotFound},
		{name: "update a draft with an attachment among its articles", call: func() error {
			v := articles("제1조(목적)", "별표1 설치현황")
			v.Name = v4.GetName()
			_, err := s.Registry.UpdatePolicyVersion(ctx, &registryv1.UpdatePolicyVersionRequest{PolicyVersion: v, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"articles"}}})
			return err
		}, code: codes.InvalidArgument, field: "policy_version.articles[1].heading", rule: "format"},
		{name: "update a draft's state", call: func() error {
			_, err := s.Registry.UpdatePolicyVersion(ctx, &registryv1.UpdatePolicyVersionRequest{
				PolicyVersion: &registryv1.PolicyVersion{Name: v4.GetName(), State: registryv1.PolicyState_POLICY_STATE_ANNOUNCED},
				UpdateMask:    &fieldmaskpb.FieldMask{Paths: []string{"state"}}})
			return err
		}, code: codes.InvalidArgument, field: "update_mask.paths[0]", rule: "enum"},
		// An announced version is frozen: it is what was published (WG26-24).
		{name: "update an announced version", call: func() error {
			_, err := s.Registry.UpdatePolicyVersion(ctx, &registryv1.UpdatePolicyVersionRequest{
				PolicyVersion: &registryv1.PolicyVersion{Name: v3.GetName(), Title: "x"},
				UpdateMask:    &fieldmaskpb.FieldMask{Paths: []string{"title"}}})
			return err
		}, code: codes.FailedPrecondition, info: "VERSION_FROZEN"},
		{name: "announce an announced version", call: announce(&registryv1.AnnouncePolicyVersionRequest{Name: v3.GetName(), EffectiveDate: registrytest.InDays(30)}),
			code: codes.FailedPrecondition, info: "VERSION_FROZEN"},
		// DEC-25-1: an incomplete policy is not announced; the error carries :check's blocking findings.
		{name: "announce with blocking findings", call: announce(&registryv1.AnnouncePolicyVersionRequest{Name: v5.GetName(), EffectiveDate: registrytest.InDays(30)}),
			code: codes.FailedPrecondition, info: "POLICY_INCOMPLETE", n: len(blocking), field: "articles[installation]", rule: "DEC-25-1"},
		// NOTICE-7D: effective no earlier than announce + the tenant's lead days.
		// (and before version 3, which takes effect in 7 days: WG26-24 too)
		{name: "effective before the notice lead time", call: announce(&registryv1.AnnouncePolicyVersionRequest{EffectiveDate: registrytest.InDays(6)}),
			code: codes.InvalidArgument, n: 2, field: "effective_date", rule: "NOTICE-7D"},
		// STD-21: a change is published with its timing when it is announced: neither backdated nor
		// postdated.
		{name: "announce date in the past", call: announce(&registryv1.AnnouncePolicyVersionRequest{AnnounceDate: registrytest.InDays(-1), EffectiveDate: registrytest.InDays(30)}),
			code: codes.InvalidArgument, field: "announce_date", rule: "STD-21"},
		{name: "announce date in the future", call: announce(&registryv1.AnnouncePolicyVersionRequest{AnnounceDate: registrytest.InDays(5), EffectiveDate: registrytest.InDays(30)}),
			code: codes.InvalidArgument, field: "announce_date", rule: "STD-21"},
		{name: "no effective date", call: announce(&registryv1.AnnouncePolicyVersionRequest{}),
			code: codes.InvalidArgument, field: "effective_date", rule: "STD-21"},
		// WG26-24: a major change carries a comparison table with the previous version.
		{name: "major change with no previous version", call: announce(&registryv1.AnnouncePolicyVersionRequest{Name: first.GetName(), EffectiveDate: registrytest.InDays(7), MajorChange: true}),
			code: codes.InvalidArgument, field: "major_change", rule: "WG26-24"},
		// WG26-24: one version in force on any day.
		{name: "effective on an existing version's date", call: announce(&registryv1.AnnouncePolicyVersionRequest{EffectiveDate: registrytest.InDays(7)}),
			code: codes.InvalidArgument, field: "effective_date", rule: "WG26-24"},
		// Before versions 2 and 3 (and too early for the lead time): three violations.
		{name: "effective before existing versions' dates", call: announce(&registryv1.AnnouncePolicyVersionRequest{EffectiveDate: v2.GetEffectiveDate()}),
			code: codes.InvalidArgument, n: 3, field: "effective_date", rule: "NOTICE-7D"},
		{name: "malformed effective date", call: announce(&registryv1.AnnouncePolicyVersionRequest{EffectiveDate: "2026-02-30"}),
			code: codes.InvalidArgument, field: "effective_date", rule: "format"},
		{name: "malformed announce date", call: announce(&registryv1.AnnouncePolicyVersionRequest{AnnounceDate: "tomorrow", EffectiveDate: registrytest.InDays(30)}),
			code: codes.InvalidArgument, field: "announce_date", rule: "format"},
		// AIP-154: announce exactly the draft that was reviewed.
		{name: "announce with stale etag", call: announce(&registryv1.AnnouncePolicyVersionRequest{EffectiveDate: registrytest.InDays(30), Etag: v4.GetEtag() + "0"}),
			code: codes.Aborted, info: "ETAG_MISMATCH"},
		{name: "announce a version that does not exist", call: announce(&registryv1.AnnouncePolicyVersionRequest{Name: libraryCCTV + "/versions/99", EffectiveDate: registrytest.InDays(30)}),
			code: codes.NotFound},
		{name: "announce version 0", call: announce(&registryv1.AnnouncePolicyVersionRequest{Name: libraryCCTV + "/versions/0", EffectiveDate: registrytest.InDays(30)}),
			code: codes.InvalidArgument, field: "name", rule: "format"},
		// WG26-24: imported versions are past periods that do not overlap (1: 2021-12-06 ~ 2024-01-15).
		{name: "import overlapping an existing period", call: imp(&registryv1.PolicyVersion{EffectiveDate: "2022-06-01", EndDate: "2022-12-31"}),
			code: codes.InvalidArgument, field: "policy_version.effective_date", rule: "WG26-24"},
		{name: "import ending inside an existing period", call: imp(&registryv1.PolicyVersion{EffectiveDate: "2020-01-01", EndDate: "2022-12-31"}),
			code: codes.InvalidArgument, field: "policy_version.end_date", rule: "WG26-24"},
		{name: "import ending before it takes effect", call: imp(&registryv1.PolicyVersion{EffectiveDate: "2020-06-01", EndDate: "2020-01-01"}),
			code: codes.InvalidArgument, field: "policy_version.end_date", rule: "range"},
		// Not yet in effect.
		{name: "import taking effect in the future", call: imp(&registryv1.PolicyVersion{EffectiveDate: registrytest.InDays(1), EndDate: registrytest.InDays(2)}),
			code: codes.InvalidArgument, field: "policy_version.effective_date", rule: "WG26-24"},
		{name: "import without any date", call: imp(&registryv1.PolicyVersion{OriginalUrl: "https://example.org/old.pdf"}),
			code: codes.InvalidArgument, field: "policy_version.effective_date", rule: "WG26-24"},
		{name: "import with a malformed date", call: imp(&registryv1.PolicyVersion{EffectiveDate: "2019-06-01", EndDate: "2019-13-01"}),
			code: codes.InvalidArgument, field: "policy_version.end_date", rule: "format"},
		{name: "diff against a negative version", call: func() error {
			_, err := s.Registry.DiffPolicyVersions(ctx, &registryv1.DiffPolicyVersionsRequest{Name: v4.GetName(), Against: -1})
			return err
		}, code: codes.InvalidArgument, field: "against", rule: "range"},
		{name: "diff of a first version", call: func() error {
			_, err := s.Registry.DiffPolicyVersions(ctx, &registryv1.DiffPolicyVersionsRequest{Name: first.GetName()})
			return err
		}, code: codes.FailedPrecondition, info: "NO_PREVIOUS_VERSION"},
		{name: "render as pdf", call: func() error {
			_, err := s.Registry.RenderPolicyVersion(ctx, &registryv1.RenderPolicyVersionRequest{Name: v4.GetName(), Format: "pdf"})
			return err
		}, code: codes.InvalidArgument, field: "format", rule: "enum"},
		// The published policies are public: refused without a token as with one.
		{name: "published policy of kind cookies", call: func() error {
			_, err := s.Registry.GetPublishedPolicy(context.Background(), &registryv1.GetPublishedPolicyRequest{Tenant: "jeongeup", Unit: "library", Kind: "cookies"})
			return err
		}, code: codes.InvalidArgument, field: "kind", rule: "enum"},
		{name: "published policy of a bad tenant id", call: func() error {
			_, err := s.Registry.GetPublishedPolicy(context.Background(), &registryv1.GetPublishedPolicyRequest{Tenant: "Jeong eup", Unit: "library", Kind: "cctv"})
			return err
		}, code: codes.InvalidArgument, field: "tenant", rule: "format"},
		{name: "published version 0", call: func() error {
			_, err := s.Registry.GetPublishedPolicyVersion(context.Background(), &registryv1.GetPublishedPolicyVersionRequest{Tenant: "jeongeup", Unit: "library", Kind: "cctv"})
			return err
		}, code: codes.InvalidArgument, field: "number", rule: "range"},
		{name: "published policy nobody announced", call: func() error {
			_, err := s.Registry.GetPublishedPolicy(context.Background(), &registryv1.GetPublishedPolicyRequest{Tenant: "jeongeup", Unit: "museum", Kind: "cctv"})
			return err
		}, code: codes.NotFound},
		// AIP-158: lists refuse a negative page size and a token they did not issue.
		{name: "list tenants with negative page size", call: func() error {
			_, err := s.Registry.ListTenants(ctx, &registryv1.ListTenantsRequest{PageSize: -1})
			return err
		}, code: codes.InvalidArgument, field: "page_size", rule: "range"},
		{name: "list tenants with garbage page token", call: func() error {
			_, err := s.Registry.ListTenants(ctx, &registryv1.ListTenantsRequest{PageToken: "garbage!"})
			return err
		}, code: codes.InvalidArgument, field: "page_token", rule: "format"},
		{name: "list units with negative page size", call: func() error {
			_, err := s.Registry.ListUnits(ctx, &registryv1.ListUnitsRequest{Parent: "tenants/jeongeup", PageSize: -5})
			return err
		}, code: codes.InvalidArgument, field: "page_size", rule: "range"},
		{name: "list units with garbage page token", call: func() error {
			_, err := s.Registry.ListUnits(ctx, &registryv1.ListUnitsRequest{Parent: "tenants/jeongeup", PageToken: "eyJ4IjoxfQ"})
			return err
		}, code: codes.InvalidArgument, field: "page_token", rule: "format"},
		{name: "list sites with negative page size", call: func() error {
			_, err := s.Registry.ListSites(ctx, &registryv1.ListSitesRequest{Parent: libraryUnit, PageSize: -1})
			return err
		}, code: codes.InvalidArgument, field: "page_size", rule: "range"},
		{name: "list sites with an officers page token", call: func() error {
			_, err := s.Registry.ListSites(ctx, &registryv1.ListSitesRequest{Parent: libraryUnit, PageToken: officers.GetNextPageToken()})
			return err
		}, code: codes.InvalidArgument, field: "page_token", rule: "format"},
		{name: "list another unit's officers with the library's page token", call: func() error {
			_, err := s.Registry.ListOfficers(ctx, &registryv1.ListOfficersRequest{Parent: museum, PageToken: officers.GetNextPageToken()})
			return err
		}, code: codes.InvalidArgument, field: "page_token", rule: "format"},
		{name: "list officers with garbage page token", call: func() error {
			_, err := s.Registry.ListOfficers(ctx, &registryv1.ListOfficersRequest{Parent: libraryUnit, PageToken: "%%%"})
			return err
		}, code: codes.InvalidArgument, field: "page_token", rule: "format"},
		{name: "list files with negative page size", call: func() error {
			_, err := s.Registry.ListFiles(ctx, &registryv1.ListFilesRequest{Parent: libraryUnit, PageSize: -1})
			return err
		}, code: codes.InvalidArgument, field: "page_size", rule: "range"},
		{name: "list processors with garbage page token", call: func() error {
			_, err := s.Registry.ListProcessors(ctx, &registryv1.ListProcessorsRequest{Parent: libraryUnit, PageToken: "garbage"})
			return err
		}, code: codes.InvalidArgument, field: "page_token", rule: "format"},
	})
}

// restError is grpc-gateway's JSON rendering of a gRPC status.
type restError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Details []struct {
		Type            string `json:"@type"`
		Reason          string `json:"reason"`
		FieldViolations []struct {
			Field, Description, Reason string
		} `json:"fieldViolations"`
	} `json:"details"`
}

// Over REST the same refusals keep their field and rule in the JSON body; the HTTP status is
// grpc-gateway's mapping of the gRPC code (FailedPrecondition is 400 there, Aborted 409), but for an
// etag mismatch, HTTP's 412 Precondition Failed.
func TestBadInputOverREST(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("jeongeup-library.yaml")
	tok := s.Token(auth.RoleTenantAdmin, auth.ScopeAll)
	call := func(method, path, payload string) (int, restError) {
		t.Helper()
		req, err := http.NewRequest(method, s.URL+path, strings.NewReader(payload))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		r, err := s.HTTP.Do(req)
		require.NoError(t, err)
		b := stacktest.Body(t, r)
		var e restError
		require.NoError(t, json.Unmarshal([]byte(b), &e), b)
		return r.StatusCode, e
	}
	// Version 3: a draft of one article.
	_, err := s.Registry.CreatePolicyVersion(s.Admin(), &registryv1.CreatePolicyVersionRequest{Parent: libraryCCTV,
		PolicyVersion: &registryv1.PolicyVersion{Articles: []*registryv1.Article{{Heading: "제1조(목적)", Body: "시설 안전"}}}})
	require.NoError(t, err)
	site := `{"displayName":"주차장","cameraCount":2,"recordingHours":"24시간","retentionDays":30,"storagePlace":"전산실",
		"purposes":[{"description":"범죄 예방","ground":"CCTV_GROUND_CRIME_PREVENTION"}]`

	cases := []struct {
		name, method, path, body string
		http                     int
		grpc                     codes.Code
		field, rule, info        string
	}{
		{"audio", http.MethodPost, "/v1/" + libraryUnit + "/sites?siteId=parking", site + `,"recordsAudio":true}`,
			http.StatusBadRequest, codes.InvalidArgument, "site.records_audio", "PIPA-25-5", "INVALID_ARGUMENT"},
		{"zone retention without reason", http.MethodPost, "/v1/" + libraryUnit + "/sites?siteId=parking",
			site + `,"zoneRetentions":[{"zone":"출입구","retentionDays":90}]}`,
			http.StatusBadRequest, codes.InvalidArgument, "site.zone_retentions[0].reason", "STD-41-2", ""},
		{"unknown JSON field", http.MethodPost, "/v1/" + libraryUnit + "/sites?siteId=parking", site + `,"audio":true}`,
			http.StatusBadRequest, codes.InvalidArgument, "body", "json", "MALFORMED_BODY"},
		{"duplicate tenant", http.MethodPost, "/v1/tenants?tenantId=jeongeup", `{"displayName":"정읍시","kind":"TENANT_KIND_LOCAL_GOVERNMENT"}`,
			http.StatusConflict, codes.AlreadyExists, "", "", "ALREADY_EXISTS"},
		{"frozen version", http.MethodPatch, "/v1/" + libraryCCTV + "/versions/2?updateMask=title", `{"title":"x"}`,
			http.StatusBadRequest, codes.FailedPrecondition, "", "", "VERSION_FROZEN"},
		{"officer in use", http.MethodDelete, "/v1/" + libraryUnit + "/officers/song-hyunsook", "",
			http.StatusBadRequest, codes.FailedPrecondition, "", "", "IN_USE"},
		{"stale etag", http.MethodPost, "/v1/" + libraryCCTV + "/versions/3:announce", `{"effectiveDate":"` + registrytest.InDays(30) + `","etag":"stale"}`,
			http.StatusPreconditionFailed, codes.Aborted, "", "", "ETAG_MISMATCH"},
		{"announce with findings", http.MethodPost, "/v1/" + libraryCCTV + "/versions/3:announce", `{"effectiveDate":"` + registrytest.InDays(30) + `"}`,
			http.StatusBadRequest, codes.FailedPrecondition, "articles[installation]", "DEC-25-1", "POLICY_INCOMPLETE"},
		{"malformed date", http.MethodPost, "/v1/" + libraryCCTV + "/versions/3:announce", `{"effectiveDate":"2026-02-30"}`,
			http.StatusBadRequest, codes.InvalidArgument, "effective_date", "format", ""},
		{"negative page size", http.MethodGet, "/v1/" + libraryUnit + "/sites?pageSize=-1", "",
			http.StatusBadRequest, codes.InvalidArgument, "page_size", "range", ""},
		{"render as pdf", http.MethodGet, "/v1/" + libraryCCTV + "/versions/2:render?format=pdf", "",
			http.StatusBadRequest, codes.InvalidArgument, "format", "enum", ""},
		{"public kind cookies", http.MethodGet, "/v1/public/tenants/jeongeup/units/library/policies/cookies", "",
			http.StatusBadRequest, codes.InvalidArgument, "kind", "enum", ""},
		{"no such officer", http.MethodGet, "/v1/" + libraryUnit + "/officers/nobody", "",
			http.StatusNotFound, codes.NotFound, "", "", "NOT_FOUND"},
	}
	before := dump(t, s.DatabaseURL)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, e := call(c.method, c.path, c.body)
			require.Equal(t, c.http, code, "%+v", e)
			require.Equal(t, int(c.grpc), e.Code, "%+v", e)
			var fields [][2]string
			reason := ""
			for _, d := range e.Details {
				for _, v := range d.FieldViolations {
					fields = append(fields, [2]string{v.Field, v.Reason})
				}
				if strings.HasSuffix(d.Type, "ErrorInfo") {
					reason = d.Reason
				}
			}
			if c.field != "" {
				require.NotEmpty(t, fields, "%+v", e)
				require.Equal(t, [2]string{c.field, c.rule}, fields[0], "%+v", e)
			} else {
				require.Empty(t, fields, "%+v", e)
			}
			if c.info != "" {
				require.Equal(t, c.info, reason, "%+v", e)
			}
		})
	}
	require.Equal(t, before, dump(t, s.DatabaseURL), "a refused request changed the database")
}
