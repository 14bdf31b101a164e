package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/pipa-kr/pipa/pkg/auth"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/pkg/modules"
	pnames "github.com/pipa-kr/pipa/pkg/names"
	"github.com/pipa-kr/pipa/pkg/pgtest"
	"github.com/pipa-kr/pipa/pkg/rolechange"
	"github.com/pipa-kr/pipa/pkg/stacktest"
	"github.com/pipa-kr/pipa/pkg/unitauth"
	"github.com/pipa-kr/pipa/services/registry/registrytest"
	"github.com/pipa-kr/pipa/services/registry/tenantfile"
)

// withRoleGrants records the roles tokens present (S-5), as the binary does by default.
func withRoleGrants(c *modules.Config) { c.RoleGrants = true }

// getAs is an HTTP GET on base+path with a bearer token: the status and the body.
func getAs(t *testing.T, base, path, token string) (int, string) {
	t.Helper()
	r := stacktest.Do(t, http.DefaultClient, http.MethodGet, base+path, nil, "Authorization", "Bearer "+token)
	return r.StatusCode, stacktest.Body(t, r)
}

// roleGrants lists parent's role grants over REST with token, filtered by subject when given.
func roleGrants(t *testing.T, base, parent, token, subject string) []*ledgerv1.RoleGrant {
	t.Helper()
	code, body := getAs(t, base, "/v1/"+parent+"/role-grants?subject="+url.QueryEscape(subject), token)
	require.Equal(t, http.StatusOK, code, body)
	var resp ledgerv1.ListRoleGrantsResponse
	require.NoError(t, protojson.Unmarshal([]byte(body), &resp))
	return resp.GetRoleGrants()
}

// S-5: the roles of a `pipa token` reach pipa only when the token is presented: its first use
// records a grant before the call is answered, reusing it records nothing, a token with other
// roles records a change and one with none a revocation, each in the history of the tenant its
// scopes touch (another tenant's part in that tenant's), kept three years; operators' grants on
// "*" are kept apart. The history is read over REST by the tenant's CPO, exported as CSV/XLSX,
// and never changed or erased early.
func TestRoleGrantHistoryS5(t *testing.T) {
	t.Parallel()
	spans := tracetest.NewSpanRecorder()
	s := startStack(t, withRoleGrants, func(c *modules.Config) { c.Spans = spans })
	s.Load("jeongeup-library.yaml") // as tenant_admin on "*"
	// recordCalls counts the calls made to the ledger's RecordRoleGrants (server spans: the call
	// is in-process, and its span ends before its caller goes on).
	recordCalls := func() (n int) {
		for _, sp := range spans.Ended() {
			if sp.SpanKind() == trace.SpanKindServer && "/"+sp.Name() == ledgerv1.RoleGrantService_RecordRoleGrants_FullMethodName {
				n++
			}
		}
		return n
	}
	mint := func(grants ...auth.Grant) string {
		tok, err := auth.Mint(s.Key, auth.Principal{Subject: "kim", Name: "김민지", Grants: grants}, time.Hour)
		require.NoError(t, err)
		return tok
	}
	const sites = "/v1/tenants/jeongeup/units/library/sites"
	cpo := s.Token(auth.RoleCPO, "tenants/jeongeup")
	handler := auth.Grant{Role: auth.RoleHandler, Scope: libraryUnit}

	// First use: a grant, recorded by the time the call is answered (no waiting for a flush).
	first := mint(handler)
	code, body := getAs(t, s.URL, sites, first)
	require.Equal(t, http.StatusOK, code, body)
	got := roleGrants(t, s.URL, "tenants/jeongeup", cpo, "kim")
	require.Len(t, got, 1)
	g := got[0]
	require.Equal(t, rolechange.Granted, g.GetChange())
	require.Equal(t, auth.DevIssuer, g.GetIssuer())
	require.Equal(t, rolechange.SourceToken, g.GetSource())
	require.Equal(t, "김민지", g.GetDisplayName())
	require.Empty(t, g.GetBefore())
	require.Equal(t, []string{"handler " + libraryUnit}, g.GetAfter())
	require.Equal(t, rolechange.KeptUntil(g.GetRecordTime().AsTime()), g.GetKeepUntil().AsTime(), "S-5: three years")
	require.True(t, strings.HasPrefix(g.GetName(), "tenants/jeongeup/units/-/ledger/entries/"), "an entry of the tenant's own log: %s", g.GetName())
	require.Empty(t, g.GetUnit())

	// Reuse, and another token with the same roles: nothing more, and not even a call to the
	// ledger (the process remembers the set it saw last).
	calls := recordCalls()
	require.NotZero(t, calls)
	for _, tok := range []string{first, first, mint(handler, handler)} {
		code, body = getAs(t, s.URL, sites, tok)
		require.Equal(t, http.StatusOK, code, body)
	}
	require.Equal(t, calls, recordCalls(), "no write, no call on the hot path when the set is unchanged")
	require.Len(t, roleGrants(t, s.URL, "tenants/jeongeup", cpo, "kim"), 1, "the same set records nothing")

	// Other roles: a change in jeongeup, with iksan's part in iksan's history only.
	code, body = getAs(t, s.URL, sites, mint(handler, auth.Grant{Role: auth.RoleAuditor, Scope: "tenants/jeongeup"},
		auth.Grant{Role: auth.RoleCPO, Scope: "tenants/iksan"}))
	require.Equal(t, http.StatusOK, code, body)
	got = roleGrants(t, s.URL, "tenants/jeongeup", cpo, "kim")
	require.Len(t, got, 2)
	require.Equal(t, rolechange.Changed, got[0].GetChange(), "newest first")
	require.Equal(t, []string{"handler " + libraryUnit}, got[0].GetBefore())
	require.Equal(t, []string{"auditor tenants/jeongeup", "handler " + libraryUnit}, got[0].GetAfter())
	iksan := roleGrants(t, s.URL, "tenants/iksan", s.Token(auth.RoleCPO, "tenants/iksan"), "kim")
	require.Len(t, iksan, 1)
	require.Equal(t, []string{"cpo tenants/iksan"}, iksan[0].GetAfter())

	// No roles at all: revocations in both tenants, though the call itself is refused.
	code, body = getAs(t, s.URL, sites, mint())
	require.Equal(t, http.StatusForbidden, code, body)
	got = roleGrants(t, s.URL, "tenants/jeongeup", cpo, "kim")
	require.Len(t, got, 3)
	require.Equal(t, rolechange.Revoked, got[0].GetChange())
	require.Empty(t, got[0].GetAfter())
	require.Equal(t, rolechange.Revoked, roleGrants(t, s.URL, "tenants/iksan", s.Token(auth.RoleCPO, "tenants/iksan"), "kim")[0].GetChange())

	// The operator's grant on "*" (the seed's import) is kept under tenants/-, for operators only.
	admin := s.Token(auth.RoleTenantAdmin, auth.ScopeAll)
	ops := roleGrants(t, s.URL, "tenants/-", admin, "test-tenant_admin")
	require.Len(t, ops, 1)
	require.Equal(t, []string{"tenant_admin *"}, ops[0].GetAfter())
	require.Empty(t, roleGrants(t, s.URL, "tenants/jeongeup", admin, "test-tenant_admin"), "a grant on * is no tenant's")
	code, body = getAs(t, s.URL, "/v1/tenants/-/role-grants", cpo)
	require.Equal(t, http.StatusForbidden, code, "a tenant's CPO does not read the operators' grants: %s", body)

	// Who may read: the tenant's CPO, auditor, tenant admin, operators; not another tenant's
	// CPO, nor a unit's CPO, nor a handler.
	require.Len(t, roleGrants(t, s.URL, "tenants/jeongeup", s.Token(auth.RoleAuditor, "tenants/jeongeup"), "kim"), 3)
	require.Len(t, roleGrants(t, s.URL, "tenants/jeongeup", admin, "kim"), 3)
	for _, tok := range []string{s.Token(auth.RoleCPO, "tenants/iksan"), s.Token(auth.RoleCPO, libraryUnit), s.Token(auth.RoleHandler, "tenants/jeongeup")} {
		code, body = getAs(t, s.URL, "/v1/tenants/jeongeup/role-grants", tok)
		require.Equal(t, http.StatusForbidden, code, body)
		code, _ = getAs(t, s.URL, "/v1/tenants/jeongeup/role-grants:export", tok)
		require.Equal(t, http.StatusForbidden, code)
	}
	// Fuzzed parents are refused naming the field.
	for _, bad := range []string{"/v1/tenants/Jeong%21eup/role-grants", "/v1/tenants/%2E%2E/role-grants", "/v1/tenants/--/role-grants"} {
		code, body = getAs(t, s.URL, bad, admin)
		require.Equal(t, http.StatusBadRequest, code, "%s: %s", bad, body)
		require.Contains(t, body, "parent")
	}
	rg := ledgerv1.NewRoleGrantServiceClient(s.Conn)
	_, err := rg.ListRoleGrants(unitauth.WithToken(context.Background(), admin), &ledgerv1.ListRoleGrantsRequest{Parent: libraryUnit})
	code2, _ := stacktest.Reason(err)
	require.Equal(t, codes.InvalidArgument, code2)

	// Pages: one at a time, newest first; a token carried to another filter is refused.
	var names []string
	req := &ledgerv1.ListRoleGrantsRequest{Parent: "tenants/jeongeup", Subject: "kim", PageSize: 1}
	ctx := unitauth.WithToken(context.Background(), cpo)
	for {
		resp, err := rg.ListRoleGrants(ctx, req)
		require.NoError(t, err)
		for _, g := range resp.GetRoleGrants() {
			names = append(names, g.GetName())
		}
		if resp.GetNextPageToken() == "" {
			break
		}
		req.PageToken = resp.GetNextPageToken()
		_, err = rg.ListRoleGrants(ctx, &ledgerv1.ListRoleGrantsRequest{Parent: "tenants/jeongeup", Subject: "lee", PageToken: req.PageToken})
		require.Equal(t, "page_token", stacktest.Violation(t, err).GetField())
	}
	require.Len(t, names, 3)
	index := func(name string) int64 {
		_, _, i, err := pnames.ParseLogEntry("name", name)
		require.NoError(t, err)
		return i
	}
	require.Greater(t, index(names[0]), index(names[1]))
	require.Greater(t, index(names[1]), index(names[2]))
	// By time: nothing recorded before the test began.
	before, err := rg.ListRoleGrants(ctx, &ledgerv1.ListRoleGrantsRequest{Parent: "tenants/jeongeup", Subject: "kim",
		EndTime: got[2].GetRecordTime()})
	require.NoError(t, err)
	require.Empty(t, before.GetRoleGrants())

	// Only pipa's services record: a CPO cannot write the history.
	_, err = rg.RecordRoleGrants(ctx, &ledgerv1.RecordRoleGrantsRequest{Issuer: auth.DevIssuer, Subject: "kim", Source: rolechange.SourceToken})
	code2, _ = stacktest.Reason(err)
	require.Equal(t, codes.PermissionDenied, code2)

	// Export, CSV and XLSX, with the list's filters and roles.
	code, body = getAs(t, s.URL, "/v1/tenants/jeongeup/role-grants:export?subject=kim", cpo)
	require.Equal(t, http.StatusOK, code, body)
	lines := strings.Split(strings.TrimSpace(strings.TrimPrefix(body, "\uFEFF")), "\r\n")
	require.Len(t, lines, 4, body)
	require.True(t, strings.HasPrefix(lines[0], "기록 일시,구분,계정(subject)"), lines[0])
	require.Contains(t, lines[1], rolechange.Revoked)
	require.Contains(t, lines[3], rolechange.Granted)
	require.Contains(t, lines[3], "handler "+libraryUnit)
	resp := s.Get("/v1/tenants/jeongeup/role-grants:export?format=xlsx", "Authorization", "Bearer "+cpo)
	xlsx := stacktest.Body(t, resp)
	require.Equal(t, http.StatusOK, resp.StatusCode, xlsx)
	require.Equal(t, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", resp.Header.Get("Content-Type"))
	require.True(t, strings.HasPrefix(xlsx, "PK"), "a zip")

	// S-5: kept at least three years. There is no delete in the API, and the database refuses
	// changing a record, erasing one before its keep_until, and truncating the table.
	db := s.DB()
	bg := context.Background()
	_, err = db.Exec(bg, `DELETE FROM ledger.role_grants WHERE tenant_id = 'jeongeup'`)
	require.ErrorContains(t, err, "S-5")
	_, err = db.Exec(bg, `UPDATE ledger.role_grants SET after = '{}' WHERE tenant_id = 'jeongeup'`)
	require.ErrorContains(t, err, "S-5")
	_, err = db.Exec(bg, `TRUNCATE ledger.role_grants`)
	require.ErrorContains(t, err, "S-5")
	require.Len(t, roleGrants(t, s.URL, "tenants/jeongeup", cpo, "kim"), 3)
}

// S-5 with single sign-on: the roles an OIDC sign-in maps from the provider's groups are
// recorded under the provider's issuer when first presented, and again when the provider's
// group membership changes (a change) or is taken away (a revocation), as the next token
// presents it. The recording itself is done with a service credential the provider issued.
func TestOIDCRoleGrantsS5(t *testing.T) {
	t.Parallel()
	idp := newProvider(t, map[string][]string{
		"pipa":     {"pipa-service"},
		"importer": {"pipa-platform-admin"},
		"library":  {"offline_access", "pipa-jeongeup-library-handler"},
	})
	dir := t.TempDir()
	roleMap := filepath.Join(dir, "roles.yaml")
	require.NoError(t, os.WriteFile(roleMap, []byte(`
claims: [realm_access.roles]
roles:
  pipa-service:
    - {role: service, scope: "*"}
  pipa-platform-admin:
    - {role: tenant_admin, scope: "*"}
  pipa-jeongeup-library-handler:
    - {role: handler, scope: tenants/jeongeup/units/library}
  pipa-jeongeup-auditor:
    - {role: auditor, scope: tenants/jeongeup}
`), 0o600))
	serviceToken := filepath.Join(dir, "service-token")
	require.NoError(t, os.WriteFile(serviceToken, []byte(idp.token(t, "pipa")), 0o600))

	pool := pgtest.NewMulti(t, stacktest.Migrations(built))
	c := &config{target: "all", databaseURL: pool.Config().ConnString(), dataKey: filepath.Join(dir, "data-key"),
		oidcIssuer: idp.issuer, oidcAudience: "pipa", oidcRoles: "pipa_roles", oidcRoleMap: roleMap,
		serviceTokenFile: serviceToken, roleGrants: true}
	gl, hl := stacktest.Listen(t), stacktest.Listen(t)
	p := runServe(t, c, &listeners{grpc: gl, http: hl})
	require.NoError(t, waitServing(context.Background(), gl.Addr().String(), p.done))
	base := "http://" + hl.Addr().String()
	const sites = "/v1/tenants/jeongeup/units/library/sites"
	importer := idp.token(t, "importer")
	conn, err := grpc.NewClient(gl.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	f, err := tenantfile.Load(registrytest.Example(t, "jeongeup-library.yaml"))
	require.NoError(t, err)
	require.NoError(t, tenantfile.Import(unitauth.WithToken(context.Background(), importer),
		registryv1.NewRegistryServiceClient(conn), f, time.Now()))
	history := func() []*ledgerv1.RoleGrant { return roleGrants(t, base, "tenants/jeongeup", importer, "library") }

	code, body := getAs(t, base, sites, idp.token(t, "library"))
	require.Equal(t, http.StatusOK, code, body)
	got := history()
	require.Len(t, got, 1)
	require.Equal(t, rolechange.Granted, got[0].GetChange())
	require.Equal(t, idp.issuer, got[0].GetIssuer())
	require.Equal(t, rolechange.SourceOIDC, got[0].GetSource())
	require.Equal(t, []string{"handler tenants/jeongeup/units/library"}, got[0].GetAfter())

	// A new token with the same groups records nothing.
	code, body = getAs(t, base, sites, idp.token(t, "library"))
	require.Equal(t, http.StatusOK, code, body)
	require.Len(t, history(), 1)

	// The provider adds a group: a change.
	idp.setRoles("library", "offline_access", "pipa-jeongeup-library-handler", "pipa-jeongeup-auditor")
	code, body = getAs(t, base, sites, idp.token(t, "library"))
	require.Equal(t, http.StatusOK, code, body)
	got = history()
	require.Len(t, got, 2)
	require.Equal(t, rolechange.Changed, got[0].GetChange())
	require.Equal(t, []string{"auditor tenants/jeongeup", "handler tenants/jeongeup/units/library"}, got[0].GetAfter())

	// The provider takes the groups away: the set empties, a revocation, and the call is refused.
	idp.setRoles("library", "offline_access")
	code, body = getAs(t, base, sites, idp.token(t, "library"))
	require.Equal(t, http.StatusForbidden, code, body)
	got = history()
	require.Len(t, got, 3)
	require.Equal(t, rolechange.Revoked, got[0].GetChange())
	require.Equal(t, []string{"auditor tenants/jeongeup", "handler tenants/jeongeup/units/library"}, got[0].GetBefore())
	require.Empty(t, got[0].GetAfter())

	// The importer's grant on "*" is the operators'.
	ops := roleGrants(t, base, "tenants/-", importer, "importer")
	require.Len(t, ops, 1)
	require.Equal(t, []string{"tenant_admin *"}, ops[0].GetAfter())
}

// S-5, S-8-3: one list answers who could do what, when, in the whole tenant: the roles tokens
// presented and the registry officers' role changes, each with its unit, newest first, each naming
// the ledger entry that records it; the export carries the unit, who changed it and the entry; and
// the tenant's own log of token grants verifies with `pipa ledger verify` like a unit's.
func TestRoleGrantsWholeTenant_S_5_S_8_3(t *testing.T) {
	t.Parallel()
	s := startStack(t, withRoleGrants)
	s.Load("jeongeup-library.yaml")
	cpo := s.Token(auth.RoleCPO, "tenants/jeongeup")
	officer := libraryUnit + "/officers/park-cpo"
	o, err := s.Registry.CreateOfficer(s.Admin(), &registryv1.CreateOfficerRequest{Parent: libraryUnit, OfficerId: "park-cpo", RequestId: "park-1",
		Officer: &registryv1.Officer{DisplayName: "박보호", Title: "과장", Roles: []registryv1.OfficerRole{registryv1.OfficerRole_OFFICER_ROLE_HANDLER}}})
	require.NoError(t, err)
	o.Roles = []registryv1.OfficerRole{registryv1.OfficerRole_OFFICER_ROLE_CPO}
	_, err = s.Registry.UpdateOfficer(s.Admin(), &registryv1.UpdateOfficerRequest{Officer: o, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"roles"}}})
	require.NoError(t, err)

	// The officer's grant and change, by subject, once the registry's outbox delivered them.
	var got []*ledgerv1.RoleGrant
	require.Eventually(t, func() bool {
		got = roleGrants(t, s.URL, "tenants/jeongeup", cpo, officer)
		return len(got) == 2
	}, 60*time.Second, 100*time.Millisecond)
	change, grant := got[0], got[1]
	require.Equal(t, rolechange.Changed, change.GetChange(), "newest first")
	require.Equal(t, rolechange.Granted, grant.GetChange())
	require.Equal(t, libraryUnit, change.GetUnit())
	require.Equal(t, "박보호", change.GetDisplayName())
	require.Equal(t, []string{"handler"}, change.GetBefore())
	require.Equal(t, []string{"cpo"}, change.GetAfter())
	require.NotEmpty(t, change.GetChangedBy())
	require.Empty(t, change.GetIssuer())
	require.True(t, strings.HasPrefix(change.GetName(), libraryLog+"/ledger/entries/"), change.GetName())
	code, body := getAs(t, s.URL, "/v1/"+change.GetName(), cpo)
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, "ENTRY_KIND_ROLE_CHANGE")

	// The whole list holds both kinds: the CPO's own token (its first use recorded it) and the officer's.
	all := roleGrants(t, s.URL, "tenants/jeongeup", cpo, "")
	var tokens, officers int
	for _, g := range all {
		if g.GetUnit() == "" {
			tokens++
		} else {
			officers++
		}
	}
	require.NotZero(t, tokens, "%v", all)
	require.GreaterOrEqual(t, officers, 2, "the seed's officers and park-cpo")

	// The export: unit, who changed it, and the entry, on every row.
	code, body = getAs(t, s.URL, "/v1/tenants/jeongeup/role-grants:export?subject="+url.QueryEscape(officer), cpo)
	require.Equal(t, http.StatusOK, code, body)
	rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(body, "\uFEFF"))).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 3)
	require.Equal(t, []string{"부서", "변경자", "대장 항목"}, rows[0][9:])
	require.Equal(t, []string{libraryUnit, change.GetChangedBy(), change.GetName()}, rows[1][9:])

	// The tenant's own log, of its tokens' grants, verifies from the outside (S-8-3).
	var out bytes.Buffer
	require.Equal(t, 0, run(context.Background(), []string{"ledger", "verify", "-url", s.URL, "-log", "tenants/jeongeup/units/-",
		"-token", s.Token(auth.RoleAuditor, "tenants/jeongeup")}, &out, io.Discard), out.String())
	require.Contains(t, out.String(), "OK tenants/jeongeup/units/-: ")
}
