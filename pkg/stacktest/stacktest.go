// Package stacktest runs the pipa services a test needs — real gRPC on a loopback port, the REST
// gateway over them on another, over a fresh PostgreSQL database of their own (pkg/pgtest) — with
// a development key to mint tokens. Each service module's tests start its own module and the
// modules it needs (pkg/modules), so that a service's behaviour is tested where its code is:
//
//	s := stacktest.Start(t, []modules.Module{registry.Module, ledger.Module})
//
// The services are started by modules.Run, the function the pipa binary serves with.
package stacktest

import (
	"context"
	"crypto/ed25519"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/pipa-kr/pipa/pkg/accesslog"
	"github.com/pipa-kr/pipa/pkg/auth"
	"github.com/pipa-kr/pipa/pkg/modules"
	"github.com/pipa-kr/pipa/pkg/pgtest"
	"github.com/pipa-kr/pipa/pkg/seal"
	"github.com/pipa-kr/pipa/pkg/unitauth"
)

// Stack is running services as their clients reach them.
type Stack struct {
	t testing.TB
	// Key signs the tokens the services accept.
	Key ed25519.PrivateKey
	// Addr is the services' gRPC address, and Conn a client connection to it.
	Addr string
	Conn *grpc.ClientConn
	// URL is the REST gateway's base URL (http://host:port), and HTTP a client for it.
	URL  string
	HTTP *http.Client
	// DatabaseURL is the services' database.
	DatabaseURL string
	// Box is their data key, for tests that reach behind the API as an operator could.
	Box func() (*seal.Box, error)
	// db opens the stack's one pool on first use (DB).
	db func() (*pgxpool.Pool, error)
}

// Option changes the process configuration before the services start.
type Option func(*modules.Config)

// WithClock sets the retention service's clock.
func WithClock(now func() time.Time) Option { return func(c *modules.Config) { c.Now = now } }

// WithLedgerOrigin sets the host of the ledgers' origin lines.
func WithLedgerOrigin(host string) Option { return func(c *modules.Config) { c.LedgerOrigin = host } }

// Migrations are the schemas of ms with their job queues, and the access log's spool, as
// pgtest builds its templates (modules.Migrate).
func Migrations(ms []modules.Module) []pgtest.Migration {
	out := []pgtest.Migration{{Schema: accesslog.Schema, FS: accesslog.Migrations}}
	for _, m := range ms {
		out = append(out, pgtest.Migration{Schema: m.Schema, FS: m.Migrations, Jobs: m.Jobs, Outbox: m.Outbox, Outbound: m.Outbound})
	}
	return out
}

// Start runs ms and the REST gateway over them until the test ends, and waits until every one of
// them is serving. Their database is already migrated; the access log and the public rate limits
// are off unless an option turns them on.
func Start(t testing.TB, ms []modules.Module, opts ...Option) *Stack {
	t.Helper()
	pool := pgtest.NewMulti(t, Migrations(ms))
	dir := t.TempDir()
	keyPath := filepath.Join(dir, "dev-key.pem")
	key, err := auth.LoadOrCreateDevKey(keyPath)
	require.NoError(t, err)
	verifier := auth.Cached(auth.NewDevVerifier(key.Public().(ed25519.PublicKey)), 10000, nil)
	gl, hl := Listen(t), Listen(t)
	c := modules.Config{
		GRPC: gl, HTTP: hl, DatabaseURL: pool.Config().ConnString(),
		Verifier: func(context.Context) (auth.Verifier, error) { return verifier, nil },
		Box:      func() (*seal.Box, error) { return seal.LoadOrCreateDevKey(filepath.Join(dir, "data-key")) },
		Token:    auth.DevServiceToken(key, 10*time.Minute),
	}
	for _, o := range opts {
		o(&c)
	}
	s := &Stack{t: t, Key: key, Addr: gl.Addr().String(), URL: "http://" + hl.Addr().String(),
		DatabaseURL: c.DatabaseURL, HTTP: &http.Client{Timeout: 20 * time.Second}, Box: c.Box}
	s.db = sync.OnceValues(func() (*pgxpool.Pool, error) {
		pool, err := pgxpool.New(context.Background(), s.DatabaseURL)
		if err == nil {
			t.Cleanup(pool.Close)
		}
		return pool, err
	})
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- modules.Run(ctx, c, ms, "all") }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-stopped:
			if err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("the services did not stop")
		}
	})
	conn, err := grpc.NewClient(s.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	s.Conn = conn
	for _, m := range ms {
		require.NoError(t, WaitServing(ctx, conn, m.Service, stopped), m.Name)
	}
	return s
}

// WaitServing waits until gRPC health on conn answers SERVING for service ("" for the server), or
// the server stopped (done).
func WaitServing(ctx context.Context, conn *grpc.ClientConn, service string, done <-chan error) error {
	hc := healthpb.NewHealthClient(conn)
	for {
		r, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: service})
		if err == nil && r.GetStatus() == healthpb.HealthCheckResponse_SERVING {
			return nil
		}
		select {
		case err := <-done:
			return errors.Join(errors.New("server stopped"), err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Listen is a listener on a free loopback port, closed when the test ends.
func Listen(t testing.TB) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() }) // a server closes its own before; this one may not have started
	return l
}

// Accepting is a listener that keeps the remote address of every connection it accepts: which
// clients connected to a process's listener (one of its own services, say).
type Accepting struct {
	net.Listener
	mu   sync.Mutex
	from []string
}

func (l *Accepting) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.mu.Lock()
		l.from = append(l.from, c.RemoteAddr().String())
		l.mu.Unlock()
	}
	return c, err
}

// Accepted are the remote addresses of the connections accepted so far.
func (l *Accepting) Accepted() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.from)
}

// WithAccepting serves the services' gRPC on l, over the listener Start made.
func WithAccepting(l *Accepting) Option {
	return func(c *modules.Config) { l.Listener, c.GRPC = c.GRPC, l }
}

// T is the test the stack belongs to.
func (s *Stack) T() testing.TB { return s.t }

// Token mints a token holding role on scope.
func (s *Stack) Token(role auth.Role, scope string) string {
	tok, err := auth.Mint(s.Key, auth.Principal{Subject: "test-" + string(role), Grants: []auth.Grant{{Role: role, Scope: scope}}}, time.Hour)
	require.NoError(s.t, err)
	return tok
}

// As is a context calling with role on scope.
func (s *Stack) As(role auth.Role, scope string) context.Context {
	return unitauth.WithToken(context.Background(), s.Token(role, scope))
}

// Admin is a context calling as tenant_admin of every tenant.
func (s *Stack) Admin() context.Context { return s.As(auth.RoleTenantAdmin, auth.ScopeAll) }

// Get performs an HTTP GET on the gateway with optional headers (name, value pairs).
func (s *Stack) Get(path string, headers ...string) *http.Response {
	s.t.Helper()
	return Do(s.t, s.HTTP, http.MethodGet, s.URL+path, nil, headers...)
}

// Do performs an HTTP request on the gateway with a body (nil for none) and optional headers
// (name, value pairs).
func (s *Stack) Do(method, path string, body io.Reader, headers ...string) *http.Response {
	s.t.Helper()
	return Do(s.t, s.HTTP, method, s.URL+path, body, headers...)
}

// Do performs an HTTP request with c on url, with a body (nil for none) and optional headers
// (name, value pairs), for servers a Stack does not run.
func Do(t testing.TB, c *http.Client, method, url string, body io.Reader, headers ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	require.NoError(t, err)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.Do(req)
	require.NoError(t, err)
	return resp
}

// DB is the stack's pool on the services' database, for what only SQL shows (River's tables, an
// operator's tampering): one pool however often it is asked for, closed when the test ends.
func (s *Stack) DB() *pgxpool.Pool {
	pool, err := s.db()
	require.NoError(s.t, err)
	return pool
}

// Body reads and closes an HTTP response's body.
func Body(t testing.TB, r *http.Response) string {
	t.Helper()
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	require.NoError(t, err)
	return string(b)
}

// Details are the BadRequest field violations and the ErrorInfo reason of a gRPC error.
func Details(err error) ([]*errdetails.BadRequest_FieldViolation, string) {
	st, _ := status.FromError(err)
	var vs []*errdetails.BadRequest_FieldViolation
	reason := ""
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.BadRequest:
			vs = append(vs, d.GetFieldViolations()...)
		case *errdetails.ErrorInfo:
			reason = d.GetReason()
		}
	}
	return vs, reason
}

// Reason is the code of a gRPC error and its ErrorInfo reason.
func Reason(err error) (codes.Code, string) {
	_, reason := Details(err)
	return status.Code(err), reason
}

// Violation is the first field violation of a gRPC error, which must have one.
func Violation(t testing.TB, err error) *errdetails.BadRequest_FieldViolation {
	t.Helper()
	require.Error(t, err)
	st, _ := status.FromError(err)
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok && len(br.GetFieldViolations()) > 0 {
			return br.GetFieldViolations()[0]
		}
	}
	t.Fatalf("no field violation in %v", err)
	return nil
}
