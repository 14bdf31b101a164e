package pg

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/pipa-kr/pipa/pkg/apierr"
	"github.com/pipa-kr/pipa/pkg/names"
)

// EntryRow is a stored entry.
type EntryRow struct {
	Index     int64
	Kind      string
	OccurTime time.Time
	RequestID string
	// Leaf is the exact bytes hashed into the tree; LeafHash is sha256(0x00 || Leaf).
	Leaf     []byte
	LeafHash []byte
	// Sealed holds the personal values, encrypted by the caller; nil once Redacted.
	Sealed     []byte
	Redacted   bool
	CommitTime time.Time
	// TreeSize is the size of the first checkpoint that includes the entry.
	TreeSize int64
	Follows  *int64
}

const entryCols = `idx, kind, occur_time, coalesce(request_id, ''), leaf, leaf_hash, sealed, redacted, commit_time, tree_size, follows`

func scanEntry(row pgx.Row) (EntryRow, error) {
	var e EntryRow
	err := row.Scan(&e.Index, &e.Kind, &e.OccurTime, &e.RequestID, &e.Leaf, &e.LeafHash, &e.Sealed,
		&e.Redacted, &e.CommitTime, &e.TreeSize, &e.Follows)
	return e, err
}

// Entry returns the entry at index of the unit's log.
func (s *Store) Entry(ctx context.Context, tenant, unit string, index int64) (EntryRow, error) {
	if err := checkIDs(tenant, unit); err != nil {
		return EntryRow{}, err
	}
	e, err := scanEntry(s.pool.QueryRow(ctx, `SELECT `+entryCols+` FROM ledger.entries
		WHERE tenant_id = $1 AND unit_id = $2 AND idx = $3`, tenant, unit, index))
	if errors.Is(err, pgx.ErrNoRows) {
		return EntryRow{}, apierr.NotFound(names.Entries.NameN(tenant, unit, index))
	}
	if err != nil {
		return EntryRow{}, fmt.Errorf("ledger store: read entry: %w", err)
	}
	return e, nil
}

// MaxEntries bounds Entries' limit.
const MaxEntries = 1000

// Entries lists the unit's entries with index > after (-1 for the first page) in index order, at
// most limit of them (1..MaxEntries; 0 means 100), only those of kind unless kind is empty.
func (s *Store) Entries(ctx context.Context, tenant, unit, kind string, after int64, limit int) ([]EntryRow, error) {
	if err := checkIDs(tenant, unit); err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, MaxEntries)
	q := `SELECT ` + entryCols + ` FROM ledger.entries WHERE tenant_id = $1 AND unit_id = $2 AND idx > $3`
	args := []any{tenant, unit, after, limit}
	if kind != "" {
		q += ` AND kind = $5`
		args = append(args, kind)
	}
	rows, err := s.pool.Query(ctx, q+` ORDER BY idx LIMIT $4`, args...)
	if err != nil {
		return nil, fmt.Errorf("ledger store: list entries: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (EntryRow, error) { return scanEntry(r) })
	if err != nil {
		return nil, fmt.Errorf("ledger store: list entries: %w", err)
	}
	return out, nil
}

// Checkpoint returns the unit's latest tree size, root hash and signed checkpoint. A log nobody
// has appended to has a signed checkpoint of size 0, created here on first read.
func (s *Store) Checkpoint(ctx context.Context, tenant, unit string) (size int64, root []byte, note string, err error) {
	if err := checkIDs(tenant, unit); err != nil {
		return 0, nil, "", err
	}
	const q = `SELECT size, root, checkpoint FROM ledger.logs WHERE tenant_id = $1 AND unit_id = $2`
	err = s.pool.QueryRow(ctx, q, tenant, unit).Scan(&size, &root, &note)
	if errors.Is(err, pgx.ErrNoRows) {
		if err = s.ensureLog(ctx, tenant, unit); err != nil {
			return 0, nil, "", err
		}
		err = s.pool.QueryRow(ctx, q, tenant, unit).Scan(&size, &root, &note)
	}
	if err != nil {
		return 0, nil, "", fmt.Errorf("ledger store: read checkpoint: %w", err)
	}
	return size, root, note, nil
}

// size is the log's committed size (0 for a log that does not exist yet).
func (s *Store) size(ctx context.Context, tenant, unit string) (int64, error) {
	var size int64
	err := s.pool.QueryRow(ctx, `SELECT size FROM ledger.logs WHERE tenant_id = $1 AND unit_id = $2`,
		tenant, unit).Scan(&size)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("ledger store: read log size: %w", err)
	}
	return size, nil
}

// InclusionProof proves that entry index is in the unit's tree of size treeSize (RFC 9162
// 2.1.3), for tlog.CheckRecord.
func (s *Store) InclusionProof(ctx context.Context, tenant, unit string, index, treeSize int64) ([][]byte, error) {
	if err := checkIDs(tenant, unit); err != nil {
		return nil, err
	}
	size := int64(-1)
	if index >= 0 && treeSize > index {
		// One round trip: the log's size, then the proof's hashes, in one pipeline. Hashes are
		// committed with the size that covers them and never change, so a size read first
		// vouches for the hashes read after it.
		p, err := tlog.ProveRecord(treeSize, index, tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
			b := &pgx.Batch{}
			b.Queue(`SELECT size FROM ledger.logs WHERE tenant_id = $1 AND unit_id = $2`, tenant, unit).
				QueryRow(func(r pgx.Row) error {
					err := r.Scan(&size)
					if errors.Is(err, pgx.ErrNoRows) {
						size, err = 0, nil
					}
					return err
				})
			var found map[int64]tlog.Hash
			b.Queue(hashesSQL, tenant, unit, indexes).Query(func(rows pgx.Rows) (err error) {
				found, err = scanHashes(rows, len(indexes))
				return err
			})
			if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
				size = -1
				return nil, fmt.Errorf("ledger store: read log size and hashes: %w", err)
			}
			if treeSize > size {
				return nil, errBeyondSize // answered below, from size
			}
			return orderHashes(tenant, unit, indexes, found)
		}))
		switch {
		case err == nil && size >= 0:
			return hashBytes(p), nil
		case err != nil && !errors.Is(err, errBeyondSize):
			return nil, err
		}
		// The size was not read (a proof of no hashes: a tree of one entry) or is too small.
	}
	if size < 0 {
		var err error
		if size, err = s.size(ctx, tenant, unit); err != nil {
			return nil, err
		}
	}
	if index < 0 || index >= size {
		return nil, apierr.NotFound(names.Entries.NameN(tenant, unit, index))
	}
	if treeSize <= index || treeSize > size {
		return nil, apierr.Invalid(apierr.Violation{Field: "tree_size", Rule: "range",
			Description: fmt.Sprintf("tree_size must be greater than the entry's index %d and at most the log's size %d", index, size)})
	}
	p, err := tlog.ProveRecord(treeSize, index, s.HashReader(ctx, tenant, unit))
	if err != nil {
		return nil, err
	}
	return hashBytes(p), nil
}

// ConsistencyProof proves that the unit's tree of size to extends the tree of size from (RFC 9162
// 2.1.4), for tlog.CheckTree.
func (s *Store) ConsistencyProof(ctx context.Context, tenant, unit string, from, to int64) ([][]byte, error) {
	if err := checkIDs(tenant, unit); err != nil {
		return nil, err
	}
	var vs apierr.Violations
	if from < 1 {
		vs.Add("from", "range", "from must be at least 1 (every tree extends the empty tree)")
	} else if from > to {
		vs.Add("from", "range", "from (%d) must not be greater than to (%d)", from, to)
	}
	if err := vs.Err(); err != nil {
		return nil, err
	}
	size, err := s.size(ctx, tenant, unit)
	if err != nil {
		return nil, err
	}
	if to > size {
		return nil, apierr.Invalid(apierr.Violation{Field: "to", Rule: "range",
			Description: fmt.Sprintf("to (%d) must not be greater than the log's size %d", to, size)})
	}
	p, err := tlog.ProveTree(to, from, s.HashReader(ctx, tenant, unit))
	if err != nil {
		return nil, err
	}
	return hashBytes(p), nil
}

// errBeyondSize stops a proof whose tree_size is beyond the log's size.
var errBeyondSize = errors.New("ledger store: tree size beyond the log")

func hashBytes(hs []tlog.Hash) [][]byte {
	out := make([][]byte, len(hs))
	for i := range hs {
		out[i] = hs[i][:]
	}
	return out
}

// HasLog reports whether the unit's log exists (it does from its first append or first
// checkpoint read), without creating it: what an unauthenticated caller may learn.
func (s *Store) HasLog(ctx context.Context, tenant, unit string) (bool, error) {
	var ok bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM ledger.logs WHERE tenant_id = $1 AND unit_id = $2)`, tenant, unit).Scan(&ok)
	return ok, err
}
