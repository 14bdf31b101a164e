package main

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/pipa-kr/pipa/pkg/auth"
	"github.com/pipa-kr/pipa/pkg/faultproxy"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/pkg/pgtest"
	"github.com/pipa-kr/pipa/pkg/server"
	"github.com/pipa-kr/pipa/pkg/stacktest"
	"github.com/pipa-kr/pipa/pkg/unitauth"
)

// Faults from outside (issue 12): the database gone or frozen behind a fault proxy
// (pkg/faultproxy) while pipa serves, and bodies far over the limits. They need PostgreSQL.

// An outage answers 503 with Retry-After (gRPC UNAVAILABLE), distinguishable from a bug, and gRPC
// health says NOT_SERVING until the database is back; a frozen database gets its answer within
// the request deadline (504, DEADLINE_EXCEEDED), a gRPC call without a deadline too.
func TestDatabaseOutageAndFreeze(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewMulti(t, stacktest.Migrations(built))
	cc := pool.Config().ConnConfig
	target := cc.Host + ":" + strconv.Itoa(int(cc.Port))
	proxy, err := faultproxy.New(target)
	require.NoError(t, err)
	t.Cleanup(func() { proxy.Close() })
	dir := t.TempDir()
	keyPath := filepath.Join(dir, "dev-key.pem")
	key, err := auth.LoadOrCreateDevKey(keyPath)
	require.NoError(t, err)
	limits := server.DefaultLimits
	limits.Timeout, limits.PublicTimeout = 3*time.Second, 2*time.Second
	rg, rh := stacktest.Listen(t), stacktest.Listen(t)
	proc := runServe(t, &config{target: "all", databaseURL: strings.Replace(pool.Config().ConnString(), target, proxy.Addr(), 1),
		devKey: keyPath, dataKey: filepath.Join(dir, "data-key"), limits: limits}, &listeners{grpc: rg, http: rh})
	require.NoError(t, waitServing(context.Background(), rg.Addr().String(), proc.done))
	d := &deployment{url: "http://" + rh.Addr().String(), key: key, registry: rg.Addr().String(), http: &http.Client{Timeout: 20 * time.Second}}
	d.load(t, "jeongeup-library.yaml")
	auditor := d.token(t, auth.RoleAuditor, "tenants/jeongeup")
	conn, err := grpc.NewClient(rg.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	registry := registryv1.NewRegistryServiceClient(conn)
	health := healthpb.NewHealthClient(conn)
	serving := func() healthpb.HealthCheckResponse_ServingStatus {
		r, err := health.Check(context.Background(), &healthpb.HealthCheckRequest{Service: registryv1.RegistryService_ServiceDesc.ServiceName})
		require.NoError(t, err)
		return r.GetStatus()
	}
	units := "/v1/tenants/jeongeup/units"
	code, _ := d.call(t, http.MethodGet, units, auditor, nil)
	require.Equal(t, http.StatusOK, code)

	proxy.Down()
	req, err := http.NewRequest(http.MethodGet, d.url+units, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+auditor)
	resp, err := d.http.Do(req)
	require.NoError(t, err)
	b := stacktest.Body(t, resp)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, b)
	require.Equal(t, "2", resp.Header.Get("Retry-After"))
	require.Contains(t, b, `"reason":"DATABASE_UNAVAILABLE"`)
	_, err = registry.GetTenant(unitauth.WithToken(context.Background(), auditor), &registryv1.GetTenantRequest{Name: "tenants/jeongeup"})
	require.Equal(t, codes.Unavailable, status.Code(err), "%v", err)
	require.Eventually(t, func() bool { return serving() == healthpb.HealthCheckResponse_NOT_SERVING },
		10*time.Second, 100*time.Millisecond, "gRPC health reports the outage")
	code, _ = d.call(t, http.MethodGet, "/healthz", "", nil)
	require.Equal(t, http.StatusServiceUnavailable, code)

	proxy.Resume()
	require.Eventually(t, func() bool { return serving() == healthpb.HealthCheckResponse_SERVING },
		10*time.Second, 100*time.Millisecond, "and that it is over")
	code, _ = d.call(t, http.MethodGet, units, auditor, nil)
	require.Equal(t, http.StatusOK, code)

	// Frozen: nothing answers, and nothing hangs past its deadline.
	proxy.Freeze()
	t.Cleanup(proxy.Resume)
	start := time.Now()
	code, b = d.call(t, http.MethodGet, units, auditor, nil)
	took := time.Since(start)
	require.Contains(t, []int{http.StatusGatewayTimeout, http.StatusServiceUnavailable}, code, b)
	require.Less(t, took, limits.Timeout+2*time.Second, "answered within the staff deadline")
	t.Logf("frozen database: HTTP %d after %s (deadline %s)", code, took.Round(time.Millisecond), limits.Timeout)
	start = time.Now()
	_, err = registry.GetTenant(unitauth.WithToken(context.Background(), auditor), &registryv1.GetTenantRequest{Name: "tenants/jeongeup"})
	require.Contains(t, []codes.Code{codes.DeadlineExceeded, codes.Unavailable}, status.Code(err), "%v", err)
	require.Less(t, time.Since(start), limits.Timeout+2*time.Second, "a gRPC call without a deadline gets the server's")
}

// zeros is n bytes of '0' made as they are read: a huge body that costs its sender nothing.
type zeros struct{ n int64 }

func (z *zeros) Read(p []byte) (int, error) {
	if z.n <= 0 {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), z.n))
	for i := range p[:n] {
		p[i] = '0'
	}
	z.n -= int64(n)
	return n, nil
}

// Every route refuses a body over its limit with 413 naming the limit: at once when the request
// declares its length, after the limit when it is chunked. 128 MiB bodies in a loop to the
// public intake leave the heap as it was.
func TestBodyLimits(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	staff := s.Token(auth.RoleTenantAdmin, auth.ScopeAll)
	post := func(path string, n int64, chunked bool) (int, string) {
		var body io.Reader = &zeros{n: n}
		if chunked {
			body = io.MultiReader(body) // hides the length: sent chunked
		}
		req, err := http.NewRequest(http.MethodPost, s.URL+path, body)
		require.NoError(t, err)
		if !chunked {
			req.ContentLength = n
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+staff)
		resp, err := http.DefaultClient.Do(req)
		if err != nil { // the server stopped reading: the client may see its write fail first
			return 0, err.Error()
		}
		return resp.StatusCode, stacktest.Body(t, resp)
	}
	intake := "/v1/public/tenants/jeongeup/units/library/requests"
	const huge = 128 << 20
	for _, c := range []struct {
		path  string
		n     int64
		limit int64
	}{
		{intake, huge, server.DefaultLimits.PublicBody},
		{intake, server.DefaultLimits.PublicBody + 1, server.DefaultLimits.PublicBody},
		{"/v1/tenants/jeongeup/units", 2 << 20, server.DefaultLimits.Body},
		{"/v1/tenants/jeongeup/units/library/policies/cctv/versions:import", 17 << 20, server.DefaultLimits.ImportBody},
	} {
		for _, chunked := range []bool{false, true} {
			code, b := post(c.path, c.n, chunked)
			if code == 0 && chunked {
				continue
			}
			require.Equal(t, http.StatusRequestEntityTooLarge, code, "%s %d chunked=%v: %s", c.path, c.n, chunked, b)
			require.Contains(t, b, `"reason":"BODY_TOO_LARGE"`)
			require.Contains(t, b, `"limit":"`+strconv.FormatInt(c.limit, 10)+`"`)
		}
	}
	code, b := post("/v1/tenants/jeongeup/units/library/policies/cctv/versions:import", 2<<20, false)
	require.NotEqual(t, http.StatusRequestEntityTooLarge, code, "an import takes more than a staff call: %s", b)

	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapInuse
	}
	before := heap()
	for i := range 20 {
		code, b := post(intake, huge, i%2 == 1)
		require.Contains(t, []int{0, http.StatusRequestEntityTooLarge}, code, b)
	}
	after := heap()
	t.Logf("HeapInuse before 20 bodies of 128 MiB: %.1f MiB, after: %.1f MiB", float64(before)/(1<<20), float64(after)/(1<<20))
	require.Less(t, int64(after)-int64(before), int64(16<<20), "the bodies were not read into memory")
}
