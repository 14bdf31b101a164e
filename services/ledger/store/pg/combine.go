package pg

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
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

// readyBatch is one log's planned batch waiting for a combined transaction. locked is closed once
// that transaction holds the log's head row lock (its first statement returned) or has ended;
// done once it has ended, with err set. A log sends its next batch only after locked: PostgreSQL
// then queues it behind this one on the row lock, so the two commit one after the other without
// a round trip between them, and never in the wrong order (pipelining, append.go).
type readyBatch struct {
	id     Log
	p      *batchPlan
	locked chan struct{}
	done   chan struct{}
	err    error
}

// errAlone tells a log whose combined transaction rolled back to send its writes alone.
var errAlone = errors.New("ledger store: the combined transaction rolled back")

// submit hands p's one-round-trip writes to log id to the combiner, to commit together with the
// other logs' batches ready at the same time, and returns at once.
func (s *Store) submit(id Log, p *batchPlan) *readyBatch {
	r := &readyBatch{id: id, p: p, locked: make(chan struct{}), done: make(chan struct{})}
	if s.ready.push(r) {
		go s.combine()
	}
	return r
}

// wait returns how r's transaction ended; when it rolled back with other logs' batches, r's
// writes are sent again alone.
func (r *readyBatch) wait(ctx context.Context, s *Store) error {
	<-r.done
	if errors.Is(r.err, errAlone) {
		return s.send(ctx, r.p.statements(r.id), nil)
	}
	return r.err
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
	plans := make([]*batchPlan, len(group))
	for i, r := range group {
		plans[i] = r.p
	}
	w := newLogWrites(plans...)
	for _, r := range group {
		w.add(r.id, r.p)
	}
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	err := s.send(ctx, w.statements(), func() {
		for _, r := range group {
			close(r.locked)
		}
	})
	s.combined.Record(ctx, int64(len(group)))
	if err != nil && len(group) > 1 && rolledBack(err) {
		err = errAlone
	}
	for _, r := range group {
		select {
		case <-r.locked:
		default:
			close(r.locked)
		}
		r.err = err
		close(r.done)
	}
}

// errNotSent is a transaction that never reached PostgreSQL (no connection, or a statement that
// could not be prepared or encoded): nothing of it was done.
var errNotSent = errors.New("ledger store: not sent")

// send runs stmts as one implicit transaction, in one round trip (a pipeline ended by one Sync),
// and calls locked, if set, once the first statement has returned: the server is asked to flush
// its answer to that statement at once instead of at the end, so the caller learns that the
// transaction holds the head row locks the first statement took while it goes on.
func (s *Store) send(ctx context.Context, stmts []stmt, locked func()) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("%w: %w", errNotSent, err)
	}
	defer conn.Release()
	c := conn.Conn()
	m := c.TypeMap()
	sds := make([]*pgconn.StatementDescription, len(stmts))
	for i, st := range stmts {
		// Prepared once per connection (the SQL names it), as pgx's statement cache would.
		if sds[i], err = c.Prepare(ctx, st.sql, st.sql); err != nil {
			return fmt.Errorf("%w: %w", errNotSent, err)
		}
	}
	type encoded struct {
		values           [][]byte
		formats, results []int16
	}
	enc := make([]encoded, len(stmts))
	// The parameters are encoded one after the other into one buffer, kept for the next
	// transaction: the Bind messages copy them, and a batch's leaves and sealed blobs are about a
	// kilobyte a record.
	bp := encodeBufs.Get().(*[]byte)
	buf := (*bp)[:0]
	defer func() {
		if cap(buf) <= maxEncodeBuf {
			*bp = buf
			encodeBufs.Put(bp)
		}
	}()
	for i, st := range stmts {
		sd := sds[i]
		e := encoded{values: make([][]byte, len(st.args)), formats: make([]int16, len(st.args)),
			results: make([]int16, len(sd.Fields))}
		for j, a := range st.args {
			oid := sd.ParamOIDs[j]
			e.formats[j] = m.FormatCodeForOID(oid)
			start := len(buf)
			v, err := m.Encode(oid, e.formats[j], a, buf)
			if err != nil {
				return fmt.Errorf("%w: parameter %d of %.40q: %w", errNotSent, j+1, st.sql, err)
			}
			if v != nil { // nil is NULL
				e.values[j], buf = v[start:len(v):len(v)], v
			}
		}
		for k, f := range sd.Fields {
			e.results[k] = m.FormatCodeForOID(f.DataTypeOID)
		}
		enc[i] = e
	}
	pl := c.PgConn().StartPipeline(ctx)
	for i, sd := range sds {
		pl.SendQueryStatement(sd, enc[i].values, enc[i].formats, enc[i].results)
		if i == 0 && locked != nil {
			pl.SendFlushRequest()
		}
	}
	if err := pl.Sync(); err != nil {
		return err
	}
	if err := readResults(pl, m, stmts, locked); err != nil {
		_ = pl.Close() // reads up to the Sync, or closes a broken connection
		return err
	}
	return pl.Close()
}

// encodeBufs keeps send's parameter buffers; one that grew past maxEncodeBuf is let go.
var encodeBufs = sync.Pool{New: func() any { return new([]byte) }}

const maxEncodeBuf = 4 << 20

// readResults reads the statements' results and the Sync's, scanning the rows of those that
// want them.
func readResults(pl *pgconn.Pipeline, m *pgtype.Map, stmts []stmt, locked func()) error {
	for i, st := range stmts {
		res, err := pl.GetResults()
		if err != nil {
			return err
		}
		rr, ok := res.(*pgconn.ResultReader)
		if !ok {
			return fmt.Errorf("ledger store: pipeline: got %T for %.40q", res, st.sql)
		}
		for rr.NextRow() {
			if st.row != nil {
				if err := st.row(m, rr.FieldDescriptions(), rr.Values()); err != nil {
					_, _ = rr.Close()
					return err
				}
			}
		}
		if _, err := rr.Close(); err != nil {
			return err
		}
		if i == 0 && locked != nil {
			locked()
		}
	}
	res, err := pl.GetResults()
	if err != nil {
		return err
	}
	if _, ok := res.(*pgconn.PipelineSync); !ok {
		return fmt.Errorf("ledger store: pipeline: got %T, want the Sync", res)
	}
	return nil
}

// stmt is one statement of a transaction sent by send; row, if set, is called on each row it
// returns.
type stmt struct {
	sql  string
	args []any
	row  func(m *pgtype.Map, fields []pgconn.FieldDescription, values [][]byte) error
}
