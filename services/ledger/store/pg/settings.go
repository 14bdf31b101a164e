package pg

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/pipa-kr/pipa/pkg/idempotency"
	"github.com/pipa-kr/pipa/pkg/names"
	"github.com/pipa-kr/pipa/pkg/pgdb"
)

// Settings are a tenant's choices about its ledgers.
type Settings struct {
	// PublicEntryBundles serves the units' entry bundles without a token.
	PublicEntryBundles bool
}

// Settings returns the tenant's ledger settings (the defaults when it never set them).
func (s *Store) Settings(ctx context.Context, tenant string) (Settings, error) {
	var set Settings
	err := s.pool.QueryRow(ctx, `SELECT public_entry_bundles FROM ledger.settings WHERE tenant_id = $1`, tenant).
		Scan(&set.PublicEntryBundles)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return Settings{}, fmt.Errorf("ledger store: read the settings of tenant %s: %w", tenant, err)
	}
	return set, nil
}

// SetSettings replaces the tenant's ledger settings, at most once per key's request_id (AIP-155,
// idempotency.Once): a retry of a call that succeeded changes nothing and says replayed.
func (s *Store) SetSettings(ctx context.Context, tenant string, set Settings, key idempotency.Key) (replayed bool, err error) {
	key.TenantID = tenant
	err = pgdb.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		_, replayed, err = idempotency.Once(ctx, tx, Schema, key, func() (string, error) {
			_, err := tx.Exec(ctx, `INSERT INTO ledger.settings (tenant_id, public_entry_bundles) VALUES ($1, $2)
				ON CONFLICT (tenant_id) DO UPDATE SET public_entry_bundles = $2, update_time = now()`, tenant, set.PublicEntryBundles)
			if err != nil {
				return "", fmt.Errorf("ledger store: write the settings of tenant %s: %w", tenant, err)
			}
			return names.Tenant(tenant) + "/ledgerSettings", nil
		})
		return err
	})
	return replayed, err
}
