package pg

import (
	"cmp"
	"context"
	"errors"
	"slices"

	"github.com/jackc/pgx/v5"
)

// Cross-log group commit. Each log's sequencer plans its batch on its own (indexes, leaves, tree
// hashes, a checkpoint signed per batch), and the one-round-trip writes of the batches ready at
// the same moment, from any number of logs, go to PostgreSQL as one pipeline: one implicit
// transaction, one WAL flush, one round trip. So sixteen (or ten thousand) quiet logs cost about
// what one busy log costs, instead of a commit each. The heads are updated in a fixed order
// (tenant, unit), so two replicas' combined transactions never wait on each other in a cycle.
//
// A combined transaction that PostgreSQL refuses (an ERROR: it certainly rolled back) is not
// anyone's fault in particular, so each of its logs sends its own writes alone, as before; only the
// log at fault then falls back to the locked path. A lost connection fails every log of the
// transaction as "may or may not have taken effect": it was one transaction, so either all of
// them committed or none.

// WithCommitters bounds how many combined transactions are in flight at once (default
// defaultCommitters): while they commit, the batches that become ready wait and go together in
// the next one. Fewer gives larger transactions; more lets a ready batch start its transaction
// at once instead of waiting for the one in flight, and PostgreSQL still flushes the WAL of the
// commits that meet once (its own group commit), so the number of fsyncs does not grow with it.
func WithCommitters(n int) Option {
	return func(s *Store) {
		if n > 0 {
			s.ready.limit = n
		}
	}
}

// defaultCommitters is WithCommitters' default. With one, across 16 logs each log's ready batch
// waited 15–20 ms for the transaction in flight, as long as its own commit took, and the 16 logs
// alternated in two groups of 8; with four it waited 4–6 ms and appends across 16 logs went
// 20–40 % faster, one log unchanged (BENCHMARKS.md, 2026-12-07, on a loaded machine; an earlier
// run on a quieter one found 2 slower than 1 at the store level: PIPA_BENCH_COMMITTERS compares).
const defaultCommitters = 4

// maxCombined bounds how many logs' batches one combined transaction carries.
const maxCombined = 256

// readyBatch is one log's planned batch waiting for a combined transaction.
type readyBatch struct {
	id   Log
	p    *batchPlan
	done chan error
}

// errAlone tells a log whose combined transaction rolled back to send its writes alone.
var errAlone = errors.New("ledger store: the combined transaction rolled back")

// commitCombined commits p's one-round-trip writes to log id together with the other logs'
// batches ready at the same time, and returns once that transaction has ended.
func (s *Store) commitCombined(ctx context.Context, id Log, p *batchPlan) error {
	r := &readyBatch{id: id, p: p, done: make(chan error, 1)}
	if s.ready.push(r) {
		go s.combine()
	}
	err := <-r.done
	if errors.Is(err, errAlone) {
		return s.pool.SendBatch(ctx, p.writes(id)).Close()
	}
	return err
}

// combine commits the ready batches, together, until none is left.
func (s *Store) combine() {
	for {
		group := s.ready.take(func([]*readyBatch) int { return maxCombined })
		if group == nil {
			return
		}
		s.commitGroup(group)
	}
}

// commitGroup commits group in one transaction, heads in (tenant, unit) order, and tells each
// log how it ended.
func (s *Store) commitGroup(group []*readyBatch) {
	slices.SortFunc(group, func(a, b *readyBatch) int {
		return cmp.Or(cmp.Compare(a.id.Tenant, b.id.Tenant), cmp.Compare(a.id.Unit, b.id.Unit))
	})
	var w logWrites
	for _, r := range group {
		w.add(r.id, r.p)
	}
	b := &pgx.Batch{}
	w.queue(b)
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	err := s.pool.SendBatch(ctx, b).Close()
	s.combined.Record(ctx, int64(len(group)))
	if err != nil && len(group) > 1 && rolledBack(err) {
		err = errAlone
	}
	for _, r := range group {
		r.done <- err
	}
}
