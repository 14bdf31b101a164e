package pg_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	"github.com/pipa-kr/pipa/pkg/pgtest"
	"github.com/pipa-kr/pipa/services/ledger/store/pg"
)

// The one-round-trip path skips the request-id lookup for ids its process does not know (the
// change that took BenchmarkAppend16Logs from ~7–8k to ~9k appends/s). These tests guard that
// optimisation: a replay of a request another replica committed is found (the INSERT fails on
// entries_request_id and the batch is planned again under the lock), with no gap and no
// duplicate. They live in a bench_ file because that is where the benchmark work may add files.

func TestPGReplayOfAnotherReplicasAppend(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := pgtest.New(t, pg.Schema, pg.Migrations)
	sealer := newSealer(t)
	a, b := pg.New(pool, sealer), pg.New(pool, sealer)

	// b's edge is cached and current when the replay comes: only the request id can stop it.
	_, err := b.Append(ctx, "iksan", "u", req("iksan", "u", "USE", "warm"))
	require.NoError(t, err)
	var builds atomic.Int32
	r := pg.AppendRequest{RequestID: "req-a", RequestHash: []byte("h"), Kind: "PROVISION", OccurTime: occur,
		Build: func(i int64) ([]byte, []byte, error) {
			builds.Add(1)
			return leafOf("iksan", "u", i, "PROVISION", "once"), nil, nil
		}}
	first, err := a.Append(ctx, "iksan", "u", r)
	require.NoError(t, err)
	require.Equal(t, int64(1), first.Index)
	_, err = b.Append(ctx, "iksan", "u", req("iksan", "u", "USE", "after")) // b's edge: size 3
	require.NoError(t, err)

	again, err := b.Append(ctx, "iksan", "u", r)
	require.NoError(t, err)
	require.True(t, again.Replayed)
	require.Equal(t, first.Index, again.Index)
	require.Equal(t, first.LeafHash, again.LeafHash)
	// b wrote it in one round trip, which failed on the request id: one Build thrown away.
	require.Equal(t, int32(2), builds.Load())
	// Now b knows the id: another replay does not call Build.
	n := builds.Load()
	_, err = b.Append(ctx, "iksan", "u", r)
	require.NoError(t, err)
	require.Equal(t, n, builds.Load())
	// Reused for another request, on the replica that did not commit it.
	other := r
	other.RequestHash = []byte("h2")
	c := pg.New(pool, sealer)
	_, err = c.Append(ctx, "iksan", "u", other)
	requireField(t, err, "request_id", "AIP-155")

	next, err := b.Append(ctx, "iksan", "u", req("iksan", "u", "USE", "next"))
	require.NoError(t, err)
	require.Equal(t, int64(3), next.Index, "no gap")
	checkLog(t, a, pool, "iksan", "u", 4, true)
}

// Two replicas, every request sent to both at once: each id is committed once, both callers get
// its index, and the log has no gap.
func TestPGConcurrentReplaysAcrossReplicas(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := pgtest.New(t, pg.Schema, pg.Migrations)
	sealer := newSealer(t)
	stores := []*pg.Store{pg.New(pool, sealer), pg.New(pool, sealer)}
	const workers, each = 16, 25
	var mu sync.Mutex
	got := map[string]int64{}
	var g errgroup.Group
	for w := range workers {
		for _, s := range stores {
			g.Go(func() error {
				for i := range each {
					id := fmt.Sprintf("%d-%d", w, i)
					r := req("iksan", "u", "USE", id)
					r.RequestID = id
					a, err := s.Append(ctx, "iksan", "u", r)
					if err != nil {
						return err
					}
					mu.Lock()
					prev, ok := got[id]
					got[id] = a.Index
					mu.Unlock()
					if ok && prev != a.Index {
						return fmt.Errorf("request %s got indexes %d and %d", id, prev, a.Index)
					}
				}
				return nil
			})
		}
	}
	require.NoError(t, g.Wait())
	require.Len(t, got, workers*each)
	checkLog(t, stores[0], pool, "iksan", "u", workers*each, true)
}
