package pg

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Leaves returns the leaf bytes of entries start..start+n-1 of the unit's log, in index order and
// nothing else of them (not the sealed values): what a C2SP tlog-tiles entry bundle holds. It is
// one range scan of the primary key. It fails unless all n entries exist, so a caller keeps to
// indexes below a committed size it has read (entries below it are never missing).
func (s *Store) Leaves(ctx context.Context, tenant, unit string, start int64, n int) ([][]byte, error) {
	if err := checkIDs(tenant, unit); err != nil {
		return nil, err
	}
	if start < 0 || n < 1 || n > MaxEntries {
		return nil, fmt.Errorf("ledger store: leaves: bad range start %d, n %d", start, n)
	}
	rows, err := s.pool.Query(ctx, `SELECT idx, leaf FROM ledger.entries
		WHERE tenant_id = $1 AND unit_id = $2 AND idx >= $3 AND idx < $3 + $4 ORDER BY idx`,
		tenant, unit, start, int64(n))
	if err != nil {
		return nil, fmt.Errorf("ledger store: read leaves: %w", err)
	}
	out := make([][]byte, 0, n)
	var idx int64
	var leaf []byte
	if _, err := pgx.ForEachRow(rows, []any{&idx, &leaf}, func() error {
		if want := start + int64(len(out)); idx != want {
			return fmt.Errorf("entry %d is missing", want)
		}
		out = append(out, leaf)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("ledger store: read leaves of tenants/%s/units/%s: %w", tenant, unit, err)
	}
	if len(out) != n {
		return nil, fmt.Errorf("ledger store: tenants/%s/units/%s has %d of entries %d..%d",
			tenant, unit, len(out), start, start+int64(n)-1)
	}
	return out, nil
}
