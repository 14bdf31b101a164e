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
	"github.com/pipa-kr/pipa/services/ledger/entry"
	"github.com/pipa-kr/pipa/services/ledger/store/pg"
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
	return settingsOut(req.GetName(), set), nil
}

// settingsOut is set as served: the review cycle's default (0) as the monthly cycle it means.
func settingsOut(name string, set pg.Settings) *ledgerv1.LedgerSettings {
	return &ledgerv1.LedgerSettings{Name: name, PublicEntryBundles: set.PublicEntryBundles,
		DownloadReasonThreshold: set.DownloadReasonThreshold, ReviewCycleMonths: int32(entry.Cycle(set.ReviewCycleMonths))}
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
		paths = []string{"public_entry_bundles", "download_reason_threshold", "review_cycle_months"}
	}
	var vs apierr.Violations
	for _, p := range paths {
		switch p {
		case "public_entry_bundles", "publicEntryBundles":
			set.PublicEntryBundles = in.GetPublicEntryBundles()
		case "download_reason_threshold", "downloadReasonThreshold":
			if n := in.GetDownloadReasonThreshold(); n < 0 {
				vs.Add("settings.download_reason_threshold", "S-8-2", "a number of records, 0 (every download states its reason) or more")
			}
			set.DownloadReasonThreshold = in.GetDownloadReasonThreshold()
		case "review_cycle_months", "reviewCycleMonths":
			// S-8-2: the cycle the internal management plan fixes, monthly unless it says otherwise.
			if n := in.GetReviewCycleMonths(); n != 0 && !slices.Contains(entry.Cycles, int(n)) {
				vs.Add("settings.review_cycle_months", "S-8-2", "the review cycle in months is one of %v (0 is monthly), got %d", entry.Cycles, n)
			}
			set.ReviewCycleMonths = in.GetReviewCycleMonths()
		default:
			vs.Add("update_mask", "format", "unknown field %q; the settings have public_entry_bundles, download_reason_threshold and review_cycle_months", p)
		}
	}
	if err := vs.Err(); err != nil {
		return nil, err
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
	return settingsOut(in.GetName(), set), nil
}
