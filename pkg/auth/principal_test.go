package auth

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestAllows(t *testing.T) {
	// Iksan's civil-safety unit has a sub-unit cctv-control, which has parking.
	path := []string{"civil-safety", "cctv-control", "parking"}
	tests := []struct {
		name     string
		grants   []Grant
		tenant   string
		unitPath []string
		roles    []Role
		want     bool
	}{
		{"platform operator on any tenant", []Grant{{RoleCPO, "*"}}, "seongnam", path, []Role{RoleCPO}, true},
		{"tenant grant covers a deep unit", []Grant{{RoleManager, "tenants/iksan"}}, "iksan", path, []Role{RoleManager}, true},
		{"tenant grant covers the tenant itself", []Grant{{RoleManager, "tenants/iksan"}}, "iksan", nil, []Role{RoleManager}, true},
		{"unit grant covers its subtree", []Grant{{RoleHandler, "tenants/iksan/units/cctv-control"}}, "iksan", path, []Role{RoleHandler}, true},
		{"unit grant covers the unit", []Grant{{RoleHandler, "tenants/iksan/units/parking"}}, "iksan", path, []Role{RoleHandler}, true},
		{"unit grant does not cover the parent", []Grant{{RoleHandler, "tenants/iksan/units/parking"}}, "iksan", path[:2], []Role{RoleHandler}, false},
		{"unit grant does not cover a tenant-level resource", []Grant{{RoleHandler, "tenants/iksan/units/civil-safety"}}, "iksan", nil, []Role{RoleHandler}, false},
		{"unit grant does not cover a sibling", []Grant{{RoleHandler, "tenants/iksan/units/welfare"}}, "iksan", path, []Role{RoleHandler}, false},
		{"other tenant denied", []Grant{{RoleCPO, "tenants/iksan"}}, "seongnam", nil, []Role{RoleCPO}, false},
		{"same unit id in another tenant denied", []Grant{{RoleHandler, "tenants/seongnam/units/civil-safety"}}, "iksan", path, []Role{RoleHandler}, false},
		{"role not in set denied", []Grant{{RoleAuditor, "tenants/iksan"}}, "iksan", path, []Role{RoleCPO, RoleManager}, false},
		{"one of several roles suffices", []Grant{{RoleAuditor, "tenants/iksan"}, {RoleManager, "tenants/iksan/units/civil-safety"}}, "iksan", path, []Role{RoleCPO, RoleManager}, true},
		{"no roles asked allows nothing", []Grant{{RoleCPO, "*"}}, "iksan", nil, nil, false},
		{"empty tenant allows nothing", []Grant{{RoleCPO, "tenants/iksan"}}, "", nil, []Role{RoleCPO}, false},
		{"malformed grant built by hand is ignored", []Grant{{RoleCPO, "tenants/"}}, "", nil, []Role{RoleCPO}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &Principal{Subject: "u1", Grants: tt.grants}
			require.Equal(t, tt.want, p.Allows(tt.tenant, tt.unitPath, tt.roles...))
		})
	}
	var nobody *Principal
	require.False(t, nobody.Allows("iksan", nil, RoleCPO))
}

func TestTenantScope(t *testing.T) {
	p := &Principal{Subject: "u1", Grants: []Grant{
		{RoleHandler, "tenants/seongnam/units/welfare"},
		{RoleAuditor, "tenants/iksan"},
		{RoleCPO, "tenants/iksan/units/civil-safety"},
	}}
	all, tenants := p.TenantScope()
	require.False(t, all)
	require.Equal(t, []string{"iksan", "seongnam"}, tenants)

	p.Grants = append(p.Grants, Grant{RoleAuditor, ScopeAll})
	all, _ = p.TenantScope()
	require.True(t, all)

	all, tenants = (&Principal{Subject: "u2"}).TenantScope()
	require.False(t, all)
	require.Empty(t, tenants)
}

func TestIsService(t *testing.T) {
	require.True(t, (&Principal{Subject: "pipa-service", Grants: []Grant{{RoleService, ScopeAll}}}).IsService())
	require.False(t, (&Principal{Subject: "s", Grants: []Grant{{RoleService, "tenants/iksan"}}}).IsService(), "a service grant on one tenant")
	require.False(t, (&Principal{Subject: "op", Grants: []Grant{{RoleTenantAdmin, ScopeAll}}}).IsService())
	require.False(t, (*Principal)(nil).IsService())
}

func TestContext(t *testing.T) {
	_, ok := FromContext(context.Background())
	require.False(t, ok)
	p := &Principal{Subject: "u1"}
	got, ok := FromContext(NewContext(context.Background(), p))
	require.True(t, ok)
	require.Same(t, p, got)
}

func TestNewPrincipalRejectsMalformedClaims(t *testing.T) {
	for name, roles := range map[string]string{
		"unknown role":     `[{"role":"admin","scope":"*"}]`,
		"missing role":     `[{"scope":"*"}]`,
		"missing scope":    `[{"role":"cpo"}]`,
		"empty tenant":     `[{"role":"cpo","scope":"tenants/"}]`,
		"tenant wildcard":  `[{"role":"cpo","scope":"tenants/*"}]`,
		"nested unit path": `[{"role":"cpo","scope":"tenants/iksan/units/a/units/b"}]`,
		"trailing slash":   `[{"role":"cpo","scope":"tenants/iksan/"}]`,
		"wrong collection": `[{"role":"cpo","scope":"tenants/iksan/sites/x"}]`,
		"upper-case id":    `[{"role":"cpo","scope":"tenants/Iksan"}]`,
		"unknown field":    `[{"role":"cpo","scope":"*","until":"2030"}]`,
		"not an array":     `{"role":"cpo","scope":"*"}`,
		"a number":         `7`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := principalFrom("u1", "", json.RawMessage(roles))
			require.Error(t, err)
		})
	}

	_, err := newPrincipal("", "", "", nil)
	require.ErrorContains(t, err, "subject")

	p, err := newPrincipal(DevIssuer, "u1", "홍길동", nil)
	require.NoError(t, err)
	require.Empty(t, p.Grants, "a token without roles authenticates but grants nothing")

	p, err = principalFrom("u1", "", json.RawMessage(`[{"role":"tenant_admin","scope":"tenants/iksan"},{"role":"handler","scope":"tenants/iksan/units/civil-safety"}]`))
	require.NoError(t, err)
	require.Equal(t, []Grant{{RoleTenantAdmin, "tenants/iksan"}, {RoleHandler, "tenants/iksan/units/civil-safety"}}, p.Grants)
}

// principalFrom is the principal of a token whose pipa_roles claim is roles.
func principalFrom(subject, name string, roles json.RawMessage) (*Principal, error) {
	grants, err := DefaultClaims.Grants(map[string]json.RawMessage{DefaultRolesClaim: roles})
	if err != nil {
		return nil, err
	}
	return newPrincipal(DevIssuer, subject, name, grants)
}
