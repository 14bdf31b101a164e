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
	// Leaf is the exact bytes hashed into the tree; LeafHash is sha256(0x00 || Leaf), computed.
	Leaf     []byte
	LeafHash []byte
	// Sealed holds the personal values, encrypted by the caller; nil once Redacted.
	Sealed   []byte
	Redacted bool
	// RedactionLeaf is the leaf of the REDACTION entry that erased this one's values (when
	// Redacted), for the caller to check that it says so.
	RedactionLeaf []byte
	CommitTime    time.Time
	// TreeSize is the size of the first checkpoint that includes the entry.
	TreeSize int64
	Follows  *int64
}

const entryCols = `e.idx, e.kind, e.occur_time, coalesce(e.request_id, ''), e.leaf, e.sealed, e.redacted, r.leaf,
	e.commit_time, e.tree_size, e.follows`

// entryFrom joins each entry (e) with the REDACTION entry that erased it (r).
const entryFrom = ` FROM ledger.entries e LEFT JOIN ledger.entries r
	ON r.tenant_id = e.tenant_id AND r.unit_id = e.unit_id AND r.idx = e.redacted_by`

// scanEntry scans entryCols, after the columns before, if any.
func scanEntry(row pgx.Row, before ...any) (EntryRow, error) {
	var e EntryRow
	err := row.Scan(append(before, &e.Index, &e.Kind, &e.OccurTime, &e.RequestID, &e.Leaf, &e.Sealed, &e.Redacted,
		&e.RedactionLeaf, &e.CommitTime, &e.TreeSize, &e.Follows)...)
	h := tlog.RecordHash(e.Leaf)
	e.LeafHash = h[:]
	return e, err
}

// Entry returns the entry at index of the unit's log.
func (s *Store) Entry(ctx context.Context, tenant, unit string, index int64) (EntryRow, error) {
	if err := checkIDs(tenant, unit); err != nil {
		return EntryRow{}, err
	}
	e, err := scanEntry(s.pool.QueryRow(ctx, `SELECT `+entryCols+entryFrom+`
		WHERE e.tenant_id = $1 AND e.unit_id = $2 AND e.idx = $3`, tenant, unit, index))
	if errors.Is(err, pgx.ErrNoRows) {
		return EntryRow{}, apierr.NotFound(names.Entries.NameN(tenant, unit, index))
	}
	if err != nil {
		return EntryRow{}, fmt.Errorf("ledger store: read entry: %w", err)
	}
	return e, nil
}

// accessKind is the kind of access records (S-2-3), which entries_kind_not_access leaves out.
const accessKind = "ACCESS"

// MaxEntries bounds Entries' limit.
const MaxEntries = 1000

// Filter narrows Entries: to one kind unless Kind is empty, to redacted entries when Redacted.
type Filter struct {
	Kind string
	// Redacted keeps the entries whose values were erased, Unredacted the others.
	Redacted, Unredacted bool
}

// Entries lists the unit's entries with index > after (-1 for the first page) in index order, at
// most limit of them (1..MaxEntries; 0 means 100), those that pass f.
func (s *Store) Entries(ctx context.Context, tenant, unit string, f Filter, after int64, limit int) ([]EntryRow, error) {
	if err := checkIDs(tenant, unit); err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, MaxEntries)
	args := []any{tenant, unit, after, limit}
	if f.Kind != "" && f.Kind != accessKind {
		args = append(args, f.Kind)
	}
	rows, err := s.pool.Query(ctx, entriesSQL(f), args...)
	if err != nil {
		return nil, fmt.Errorf("ledger store: list entries: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (EntryRow, error) { return scanEntry(r) })
	if err != nil {
		return nil, fmt.Errorf("ledger store: list entries: %w", err)
	}
	return out, nil
}

// entriesSQL is Entries' query for f, with parameters tenant, unit, after, limit and, for a kind
// other than ACCESS, the kind.
func entriesSQL(f Filter) string {
	q := `SELECT ` + entryCols + entryFrom + ` WHERE e.tenant_id = $1 AND e.unit_id = $2 AND e.idx > $3`
	switch f.Kind {
	case "":
	case accessKind: // most of a log: the primary key's order, the kind a filter (migration 00009)
		q += ` AND e.kind = '` + accessKind + `'`
	default: // the predicate of entries_kind_not_access, so that a generic plan can use it
		q += ` AND e.kind = $5 AND e.kind <> '` + accessKind + `'`
	}
	if f.Redacted {
		q += ` AND e.redacted`
	}
	if f.Unredacted {
		q += ` AND NOT e.redacted`
	}
	return q + ` ORDER BY e.idx LIMIT $4`
}

// Head is a log's latest tree as its signed checkpoint states it.
type Head struct {
	Size int64
	Root tlog.Hash
	// Checkpoint is the C2SP tlog-checkpoint note, checked with VerifierKey; Origin its first line.
	Checkpoint, VerifierKey, Origin string
}

// Checkpoint returns the unit's latest checkpoint, its signature checked with the log's key and
// its tree read from it (DataLoss when the stored head disagrees). A log nobody has appended to
// has a signed checkpoint of size 0, created here on first read unless existing is set, when a
// log that does not exist is NotFound.
func (s *Store) Checkpoint(ctx context.Context, tenant, unit string, existing bool) (Head, error) {
	if err := checkIDs(tenant, unit); err != nil {
		return Head{}, err
	}
	l := Log{tenant, unit}
	const q = `SELECT size, root, checkpoint, verifier_key FROM ledger.logs WHERE tenant_id = $1 AND unit_id = $2`
	var size int64
	var root []byte
	var h Head
	err := s.pool.QueryRow(ctx, q, tenant, unit).Scan(&size, &root, &h.Checkpoint, &h.VerifierKey)
	if errors.Is(err, pgx.ErrNoRows) {
		if existing {
			return Head{}, apierr.NotFound(names.Ledger(l.Tenant, l.Unit))
		}
		if _, err = s.ensureLog(ctx, l); err != nil {
			return Head{}, err
		}
		err = s.pool.QueryRow(ctx, q, tenant, unit).Scan(&size, &root, &h.Checkpoint, &h.VerifierKey)
	}
	if err != nil {
		return Head{}, fmt.Errorf("ledger store: read checkpoint: %w", err)
	}
	k, err := s.currentKey(ctx, l, h.VerifierKey)
	if err != nil {
		return Head{}, err
	}
	if err := k.checkHead(l, size, root, h.Checkpoint); err != nil {
		return Head{}, err
	}
	h.Size, h.Origin = size, k.origin
	copy(h.Root[:], root)
	return h, nil
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

// MaxTreeSize bounds every tree size and index a caller may name, before the log is read:
// golang.org/x/mod/sumdb/tlog computes proofs with shifts that overflow (and loop for ever) on
// sizes above 2^62. No log comes near it.
const MaxTreeSize = 1 << 62

// ProofBounds says what is wrong with the inclusion proof of entry index in the tree of treeSize,
// for a log of the given size ("" for nothing): the entry must be in the log and the tree size
// between index+1 and the log's size. Bounded work, whatever the numbers.
func ProofBounds(index, treeSize, size int64) (field, problem string) {
	switch {
	case index < 0 || index >= size:
		return "name", fmt.Sprintf("entry %d is not in the log of size %d", index, size)
	case treeSize <= index || treeSize > size:
		return "tree_size", fmt.Sprintf("tree_size must be greater than the entry's index %d and at most the log's size %d", index, size)
	}
	return "", ""
}

// ConsistencyBounds says what is wrong with a consistency proof from size from to size to, for a
// log of the given size ("" for nothing).
func ConsistencyBounds(from, to, size int64) (field, problem string) {
	switch {
	case from < 1:
		return "from", "from must be at least 1 (every tree extends the empty tree)"
	case from > to:
		return "from", fmt.Sprintf("from (%d) must not be greater than to (%d)", from, to)
	case to > size:
		return "to", fmt.Sprintf("to (%d) must not be greater than the log's size %d", to, size)
	}
	return "", ""
}

// InclusionProof proves that entry index is in the unit's tree of size treeSize (the log's size
// when 0) (RFC 9162 2.1.3), for tlog.CheckRecord, and returns that size. Both are checked against
// the log's size before anything else.
func (s *Store) InclusionProof(ctx context.Context, tenant, unit string, index, treeSize int64) ([][]byte, int64, error) {
	if err := checkIDs(tenant, unit); err != nil {
		return nil, 0, err
	}
	size, err := s.size(ctx, tenant, unit)
	if err != nil {
		return nil, 0, err
	}
	if treeSize == 0 {
		treeSize = size
	}
	if field, problem := ProofBounds(index, treeSize, min(size, MaxTreeSize)); problem != "" {
		if field == "name" {
			return nil, 0, apierr.NotFound(names.Entries.NameN(tenant, unit, index))
		}
		return nil, 0, apierr.Invalid(apierr.Violation{Field: field, Rule: "range", Description: problem})
	}
	p, err := tlog.ProveRecord(treeSize, index, s.HashReader(ctx, tenant, unit))
	if err != nil {
		return nil, 0, err
	}
	return hashBytes(p), treeSize, nil
}

// ConsistencyProof proves that the unit's tree of size to extends the tree of size from (RFC 9162
// 2.1.4), for tlog.CheckTree. Both are checked against the log's size before anything else.
func (s *Store) ConsistencyProof(ctx context.Context, tenant, unit string, from, to int64) ([][]byte, error) {
	if err := checkIDs(tenant, unit); err != nil {
		return nil, err
	}
	size, err := s.size(ctx, tenant, unit)
	if err != nil {
		return nil, err
	}
	if field, problem := ConsistencyBounds(from, to, min(size, MaxTreeSize)); problem != "" {
		return nil, apierr.Invalid(apierr.Violation{Field: field, Rule: "range", Description: problem})
	}
	p, err := tlog.ProveTree(to, from, s.HashReader(ctx, tenant, unit))
	if err != nil {
		return nil, err
	}
	return hashBytes(p), nil
}

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
