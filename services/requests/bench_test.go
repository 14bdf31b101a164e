//go:build unix

package requests_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/pipa-kr/pipa/pkg/auth"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	requestsv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/requests/v1"
	"github.com/pipa-kr/pipa/pkg/stacktest"
	"github.com/pipa-kr/pipa/services/requests/requeststest"
)

// The request workflow's load benchmarks (issue 4), through the whole stack like the ledger's
// (services/ledger/bench_test.go): real gRPC on loopback, token checks, the registry, the requests store,
// the outbox, the ledger's group-committing store and PostgreSQL with its defaults. 64 concurrent
// clients share 8 grpc.ClientConns, the server's pool has 64 connections. Rate limits are off:
// stacktest leaves the public rate at 0, and these are staff methods, which are never limited.
// The access log is off too (stacktest's default), so the only ledger entries are the approvals'.
// Not part of `make test`:
//
//	cd services/requests && go test -run '^$' -bench 'BenchmarkRequest' -benchtime 2000x -count 2 .
//
// "one-unit" is tenants/jeongeup/units/library; "16-units" spreads the calls over 16 units of
// tenant iksan (the 12 of deploy/examples/iksan.yaml and 4 made here), so approvals append to 16
// ledgers. Receipt numbers are counted per tenant, so in both cases every intake draws from the same
// sequence (requests migration 00004). Besides the rate and latency, each case reports cpu-ms/op: the CPU time of this
// process (the Go side of the whole stack and the load clients; PostgreSQL not included) per call.
// Results and analysis: services/requests/BENCHMARKS.md.

// requestClients are one RequestServiceClient on each of the stack's benchmark connections.
func requestClients(b *testing.B, s *stack) []requestsv1.RequestServiceClient {
	var out []requestsv1.RequestServiceClient
	for _, conn := range s.Conns(b) {
		out = append(out, requestsv1.NewRequestServiceClient(conn))
	}
	return out
}

// benchUnits is a set of units that the calls go to, in turn, and a staff credential for them.
type benchUnits struct {
	tenant string
	units  []string // full names, tenants/{t}/units/{u}
	staff  context.Context
}

// requestBenchStack starts the stack with both example tenants and returns the two unit sets.
func requestBenchStack(b *testing.B) (*stack, map[string]benchUnits) {
	s := startStack(b, stacktest.WithPoolSize(stacktest.BenchPool))
	s.Load("jeongeup-library.yaml")
	f := s.Load("iksan.yaml")
	var iksan []string
	for _, u := range f.Units {
		iksan = append(iksan, "tenants/iksan/units/"+u.ID)
	}
	for i := 0; len(iksan) < 16; i++ {
		id := fmt.Sprintf("bench-%02d", i)
		_, err := s.Registry.CreateUnit(s.Admin(), &registryv1.CreateUnitRequest{Parent: "tenants/iksan", UnitId: id,
			Unit: &registryv1.Unit{DisplayName: "벤치마크 " + id}})
		require.NoError(b, err)
		iksan = append(iksan, "tenants/iksan/units/"+id)
	}
	require.Len(b, iksan, 16)
	return s, map[string]benchUnits{
		"one-unit": {tenant: "jeongeup", units: []string{libraryUnit}, staff: s.As(auth.RoleHandler, libraryUnit)},
		"16-units": {tenant: "iksan", units: iksan, staff: s.As(auth.RoleHandler, "tenants/iksan")},
	}
}

// create is staff intake of an ACCESS request (a visit) with its own request_id.
func (u benchUnits) create(cl requestsv1.RequestServiceClient, i int) (*requestsv1.CreateRequestResponse, error) {
	return cl.CreateRequest(u.staff, &requestsv1.CreateRequestRequest{Parent: u.units[i%len(u.units)],
		Request: requeststest.WithChannel(requeststest.AccessRequest()), RequestId: "bench-intake-" + strconv.FormatInt(stacktest.RequestIDs.Add(1), 10)})
}

// processCPU is the CPU time (user and system) this process has used: the whole stack's Go side
// and the load clients, not PostgreSQL.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	require.NoError(b, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// timedCPU runs run and reports the process's CPU time per operation while it ran, "cpu-ms/op".
func timedCPU(b *testing.B, run func()) {
	cpu := processCPU(b)
	run()
	b.ReportMetric(float64((processCPU(b)-cpu).Microseconds())/1000/float64(b.N), "cpu-ms/op")
}

// setupClients is how many goroutines prepare a benchmark's requests: fewer than the timed
// part's clients: the setup is not measured, and fewer callers keep each call far from its 30 s
// deadline on a loaded machine. (Until requests migration 00004, 64 intakes of one tenant waited
// in turn on its receipt counter and passed that deadline at load 40–60.)
const setupClients = 16

// inParallel runs op(i) for i in [0, n) from setupClients goroutines, outside any timing.
func inParallel(b *testing.B, n int, op func(worker, i int) error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, setupClients)
	for w := range setupClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := op(w, i); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}

// BenchmarkRequestIntake: CreateRequest (staff intake, ACCESS, a unique request_id each) from 64
// clients. No ledger entry is made at intake. Afterwards the tenant holds exactly b.N more
// requests.
func BenchmarkRequestIntake(b *testing.B) {
	s, sets := requestBenchStack(b)
	cls := requestClients(b, s)
	db, err := pgxpool.New(context.Background(), s.DatabaseURL)
	require.NoError(b, err)
	defer db.Close()
	stored := func(tenant string) (n int) {
		require.NoError(b, db.QueryRow(context.Background(),
			`SELECT count(*) FROM requests.requests WHERE tenant_id = $1`, tenant).Scan(&n))
		return n
	}
	for _, name := range []string{"one-unit", "16-units"} {
		u := sets[name]
		b.Run(name, func(b *testing.B) {
			before := stored(u.tenant)
			var calls atomic.Int64
			timedCPU(b, func() {
				stacktest.RunClients(b, "requests", func(_ context.Context, w int) error {
					r, err := u.create(cls[w%len(cls)], int(calls.Add(1)))
					if err == nil && r.GetRequest().GetState() != requestsv1.RequestState_REQUEST_STATE_RECEIVED {
						err = fmt.Errorf("%s: state %v", r.GetRequest().GetName(), r.GetRequest().GetState())
					}
					return err
				})
			})
			if got := stored(u.tenant) - before; got != b.N {
				b.Fatalf("%d requests stored for %d intakes", got, b.N)
			}
		})
	}
}

// BenchmarkRequestDecision: ApproveRequest from 64 clients, each on its own request, created and
// verified beforehand (not timed). Every approval writes its notice and an outbox step, and
// delivers the step at once: its PROGRESS amendment appended to the unit's ledger before the answer.
// Reported besides the rate: how many answers came back with the entry still pending (left to
// the outbox job), and entries/commit, the size of the ledgers' batches. Afterwards every request's ledger record is checked not pending (waiting for
// the outbox job if some were left to it), and the ledgers must have grown by exactly b.N.
func BenchmarkRequestDecision(b *testing.B) {
	s, sets := requestBenchStack(b)
	cls := requestClients(b, s)
	led := s.ledger()
	db, err := pgxpool.New(context.Background(), s.DatabaseURL)
	require.NoError(b, err)
	defer db.Close()
	for _, name := range []string{"one-unit", "16-units"} {
		u := sets[name]
		logSizes := func() (n int64) {
			for _, unit := range u.units {
				cp, err := led.GetCheckpoint(u.staff, &ledgerv1.GetCheckpointRequest{Parent: unit})
				require.NoError(b, err)
				n += cp.GetTreeSize()
			}
			return n
		}
		b.Run(name, func(b *testing.B) {
			b.StopTimer()
			t0 := time.Now()
			names := make([]string, b.N)
			inParallel(b, b.N, func(w, i int) error {
				cl := cls[w%len(cls)]
				r, err := u.create(cl, i)
				if err != nil {
					return err
				}
				names[i] = r.GetRequest().GetName()
				_, err = cl.VerifyIdentity(u.staff, &requestsv1.VerifyIdentityRequest{Name: names[i],
					Verification: &requestsv1.Verification{Method: requestsv1.VerificationMethod_VERIFICATION_METHOD_RESIDENT_CARD}})
				return err
			})
			b.Logf("%d requests created and verified in %s", b.N, time.Since(t0).Round(time.Millisecond))
			before := logSizes()

			var next, pending atomic.Int64
			start := time.Now()
			b.StartTimer() // runClients resets it
			timedCPU(b, func() {
				stacktest.RunClients(b, "decisions", func(_ context.Context, w int) error {
					n := names[next.Add(1)-1]
					r, err := cls[w%len(cls)].ApproveRequest(u.staff, &requestsv1.ApproveRequestRequest{Name: n, Grant: requeststest.VisitGrant()})
					switch {
					case err != nil:
						return fmt.Errorf("%s: %w", n, err)
					case r.GetState() != requestsv1.RequestState_REQUEST_STATE_APPROVED || len(r.GetLedger()) != 2:
						return fmt.Errorf("%s: state %v, %d ledger records", n, r.GetState(), len(r.GetLedger()))
					case r.GetLedger()[1].GetPending(): // [0] is the verification's, appended before
						pending.Add(1)
					}
					return nil
				})
			})
			b.ReportMetric(float64(pending.Load()), "left-to-outbox")

			// Every approval's entry is in its ledger: none pending, each once.
			t1 := time.Now()
			var late atomic.Int64
			inParallel(b, b.N, func(w, i int) error {
				for {
					r, err := cls[w%len(cls)].GetRequest(u.staff, &requestsv1.GetRequestRequest{Name: names[i]})
					if err != nil {
						return err
					}
					lr := r.GetLedger()
					if len(lr) != 2 {
						return fmt.Errorf("%s: %d ledger records", names[i], len(lr))
					}
					if !lr[1].GetPending() {
						return nil
					}
					if time.Since(t1) > 2*time.Minute {
						return fmt.Errorf("%s: ledger entry still pending after %s", names[i], time.Since(t1).Round(time.Second))
					}
					late.Add(1)
					time.Sleep(time.Second)
				}
			})
			if late.Load() > 0 {
				b.Logf("the outbox job delivered the pending entries within %s", time.Since(t1).Round(time.Second))
			}
			if got := logSizes() - before; got != int64(b.N) {
				b.Fatalf("the ledgers grew by %d entries for %d approvals", got, b.N)
			}
			// The ledger's group commit: entries per committed batch (one checkpoint each).
			var entries, batches int
			require.NoError(b, db.QueryRow(context.Background(), `SELECT count(*), count(DISTINCT (unit_id, tree_size))
				FROM ledger.entries WHERE tenant_id = $1 AND commit_time >= $2`, u.tenant, start).Scan(&entries, &batches))
			if entries != b.N {
				b.Fatalf("%d entries committed during the run, for %d approvals", entries, b.N)
			}
			b.ReportMetric(float64(entries)/float64(batches), "entries/commit")
		})
	}
}
