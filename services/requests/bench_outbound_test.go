//go:build unix

package requests_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pipa-kr/pipa/pkg/auth"
	requestsv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/requests/v1"
	"github.com/pipa-kr/pipa/pkg/outbound/outboundtest"
	"github.com/pipa-kr/pipa/pkg/stacktest"
	"github.com/pipa-kr/pipa/services/requests/request"
	"github.com/pipa-kr/pipa/services/requests/requeststest"
)

// What leaving pipa costs a workflow (issue 17), on the stack of the request benchmarks
// (bench_test.go: 64 clients on 8 connections, a pool of 64), with a real SMTP server and a real
// webhook receiver that verifies every signature (pkg/outbound/outboundtest). Not part of
// `make test`:
//
//	cd services/requests && go test -run '^$' -bench 'BenchmarkOutbound$' -benchtime 2000x .
//	cd services/requests && go test -run '^$' -bench 'BenchmarkOutboundReceiverDown' -benchtime 1x -timeout 30m .
//
// BenchmarkOutbound approves verified ACCESS requests, 64 at a time, in one run: "nothing-leaves"
// (no e-mail address, no subscription) beside "mail-and-event" (each requester gave an address,
// and a subscription wants kr.pipa.request.decided: each approval writes one mail and one event),
// three times each, in the order A B B A A B.
// After the timer it waits until the SMTP server holds every mail and the receiver every event,
// and reports deliveries/s from the first approval to the last delivery, drain-s after the
// last approval, and all-cpu-ms/op, the process's CPU per approval until the last delivery.
// Its last line, "verdict", is the drop in steps/s of each pair (A1 B1, B2 A2, A3 B3), their
// median, the pooled rates (all approvals of a case over all their time) and their drop, and the
// median CPU per approval of each case (B's until its last delivery).
// The receivers run in a child process, as they run elsewhere in production;
// PIPA_BENCH_RECEIVERS=process runs them in the benchmark's process (bench_receivers_test.go).
// Results: BENCHMARKS.md.

// verified creates n ACCESS requests of the unit, by visit, and verifies them, outside any timing;
// with an e-mail address when email.
func verified(b *testing.B, cls []requestsv1.RequestServiceClient, u benchUnits, n int, email bool) []string {
	names := make([]string, n)
	inParallel(b, n, func(w, i int) error {
		cl := cls[w%len(cls)]
		r := requeststest.WithChannel(requeststest.AccessRequest())
		if email {
			r.Requester.Email = fmt.Sprintf("bench-%d@example.kr", i)
		}
		resp, err := cl.CreateRequest(u.staff, &requestsv1.CreateRequestRequest{Parent: u.units[0], Request: r})
		if err != nil {
			return err
		}
		names[i] = resp.GetRequest().GetName()
		_, err = cl.VerifyIdentity(u.staff, &requestsv1.VerifyIdentityRequest{Name: names[i],
			Verification: &requestsv1.Verification{Method: requestsv1.VerificationMethod_VERIFICATION_METHOD_ADMIN_DATA_SHARING}})
		return err
	})
	return names
}

// warmUp is how many approvals BenchmarkOutbound makes before its cases.
const warmUp = 500

func BenchmarkOutbound(b *testing.B) {
	recv := startReceivers(b) // bench_receivers_test.go: here, or in a child process
	s := startStack(b, stacktest.WithPoolSize(stacktest.BenchPool), outboundtest.WithMail(recv.smtpAddr, 15), outboundtest.WithLoopbackReceivers)
	s.Load("jeongeup-library.yaml")
	cls := requestClients(b, s)
	u := benchUnits{tenant: "jeongeup", units: []string{libraryUnit}, staff: s.As(auth.RoleHandler, libraryUnit)}
	subs := requestsv1.NewOutboundServiceClient(s.Conn)
	admin := s.As(auth.RoleTenantAdmin, "tenants/jeongeup")
	// Not timed: warmUp approvals first, so that the first case does not pay alone for the pools'
	// connections, the caches and PostgreSQL's buffers (it ran at about half the rate of the
	// same case last).
	warm := verified(b, cls, u, warmUp, false)
	inParallel(b, warmUp, func(w, i int) error {
		_, err := cls[w%len(cls)].ApproveRequest(u.staff, &requestsv1.ApproveRequestRequest{Name: warm[i], Grant: requeststest.VisitGrant()})
		return err
	})
	// The two cases alternate, ABBAAB, so that a change in the shared machine's load weighs on
	// both; runs[i] is case i's last run (b.Run runs it once with b.N = 1 first).
	order := []bool{false, true, true, false, false, true}
	runs := make([]caseRun, len(order))
	for i, leaves := range order {
		name := fmt.Sprintf("nothing-leaves/%d", i/2+1)
		if leaves {
			name = fmt.Sprintf("mail-and-event/%d", i/2+1)
		}
		b.Run(name, func(b *testing.B) {
			names := verified(b, cls, u, b.N, leaves)
			var sub string
			if leaves {
				created, err := subs.CreateSubscription(admin, &requestsv1.CreateSubscriptionRequest{Parent: "tenants/jeongeup",
					SubscriptionId: fmt.Sprintf("bench-%d", stacktest.RequestIDs.Add(1)),
					Subscription:   &requestsv1.Subscription{Url: recv.url, Secret: benchSecret, Types: []string{request.EventDecided}}})
				require.NoError(b, err)
				sub = created.GetName()
			}
			mails, events, _ := recv.counts()
			var next atomic.Int64
			start := time.Now()
			var recvCPU time.Duration
			if recv.cpu != nil {
				recvCPU = recv.cpu()
			}
			cpu := processCPU(b)
			timedCPU(b, func() {
				stacktest.RunClients(b, "steps", func(ctx context.Context, w int) error {
					_, err := cls[w%len(cls)].ApproveRequest(u.staff, &requestsv1.ApproveRequestRequest{
						Name: names[next.Add(1)-1], Grant: requeststest.VisitGrant()})
					return err
				})
			})
			runs[i] = caseRun{steps: b.N, took: b.Elapsed(), cpu: processCPU(b) - cpu}
			if recv.cpu != nil {
				b.ReportMetric(float64((recv.cpu()-recvCPU).Microseconds())/1000/float64(b.N), "recv-cpu-ms/op")
			}
			if !leaves {
				return
			}
			stepsDone := time.Now()
			require.Eventually(b, func() bool {
				m, e, _ := recv.counts()
				return m == mails+b.N && e == events+b.N
			}, 10*time.Minute, 50*time.Millisecond)
			done := time.Now()
			// The CPU until the last delivery: what the outbound still sends after the last step
			// is part of each step's cost (as the receivers', in a child, until then).
			runs[i].cpu = processCPU(b) - cpu
			b.ReportMetric(float64(runs[i].cpu.Microseconds())/1000/float64(b.N), "all-cpu-ms/op")
			if recv.cpu != nil {
				b.ReportMetric(float64((recv.cpu()-recvCPU).Microseconds())/1000/float64(b.N), "all-recv-cpu-ms/op")
			}
			b.ReportMetric(float64(2*b.N)/done.Sub(start).Seconds(), "deliveries/s")
			b.ReportMetric(done.Sub(stepsDone).Seconds(), "drain-s")
			_, _, rejected := recv.counts()
			require.Zero(b, rejected)
			_, err := subs.DeleteSubscription(admin, &requestsv1.DeleteSubscriptionRequest{Name: sub})
			require.NoError(b, err)
		})
	}
	b.Run("verdict", func(b *testing.B) { reportDrop(b, order, runs) })
}

// caseRun is what one case of BenchmarkOutbound measured: its approvals, their time, and the
// process's CPU until its last delivery.
type caseRun struct {
	steps int
	took  time.Duration
	cpu   time.Duration
}

func (c caseRun) rate() float64 { return float64(c.steps) / c.took.Seconds() }

// reportDrop reports BenchmarkOutbound's verdict: how much slower approvals ran when each sent a
// mail and an event, pair by pair (the cases run next to each other), as the median of the pairs
// and from the pooled rates, with the median CPU per approval of each case.
func reportDrop(b *testing.B, order []bool, runs []caseRun) {
	var pairs []float64
	var pooled [2]caseRun
	var cpu [2][]float64
	for i, leaves := range order {
		k := 0
		if leaves {
			k = 1
		}
		pooled[k].steps += runs[i].steps
		pooled[k].took += runs[i].took
		cpu[k] = append(cpu[k], float64(runs[i].cpu.Microseconds())/1000/float64(runs[i].steps))
		if i%2 == 1 && leaves != order[i-1] {
			a, bb := runs[i-1], runs[i]
			if !leaves {
				a, bb = bb, a
			}
			pairs = append(pairs, 100*(bb.rate()/a.rate()-1))
		}
	}
	for i, p := range pairs {
		b.ReportMetric(p, fmt.Sprintf("pair%d-drop-%%", i+1))
	}
	b.ReportMetric(median(pairs), "median-drop-%")
	b.ReportMetric(pooled[0].rate(), "A-steps/s")
	b.ReportMetric(pooled[1].rate(), "B-steps/s")
	b.ReportMetric(100*(pooled[1].rate()/pooled[0].rate()-1), "pooled-drop-%")
	b.ReportMetric(median(cpu[0]), "A-cpu-ms/op")
	b.ReportMetric(median(cpu[1]), "B-all-cpu-ms/op")
	b.ReportMetric(0, "ns/op")
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// BenchmarkOutboundReceiverDown runs whole workflows (intake, verification, approval: three
// events and one mail each) from 64 clients for 60 s per case, each case with a receiver and a
// subscription of its own: "receiver-up" takes every post; "receiver-down" answers 503 for the 60 s
// and is then brought back. The cases run in the order up, down, down, up, so that the control
// run of the same load in the same process shows what the outage costs the workflow. Each case
// counts steps (with their rate, p50 and p99), failed steps by method, events emitted (the
// requests schema's events of the case) and events the receiver verified, by webhook-id, mails,
// and how long the receiver took to catch up after the 60 s. b.N is not used: run it with
// -benchtime 1x.
func BenchmarkOutboundReceiverDown(b *testing.B) {
	smtpd := outboundtest.StartMail(b)
	s := startStack(b, stacktest.WithPoolSize(stacktest.BenchPool), outboundtest.WithMail(smtpd.Addr, 15), outboundtest.WithLoopbackReceivers)
	s.Load("jeongeup-library.yaml")
	cls := requestClients(b, s)
	staff := s.As(auth.RoleHandler, libraryUnit)
	subs := requestsv1.NewOutboundServiceClient(s.Conn)
	admin := s.As(auth.RoleTenantAdmin, "tenants/jeongeup")
	for i, down := range []bool{false, true, true, false} {
		name := fmt.Sprintf("receiver-up/%d", i/2+1)
		if down {
			name = fmt.Sprintf("receiver-down/%d", i/2+1)
		}
		b.Run(name, func(b *testing.B) {
			recv := outboundtest.StartReceiver(b, benchSecret)
			recv.SetDown(down)
			sub, err := subs.CreateSubscription(admin, &requestsv1.CreateSubscriptionRequest{Parent: "tenants/jeongeup",
				SubscriptionId: fmt.Sprintf("down-%d", i), Subscription: &requestsv1.Subscription{Url: recv.URL, Secret: benchSecret}})
			require.NoError(b, err)
			var lastSeq int64
			require.NoError(b, s.DB().QueryRow(context.Background(), `SELECT coalesce(max(seq), 0) FROM requests.events
				WHERE tenant_id = 'jeongeup'`).Scan(&lastSeq))
			mails := len(smtpd.Mail())
			w := workflows(b, cls, staff, 60*time.Second)
			refused := recv.Refused.Load()
			up := time.Now()
			recv.SetDown(false)
			var emitted int
			require.NoError(b, s.DB().QueryRow(context.Background(), `SELECT count(*) FROM requests.events WHERE tenant_id = 'jeongeup'
				AND seq > $1 AND type LIKE 'kr.pipa.request.%'`, lastSeq).Scan(&emitted))
			require.Eventually(b, func() bool { return recv.Unique() == emitted && len(smtpd.Mail())-mails == w.done },
				15*time.Minute, 200*time.Millisecond)
			b.ReportMetric(float64(emitted), "events")
			b.ReportMetric(float64(recv.Unique()), "events-delivered")
			b.ReportMetric(float64(len(smtpd.Mail())-mails), "mails")
			b.ReportMetric(float64(refused), "refused-posts")
			b.ReportMetric(time.Since(up).Seconds(), "catch-up-s")
			b.Logf("%s: %d steps (%d failed: %v), %d events emitted and %d delivered, %d mails, %d posts refused while down",
				name, len(w.took), w.failedSteps(), w.failed, emitted, recv.Unique(), len(smtpd.Mail())-mails, refused)
			_, err = subs.DeleteSubscription(admin, &requestsv1.DeleteSubscriptionRequest{Name: sub.GetName()})
			require.NoError(b, err)
			require.Zero(b, w.failedSteps(), "no step fails, whether the receiver is up or down")
			require.Zero(b, recv.Rejected.Load())
		})
	}
}

// workflowRun is what workflows counts: the time each step took, the steps that failed by method,
// and the workflows that finished.
type workflowRun struct {
	took   []time.Duration
	failed map[string]int
	done   int
}

func (w *workflowRun) failedSteps() (n int) {
	for _, f := range w.failed {
		n += f
	}
	return n
}

// workflows runs whole workflows (staff intake of an ACCESS request with an e-mail address,
// verification, approval by visit) from BenchClients goroutines for d, and reports the steps'
// rate, their p50 and p99, the process's CPU time per step (the Go side of the stack, the
// deliveries and the receivers; not PostgreSQL) and the failed steps of each method.
func workflows(b *testing.B, cls []requestsv1.RequestServiceClient, staff context.Context, d time.Duration) *workflowRun {
	var mu sync.Mutex
	run := &workflowRun{failed: map[string]int{}}
	var wg sync.WaitGroup
	b.ResetTimer()
	cpu := processCPU(b)
	start := time.Now()
	for w := range stacktest.BenchClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := cls[w%len(cls)]
			step := func(method string, call func() error) bool {
				t := time.Now()
				err := call()
				mu.Lock()
				defer mu.Unlock()
				run.took = append(run.took, time.Since(t))
				if err != nil {
					run.failed[method]++
					b.Logf("%s: %v", method, err)
				}
				return err == nil
			}
			for i := 0; time.Since(start) < d; i++ {
				var name string
				ok := step("CreateRequest", func() error {
					r := requeststest.WithChannel(requeststest.AccessRequest())
					r.Requester.Email = fmt.Sprintf("wf-%d-%d-%d@example.kr", stacktest.RequestIDs.Add(1), w, i)
					resp, err := cl.CreateRequest(staff, &requestsv1.CreateRequestRequest{Parent: libraryUnit, Request: r})
					name = resp.GetRequest().GetName()
					return err
				}) && step("VerifyIdentity", func() error {
					_, err := cl.VerifyIdentity(staff, &requestsv1.VerifyIdentityRequest{Name: name,
						Verification: &requestsv1.Verification{Method: requestsv1.VerificationMethod_VERIFICATION_METHOD_ADMIN_DATA_SHARING}})
					return err
				}) && step("ApproveRequest", func() error {
					_, err := cl.ApproveRequest(staff, &requestsv1.ApproveRequestRequest{Name: name, Grant: requeststest.VisitGrant()})
					return err
				})
				if ok {
					mu.Lock()
					run.done++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64((processCPU(b)-cpu).Microseconds())/1000/float64(len(run.took)), "cpu-ms/step")
	stacktest.ReportLatencies(b, "steps", run.took)
	b.ReportMetric(float64(len(run.took)), "steps")
	for _, m := range []string{"CreateRequest", "VerifyIdentity", "ApproveRequest"} {
		b.ReportMetric(float64(run.failed[m]), "failed-"+m)
	}
	return run
}
