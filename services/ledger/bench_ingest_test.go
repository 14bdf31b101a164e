package ledger_test

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"sync/atomic"
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
// into a plain table of the same database. Both start warm: every log has had its first append,
// and the bare INSERT's 64 connections are open, before the clock starts.
//
// cpu-µs/record and db-cpu-µs/record are the CPU each case cost this process (the stack and the
// clients) and PostgreSQL per record, wal-B/record the bytes of WAL written per record: a loaded
// machine changes them far less than the rate. heap-before-MB and heap-after-MB are the heap in
// use before and after the run: at two -benchtime values they show whether memory stays flat.
// Not part of `make test`:
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
	const per = 100
	recs := records(per, time.Now().Add(-time.Hour))
	heap := func() float64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return float64(m.HeapInuse) / (1 << 20)
	}
	cpu := newCPUMeter(b, s.DatabaseURL)
	meta, err := pgxpool.New(context.Background(), s.DatabaseURL)
	require.NoError(b, err)
	defer meta.Close()
	wal := func() (lsn int64) { // bytes of WAL written so far
		require.NoError(b, meta.QueryRow(context.Background(), `SELECT pg_current_wal_insert_lsn() - '0/0'`).Scan(&lsn))
		return lsn
	}
	// run measures op, warmed up by one call from each client.
	run := func(b *testing.B, op func(ctx context.Context, w int) error) {
		var g errgroup.Group
		for w := range stacktest.BenchClients {
			g.Go(func() error { return op(context.Background(), w) })
		}
		require.NoError(b, g.Wait())
		before, wal0 := heap(), wal()
		cpu.start(b)
		stacktest.RunClients(b, "batches", op)
		cpu.report(b, b.N*per)
		b.ReportMetric(float64(wal()-wal0)/float64(b.N*per), "wal-B/record")
		b.ReportMetric(float64(b.N*per)/b.Elapsed().Seconds(), "records/s")
		b.ReportMetric(before, "heap-before-MB")
		b.ReportMetric(heap(), "heap-after-MB")
	}
	var batches atomic.Int64
	b.Run("ingest", func(b *testing.B) {
		run(b, func(ctx context.Context, w int) error {
			_, err := cls[w%len(cls)].IngestAccessRecords(unitauth.WithToken(ctx, tok), &ledgerv1.IngestAccessRecordsRequest{
				Parent: "tenants/jeongeup/units/" + units[w%len(units)], BatchId: "bench-" + strconv.FormatInt(batches.Add(1), 10), Records: recs})
			return err
		})
	})
	b.Run("bare-insert", func(b *testing.B) {
		pool, err := pgxpool.New(context.Background(), stacktest.WithMaxConns(s.DatabaseURL, stacktest.BenchClients))
		require.NoError(b, err)
		defer pool.Close()
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
		run(b, func(ctx context.Context, w int) error {
			_, err := pool.Exec(ctx, `INSERT INTO public.bench_access (tenant_id, unit_id, system, account, access_time,
				remote_addr, subject, action, reason) SELECT 'jeongeup', $1, * FROM unnest($2::text[], $3::text[],
				$4::timestamptz[], $5::text[], $6::text[], $7::text[], $8::text[])`,
				units[w%len(units)], systems, accounts, times, addrs, subjects, actions, reasons)
			return err
		})
	})
}
