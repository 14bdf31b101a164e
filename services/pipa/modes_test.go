package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/pipa-kr/pipa/pkg/auth"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/pkg/pgtest"
	"github.com/pipa-kr/pipa/pkg/stacktest"
	"github.com/pipa-kr/pipa/pkg/unitauth"
	"github.com/pipa-kr/pipa/services/registry/registrytest"
	"github.com/pipa-kr/pipa/services/registry/tenantfile"
)

// These tests need PostgreSQL (DATABASE_URL) and run pipa in-process through serve, as the binary
// does: microservices mode (-target=registry and -target=gateway as two servers) and the public
// rate limit of -target=all.

// process is one serve call running on loopback listeners.
type process struct {
	stop func()
	done chan error
}

// runServe starts serve(c) and stops it at the end of the test if it has not been stopped before.
func runServe(t *testing.T, c *config, ls *listeners) *process {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	p := &process{stop: cancel, done: make(chan error, 1)}
	go func() { p.done <- serve(ctx, c, ls) }()
	t.Cleanup(func() { p.wait(t) })
	return p
}

// wait stops the process and waits for serve to return.
func (p *process) wait(t *testing.T) {
	p.stop()
	select {
	case err, ok := <-p.done:
		if ok && err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("serve: %v", err)
		}
		if ok {
			close(p.done)
		}
	case <-time.After(30 * time.Second):
		t.Errorf("serve did not stop")
	}
}

// In microservices mode the registry runs alone with its database and the gateway, which has
// none, serves the REST API, the public pages and the health of the registry behind it.
func TestMicroservicesMode(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewMulti(t, stacktest.Migrations(built))
	keyPath := filepath.Join(t.TempDir(), "dev-key.pem")
	key, err := auth.LoadOrCreateDevKey(keyPath)
	require.NoError(t, err)

	// -target=registry
	rg, rh := stacktest.Listen(t), stacktest.Listen(t)
	registry := runServe(t, &config{target: "registry", databaseURL: pool.Config().ConnString(), devKey: keyPath}, &listeners{grpc: rg, http: rh})
	require.NoError(t, waitServing(context.Background(), rg.Addr().String(), registry.done))

	// -target=gateway: no database, no token verifier, only the registry's address.
	gh := stacktest.Listen(t)
	runServe(t, &config{target: "gateway", registryAddr: rg.Addr().String()}, &listeners{http: gh})
	gw := "http://" + gh.Addr().String()
	hc := &http.Client{Timeout: 10 * time.Second}
	get := func(path, token string) (int, string) {
		req, err := http.NewRequest(http.MethodGet, gw+path, nil)
		require.NoError(t, err)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		r, err := hc.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		return r.StatusCode, stacktest.Body(t, r)
	}
	require.Eventually(t, func() bool { code, _ := get("/healthz", ""); return code == http.StatusOK },
		10*time.Second, 20*time.Millisecond, "the gateway reports the registry serving")

	// A seed loaded through the registry's own gRPC.
	conn, err := grpc.NewClient(rg.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	tok, err := auth.Mint(key, auth.Principal{Subject: "test", Grants: []auth.Grant{{Role: auth.RoleTenantAdmin, Scope: auth.ScopeAll}}}, time.Hour)
	require.NoError(t, err)
	f, err := tenantfile.Load(registrytest.Example(t, "jeongeup-library.yaml"))
	require.NoError(t, err)
	require.NoError(t, tenantfile.Import(unitauth.WithToken(context.Background(), tok), registryv1.NewRegistryServiceClient(conn), f, time.Now()))

	// The REST API through the gateway: the token is checked by the registry, not the gateway.
	reader, err := auth.Mint(key, auth.Principal{Subject: "auditor", Grants: []auth.Grant{{Role: auth.RoleAuditor, Scope: "tenants/jeongeup"}}}, time.Hour)
	require.NoError(t, err)
	code, b := get("/v1/tenants/jeongeup/units", reader)
	require.Equal(t, http.StatusOK, code, b)
	require.Contains(t, b, `"name":"tenants/jeongeup/units/library"`)
	require.Contains(t, b, "정읍시립도서관")
	code, b = get("/v1/tenants/jeongeup/units", "")
	require.Equal(t, http.StatusUnauthorized, code, b)

	// The public page (DEC-25-1: the CCTV policy is published) through the gateway.
	code, b = get("/p/jeongeup/library/cctv", "")
	require.Equal(t, http.StatusOK, code, b)
	for _, fact := range []string{"송현숙", "063-539-5049", "중앙도서관 2층 전산실", "2021. 12. 06. ~ 2024. 01. 15."} {
		require.Contains(t, b, fact)
	}
	code, b = get("/v1/public/tenants/jeongeup/units/library/policies/cctv", "")
	require.Equal(t, http.StatusOK, code, b)

	// /healthz of the gateway is the registry's health: stop the registry and it says so.
	registry.wait(t)
	require.Eventually(t, func() bool { code, _ := get("/healthz", ""); return code == http.StatusServiceUnavailable },
		10*time.Second, 20*time.Millisecond, "the gateway reports the registry gone")
	// Pages are micro-cached for a moment; then the page says the policy cannot be shown now.
	require.Eventually(t, func() bool {
		code, _ := get("/p/jeongeup/library/cctv", "")
		return code == http.StatusServiceUnavailable
	},
		10*time.Second, 50*time.Millisecond)
}

// The public endpoints are rate-limited per client (ARCHITECTURE "Identity and tenancy"): with
// 1 request a second in bursts of 2, the third quick request for a public page is refused with
// 429 and Retry-After, while authenticated API calls go on unlimited.
func TestPublicRateLimit(t *testing.T) {
	t.Parallel()
	// One token every 5 s: slow enough that a loaded machine's slow calls do not refill the bucket
	// between the steps below.
	s := startStack(t, withSettings(t, &config{publicRate: 0.2, publicBurst: 2}))
	s.Load("jeongeup-library.yaml")
	tok := s.Token(auth.RoleAuditor, "tenants/jeongeup")
	api := func() int {
		req, err := http.NewRequest(http.MethodGet, s.URL+"/v1/tenants/jeongeup/units", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+tok)
		r, err := s.HTTP.Do(req)
		require.NoError(t, err)
		stacktest.Body(t, r)
		return r.StatusCode
	}

	var codes []int
	var last *http.Response
	for range 3 {
		last = s.Get("/p/jeongeup/library/cctv")
		stacktest.Body(t, last)
		codes = append(codes, last.StatusCode)
	}
	require.Equal(t, []int{http.StatusOK, http.StatusOK, http.StatusTooManyRequests}, codes,
		"a burst of 2 serves two pages and refuses the third")
	wait, err := strconv.Atoi(last.Header.Get("Retry-After"))
	require.NoError(t, err, "Retry-After is whole seconds")
	require.GreaterOrEqual(t, wait, 1)

	// While the client is limited on public paths, its authenticated API calls are not.
	for range 10 {
		require.Equal(t, http.StatusOK, api())
	}
	for range 10 {
		_, err := s.Registry.GetUnit(s.As(auth.RoleAuditor, "tenants/jeongeup"), &registryv1.GetUnitRequest{Name: "tenants/jeongeup/units/library"})
		require.NoError(t, err)
	}
	r := s.Get("/p/jeongeup/library/cctv")
	stacktest.Body(t, r)
	require.Equal(t, http.StatusTooManyRequests, r.StatusCode, "still limited")

	// The bucket refills at one every 5 s.
	require.Eventually(t, func() bool {
		r := s.Get("/p/jeongeup/library/cctv")
		stacktest.Body(t, r)
		return r.StatusCode == http.StatusOK
	}, 15*time.Second, 250*time.Millisecond)
}

// clientFrom is an HTTP client whose connections come from the loopback address ip, so that a test
// can be several clients.
func clientFrom(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: d.DialContext}}
}

// The limit is per client at every layer: one client using up its own allowance must not get
// another client refused. The in-process gateway (127.0.0.1) is the trusted proxy, as the
// default PIPA_TRUSTED_PROXIES makes it; clients A (127.0.0.2) and B (127.0.0.3) are not. A
// spends its allowance on pages that do not exist (404s are not cached), then B asks for a page
// for the first time.
func TestPublicRateLimitIsPerClient(t *testing.T) {
	t.Parallel()
	s := startStack(t, withSettings(t, &config{publicRate: 0.2, publicBurst: 2, trusted: "127.0.0.1/32"}))
	s.Load("jeongeup-library.yaml")
	a, b := clientFrom("127.0.0.2"), clientFrom("127.0.0.3")
	get := func(c *http.Client, path string) (int, string) {
		r, err := c.Get(s.URL + path)
		require.NoError(t, err)
		return r.StatusCode, stacktest.Body(t, r)
	}
	for i := 0; ; i++ {
		code, _ := get(a, fmt.Sprintf("/p/nowhere-%d/x/cctv", i))
		if code == http.StatusTooManyRequests {
			break
		}
		require.Equal(t, http.StatusNotFound, code)
		require.Less(t, i, 2, "A has a burst of 2")
	}

	// B's JSON twin goes through grpc-gateway, which forwards B's address.
	code, page := get(b, "/v1/public/tenants/jeongeup/units/library/policies/cctv")
	require.Equal(t, http.StatusOK, code, page)
	// B's first HTML page must not be refused for what A did.
	code, page = get(b, "/p/jeongeup/library/cctv")
	require.Equal(t, http.StatusOK, code, "B was limited by A's requests: %s", page)
}
