package pg_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/pipa-kr/pipa/pkg/pgdb"
	"github.com/pipa-kr/pipa/pkg/pgtest"
	"github.com/pipa-kr/pipa/services/ledger/store/pg"
)

// Benchmarks run 64 concurrent appenders (b.SetParallelism) against a fresh database with the
// server's defaults (synchronous_commit on: every commit waits for its WAL fsync), and report
// appends/s and the p50/p99 latency of one call. Run them with
//
//	go test ./store/pg -run '^$' -bench . -benchtime 20000x
//
// BenchmarkBareInsert is the baseline the issue names: one-row INSERT per commit (autocommit)
// from 64 goroutines on 64 connections into a plain table, as pgbench -c 64 would.
const appenders = 64

// benchPool is a pool of 64 connections on a fresh migrated database, so that no appender waits
// for a connection (pgdb.Open's default is 10).
func benchPool(b *testing.B) *pgxpool.Pool {
	cc := pgtest.New(b, pg.Schema, pg.Migrations).Config().ConnConfig
	url := fmt.Sprintf("postgres://%s:%s@%s/%s?sslmode=disable&pool_max_conns=%d",
		cc.User, cc.Password, net.JoinHostPort(cc.Host, strconv.Itoa(int(cc.Port))), cc.Database, appenders)
	pool, err := pgdb.Open(b.Context(), url)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	return pool
}

// latencies collects per-call durations from parallel workers.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(ds []time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, ds...)
	l.mu.Unlock()
}

func (l *latencies) report(b *testing.B, unit string) {
	slices.Sort(l.d)
	if len(l.d) == 0 {
		return
	}
	q := func(p float64) float64 { return float64(l.d[int(p*float64(len(l.d)-1))].Microseconds()) / 1000 }
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), unit+"/s")
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(0, "ns/op") // per-op time of a parallel benchmark says nothing here
}

// runParallel runs op from 64 goroutines and reports its rate and latency.
func runParallel(b *testing.B, unit string, op func(worker int) error) {
	b.SetParallelism((appenders + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	var workers atomic.Int64
	var lat latencies
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		w := int(workers.Add(1) - 1)
		var ds []time.Duration
		for pb.Next() {
			start := time.Now()
			if err := op(w); err != nil {
				b.Error(err)
				return
			}
			ds = append(ds, time.Since(start))
		}
		lat.add(ds)
	})
	b.StopTimer()
	lat.report(b, unit)
}

// benchLeaf is about the size of a real PROVISION entry.
var benchLeaf = strings.Repeat("field: 중앙도서관 주차장 CH03 2026-05-02 14:00-15:00\n", 6)

// benchAppend appends to logs logs. PIPA_BENCH_COMMITTERS sets pg.WithCommitters, to compare.
// Besides the rate it reports what the rate is made of, which a loaded machine does not blur:
// the store's own metrics — entries a log's batch carries (pipa.ledger.batch_size) and logs a
// transaction carries (pipa.ledger.logs_per_commit) — and the test process's CPU per append
// (user and system, getrusage; PostgreSQL's is not in it).
func benchAppend(b *testing.B, logs int) {
	var opts []pg.Option
	if n, err := strconv.Atoi(os.Getenv("PIPA_BENCH_COMMITTERS")); err == nil {
		opts = append(opts, pg.WithCommitters(n))
	}
	reader := sdkmetric.NewManualReader()
	otel.SetMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)))
	s := pg.New(benchPool(b), newSealer(b), opts...)
	cpu := processCPU()
	defer func() {
		b.ReportMetric(float64((processCPU()-cpu).Microseconds())/float64(b.N), "cpu-µs/op")
		var rm metricdata.ResourceMetrics
		if err := reader.Collect(context.Background(), &rm); err != nil {
			b.Fatal(err)
		}
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				h, ok := m.Data.(metricdata.Histogram[int64])
				if !ok || len(h.DataPoints) == 0 || h.DataPoints[0].Count == 0 {
					continue
				}
				mean := float64(h.DataPoints[0].Sum) / float64(h.DataPoints[0].Count)
				switch m.Name {
				case "pipa.ledger.batch_size":
					b.ReportMetric(mean, "entries/batch")
				case "pipa.ledger.logs_per_commit":
					b.ReportMetric(mean, "logs/tx")
				}
			}
		}
	}()
	units := make([]string, logs)
	for i := range units {
		units[i] = fmt.Sprintf("unit-%02d", i)
		if _, err := s.Checkpoint(b.Context(), "iksan", units[i], false); err != nil {
			b.Fatal(err)
		}
	}
	sealed := make([]byte, 96)
	var ids atomic.Int64
	runParallel(b, "appends", func(w int) error {
		unit := units[w%logs]
		// Every append carries a request_id, as the service's do (AIP-155).
		_, err := s.Append(b.Context(), "iksan", unit, pg.AppendRequest{Kind: "ACCESS", OccurTime: occur,
			RequestID: "r-" + strconv.FormatInt(ids.Add(1), 10), RequestHash: sealed[:32],
			Build: func(i int64) ([]byte, []byte, error) {
				return []byte("pipa-ledger-entry/v1\nlog: tenants/iksan/units/" + unit + "\nindex: " +
					strconv.FormatInt(i, 10) + "\n" + benchLeaf), sealed, nil
			}})
		return err
	})
}

// processCPU is the CPU time this process has used (user and system).
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func BenchmarkAppendOneLog(b *testing.B) { benchAppend(b, 1) }

func BenchmarkAppend16Logs(b *testing.B) { benchAppend(b, 16) }

// BenchmarkFirstAppend appends the first entry of b.N logs (its head and key made with it), from
// 64 appenders, then checks every log's keys as the service does at start-up (CheckKeys on a
// new Store: a process restarted), reported as check-ms.
func BenchmarkFirstAppend(b *testing.B) {
	pool := benchPool(b)
	sealer := newSealer(b)
	s := pg.New(pool, sealer)
	sealed := make([]byte, 96)
	var next atomic.Int64
	cpu := processCPU()
	runParallel(b, "appends", func(int) error {
		unit := "unit-" + strconv.FormatInt(next.Add(1), 10)
		_, err := s.Append(b.Context(), "iksan", unit, pg.AppendRequest{Kind: "ACCESS", OccurTime: occur,
			RequestID: "r-" + unit, RequestHash: sealed[:32],
			Build: func(i int64) ([]byte, []byte, error) {
				return []byte("pipa-ledger-entry/v1\nlog: tenants/iksan/units/" + unit + "\nindex: " +
					strconv.FormatInt(i, 10) + "\n" + benchLeaf), sealed, nil
			}})
		return err
	})
	b.ReportMetric(float64((processCPU()-cpu).Microseconds())/float64(b.N), "cpu-µs/op")
	start := time.Now()
	if _, err := pg.New(pool, sealer).CheckKeys(b.Context()); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(time.Since(start).Microseconds())/1000, "check-ms")
}

func BenchmarkBareInsert(b *testing.B) {
	pool := benchPool(b)
	if _, err := pool.Exec(b.Context(), `CREATE TABLE bare (tenant_id text NOT NULL,
		id bigint GENERATED ALWAYS AS IDENTITY, payload bytea NOT NULL, PRIMARY KEY (tenant_id, id))`); err != nil {
		b.Fatal(err)
	}
	payload := []byte(benchLeaf)
	runParallel(b, "inserts", func(int) error {
		_, err := pool.Exec(b.Context(), `INSERT INTO bare (tenant_id, payload) VALUES ('iksan', $1)`, payload)
		return err
	})
}
