package pg

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	logfmt "github.com/transparency-dev/formats/log"
	"golang.org/x/mod/sumdb/note"
)

// WitnessState is what a witness last cosigned of a log: the tree size it holds and its
// cosignature line over the log's checkpoint of that size, or why it last refused.
type WitnessState struct {
	Size        int64
	Cosignature string
	LastError   string
	AttemptTime time.Time
}

// WitnessState returns what witness last cosigned of the unit's log (size 0 when never).
func (s *Store) WitnessState(ctx context.Context, tenant, unit, witness string) (WitnessState, error) {
	var w WitnessState
	var cosig, lastErr *string
	var at *time.Time
	err := s.pool.QueryRow(ctx, `SELECT size, cosignature, last_error, attempt_time FROM ledger.witness_state
		WHERE tenant_id = $1 AND unit_id = $2 AND witness = $3`, tenant, unit, witness).Scan(&w.Size, &cosig, &lastErr, &at)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return w, fmt.Errorf("ledger store: read witness %s of %s: %w", witness, Log{tenant, unit}, err)
	}
	if cosig != nil {
		w.Cosignature = *cosig
	}
	if lastErr != nil {
		w.LastError = *lastErr
	}
	if at != nil {
		w.AttemptTime = *at
	}
	return w, nil
}

// SetWitnessState records what witness answered for the unit's log at now: a cosignature of the
// tree of w.Size, or (w.LastError set) why it did not cosign, keeping what it cosigned before
// unless w.Size says what it holds.
func (s *Store) SetWitnessState(ctx context.Context, tenant, unit, witness string, w WitnessState, now time.Time) error {
	var cosig, lastErr *string
	if w.Cosignature != "" {
		cosig = &w.Cosignature
	}
	if w.LastError != "" {
		lastErr = &w.LastError
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO ledger.witness_state AS w (tenant_id, unit_id, witness, size, cosignature, last_error, attempt_time)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (tenant_id, unit_id, witness) DO UPDATE SET size = $4,
			cosignature = CASE WHEN $5::text IS NULL AND $4 = w.size THEN w.cosignature ELSE $5 END,
			last_error = $6, attempt_time = $7, update_time = now()`,
		tenant, unit, witness, w.Size, cosig, lastErr, now)
	if err != nil {
		return fmt.Errorf("ledger store: record witness %s of %s: %w", witness, Log{tenant, unit}, err)
	}
	return nil
}

// Cosigned is a log's latest checkpoint that witnesses cosigned.
type Cosigned struct {
	Size      int64
	Note      string
	Witnesses []string
}

// Cosigned returns the unit's latest cosigned checkpoint (ok false when none), read from its
// note as the checkpoint is (Checkpoint): the note must be the log's checkpoint signed by its
// current key, and its size is the note's, not a column's. Witnesses are the names of those of
// witnesses whose cosignatures verify on it. A stored note the log's key did not sign (a change
// made outside pipa, or a checkpoint cosigned before the key's rotation) is not served as
// cosigned.
func (s *Store) Cosigned(ctx context.Context, tenant, unit string, witnesses ...note.Verifier) (c Cosigned, ok bool, err error) {
	if err := checkIDs(tenant, unit); err != nil {
		return Cosigned{}, false, err
	}
	err = s.pool.QueryRow(ctx, `SELECT note FROM ledger.cosigned WHERE tenant_id = $1 AND unit_id = $2`,
		tenant, unit).Scan(&c.Note)
	if errors.Is(err, pgx.ErrNoRows) {
		return Cosigned{}, false, nil
	}
	if err != nil {
		return Cosigned{}, false, fmt.Errorf("ledger store: read the cosigned checkpoint of %s: %w", Log{tenant, unit}, err)
	}
	l := Log{tenant, unit}
	k, err := s.key(ctx, l)
	if err != nil {
		return Cosigned{}, false, err
	}
	cp, _, n, err := logfmt.ParseCheckpoint([]byte(c.Note), k.origin, k.verifier, witnesses...)
	if err != nil || cp.Size > MaxTreeSize {
		slog.WarnContext(ctx, "ledger: the kept cosigned checkpoint does not verify with the log's key; not served", "log", l.String(), "err", err)
		return Cosigned{}, false, nil
	}
	c.Size = int64(cp.Size)
	for _, sig := range n.Sigs {
		if sig.Name != k.verifier.Name() || sig.Hash != k.verifier.KeyHash() {
			c.Witnesses = append(c.Witnesses, sig.Name)
		}
	}
	return c, true, nil
}

// SetCosigned keeps c as the unit's latest cosigned checkpoint unless a larger one is kept.
func (s *Store) SetCosigned(ctx context.Context, tenant, unit string, c Cosigned) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO ledger.cosigned AS c (tenant_id, unit_id, size, note, witnesses) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (tenant_id, unit_id) DO UPDATE SET size = $3, note = $4, witnesses = $5, update_time = now()
		WHERE c.size <= $3`, tenant, unit, c.Size, c.Note, c.Witnesses)
	if err != nil {
		return fmt.Errorf("ledger store: keep the cosigned checkpoint of %s: %w", Log{tenant, unit}, err)
	}
	return nil
}

// Unwitnessed lists the logs whose latest tree is larger than the latest one their witnesses
// cosigned (or that were never cosigned and have entries).
func (s *Store) Unwitnessed(ctx context.Context) ([]Log, error) {
	rows, err := s.pool.Query(ctx, `SELECT l.tenant_id, l.unit_id FROM ledger.logs l
		LEFT JOIN ledger.cosigned c ON c.tenant_id = l.tenant_id AND c.unit_id = l.unit_id
		WHERE l.size > coalesce(c.size, 0) ORDER BY 1, 2`)
	if err != nil {
		return nil, fmt.Errorf("ledger store: list unwitnessed logs: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Log, error) {
		var l Log
		return l, r.Scan(&l.Tenant, &l.Unit)
	})
}

// WitnessBacklog counts, per witness name, the logs whose latest tree that witness has not
// cosigned, for the pipa_ledger_witness_behind gauge.
func (s *Store) WitnessBacklog(ctx context.Context, witnesses []string) (map[string]int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT w.name, count(l.*) FROM unnest($1::text[]) AS w(name)
		CROSS JOIN ledger.logs l
		LEFT JOIN ledger.witness_state s ON s.tenant_id = l.tenant_id AND s.unit_id = l.unit_id AND s.witness = w.name
		WHERE l.size > coalesce(s.size, 0) GROUP BY w.name`, witnesses)
	if err != nil {
		return nil, fmt.Errorf("ledger store: count unwitnessed logs: %w", err)
	}
	out := make(map[string]int64, len(witnesses))
	for _, w := range witnesses {
		out[w] = 0
	}
	var name string
	var n int64
	_, err = pgx.ForEachRow(rows, []any{&name, &n}, func() error { out[name] = n; return nil })
	return out, err
}
