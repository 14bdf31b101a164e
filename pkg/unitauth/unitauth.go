// Package unitauth answers, for a service that keeps no copy of the registry, whether the caller
// may act on a unit: it asks the registry for the unit and its parents with the caller's own
// token, so the registry's tenancy rules decide visibility and a unit that does not exist is
// refused. Parents never change (the registry fixes them at creation), so what it learns is kept.
package unitauth

import (
	"context"
	"slices"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/pipa-kr/pipa/pkg/apierr"
	"github.com/pipa-kr/pipa/pkg/auth"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/pkg/names"
)

// Units is safe for concurrent use.
type Units struct {
	Registry registryv1.RegistryServiceClient
	parents  sync.Map // "t/u" → parent unit id ("" for a top-level unit)
}

// Authorize checks that the caller holds one of roles on the tenant or on a unit subtree that
// contains unit, and that the unit exists.
func (us *Units) Authorize(ctx context.Context, tenant, unit string, roles []auth.Role) error {
	p, ok := auth.FromContext(ctx)
	if !ok {
		return status.Error(codes.Unauthenticated, "a bearer token is required")
	}
	denied := apierr.Denied("the caller's roles do not cover " + names.Unit(tenant, unit))
	all, tenants := p.TenantScope()
	if !all && !slices.Contains(tenants, tenant) {
		return denied // nothing is asked about a tenant the caller has no grant in
	}
	path := []string{}
	for id := unit; id != ""; {
		parent, err := us.parent(ctx, tenant, id)
		if err != nil {
			if id != unit && apierr.CodeOf(err) == codes.PermissionDenied {
				break // the caller may see this subtree but not the units above it
			}
			return err
		}
		path = append([]string{id}, path...)
		if p.Allows(tenant, path, roles...) {
			return nil
		}
		id = parent
	}
	return denied
}

func (us *Units) parent(ctx context.Context, tenant, unit string) (string, error) {
	key := tenant + "/" + unit
	if v, ok := us.parents.Load(key); ok {
		return v.(string), nil
	}
	u, err := us.Registry.GetUnit(ForwardToken(ctx), &registryv1.GetUnitRequest{Name: names.Unit(tenant, unit)})
	if err != nil {
		return "", err
	}
	parent := ""
	if pn := u.GetParent(); pn != "" {
		if _, parent, err = names.ParseUnit("parent", pn); err != nil {
			return "", err
		}
	}
	us.parents.Store(key, parent)
	return parent, nil
}

// ForwardToken returns ctx with the caller's bearer token on outgoing calls, so that the service
// called applies the caller's rights, not the calling service's.
func ForwardToken(ctx context.Context) context.Context {
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if a := md.Get("authorization"); len(a) > 0 {
			return metadata.AppendToOutgoingContext(ctx, "authorization", a[0])
		}
	}
	return ctx
}

// WithToken returns ctx carrying token (e.g. the service's own) on outgoing calls.
func WithToken(ctx context.Context, token string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
}

// AsService returns ctx carrying the service's own credential (token) on outgoing calls, for work
// no caller's token covers: public methods and background jobs. No credential is Unavailable.
func AsService(ctx context.Context, token func() (string, error)) (context.Context, error) {
	if token == nil {
		return nil, status.Error(codes.Unavailable, "no service credential: set PIPA_SERVICE_TOKEN_FILE")
	}
	tok, err := token()
	if err != nil {
		return nil, status.Error(codes.Unavailable, "the service credential is unavailable")
	}
	return WithToken(ctx, tok), nil
}
