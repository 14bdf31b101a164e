package ledger_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	"github.com/pipa-kr/pipa/pkg/auth"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	"github.com/pipa-kr/pipa/pkg/stacktest"
	"github.com/pipa-kr/pipa/pkg/unitauth"
)

// BenchmarkIngestAccessRecords: access records taken in through IngestAccessRecords (issue 15),
// batches of 100 from 64 clients into 16 units' logs, in records/s, and beside it, in the same
// run, the bare batched INSERT of the same rows (one multi-row INSERT per batch, 64 connections)
// into a plain table of the same database. Both start warm: every log has had its first append
// and the bare INSERT's 64 connections are open before the clock starts.
//
// Besides the rate, each reports the CPU a record cost this process (client, gRPC and server
// alike: go-cpu-µs/rec) and the PostgreSQL server (pg-cpu-µs/rec, its processes' time on CPU
// from /proc, when the server runs on this machine), which a loaded machine changes less than
// the rate; and the heap in use before and after the run (heap-before-MB, heap-after-MB): at two
// -benchtime values they show whether memory stays flat. Not part of `make test`:
//
//	cd services/ledger && go test -run '^$' -bench BenchmarkIngestAccessRecords -benchtime 400x .
func BenchmarkIngestAccessRecords(b *testing.B) {
	s := startStack(b, stacktest.WithPoolSize(stacktest.BenchPool))
	s.Load("jeongeup-library.yaml")
	var units []string
	for i := range 16 {
		units = append(units, createBenchUnit(b, s, fmt.Sprintf("ingest-%02d", i)))
	}
	tok, err := auth.Mint(s.Key, auth.Principal{Subject: "saeol-system", Grants: []auth.Grant{{Role: auth.RoleService, Scope: "tenants/jeongeup"}}}, time.Hour)
	require.NoError(b, err)
	var cls []ledgerv1.AccessRecordServiceClient
	for _, conn := range s.Conns(b) {
		cls = append(cls, ledgerv1.NewAccessRecordServiceClient(conn))
	}
	pool, err := pgxpool.New(context.Background(), stacktest.WithMaxConns(s.DatabaseURL, stacktest.BenchClients))
	require.NoError(b, err)
	defer pool.Close()
	const per = 100
	recs := records(per, time.Now().Add(-time.Hour))
	var batches atomic.Int64
	ingest := func(ctx context.Context, w int) error {
		_, err := cls[w%len(cls)].IngestAccessRecords(unitauth.WithToken(ctx, tok), &ledgerv1.IngestAccessRecordsRequest{
			Parent: "tenants/jeongeup/units/" + units[w%len(units)], BatchId: "bench-" + strconv.FormatInt(batches.Add(1), 10), Records: recs})
		return err
	}
	b.Run("ingest", func(b *testing.B) {
		clients(b, ingest) // every log's first append, and the server's pool opened
		measure(b, pool, per, func() { stacktest.RunClients(b, "batches", ingest) })
	})
	_, err = pool.Exec(context.Background(), `CREATE TABLE IF NOT EXISTS public.bench_access (tenant_id text NOT NULL,
		id bigint GENERATED ALWAYS AS IDENTITY, unit_id text NOT NULL, system text NOT NULL, account text NOT NULL,
		access_time timestamptz NOT NULL, remote_addr text NOT NULL, subject text NOT NULL, action text NOT NULL,
		reason text NOT NULL, PRIMARY KEY (tenant_id, id))`)
	require.NoError(b, err)
	var systems, accounts, addrs, subjects, actions, reasons []string
	var times []time.Time
	for _, r := range recs {
		systems, accounts, addrs = append(systems, r.GetSystem()), append(accounts, r.GetAccount()), append(addrs, r.GetRemoteAddr())
		subjects, actions, reasons = append(subjects, r.GetSubject()), append(actions, r.GetAction()), append(reasons, r.GetDownloadReason())
		times = append(times, r.GetAccessTime().AsTime())
	}
	bare := func(ctx context.Context, w int) error {
		_, err := pool.Exec(ctx, `INSERT INTO public.bench_access (tenant_id, unit_id, system, account, access_time,
			remote_addr, subject, action, reason) SELECT 'jeongeup', $1, * FROM unnest($2::text[], $3::text[],
			$4::timestamptz[], $5::text[], $6::text[], $7::text[], $8::text[])`,
			units[w%len(units)], systems, accounts, times, addrs, subjects, actions, reasons)
		return err
	}
	b.Run("bare-insert", func(b *testing.B) {
		clients(b, bare) // the 64 connections opened
		measure(b, pool, per, func() { stacktest.RunClients(b, "batches", bare) })
	})
}

// clients calls op once from each of the benchmark's clients at the same time.
func clients(b *testing.B, op func(ctx context.Context, w int) error) {
	var g errgroup.Group
	for w := range stacktest.BenchClients {
		g.Go(func() error { return op(context.Background(), w) })
	}
	require.NoError(b, g.Wait())
}

// measure runs run (b.N batches of per records) and reports its records/s, CPU per record (this
// process's and the database server's) and the heap in use before and after.
func measure(b *testing.B, pool *pgxpool.Pool, per int, run func()) {
	heap := func() float64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return float64(m.HeapInuse) / (1 << 20)
	}
	before := heap()
	pg0, pgOK := serverCPU(b, pool)
	go0 := processCPU()
	run()
	gocpu := processCPU() - go0
	recs := float64(b.N * per)
	if pg1, ok := serverCPU(b, pool); ok && pgOK {
		var d time.Duration
		for pid, t := range pg1 {
			d += t - pg0[pid] // a process started meanwhile counts from 0; one that ended is not counted
		}
		b.ReportMetric(float64(d.Microseconds())/recs, "pg-cpu-µs/rec")
	}
	b.ReportMetric(float64(gocpu.Microseconds())/recs, "go-cpu-µs/rec")
	b.ReportMetric(recs/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(before, "heap-before-MB")
	b.ReportMetric(heap(), "heap-after-MB")
}

// processCPU is the CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// serverCPU is the time on CPU of each of the database server's processes (pg_stat_activity: the
// backends and the WAL writer, checkpointer and others), from /proc/{pid}/schedstat; ok is false
// when they cannot be read (a server on another machine).
func serverCPU(b *testing.B, pool *pgxpool.Pool) (map[int32]time.Duration, bool) {
	rows, err := pool.Query(context.Background(), `SELECT pid FROM pg_stat_activity`)
	require.NoError(b, err)
	var pids []int32
	for rows.Next() {
		var pid int32
		require.NoError(b, rows.Scan(&pid))
		pids = append(pids, pid)
	}
	require.NoError(b, rows.Err())
	out := make(map[int32]time.Duration, len(pids))
	for _, pid := range pids {
		s, err := os.ReadFile(fmt.Sprintf("/proc/%d/schedstat", pid))
		if err != nil {
			return nil, false
		}
		ns, err := strconv.ParseInt(strings.Fields(string(s))[0], 10, 64)
		if err != nil {
			return nil, false
		}
		out[pid] = time.Duration(ns)
	}
	return out, true
}
