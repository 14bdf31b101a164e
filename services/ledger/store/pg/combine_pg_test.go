package pg_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	"github.com/pipa-kr/pipa/pkg/pgtest"
	"github.com/pipa-kr/pipa/services/ledger/store/pg"
)

// Tests of the cross-log group commit (combine.go); they need PostgreSQL.

// combinedUnits are the logs of these tests; units[0] sorts first.
var combinedUnits = func() []string {
	u := make([]string, 16)
	for i := range u {
		u[i] = fmt.Sprintf("u-%02d", i)
	}
	return u
}()

// holdHead locks the head row of log (iksan, unit) in a transaction of its own until release.
func holdHead(t *testing.T, pool *pgxpool.Pool, unit string) (release func()) {
	t.Helper()
	tx, err := pool.Begin(t.Context())
	require.NoError(t, err)
	_, err = tx.Exec(t.Context(), `SELECT 1 FROM ledger.logs WHERE tenant_id = 'iksan' AND unit_id = $1 FOR UPDATE`, unit)
	require.NoError(t, err)
	release = func() { _ = tx.Rollback(context.Background()) }
	t.Cleanup(release)
	return release
}

// waitingOn returns the pid of the backend waiting on a lock while running a statement that
// starts with prefix.
func waitingOn(t *testing.T, pool *pgxpool.Pool, prefix string) int {
	t.Helper()
	var pid int
	require.Eventually(t, func() bool {
		return pool.QueryRow(t.Context(), `SELECT pid FROM pg_stat_activity WHERE datname = current_database()
			AND wait_event_type = 'Lock' AND query LIKE $1 || '%'`, prefix).Scan(&pid) == nil
	}, testWait, testTick)
	return pid
}

// gathered appends reqs[i] to combinedUnits[i+1] (each log with its edge cached), all in one
// combined transaction: the store's one committer is held on an append to units[0] until the 15
// others are ready, and block runs before it is released. It returns each append's error.
func gathered(t *testing.T, s *pg.Store, pool *pgxpool.Pool, reqs []pg.AppendRequest, block func()) []error {
	t.Helper()
	ctx := t.Context()
	release := holdHead(t, pool, combinedUnits[0])
	first := make(chan error, 1)
	go func() {
		_, err := s.Append(ctx, "iksan", combinedUnits[0], req("iksan", combinedUnits[0], "USE", "first"))
		first <- err
	}()
	waitingOn(t, pool, "SELECT 1 FROM ledger.logs l JOIN unnest")
	errs := make([]error, len(reqs))
	var wg sync.WaitGroup
	for i, r := range reqs {
		wg.Go(func() {
			_, errs[i] = s.Append(ctx, "iksan", combinedUnits[i+1], r)
		})
	}
	require.Eventually(t, func() bool { return pg.ReadyLen(s) == len(reqs) }, testWait, testTick)
	block()
	release()
	require.NoError(t, <-first)
	wg.Wait()
	return errs
}

// newCombinedStore returns a store with one committer whose 16 logs have one entry each (and so
// their edges cached: the next appends take the one-round-trip path).
func newCombinedStore(t *testing.T) (*pg.Store, *pgxpool.Pool) {
	s, pool := newStore(t, pg.WithCommitters(1))
	for _, u := range combinedUnits {
		_, err := s.Append(t.Context(), "iksan", u, req("iksan", u, "USE", "warm"))
		require.NoError(t, err)
	}
	return s, pool
}

func idReq(unit, id string) pg.AppendRequest {
	r := req("iksan", unit, "USE", id)
	r.RequestID, r.RequestHash = id, []byte(id)
	return r
}

// A combined transaction killed after it wrote the heads and the entries of 14 of its 15 logs:
// none of them keeps anything (one transaction), every caller is told it may or may not have
// taken effect, and a retry with the same request_id appends each entry exactly once.
func TestPGCombinedCommitKilledMidBatch(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, pool := newCombinedStore(t)
	reqs := make([]pg.AppendRequest, 15)
	for i := range reqs {
		reqs[i] = idReq(combinedUnits[i+1], fmt.Sprintf("killed-%d", i))
	}
	// An uncommitted row at the last log's next index: the combined INSERT, which writes the logs
	// in order, waits for it after writing the 14 others' entries, and is killed there.
	blocker, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = blocker.Rollback(context.Background()) }()
	_, err = blocker.Exec(ctx, `INSERT INTO ledger.entries (tenant_id, unit_id, idx, leaf, kind, occur_time, tree_size)
		VALUES ('iksan', $1, 1, 'x', 'USE', now(), 2)`, combinedUnits[15])
	require.NoError(t, err)
	errs := gathered(t, s, pool, reqs, func() {
		go func() {
			pid := waitingOn(t, pool, "WITH h AS (INSERT INTO ledger.hashes")
			_, _ = pool.Exec(ctx, "SELECT pg_terminate_backend($1, 5000)", pid)
		}()
	})
	require.NoError(t, blocker.Rollback(ctx))
	for i, err := range errs {
		require.ErrorContains(t, err, "may or may not have taken effect", "log %s", combinedUnits[i+1])
	}
	checkLog(t, s, pool, "iksan", combinedUnits[0], 2, false)
	for _, u := range combinedUnits[1:] {
		checkLog(t, s, pool, "iksan", u, 1, false)
	}
	var g errgroup.Group
	for i, r := range reqs {
		g.Go(func() error {
			a, err := s.Append(ctx, "iksan", combinedUnits[i+1], r)
			if err == nil && (a.Index != 1 || a.Replayed) {
				err = fmt.Errorf("%s: %+v, want a first append at index 1", combinedUnits[i+1], a)
			}
			return err
		})
	}
	require.NoError(t, g.Wait())
	for i, r := range reqs {
		a, err := s.Append(ctx, "iksan", combinedUnits[i+1], r)
		require.NoError(t, err)
		require.True(t, a.Replayed)
		require.Equal(t, int64(1), a.Index)
		checkLog(t, s, pool, "iksan", combinedUnits[i+1], 2, i == 0)
	}
}

// A combined transaction that PostgreSQL refuses because of one log's entry (a kind with a NUL
// byte) rolls back as a whole; each log then commits alone, and only the faulty append fails.
func TestPGCombinedCommitOneBadBatchFailsAlone(t *testing.T) {
	t.Parallel()
	s, pool := newCombinedStore(t)
	reqs := make([]pg.AppendRequest, 15)
	for i := range reqs {
		reqs[i] = idReq(combinedUnits[i+1], fmt.Sprintf("r-%d", i))
	}
	reqs[6] = req("iksan", combinedUnits[7], "bad\x00kind", "x")
	errs := gathered(t, s, pool, reqs, func() {})
	for i, err := range errs {
		if i == 6 {
			require.Error(t, err)
			checkLog(t, s, pool, "iksan", combinedUnits[7], 1, false)
			continue
		}
		require.NoError(t, err, "log %s", combinedUnits[i+1])
		checkLog(t, s, pool, "iksan", combinedUnits[i+1], 2, false)
	}
	a, err := s.Append(t.Context(), "iksan", combinedUnits[7], req("iksan", combinedUnits[7], "USE", "after"))
	require.NoError(t, err)
	require.Equal(t, int64(1), a.Index)
}

// Two replicas append to 64 logs at once, each replica combining its ready batches: every
// append gets a distinct index of its log, and every log is whole (no gap, no duplicate, its
// hashes, root and checkpoint agree), with the one key its head names. Replays of a third of the requests on the other replica
// return the first entry.
func TestPGCombinedCommitTwoReplicas64Logs(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := pgtest.New(t, pg.Schema, pg.Migrations)
	sealer := newSealer(t)
	replicas := []*pg.Store{pg.New(pool, sealer), pg.New(pool, sealer)}
	const logs, workers, each = 64, 128, 10
	type got struct {
		unit string
		idx  int64
	}
	var mu sync.Mutex
	seen := map[got]string{}
	var g errgroup.Group
	for w := range workers {
		g.Go(func() error {
			for i := range each {
				unit := fmt.Sprintf("unit-%02d", (w+i)%logs)
				id := fmt.Sprintf("w%d-%d", w, i)
				a, err := replicas[w%2].Append(ctx, "iksan", unit, idReq(unit, id))
				if err != nil {
					return err
				}
				mu.Lock()
				prev, dup := seen[got{unit, a.Index}]
				seen[got{unit, a.Index}] = id
				mu.Unlock()
				if dup {
					return fmt.Errorf("%s index %d given to %s and %s", unit, a.Index, prev, id)
				}
				if i%3 == 0 {
					r, err := replicas[(w+1)%2].Append(ctx, "iksan", unit, idReq(unit, id))
					if err != nil {
						return err
					}
					if !r.Replayed || r.Index != a.Index {
						return fmt.Errorf("replay of %s: %+v, want index %d replayed", id, r, a.Index)
					}
				}
			}
			return nil
		})
	}
	require.NoError(t, g.Wait())
	var total int64
	for l := range logs {
		unit := fmt.Sprintf("unit-%02d", l)
		var n int64
		for k := range seen {
			if k.unit == unit {
				n++
			}
		}
		checkLog(t, replicas[l%2], pool, "iksan", unit, n, l == 0)
		total += n
	}
	require.Equal(t, int64(workers*each), total)
	// The replicas made the logs racing each other: each log kept one key, the one its head names.
	_, err := pg.New(pool, sealer).CheckKeys(ctx)
	require.NoError(t, err)
}
