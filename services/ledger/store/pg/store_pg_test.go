package pg_test

// Every test here needs PostgreSQL (DATABASE_URL; see pkg/pgtest), hence the PG in their names.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc/codes"

	"github.com/pipa-kr/pipa/pkg/apierr"
	"github.com/pipa-kr/pipa/pkg/pgtest"
	"github.com/pipa-kr/pipa/services/ledger/store/pg"
)

func TestPGConcurrentAppendsToOneLog(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, pool := newStore(t)
	const workers, each = 64, 50

	var mu sync.Mutex
	var got []int64
	var g errgroup.Group
	for w := range workers {
		g.Go(func() error {
			for i := range each {
				a, err := s.Append(ctx, "iksan", "civil-safety", req("iksan", "civil-safety", "ACCESS", fmt.Sprintf("w%d-%d", w, i)))
				if err != nil {
					return err
				}
				if a.Replayed || a.TreeSize <= a.Index {
					return fmt.Errorf("bad result %+v", a)
				}
				mu.Lock()
				got = append(got, a.Index)
				mu.Unlock()
			}
			return nil
		})
	}
	require.NoError(t, g.Wait())
	slices.Sort(got)
	want := make([]int64, workers*each)
	for i := range want {
		want[i] = int64(i)
	}
	require.Equal(t, want, got, "indexes are exactly 0..3199")

	const n = workers * each
	m := checkLog(t, s, pool, "iksan", "civil-safety", n, true)
	sizes := []int64{1, 2, 3, 7, 64, 1000, 2047, 2048, 2049, 3199, n}
	for _, from := range sizes {
		for _, to := range sizes {
			if from > to {
				continue
			}
			p, err := s.ConsistencyProof(ctx, "iksan", "civil-safety", from, to)
			require.NoError(t, err)
			require.NoError(t, tlog.CheckTree(toHashes(p), to, m.root(t, to), from, m.root(t, from)), "%d→%d", from, to)
		}
	}
}

func TestPGConcurrentAppendsTo16Logs(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, pool := newStore(t)
	const logs, workers, each = 16, 8, 25
	var g errgroup.Group
	for l := range logs {
		unit := fmt.Sprintf("unit-%02d", l)
		for w := range workers {
			g.Go(func() error {
				for i := range each {
					if _, err := s.Append(ctx, "iksan", unit, req("iksan", unit, "USE", fmt.Sprintf("%d-%d", w, i))); err != nil {
						return err
					}
				}
				return nil
			})
		}
	}
	require.NoError(t, g.Wait())
	for l := range logs {
		checkLog(t, s, pool, "iksan", fmt.Sprintf("unit-%02d", l), workers*each, l == 0)
	}
}

// Two replicas (two Stores, each with its own sequencer and edge cache) on one database: the
// head row's FOR UPDATE lock serialises them.
func TestPGTwoReplicasAppendToOneLog(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := pgtest.New(t, pg.Schema, pg.Migrations)
	sealer := newSealer(t) // replicas share the application's data key
	a, b := pg.New(pool, sealer), pg.New(pool, sealer)
	const workers, each = 32, 20
	var g errgroup.Group
	var mu sync.Mutex
	seen := map[int64]bool{}
	for w := range workers * 2 {
		s := a
		if w%2 == 1 {
			s = b
		}
		g.Go(func() error {
			for i := range each {
				r, err := s.Append(ctx, "iksan", "library", req("iksan", "library", "VIEWING", fmt.Sprintf("%d-%d", w, i)))
				if err != nil {
					return err
				}
				mu.Lock()
				dup := seen[r.Index]
				seen[r.Index] = true
				mu.Unlock()
				if dup {
					return fmt.Errorf("index %d given twice", r.Index)
				}
			}
			return nil
		})
	}
	require.NoError(t, g.Wait())
	checkLog(t, a, pool, "iksan", "library", workers*2*each, true)
	checkLog(t, b, pool, "iksan", "library", workers*2*each, false)
}

func TestPGIdempotentReplay(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, pool := newStore(t)
	_, err := s.Append(ctx, "iksan", "u", req("iksan", "u", "USE", "first"))
	require.NoError(t, err)

	var builds atomic.Int32
	r := pg.AppendRequest{RequestID: "req-1", RequestHash: []byte("h1"), Kind: "PROVISION", OccurTime: occur,
		Build: func(i int64) ([]byte, []byte, error) {
			builds.Add(1)
			return leafOf("iksan", "u", i, "PROVISION", "once"), nil, nil
		}}
	results := make([]pg.Appended, 8)
	var g errgroup.Group
	for i := range results {
		g.Go(func() (err error) {
			results[i], err = s.Append(ctx, "iksan", "u", r)
			return err
		})
	}
	require.NoError(t, g.Wait())
	require.Equal(t, int32(1), builds.Load(), "Build is called once")
	fresh := 0
	for _, a := range results {
		require.Equal(t, int64(1), a.Index)
		require.Equal(t, results[0].LeafHash, a.LeafHash)
		require.Equal(t, int64(2), a.TreeSize)
		if !a.Replayed {
			fresh++
		}
	}
	require.Equal(t, 1, fresh, "one append, seven replays")

	// Later, after the log has grown, a replay still returns the first result.
	_, err = s.Append(ctx, "iksan", "u", req("iksan", "u", "USE", "third"))
	require.NoError(t, err)
	again, err := s.Append(ctx, "iksan", "u", r)
	require.NoError(t, err)
	require.True(t, again.Replayed)
	require.Equal(t, int64(1), again.Index)
	require.Equal(t, int64(2), again.TreeSize)
	size, _ := openCheckpoint(t, s, "iksan", "u", again.Checkpoint)
	require.Equal(t, int64(3), size, "the checkpoint returned is the latest")
	require.Equal(t, int32(1), builds.Load())

	// The same request_id with another request is refused.
	other := r
	other.RequestHash = []byte("h2")
	_, err = s.Append(ctx, "iksan", "u", other)
	requireField(t, err, "request_id", "AIP-155")
	// And in another log it is a different request.
	a, err := s.Append(ctx, "iksan", "other-unit", r)
	require.NoError(t, err)
	require.False(t, a.Replayed)
	require.Equal(t, int64(0), a.Index)
	checkLog(t, s, pool, "iksan", "u", 3, true)
}

// AIP-155 within one batch: a repeat of a request gets the first one's answer, the same
// request_id with another request is refused; neither is silently merged.
func TestPGRequestIDReusedInOneBatch(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, pool := newStore(t)
	entered, release, batches := blockFirstCommit(s)
	first := make(chan error, 1)
	go func() {
		_, err := s.Append(ctx, "iksan", "u", req("iksan", "u", "USE", "blocker"))
		first <- err
	}()
	waitEntered(t, entered, first)

	type result struct {
		a   pg.Appended
		err error
	}
	results := make([]chan result, 3)
	for i, hash := range []string{"h1", "h1", "h2"} {
		r := req("iksan", "u", "USE", "body "+hash)
		r.RequestID, r.RequestHash = "dup", []byte(hash)
		results[i] = make(chan result, 1)
		go func() {
			a, err := s.Append(ctx, "iksan", "u", r)
			results[i] <- result{a, err}
		}()
		// One at a time, so the batch holds them in this order.
		require.Eventually(t, func() bool { return pg.QueueLen(s, "iksan", "u") == i+1 }, testWait, testTick)
	}
	close(release)
	require.NoError(t, <-first)
	a, b, c := <-results[0], <-results[1], <-results[2]
	require.NoError(t, a.err)
	require.False(t, a.a.Replayed)
	require.NoError(t, b.err)
	require.True(t, b.a.Replayed)
	require.Equal(t, a.a.Index, b.a.Index)
	requireField(t, c.err, "request_id", "AIP-155")
	require.Equal(t, []int{1, 1}, batches())
	checkLog(t, s, pool, "iksan", "u", 2, false)
}

// Appended.CommitTime is the commit_time stored in the entry's row, for an append, a repeat in
// the same batch and a later replay.
func TestPGCommitTimeIsTheStoredOne(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, _ := newStore(t)
	r := req("iksan", "u", "USE", "a")
	r.RequestID = "req-1"
	a, err := s.Append(ctx, "iksan", "u", r)
	require.NoError(t, err)
	row, err := s.Entry(ctx, "iksan", "u", a.Index)
	require.NoError(t, err)
	require.False(t, row.CommitTime.IsZero())
	require.True(t, row.CommitTime.Equal(a.CommitTime), "stored %v, returned %v", row.CommitTime, a.CommitTime)
	again, err := s.Append(ctx, "iksan", "u", r)
	require.NoError(t, err)
	require.True(t, again.Replayed)
	require.True(t, row.CommitTime.Equal(again.CommitTime))
}

// blockFirstCommit makes the next batch wait before its COMMIT until release is closed, so that
// appends made meanwhile queue up and commit together in the batch after it. It records the
// number of entries each batch appends.
func blockFirstCommit(s *pg.Store) (entered, release chan struct{}, batches func() []int) {
	entered, release = make(chan struct{}), make(chan struct{})
	var mu sync.Mutex
	var sizes []int
	var once sync.Once
	pg.SetBeforeCommit(s, func(ctx context.Context, tx pgx.Tx, n int) error {
		mu.Lock()
		sizes = append(sizes, n)
		mu.Unlock()
		once.Do(func() {
			close(entered)
			<-release
		})
		return nil
	})
	return entered, release, func() []int {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(sizes)
	}
}

// waitEntered waits until the blocked batch reached its COMMIT, failing if its append failed.
func waitEntered(t *testing.T, entered <-chan struct{}, failed <-chan error) {
	t.Helper()
	select {
	case <-entered:
	case err := <-failed:
		t.Fatalf("the first append returned before its commit: %v", err)
	case <-time.After(testWait):
		t.Fatal("the first append did not reach its commit")
	}
}

// One bad request in a batch fails alone: a Build that errs, one that panics, a follows of a
// missing entry and a row PostgreSQL refuses (a NUL in text) are excluded, and the others commit
// in the same batch, or one by one after the batch failed, with no gap.
func TestPGBadRequestsInABatchFailAlone(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, pool := newStore(t)
	const tenant, unit = "iksan", "cctv"

	entered, release, batches := blockFirstCommit(s)
	first := make(chan error, 1)
	go func() {
		_, err := s.Append(ctx, tenant, unit, req(tenant, unit, "USE", "first"))
		first <- err
	}()
	waitEntered(t, entered, first) // index 0 is being committed; everything below queues behind it

	five := int64(5)
	zero := int64(0)
	reqs := map[string]pg.AppendRequest{
		"ok-a":        req(tenant, unit, "USE", "a"),
		"build-error": {Kind: "USE", OccurTime: occur, Build: func(int64) ([]byte, []byte, error) { return nil, nil, errors.New("no leaf") }},
		"ok-b":        req(tenant, unit, "USE", "b"),
		"panic":       {Kind: "USE", OccurTime: occur, Build: func(int64) ([]byte, []byte, error) { panic("boom") }},
		"follows-missing": func() pg.AppendRequest {
			r := req(tenant, unit, "AMENDMENT", "late reply")
			r.Follows = &five
			return r
		}(),
		"follows-0": func() pg.AppendRequest {
			r := req(tenant, unit, "AMENDMENT", "reply")
			r.Follows = &zero
			return r
		}(),
		"ok-c": req(tenant, unit, "USE", "c"),
	}
	type result struct {
		name string
		a    pg.Appended
		err  error
	}
	results := make(chan result, len(reqs))
	for name, r := range reqs {
		go func() {
			a, err := s.Append(ctx, tenant, unit, r)
			results <- result{name, a, err}
		}()
	}
	require.Eventually(t, func() bool { return pg.QueueLen(s, tenant, unit) == len(reqs) }, testWait, testTick)
	close(release)
	require.NoError(t, <-first)

	got := map[string]result{}
	for range reqs {
		r := <-results
		got[r.name] = r
	}
	require.ErrorContains(t, got["build-error"].err, "no leaf")
	require.ErrorContains(t, got["panic"].err, "panicked: boom")
	requireField(t, got["follows-missing"].err, "entry.follows", "STD-45")
	var idx []int64
	for _, name := range []string{"ok-a", "ok-b", "ok-c", "follows-0"} {
		require.NoError(t, got[name].err, name)
		idx = append(idx, got[name].a.Index)
	}
	slices.Sort(idx)
	require.Equal(t, []int64{1, 2, 3, 4}, idx)
	require.Equal(t, []int{1, 4}, batches(), "the seven queued appends were one batch of four entries")
	checkLog(t, s, pool, tenant, unit, 5, true)

	// A row PostgreSQL refuses fails its whole batch; the batch is then retried one append at a
	// time, so only that append fails.
	entered, release, _ = blockFirstCommit(s)
	go func() {
		_, err := s.Append(ctx, tenant, unit, req(tenant, unit, "USE", "blocker"))
		first <- err
	}()
	waitEntered(t, entered, first)
	for i, kind := range []string{"USE", "bad\x00kind", "USE"} {
		go func() {
			a, err := s.Append(ctx, tenant, unit, req(tenant, unit, kind, fmt.Sprint(i)))
			results <- result{kind, a, err}
		}()
	}
	require.Eventually(t, func() bool { return pg.QueueLen(s, tenant, unit) == 3 }, testWait, testTick)
	close(release)
	require.NoError(t, <-first)
	idx = nil
	for range 3 {
		r := <-results
		if r.name == "USE" {
			require.NoError(t, r.err)
			idx = append(idx, r.a.Index)
		} else {
			require.Error(t, r.err)
		}
	}
	slices.Sort(idx)
	require.Equal(t, []int64{6, 7}, idx)
	checkLog(t, s, pool, tenant, unit, 8, true)
}

// A transaction killed during its commit (its backend terminated from another connection) leaves
// the log exactly as it was, and the next append continues with no gap.
func TestPGKilledCommitLeavesTheLogAsItWas(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, pool := newStore(t)
	const tenant, unit = "iksan", "parking"
	for i := range 5 {
		_, err := s.Append(ctx, tenant, unit, req(tenant, unit, "USE", fmt.Sprint(i)))
		require.NoError(t, err)
	}
	before, err := s.Checkpoint(ctx, tenant, unit, false)
	require.NoError(t, err)

	var kills atomic.Int32
	pg.SetBeforeCommit(s, func(ctx context.Context, tx pgx.Tx, n int) error {
		var pid int
		if err := tx.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
			return err
		}
		var ok bool
		if err := pool.QueryRow(ctx, "SELECT pg_terminate_backend($1, 5000)", pid).Scan(&ok); err != nil {
			return err
		}
		kills.Add(1)
		return nil
	})
	var g errgroup.Group
	for i := range 3 {
		g.Go(func() error {
			_, err := s.Append(ctx, tenant, unit, req(tenant, unit, "USE", fmt.Sprint("killed-", i)))
			return err
		})
	}
	require.Error(t, g.Wait())
	require.GreaterOrEqual(t, kills.Load(), int32(1))

	after, err := s.Checkpoint(ctx, tenant, unit, false)
	require.NoError(t, err)
	require.Equal(t, int64(5), after.Size)
	require.Equal(t, before, after)
	checkLog(t, s, pool, tenant, unit, 5, true)

	pg.SetBeforeCommit(s, nil)
	a, err := s.Append(ctx, tenant, unit, req(tenant, unit, "USE", "after"))
	require.NoError(t, err)
	require.Equal(t, int64(5), a.Index)
	checkLog(t, s, pool, tenant, unit, 6, true)
}

// A crash cannot be simulated more bluntly than a write that fails half-way: the hook makes the
// transaction fail after the entries and hashes were written, and the retry path commits the
// same appends afterwards.
func TestPGFailedWriteIsRetriedAppendByAppend(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, pool := newStore(t)
	const tenant, unit = "iksan", "welfare"
	entered, release, _ := blockFirstCommit(s)
	done := make(chan error, 1)
	go func() {
		_, err := s.Append(ctx, tenant, unit, req(tenant, unit, "USE", "first"))
		done <- err
	}()
	waitEntered(t, entered, done)
	var failed atomic.Bool
	var g errgroup.Group
	for i := range 4 {
		g.Go(func() error {
			_, err := s.Append(ctx, tenant, unit, req(tenant, unit, "USE", fmt.Sprint(i)))
			return err
		})
	}
	require.Eventually(t, func() bool { return pg.QueueLen(s, tenant, unit) == 4 }, testWait, testTick)
	pg.SetBeforeCommit(s, func(ctx context.Context, tx pgx.Tx, n int) error {
		if n > 1 && failed.CompareAndSwap(false, true) {
			return errors.New("injected failure before COMMIT")
		}
		return nil
	})
	close(release)
	require.NoError(t, <-done)
	require.NoError(t, g.Wait())
	require.True(t, failed.Load())
	checkLog(t, s, pool, tenant, unit, 5, true)
}

func TestPGFollows(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, pool := newStore(t)
	follows := func(i int64) pg.AppendRequest {
		r := req("iksan", "u", "AMENDMENT", fmt.Sprint("about ", i))
		r.Follows = &i
		return r
	}
	_, err := s.Append(ctx, "iksan", "u", follows(0))
	requireField(t, err, "entry.follows", "STD-45")
	_, err = s.Append(ctx, "iksan", "u", follows(-1))
	requireField(t, err, "entry.follows", "STD-45")

	_, err = s.Append(ctx, "iksan", "u", req("iksan", "u", "PROVISION", "to police"))
	require.NoError(t, err)
	a, err := s.Append(ctx, "iksan", "u", follows(0))
	require.NoError(t, err)
	e, err := s.Entry(ctx, "iksan", "u", a.Index)
	require.NoError(t, err)
	require.Equal(t, int64(0), *e.Follows)
	_, err = s.Append(ctx, "iksan", "u", follows(2))
	requireField(t, err, "entry.follows", "STD-45")
	// Another tenant's unit of the same id has no entry 0.
	_, err = s.Append(ctx, "seongnam", "u", follows(0))
	requireField(t, err, "entry.follows", "STD-45")
	checkLog(t, s, pool, "iksan", "u", 2, true)
}

// Migration 00009: follows and redacted_by name an entry of the same log (a trigger instead of
// foreign keys, firing only for a row that has a link): a row written around the store that names
// a missing entry, or another log's, is refused as a foreign key would refuse it.
func TestPGLinksNameEntriesOfTheLog(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, pool := newStore(t)
	// The trigger checks the links, not the foreign keys 00009 drops (both raise 23503).
	var fks, triggers int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM pg_constraint WHERE conrelid = 'ledger.entries'::regclass
		AND contype = 'f'`).Scan(&fks))
	require.Zero(t, fks, "no foreign key left on ledger.entries")
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM pg_trigger WHERE tgrelid = 'ledger.entries'::regclass
		AND tgname = 'entries_links' AND tgenabled <> 'D'`).Scan(&triggers))
	require.Equal(t, 1, triggers, "the entries_links trigger")
	for u, n := range map[string]int{"u": 5, "v": 3} {
		for i := range n {
			_, err := s.Append(ctx, "iksan", u, req("iksan", u, "USE", fmt.Sprint(i)))
			require.NoError(t, err)
		}
	}
	for _, q := range []string{
		// Entry 4 is u's, not v's.
		`INSERT INTO ledger.entries (tenant_id, unit_id, idx, leaf, kind, occur_time, tree_size, follows)
			VALUES ('iksan', 'v', 10, '\x00', 'AMENDMENT', now(), 11, 4)`,
		`UPDATE ledger.entries SET sealed = NULL, redacted = true, redacted_by = 9 WHERE tenant_id = 'iksan' AND unit_id = 'u' AND idx = 1`,
		`UPDATE ledger.entries SET sealed = NULL, redacted = true, redacted_by = 4 WHERE tenant_id = 'iksan' AND unit_id = 'v' AND idx = 1`,
	} {
		_, err := pool.Exec(ctx, q)
		var pe *pgconn.PgError
		require.ErrorAs(t, err, &pe, q)
		require.Equal(t, "23503", pe.Code, q)
	}
	// Links to entries of the same log are taken.
	_, err := pool.Exec(ctx, `UPDATE ledger.entries SET follows = 0 WHERE tenant_id = 'iksan' AND unit_id = 'u' AND idx = 4`)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `UPDATE ledger.entries SET sealed = NULL, redacted = true, redacted_by = 2 WHERE tenant_id = 'iksan' AND unit_id = 'v' AND idx = 1`)
	require.NoError(t, err)
}

// redaction is the REDACTION record of entry index, erasing its values in the same transaction.
func redaction(index int64, requestID string) pg.AppendRequest {
	r := req("iksan", "u", "REDACTION", fmt.Sprint("redacts ", index))
	r.Follows, r.Redact, r.RequestID = &index, true, requestID
	return r
}

func TestPGRedactionKeepsProofsValid(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, pool := newStore(t)
	for i := range 10 {
		_, err := s.Append(ctx, "iksan", "u", req("iksan", "u", "VIEWING", fmt.Sprint("requester ", i)))
		require.NoError(t, err)
	}
	before, err := s.Entry(ctx, "iksan", "u", 3)
	require.NoError(t, err)
	require.Equal(t, []byte("personal:requester 3"), before.Sealed)

	rec, err := s.Append(ctx, "iksan", "u", redaction(3, "r-1"))
	require.NoError(t, err)
	after, err := s.Entry(ctx, "iksan", "u", 3)
	require.NoError(t, err)
	require.Nil(t, after.Sealed)
	require.True(t, after.Redacted)
	require.Equal(t, before.Leaf, after.Leaf)
	require.Equal(t, before.LeafHash, after.LeafHash)

	checkLog(t, s, pool, "iksan", "u", 11, true) // every proof, entry 3's included, still verifies
	other, err := s.Entry(ctx, "iksan", "u", 4)
	require.NoError(t, err)
	require.False(t, other.Redacted)

	// A redaction is refused once the entry is redacted, unless it is a replay (AIP-155).
	_, err = s.Append(ctx, "iksan", "u", redaction(3, "r-2"))
	requireCode(t, err, codes.FailedPrecondition)
	_, err = s.Append(ctx, "iksan", "u", redaction(3, ""))
	requireCode(t, err, codes.FailedPrecondition)
	again, err := s.Append(ctx, "iksan", "u", redaction(3, "r-1"))
	require.NoError(t, err)
	require.True(t, again.Replayed)
	require.Equal(t, rec.Index, again.Index)
	_, err = s.Append(ctx, "iksan", "u", redaction(11, ""))
	requireField(t, err, "entry.follows", "STD-45")
	checkLog(t, s, pool, "iksan", "u", 11, false)
}

// Two redactions of one entry in one batch: the first commits, the second is refused.
func TestPGRedactionsOfOneEntryInABatch(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, pool := newStore(t)
	_, err := s.Append(ctx, "iksan", "u", req("iksan", "u", "VIEWING", "requester"))
	require.NoError(t, err)

	entered, release, batches := blockFirstCommit(s)
	first := make(chan error, 1)
	go func() {
		_, err := s.Append(ctx, "iksan", "u", req("iksan", "u", "USE", "blocker"))
		first <- err
	}()
	waitEntered(t, entered, first)
	errs := make(chan error, 2)
	for i := range 2 {
		go func() {
			_, err := s.Append(ctx, "iksan", "u", redaction(0, fmt.Sprint("r-", i)))
			errs <- err
		}()
	}
	require.Eventually(t, func() bool { return pg.QueueLen(s, "iksan", "u") == 2 }, testWait, testTick)
	close(release)
	require.NoError(t, <-first)
	var codesSeen []codes.Code
	for range 2 {
		if err := <-errs; err != nil {
			codesSeen = append(codesSeen, apierr.CodeOf(requireCode(t, err, codes.FailedPrecondition)))
		}
	}
	require.Len(t, codesSeen, 1, "one redaction commits, the other is refused")
	require.Equal(t, []int{1, 1}, batches())
	checkLog(t, s, pool, "iksan", "u", 3, false)
}

func TestPGTenantIsolation(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, pool := newStore(t)
	for i := range 3 {
		_, err := s.Append(ctx, "iksan", "civil-safety", req("iksan", "civil-safety", "USE", fmt.Sprint(i)))
		require.NoError(t, err)
	}
	// Seongnam's unit of the same id is another, empty log.
	_, err := s.Entry(ctx, "seongnam", "civil-safety", 0)
	requireNotFound(t, err, "tenants/seongnam/units/civil-safety/ledger/entries/0")
	list, err := s.Entries(ctx, "seongnam", "civil-safety", pg.Filter{}, -1, 10)
	require.NoError(t, err)
	require.Empty(t, list)
	_, _, err = s.InclusionProof(ctx, "seongnam", "civil-safety", 0, 1)
	requireNotFound(t, err, "tenants/seongnam/units/civil-safety/ledger/entries/0")
	_, err = s.ConsistencyProof(ctx, "seongnam", "civil-safety", 1, 2)
	requireField(t, err, "to", "range")
	head, err := s.Checkpoint(ctx, "seongnam", "civil-safety", false)
	require.NoError(t, err)
	require.Equal(t, int64(0), head.Size)
	openCheckpoint(t, s, "seongnam", "civil-safety", head.Checkpoint)

	// Each log has its own key: Iksan's checkpoint does not verify under Seongnam's key.
	iksan, err := s.Checkpoint(ctx, "iksan", "civil-safety", false)
	require.NoError(t, err)
	key, err := s.VerifierKey(ctx, "seongnam", "civil-safety")
	require.NoError(t, err)
	v, err := note.NewVerifier(key.VerifierKey)
	require.NoError(t, err)
	_, err = note.Open([]byte(iksan.Checkpoint), note.VerifierList(v))
	var unverified *note.UnverifiedNoteError
	require.ErrorAs(t, err, &unverified)

	a, err := s.Append(ctx, "seongnam", "civil-safety", req("seongnam", "civil-safety", "USE", "x"))
	require.NoError(t, err)
	require.Equal(t, int64(0), a.Index)
	checkLog(t, s, pool, "iksan", "civil-safety", 3, true)
	checkLog(t, s, pool, "seongnam", "civil-safety", 1, true)
}

func TestPGCheckpointIsASignedC2SPNote(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := pgtest.New(t, pg.Schema, pg.Migrations)
	sealer := newSealer(t)
	s := pg.New(pool, sealer)
	head, err := s.Checkpoint(ctx, "iksan", "library", false)
	require.NoError(t, err)
	require.Equal(t, int64(0), head.Size)
	empty, err := tlog.TreeHash(0, nil)
	require.NoError(t, err)
	require.Equal(t, empty, head.Root)

	// C2SP tlog-checkpoint: the key's name is the log's origin.
	key, err := s.VerifierKey(ctx, "iksan", "library")
	require.NoError(t, err)
	require.Equal(t, "pipa.kr/tenants/iksan/units/library", key.Origin)
	require.True(t, strings.HasPrefix(key.VerifierKey, "pipa.kr/tenants/iksan/units/library+"), key.VerifierKey)
	require.Equal(t, key.VerifierKey, head.VerifierKey)
	require.True(t, strings.HasPrefix(head.Checkpoint, "pipa.kr/tenants/iksan/units/library\n0\n"+empty.String()+"\n\n— pipa.kr/tenants/iksan/units/library "), head.Checkpoint)

	a, err := s.Append(ctx, "iksan", "library", req("iksan", "library", "USE", "x"))
	require.NoError(t, err)
	n, r := openCheckpoint(t, s, "iksan", "library", a.Checkpoint)
	require.Equal(t, int64(1), n)
	require.Equal(t, tlog.RecordHash(leafOf("iksan", "library", 0, "USE", "x")), r)

	// A second store on the database (a restart, another replica) signs with the same key.
	again, err := pg.New(pool, sealer).VerifierKey(ctx, "iksan", "library")
	require.NoError(t, err)
	require.Equal(t, key, again)
}

func TestPGProofArguments(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, _ := newStore(t)
	for i := range 4 {
		_, err := s.Append(ctx, "iksan", "u", req("iksan", "u", "USE", fmt.Sprint(i)))
		require.NoError(t, err)
	}
	_, _, err := s.InclusionProof(ctx, "iksan", "u", 4, 4)
	requireNotFound(t, err, "tenants/iksan/units/u/ledger/entries/4")
	_, _, err = s.InclusionProof(ctx, "iksan", "u", 2, 2)
	requireField(t, err, "tree_size", "range")
	_, _, err = s.InclusionProof(ctx, "iksan", "u", 2, 5)
	requireField(t, err, "tree_size", "range")
	_, err = s.ConsistencyProof(ctx, "iksan", "u", 3, 2)
	requireField(t, err, "from", "range")
	_, err = s.ConsistencyProof(ctx, "iksan", "u", 0, 2)
	requireField(t, err, "from", "range")
	_, err = s.ConsistencyProof(ctx, "iksan", "u", 2, 5)
	requireField(t, err, "to", "range")
	p, err := s.ConsistencyProof(ctx, "iksan", "u", 4, 4)
	require.NoError(t, err)
	require.Empty(t, p)
	_, err = s.Entry(ctx, "iksan", "u", 9)
	requireNotFound(t, err, "tenants/iksan/units/u/ledger/entries/9")
	_, err = s.Append(ctx, "iksan", "a/b", req("iksan", "a/b", "USE", "x"))
	requireField(t, err, "parent", "format")
	_, err = s.Append(ctx, "iksan", "u", pg.AppendRequest{})
	requireCode(t, err, codes.InvalidArgument)
}

func TestPGEntriesByKind(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, _ := newStore(t)
	for i := range 10 {
		kind := "USE"
		if i%3 == 0 {
			kind = "DESTRUCTION"
		}
		_, err := s.Append(ctx, "iksan", "u", req("iksan", "u", kind, fmt.Sprint(i)))
		require.NoError(t, err)
	}
	page, err := s.Entries(ctx, "iksan", "u", pg.Filter{Kind: "DESTRUCTION"}, -1, 2)
	require.NoError(t, err)
	require.Equal(t, []int64{0, 3}, indexes(page))
	page, err = s.Entries(ctx, "iksan", "u", pg.Filter{Kind: "DESTRUCTION"}, 3, 2)
	require.NoError(t, err)
	require.Equal(t, []int64{6, 9}, indexes(page))
	page, err = s.Entries(ctx, "iksan", "u", pg.Filter{}, 7, 0)
	require.NoError(t, err)
	require.Equal(t, []int64{8, 9}, indexes(page))
	require.Equal(t, "DESTRUCTION", page[1].Kind)
	require.Equal(t, occur, page[1].OccurTime.UTC())
	require.False(t, page[1].CommitTime.IsZero())
}

// Migration 00009: entries_kind holds no ACCESS entries, most of a log. ACCESS entries are read in
// the primary key's order; a read of another kind uses the partial index even in a generic plan
// (PostgreSQL's after five executions of a prepared statement), since the query names its predicate.
func TestPGEntriesByKindWithoutAccessInTheIndex(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, pool := newStore(t)
	for b := range 3 {
		reqs := make([]pg.AppendRequest, 200)
		for i := range reqs {
			kind := "ACCESS"
			if i%100 == 0 {
				kind = "DESTRUCTION"
			}
			reqs[i] = req("iksan", "u", kind, fmt.Sprint(b, i))
		}
		_, err := s.AppendBatch(ctx, "iksan", "u", reqs)
		require.NoError(t, err)
	}
	page, err := s.Entries(ctx, "iksan", "u", pg.Filter{Kind: "ACCESS"}, 99, 3)
	require.NoError(t, err)
	require.Equal(t, []int64{101, 102, 103}, indexes(page))
	page, err = s.Entries(ctx, "iksan", "u", pg.Filter{Kind: "DESTRUCTION"}, 0, 0)
	require.NoError(t, err)
	require.Equal(t, []int64{100, 200, 300, 400, 500}, indexes(page))

	conn, err := pool.Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	for _, q := range []string{`ANALYZE ledger.entries`, `SET plan_cache_mode = force_generic_plan`,
		`PREPARE by_kind AS ` + pg.EntriesSQL(pg.Filter{Kind: "DESTRUCTION"})} {
		_, err := conn.Exec(ctx, q, pgx.QueryExecModeSimpleProtocol)
		require.NoError(t, err)
	}
	defer conn.Exec(context.Background(), `DEALLOCATE by_kind; RESET plan_cache_mode`, pgx.QueryExecModeSimpleProtocol) //nolint:errcheck
	rows, err := conn.Query(ctx, `EXPLAIN EXECUTE by_kind('iksan', 'u', -1, 100, 'DESTRUCTION')`, pgx.QueryExecModeSimpleProtocol)
	require.NoError(t, err)
	plan, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Contains(t, strings.Join(plan, "\n"), "entries_kind_not_access", "generic plan:\n%s", strings.Join(plan, "\n"))
	var indexdef string
	require.NoError(t, pool.QueryRow(ctx, `SELECT indexdef FROM pg_indexes WHERE schemaname = 'ledger' AND indexname = 'entries_kind_not_access'`).Scan(&indexdef))
	require.Contains(t, indexdef, `WHERE (kind <> 'ACCESS'::text)`)
}

func indexes(es []pg.EntryRow) []int64 {
	out := make([]int64, len(es))
	for i, e := range es {
		out[i] = e.Index
	}
	return out
}

// The stored hashes serve C2SP tlog-tiles: tiles read through HashReader authenticate against
// the checkpoint's root (tlog.TileHashReader checks them) and give the same proofs.
type tileServer struct {
	t *testing.T
	r tlog.HashReader
}

func (ts tileServer) Height() int { return 2 }
func (ts tileServer) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, tile := range tiles {
		data, err := tlog.ReadTileData(tile, ts.r)
		if err != nil {
			return nil, err
		}
		out[i] = data
	}
	return out, nil
}
func (ts tileServer) SaveTiles([]tlog.Tile, [][]byte) {}

func TestPGTiles(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, _ := newStore(t)
	var leaves [][]byte
	for i := range 37 {
		a, err := s.Append(ctx, "iksan", "u", req("iksan", "u", "ACCESS", fmt.Sprint(i)))
		require.NoError(t, err)
		leaves = append(leaves, leafOf("iksan", "u", a.Index, "ACCESS", fmt.Sprint(i)))
	}
	head, err := s.Checkpoint(ctx, "iksan", "u", false)
	require.NoError(t, err)
	size, root := head.Size, head.Root
	tiles := tlog.TileHashReader(tlog.Tree{N: size, Hash: root}, tileServer{t, s.HashReader(ctx, "iksan", "u")})
	for i := range size {
		p, err := tlog.ProveRecord(size, i, tiles)
		require.NoError(t, err)
		require.NoError(t, tlog.CheckRecord(p, size, root, i, tlog.RecordHash(leaves[i])))
	}
}

// On the one-round-trip path (the log's edge is cached, no hook installed), a statement that
// fails after the head was updated undoes the head too: the three statements are one implicit
// transaction.
func TestPGOneRoundTripPathIsAtomic(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, pool := newStore(t)
	for i := range 3 {
		_, err := s.Append(ctx, "iksan", "u", req("iksan", "u", "USE", fmt.Sprint(i)))
		require.NoError(t, err)
	}
	_, err := s.Append(ctx, "iksan", "u", req("iksan", "u", "bad\x00kind", "x"))
	require.Error(t, err)
	checkLog(t, s, pool, "iksan", "u", 3, true)
	a, err := s.Append(ctx, "iksan", "u", req("iksan", "u", "USE", "next"))
	require.NoError(t, err)
	require.Equal(t, int64(3), a.Index)
	checkLog(t, s, pool, "iksan", "u", 4, true)
}

// The one-round-trip path killed mid-flight: the test holds the head row, the append's UPDATE
// waits for it, and its backend is terminated. The log stays as it was.
func TestPGKilledOneRoundTripAppend(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, pool := newStore(t)
	for i := range 3 {
		_, err := s.Append(ctx, "iksan", "u", req("iksan", "u", "USE", fmt.Sprint(i)))
		require.NoError(t, err)
	}
	holder, err := pool.Begin(ctx)
	require.NoError(t, err)
	_, err = holder.Exec(ctx, `SELECT 1 FROM ledger.logs WHERE tenant_id = 'iksan' AND unit_id = 'u' FOR UPDATE`)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() {
		_, err := s.Append(ctx, "iksan", "u", req("iksan", "u", "USE", "killed"))
		done <- err
	}()
	var pid int
	require.Eventually(t, func() bool {
		err := pool.QueryRow(ctx, `SELECT pid FROM pg_stat_activity WHERE datname = current_database()
			AND wait_event_type = 'Lock' AND query LIKE 'SELECT 1 FROM ledger.logs l JOIN unnest%'`).Scan(&pid)
		return err == nil
	}, testWait, testTick)
	_, err = pool.Exec(ctx, "SELECT pg_terminate_backend($1, 5000)", pid)
	require.NoError(t, err)
	require.NoError(t, holder.Rollback(ctx))
	require.Error(t, <-done)
	checkLog(t, s, pool, "iksan", "u", 3, true)
	a, err := s.Append(ctx, "iksan", "u", req("iksan", "u", "USE", "after"))
	require.NoError(t, err)
	require.Equal(t, int64(3), a.Index)
	checkLog(t, s, pool, "iksan", "u", 4, true)
}
