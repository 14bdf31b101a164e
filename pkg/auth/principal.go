package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/pipa-kr/pipa/pkg/names"
)

// Role is a duty a person or service holds under PIPA, named as in the seeds.
type Role string

// The roles of ARCHITECTURE.md, "Identity and tenancy".
const (
	RoleCPO         Role = "cpo"          // 개인정보 보호책임자
	RoleManager     Role = "manager"      // 관리책임자 / 운영책임자
	RoleHandler     Role = "handler"      // 접근권한자 / 업무처리자
	RoleAuditor     Role = "auditor"      // read-only
	RoleTenantAdmin Role = "tenant_admin" // administers a tenant's units and officers
	RoleService     Role = "service"      // calls between pipa services
)

func (r Role) valid() bool {
	switch r {
	case RoleCPO, RoleManager, RoleHandler, RoleAuditor, RoleTenantAdmin, RoleService:
		return true
	}
	return false
}

// ScopeAll is the scope of a grant on every tenant: the platform operator, and pipa services.
const ScopeAll = "*"

// Grant is one role held on one scope: ScopeAll, "tenants/{t}" or "tenants/{t}/units/{u}".
// A unit scope covers the unit's whole subtree of sub-units.
type Grant struct {
	Role  Role   `json:"role"`
	Scope string `json:"scope"`
}

// Principal is an authenticated caller.
type Principal struct {
	// Issuer is the token's iss: DevIssuer for `pipa token`, the OIDC issuer's URL for a sign-in.
	// With Subject it names the account (S-5's role-grant history, pkg/rolegrant).
	Issuer  string
	Subject string // the token's sub: stable, and what the access log records
	Name    string // display name, if the token carries one
	Grants  []Grant
}

// Allows reports whether p holds one of roles on the tenant, or on a unit in unitPath: the chain of
// unit ids from the tenant's root unit down to the target unit (empty for a tenant-level resource).
// A grant on an ancestor unit thus covers every unit below it. With no roles it allows nothing.
func (p *Principal) Allows(tenant string, unitPath []string, roles ...Role) bool {
	if p == nil || tenant == "" {
		return false
	}
	for _, g := range p.Grants {
		if !slices.Contains(roles, g.Role) {
			continue
		}
		if g.Scope == ScopeAll {
			return true
		}
		t, unit, err := parseScope(g.Scope)
		if err != nil || t != tenant {
			continue
		}
		if unit == "" || slices.Contains(unitPath, unit) {
			return true
		}
	}
	return false
}

// IsService reports whether p is a pipa service: the service role on ScopeAll. A service grant on
// one tenant is an ordinary grant: it neither writes the access log nor escapes it.
func (p *Principal) IsService() bool {
	return p != nil && slices.Contains(p.Grants, Grant{Role: RoleService, Scope: ScopeAll})
}

// TenantScope says which tenants a list may show p: all of them, or those in which p holds any
// grant (sorted, without duplicates). Finer filtering by unit and role is the caller's.
func (p *Principal) TenantScope() (all bool, tenants []string) {
	if p == nil {
		return false, nil
	}
	for _, g := range p.Grants {
		if g.Scope == ScopeAll {
			return true, nil
		}
		if t, _, err := parseScope(g.Scope); err == nil {
			tenants = append(tenants, t)
		}
	}
	slices.Sort(tenants)
	return false, slices.Compact(tenants)
}

type principalKey struct{}

// NewContext returns a copy of ctx carrying p.
func NewContext(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the principal the interceptors put in ctx, if any. A public method called
// without a token has none.
func FromContext(ctx context.Context) (*Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(*Principal)
	return p, ok && p != nil
}

// parseScope splits a tenant or unit scope; unit is empty for a tenant scope. ScopeAll is not
// accepted here: callers test for it first.
func parseScope(scope string) (tenant, unit string, err error) {
	if tenant, err := names.ParseTenant("scope", scope); err == nil {
		return tenant, "", nil
	}
	if tenant, unit, err := names.ParseUnit("scope", scope); err == nil {
		return tenant, unit, nil
	}
	return "", "", fmt.Errorf("malformed scope %q: want %q, %q or %q",
		scope, ScopeAll, "tenants/{tenant}", "tenants/{tenant}/units/{unit}")
}

// Validate reports an unknown role or a malformed scope.
func (g Grant) Validate() error {
	if !g.Role.valid() {
		return fmt.Errorf("unknown role %q", g.Role)
	}
	if g.Scope == ScopeAll {
		return nil
	}
	_, _, err := parseScope(g.Scope)
	return err
}

func (p *Principal) validate() error {
	if p.Subject == "" {
		return errors.New("missing subject")
	}
	for _, g := range p.Grants {
		if err := g.Validate(); err != nil {
			return err
		}
	}
	return nil
}

// Tenant is the tenant of g's scope; "" for ScopeAll or a malformed scope.
func (g Grant) Tenant() string {
	t, _, _ := parseScope(g.Scope)
	return t
}

// newPrincipal builds a principal from verified claims, rejecting it whole if any grant is bad.
// No grants means the caller is authenticated but may do nothing that needs a role.
func newPrincipal(issuer, subject, name string, grants []Grant) (*Principal, error) {
	p := &Principal{Issuer: issuer, Subject: subject, Name: name, Grants: grants}
	if err := p.validate(); err != nil {
		return nil, err
	}
	return p, nil
}

// Officer names the caller as records state who acted: "name (subject)", the subject alone when
// the token carries no name, "unknown" without a caller.
func Officer(ctx context.Context) string {
	p, ok := FromContext(ctx)
	switch {
	case !ok:
		return "unknown"
	case p.Name != "":
		return p.Name + " (" + p.Subject + ")"
	}
	return p.Subject
}
