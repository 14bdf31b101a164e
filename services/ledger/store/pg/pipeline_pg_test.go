package pg_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/pipa-kr/pipa/services/ledger/store/pg"
)

// Tests of a log's pipeline: the batch planned on top of the one on its way, sent once that one
// holds the head's lock. They need PostgreSQL.

// pipelined starts an append of first to log (iksan, u), of size 3 with its tree known, whose
// transaction holds the head's lock and waits inside its INSERT (for an uncommitted row at its
// index, held by the test), then an append of second, which is planned on top of it and sent:
// its transaction waits for the head's lock. It returns the store, its pool, first's backend, the release of the
// uncommitted row, and the two appends' outcomes.
func pipelined(t *testing.T, first, second pg.AppendRequest) (s *pg.Store, pool *pgxpool.Pool, firstPid int, release func(), a, b <-chan appended) {
	t.Helper()
	ctx := t.Context()
	s, pool = newStore(t)
	for i := range 3 {
		_, err := s.Append(ctx, "iksan", "u", req("iksan", "u", "USE", fmt.Sprint(i)))
		require.NoError(t, err)
	}
	blocker, err := pool.Begin(ctx)
	require.NoError(t, err)
	_, err = blocker.Exec(ctx, `INSERT INTO ledger.entries (tenant_id, unit_id, idx, leaf, kind, occur_time, tree_size)
		VALUES ('iksan', 'u', 3, 'x', 'USE', now(), 4)`)
	require.NoError(t, err)
	release = func() { _ = blocker.Rollback(context.Background()) }
	t.Cleanup(release)
	a, b = appendAsync(t, s, first), nil
	firstPid = waitingOn(t, pool, "WITH h AS (INSERT INTO ledger.hashes")
	b = appendAsync(t, s, second)
	// Sent while the first is on its way: it waits for the head's lock the first holds.
	waitingOn(t, pool, "SELECT 1 FROM ledger.logs l JOIN unnest")
	return s, pool, firstPid, release, a, b
}

type appended struct {
	a   pg.Appended
	err error
}

func appendAsync(t *testing.T, s *pg.Store, r pg.AppendRequest) <-chan appended {
	out := make(chan appended, 1)
	go func() {
		a, err := s.Append(t.Context(), "iksan", "u", r)
		out <- appended{a, err}
	}()
	return out
}

// The batch on its way fails with an ERROR (it certainly rolled back) while the next one, planned
// on top of it, waits for the head's lock: the next one's guard refuses it (the head is not the
// tree it extends), and both are planned again under the lock, in their order: no gap, no fork,
// nothing lost.
func TestPGPipelinedBatchAfterAFailedOne(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, pool, pid, release, first, second := pipelined(t, idReq("u", "first"), idReq("u", "second"))
	_, err := pool.Exec(ctx, "SELECT pg_cancel_backend($1)", pid)
	require.NoError(t, err)
	release()
	a, b := <-first, <-second
	require.NoError(t, a.err)
	require.NoError(t, b.err)
	require.Equal(t, int64(3), a.a.Index)
	require.Equal(t, int64(4), b.a.Index)
	checkLog(t, s, pool, "iksan", "u", 5, true)
	for _, r := range []pg.AppendRequest{idReq("u", "first"), idReq("u", "second")} {
		again, err := s.Append(ctx, "iksan", "u", r)
		require.NoError(t, err)
		require.True(t, again.Replayed, "appended once")
	}
}

// The batch on its way loses its backend (FATAL: it may or may not have committed; here it did
// not) while the next one waits behind it: its caller is told so, the next one is refused by its
// guard and appended under the lock at the index the first would have taken, and a retry of the
// first with its request_id appends it once, after.
func TestPGPipelinedBatchAfterAKilledOne(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, pool, pid, release, first, second := pipelined(t, idReq("u", "first"), idReq("u", "second"))
	_, err := pool.Exec(ctx, "SELECT pg_terminate_backend($1, 5000)", pid)
	require.NoError(t, err)
	release()
	a, b := <-first, <-second
	require.ErrorContains(t, a.err, "may or may not have taken effect")
	require.NoError(t, b.err)
	require.Equal(t, int64(3), b.a.Index)
	checkLog(t, s, pool, "iksan", "u", 4, true)
	again, err := s.Append(ctx, "iksan", "u", idReq("u", "first"))
	require.NoError(t, err)
	require.False(t, again.Replayed)
	require.Equal(t, int64(4), again.Index)
	checkLog(t, s, pool, "iksan", "u", 5, true)
}
