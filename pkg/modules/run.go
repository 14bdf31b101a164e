package modules

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"sync"
	"time"

	"github.com/exaring/otelpgx"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/pipa-kr/pipa/pkg/accesslog"
	"github.com/pipa-kr/pipa/pkg/auth"
	"github.com/pipa-kr/pipa/pkg/cors"
	"github.com/pipa-kr/pipa/pkg/gen/openapi"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	"github.com/pipa-kr/pipa/pkg/idempotency"
	"github.com/pipa-kr/pipa/pkg/jobs"
	"github.com/pipa-kr/pipa/pkg/ledgerout"
	"github.com/pipa-kr/pipa/pkg/outbound"
	"github.com/pipa-kr/pipa/pkg/pgdb"
	"github.com/pipa-kr/pipa/pkg/ratelimit"
	"github.com/pipa-kr/pipa/pkg/rolegrant"
	"github.com/pipa-kr/pipa/pkg/seal"
	"github.com/pipa-kr/pipa/pkg/server"
	"github.com/pipa-kr/pipa/pkg/telemetry"
)

// Config is what a process is given: its listeners, where the services it does not run are, and
// the settings it serves with.
type Config struct {
	// GRPC serves the modules run here; nil when none is. HTTP serves the REST edge or the
	// modules' own mappings, the pages and /healthz; /metrics too unless Metrics, a listener of
	// its own, is set.
	GRPC, HTTP, Metrics net.Listener
	// Addrs are the services' configured gRPC addresses by module name.
	Addrs map[string]string
	// DatabaseURL is the PostgreSQL of the modules run here.
	DatabaseURL string
	// Migrate applies their migrations before serving.
	Migrate bool
	// Verifier checks bearer tokens; called only when modules run here.
	Verifier func(context.Context) (auth.Verifier, error)
	// Box is the data key (Deps.Box).
	Box func() (*seal.Box, error)
	// Token is the service credential; nil when there is none.
	Token func() (string, error)
	// AccessLog records reads of personal data as ACCESS entries of the units' ledgers (S-2-3).
	AccessLog bool
	// RoleGrants records the role sets that tokens present, as they change, in the ledger's
	// role-grant history (S-5, pkg/rolegrant).
	RoleGrants bool
	// AccessLogBuffer bounds the reads whose records wait to be stored (accesslog.Options.Buffer);
	// 0 is the recorder's default. Tests make it small to fill it.
	AccessLogBuffer int
	// Pprof serves net/http/pprof at /debug/pprof/ on the Metrics listener (an operator's port,
	// never the public one).
	Pprof bool
	// Trusted are the proxies whose X-Forwarded-For names the client.
	Trusted []netip.Prefix
	// HTTPLimiter and GRPCLimiter rate-limit public endpoints per client; nil disables.
	HTTPLimiter, GRPCLimiter *ratelimit.Limiter
	// Origins are the frontend origins allowed by CORS.
	Origins []string
	// Spans also receive every span of the process (tests).
	Spans sdktrace.SpanProcessor
	// Limits are the requests' deadlines and body limits; zero is server.DefaultLimits.
	Limits server.Limits
	Settings
}

// shutdownGrace is how long in-flight calls, background work and the access log get to finish.
const shutdownGrace = 10 * time.Second

// Run serves target (see Targets) until ctx ends: the modules run here on c.GRPC in dependency
// order, each reported SERVING by gRPC health under its full service name, and the REST edge on
// c.HTTP.
func Run(ctx context.Context, c Config, built []Module, target string) error {
	run, edge, err := Targets(built, target)
	if err != nil {
		return err
	}
	if c.Limits == (server.Limits{}) {
		c.Limits = server.DefaultLimits
	}
	p := &process{c: c, addrs: map[string]string{}, conns: map[string]*grpc.ClientConn{},
		local: server.NewLocal(), here: map[string]bool{}}
	for name, a := range c.Addrs {
		p.addrs[name] = a
	}
	// The services run here are at this process's own address for other processes, and reached
	// in-process from this one (conn).
	for _, m := range run {
		p.addrs[m.Name] = Dialable(c.GRPC.Addr())
		p.here[m.Name] = true
	}
	if err := Check(run, p.addrs); err != nil {
		return err
	}
	var spans []sdktrace.SpanProcessor
	if c.Spans != nil {
		spans = append(spans, c.Spans)
	}
	tel, err := telemetry.Setup(ctx, "pipa-"+target, spans...)
	if err != nil {
		return err
	}
	defer func() { _ = tel.Shutdown(context.Background()) }()
	p.tracer = tel.Tracer
	defer p.close()

	d := Deps{Box: c.Box, Conn: p.conn, Token: c.Token, Settings: c.Settings}
	var listeners []server.Listener
	serveCtx, healthy := ctx, func() bool { return true }
	if len(run) > 0 {
		g, stopCtx, pool, err := p.services(ctx, run, &d)
		if err != nil {
			return err
		}
		serveCtx = stopCtx
		healthy = func() bool {
			ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			return pool.Ping(ctx) == nil
		}
		listeners = append(listeners, server.Listener{Name: "grpc", Lis: c.GRPC, GRPC: g})
	}

	mounted := run
	if edge {
		if mounted, err = p.reachable(built); err != nil {
			return err
		}
	}
	h, err := p.http(ctx, mounted, d)
	if err != nil {
		return err
	}
	if len(run) == 0 { // a lone gateway is healthy when the services behind it are
		healthy = p.behind(ctx, mounted)
	}
	metrics := tel.Metrics
	if c.Metrics != nil {
		// Per-tenant figures are for the operators' Prometheus, not for the public listener.
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", tel.Metrics)
		if c.Pprof {
			mux.HandleFunc("/debug/pprof/", pprof.Index)
			mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		}
		nosniff := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Content-Type-Options", "nosniff")
			mux.ServeHTTP(w, r)
		})
		listeners = append(listeners, server.Listener{Name: "metrics", Lis: c.Metrics, HTTP: httpServer(nosniff, time.Minute)})
		metrics = nil
	}
	handler := server.Handler(server.HTTPOptions{
		Gateway: h.mux, Pages: h.pages, Metrics: metrics, Health: healthy,
		Origins: c.Origins, PublicLimiter: c.HTTPLimiter, Tracer: tel.Tracer, Limits: c.Limits,
	}, cors.Handler)
	listeners = append(listeners, server.Listener{Name: "http", Lis: c.HTTP,
		HTTP: httpServer(handler, max(c.Limits.Timeout, c.Limits.PublicTimeout, c.Limits.PrintTimeout))})

	slog.Info("pipa serving", "target", target, "http", c.HTTP.Addr().String(), "grpc", addrOf(c.GRPC), "metrics", addrOf(c.Metrics))
	return server.Serve(serveCtx, 20*time.Second, listeners...)
}

// httpServer serves h with every phase of a connection bounded: its headers in 10 seconds, a
// request and its answer within the request deadline and half a minute (a slow body is cut
// off), an idle keep-alive connection closed after a minute.
func httpServer(h http.Handler, timeout time.Duration) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: timeout + 30*time.Second,
		WriteTimeout: timeout + 30*time.Second, IdleTimeout: time.Minute}
}

// process is the state of one Run: the services' addresses and the connections to them, and what
// to undo when it stops, last first.
type process struct {
	c     Config
	addrs map[string]string
	mu    sync.Mutex
	conns map[string]*grpc.ClientConn
	undo  []func()
	// tracer traces the process's calls and queries.
	tracer trace.TracerProvider
	// local reaches the modules run here (here) in-process: the edge's and the services'
	// connection to them.
	local *server.Local
	here  map[string]bool
}

func (p *process) close() {
	for i := len(p.undo) - 1; i >= 0; i-- {
		p.undo[i]()
	}
	for _, cc := range p.conns {
		cc.Close()
	}
}

// conn is Deps.Conn: the in-process channel for a service run here, else one client connection
// per service, made on first use.
func (p *process) conn(name string) (grpc.ClientConnInterface, error) {
	if p.here[name] {
		return p.local, nil
	}
	return p.dial(name)
}

// dial is a gRPC client connection to the service name at its address, made on first use.
func (p *process) dial(name string) (*grpc.ClientConn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if cc := p.conns[name]; cc != nil {
		return cc, nil
	}
	if p.addrs[name] == "" {
		return nil, fmt.Errorf("the %s service's address is not set: set %s", name, AddrSetting(name))
	}
	cc, err := grpc.NewClient(p.addrs[name],
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithStatsHandler(otelgrpc.NewClientHandler(otelgrpc.WithTracerProvider(p.tracer))))
	if err != nil {
		return nil, err
	}
	p.conns[name] = cc
	return cc, nil
}

// services opens the database and builds the gRPC server of the modules run here. It returns the
// context that stops serving: later than ctx when the access log must flush first.
func (p *process) services(ctx context.Context, run []Module, d *Deps) (*grpc.Server, context.Context, *pgxpool.Pool, error) {
	if p.c.DatabaseURL == "" {
		return nil, nil, nil, errors.New("no database: set DATABASE_URL (or run `make run`, which provisions one under .data/)")
	}
	pool, err := pgdb.Open(ctx, p.c.DatabaseURL, otelpgx.WithTracerProvider(p.tracer))
	if err != nil {
		return nil, nil, nil, err
	}
	p.undo = append(p.undo, pool.Close)
	// The pool's connections, acquires and waits as pgxpool_* metrics (the database dashboard).
	if err := otelpgx.RecordStats(pool); err != nil {
		return nil, nil, nil, err
	}
	if p.c.Migrate {
		if err := Migrate(ctx, pool, run); err != nil {
			return nil, nil, nil, err
		}
	}
	verifier, err := p.c.Verifier(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	public := map[string]bool{}
	rules := accesslog.Rules{}
	for _, m := range run {
		for name := range m.Public {
			public[name] = true
		}
		rules = accesslog.Merge(rules, m.Access)
		for want, waits := range m.Wants {
			if p.addrs[want] == "" {
				slog.Warn(m.Name+": no "+want+" service: "+waits, "set", AddrSetting(want))
			}
		}
	}
	go purgeIdempotency(ctx, pool, run)

	serveCtx := ctx
	var extra []grpc.UnaryServerInterceptor
	grants, err := p.grantTracker()
	if err != nil {
		return nil, nil, nil, err
	}
	if grants != nil {
		extra = append(extra, grants.Interceptor())
	}
	rec, err := p.accessRecorder(pool)
	if err != nil {
		return nil, nil, nil, err
	}
	if rec != nil {
		// On shutdown the queued access records are appended first, while this process's own
		// ledger still serves, and only then do the servers stop.
		sctx, stopServing := context.WithCancel(context.WithoutCancel(ctx))
		closeRec := sync.OnceFunc(func() {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
			defer cancel()
			if err := rec.Close(cctx); err != nil {
				slog.Error("access log: records left unflushed at shutdown", "err", err)
			}
			stopServing()
		})
		stop := context.AfterFunc(ctx, closeRec)
		p.undo = append(p.undo, closeRec, func() { stop() })
		serveCtx = sctx
		extra = append(extra, rec.Interceptor(rules))
	}
	hs := health.NewServer()
	opts := server.GRPCOptions{
		Verifier:      verifier,
		Public:        func(m string) bool { return public[m] },
		PublicLimiter: p.c.GRPCLimiter,
		Unary:         extra,
		Tracer:        p.tracer,
		Health:        hs,
		Timeout:       max(p.c.Limits.Timeout, p.c.Limits.PublicTimeout),
		MaxMessage:    int(p.c.Limits.ImportBody) + 1<<20,
	}
	g := server.NewGRPC(opts)
	local := server.InProcess(opts)
	d.Pool = pool
	d.Run = func(start, stop func(context.Context) error) error {
		if err := start(context.WithoutCancel(ctx)); err != nil {
			return err
		}
		p.undo = append(p.undo, func() { // before the pool closes
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
			defer cancel()
			if err := stop(sctx); err != nil {
				slog.Error("stopping background work", "err", err)
			}
		})
		return nil
	}
	services := &served{ServiceRegistrar: server.Registrar{g, local}, names: []string{""}}
	for _, m := range run {
		if err := m.Register(services, *d); err != nil {
			return nil, nil, nil, fmt.Errorf("%s: %w", m.Name, err)
		}
	}
	p.local.Open(local)
	for _, s := range services.names {
		hs.SetServingStatus(s, healthpb.HealthCheckResponse_SERVING)
	}
	go watchDatabase(ctx, pool, hs, services.names, databaseWatch)
	return g, serveCtx, pool, nil
}

// accessRecorder is the access log's recorder when it is on and the ledger's address is known,
// or nil.
func (p *process) accessRecorder(pool *pgxpool.Pool) (*accesslog.Recorder, error) {
	if !p.c.AccessLog {
		return nil, nil
	}
	if p.addrs["ledger"] == "" {
		slog.Error("access log disabled: the ledger's address is not set, so reads of personal data are not recorded (S-2-3): set " + AddrSetting("ledger"))
		return nil, nil
	}
	if p.c.Token == nil {
		slog.Error("access log disabled: no service credential to append ACCESS entries (S-2-3): set PIPA_SERVICE_TOKEN_FILE")
		return nil, nil
	}
	cc, err := p.conn("ledger")
	if err != nil {
		return nil, err
	}
	return accesslog.NewRecorder(accesslog.Options{Pool: pool, Ledger: ledgerv1.NewLedgerServiceClient(cc), Token: p.c.Token,
		Trusted: p.c.Trusted, Buffer: p.c.AccessLogBuffer}), nil
}

// grantTracker is the role-grant recorder when it is on and the ledger's address is known, or nil.
func (p *process) grantTracker() (*rolegrant.Tracker, error) {
	if !p.c.RoleGrants {
		return nil, nil
	}
	if p.addrs["ledger"] == "" || p.c.Token == nil {
		slog.Error("role-grant history disabled: the roles tokens present are not recorded (S-5): set " + AddrSetting("ledger") + " and PIPA_SERVICE_TOKEN_FILE")
		return nil, nil
	}
	cc, err := p.conn("ledger")
	if err != nil {
		return nil, err
	}
	return rolegrant.New(rolegrant.Options{Ledger: ledgerv1.NewRoleGrantServiceClient(cc), Token: p.c.Token}), nil
}

// reachable are the modules the REST edge serves: those with an address.
func (p *process) reachable(built []Module) ([]Module, error) {
	var out []Module
	for _, m := range built {
		if p.addrs[m.Name] != "" {
			out = append(out, m)
		} else {
			slog.Warn("gateway: no address for a service, its API is not served", "service", m.Name, "set", AddrSetting(m.Name))
		}
	}
	if len(out) == 0 {
		return nil, errors.New("the gateway has no service to serve: set " + AddrSetting("registry") + " and " + AddrSetting("ledger"))
	}
	return out, nil
}

type edge struct {
	mux   http.Handler
	pages map[string]http.Handler
}

// http mounts the REST mappings and pages of mounted, and the OpenAPI documents.
func (p *process) http(ctx context.Context, mounted []Module, d Deps) (edge, error) {
	mux := server.NewGatewayMux()
	pages := map[string]http.Handler{}
	for _, m := range mounted {
		cc, err := p.conn(m.Name)
		if err != nil {
			return edge{}, err
		}
		if err := m.Gateway(ctx, mux, cc); err != nil {
			return edge{}, err
		}
		if m.Pages != nil {
			for pattern, h := range m.Pages(cc, d) {
				pages[pattern] = h
			}
		}
	}
	for pattern, h := range openAPIRoutes() {
		pages[pattern] = h
	}
	return edge{mux: mux, pages: pages}, nil
}

// behind reports whether every service behind a lone gateway answers SERVING for its own name.
func (p *process) behind(ctx context.Context, mounted []Module) func() bool {
	type check struct {
		hc      healthpb.HealthClient
		service string
	}
	var checks []check
	for _, m := range mounted {
		cc, _ := p.dial(m.Name) // made by http
		checks = append(checks, check{healthpb.NewHealthClient(cc), m.Service})
	}
	return func() bool {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		for _, c := range checks {
			r, err := c.hc.Check(ctx, &healthpb.HealthCheckRequest{Service: c.service})
			if err != nil || r.GetStatus() != healthpb.HealthCheckResponse_SERVING {
				return false
			}
		}
		return true
	}
}

// Migrate applies the migrations of ms, with their ledger outboxes and job queues, and the access
// log's spool (every process that serves a service records reads there). An outbox's table comes
// first: a service's migration may move an older outbox's rows into it.
func Migrate(ctx context.Context, pool *pgxpool.Pool, ms []Module) error {
	if err := pgdb.Migrate(ctx, pool, accesslog.Schema, accesslog.Migrations); err != nil {
		return fmt.Errorf("migrate the access log's spool: %w", err)
	}
	for _, m := range ms {
		if m.Outbox {
			if err := ledgerout.Migrate(ctx, pool, m.Schema); err != nil {
				return fmt.Errorf("migrate %s: %w", m.Name, err)
			}
		}
		if err := pgdb.Migrate(ctx, pool, m.Schema, m.Migrations); err != nil {
			return fmt.Errorf("migrate %s: %w", m.Name, err)
		}
		if m.Jobs {
			if err := jobs.Migrate(ctx, pool, m.Schema); err != nil {
				return fmt.Errorf("migrate %s: %w", m.Name, err)
			}
		}
		if m.Outbound {
			if err := outbound.Migrate(ctx, pool, m.Schema); err != nil {
				return fmt.Errorf("migrate %s: %w", m.Name, err)
			}
		}
	}
	return nil
}

// idempotencyWindow is how long a create's request_id is remembered (AIP-155 retries come
// within minutes; a day covers a client retrying after an outage).
const idempotencyWindow = 24 * time.Hour

// purgeIdempotency forgets request_ids older than the window, hourly, until ctx ends. Every
// replica may run it: the delete is idempotent.
func purgeIdempotency(ctx context.Context, pool *pgxpool.Pool, ms []Module) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		for _, m := range ms {
			if !m.Idempotency {
				continue
			}
			if n, err := idempotency.Purge(ctx, pool, m.Schema, idempotencyWindow); err != nil && ctx.Err() == nil {
				slog.Warn("purging request ids", "service", m.Name, "err", err)
			} else if n > 0 {
				slog.Info("purged request ids", "service", m.Name, "rows", n)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// openAPIRoutes serve the OpenAPI documents `make generate` wrote (pkg/gen/openapi): every
// service's at /openapi.json (Swagger 2.0) and /openapi.v3.json (OpenAPI 3.1), and each one's at
// /openapi/{service}/openapi.json and …/openapi.v3.json.
func openAPIRoutes() map[string]http.Handler {
	file := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "public, max-age=300")
			http.ServeFileFS(w, r, openapi.FS, name)
		})
	}
	return map[string]http.Handler{
		"GET /openapi.json":    file("pipa.json"),
		"GET /openapi.v3.json": file("pipa.v3.json"),
		"GET /openapi/{service}/openapi.json": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			file(r.PathValue("service")+".json").ServeHTTP(w, r)
		}),
		"GET /openapi/{service}/openapi.v3.json": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			file(r.PathValue("service")+".v3.json").ServeHTTP(w, r)
		}),
	}
}

func addrOf(l net.Listener) string {
	if l == nil {
		return ""
	}
	return l.Addr().String()
}

// Dialable turns a listen address such as [::]:9090 into one a client can dial.
func Dialable(a net.Addr) string {
	host, port, _ := net.SplitHostPort(a.String())
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}
