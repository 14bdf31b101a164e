package ledger_test

import (
	"context"
	"crypto/rand"
	"flag"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/pipa-kr/pipa/pkg/faultproxy"
	"github.com/pipa-kr/pipa/pkg/jobs"
	"github.com/pipa-kr/pipa/pkg/ledgerout"
	"github.com/pipa-kr/pipa/pkg/pgdb"
	"github.com/pipa-kr/pipa/pkg/pgtest"
	"github.com/pipa-kr/pipa/pkg/seal"
	"github.com/pipa-kr/pipa/services/ledger/ledgertest"
	"github.com/pipa-kr/pipa/services/ledger/store/pg"
)

var (
	drainRate    = flag.Int("drain.rate", 500, "BenchmarkOutboxDrain: decisions written a second")
	drainFor     = flag.Duration("drain.for", 10*time.Second, "BenchmarkOutboxDrain: how long decisions are written (60s for issue 12's figure)")
	drainLatency = flag.Duration("drain.latency", 2*time.Millisecond, "BenchmarkOutboxDrain: delay added to every chunk between the ledger and its database, each way")
	drainUnits   = flag.Int("drain.units", 50, "BenchmarkOutboxDrain: units the decisions are spread over")
)

// BenchmarkOutboxDrain is issue 12's load on the ledger outbox (pkg/ledgerout): decisions written
// at -drain.rate a second for -drain.for, none of them delivered by its own call (the worst case:
// every call's append failed, and each enqueued the drain), while the ledger is slowed by a fault
// proxy between it and its database (-drain.latency on every chunk, each way). It reports the
// rate written, the rate the drain delivered while the load ran, the largest backlog, and how
// long the backlog took to drain once the load stopped. See BENCHMARKS.md for the command.
func BenchmarkOutboxDrain(b *testing.B) {
	for range b.N {
		drainOnce(b)
	}
}

func drainOnce(b *testing.B) {
	b.StopTimer()
	ctx := context.Background()
	dataKey := make([]byte, seal.KeySize)
	_, _ = rand.Read(dataKey)
	box, err := seal.New(map[string][]byte{"bench": dataKey}, "bench")
	require.NoError(b, err)
	direct := pgtest.NewMulti(b, []pgtest.Migration{{Schema: pg.Schema, FS: pg.Migrations},
		{Schema: "svc", FS: svcMigrations, Jobs: true, Outbox: true}})
	cc := direct.Config().ConnConfig
	target := cc.Host + ":" + strconv.Itoa(int(cc.Port))
	proxy, err := faultproxy.New(target)
	require.NoError(b, err)
	b.Cleanup(func() { proxy.Close() })
	slow, err := pgdb.Open(ctx, strings.Replace(direct.Config().ConnString(), target, proxy.Addr(), 1)+"&pool_max_conns=40")
	require.NoError(b, err)
	b.Cleanup(slow.Close)
	client, token := ledgertest.Serve(b, slow, box)
	o, err := ledgerout.New(ledgerout.Config{Schema: "svc", Pool: direct, Box: box, Ledger: client, Token: token})
	require.NoError(b, err)
	workers := river.NewWorkers()
	o.AddWorkers(workers)
	queue, err := river.NewClient(riverpgxv5.New(direct), jobs.Config("svc", workers, 4, o.PeriodicJobs()...))
	require.NoError(b, err)
	o.Use(queue, hooks{})
	require.NoError(b, queue.Start(ctx))
	b.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = queue.Stop(sctx)
	})
	proxy.SetLatency(*drainLatency)

	pending := func() int {
		var n int
		require.NoError(b, direct.QueryRow(ctx, `SELECT count(*) FROM svc.ledger_outbox WHERE ledger_index IS NULL`).Scan(&n))
		return n
	}
	var written atomic.Int64
	write := func(i int) error {
		return pgx.BeginFunc(ctx, direct, func(tx pgx.Tx) error {
			_, err := o.Enqueue(ctx, tx, "iksan", ledgerout.Entry{Unit: "u" + strconv.Itoa(i%*drainUnits), Append: appendOf(use())})
			return err
		})
	}
	b.StartTimer()
	start := time.Now()
	ticks := time.NewTicker(10 * time.Millisecond)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	backlog, i := 0, 0
	for now := range ticks.C {
		due := int(now.Sub(start).Seconds()*float64(*drainRate)) - i
		for range due {
			sem <- struct{}{}
			n := i
			wg.Go(func() {
				defer func() { <-sem }()
				if err := write(n); err == nil {
					written.Add(1)
				}
			})
			i++
		}
		if due > 0 {
			_, _ = queue.Insert(ctx, ledgerout.DrainArgs{}, nil) // what a call that failed does
		}
		if i%(*drainRate) < due {
			backlog = max(backlog, pending())
		}
		if now.Sub(start) >= *drainFor {
			break
		}
	}
	ticks.Stop()
	wg.Wait()
	loaded := time.Since(start)
	left := pending()
	backlog = max(backlog, left)
	delivered := written.Load() - int64(left)
	stopped := time.Now()
	for pending() > 0 {
		time.Sleep(100 * time.Millisecond)
		require.Less(b, time.Since(stopped), 10*time.Minute, "the backlog drains")
	}
	drained := time.Since(stopped)
	b.StopTimer()
	b.ReportMetric(float64(written.Load())/loaded.Seconds(), "written/s")
	b.ReportMetric(float64(delivered)/loaded.Seconds(), "delivered/s")
	b.ReportMetric(float64(backlog), "backlog-max")
	b.ReportMetric(drained.Seconds(), "drain-s")
}
