package ledgerout

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Querier is a pool or a transaction.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// Record is an entry's standing, as a service shows it.
type Record struct {
	Settled
	// Pending: not yet in the ledger; Refusal: why the ledger refused it (then not pending).
	Pending bool
	Refusal string
}

// Records are the entries of the tenant's subjects, each subject's in the order they were written.
func (o *Outbox) Records(ctx context.Context, q Querier, tenant string, subjects []string) (map[string][]Record, error) {
	rows, err := q.Query(ctx, `SELECT id, unit_id, subject, label, chain, coalesce(ledger_index, 0), coalesce(leaf_hash, ''),
		ledger_index IS NULL AND refuse_time IS NULL, coalesce(refusal, '')
		FROM `+o.table()+` WHERE tenant_id = $1 AND subject = ANY($2) ORDER BY subject, id`, tenant, subjects)
	if err != nil {
		return nil, err
	}
	out := map[string][]Record{}
	_, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (struct{}, error) {
		rec := Record{Settled: Settled{Tenant: tenant}}
		if err := r.Scan(&rec.ID, &rec.Unit, &rec.Subject, &rec.Label, &rec.Chain, &rec.Index, &rec.LeafHash,
			&rec.Pending, &rec.Refusal); err != nil {
			return struct{}{}, err
		}
		out[rec.Subject] = append(out[rec.Subject], rec)
		return struct{}{}, nil
	})
	return out, err
}

// Delivered are the index and leaf hash of the tenant's entries ids that the ledger took.
func (o *Outbox) Delivered(ctx context.Context, q Querier, tenant string, ids []int64) (map[int64]Settled, error) {
	rows, err := q.Query(ctx, `SELECT id, ledger_index, leaf_hash FROM `+o.table()+`
		WHERE tenant_id = $1 AND id = ANY($2) AND ledger_index IS NOT NULL`, tenant, ids)
	if err != nil {
		return nil, err
	}
	out := map[int64]Settled{}
	_, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (struct{}, error) {
		s := Settled{Tenant: tenant}
		err := r.Scan(&s.ID, &s.Index, &s.LeafHash)
		out[s.ID] = s
		return struct{}{}, err
	})
	return out, err
}

// Pending reports whether an entry of the tenant's subject still waits for the ledger.
func (o *Outbox) Pending(ctx context.Context, q Querier, tenant, subject string) (bool, error) {
	var pending bool
	err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+o.table()+` WHERE tenant_id = $1 AND subject = $2
		AND ledger_index IS NULL AND refuse_time IS NULL)`, tenant, subject).Scan(&pending)
	return pending, err
}

// Forget erases the stored entries of the tenant's subject that are settled (the ledger has them,
// or never will): what they said of people is then only in the ledger, whose redaction erases it.
func (o *Outbox) Forget(ctx context.Context, q Querier, tenant, subject string) error {
	_, err := q.Exec(ctx, `UPDATE `+o.table()+` SET entry = NULL WHERE tenant_id = $1 AND subject = $2
		AND (ledger_index IS NOT NULL OR refuse_time IS NOT NULL)`, tenant, subject)
	return err
}
