// Command loadbench is the load side of `make bench` (deploy/bench/bench.sh starts pipa and
// PostgreSQL first): from outside the pipa process, with 64 clients each, it measures
//
//   - the bare one-row INSERT per commit on the same PostgreSQL cluster (pgbench, which ships
//     with PostgreSQL), the baseline of the ratios;
//   - ledger appends over REST (through the edge) and over gRPC, to one unit's log, spread over 16
//     logs, and spread over every log of -tenants × -units units (a national deployment: 250 ×
//     40 = 10,000 logs);
//   - the public CCTV policy page against the same bytes from a static file server (Go's
//     http.FileServer, in a process of its own like pipa);
//
// and prints each case's rate, p50 and p99, pipa's CPU per operation and memory (from /proc of
// -pid), then the ratios. With -growth (`make bench-growth`) it measures instead how cost grows
// with the number of units, the retention sweep included, and prints that table (growth.go). Every append carries its own request_id, as a real caller's does.
// The clients are plain closed loops (each sends its next request when its last one answered):
// net/http for REST and grpc-go for gRPC, the same clients pipa's own callers use.
package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/pkg/names"
)

type options struct {
	url, grpcAddr, token, adminToken, managerToken, db, pgbench, page string
	pid, clients, tenants, units, sweepItems, sweepClients            int
	growth                                                            []int
	duration, openFor                                                 time.Duration
	serve, listen                                                     string
	pprof, profileCase, profileDir                                    string
	metrics                                                           string
	cases                                                             *regexp.Regexp
}

func main() {
	var o options
	flag.StringVar(&o.url, "url", "http://127.0.0.1:18080", "pipa's HTTP edge")
	flag.StringVar(&o.grpcAddr, "grpc", "127.0.0.1:19090", "pipa's gRPC address")
	flag.StringVar(&o.token, "token", os.Getenv("BENCH_TOKEN"), "a handler's token on every tenant (BENCH_TOKEN)")
	flag.StringVar(&o.adminToken, "admin-token", os.Getenv("BENCH_ADMIN_TOKEN"), "a tenant_admin's token on every tenant, to create the units (BENCH_ADMIN_TOKEN)")
	flag.StringVar(&o.managerToken, "manager-token", os.Getenv("BENCH_MANAGER_TOKEN"), "a manager's token on every tenant, for the retention rules and sweeps of -growth (BENCH_MANAGER_TOKEN)")
	flag.StringVar(&o.db, "db", os.Getenv("DATABASE_URL"), "pipa's database, where pgbench runs the bare INSERT")
	flag.StringVar(&o.pgbench, "pgbench", "/usr/lib/postgresql/15/bin/pgbench", "pgbench")
	flag.StringVar(&o.page, "page", "/p/jeongeup/library/cctv", "the public page")
	flag.IntVar(&o.pid, "pid", 0, "pipa's process id, for its CPU and memory")
	flag.IntVar(&o.clients, "clients", 64, "concurrent clients")
	flag.IntVar(&o.tenants, "tenants", 250, "tenants of the many-logs case (0 skips it)")
	flag.IntVar(&o.units, "units", 40, "units per tenant of the many-logs case")
	flag.DurationVar(&o.duration, "duration", 8*time.Second, "how long each case runs, after a warm-up of a quarter of it")
	flag.DurationVar(&o.openFor, "open-for", 90*time.Second, "at most this long for the first append to each of the many logs")
	flag.StringVar(&o.serve, "serve", "", "serve this directory as a static file server on -listen, and do nothing else")
	flag.StringVar(&o.listen, "listen", "127.0.0.1:18099", "the static file server's address")
	flag.StringVar(&o.pprof, "pprof", "", "pipa's metrics listener with PIPA_PPROF on (e.g. http://127.0.0.1:19464), to profile -profile-case")
	flag.StringVar(&o.profileCase, "profile-case", "", "profile the cases whose name contains this: a CPU profile over the measured part, and the allocations")
	flag.StringVar(&o.metrics, "metrics", "", "pipa's metrics listener (e.g. http://127.0.0.1:19464), for its allocations per operation (go_memstats_*_total)")
	flag.StringVar(&o.profileDir, "profile-dir", ".", "where the profiles go (cpu-{case}.pprof, allocs-{case}.pprof)")
	growth := flag.String("growth", "", "measure how cost grows instead: the comma-separated numbers of units (e.g. 100,1000,10000), -units to a tenant")
	flag.IntVar(&o.sweepItems, "sweep-items", 5, "retention items a unit has at each scale of -growth")
	flag.IntVar(&o.sweepClients, "sweep-clients", 4, "units swept at a time in -growth")
	cases := flag.String("cases", "", "run only the cases whose name matches this regular expression (all when empty; the bare INSERT always runs)")
	flag.Parse()
	o.cases = regexp.MustCompile(*cases)
	for _, f := range strings.FieldsFunc(*growth, func(r rune) bool { return r == ',' }) {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			log.Fatalf("-growth: %q is not a number of units", f)
		}
		o.growth = append(o.growth, n)
	}
	slices.Sort(o.growth)
	o.growth = slices.Compact(o.growth) // a scale given twice is measured once
	if o.serve != "" {
		log.Fatal(http.ListenAndServe(o.listen, http.FileServer(http.Dir(o.serve))))
	}
	if err := run(context.Background(), o); err != nil {
		log.Fatal(err)
	}
}

// result is one case's figures.
type result struct {
	name          string
	ops, errs     int64
	elapsed       time.Duration
	p50, p99      time.Duration
	cpuPerOp      time.Duration // pipa's user+system CPU per operation; 0 when not measured
	allocsPerOp   float64       // pipa's heap allocations per operation; 0 when not measured
	bytesPerOp    float64       // and their bytes
	rss           int64         // pipa's resident memory at the end, bytes
	process       string        // whose CPU and memory: pipa's when empty
	note          string
	firstErr      error
	pgbenchLatAvg string
}

func (r result) rate() float64 { return float64(r.ops) / r.elapsed.Seconds() }

func run(ctx context.Context, o options) error {
	if o.token == "" || o.adminToken == "" || len(o.growth) > 0 && o.managerToken == "" {
		return errors.New("need -token and -admin-token (BENCH_TOKEN, BENCH_ADMIN_TOKEN), and -manager-token with -growth (BENCH_MANAGER_TOKEN)")
	}
	conn, err := grpc.NewClient(o.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	b := &bench{o: o, http: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: o.clients, MaxConnsPerHost: o.clients}},
		ledger: ledgerv1.NewLedgerServiceClient(conn), registry: registryv1.NewRegistryServiceClient(conn)}
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Printf("make bench, %s, %d clients, %s a case; load average before: %s\n", time.Now().UTC().Format(time.RFC3339), o.clients, o.duration, strings.TrimSpace(string(load)))

	var rs []result
	add := func(r result, err error) error {
		if err != nil {
			return fmt.Errorf("%s: %w", r.name, err)
		}
		rs = append(rs, r)
		printResult(r)
		return nil
	}
	if err := add(b.pgbenchInsert(ctx)); err != nil {
		return err
	}
	bare := rs[0].rate()
	if len(o.growth) > 0 {
		return b.growth(ctx, add)
	}
	var seventeen []string
	for i := range 17 {
		seventeen = append(seventeen, fmt.Sprintf("tenants/bench/units/u-%03d", i))
	}
	if err := b.setupUnits(ctx, seventeen); err != nil {
		return err
	}
	one, sixteen := seventeen[:1], seventeen[1:]
	if m0 := b.memStats(); m0.mallocs > 0 {
		// Two scrapes back to back: what one scrape allocates. Then idle: what pipa allocates
		// between two scrapes, less one.
		const window = 10 * time.Second
		m1 := b.memStats()
		time.Sleep(window)
		m2 := b.memStats()
		b.scrape = memStats{m1.mallocs - m0.mallocs, m1.bytes - m0.bytes}
		b.idle = memStats{max(0, m2.mallocs-m1.mallocs-b.scrape.mallocs) / window.Seconds(),
			max(0, m2.bytes-m1.bytes-b.scrape.bytes) / window.Seconds()}
		fmt.Printf("pipa idle: %.0f allocations (%.0f KiB) a second, and %.0f (%.0f KiB) a scrape of its metrics; both taken off each case's allocations per operation\n",
			b.idle.mallocs, b.idle.bytes/1024, b.scrape.mallocs, b.scrape.bytes/1024)
	}
	// The pages first: request intake leaves background work behind (its ledger outbox).
	if o.cases.MatchString("page") {
		if err := b.pages(ctx, add); err != nil {
			return err
		}
	}

	for _, c := range []struct {
		name string
		logs []string
		grpc bool
	}{{"REST append, 1 log", one, false}, {"REST append, 16 logs", sixteen, false},
		{"gRPC append, 1 log", one, true}, {"gRPC append, 16 logs", sixteen, true}} {
		if !o.cases.MatchString(c.name) {
			continue
		}
		if err := add(b.appends(ctx, c.name, c.logs, c.grpc), nil); err != nil {
			return err
		}
	}
	if o.cases.MatchString("REST request intake, 16 units") {
		if err := add(b.intake(ctx, "REST request intake, 16 units", sixteen), nil); err != nil {
			return err
		}
	}
	if o.tenants > 0 && o.cases.MatchString(fmt.Sprintf("REST append, %d logs", o.tenants*o.units)) {
		start := time.Now()
		many := benchUnits(o.tenants*o.units, o.units)
		if err := b.setupUnits(ctx, many); err != nil {
			return err
		}
		fmt.Printf("  (%d units made or found in %s)\n", len(many), time.Since(start).Round(time.Millisecond))
		// Each log's first append makes its head and signing key: done once for every log
		// (at most -open-for), then the appends spread over them all.
		if err := add(b.openLogs(ctx, fmt.Sprintf("REST first append, %d logs", len(many)), many), nil); err != nil {
			return err
		}
		if err := add(b.appends(ctx, fmt.Sprintf("REST append, %d logs", len(many)), many, false), nil); err != nil {
			return err
		}
		if err := add(b.intake(ctx, fmt.Sprintf("REST request intake, %d units", len(many)), many), nil); err != nil {
			return err
		}
	}
	load, _ = os.ReadFile("/proc/loadavg")
	fmt.Printf("\nload average after: %s\nratios (rates measured in this run):\n", strings.TrimSpace(string(load)))
	by, cpu := map[string]float64{}, map[string]time.Duration{}
	for _, r := range rs {
		by[r.name], cpu[r.name] = r.rate(), r.cpuPerOp
	}
	for _, r := range rs[1:] {
		if strings.Contains(r.name, "append") {
			fmt.Printf("  %-40s %5.2f× the bare INSERT\n", r.name, r.rate()/bare)
		}
	}
	ratio := func(name, of, what string) {
		if by[name] > 0 && by[of] > 0 {
			fmt.Printf("  %-40s %5.2f× %s\n", name, by[name]/by[of], what)
		}
	}
	ratio("REST append, 16 logs", "REST append, 1 log", "one log")
	ratio("gRPC append, 16 logs", "gRPC append, 1 log", "one log")
	ratio("public page, gzip", "same bytes, static file server", "the static file server")
	ratio("public page, identity", "same bytes, static file server", "the static file server")
	for _, name := range []string{"public page, gzip", "public page, identity"} {
		if of := cpu["same bytes, static file server"]; cpu[name] > 0 && of > 0 {
			fmt.Printf("  %-40s %5.2f× the static file server's CPU per request\n", name, float64(cpu[name])/float64(of))
		}
	}
	return nil
}

// pages measures the public page (gzip and identity) and the same bytes from a static file server.
func (b *bench) pages(ctx context.Context, add func(result, error) error) error {
	pageBody, err := b.get(ctx, b.o.url+b.o.page)
	if err != nil {
		return err
	}
	if err := add(b.gets(ctx, "public page, gzip", b.o.url+b.o.page, true), nil); err != nil {
		return err
	}
	if err := add(b.gets(ctx, "public page, identity", b.o.url+b.o.page, false), nil); err != nil {
		return err
	}
	stopStatic, staticPid, err := b.staticServer(pageBody)
	if err != nil {
		return err
	}
	defer stopStatic()
	// This case's CPU per operation is the file server's own, to compare with the page's: on a
	// shared machine rates follow the CPU each process gets, CPU per operation does not.
	pid, metrics := b.o.pid, b.o.metrics
	b.o.pid, b.o.metrics = staticPid, ""
	r := b.gets(ctx, "same bytes, static file server", "http://"+b.o.listen+"/page.html", true)
	b.o.pid, b.o.metrics = pid, metrics
	r.process = "server"
	return add(r, nil)
}

func printResult(r result) {
	cpu, mem := "", ""
	if r.cpuPerOp > 0 {
		cpu = fmt.Sprintf("  %s %4.0f µs CPU/op", cmp.Or(r.process, "pipa"), float64(r.cpuPerOp.Nanoseconds())/1000)
	}
	if r.allocsPerOp > 0 {
		cpu += fmt.Sprintf("  %4.0f allocs/op %5.1f KiB/op", r.allocsPerOp, r.bytesPerOp/1024)
	}
	if r.rss > 0 {
		mem = fmt.Sprintf("  RSS %4d MiB", r.rss>>20)
	}
	lat := fmt.Sprintf("p50 %6.2f ms  p99 %6.2f ms", ms(r.p50), ms(r.p99))
	if r.pgbenchLatAvg != "" {
		lat = "mean " + r.pgbenchLatAvg + " ms (pgbench)"
	}
	fmt.Printf("%-40s %9.0f/s  %s%s%s", r.name, r.rate(), lat, cpu, mem)
	if r.errs > 0 {
		fmt.Printf("  %d ERRORS (first: %v)", r.errs, r.firstErr)
	}
	if r.note != "" {
		fmt.Printf("  %s", r.note)
	}
	fmt.Println()
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

type bench struct {
	o        options
	http     *http.Client
	ledger   ledgerv1.LedgerServiceClient
	registry registryv1.RegistryServiceClient
	ids      atomic.Int64
	// idle is pipa's allocations per second with no load (its background jobs), and scrape those
	// of one scrape of its metrics: both taken off each case's count (which spans one scrape), so
	// that allocations per operation depend neither on the rate nor on the scrape. Measured over
	// 2 s with a scrape in it, idle read 6,000-15,000 a second where it is some hundreds.
	idle, scrape memStats
}

// setupUnits makes each of units (tenants/{t}/units/{u}) and its tenant, unless they exist (a
// rerun on the same database, or a smaller scale of the same run), 64 calls at a time.
func (b *bench) setupUnits(ctx context.Context, units []string) error {
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+b.o.adminToken)
	var tenants []string
	for _, u := range units {
		if t := tenantOf(u); !slices.Contains(tenants, t) {
			tenants = append(tenants, t)
		}
	}
	var g errgroup.Group
	g.SetLimit(64)
	for _, tenant := range tenants {
		g.Go(func() error {
			_, err := b.registry.CreateTenant(ctx, &registryv1.CreateTenantRequest{TenantId: tenant, RequestId: "bench-" + tenant,
				Tenant: &registryv1.Tenant{DisplayName: "부하시험 " + tenant, Kind: registryv1.TenantKind_TENANT_KIND_LOCAL_GOVERNMENT}})
			if err != nil {
				return fmt.Errorf("tenant %s: %w", tenant, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for _, unit := range units {
		g.Go(func() error {
			tenant, id, err := names.ParseUnit("unit", unit)
			if err != nil {
				return err
			}
			_, err = b.registry.CreateUnit(ctx, &registryv1.CreateUnitRequest{Parent: names.Tenant(tenant), UnitId: id,
				RequestId: "bench-" + tenant + "-" + id, Unit: &registryv1.Unit{DisplayName: "부서 " + id}})
			if err != nil {
				return fmt.Errorf("unit %s: %w", unit, err)
			}
			return nil
		})
	}
	return g.Wait()
}

// tenantOf is the tenant id of a unit's name, tenants/{t}/units/{u}.
func tenantOf(unit string) string {
	t, _, _ := names.ParseUnit("unit", unit)
	return t
}

// benchUnits names the first n units of the many-units cases: units u-000… of tenants bench-000…,
// per each, so that a smaller scale's units are the first of a larger one's.
func benchUnits(n, per int) []string {
	units := make([]string, n)
	for i := range units {
		units[i] = fmt.Sprintf("tenants/bench-%03d/units/u-%03d", i/per, i%per)
	}
	return units
}

// entry is a 목적 외 이용·제공 record of the size real ones have.
func entry() *ledgerv1.Entry {
	now := time.Now()
	return &ledgerv1.Entry{
		Kind: ledgerv1.EntryKind_ENTRY_KIND_PROVISION, OccurTime: timestamppb.New(now.Add(-time.Hour)),
		FileName: "중앙도서관 주차장 CH03 2026-11-20 14:00~15:00", FileFormat: "mp4",
		Handler: "주무관 송승학", Purpose: "차량 파손 사건 수사", Counterparty: "정읍경찰서",
		CounterpartyOfficer: "경위 홍길동", LegalBasis: "개인정보 보호법 제18조 제2항 제7호",
		Form: "USB 사본 제공", Period: "2026. 11. 20. ~ 2026. 12. 20.", DestructionDueDate: "2026-12-20",
		Items: []string{"영상(얼굴, 차량번호)"}, SafetyRequests: "수사 목적 외 이용 금지, 사건 종결 시 파기 후 회신",
	}
}

// appends appends to logs, worker w to logs[(w + its i-th call) % len], over REST or gRPC.
func (b *bench) appends(ctx context.Context, name string, logs []string, overGRPC bool) result {
	e := entry()
	body, err := protojson.Marshal(e)
	if err != nil {
		panic(err)
	}
	gctx := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+b.o.token)
	op := func(ctx context.Context, w, i int) error {
		log := logs[(w+i*b.o.clients)%len(logs)]
		id := "bench-" + strconv.FormatInt(time.Now().UnixNano(), 36) + "-" + strconv.FormatInt(b.ids.Add(1), 10)
		if overGRPC {
			_, err := b.ledger.AppendEntry(gctx, &ledgerv1.AppendEntryRequest{Parent: log, Entry: e, RequestId: id})
			return err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.o.url+"/v1/"+log+"/ledger/entries?requestId="+id, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+b.o.token)
		req.Header.Set("Content-Type", "application/json")
		return b.do(req)
	}
	r := b.load(ctx, name, op)
	if len(logs) > 16 {
		r.note = fmt.Sprintf("%d logs", len(logs))
	}
	return r
}

// openLogs appends one entry to each of logs, the clients taking the next log until every one
// has had its first append or openFor has passed.
func (b *bench) openLogs(ctx context.Context, name string, logs []string) result {
	body, err := protojson.Marshal(entry())
	if err != nil {
		panic(err)
	}
	r := b.each(ctx, name, len(logs), b.o.clients, time.Now().Add(b.o.openFor), func(ctx context.Context, i int) error {
		id := "bench-open-" + strconv.FormatInt(time.Now().UnixNano(), 36) + "-" + strconv.Itoa(i)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.o.url+"/v1/"+logs[i]+"/ledger/entries?requestId="+id, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+b.o.token)
		return b.do(req)
	})
	r.note = fmt.Sprintf("%d of %d logs opened in %s", r.ops, len(logs), r.elapsed.Round(time.Millisecond))
	return r
}

// each runs op(i) once for every i below n, from clients that each take the next i until none is
// left or deadline has passed (none when zero), and measures the whole: every call's latency,
// pipa's CPU over it and memory after it. A profiled case (-profile-case) is profiled over its
// first -duration.
func (b *bench) each(ctx context.Context, name string, n, clients int, deadline time.Time, op func(ctx context.Context, i int) error) result {
	var next, ops, errs atomic.Int64
	var firstErr atomic.Value
	lats := make([][]time.Duration, clients)
	profiled := b.profile(name)
	cpu0 := procCPU(b.o.pid)
	start := time.Now()
	var wg sync.WaitGroup
	for w := range clients {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(n) || !deadline.IsZero() && time.Now().After(deadline) {
					return
				}
				t := time.Now()
				if err := op(ctx, int(i)); err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				ops.Add(1)
				lats[w] = append(lats[w], time.Since(t))
			}
		})
	}
	wg.Wait()
	r := result{name: name, ops: ops.Load(), errs: errs.Load(), elapsed: time.Since(start), rss: procRSS(b.o.pid)}
	r.finish(lats, cpu0, procCPU(b.o.pid), &firstErr)
	if err := profiled(); err != nil {
		log.Printf("profiling %s: %v", name, err)
	}
	return r
}

// finish sets r's quantiles and CPU per operation.
func (r *result) finish(lats [][]time.Duration, cpu0, cpu1 time.Duration, firstErr *atomic.Value) {
	var all []time.Duration
	for _, l := range lats {
		all = append(all, l...)
	}
	slices.Sort(all)
	if e, ok := firstErr.Load().(error); ok {
		r.firstErr = e
	}
	if len(all) > 0 {
		r.p50, r.p99 = all[len(all)/2], all[len(all)*99/100]
	}
	if r.ops > 0 && cpu1 > cpu0 {
		r.cpuPerOp = (cpu1 - cpu0) / time.Duration(r.ops)
	}
}

// intake takes data subjects' requests (열람, at the counter) over REST, spread over units.
func (b *bench) intake(ctx context.Context, name string, units []string) result {
	body := []byte(`{"request":{"type":"REQUEST_TYPE_ACCESS","channel":"CHANNEL_VISIT",
		"requester":{"name":"김민원","phone":"010-1234-5678"},"accessItems":["ACCESS_ITEM_CONTENT"]},"requestId":"`)
	return b.load(ctx, name, func(ctx context.Context, w, i int) error {
		unit := units[(w+i*b.o.clients)%len(units)]
		id := "bench-" + strconv.FormatInt(time.Now().UnixNano(), 36) + "-" + strconv.FormatInt(b.ids.Add(1), 10)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.o.url+"/v1/"+unit+"/requests",
			bytes.NewReader(append(slices.Clip(body), id+`"}`...)))
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+b.o.token)
		req.Header.Set("Content-Type", "application/json")
		return b.do(req)
	})
}

// gets fetches url, accepting gzip or not (as a browser does, or not).
func (b *bench) gets(ctx context.Context, name, url string, gzip bool) result {
	return b.load(ctx, name, func(ctx context.Context, _, _ int) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		req.Header.Set("Accept-Encoding", "identity")
		if gzip {
			req.Header.Set("Accept-Encoding", "gzip")
		}
		return b.do(req)
	})
}

func (b *bench) do(req *http.Request) error { return b.call(req, nil) }

func (b *bench) get(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := b.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return io.ReadAll(resp.Body)
}

// load runs op from the clients in closed loops for a warm-up (a quarter of the duration), then
// for the duration, and measures the second part, with pipa's CPU over it and memory after it.
func (b *bench) load(ctx context.Context, name string, op func(ctx context.Context, worker, i int) error) result {
	var measuring atomic.Bool
	var ops, errs atomic.Int64
	var firstErr atomic.Value
	lats := make([][]time.Duration, b.o.clients)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range b.o.clients {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				start := time.Now()
				err := op(ctx, w, i)
				if !measuring.Load() {
					continue
				}
				if err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				ops.Add(1)
				lats[w] = append(lats[w], time.Since(start))
			}
		})
	}
	time.Sleep(b.o.duration / 4)
	profiled := b.profile(name)
	mem0, cpu0 := b.memStats(), procCPU(b.o.pid)
	ops.Store(0)
	measuring.Store(true)
	start := time.Now()
	time.Sleep(b.o.duration)
	measuring.Store(false)
	elapsed := time.Since(start)
	n, cpu1, mem1 := ops.Load(), procCPU(b.o.pid), b.memStats()
	close(stop)
	wg.Wait()
	if err := profiled(); err != nil {
		log.Printf("profiling %s: %v", name, err)
	}
	r := result{name: name, ops: n, errs: errs.Load(), elapsed: elapsed, rss: procRSS(b.o.pid)}
	r.finish(lats, cpu0, cpu1, &firstErr)
	if n > 0 && mem0.mallocs > 0 && mem1.mallocs > mem0.mallocs {
		idle := elapsed.Seconds()
		r.allocsPerOp = max(0, mem1.mallocs-mem0.mallocs-b.scrape.mallocs-b.idle.mallocs*idle) / float64(n)
		r.bytesPerOp = max(0, mem1.bytes-mem0.bytes-b.scrape.bytes-b.idle.bytes*idle) / float64(n)
	}
	return r
}

// memStats are pipa's heap allocations so far, from its /metrics (the Go collector's
// go_memstats_mallocs_total and go_memstats_alloc_bytes_total); zero without -metrics. The
// scrape itself allocates 7,000-10,000 times (bench.scrape).
type memStats struct{ mallocs, bytes float64 }

func (b *bench) memStats() memStats {
	var m memStats
	if b.o.metrics == "" {
		return m
	}
	body, err := b.get(context.Background(), b.o.metrics+"/metrics")
	if err != nil {
		log.Printf("pipa's allocations: %v", err)
		return m
	}
	for line := range strings.Lines(string(body)) {
		name, v, _ := strings.Cut(strings.TrimSpace(line), " ")
		switch name {
		case "go_memstats_mallocs_total":
			m.mallocs, _ = strconv.ParseFloat(v, 64)
		case "go_memstats_alloc_bytes_total":
			m.bytes, _ = strconv.ParseFloat(v, 64)
		}
	}
	return m
}

// profile starts a CPU profile of pipa over the duration when the case is to be profiled, and
// returns what waits for it and saves it with pipa's allocation profile.
func (b *bench) profile(name string) func() error {
	if b.o.pprof == "" || b.o.profileCase == "" || !strings.Contains(name, b.o.profileCase) {
		return func() error { return nil }
	}
	file := strings.NewReplacer(" ", "-", ",", "", "/", "_").Replace(name)
	save := func(url, path string) error {
		resp, err := http.Get(url)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: %s", url, resp.Status)
		}
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(f, resp.Body)
		return err
	}
	cpu := make(chan error, 1)
	go func() {
		cpu <- save(fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", b.o.pprof, int(b.o.duration.Seconds())),
			filepath.Join(b.o.profileDir, "cpu-"+file+".pprof"))
	}()
	return func() error {
		return errors.Join(<-cpu, save(b.o.pprof+"/debug/pprof/allocs", filepath.Join(b.o.profileDir, "allocs-"+file+".pprof")))
	}
}

// pgbenchInsert is the baseline: one-row INSERT per commit from the clients, into a table of the
// same shape as the entries' key (tenant first), on the same cluster as pipa's database.
func (b *bench) pgbenchInsert(ctx context.Context) (result, error) {
	r := result{name: "bare INSERT per commit (pgbench)"}
	conn, err := pgx.Connect(ctx, b.o.db)
	if err != nil {
		return r, err
	}
	_, err = conn.Exec(ctx, `DROP TABLE IF EXISTS public.bench_bare;
		CREATE TABLE public.bench_bare (tenant_id text NOT NULL, id bigint GENERATED ALWAYS AS IDENTITY,
			payload text NOT NULL, PRIMARY KEY (tenant_id, id))`)
	conn.Close(ctx)
	if err != nil {
		return r, err
	}
	dir, err := os.MkdirTemp("", "pipa-bench")
	if err != nil {
		return r, err
	}
	defer os.RemoveAll(dir)
	script := filepath.Join(dir, "insert.sql")
	payload := strings.Repeat("중앙도서관 주차장 CH03 2026-11-20 14:00~15:00 ", 8)
	if err := os.WriteFile(script, []byte("INSERT INTO public.bench_bare (tenant_id, payload) VALUES ('bench', '"+payload+"');\n"), 0o600); err != nil {
		return r, err
	}
	secs := int((b.o.duration + b.o.duration/4).Seconds())
	cmd := exec.CommandContext(ctx, b.o.pgbench, "-n", "-c", strconv.Itoa(b.o.clients), "-j", "2", "-T", strconv.Itoa(secs), "-f", script, b.o.db)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return r, fmt.Errorf("%w: %s", err, out.String())
	}
	tps := regexp.MustCompile(`tps = ([0-9.]+) \(without initial connection time\)`).FindStringSubmatch(out.String())
	lat := regexp.MustCompile(`latency average = ([0-9.]+) ms`).FindStringSubmatch(out.String())
	if tps == nil {
		return r, fmt.Errorf("no tps in pgbench's output: %s", out.String())
	}
	rate, _ := strconv.ParseFloat(tps[1], 64)
	r.elapsed = time.Second
	r.ops = int64(rate)
	if lat != nil {
		r.pgbenchLatAvg = lat[1]
	}
	return r, nil
}

// staticServer serves body as page.html from a process of its own (this binary with -serve), and
// returns what stops it.
func (b *bench) staticServer(body []byte) (stop func(), pid int, err error) {
	dir, err := os.MkdirTemp("", "pipa-bench-static")
	if err != nil {
		return nil, 0, err
	}
	if err := os.WriteFile(filepath.Join(dir, "page.html"), body, 0o644); err != nil {
		return nil, 0, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, 0, err
	}
	cmd := exec.Command(self, "-serve", dir, "-listen", b.o.listen)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, 0, err
	}
	stop = func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); os.RemoveAll(dir) }
	for range 100 {
		if c, err := net.Dial("tcp", b.o.listen); err == nil {
			c.Close()
			return stop, cmd.Process.Pid, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	return nil, 0, errors.New("the static file server did not start")
}

// procCPU is the user and system CPU time pid has used (0 without a pid).
func procCPU(pid int) time.Duration {
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name (which is in parentheses): utime is the 14th field overall.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ
}

// procRSS is pid's resident memory in bytes (0 without a pid).
func procRSS(pid int) int64 {
	if pid == 0 {
		return 0
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}
