package pg

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/pipa-kr/pipa/pkg/apierr"
	"github.com/pipa-kr/pipa/pkg/names"
)

// AppendRequest is one entry to append to a unit's log.
type AppendRequest struct {
	// RequestID makes the append idempotent (AIP-155): a second append with the same id to the
	// same log returns the first one's entry. Empty means not idempotent.
	RequestID string
	// RequestHash optionally fingerprints the request (e.g. idempotency.RequestHash); a replay
	// whose hash differs from the first call's is refused on field "request_id".
	RequestHash []byte
	// Kind is stored beside the leaf for listing by kind (e.g. "PROVISION").
	Kind      string
	OccurTime time.Time
	// Follows is the index of an earlier entry of the same log that this one is about; it must
	// exist when the entry is committed (STD-45).
	Follows *int64
	// Redact erases the sealed values of the entry Follows names in the transaction that commits
	// this one (its REDACTION record), so that neither happens without the other. An entry already
	// redacted is refused (FailedPrecondition), unless this is a replay of RequestID.
	Redact bool
	// NewKey, from Store.NewKey, makes this entry (the LEDGER_KEY entry naming NewKey.VerifierKey)
	// a rotation: the checkpoint that includes it is signed by the log's current key and NewKey
	// (the handover), and NewKey signs every later one. It commits alone, in its own transaction.
	NewKey *NewKey
	// Build returns the entry's leaf, which must commit to index, and its sealed personal values
	// (nil for none). It is called once the index is known, before the entry commits, and never
	// for a replay of a request this process committed or replayed recently (see recentIDs); it
	// must be quick, as the log waits for it. It may be called again (with another index) when an
	// attempt is thrown away, e.g. after another replica appended to the log, or when the request
	// turns out to have been committed by another replica or an earlier process (the one-round-trip
	// write fails on the request id and the batch is planned again under the lock, where the
	// replay is found); only the last call's result is stored. An error (or a panic) fails this
	// append only.
	Build func(index int64) (leaf, sealed []byte, err error)
}

// Appended is the result of an append.
type Appended struct {
	Index    int64
	LeafHash []byte
	// TreeSize is the size of the first checkpoint that includes the entry.
	TreeSize int64
	// CommitTime is the entry's commit_time as stored.
	CommitTime time.Time
	// Checkpoint is the log's latest signed checkpoint when the append returned; it includes the
	// entry (for a replay its size may be larger than TreeSize).
	Checkpoint string
	// Replayed is true when RequestID had already been appended: Build was not called.
	Replayed bool
}

// sequencer serialises the appends to one log in this process and groups them: the appends that
// arrive while a transaction is committing go into the next one together (group commit). At most
// one goroutine (the leader, started by the append that finds the log idle) runs transactions for
// the log (the queue's one leader), so the fields below the queue need no lock.
type sequencer struct {
	s  *Store
	id Log

	queue drain[*call] // one leader

	ready bool // the head row exists
	// The tree of the log's last batch planned (committed, or on its way), on which the next
	// batch is planned: its size (-1 when unknown), root and right edge (the stored hashes that
	// appending needs, see edgeIndexes).
	edgeSize int64
	root     tlog.Hash
	edge     map[int64]tlog.Hash
	recent   recentIDs // request ids known to be committed in this log
}

// recentIDs remembers (by a 64-bit hash) the request ids of the last recentCap entries a
// sequencer committed or replayed. It lets the one-round-trip path skip the request-id lookup:
// a batch none of whose ids it holds is written at once, and a replay it does not know of (one
// committed by another replica, before a restart, or long ago) makes the INSERT fail on
// entries_request_id, so the batch is planned again under the lock, where the replay is found.
// A batch with an id it holds goes to the locked path directly. It only holds committed ids (a
// commit is never undone), so it needs no invalidation; a hash collision only costs the locked
// path.
type recentIDs struct {
	count map[uint64]int32
	ring  []uint64
	next  int
}

// recentCap bounds recentIDs per log (about 24 bytes an id): a client's retry comes soon after
// its first try, and one not remembered still gets the right answer, one round trip later.
const recentCap = 1024

var recentSeed = maphash.MakeSeed()

func (r *recentIDs) has(id string) bool {
	return r.count[maphash.String(recentSeed, id)] > 0
}

func (r *recentIDs) add(id string) {
	h := maphash.String(recentSeed, id)
	if r.count == nil {
		r.count = map[uint64]int32{} // grown as used: most of 10,000 logs hold a few ids, not recentCap
	}
	if len(r.ring) < recentCap {
		r.ring = append(r.ring, h)
	} else {
		old := r.ring[r.next]
		if r.count[old]--; r.count[old] <= 0 {
			delete(r.count, old)
		}
		r.ring[r.next] = h
		r.next = (r.next + 1) % recentCap
	}
	r.count[h]++
}

type call struct {
	ctx  context.Context
	req  AppendRequest
	done chan struct{}
	res  Appended
	err  error
	// size is, on the first call of a unit, how many calls from it on commit or fail together
	// (1 for Append, the entries of an AppendBatch), and 0 on the unit's other calls. A unit is
	// queued at once and never split between transactions.
	size int
	// once, for the calls of an AppendBatchOnce, is all of them: the first one's request id is
	// theirs. pos is the call's place in its AppendBatch.
	once []*call
	pos  int
	// set while a batch is planned
	dupOf *call // an earlier call of the batch with the same request id
}

// units splits calls (whole units, in order) into their units.
func units(calls []*call) [][]*call {
	var out [][]*call
	for i := 0; i < len(calls); {
		n := max(calls[i].size, 1)
		out = append(out, calls[i:i+n])
		i += n
	}
	return out
}

func (s *Store) sequencer(tenant, unit string) *sequencer {
	id := Log{tenant, unit}
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.logs[id]
	if q == nil {
		q = &sequencer{s: s, id: id, edgeSize: -1}
		q.queue.wake = make(chan struct{}, 1)
		s.logs[id] = q
	}
	return q
}

// Append appends one entry to the unit's log and returns once it is committed, with the tree's
// new hashes and signed checkpoint, or not at all. Concurrent appends to one log share a
// transaction; appends to different logs do not wait for each other.
//
// If ctx ends first, Append returns its error, but the entry may still be committed: retry with
// the same RequestID to learn its index.
func (s *Store) Append(ctx context.Context, tenant, unit string, req AppendRequest) (Appended, error) {
	if err := checkIDs(tenant, unit); err != nil {
		return Appended{}, err
	}
	if err := checkRequest(req).Err(); err != nil {
		return Appended{}, err
	}
	c := &call{ctx: ctx, req: req, done: make(chan struct{}), size: 1}
	if err := s.sequencer(tenant, unit).enqueue(ctx, c); err != nil {
		return Appended{}, err
	}
	return c.res, c.err
}

// MaxAppendBatch bounds the entries of one AppendBatch: they commit in one transaction.
const MaxAppendBatch = 1000

// BatchError is AppendBatch's error for a batch that one of its entries failed: nothing of the
// batch was appended.
type BatchError struct {
	// Index is the entry's place in the batch.
	Index int
	Err   error
}

func (e *BatchError) Error() string {
	return fmt.Sprintf("ledger store: entry %d of the batch: %v", e.Index, e.Err)
}
func (e *BatchError) Unwrap() error { return e.Err }

// AppendBatch appends reqs to the unit's log all together or not at all, in one transaction of
// the log's group commit (with whatever else is ready), and returns each one's result in the
// order given. The new entries get consecutive indexes in that order; an entry whose RequestID
// was appended before is a replay, as with Append: it keeps its first index and takes none.
// If any entry fails (its Build, its follows, a request_id reused for another request), none is
// appended and the error is a *BatchError naming it. Redactions and rotations are not batched.
//
// If ctx ends first, AppendBatch returns its error, but the entries may still be committed:
// retry with the same RequestIDs to learn their indexes.
func (s *Store) AppendBatch(ctx context.Context, tenant, unit string, reqs []AppendRequest) ([]Appended, error) {
	return s.appendBatch(ctx, tenant, unit, reqs, false)
}

// AppendBatchOnce is AppendBatch under one request id for the whole batch: reqs carry none of
// their own, and requestID (with its fingerprint requestHash) is stored with the batch's first
// entry alone, so that a batch costs one idempotency key, not one an entry. The batch sent again
// under requestID is a replay of all of it: its entries keep their indexes (the first one's and
// the ones after it: a batch's entries are consecutive) and take none; a replay's Appended has
// no LeafHash after the first entry. Under requestID with another fingerprint, the batch is
// refused on the first entry's "request_id".
func (s *Store) AppendBatchOnce(ctx context.Context, tenant, unit, requestID string, requestHash []byte, reqs []AppendRequest) ([]Appended, error) {
	if requestID == "" {
		return nil, apierr.Invalid(apierr.Violation{Field: "request_id", Rule: "required", Description: "a batch appended once needs its request id"})
	}
	for i, r := range reqs {
		if r.RequestID != "" || len(r.RequestHash) > 0 {
			return nil, &BatchError{Index: i, Err: apierr.Invalid(apierr.Violation{Field: "request_id", Rule: "format",
				Description: "an entry of a batch appended once has no request id of its own"})}
		}
	}
	if len(reqs) > 0 {
		reqs = slices.Clone(reqs)
		reqs[0].RequestID, reqs[0].RequestHash = requestID, requestHash
	}
	res, err := s.appendBatch(ctx, tenant, unit, reqs, true)
	if _, refused := errors.AsType[*apierr.Error](err); refused && len(reqs) == 1 {
		err = &BatchError{Err: err} // an entry's error names its index, in a batch of one too
	}
	return res, err
}

// appendBatch is AppendBatch, and AppendBatchOnce when once is set (reqs[0]'s id is the batch's).
func (s *Store) appendBatch(ctx context.Context, tenant, unit string, reqs []AppendRequest, once bool) ([]Appended, error) {
	if err := checkIDs(tenant, unit); err != nil {
		return nil, err
	}
	switch n := len(reqs); {
	case n == 0:
		return nil, apierr.Invalid(apierr.Violation{Field: "requests", Rule: "required", Description: "a batch holds at least one entry"})
	case n > MaxAppendBatch:
		return nil, apierr.Invalid(apierr.Violation{Field: "requests", Rule: "range",
			Description: fmt.Sprintf("at most %d entries a batch, got %d", MaxAppendBatch, n)})
	}
	calls := make([]*call, len(reqs))
	for i, r := range reqs {
		vs := checkRequest(r)
		if r.Redact || r.NewKey != nil {
			vs.Add("entry", "format", "a redaction or a rotation is appended alone")
		}
		if err := vs.Err(); err != nil {
			return nil, &BatchError{Index: i, Err: err}
		}
		calls[i] = &call{ctx: ctx, req: r, done: make(chan struct{}), pos: i}
		if once {
			calls[i].once = calls
		}
	}
	calls[0].size = len(calls)
	if err := s.sequencer(tenant, unit).enqueue(ctx, calls...); err != nil {
		return nil, err
	}
	out := make([]Appended, len(calls))
	for i, c := range calls {
		if c.err != nil {
			return nil, c.err
		}
		out[i] = c.res
	}
	return out, nil
}

// checkRequest is what an append request needs before it is queued.
func checkRequest(req AppendRequest) apierr.Violations {
	var vs apierr.Violations
	if req.Build == nil {
		vs.Add("entry", "required", "the store needs a Build function to make the leaf")
	}
	if req.Kind == "" {
		vs.Add("entry.kind", "required", "an entry needs a kind")
	}
	if req.OccurTime.IsZero() {
		vs.Add("entry.occur_time", "required", "an entry needs the time it happened")
	}
	if req.Follows != nil && *req.Follows < 0 {
		vs.Add("entry.follows", "STD-45", "follows must be the index of an existing entry, not %d", *req.Follows)
	}
	if req.Redact && req.Follows == nil {
		vs.Add("entry.follows", "required", "a redaction follows the entry it erases")
	}
	if req.NewKey != nil && req.Redact {
		vs.Add("entry", "format", "an entry is a redaction or a rotation, not both")
	}
	return vs
}

// enqueue queues calls (one unit) on the log and waits until they are settled or ctx ends.
func (q *sequencer) enqueue(ctx context.Context, calls ...*call) error {
	if q.queue.push(calls...) {
		go q.run()
	}
	for _, c := range calls { // a unit is settled together
		select {
		case <-c.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// run commits batches until the queue is empty. A log's batches are pipelined: while one
// commits, the next is planned on top of it and sent as soon as the first holds the head's row
// lock, so that PostgreSQL runs the second right after the first commits, without a round trip
// or a plan in between (pipeline). At most two batches of a log are on their way.
func (q *sequencer) run() {
	var prev *flight // the batch on its way, or nil
	for {
		var batch []*call
		if prev == nil {
			if batch = q.queue.take(q.batchSize); batch == nil {
				return
			}
		} else if batch = q.takeAfter(prev); batch == nil {
			q.finish(prev)
			prev = nil
			continue
		}
		var live []*call
		for _, u := range units(batch) {
			if err := u[0].ctx.Err(); err != nil { // a unit's calls share their context
				fail(u, err)
				continue
			}
			live = append(live, u...)
		}
		if len(live) == 0 {
			continue
		}
		if !q.ready && prev == nil {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(live[0].ctx), batchTimeout)
			_ = q.open(ctx) // an error is the batch's, under the lock (try)
			cancel()
		}
		if p := q.planFast(live, prev); p != nil {
			next := q.send(live, p, prev)
			if prev != nil {
				q.finish(prev)
			}
			prev = next
			continue
		}
		if prev != nil {
			q.finish(prev)
			prev = nil
		}
		q.commit(live)
	}
}

// takeAfter takes the next batch once prev holds the head's lock (or has ended), so that the
// appends arriving meanwhile join it: taken at once, the next batch would hold the few that came
// while prev was planned, and small batches cost a commit, a checkpoint signature and their
// statements each. Until prev has ended, appends that arrive still go on top of it; it returns
// nil when prev has ended and nothing is waiting.
func (q *sequencer) takeAfter(prev *flight) []*call {
	if prev.r == nil {
		return q.queue.takeMore(q.batchSize)
	}
	<-prev.r.locked
	for {
		if batch := q.queue.takeMore(q.batchSize); batch != nil {
			return batch
		}
		select {
		case <-prev.r.done:
			return nil
		case <-q.queue.wake:
		}
	}
}

// batchSize is how many of the queued calls the next batch takes: whole units up to maxBatch
// calls (a larger unit goes alone). A rotation commits alone: its handover checkpoint ends with
// its entry.
func (q *sequencer) batchSize(queue []*call) int {
	n := 0
	for n < len(queue) {
		c := queue[n]
		if n > 0 && (c.req.NewKey != nil || n+c.size > q.s.maxBatch) {
			break
		}
		n += max(c.size, 1)
		if c.req.NewKey != nil {
			break
		}
	}
	return n
}

// flight is a batch planned on the one-round-trip path and handed to the combiner (r), or held
// back because the batch before it failed (r nil).
type flight struct {
	calls []*call
	p     *batchPlan
	r     *readyBatch
}

// open makes sure the log exists. When this call creates it, its tree is known (empty), so that
// its first batch takes the one-round-trip path with the other logs' batches.
func (q *sequencer) open(ctx context.Context) error {
	made, err := q.s.ensureLog(ctx, q.id)
	if err != nil {
		return err
	}
	q.ready = true
	if made != nil {
		q.edge, q.edgeSize, q.root = map[int64]tlog.Hash{}, 0, emptyRoot
	}
	return nil
}

// emptyRoot is the root of the empty tree.
var emptyRoot, _ = tlog.TreeHash(0, nil)

// send hands p, the plan of live, to the combiner once prev (the log's batch on its way, or nil)
// holds the head's lock, and returns it on its way; if prev failed meanwhile, p is held back
// (it extends a tree that will not be) and its calls go under the lock after prev's.
func (q *sequencer) send(live []*call, p *batchPlan, prev *flight) *flight {
	f := &flight{calls: live, p: p}
	if prev != nil {
		<-prev.r.locked
		select {
		case <-prev.r.done:
			if prev.r.err != nil {
				return f
			}
		default:
		}
	}
	f.r = q.s.submit(q.id, p)
	return f
}

// planFast plans calls on top of the tree of the log's last planned batch, for the one-round-trip
// path, and makes the new tree the last planned one. It returns nil when that path does not
// apply: the tree is not known (the log is new to this process, or a batch failed, or prev, the
// batch before, is held back), the batch
// needs the head's lock (a redaction needs the erased entry's state, a rotation the key's, a
// request id this process knows was committed, or sent in prev, a lookup), or nothing is to be
// written.
//
// A request id committed by another replica or an earlier process is not looked up: the INSERT
// fails on entries_request_id, nothing is written, and the batch is planned again under the lock,
// where the replay is found.
func (q *sequencer) planFast(calls []*call, prev *flight) *batchPlan {
	if q.edgeSize < 0 || q.s.beforeCommit != nil || prev != nil && prev.r == nil {
		return nil
	}
	var sent map[string]bool // prev's request ids: a repeat of one waits for prev's answer
	if prev != nil {
		for _, c := range prev.calls {
			if c.req.RequestID != "" {
				if sent == nil {
					sent = map[string]bool{}
				}
				sent[c.req.RequestID] = true
			}
		}
	}
	for _, c := range calls {
		if c.req.Redact || c.req.NewKey != nil || c.req.RequestID != "" && (q.recent.has(c.req.RequestID) || sent[c.req.RequestID]) {
			return nil
		}
	}
	q.s.mu.Lock()
	key := q.s.keys[q.id]
	q.s.mu.Unlock()
	if key == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(calls[0].ctx), batchTimeout)
	defer cancel() // the plan reads what hashes it needs now; its batch is sent later
	hr := &txHashReader{ctx: ctx, db: q.s.pool, tenant: q.id.Tenant, unit: q.id.Unit,
		known: make(map[int64]tlog.Hash, 64)}
	for i, h := range q.edge {
		hr.known[i] = h
	}
	p, err := q.plan(key, calls, q.edgeSize, q.root, hr, nil, nil)
	if err != nil || len(p.added) == 0 {
		return nil // planned again under the lock (e.g. only duplicates)
	}
	if edge := hr.edgeFor(p.next); edge != nil {
		q.edge, q.edgeSize, q.root = edge, p.next, p.root
	} else {
		q.edgeSize = -1
	}
	return p
}

// finish waits for f's transaction and delivers its calls' results. A batch that did not commit
// makes the log's tree unknown; its calls are committed again under the head's lock if its
// transaction certainly rolled back (or was never sent), and fail as "may or may not have taken
// effect" otherwise.
func (q *sequencer) finish(f *flight) {
	var err error = errFastPathSkipped
	if f.r != nil {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(f.calls[0].ctx), batchTimeout)
		err = f.r.wait(ctx, q.s)
		cancel()
	}
	if err == nil {
		q.remember(f.calls)
		f.p.deliver(f.calls)
		q.committed(f.calls)
		return
	}
	q.edgeSize = -1
	if !rolledBack(err) {
		fail(f.calls, &ambiguousError{err})
		return
	}
	q.commit(f.calls)
}

// ambiguousError is a failed COMMIT: the transaction may or may not have committed.
type ambiguousError struct{ err error }

func (e *ambiguousError) Error() string {
	return "ledger store: commit failed and may or may not have taken effect; " +
		"retry with the same request_id: " + e.err.Error()
}
func (e *ambiguousError) Unwrap() error { return e.err }

// commit commits live (whole units) under the head's lock, delivering each call's result. A
// failure of the batch as a whole (a driver error before COMMIT) is retried one unit at a time,
// so that a request that breaks the transaction fails alone (with its unit); a failed COMMIT is
// not retried, since it may have committed.
func (q *sequencer) commit(live []*call) {
	err := q.try(live)
	if err == nil {
		q.committed(live)
		return
	}
	us := units(live)
	var amb *ambiguousError
	if len(us) == 1 || errors.As(err, &amb) {
		fail(live, err)
		return
	}
	for _, u := range us {
		for _, c := range u {
			c.res, c.err = Appended{}, nil
		}
		if err := q.try(u); err != nil {
			fail(u, err)
		} else {
			q.committed(u)
		}
	}
}

// fail delivers err to calls.
func fail(calls []*call, err error) {
	for _, c := range calls {
		c.res, c.err = Appended{}, err
		close(c.done)
	}
}

// committed counts a transaction's new entries in the metrics.
func (q *sequencer) committed(calls []*call) {
	var n int64
	for _, c := range calls {
		if c.err == nil && !c.res.Replayed {
			n++
		}
	}
	q.s.appends.Add(context.Background(), n)
	q.s.batches.Record(context.Background(), n)
}

// try commits calls in one transaction under the head's row lock (tryLocked), creating the log
// first if this process has not seen it. It delivers every call's result (closing done) and
// returns nil, or delivers nothing and returns the error that failed the whole transaction. A
// batch that commits makes its tree the log's known tree, on which the next batches are planned
// without reading anything (planFast).
func (q *sequencer) try(calls []*call) (err error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(calls[0].ctx), batchTimeout)
	defer cancel()
	defer func() {
		if err != nil {
			q.edgeSize = -1 // the cache may be ahead of what committed
		}
	}()
	if !q.ready {
		if err := q.open(ctx); err != nil {
			return err
		}
	}
	// The key is read before the head's lock is taken: loading it needs a connection of its own.
	if _, err := q.s.key(ctx, q.id); err != nil {
		return err
	}
	// A batch that could not take the one-round-trip path reads the tree it extends under the
	// lock, and so does the next one unless this one appends: what made it come here (a replay,
	// a redaction, a rotation, a failure) may come from another replica, whose appends the known
	// tree would miss, costing a Build thrown away.
	q.edgeSize = -1
	return q.tryLocked(ctx, calls)
}

// rolledBack reports whether err certainly undid its transaction: PostgreSQL reported an ERROR
// (the session lives on and the transaction was aborted), or it was never sent. A lost
// connection or a FATAL error (e.g. pg_terminate_backend) may have come after the commit.
func rolledBack(err error) bool {
	var pgErr *pgconn.PgError
	return errors.Is(err, errNotSent) || errors.As(err, &pgErr) && pgErr.Severity == "ERROR"
}

// remember records the request ids of a committed batch's calls that succeeded (appended or
// replayed) in q.recent.
func (q *sequencer) remember(calls []*call) {
	for _, c := range calls {
		if c.req.RequestID != "" && c.err == nil && c.dupOf == nil {
			q.recent.add(c.req.RequestID)
		}
	}
}

// errFastPathSkipped sends a batch to the locked path; it counts as rolled back.
var errFastPathSkipped = &pgconn.PgError{Severity: "ERROR", Message: "ledger store: fast path not applicable"}

// tryLocked locks the head row FOR UPDATE (serialising every replica's appends to the log),
// looks up request ids and the entries to redact under the lock, plans the batch and commits it.
func (q *sequencer) tryLocked(ctx context.Context, calls []*call) error {
	tenant, unit := q.id.Tenant, q.id.Unit
	tx, err := q.s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return fmt.Errorf("ledger store: begin: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit

	var ids []string
	var erase []int64
	for _, c := range calls {
		if c.req.RequestID != "" {
			ids = append(ids, c.req.RequestID)
		}
		if c.req.Redact {
			erase = append(erase, *c.req.Follows)
		}
	}
	b := &pgx.Batch{}
	var size int64
	var rootBytes []byte
	var checkpoint, vkey string
	b.Queue(`SELECT size, root, checkpoint, verifier_key FROM ledger.logs WHERE tenant_id = $1 AND unit_id = $2 FOR UPDATE`,
		tenant, unit).QueryRow(func(r pgx.Row) error { return r.Scan(&size, &rootBytes, &checkpoint, &vkey) })
	priors := map[string]prior{}
	if len(ids) > 0 {
		b.Queue(lookupSQL, tenant, unit, ids).
			Query(func(rows pgx.Rows) error {
				var id string
				var p prior
				var leaf []byte
				_, err := pgx.ForEachRow(rows, []any{&id, &p.index, &leaf, &p.treeSize, &p.commitTime, &p.hash}, func() error {
					h := tlog.RecordHash(leaf)
					p.leafHash = h[:]
					priors[id] = p
					return nil
				})
				return err
			})
	}
	redacted := map[int64]bool{}
	if len(erase) > 0 {
		b.Queue(redactedSQL, tenant, unit, erase).Query(func(rows pgx.Rows) error {
			var idx int64
			_, err := pgx.ForEachRow(rows, []any{&idx}, func() error {
				redacted[idx] = true
				return nil
			})
			return err
		})
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("ledger store: lock log tenants/%s/units/%s: %w", tenant, unit, err)
	}
	// The head extends only the tree its own key signed: a head rewritten in the database is
	// refused, not signed again.
	key, err := q.s.currentKey(ctx, q.id, vkey)
	if err != nil {
		return err
	}
	if err := key.checkHead(q.id, size, rootBytes, checkpoint); err != nil {
		return err
	}
	root, err := hashOf(rootBytes)
	if err != nil {
		return err
	}
	hr, err := q.hashReader(ctx, tx, size, root)
	if err != nil {
		return err
	}
	p, err := q.plan(key, calls, size, root, hr, priors, redacted)
	if err != nil {
		return err
	}
	if len(p.added) == 0 {
		p.checkpoint = checkpoint
		if err := tx.Commit(ctx); err != nil { // nothing written; this only releases the lock
			return fmt.Errorf("ledger store: release log: %w", err)
		}
		q.remember(calls)
		p.deliver(calls)
		return nil
	}
	if err := tx.SendBatch(ctx, batchOf(p.statements(q.id))).Close(); err != nil {
		return fmt.Errorf("ledger store: write %d entries to tenants/%s/units/%s: %w", len(p.added), tenant, unit, err)
	}
	if q.s.beforeCommit != nil {
		if err := q.s.beforeCommit(ctx, tx, len(p.added)); err != nil {
			return err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return &ambiguousError{err}
	}
	if p.rotated != nil {
		q.s.setKey(q.id, p.rotated)
	}
	if q.edge = hr.edgeFor(p.next); q.edge != nil {
		q.edgeSize, q.root = p.next, p.root
	}
	q.remember(calls)
	p.deliver(calls)
	return nil
}

// lookupSQL finds the entries of request ids $3 in log ($1, $2). Each id is one probe of
// entries_request_id: the LATERAL ... OFFSET 0 keeps the planner from turning "request_id =
// ANY($3)" into a filter over the log's whole index range, which it does on a table without
// statistics (a new database), making every append O(log size).
const lookupSQL = `SELECT e.request_id, e.idx, e.leaf, e.tree_size, e.commit_time, e.request_hash
	FROM unnest($3::text[]) AS r(id), LATERAL (SELECT request_id, idx, leaf, tree_size, commit_time, request_hash
		FROM ledger.entries WHERE tenant_id = $1 AND unit_id = $2 AND request_id = r.id OFFSET 0) AS e`

// redactedSQL finds which of the entries $3 of log ($1, $2) are redacted, one probe each (see
// lookupSQL).
const redactedSQL = `SELECT e.idx FROM unnest($3::bigint[]) AS r(idx), LATERAL (SELECT idx FROM ledger.entries
	WHERE tenant_id = $1 AND unit_id = $2 AND idx = r.idx AND redacted OFFSET 0) AS e`

// prior is an entry already committed under a request id of the batch.
type prior struct {
	index, treeSize int64
	commitTime      time.Time
	leafHash, hash  []byte
}

// batchPlan is a batch ready to write: the new entries with their indexes from size on, the
// tree hashes they add (in hr), and the signed checkpoint of the new tree.
type batchPlan struct {
	size, next int64
	base       tlog.Hash // the root of the tree of size size that the batch extends
	added      []newEntry
	hr         *txHashReader
	root       tlog.Hash
	checkpoint string
	headKey    string    // the key that signed the head the batch extends
	vkey       string    // the key that signed checkpoint (the new key, for a rotation)
	commitTime time.Time // the new entries' commit_time, as stored
	// rotation: the sealed new key and its place in ledger.log_keys, and the key as opened.
	rotated *logKey
	sealed  []byte
}

type newEntry struct {
	c            *call
	leaf, sealed []byte
}

// plan gives each new entry of calls the next index after size, in arrival order, calling its
// Build; a request that fails (Build error or panic, a follows of a missing entry, a request id
// reused with another request, in an earlier batch or in this one, a redaction of a redacted
// entry) takes no index and fails alone, or with its unit (AppendBatch), none of which then
// takes an index. Replays of priors and repeats of a request id within the
// batch get their first entry. redacted holds the entries to redact that already are. It sets
// every call's res or err.
func (q *sequencer) plan(key *logKey, calls []*call, size int64, base tlog.Hash, hr *txHashReader, priors map[string]prior, redacted map[int64]bool) (*batchPlan, error) {
	p := &batchPlan{size: size, next: size, base: base, hr: hr, headKey: key.vkey, vkey: key.vkey}
	byID := map[string]*call{}
	erased := map[int64]bool{} // by this batch
	for _, u := range units(calls) {
		// Each call of the unit is settled as far as it can be without taking an index: as a
		// replay, a repeat, an error, or built at the index it would take.
		var built []newEntry
		var failed error
		next := p.next
		for i, c := range u {
			c.res, c.err, c.dupOf = Appended{}, nil, nil
			e, err := q.settle(c, next, priors, byID, redacted, erased)
			if err == nil && e != nil && e.c.req.RequestID != "" && slices.ContainsFunc(built, func(b newEntry) bool {
				return b.c.req.RequestID == e.c.req.RequestID
			}) {
				err = apierr.Invalid(apierr.Violation{Field: "request_id", Rule: "AIP-155", Description: "this request_id is used twice in the batch"})
			}
			if err != nil {
				failed = err
				if len(u) > 1 {
					failed = &BatchError{Index: i, Err: err}
				}
				break
			}
			if e != nil {
				built = append(built, *e)
				next++
			}
		}
		if failed != nil { // the unit takes no index
			for _, c := range u {
				c.res, c.err, c.dupOf = Appended{}, failed, nil
			}
			continue
		}
		for _, e := range built {
			c, r := e.c, &e.c.req
			if r.Redact {
				erased[*r.Follows] = true
			}
			h := tlog.RecordHash(e.leaf)
			hashes, err := tlog.StoredHashesForRecordHash(p.next, h, hr)
			if err != nil {
				return nil, fmt.Errorf("ledger store: tree hashes for entry %d: %w", p.next, err)
			}
			base := tlog.StoredHashIndex(0, p.next)
			for i, sh := range hashes {
				hr.add(base+int64(i), sh)
			}
			p.added = append(p.added, e)
			c.res = Appended{Index: p.next, LeafHash: h[:]}
			if r.RequestID != "" {
				byID[r.RequestID] = c
			}
			p.next++
		}
	}
	if len(p.added) == 0 {
		return p, nil
	}
	var err error
	if p.root, err = tlog.TreeHash(p.next, hr); err != nil {
		return nil, fmt.Errorf("ledger store: tree hash at size %d: %w", p.next, err)
	}
	signers := []note.Signer{key.signer}
	if nk := p.added[0].c.req.NewKey; nk != nil { // alone in its batch (run)
		if nk.signer.Name() != key.origin {
			return nil, fmt.Errorf("ledger store: a new key of %s is named %q", key.origin, nk.signer.Name())
		}
		seq := key.seq + 1
		if p.sealed, err = q.s.sealer.Seal([]byte(nk.skey), logKeyAD(q.id.Tenant, q.id.Unit, seq)); err != nil {
			return nil, fmt.Errorf("ledger store: seal the new key of %s: %w", q.id, err)
		}
		v, err := note.NewVerifier(nk.VerifierKey)
		if err != nil {
			return nil, err
		}
		p.rotated = &logKey{seq: seq, signer: nk.signer, verifier: v, vkey: nk.VerifierKey, origin: key.origin}
		signers, p.vkey = append(signers, nk.signer), nk.VerifierKey
	}
	if p.checkpoint, err = signCheckpoint(key.origin, p.next, p.root, signers...); err != nil {
		return nil, err
	}
	for _, e := range p.added {
		e.c.res.TreeSize = p.next
	}
	return p, nil
}

// settle settles c, planned at index next, as far as it can before the batch's tree hashes: a
// replay of priors or a repeat of an earlier call of the batch (byID) gets its answer in c.res or
// c.dupOf and no entry; a request that cannot be appended is an error; otherwise its entry is
// built at next and returned.
func (q *sequencer) settle(c *call, next int64, priors map[string]prior, byID map[string]*call, redacted, erased map[int64]bool) (*newEntry, error) {
	r := &c.req
	if c.once != nil && c.pos > 0 { // settled after the batch's first call, whose request id is the batch's
		switch head := c.once[0]; {
		case head.res.Replayed: // the whole batch is a replay, at the indexes after the first
			c.res = Appended{Index: head.res.Index + int64(c.pos), TreeSize: head.res.TreeSize,
				CommitTime: head.res.CommitTime, Replayed: true}
			return nil, nil
		case head.dupOf != nil: // the batch sent twice in one transaction: the same fingerprint, so the same entries
			if len(head.dupOf.once) != len(c.once) {
				return nil, reusedErr()
			}
			c.dupOf = head.dupOf.once[c.pos]
			return nil, nil
		}
	}
	if r.RequestID != "" {
		if pr, ok := priors[r.RequestID]; ok {
			if !sameRequest(r.RequestHash, pr.hash) {
				return nil, reusedErr()
			}
			c.res = Appended{Index: pr.index, LeafHash: pr.leafHash, TreeSize: pr.treeSize,
				CommitTime: pr.commitTime, Replayed: true}
			return nil, nil
		}
		if first, ok := byID[r.RequestID]; ok {
			// AIP-155: a repeat gets the first one's answer, another request an error.
			if !sameRequest(r.RequestHash, first.req.RequestHash) {
				return nil, reusedErr()
			}
			c.dupOf = first
			return nil, nil
		}
	}
	if r.Follows != nil && *r.Follows >= next {
		// Entries are gapless, so an index below the size (or an earlier entry of this
		// batch) exists and any other does not. STD-45: an amendment follows an entry.
		return nil, apierr.Invalid(apierr.Violation{Field: "entry.follows", Rule: "STD-45",
			Description: fmt.Sprintf("entry %d does not exist in this log; an amendment must follow an existing entry", *r.Follows)})
	}
	if r.Redact && (redacted[*r.Follows] || erased[*r.Follows]) {
		return nil, apierr.Precondition("ALREADY_REDACTED", names.Entries.NameN(q.id.Tenant, q.id.Unit, *r.Follows)+" was already redacted")
	}
	leaf, sealed, err := build(r.Build, next)
	if err != nil {
		return nil, err
	}
	return &newEntry{c: c, leaf: leaf, sealed: sealed}, nil
}

// sameRequest reports whether two fingerprints of requests under one request id may be the same
// request (a missing fingerprint matches any).
func sameRequest(a, b []byte) bool {
	return len(a) == 0 || len(b) == 0 || bytes.Equal(a, b)
}

// statements are the statements that commit the plan alone: the head, then entries and hashes
// (logWrites), then one erasure per redaction and the rotation's new key.
func (p *batchPlan) statements(id Log) []stmt {
	var w logWrites
	w.add(id, p)
	out := w.statements()
	for _, e := range p.added {
		if e.c.req.Redact {
			out = append(out, stmt{sql: `UPDATE ledger.entries SET sealed = NULL, redacted = true, redacted_by = $4
				WHERE tenant_id = $1 AND unit_id = $2 AND idx = $3`, args: []any{id.Tenant, id.Unit, *e.c.req.Follows, e.c.res.Index}})
		}
	}
	if p.rotated != nil {
		out = append(out, stmt{sql: `INSERT INTO ledger.log_keys (tenant_id, unit_id, seq, signer_skey, verifier_key, previous_key, handover_size, handover)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, args: []any{id.Tenant, id.Unit, p.rotated.seq, p.sealed, p.vkey, p.headKey, p.next, p.checkpoint}})
	}
	return out
}

// batchOf queues stmts on a pgx batch (the locked path's transaction).
func batchOf(stmts []stmt) *pgx.Batch {
	b := &pgx.Batch{}
	for _, st := range stmts {
		q := b.Queue(st.sql, st.args...)
		if row := st.row; row != nil {
			q.Query(func(rows pgx.Rows) error {
				m := rows.Conn().TypeMap()
				for rows.Next() {
					if err := row(m, rows.FieldDescriptions(), rows.RawValues()); err != nil {
						return err
					}
				}
				return rows.Err()
			})
		}
	}
	return b
}

// logWrites are the heads, entries and hashes of the batches of one or more logs, as column
// arrays, so that any number of logs commit in the same two statements (combine.go): the per-log
// cost in PostgreSQL is rows, not statements.
type logWrites struct {
	plans []*batchPlan
	// heads
	hTenant, hUnit, hCheckpoint, hVkey, hHeadKey []string
	hSize, hNext                                 []int64
	hRoot, hBase                                 [][]byte
	// entries
	eTenant, eUnit, kinds []string
	idx, treeSize         []int64
	leaves, reqHashes     [][]byte
	sealed                [][]byte
	occur                 []time.Time
	reqIDs                []*string
	follows               []*int64
	// hashes
	sTenant, sUnit []string
	storage        []int64
	hashes         [][]byte
}

// add appends p's writes to log id.
func (w *logWrites) add(id Log, p *batchPlan) {
	w.plans = append(w.plans, p)
	w.hTenant, w.hUnit = append(w.hTenant, id.Tenant), append(w.hUnit, id.Unit)
	w.hSize, w.hNext = append(w.hSize, p.size), append(w.hNext, p.next)
	w.hRoot, w.hBase = append(w.hRoot, p.root[:]), append(w.hBase, p.base[:])
	w.hCheckpoint, w.hVkey, w.hHeadKey = append(w.hCheckpoint, p.checkpoint), append(w.hVkey, p.vkey), append(w.hHeadKey, p.headKey)
	for _, e := range p.added {
		r := &e.c.req
		w.eTenant, w.eUnit = append(w.eTenant, id.Tenant), append(w.eUnit, id.Unit)
		w.idx, w.treeSize = append(w.idx, e.c.res.Index), append(w.treeSize, p.next)
		w.leaves, w.sealed = append(w.leaves, e.leaf), append(w.sealed, e.sealed)
		w.kinds, w.occur, w.follows = append(w.kinds, r.Kind), append(w.occur, r.OccurTime), append(w.follows, r.Follows)
		if r.RequestID != "" {
			w.reqIDs, w.reqHashes = append(w.reqIDs, &r.RequestID), append(w.reqHashes, r.RequestHash)
		} else {
			w.reqIDs, w.reqHashes = append(w.reqIDs, nil), append(w.reqHashes, nil)
		}
	}
	for _, i := range p.hr.newIdx {
		h := p.hr.known[i]
		w.sTenant, w.sUnit = append(w.sTenant, id.Tenant), append(w.sUnit, id.Unit)
		w.storage, w.hashes = append(w.storage, i), append(w.hashes, h[:])
	}
}

// statements are the writes as statements. The heads go first, so that every writer takes a log's
// row lock before any entry's index lock (no deadlock with tryLocked); they are locked first, in
// (tenant, unit) order, so that two replicas' combined transactions cannot wait
// on each other in a cycle. A head only moves from the tree its plan extends — the same size and
// root, still signed by the same key (another replica may have appended or rotated the key, or the
// log's previous batch, sent ahead of this one, may have failed) —: otherwise its size is set to
// -1, which the CHECK on size refuses, and the whole transaction fails. So a batch planned on top
// of one that did not commit can never commit: no gap, no fork. (The primary key on entries would
// refuse a gap's indexes too.)
func (w *logWrites) statements() []stmt {
	// The heads are locked by a statement of their own, even for one log: an UPDATE computes its
	// new row (and PostgreSQL checks the CHECK on it) from the version it sees before it waits
	// for the row's lock, so a batch sent behind its log's previous one would see the size
	// before that one and fail instead of waiting for it. After the lock, the UPDATE (a statement
	// of its own, with a newer snapshot) sees the head as the previous batch left it.
	out := []stmt{{sql: `SELECT 1 FROM ledger.logs l JOIN unnest($1::text[], $2::text[]) AS u(tenant_id, unit_id)
			USING (tenant_id, unit_id) ORDER BY l.tenant_id, l.unit_id FOR UPDATE OF l`, args: []any{w.hTenant, w.hUnit}}}
	out = append(out, stmt{sql: `UPDATE ledger.logs l SET size = CASE WHEN l.size = u.size AND l.root = u.base
				AND l.verifier_key = u.head_key THEN u.next ELSE -1 END,
			root = u.root, checkpoint = u.checkpoint, verifier_key = u.vkey, update_time = now()
		FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bytea[], $6::text[], $7::text[], $8::text[], $9::bytea[])
			AS u(tenant_id, unit_id, size, next, root, checkpoint, vkey, head_key, base)
		WHERE l.tenant_id = u.tenant_id AND l.unit_id = u.unit_id`,
		args: []any{w.hTenant, w.hUnit, w.hSize, w.hNext, flat(w.hRoot), w.hCheckpoint, w.hVkey, w.hHeadKey, flat(w.hBase)}})
	// Entries and hashes in one statement (a data-modifying WITH). commit_time is the
	// transaction's start, the same for every row.
	out = append(out, stmt{sql: `WITH h AS (INSERT INTO ledger.hashes (tenant_id, unit_id, storage_idx, hash)
			SELECT * FROM unnest($12::text[], $13::text[], $14::bigint[], $15::bytea[]))
		INSERT INTO ledger.entries (tenant_id, unit_id, idx, leaf, kind, occur_time,
			request_id, request_hash, sealed, follows, tree_size)
		SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bytea[], $5::text[],
			$6::timestamptz[], $7::text[], $8::bytea[], $9::bytea[], $10::bigint[], $11::bigint[])
		RETURNING commit_time`,
		args: []any{w.eTenant, w.eUnit, w.idx, flat(w.leaves), w.kinds, w.occur, flat(w.reqIDs), flat(w.reqHashes), flat(w.sealed),
			flat(w.follows), w.treeSize, w.sTenant, w.sUnit, w.storage, flat(w.hashes)},
		row: func(m *pgtype.Map, fields []pgconn.FieldDescription, values [][]byte) error {
			var t time.Time
			if err := m.Scan(fields[0].DataTypeOID, fields[0].Format, values[0], &t); err != nil {
				return err
			}
			for _, p := range w.plans {
				p.commitTime = t
			}
			return nil
		}})
	return out
}

// flat hands pgx a column it encodes without reflection: its fast path covers []string, []int64
// and []time.Time, not [][]byte or slices of pointers, which it would walk with package reflect.
func flat[T any](s []T) pgtype.FlatArray[T] { return s }

// deliver completes the calls of a committed plan.
func (p *batchPlan) deliver(calls []*call) {
	for _, e := range p.added {
		e.c.res.CommitTime = p.commitTime
	}
	for _, c := range calls {
		if c.dupOf != nil {
			c.res, c.err = c.dupOf.res, c.dupOf.err
			c.res.Replayed = c.err == nil
		}
		if c.err != nil {
			c.res = Appended{}
		} else {
			c.res.Checkpoint = p.checkpoint
		}
	}
	for _, c := range calls {
		close(c.done)
	}
}

// build calls f, turning a panic into this call's error.
func build(f func(int64) ([]byte, []byte, error), index int64) (leaf, sealed []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("ledger store: building entry %d panicked: %v", index, r)
		}
	}()
	leaf, sealed, err = f(index)
	if err == nil && len(leaf) == 0 {
		err = fmt.Errorf("ledger store: building entry %d gave an empty leaf", index)
	}
	return leaf, sealed, err
}

func reusedErr() error {
	return apierr.Invalid(apierr.Violation{Field: "request_id", Rule: "AIP-155",
		Description: "this request_id was already used for a different request; use a new one"})
}

func hashOf(b []byte) (tlog.Hash, error) {
	var h tlog.Hash
	if len(b) != tlog.HashSize {
		return h, fmt.Errorf("ledger store: stored hash has %d bytes, want %d", len(b), tlog.HashSize)
	}
	copy(h[:], b)
	return h, nil
}
