package pg

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/pipa-kr/pipa/pkg/outbound"
)

// WithOutbound gives the store the outbound (pkg/outbound, in the registry schema) that relays
// the registry's events to the request service's subscriptions.
func WithOutbound(o *outbound.Outbound) Option { return func(s *Store) { s.out = o } }

// Relay writes e, an event of the tenant, in the store's transaction (InTx), so that it exists
// exactly when the change it tells of committed; once is a key that makes it the only event
// written under that key (empty: none). Without an outbound it writes nothing.
func (s *TenantStore) Relay(ctx context.Context, once string, e outbound.Event) error {
	tx, ok := s.db.(pgx.Tx)
	if !ok {
		return errors.New("pg: Relay outside InTx")
	}
	if s.out == nil {
		return nil
	}
	if once != "" {
		first, err := s.out.Once(ctx, tx, s.tenant, once)
		if err != nil || !first {
			return err
		}
	}
	_, err := s.out.Relay(ctx, tx, s.tenant, e)
	return err
}

// Effective is an announced version whose effective date came.
type Effective struct {
	Tenant, Unit, Kind string
	Number             int32
	Date               string
}

// ComingIntoForce are the announced versions of every tenant whose effective date is in
// [since, today] (YYYY-MM-DD) and that have no outbound_once row under key(version) yet: at most
// limit, for the job that tells of them.
func (s *Store) ComingIntoForce(ctx context.Context, since, today string, limit int) ([]Effective, error) {
	rows, err := s.pool.Query(ctx, `SELECT v.tenant_id, v.unit_id, v.kind, v.number, v.effective_date::text
		FROM registry.policy_versions v WHERE v.state = 'announced' AND v.effective_date BETWEEN $1::date AND $2::date
		AND NOT EXISTS (SELECT 1 FROM registry.outbound_once o WHERE o.tenant_id = v.tenant_id
			AND o.key = 'policy-in-force/tenants/' || v.tenant_id || '/units/' || v.unit_id || '/policies/' || v.kind || '/versions/' || v.number)
		ORDER BY v.effective_date, v.tenant_id, v.unit_id, v.kind, v.number LIMIT $3`, since, today, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[Effective])
}
