package stacktest

import (
	"context"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/pipa-kr/pipa/pkg/modules"
)

// The services' load benchmarks run through a stack as clients reach a deployment: BenchClients
// concurrent clients share BenchConns gRPC connections, and the server's pool has BenchPool
// connections, as a deployment would set for 64 clients (pgdb.Open's default of 10 would make
// them queue for a connection rather than for the work).
const (
	BenchClients = 64
	BenchConns   = 8
	BenchPool    = 64
)

// WithPoolSize gives the services' pool n connections.
func WithPoolSize(n int) Option {
	return func(c *modules.Config) { c.DatabaseURL = WithMaxConns(c.DatabaseURL, n) }
}

// WithMaxConns is url with pool_max_conns=n, unless it sets one already.
func WithMaxConns(url string, n int) string {
	if strings.Contains(url, "pool_max_conns") {
		return url
	}
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	return url + sep + "pool_max_conns=" + strconv.Itoa(n)
}

// Conns are BenchConns client connections to the stack, closed when the benchmark ends.
func (s *Stack) Conns(b *testing.B) []*grpc.ClientConn {
	var out []*grpc.ClientConn
	for range BenchConns {
		conn, err := grpc.NewClient(s.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		require.NoError(b, err)
		b.Cleanup(func() { conn.Close() })
		out = append(out, conn)
	}
	return out
}

// RequestIDs numbers request ids across the runs of a benchmark, so that none repeats.
var RequestIDs atomic.Int64

// RunClients runs op from BenchClients goroutines (worker w of them) for b.N calls in all and
// reports the rate (unit/s) and the p50/p99 latency of one call.
func RunClients(b *testing.B, unit string, op func(ctx context.Context, worker int) error) {
	b.SetParallelism((BenchClients + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	var workers atomic.Int64
	var mu sync.Mutex
	var all []time.Duration
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		w := int(workers.Add(1) - 1)
		var ds []time.Duration
		for pb.Next() {
			start := time.Now()
			if err := op(context.Background(), w); err != nil {
				b.Error(err)
				return
			}
			ds = append(ds, time.Since(start))
		}
		mu.Lock()
		all = append(all, ds...)
		mu.Unlock()
	})
	b.StopTimer()
	ReportLatencies(b, unit, all)
}

// ReportLatencies reports the rate of calls that took d (unit/s) and their p50 and p99.
func ReportLatencies(b *testing.B, unit string, d []time.Duration) {
	if len(d) == 0 {
		return
	}
	slices.Sort(d)
	q := func(p float64) float64 { return float64(d[int(p*float64(len(d)-1))].Microseconds()) / 1000 }
	b.ReportMetric(float64(len(d))/b.Elapsed().Seconds(), unit+"/s")
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(0, "ns/op") // the per-op time of a parallel benchmark says nothing here
}
