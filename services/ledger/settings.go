package ledger

import (
	"context"
	"slices"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pipa-kr/pipa/pkg/apierr"
	"github.com/pipa-kr/pipa/pkg/auth"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	"github.com/pipa-kr/pipa/pkg/idempotency"
	"github.com/pipa-kr/pipa/pkg/names"
)

// settingsRoles may read and change a tenant's ledger settings: they are the tenant's, not one
// unit's.
var settingsRoles = []auth.Role{auth.RoleCPO, auth.RoleTenantAdmin}

// authorizeTenant parses tenants/{t}/ledgerSettings and checks the caller's tenant-wide role.
func authorizeTenant(ctx context.Context, field, name string) (string, error) {
	t, err := names.ParseTenantResource(field, name, "ledgerSettings")
	if err != nil {
		return "", err
	}
	p, ok := auth.FromContext(ctx)
	if !ok {
		return "", status.Error(codes.Unauthenticated, "a bearer token is required")
	}
	if all, tenants := p.TenantScope(); !all && !slices.Contains(tenants, t) || !p.Allows(t, nil, settingsRoles...) {
		return "", apierr.Denied("the caller's roles do not cover " + names.Tenant(t))
	}
	return t, nil
}

func (s *Server) GetLedgerSettings(ctx context.Context, req *ledgerv1.GetLedgerSettingsRequest) (*ledgerv1.LedgerSettings, error) {
	t, err := authorizeTenant(ctx, "name", req.GetName())
	if err != nil {
		return nil, err
	}
	set, err := s.store.Settings(ctx, t)
	if err != nil {
		return nil, err
	}
	return &ledgerv1.LedgerSettings{Name: req.GetName(), PublicEntryBundles: set.PublicEntryBundles}, nil
}

// UpdateLedgerSettings changes the fields of update_mask (AIP-134); an empty mask changes them
// all.
func (s *Server) UpdateLedgerSettings(ctx context.Context, req *ledgerv1.UpdateLedgerSettingsRequest) (*ledgerv1.LedgerSettings, error) {
	in := req.GetSettings()
	t, err := authorizeTenant(ctx, "settings.name", in.GetName())
	if err != nil {
		return nil, err
	}
	set, err := s.store.Settings(ctx, t)
	if err != nil {
		return nil, err
	}
	paths := req.GetUpdateMask().GetPaths()
	if len(paths) == 0 {
		paths = []string{"public_entry_bundles"}
	}
	for _, p := range paths {
		switch p {
		case "public_entry_bundles", "publicEntryBundles":
			set.PublicEntryBundles = in.GetPublicEntryBundles()
		default:
			return nil, invalid("update_mask", "format", "unknown field \""+p+"\"; the settings have public_entry_bundles")
		}
	}
	hash, err := idempotency.RequestHash(req)
	if err != nil {
		return nil, err
	}
	replayed, err := s.store.SetSettings(ctx, t, set, idempotency.Key{RequestID: req.GetRequestId(),
		Method: ledgerv1.LedgerService_UpdateLedgerSettings_FullMethodName, RequestHash: hash})
	if err != nil {
		return nil, err
	}
	if replayed { // a retry: the settings as they stand
		return s.GetLedgerSettings(ctx, &ledgerv1.GetLedgerSettingsRequest{Name: in.GetName()})
	}
	return &ledgerv1.LedgerSettings{Name: in.GetName(), PublicEntryBundles: set.PublicEntryBundles}, nil
}
