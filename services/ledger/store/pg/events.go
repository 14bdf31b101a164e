package pg

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Signed is a log's latest signed checkpoint, for its event.
type Signed struct {
	Log
	Size       int64
	Root       []byte
	Checkpoint string
}

// CheckpointKey is the outbound_once key under which the event of a log's checkpoint of size
// is written (at most once).
func CheckpointKey(l Log, size int64) string { return fmt.Sprintf("checkpoint/%s/%d", l.Unit, size) }

// Unannounced are up to limit logs, of every tenant, whose latest checkpoint (of a non-empty
// tree) has no row under CheckpointKey in the ledger's outbound_once: whose event is not written.
func (s *Store) Unannounced(ctx context.Context, limit int) ([]Signed, error) {
	rows, err := s.pool.Query(ctx, `SELECT l.tenant_id, l.unit_id, l.size, l.root, l.checkpoint FROM ledger.logs l
		WHERE l.size > 0 AND NOT EXISTS (SELECT 1 FROM ledger.outbound_once o WHERE o.tenant_id = l.tenant_id
			AND o.key = 'checkpoint/' || l.unit_id || '/' || l.size)
		ORDER BY l.tenant_id, l.unit_id LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("ledger store: list unannounced checkpoints: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Signed, error) {
		var c Signed
		return c, r.Scan(&c.Tenant, &c.Unit, &c.Size, &c.Root, &c.Checkpoint)
	})
}
