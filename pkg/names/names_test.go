package names_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pipa-kr/pipa/pkg/apierr"
	"github.com/pipa-kr/pipa/pkg/names"
)

// violation is the one field violation of err, which must be InvalidArgument.
func violation(t *testing.T, err error) *errdetails.BadRequest_FieldViolation {
	t.Helper()
	st := status.Convert(apierr.ToStatus(err))
	require.Equal(t, codes.InvalidArgument, st.Code(), "%v", err)
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			require.Len(t, br.GetFieldViolations(), 1)
			return br.GetFieldViolations()[0]
		}
	}
	t.Fatalf("no field violation in %v", err)
	return nil
}

func TestParseUnitAndTenant(t *testing.T) {
	tenant, unit, err := names.ParseUnit("parent", "tenants/iksan/units/civil-safety")
	require.NoError(t, err)
	require.Equal(t, "tenants/iksan/units/civil-safety", names.Unit(tenant, unit))
	for _, bad := range []string{"", "tenants/iksan", "tenants/iksan/units/", "tenants/Iksan/units/a", "tenants/iksan/units/a-",
		"tenants/iksan/units/a/sites/b", "units/a/tenants/b", "tenants/iksan/unit/a"} {
		_, _, err := names.ParseUnit("parent", bad)
		v := violation(t, err)
		require.Equal(t, "parent", v.GetField(), bad)
		require.Equal(t, "format", v.GetReason())
		require.Contains(t, v.GetDescription(), "tenants/{tenant}/units/{unit}")
	}
	tenant, unit, ok := names.UnitOf("tenants/iksan/units/civil-safety/sites/x/y")
	require.True(t, ok)
	require.Equal(t, []string{"iksan", "civil-safety"}, []string{tenant, unit})
	_, _, ok = names.UnitOf("tenants/iksan")
	require.False(t, ok)
	got, err := names.ParseTenant("name", "tenants/jeongeup")
	require.NoError(t, err)
	require.Equal(t, "tenants/jeongeup", names.Tenant(got))
	_, err = names.ParseTenant("tenant.name", "tenants/jeongeup/units/x")
	require.Equal(t, "tenant.name", violation(t, err).GetField())
	got, err = names.ParseTenantResource("name", names.TenantResource("iksan", "ledgerSettings"), "ledgerSettings")
	require.NoError(t, err)
	require.Equal(t, "iksan", got)
	for _, bad := range []string{"tenants/iksan", "tenants/a/b/ledgerSettings", "tenants/Iksan/ledgerSettings", "x/iksan/ledgerSettings"} {
		_, err = names.ParseTenantResource("name", bad, "ledgerSettings")
		require.Equal(t, "name", violation(t, err).GetField(), bad)
	}
}

// Every collection parses what it formats and refuses ids of the wrong shape, naming the field.
func TestCollections(t *testing.T) {
	for _, c := range []struct {
		coll      names.Collection
		good, bad []string
	}{
		{names.Sites, []string{"central", "city-hall-2"}, []string{"", "Central", "a-", "1", "a/b"}},
		{names.Requests, []string{"R-2026-000123", "P-2027-1234567"}, []string{"R-2026-12", "X-2026-000001", "r-2026-000001"}},
		{names.Entries, []string{"0", "42"}, []string{"-1", "01", "x", "9223372036854775808"}},
		{names.Items, []string{"1", "7"}, []string{"0", "-3", "07", "seven"}},
		{names.Rules, []string{"cctv-central", "rule-1"}, []string{"Rule", "1a"}},
	} {
		for _, id := range c.good {
			name := c.coll.Name("jeongeup", "library", id)
			tenant, unit, got, err := c.coll.Parse("name", name)
			require.NoError(t, err, name)
			require.Equal(t, []string{"jeongeup", "library", id}, []string{tenant, unit, got})
			of, ok := c.coll.Of("jeongeup", "library", name)
			require.True(t, ok)
			require.Equal(t, id, of)
			require.True(t, c.coll.In("jeongeup", "library", name))
			require.False(t, c.coll.In("jeongeup", "museum", name), "a member of another unit")
		}
		for _, id := range c.bad {
			name := c.coll.Name("jeongeup", "library", id)
			_, _, _, err := c.coll.Parse("item.rule", name)
			v := violation(t, err)
			require.Equal(t, "item.rule", v.GetField(), name)
			require.Contains(t, v.GetDescription(), c.coll.Shape())
		}
	}
	_, _, n, err := names.Entries.ParseN("name", "tenants/a/units/b/ledger/entries/12")
	require.NoError(t, err)
	require.EqualValues(t, 12, n)
	require.Equal(t, "tenants/a/units/b/holds/3", names.Holds.NameN("a", "b", 3))
	_, _, _, err = names.Sites.Parse("name", "tenants/a/units/b/files/c")
	require.Error(t, err, "a member of another collection")
}

func TestPoliciesAndNotices(t *testing.T) {
	tenant, unit, kind, n, err := names.ParseVersion("name", "tenants/a/units/b/policies/cctv/versions/3")
	require.NoError(t, err)
	require.Equal(t, "tenants/a/units/b/policies/cctv/versions/3", names.Version(tenant, unit, kind, n))
	for _, bad := range []string{"tenants/a/units/b/policies/cctv", "tenants/a/units/b/policies/video/versions/1",
		"tenants/a/units/b/policies/cctv/versions/0", "tenants/a/units/b/policies/cctv/versions/99999999999"} {
		_, _, _, _, err := names.ParseVersion("name", bad)
		require.Equal(t, "name", violation(t, err).GetField(), bad)
	}
	_, _, kind, err = names.ParsePolicy("parent", "tenants/a/units/b/policies/privacy")
	require.NoError(t, err)
	require.Equal(t, "privacy", kind)

	req := names.Requests.Name("a", "b", "R-2026-000001")
	got, tenant, unit, receipt, num, err := names.ParseNotice("name", names.Notice(req, 2))
	require.NoError(t, err)
	require.Equal(t, []any{req, "a", "b", "R-2026-000001", 2}, []any{got, tenant, unit, receipt, num})
	for _, bad := range []string{req, req + "/notices/0", "tenants/a/units/b/requests/x/notices/1",
		names.NoticeOf(req, "01"), names.NoticeOf(req, "1\""), names.NoticeOf(req+"/notices/1", "1")} {
		_, _, _, _, _, err := names.ParseNotice("name", bad)
		require.Equal(t, "name", violation(t, err).GetField(), bad)
	}
	require.Equal(t, names.Notice(req, 2), names.NoticeOf(req, "2"), "a route's path values spell the name Notice formats")
}

// A unit's ledger and its checkpoint are named under the unit, as GetCheckpoint's route and the
// checkpoint events spell them.
func TestLedger(t *testing.T) {
	require.Equal(t, "tenants/a/units/b/ledger", names.Ledger("a", "b"))
	require.Equal(t, "tenants/a/units/b/ledger/checkpoint", names.Checkpoint("a", "b"))
	tenant, unit, n, err := names.Entries.ParseN("name", names.Ledger("a", "b")+"/entries/0")
	require.NoError(t, err)
	require.Equal(t, []any{"a", "b", int64(0)}, []any{tenant, unit, n}, "entries live in the ledger Ledger names")
}

// A page token continues only the query that issued it: another list, parent or filter refuses
// it naming page_token, as does anything that is not a token.
func TestPageTokens(t *testing.T) {
	items := names.Query{"retention.items", "tenants/a/units/b", "due"}
	tok := items.TokenN(41)
	n, err := items.ParseN(tok)
	require.NoError(t, err)
	require.EqualValues(t, 41, n)
	require.Empty(t, items.TokenN(0), "no next page")
	n, err = items.ParseN("")
	require.NoError(t, err)
	require.Zero(t, n, "the first page")
	require.NotContains(t, tok, "41", "opaque")

	for _, other := range []names.Query{
		{"retention.holds", "tenants/a/units/b", "due"},
		{"retention.items", "tenants/a/units/c", "due"},
		{"retention.items", "tenants/a/units/b", "held"},
		{"retention.items", "tenants/a/units/b", "", "due"},
	} {
		_, err := other.ParseN(tok)
		require.Equal(t, "page_token", violation(t, err).GetField(), "%v", other)
	}
	for _, garbage := range []string{"garbage!", "eyJ4IjoxfQ", "%%%", names.Query{"x"}.Token("a", "b")} {
		_, err := items.Parse(garbage, 1)
		require.Equal(t, "page_token", violation(t, err).GetField(), garbage)
	}
	key, err := names.Query{"registry.units", "tenants/a"}.Parse(names.Query{"registry.units", "tenants/a"}.Token("p", "q"), 2)
	require.NoError(t, err)
	require.Equal(t, []string{"p", "q"}, key)
}

func TestPageSize(t *testing.T) {
	var vs apierr.Violations
	require.Equal(t, 50, names.PageSize(&vs, 0))
	require.Equal(t, 7, names.PageSize(&vs, 7))
	require.Equal(t, 500, names.PageSize(&vs, 10_000))
	require.Empty(t, vs)
	names.PageSize(&vs, -1)
	require.Len(t, vs, 1)
	require.Equal(t, "page_size", vs[0].Field)
}

// A tenant's own log is units/- (names.TenantLog), the operators' tenants/-/units/-; nothing else that
// is not a unit's name parses as a log.
func TestParseLog(t *testing.T) {
	for name, want := range map[string][2]string{
		"tenants/iksan/units/civil": {"iksan", "civil"},
		"tenants/iksan/units/-":     {"iksan", names.TenantLog},
		"tenants/-/units/-":         {"-", names.TenantLog},
	} {
		tn, u, err := names.ParseLog("log", name)
		require.NoError(t, err, name)
		require.Equal(t, want, [2]string{tn, u}, name)
	}
	for _, bad := range []string{"tenants/-/units/civil", "tenants/Iksan/units/-", "tenants/iksan/units/--", "tenants/iksan", "tenants//units/-", "x/tenants/iksan/units/-"} {
		_, _, err := names.ParseLog("log", bad)
		require.Error(t, err, bad)
	}
	tn, u, i, err := names.ParseLogEntry("name", "tenants/iksan/units/-/ledger/entries/7")
	require.NoError(t, err)
	require.Equal(t, []any{"iksan", names.TenantLog, int64(7)}, []any{tn, u, i})
	for _, bad := range []string{"tenants/iksan/units/-/ledger/entries/07", "tenants/iksan/units/-/ledger/entries/-1", "tenants/-/units/x/ledger/entries/1"} {
		_, _, _, err := names.ParseLogEntry("name", bad)
		require.Error(t, err, bad)
	}
}
