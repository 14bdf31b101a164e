package auth

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func claimsOf(t *testing.T, s string) map[string]json.RawMessage {
	t.Helper()
	var c map[string]json.RawMessage
	require.NoError(t, json.Unmarshal([]byte(s), &c))
	return c
}

// The shapes identity providers give roles in, each found by its path and mapped.
func TestClaimsGrants(t *testing.T) {
	table := map[string][]Grant{
		"pipa-iksan-cpo":       {{RoleCPO, "tenants/iksan"}},
		"/iksan/civil-safety":  {{RoleHandler, "tenants/iksan/units/civil-safety"}, {RoleAuditor, "tenants/iksan/units/civil-safety"}},
		"Pipa.Auditor.Seoul":   {{RoleAuditor, "tenants/seoul"}},
		"pipa-platform-admins": {{RoleTenantAdmin, ScopeAll}},
	}
	for name, c := range map[string]struct {
		paths  []string
		token  string
		grants []Grant
	}{
		"Keycloak realm roles, with the provider's own beside them": {[]string{"realm_access.roles"},
			`{"realm_access":{"roles":["offline_access","pipa-iksan-cpo","uma_authorization"]}}`,
			[]Grant{{RoleCPO, "tenants/iksan"}}},
		"Keycloak client roles, the client id with dots": {[]string{"resource_access.pipa.iksan.go.kr.roles"},
			`{"resource_access":{"pipa.iksan.go.kr":{"roles":["pipa-platform-admins"]},"account":{"roles":["manage-account"]}}}`,
			[]Grant{{RoleTenantAdmin, ScopeAll}}},
		"Entra ID app roles and groups together": {[]string{"roles", "groups"},
			`{"roles":["Pipa.Auditor.Seoul"],"groups":["/iksan/civil-safety","f81d4fae-7dec-11d0"]}`,
			[]Grant{{RoleAuditor, "tenants/seoul"}, {RoleHandler, "tenants/iksan/units/civil-safety"}, {RoleAuditor, "tenants/iksan/units/civil-safety"}}},
		"one role as a string": {[]string{"role"}, `{"role":"pipa-iksan-cpo"}`, []Grant{{RoleCPO, "tenants/iksan"}}},
		"grant objects under a namespaced claim": {[]string{"https://pipa.go.kr/roles"},
			`{"https://pipa.go.kr/roles":[{"role":"manager","scope":"tenants/iksan/units/parks"}]}`,
			[]Grant{{RoleManager, "tenants/iksan/units/parks"}}},
		"a group named twice grants once": {[]string{"groups", "roles"}, `{"groups":["pipa-iksan-cpo"],"roles":["pipa-iksan-cpo"]}`,
			[]Grant{{RoleCPO, "tenants/iksan"}}},
		"absent or null claims grant nothing": {[]string{"realm_access.roles", "groups"}, `{"groups":null,"realm_access":{}}`, nil},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := Claims{Paths: c.paths, Map: table}.Grants(claimsOf(t, c.token))
			require.NoError(t, err)
			require.Equal(t, c.grants, got)
		})
	}
	// A claim that is neither a list nor a string, or a malformed grant object, rejects the token.
	for _, bad := range []string{`{"roles":7}`, `{"roles":{"cpo":true}}`, `{"roles":[{"role":"cpo","scope":"*","until":"2030"}]}`} {
		_, err := Claims{Paths: []string{"roles"}, Map: table}.Grants(claimsOf(t, bad))
		require.Error(t, err, bad)
	}
}

func TestLoadRoleMap(t *testing.T) {
	dir := t.TempDir()
	write := func(s string) string {
		p := filepath.Join(dir, "roles.yaml")
		require.NoError(t, os.WriteFile(p, []byte(s), 0o600))
		return p
	}
	c, err := LoadRoleMap(write(`
claims: [realm_access.roles]
roles:
  pipa-iksan-cpo:
    - {role: cpo, scope: tenants/iksan}
`), DefaultClaims)
	require.NoError(t, err)
	require.Equal(t, Claims{Paths: []string{"realm_access.roles"}, Map: map[string][]Grant{"pipa-iksan-cpo": {{RoleCPO, "tenants/iksan"}}}}, c)

	c, err = LoadRoleMap(write("roles: {}\n"), Claims{Paths: []string{"groups"}})
	require.NoError(t, err)
	require.Equal(t, []string{"groups"}, c.Paths, "the file's claims replace the setting only when it names some")

	for bad, want := range map[string]string{
		"roles:\n  x:\n    - {role: owner, scope: '*'}\n":            `"x": unknown role "owner"`,
		"roles:\n  x:\n    - {role: cpo, scope: iksan}\n":            `"x": malformed scope`,
		"roles:\n  x:\n    - {role: cpo, scope: '*', until: 2030}\n": "field until not found",
		"claim: [groups]\n": "field claim not found",
	} {
		_, err := LoadRoleMap(write(bad), DefaultClaims)
		require.ErrorContains(t, err, want)
	}
	_, err = LoadRoleMap(filepath.Join(dir, "missing.yaml"), DefaultClaims)
	require.Error(t, err)
}
