package pg_test

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	"github.com/pipa-kr/pipa/pkg/pgtest"
	"github.com/pipa-kr/pipa/services/ledger/store/pg"
)

// batchOf is n requests with request ids "{prefix}-{i}", whose bodies say which they are.
func batchOf(tenant, unit, prefix string, n int) []pg.AppendRequest {
	reqs := make([]pg.AppendRequest, n)
	for i := range reqs {
		reqs[i] = req(tenant, unit, "ACCESS", fmt.Sprintf("%s-%d", prefix, i))
		reqs[i].RequestID, reqs[i].RequestHash = fmt.Sprintf("%s-%d", prefix, i), []byte(fmt.Sprintf("h-%s-%d", prefix, i))
	}
	return reqs
}

// A batch's entries get consecutive indexes in the order given, while single appends and other
// batches go to the same log at the same time, and the log stays whole.
func TestPGBatchIsConsecutiveAmidOtherAppends(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, pool := newStore(t)
	const batches, per, singles = 16, 50, 200
	var g errgroup.Group
	results := make([][]pg.Appended, batches)
	for b := range batches {
		g.Go(func() (err error) {
			results[b], err = s.AppendBatch(ctx, "iksan", "u", batchOf("iksan", "u", fmt.Sprintf("b%d", b), per))
			return err
		})
	}
	for i := range singles {
		g.Go(func() error {
			_, err := s.Append(ctx, "iksan", "u", req("iksan", "u", "USE", fmt.Sprintf("single-%d", i)))
			return err
		})
	}
	require.NoError(t, g.Wait())
	for b, res := range results {
		require.Len(t, res, per)
		for i, a := range res {
			require.False(t, a.Replayed)
			require.Equal(t, res[0].Index+int64(i), a.Index, "batch %d entry %d follows the one before it", b, i)
		}
		e, err := s.Entry(ctx, "iksan", "u", res[per-1].Index)
		require.NoError(t, err)
		require.Contains(t, string(e.Leaf), fmt.Sprintf("note: b%d-%d\n", b, per-1), "the last entry given is the last appended")
	}
	checkLog(t, s, pool, "iksan", "u", batches*per+singles, false)
}

// All or nothing: one entry whose Build fails (or whose follows names no entry) fails the batch,
// naming it, and the log takes none of the batch's entries; the entries appended beside it in
// the same transaction are not failed with it.
func TestPGBatchFailsAsAWhole(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, pool := newStore(t)
	bad := batchOf("iksan", "u", "bad", 5)
	bad[3].Build = func(int64) ([]byte, []byte, error) { return nil, nil, errors.New("the third one is too large") }
	var g errgroup.Group
	var badErr error
	g.Go(func() error {
		_, badErr = s.AppendBatch(ctx, "iksan", "u", bad)
		return nil
	})
	for i := range 20 {
		g.Go(func() error {
			_, err := s.Append(ctx, "iksan", "u", req("iksan", "u", "USE", fmt.Sprintf("beside-%d", i)))
			return err
		})
	}
	require.NoError(t, g.Wait())
	var be *pg.BatchError
	require.ErrorAs(t, badErr, &be)
	require.Equal(t, 3, be.Index)
	checkLog(t, s, pool, "iksan", "u", 20, false)

	missing := int64(1000)
	follows := batchOf("iksan", "u", "follows", 3)
	follows[2].Follows = &missing
	_, err := s.AppendBatch(ctx, "iksan", "u", follows)
	require.ErrorAs(t, err, &be)
	require.Equal(t, 2, be.Index)
	requireField(t, be.Err, "entry.follows", "STD-45")
	checkLog(t, s, pool, "iksan", "u", 20, false)

	// An entry may follow an earlier entry of its own batch.
	prev := int64(20)
	follows[2].Follows = &prev
	res, err := s.AppendBatch(ctx, "iksan", "u", follows)
	require.NoError(t, err)
	require.Equal(t, []int64{20, 21, 22}, []int64{res[0].Index, res[1].Index, res[2].Index})
	checkLog(t, s, pool, "iksan", "u", 23, false)
}

// AIP-155 per entry: a batch sent again gets the same indexes without building anything, an
// entry appended before keeps its index while the new ones of the batch take consecutive ones,
// and a request_id reused with another request refuses the whole batch.
func TestPGBatchIdempotentPerEntry(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, pool := newStore(t)
	reqs := batchOf("iksan", "u", "r", 4)
	var builds atomic.Int32
	for i := range reqs {
		build := reqs[i].Build
		reqs[i].Build = func(n int64) ([]byte, []byte, error) {
			builds.Add(1)
			return build(n)
		}
	}
	first, err := s.AppendBatch(ctx, "iksan", "u", reqs)
	require.NoError(t, err)
	require.Equal(t, int32(4), builds.Load())
	again, err := s.AppendBatch(ctx, "iksan", "u", reqs)
	require.NoError(t, err)
	for i := range again {
		require.True(t, again[i].Replayed)
		require.Equal(t, first[i].Index, again[i].Index)
		require.Equal(t, first[i].LeafHash, again[i].LeafHash)
	}
	require.Equal(t, int32(4), builds.Load(), "a replay builds nothing")

	// Half of a new batch was appended before (e.g. one by one, by an older version).
	more := batchOf("iksan", "u", "m", 4)
	a, err := s.Append(ctx, "iksan", "u", more[1])
	require.NoError(t, err)
	require.Equal(t, int64(4), a.Index)
	res, err := s.AppendBatch(ctx, "iksan", "u", more)
	require.NoError(t, err)
	require.Equal(t, []int64{5, 4, 6, 7}, []int64{res[0].Index, res[1].Index, res[2].Index, res[3].Index})
	require.True(t, res[1].Replayed)

	other := batchOf("iksan", "u", "o", 3)
	other[1].RequestID = "r-2" // used above for another request
	_, err = s.AppendBatch(ctx, "iksan", "u", other)
	var be *pg.BatchError
	require.ErrorAs(t, err, &be)
	require.Equal(t, 1, be.Index)
	requireField(t, be.Err, "request_id", "AIP-155")

	twice := batchOf("iksan", "u", "t", 3)
	twice[2].RequestID = twice[0].RequestID
	_, err = s.AppendBatch(ctx, "iksan", "u", twice)
	require.ErrorAs(t, err, &be)
	require.Equal(t, 2, be.Index)
	requireField(t, be.Err, "request_id", "AIP-155")
	checkLog(t, s, pool, "iksan", "u", 8, true)
}

// A batch larger than the store's transaction bound commits whole, in one transaction, and the
// bounds of a batch are enforced.
func TestPGBatchLargerThanMaxBatch(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, pool := newStore(t, pg.WithMaxBatch(8))
	var g errgroup.Group
	for i := range 30 {
		g.Go(func() error {
			_, err := s.Append(ctx, "iksan", "u", req("iksan", "u", "USE", fmt.Sprintf("single-%d", i)))
			return err
		})
	}
	var res []pg.Appended
	g.Go(func() (err error) {
		res, err = s.AppendBatch(ctx, "iksan", "u", batchOf("iksan", "u", "big", 20))
		return err
	})
	require.NoError(t, g.Wait())
	for i, a := range res {
		require.Equal(t, res[0].Index+int64(i), a.Index)
		require.Equal(t, res[0].TreeSize, a.TreeSize, "one transaction, one checkpoint")
	}
	checkLog(t, s, pool, "iksan", "u", 50, false)

	_, err := s.AppendBatch(ctx, "iksan", "u", nil)
	requireField(t, err, "requests", "required")
	_, err = s.AppendBatch(ctx, "iksan", "u", batchOf("iksan", "u", "huge", pg.MaxAppendBatch+1))
	requireField(t, err, "requests", "range")
}

// onceOf is n requests without request ids (for AppendBatchOnce), each building a leaf that says
// which it is and counting its builds.
func onceOf(unit, prefix string, n int, builds *atomic.Int32) []pg.AppendRequest {
	reqs := make([]pg.AppendRequest, n)
	for i := range reqs {
		r := req("iksan", unit, "ACCESS", fmt.Sprintf("%s-%d", prefix, i))
		build := r.Build
		r.Build = func(n int64) ([]byte, []byte, error) {
			builds.Add(1)
			return build(n)
		}
		reqs[i] = r
	}
	return reqs
}

// AIP-155 per batch (AppendBatchOnce, the access records' intake): one request id for a whole
// batch, kept with its first entry alone; the batch sent again, by this process, by another
// replica or several times at once, is the same entries without building anything; the id sent
// with another batch refuses it on request_id, and an entry with an id of its own is refused.
func TestPGBatchOnceIsOneKey(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := pgtest.New(t, pg.Schema, pg.Migrations)
	sealer := newSealer(t)
	s, replica := pg.New(pool, sealer), pg.New(pool, sealer)
	var builds atomic.Int32
	reqs := onceOf("u", "b", 5, &builds)
	first, err := s.AppendBatchOnce(ctx, "iksan", "u", "ingest/b", []byte("h-b"), reqs)
	require.NoError(t, err)
	require.Equal(t, int32(5), builds.Load())
	again, err := s.AppendBatchOnce(ctx, "iksan", "u", "ingest/b", []byte("h-b"), reqs)
	require.NoError(t, err)
	for i := range again {
		require.Equal(t, int64(i), first[i].Index)
		require.False(t, first[i].Replayed)
		require.True(t, again[i].Replayed)
		require.Equal(t, first[i].Index, again[i].Index)
		require.Equal(t, first[i].TreeSize, again[i].TreeSize)
	}
	require.Equal(t, int32(5), builds.Load(), "a replay builds nothing")
	var keys int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(request_id) FROM ledger.entries`).Scan(&keys))
	require.Equal(t, 1, keys, "one key for the batch")

	// Another replica whose edge is current (its own append after the batch) takes the one-round-trip
	// path, which the stored id refuses; under the lock the batch is found.
	_, err = replica.Append(ctx, "iksan", "u", req("iksan", "u", "USE", "replica"))
	require.NoError(t, err)
	elsewhere, err := replica.AppendBatchOnce(ctx, "iksan", "u", "ingest/b", []byte("h-b"), reqs)
	require.NoError(t, err)
	for i := range elsewhere {
		require.True(t, elsewhere[i].Replayed)
		require.Equal(t, first[i].Index, elsewhere[i].Index)
	}

	// Sent eight times at once, all in the same transaction (queued while an append is being
	// built): one batch.
	building, release := make(chan struct{}), make(chan struct{})
	blocker := req("iksan", "u", "USE", "blocker")
	build := blocker.Build
	blocker.Build = func(i int64) ([]byte, []byte, error) {
		close(building)
		<-release
		return build(i)
	}
	var g errgroup.Group
	g.Go(func() error {
		_, err := s.Append(ctx, "iksan", "u", blocker)
		return err
	})
	<-building
	built := builds.Load()
	fresh := onceOf("u", "c", 40, &builds)
	res := make([][]pg.Appended, 8)
	for k := range res {
		g.Go(func() (err error) {
			res[k], err = s.AppendBatchOnce(ctx, "iksan", "u", "ingest/c", []byte("h-c"), fresh)
			return err
		})
	}
	require.Eventually(t, func() bool { return pg.QueueLen(s, "iksan", "u") == 8*40 }, 10*time.Second, time.Millisecond)
	close(release)
	require.NoError(t, g.Wait())
	require.Equal(t, built+40, builds.Load(), "each entry built once")
	for k := range res {
		for i, a := range res[k] {
			require.Equal(t, int64(7+i), a.Index)
		}
	}

	_, err = s.AppendBatchOnce(ctx, "iksan", "u", "ingest/b", []byte("h-other"), onceOf("u", "o", 2, &builds))
	var be *pg.BatchError
	require.ErrorAs(t, err, &be)
	require.Equal(t, 0, be.Index)
	requireField(t, be.Err, "request_id", "AIP-155")
	own := onceOf("u", "own", 3, &builds)
	own[2].RequestID = "mine"
	_, err = s.AppendBatchOnce(ctx, "iksan", "u", "ingest/own", []byte("h-own"), own)
	require.ErrorAs(t, err, &be)
	require.Equal(t, 2, be.Index)
	requireField(t, be.Err, "request_id", "format")
	checkLog(t, s, pool, "iksan", "u", 47, true)
}
