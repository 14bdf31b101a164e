package pg

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"golang.org/x/mod/sumdb/tlog"
)

// edgeIndexes are the stored-hash indexes of the roots of the complete subtrees that make up a
// tree of size n (one per 1 bit of n, largest first). They are exactly the earlier hashes that
// tlog.StoredHashes needs to append leaf n and that tlog.TreeHash needs for the root of n, so a
// sequencer that keeps them in memory appends without reading the hashes table.
func edgeIndexes(n int64) []int64 {
	var idx []int64
	var lo int64
	for l := 62; l >= 0; l-- {
		if n&(1<<l) != 0 {
			idx = append(idx, tlog.StoredHashIndex(l, lo>>l))
			lo += 1 << l
		}
	}
	return idx
}

// querier is what both a pool and a transaction offer.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// readHashes reads stored hashes of one log, in the order of indexes.
func readHashes(ctx context.Context, db querier, tenant, unit string, indexes []int64) ([]tlog.Hash, error) {
	if len(indexes) == 0 {
		return nil, nil
	}
	rows, err := db.Query(ctx, hashesSQL, tenant, unit, indexes)
	if err != nil {
		return nil, fmt.Errorf("ledger store: read hashes: %w", err)
	}
	found, err := scanHashes(rows, len(indexes))
	if err != nil {
		return nil, err
	}
	return orderHashes(tenant, unit, indexes, found)
}

// hashesSQL reads the stored hashes $3 of log ($1, $2), one index probe per hash (see lookupSQL
// for why not "storage_idx = ANY($3)").
const hashesSQL = `SELECT h.storage_idx, h.hash FROM unnest($3::bigint[]) AS r(i),
	LATERAL (SELECT storage_idx, hash FROM ledger.hashes
		WHERE tenant_id = $1 AND unit_id = $2 AND storage_idx = r.i OFFSET 0) AS h`

func scanHashes(rows pgx.Rows, n int) (map[int64]tlog.Hash, error) {
	found := make(map[int64]tlog.Hash, n)
	var i int64
	var b []byte
	if _, err := pgx.ForEachRow(rows, []any{&i, &b}, func() error {
		h, err := hashOf(b)
		found[i] = h
		return err
	}); err != nil {
		return nil, fmt.Errorf("ledger store: read hashes: %w", err)
	}
	return found, nil
}

// orderHashes returns found's hashes in the order of indexes, or an error naming one missing.
func orderHashes(tenant, unit string, indexes []int64, found map[int64]tlog.Hash) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for k, i := range indexes {
		h, ok := found[i]
		if !ok {
			return nil, fmt.Errorf("ledger store: tenants/%s/units/%s has no stored hash %d", tenant, unit, i)
		}
		out[k] = h
	}
	return out, nil
}

// HashReader reads the stored hashes of the unit's log, for tlog's proofs and for serving C2SP
// tlog-tiles (tlog.ReadTileData(tile, r)). Each ReadHashes is one query. Only hashes of committed
// trees are ever stored, so every hash it returns belongs to the log's latest checkpoint or an
// earlier one; a caller must still keep to indexes below StoredHashCount of the size it serves.
func (s *Store) HashReader(ctx context.Context, tenant, unit string) tlog.HashReader {
	return tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
		return readHashes(ctx, s.pool, tenant, unit, indexes)
	})
}

// txHashReader serves the appender: the right edge of the tree and the hashes of this batch from
// memory, anything else from the hashes table.
type txHashReader struct {
	ctx          context.Context
	db           querier // the transaction, or the pool on the fast path
	tenant, unit string
	known        map[int64]tlog.Hash
	newIdx       []int64
}

func (r *txHashReader) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	var missing []int64
	for i, idx := range indexes {
		h, ok := r.known[idx]
		if !ok {
			missing = append(missing, idx)
			continue
		}
		out[i] = h
	}
	if len(missing) == 0 {
		return out, nil
	}
	got, err := readHashes(r.ctx, r.db, r.tenant, r.unit, missing)
	if err != nil {
		return nil, err
	}
	for i, idx := range missing {
		r.known[idx] = got[i]
	}
	for i, idx := range indexes {
		out[i] = r.known[idx]
	}
	return out, nil
}

func (r *txHashReader) add(idx int64, h tlog.Hash) {
	r.known[idx] = h
	r.newIdx = append(r.newIdx, idx)
}

// edgeFor returns the right edge of the tree of size n from what the reader holds (nil if it
// lacks one, which makes the next batch reload it).
func (r *txHashReader) edgeFor(n int64) map[int64]tlog.Hash {
	edge := map[int64]tlog.Hash{}
	for _, idx := range edgeIndexes(n) {
		h, ok := r.known[idx]
		if !ok {
			return nil
		}
		edge[idx] = h
	}
	return edge
}

// hashReader returns the batch's reader for the locked tree (size, root). It starts from the
// cached edge when the cache is for this size (no other replica appended since), else from the
// hashes table; either way it checks that the edge hashes to the stored root, so a stale cache or
// a hashes table that disagrees with the head is caught before anything is appended.
func (q *sequencer) hashReader(ctx context.Context, tx pgx.Tx, size int64, root tlog.Hash) (*txHashReader, error) {
	r := &txHashReader{ctx: ctx, db: tx, tenant: q.id.Tenant, unit: q.id.Unit}
	fromCache := q.edgeSize == size && q.edge != nil
	for {
		r.known = make(map[int64]tlog.Hash, 64)
		if fromCache {
			for i, h := range q.edge {
				r.known[i] = h
			}
		} else if _, err := r.ReadHashes(edgeIndexes(size)); err != nil {
			return nil, err
		}
		got, err := tlog.TreeHash(size, r)
		if err != nil {
			return nil, err
		}
		if got == root {
			return r, nil
		}
		if !fromCache {
			return nil, fmt.Errorf("ledger store: tenants/%s/units/%s: stored hashes do not match the root of size %d",
				q.id.Tenant, q.id.Unit, size)
		}
		fromCache = false
	}
}
