package registry

import (
	"context"
	"slices"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/pipa-kr/pipa/pkg/apierr"
	"github.com/pipa-kr/pipa/pkg/auth"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/pkg/names"
	"github.com/pipa-kr/pipa/services/registry/policy"
	"github.com/pipa-kr/pipa/services/registry/store/pg"
)

func (s *Server) CreateTenant(ctx context.Context, req *registryv1.CreateTenantRequest) (*registryv1.Tenant, error) {
	var ids apierr.Violations
	names.CheckID(&ids, "tenant_id", req.GetTenantId())
	if err := ids.Err(); err != nil {
		return nil, err
	}
	// Only the platform operator (tenant_admin on "*") creates tenants; a tenant's own admin
	// must not mint neighbours.
	if p, ok := auth.FromContext(ctx); !ok || !slices.Contains(p.Grants, auth.Grant{Role: auth.RoleTenantAdmin, Scope: auth.ScopeAll}) {
		return nil, apierr.Denied("creating a tenant needs the tenant_admin role on scope \"*\"")
	}
	t := proto.CloneOf(req.GetTenant())
	clearOutputOnly(t)
	if t.NoticeLeadDays == 0 {
		t.NoticeLeadDays = policy.DefaultNoticeLeadDays
	}
	vs := validateTenant(t)
	checkRequestID(&vs, req.GetRequestId())
	if err := vs.Err(); err != nil {
		return nil, err
	}
	return s.store.CreateTenant(ctx, req.GetTenantId(), t, idem(ctx, req.GetRequestId(), req))
}

func (s *Server) GetTenant(ctx context.Context, req *registryv1.GetTenantRequest) (*registryv1.Tenant, error) {
	t, err := names.ParseTenant("name", req.GetName())
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, t, "", readRoles); err != nil {
		if err := s.hideUnits(ctx, t, err); err != nil {
			return nil, err
		}
	}
	return s.store.Tenant(t).Get(ctx)
}

// hideUnits lets a caller with a role on some unit of a tenant read the tenant record itself
// (its name and settings are needed to render anything), and nobody else.
func (s *Server) hideUnits(ctx context.Context, tenant string, err error) error {
	p, ok := auth.FromContext(ctx)
	if !ok {
		return err
	}
	all, tenants := p.TenantScope()
	if all || slices.Contains(tenants, tenant) {
		return nil
	}
	return err
}

func (s *Server) ListTenants(ctx context.Context, req *registryv1.ListTenantsRequest) (*registryv1.ListTenantsResponse, error) {
	p, ok := auth.FromContext(ctx)
	if !ok {
		return nil, status.Error(codes.Unauthenticated, "a bearer token is required")
	}
	n, err := pageSize(req.GetPageSize())
	if err != nil {
		return nil, err
	}
	all, ids := p.TenantScope()
	ts, next, err := s.store.ListTenants(ctx, all, ids, n, req.GetPageToken())
	if err != nil {
		return nil, err
	}
	return &registryv1.ListTenantsResponse{Tenants: ts, NextPageToken: next}, nil
}

func (s *Server) UpdateTenant(ctx context.Context, req *registryv1.UpdateTenantRequest) (*registryv1.Tenant, error) {
	t, err := names.ParseTenant("tenant.name", req.GetTenant().GetName())
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, t, "", adminRoles); err != nil {
		return nil, err
	}
	var out *registryv1.Tenant
	_, err = s.once(ctx, t, req.GetRequestId(), req, names.Tenant(t), func(tx *pg.TenantStore) error {
		cur, err := tx.Get(ctx)
		if err != nil {
			return err
		}
		if err := applyMask(cur, req.GetTenant(), req.GetUpdateMask(), nil); err != nil {
			return err
		}
		if err := validateTenant(cur).Err(); err != nil {
			return err
		}
		out, err = tx.Update(ctx, cur, req.GetTenant().GetEtag())
		return err
	}, func(tx *pg.TenantStore) (err error) {
		out, err = tx.Get(ctx)
		return err
	})
	return out, err
}

func (s *Server) CreateUnit(ctx context.Context, req *registryv1.CreateUnitRequest) (*registryv1.Unit, error) {
	t, err := names.ParseTenant("parent", req.GetParent())
	if err != nil {
		return nil, err
	}
	u := proto.CloneOf(req.GetUnit())
	parentID := ""
	if p := u.GetParent(); p != "" {
		pt, pu, err := names.ParseUnit("unit.parent", p)
		if err != nil {
			return nil, err
		}
		if pt != t {
			return nil, apierr.Invalid(apierr.Violation{Field: "unit.parent", Rule: "tenancy",
				Description: "the parent unit must belong to the same tenant"})
		}
		parentID = pu
	}
	// Creating a sub-unit needs write rights on its parent's subtree; a top-level unit on the tenant.
	if err := s.authorize(ctx, t, parentID, writeRoles); err != nil {
		return nil, err
	}
	clearOutputOnly(u)
	vs := validateUnit(u)
	names.CheckID(&vs, "unit_id", req.GetUnitId())
	checkRequestID(&vs, req.GetRequestId())
	if err := vs.Err(); err != nil {
		return nil, err
	}
	return s.store.Tenant(t).CreateUnit(ctx, req.GetUnitId(), parentID, u, idem(ctx, req.GetRequestId(), req))
}

func (s *Server) GetUnit(ctx context.Context, req *registryv1.GetUnitRequest) (*registryv1.Unit, error) {
	t, u, err := names.ParseUnit("name", req.GetName())
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, t, u, readRoles); err != nil {
		return nil, err
	}
	return s.store.Tenant(t).GetUnit(ctx, u)
}

func (s *Server) ListUnits(ctx context.Context, req *registryv1.ListUnitsRequest) (*registryv1.ListUnitsResponse, error) {
	t, err := names.ParseTenant("parent", req.GetParent())
	if err != nil {
		return nil, err
	}
	n, err := pageSize(req.GetPageSize())
	if err != nil {
		return nil, err
	}
	p, _ := auth.FromContext(ctx)
	if err := s.authorize(ctx, t, "", readRoles); err != nil {
		// A unit-scoped caller lists the units it may see.
		if p == nil || s.hideUnits(ctx, t, err) != nil {
			return nil, err
		}
		return s.listVisibleUnits(ctx, p, t)
	}
	us, next, err := s.store.Tenant(t).ListUnits(ctx, n, req.GetPageToken())
	if err != nil {
		return nil, err
	}
	return &registryv1.ListUnitsResponse{Units: us, NextPageToken: next}, nil
}

// listVisibleUnits returns the units inside the caller's unit-scoped grants (unpaged: such a
// caller sees one department's subtree).
func (s *Server) listVisibleUnits(ctx context.Context, p *auth.Principal, t string) (*registryv1.ListUnitsResponse, error) {
	ts := s.store.Tenant(t)
	var out []*registryv1.Unit
	seen := map[string]bool{}
	for _, g := range p.Grants {
		gt, gu, err := names.ParseUnit("scope", g.Scope)
		if err != nil || gt != t || !slices.Contains(readRoles, g.Role) {
			continue
		}
		root, err := ts.GetUnit(ctx, gu)
		if apierr.CodeOf(err) == codes.NotFound {
			continue // a grant on a unit that no longer exists
		}
		if err != nil {
			return nil, err
		}
		sub, err := ts.Subtree(ctx, gu)
		if err != nil {
			return nil, err
		}
		for _, u := range append([]*registryv1.Unit{root}, sub...) {
			if !seen[u.GetName()] {
				seen[u.GetName()] = true
				out = append(out, u)
			}
		}
	}
	return &registryv1.ListUnitsResponse{Units: out}, nil
}

// unitPaths are the fields an update may change: the tree is fixed at creation, and the full
// name is the parents' names and the unit's.
var unitPaths = updatable(&registryv1.Unit{}, "parent", "full_name")

func (s *Server) UpdateUnit(ctx context.Context, req *registryv1.UpdateUnitRequest) (*registryv1.Unit, error) {
	t, u, err := names.ParseUnit("unit.name", req.GetUnit().GetName())
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, t, u, writeRoles); err != nil {
		return nil, err
	}
	var out *registryv1.Unit
	_, err = s.once(ctx, t, req.GetRequestId(), req, names.Unit(t, u), func(tx *pg.TenantStore) error {
		cur, err := tx.GetUnit(ctx, u)
		if err != nil {
			return err
		}
		if err := applyMask(cur, req.GetUnit(), req.GetUpdateMask(), unitPaths); err != nil {
			return err
		}
		// The full name is read, derived from the stored names (the unit's may be the one this
		// update shortens), and not written: not the update's to check.
		clearFields(cur, "full_name")
		if err := validateUnit(cur).Err(); err != nil {
			return err
		}
		out, err = tx.UpdateUnit(ctx, cur, req.GetUnit().GetEtag())
		return err
	}, func(tx *pg.TenantStore) (err error) {
		out, err = tx.GetUnit(ctx, u)
		return err
	})
	return out, err
}
