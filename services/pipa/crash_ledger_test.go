package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/pipa-kr/pipa/pkg/auth"
)

// pipa killed -9 while 32 clients append to one log, its batches pipelined (one committing, the
// next planned on top of it and sent behind it): after the restart the log is whole — its head's
// size is its number of entries, indexes 0..size-1, its stored hashes and root recomputed from
// the leaves are the head's (whose signed checkpoint start-up verified) —, every append answered
// before the kill is there at the index it was given, and a retry of every request, answered or
// not, appends it at most once.
func TestKilledWhileAppendsArePipelinedLeavesAWholeLog(t *testing.T) {
	t.Parallel()
	pool, _, grpcAddr, args, d := startKillable(t, false)
	pipa := startChild(t, grpcAddr, args...)
	d.load(t, "jeongeup-library.yaml")
	staff := d.token(t, auth.RoleHandler, libraryUnit)
	body := []byte(`{"kind":"ENTRY_KIND_VIEWING","occurTime":"2026-05-02T14:00:00Z","fileName":"열람실 CH01",` +
		`"purpose":"분실물 확인","handler":"주무관 소영휴","requesterName":"김민수","requesterContact":"010-2345-6789"}`)
	// appendOnce posts request id's entry and returns the index given (-1 without an answer).
	appendOnce := func(id string) (int64, error) {
		req, err := http.NewRequest(http.MethodPost, d.url+"/v1/"+libraryUnit+"/ledger/entries?requestId="+id, bytes.NewReader(body))
		if err != nil {
			return -1, err
		}
		req.Header.Set("Authorization", "Bearer "+staff)
		resp, err := d.http.Do(req)
		if err != nil {
			return -1, err
		}
		defer resp.Body.Close()
		var e struct {
			Index string `json:"index"`
		}
		if resp.StatusCode != http.StatusOK {
			return -1, fmt.Errorf("%s: HTTP %d", id, resp.StatusCode)
		}
		if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
			return -1, err
		}
		var i int64
		_, err = fmt.Sscan(e.Index, &i)
		return i, err
	}

	const clients = 32
	var mu sync.Mutex
	answered := map[string]int64{}
	var sent []string
	var acked atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				id := fmt.Sprintf("crash-%d-%d", c, i)
				mu.Lock()
				sent = append(sent, id)
				mu.Unlock()
				idx, err := appendOnce(id)
				if err != nil {
					return // the process is gone
				}
				mu.Lock()
				answered[id] = idx
				mu.Unlock()
				acked.Add(1)
			}
		})
	}
	require.Eventually(t, func() bool { return acked.Load() >= 300 }, 60*time.Second, 10*time.Millisecond)
	pipa.kill()
	close(stop)
	wg.Wait()
	mu.Lock()
	require.Greater(t, len(sent), len(answered), "appends were on their way when pipa was killed")
	mu.Unlock()

	startChild(t, grpcAddr, args...) // start-up checks every log's keys and signed head
	ctx := t.Context()
	checkWhole := func() {
		var size int64
		var root []byte
		require.NoError(t, pool.QueryRow(ctx, `SELECT size, root FROM ledger.logs WHERE tenant_id = 'jeongeup' AND unit_id = 'library'`).
			Scan(&size, &root))
		rows, err := pool.Query(ctx, `SELECT idx, leaf FROM ledger.entries WHERE tenant_id = 'jeongeup' AND unit_id = 'library' ORDER BY idx`)
		require.NoError(t, err)
		var stored []tlog.Hash
		reader := tlog.HashReaderFunc(func(is []int64) ([]tlog.Hash, error) {
			out := make([]tlog.Hash, len(is))
			for k, i := range is {
				out[k] = stored[i]
			}
			return out, nil
		})
		n := int64(0)
		for rows.Next() {
			var idx int64
			var leaf []byte
			require.NoError(t, rows.Scan(&idx, &leaf))
			require.Equal(t, n, idx, "no gap")
			hs, err := tlog.StoredHashes(idx, leaf, reader)
			require.NoError(t, err)
			stored = append(stored, hs...)
			n++
		}
		require.NoError(t, rows.Err())
		require.Equal(t, size, n, "the head's size is its number of entries")
		var hashes int64
		require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM ledger.hashes h WHERE tenant_id = 'jeongeup' AND unit_id = 'library'
			AND hash = ($1::bytea[])[storage_idx + 1]`, hashBytes(stored)).Scan(&hashes))
		require.Equal(t, int64(len(stored)), hashes, "the stored hashes are the leaves'")
		got, err := tlog.TreeHash(size, reader)
		require.NoError(t, err)
		require.Equal(t, got[:], root, "the head's root is the leaves'")
	}
	checkWhole()
	mu.Lock()
	defer mu.Unlock()
	for id, idx := range answered {
		var at int64
		require.NoError(t, pool.QueryRow(ctx, `SELECT idx FROM ledger.entries WHERE tenant_id = 'jeongeup' AND unit_id = 'library'
			AND request_id = $1`, id).Scan(&at))
		require.Equal(t, idx, at, "%s is where its answer said", id)
	}
	for _, id := range sent {
		idx, err := appendOnce(id)
		require.NoError(t, err)
		if want, ok := answered[id]; ok {
			require.Equal(t, want, idx, "%s replayed", id)
		}
	}
	var crashed int64
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM ledger.entries WHERE tenant_id = 'jeongeup' AND unit_id = 'library'
		AND request_id LIKE 'crash-%'`).Scan(&crashed))
	require.Equal(t, int64(len(sent)), crashed, "every request appended once")
	checkWhole()
}

func hashBytes(hs []tlog.Hash) [][]byte {
	out := make([][]byte, len(hs))
	for i := range hs {
		out[i] = hs[i][:]
	}
	return out
}
