package retention_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pipa-kr/pipa/pkg/auth"
	retentionv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/retention/v1"
	"github.com/pipa-kr/pipa/pkg/stacktest"
	"github.com/pipa-kr/pipa/services/registry/tenantfile"
	"github.com/pipa-kr/pipa/services/retention/retentiontest"
)

// BenchmarkSweep1M is the retention sweep over 1,000,000 recording days of 100 units' sites
// (10,000 each, all past their 30 days), 1% of them under legal holds, through the whole stack:
// SweepUnit over gRPC, four units at a time (as the River queue's four workers run them), each
// sweep claiming bounded batches of 1,000 items with SKIP LOCKED and appending one DESTRUCTION
// entry per batch to the real ledger. The items are loaded with COPY outside the timer. Memory is
// the whole process's (every service runs in it): bytes allocated during the sweep and the peak
// of the heap in use, sampled every 10 ms. Not part of `make test`:
//
//	cd services/retention && go test -run '^$' -bench BenchmarkSweep1M -benchtime 1x -timeout 30m .
//
// Figures: services/retention/BENCHMARKS.md.
func BenchmarkSweep1M(b *testing.B) {
	const (
		units   = 100
		perUnit = 10000
		heldPer = perUnit / 100
		workers = 4
	)
	clock := &retentiontest.Clock{}
	s := startStack(b, stacktest.WithClock(clock.Now))
	f, err := tenantfile.Parse([]byte(benchTenant(units)), "bench.yaml")
	require.NoError(b, err)
	require.NoError(b, tenantfile.Import(s.Admin(), s.Registry, f, time.Now()))
	retentiontest.Started(b, s.DB())
	cl := s.retention()
	today := retentiontest.Today()
	first := today.AddDate(0, 0, -perUnit-31) // the oldest recording day; the newest is 31 days old
	clock.Set(first.Add(time.Hour))
	manager := s.As(auth.RoleManager, "tenants/bench")
	for u := range units {
		unit := benchUnit(u)
		r := cctvRule()
		r.Resource = unit + "/sites/gate"
		_, err := cl.CreateRule(manager, &retentionv1.CreateRuleRequest{Parent: unit, RuleId: "cctv", Rule: r})
		require.NoError(b, err)
		held := first.AddDate(0, 0, perUnit/2)
		_, err = cl.CreateHold(manager, &retentionv1.CreateHoldRequest{Parent: unit, Hold: &retentionv1.Hold{Site: r.Resource,
			StartTime: timestamppb.New(held), EndTime: timestamppb.New(held.AddDate(0, 0, heldPer)),
			Reason: "수사 협조 요청에 따른 보존", Custodian: "관리책임자", ReviewDate: today.AddDate(1, 0, 0).Format(time.DateOnly)}})
		require.NoError(b, err)
	}
	db := s.DB()
	ctx := context.Background()
	load := func() {
		_, err := db.Exec(ctx, `TRUNCATE retention.items`)
		require.NoError(b, err)
		rows := make([][]any, 0, perUnit)
		created := time.Now()
		for u := range units {
			rows = rows[:0]
			unit := fmt.Sprintf("u%03d", u)
			for d := range perUnit {
				day := first.AddDate(0, 0, d)
				rows = append(rows, []any{"bench", unit, "cctv", int16(1), benchUnit(u) + "/sites/gate", day, day.AddDate(0, 0, 1),
					day, "정문 " + day.Format(time.DateOnly) + " 녹화분", day, day.AddDate(0, 0, 31), created})
			}
			_, err := db.CopyFrom(ctx, pgx.Identifier{"retention", "items"}, []string{"tenant_id", "unit_id", "rule_id", "status",
				"scope", "span_start", "span_end", "recording_date", "description", "clock_start_time", "due_time", "create_time"},
				pgx.CopyFromRows(rows))
			require.NoError(b, err)
		}
		_, err = db.Exec(ctx, `UPDATE retention.rules SET generated_through = $1 WHERE tenant_id = 'bench'`, today.AddDate(0, 0, -1))
		require.NoError(b, err)
		_, err = db.Exec(ctx, `VACUUM ANALYZE retention.items`)
		require.NoError(b, err)
	}
	clock.Set(today.Add(time.Hour))

	var totalAlloc, peak uint64
	var elapsed time.Duration
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		load()
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		var top atomic.Uint64
		top.Store(before.HeapInuse)
		stop := make(chan struct{})
		sampled := make(chan struct{})
		go func() {
			defer close(sampled)
			t := time.NewTicker(10 * time.Millisecond)
			defer t.Stop()
			var m runtime.MemStats
			for {
				select {
				case <-stop:
					return
				case <-t.C:
					runtime.ReadMemStats(&m)
					if m.HeapInuse > top.Load() {
						top.Store(m.HeapInuse)
					}
				}
			}
		}()
		start := time.Now()
		b.StartTimer()

		next := atomic.Int64{}
		var wg sync.WaitGroup
		var destroyed, held atomic.Int64
		errs := make(chan error, workers)
		for range workers {
			wg.Go(func() {
				for u := next.Add(1) - 1; u < units; u = next.Add(1) - 1 {
					res, err := cl.SweepUnit(manager, &retentionv1.SweepUnitRequest{Parent: benchUnit(int(u))})
					if err != nil {
						errs <- err
						return
					}
					destroyed.Add(res.GetDestroyed())
					held.Add(res.GetHeld())
				}
			})
		}
		wg.Wait()

		b.StopTimer()
		elapsed += time.Since(start)
		close(stop)
		<-sampled
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		totalAlloc += after.TotalAlloc - before.TotalAlloc
		peak = max(peak, top.Load())
		close(errs)
		for err := range errs {
			require.NoError(b, err)
		}
		require.EqualValues(b, units*(perUnit-heldPer), destroyed.Load())
		require.EqualValues(b, units*heldPer, held.Load())
	}
	var entries int
	require.NoError(b, db.QueryRow(ctx, `SELECT count(*) FROM retention.ledger_outbox`).Scan(&entries))
	items := float64(units * perUnit * b.N)
	b.ReportMetric(elapsed.Seconds()/float64(b.N), "s/sweep")
	b.ReportMetric(items/elapsed.Seconds(), "items/s")
	b.ReportMetric(float64(totalAlloc)/float64(b.N)/(1<<20), "MB-alloc/sweep")
	b.ReportMetric(float64(peak)/(1<<20), "MB-peak-heap")
	b.ReportMetric(float64(entries)/float64(b.N), "ledger-entries/sweep")
	b.ReportMetric(0, "ns/op")
}

func benchUnit(u int) string { return fmt.Sprintf("tenants/bench/units/u%03d", u) }

// benchTenant is a tenant file of n units with one 30-day CCTV site each, and its CCTV manager,
// who answers for the automatic deletions' records.
func benchTenant(n int) string {
	var b strings.Builder
	b.WriteString("tenant:\n  id: bench\n  displayName: 벤치시\n  kind: TENANT_KIND_LOCAL_GOVERNMENT\n  publicInstitution: true\nunits:\n")
	for u := range n {
		fmt.Fprintf(&b, `  - id: u%03d
    displayName: 시설 %d
    officers:
      - id: manager
        displayName: 관리자
        title: 주무관
        phone: 000-000-0000
        roles: [OFFICER_ROLE_CCTV_MANAGER]
    sites:
      - id: gate
        displayName: 정문
        cameraCount: 2
        purposes: [{description: 시설 안전 및 화재 예방, ground: CCTV_GROUND_FACILITY_SAFETY}]
        recordingHours: 24시간
        retentionDays: 30
        manager: officers/manager
`, u, u)
	}
	return b.String()
}
