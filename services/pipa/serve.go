package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/pipa-kr/pipa/pkg/accesslog"
	"github.com/pipa-kr/pipa/pkg/cors"
	"github.com/pipa-kr/pipa/pkg/gen/openapi"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	requestsv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/requests/v1"
	retentionv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/retention/v1"
	"github.com/pipa-kr/pipa/pkg/idempotency"
	"github.com/pipa-kr/pipa/pkg/jobs"
	"github.com/pipa-kr/pipa/pkg/ledgerout"
	"github.com/pipa-kr/pipa/pkg/pgdb"
	"github.com/pipa-kr/pipa/pkg/seal"
	"github.com/pipa-kr/pipa/pkg/server"
	"github.com/pipa-kr/pipa/pkg/telemetry"
	"github.com/pipa-kr/pipa/services/ledger"
	ledgerpg "github.com/pipa-kr/pipa/services/ledger/store/pg"
	"github.com/pipa-kr/pipa/services/registry"
	registrypg "github.com/pipa-kr/pipa/services/registry/store/pg"
	"github.com/pipa-kr/pipa/services/requests"
	requestspg "github.com/pipa-kr/pipa/services/requests/store/pg"
	"github.com/pipa-kr/pipa/services/retention"
	retentionpg "github.com/pipa-kr/pipa/services/retention/store/pg"
)

// service is one of pipa's services as the binary knows it.
type service struct {
	name       string
	schema     string
	migrations fs.FS
	// jobs: the service keeps a job queue in its schema (pkg/jobs).
	jobs bool
	// outbox: the service keeps a ledger outbox in its schema (pkg/ledgerout).
	outbox bool
	// idempotency: the service keeps request_ids in its schema's idempotency table.
	idempotency bool
	public      map[string]bool
	// register adds the service to the gRPC server.
	register func(g *grpc.Server, d deps) error
	// gateway mounts its REST mapping, and pages its hand-written HTTP handlers, over a client
	// connection to the service (wherever it runs).
	gateway func(ctx context.Context, mux *runtime.ServeMux, conn *grpc.ClientConn) error
	// d.pool is nil on a lone gateway, which has no database.
	pages func(conn *grpc.ClientConn, d *deps) map[string]http.Handler
	// access are its reads of personal data, recorded in the access log (pkg/accesslog).
	access accesslog.Rules
}

// deps is what services get from the process: the database, the data key, and clients of the
// other services (over gRPC in every mode).
type deps struct {
	pool *pgxpool.Pool
	box  func() (*seal.Box, error)
	conn func(service string) (*grpc.ClientConn, error)
	// ledgerOrigin is the host of the ledgers' origin lines (PIPA_LEDGER_ORIGIN).
	ledgerOrigin string
	// token is the service credential (role service on "*"), nil when there is none.
	token func() (string, error)
	// run starts background work that lives until ctx ends; stop is called on shutdown.
	run func(start func(ctx context.Context) error, stop func(ctx context.Context) error) error
	// now is the retention service's clock; nil is time.Now (tests set it).
	now func() time.Time
}

// built are the services this binary contains, in start order.
var built = []service{
	{
		name: "registry", schema: registrypg.Schema, migrations: registrypg.Migrations, idempotency: true,
		public: registry.PublicMethods, access: registry.AccessRules,
		register: func(g *grpc.Server, d deps) error {
			registryv1.RegisterRegistryServiceServer(g, registry.New(registrypg.New(d.pool)))
			return nil
		},
		gateway: registryv1.RegisterRegistryServiceHandler,
		pages: func(conn *grpc.ClientConn, _ *deps) map[string]http.Handler {
			public := registry.Pages(registryv1.NewRegistryServiceClient(conn))
			m := map[string]http.Handler{}
			for _, p := range registry.PagePatterns {
				m[p] = public
			}
			return m
		},
	},
	{
		name: "ledger", schema: ledgerpg.Schema, migrations: ledgerpg.Migrations,
		public: ledger.PublicMethods, access: ledger.AccessRules,
		register: func(g *grpc.Server, d deps) error {
			box, err := d.box()
			if err != nil {
				return err
			}
			reg, err := d.conn("registry")
			if err != nil {
				return err
			}
			// A note key name, which the origin host starts, has no spaces and no '+'.
			if strings.ContainsAny(d.ledgerOrigin, "/+ \t\r\n") {
				return fmt.Errorf("PIPA_LEDGER_ORIGIN %q: want a host name, e.g. ledger.iksan.go.kr", d.ledgerOrigin)
			}
			store := ledgerpg.New(d.pool, box, ledgerpg.WithOriginHost(d.ledgerOrigin))
			ledgerv1.RegisterLedgerServiceServer(g, ledger.New(store, box, registryv1.NewRegistryServiceClient(reg)))
			return nil
		},
		gateway: ledgerv1.RegisterLedgerServiceHandler,
		pages: func(conn *grpc.ClientConn, d *deps) map[string]http.Handler {
			client := ledgerv1.NewLedgerServiceClient(conn)
			m := map[string]http.Handler{ledger.ExportPattern: ledger.Export(client)}
			if d.pool != nil { // tiles read the stored hashes: served where the ledger has its database
				if box, err := d.box(); err == nil {
					m[ledger.TilesPattern] = ledger.Tiles(ledgerpg.New(d.pool, box, ledgerpg.WithOriginHost(d.ledgerOrigin)), client)
				}
			}
			return m
		},
	},
	{
		name: "requests", schema: requestspg.Schema, migrations: requestspg.Migrations, jobs: true, outbox: true, idempotency: true,
		public: requests.PublicMethods, access: requests.AccessRules,
		register: func(g *grpc.Server, d deps) error {
			box, err := d.box()
			if err != nil {
				return err
			}
			reg, err := d.conn("registry")
			if err != nil {
				return err
			}
			led, err := d.conn("ledger")
			if err != nil {
				return err
			}
			// Provided copies go to the retention service; without its address they wait in the
			// outbox (and say so in the log) until it is configured.
			var ret retentionv1.RetentionServiceClient
			if cc, err := d.conn("retention"); err == nil {
				ret = retentionv1.NewRetentionServiceClient(cc)
			} else {
				slog.Warn("requests: no retention service: provided copies and closed requests wait in the outbox", "err", err)
			}
			// Open carries over an older version's outbox rows, bounded in time.
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			srv, jobs, err := requests.Open(ctx, d.pool, box, registryv1.NewRegistryServiceClient(reg),
				ledgerv1.NewLedgerServiceClient(led), ret, d.token)
			if err != nil {
				return err
			}
			requestsv1.RegisterRequestServiceServer(g, srv)
			return d.run(jobs.Start, jobs.Stop)
		},
		gateway: requestsv1.RegisterRequestServiceHandler,
		pages: func(conn *grpc.ClientConn, d *deps) map[string]http.Handler {
			// With the service credential the form lists the unit's sites.
			var reg registryv1.RegistryServiceClient
			if cc, err := d.conn("registry"); err == nil && d.token != nil {
				reg = registryv1.NewRegistryServiceClient(cc)
			}
			return requests.Pages(requestsv1.NewRequestServiceClient(conn), reg, d.token)
		},
	},
	{
		name: "retention", schema: retentionpg.Schema, migrations: retentionpg.Migrations, jobs: true, idempotency: true,
		public: retention.PublicMethods,
		register: func(g *grpc.Server, d deps) error {
			box, err := d.box()
			if err != nil {
				return err
			}
			conns := map[string]*grpc.ClientConn{}
			for _, name := range []string{"registry", "ledger", "requests"} {
				if conns[name], err = d.conn(name); err != nil {
					return err
				}
			}
			srv, jobs, err := retention.Open(d.pool, box, registryv1.NewRegistryServiceClient(conns["registry"]),
				ledgerv1.NewLedgerServiceClient(conns["ledger"]), requestsv1.NewRequestServiceClient(conns["requests"]),
				d.token, retention.WithClock(d.now), retention.WithOriginHost(d.ledgerOrigin))
			if err != nil {
				return err
			}
			retentionv1.RegisterRetentionServiceServer(g, srv)
			return d.run(jobs.Start, jobs.Stop)
		},
		gateway: retentionv1.RegisterRetentionServiceHandler,
		pages:   func(*grpc.ClientConn, *deps) map[string]http.Handler { return nil },
	},
}

func serveCmd(ctx context.Context, args []string) error {
	var c config
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	c.flags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	return serve(ctx, &c, nil)
}

// listeners lets tests bind loopback ports themselves; nil binds the configured addresses.
type listeners struct{ grpc, http net.Listener }

func serve(ctx context.Context, c *config, ls *listeners) error {
	svcs, gateway, err := targets(c.target)
	if err != nil {
		return err
	}
	var spans []sdktrace.SpanProcessor
	if c.spans != nil {
		spans = append(spans, c.spans)
	}
	tel, err := telemetry.Setup(ctx, "pipa-"+c.target, spans...)
	if err != nil {
		return err
	}
	defer func() { _ = tel.Shutdown(context.Background()) }()

	if ls == nil {
		ls = &listeners{}
		if len(svcs) > 0 {
			if ls.grpc, err = net.Listen("tcp", c.grpcAddr); err != nil {
				return err
			}
		}
		if ls.http, err = net.Listen("tcp", c.httpAddr); err != nil {
			return err
		}
	}
	httpLimiter, grpcLimiter, err := c.limiters()
	if err != nil {
		return err
	}
	// Services reach each other over gRPC in every mode: the ones run here at this process's own
	// address, the others where the configuration says.
	addrs := map[string]string{"registry": c.registryAddr, "ledger": c.ledgerAddr, "requests": c.requestsAddr,
		"retention": c.retentionAddr}
	for _, s := range svcs {
		addrs[s.name] = dialable(ls.grpc.Addr())
	}
	conns := map[string]*grpc.ClientConn{}
	defer func() {
		for _, cc := range conns {
			cc.Close()
		}
	}()
	conn := func(name string) (*grpc.ClientConn, error) {
		if cc := conns[name]; cc != nil {
			return cc, nil
		}
		if addrs[name] == "" {
			return nil, fmt.Errorf("the %s service's address is not set: set PIPA_%s_ADDR", name, strings.ToUpper(name))
		}
		cc, err := grpc.NewClient(addrs[name],
			grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithStatsHandler(otelgrpc.NewClientHandler()))
		if err != nil {
			return nil, err
		}
		conns[name] = cc
		return cc, nil
	}

	var run []server.Listener
	var d *deps
	var rec *accesslog.Recorder
	serveCtx := ctx // what stops the servers: later than ctx when the access log must flush first
	healthy := func() bool { return true }
	if len(svcs) > 0 {
		if c.databaseURL == "" {
			return errors.New("no database: set DATABASE_URL (or run `make run`, which provisions one under .data/)")
		}
		pool, err := pgdb.Open(ctx, c.databaseURL)
		if err != nil {
			return err
		}
		defer pool.Close()
		if c.migrate {
			if err := migrate(ctx, pool, svcs); err != nil {
				return err
			}
		}
		verifier, err := c.verifier(ctx)
		if err != nil {
			return err
		}
		public := map[string]bool{}
		for _, s := range svcs {
			for m := range s.public {
				public[m] = true
			}
		}
		go purgeIdempotency(ctx, pool, svcs)
		// The access log (S-2-3): reads of personal data become ACCESS entries of the unit's
		// ledger, wherever the ledger runs, when a service credential to append them exists.
		var extra []grpc.UnaryServerInterceptor
		if rec, err = accessRecorder(c, addrs["ledger"] != "", conn); err != nil {
			return err
		}
		if rec != nil {
			// On shutdown the queued access records are appended first, while this process's
			// own ledger still serves, and only then do the servers stop.
			sctx, stopServing := context.WithCancel(context.WithoutCancel(ctx))
			closeRec := sync.OnceFunc(func() {
				cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
				defer cancel()
				if err := rec.Close(cctx); err != nil {
					slog.Error("access log: records left unflushed at shutdown", "err", err)
				}
				stopServing()
			})
			defer context.AfterFunc(ctx, closeRec)()
			defer closeRec()
			serveCtx = sctx
			rules := accesslog.Rules{}
			for _, s := range svcs {
				rules = accesslog.Merge(rules, s.access)
			}
			extra = append(extra, rec.Interceptor(rules))
		}
		g := server.NewGRPC(server.GRPCOptions{
			Verifier:      verifier,
			Public:        func(m string) bool { return public[m] },
			PublicLimiter: grpcLimiter,
			Unary:         extra,
		})
		token, err := c.serviceToken()
		if err != nil {
			return err
		}
		var stops []func(context.Context) error
		defer func() { // before the pool closes
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			for _, stop := range stops {
				if err := stop(sctx); err != nil {
					slog.Error("stopping background work", "err", err)
				}
			}
		}()
		d = &deps{pool: pool, box: c.dataBox, conn: conn, ledgerOrigin: c.ledgerOrigin, token: token, now: c.retentionClock,
			run: func(start, stop func(context.Context) error) error {
				if err := start(context.WithoutCancel(ctx)); err != nil {
					return err
				}
				stops = append(stops, stop)
				return nil
			}}
		for _, s := range svcs {
			if err := s.register(g, *d); err != nil {
				return fmt.Errorf("%s: %w", s.name, err)
			}
		}
		healthy = func() bool {
			ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			return pool.Ping(ctx) == nil
		}
		run = append(run, server.Listener{Name: "grpc", Lis: ls.grpc, GRPC: g})
	}

	// The REST edge: every service's mapping on the gateway target (and in -target=all), a
	// service's own mapping on its own target.
	mounted := svcs
	if gateway {
		mounted = nil
		for _, s := range built {
			if addrs[s.name] != "" {
				mounted = append(mounted, s)
			} else {
				slog.Warn("gateway: no address for a service, its API is not served", "service", s.name, "set", "PIPA_"+strings.ToUpper(s.name)+"_ADDR")
			}
		}
		if len(mounted) == 0 {
			return errors.New("the gateway has no service to serve: set PIPA_REGISTRY_ADDR and PIPA_LEDGER_ADDR")
		}
	}
	// The pages get the process's deps; a lone gateway has no database but may have the service
	// credential, with which the request form lists a unit's sites.
	pd := d
	if pd == nil {
		token, err := c.serviceToken()
		if err != nil {
			return err
		}
		pd = &deps{conn: conn, token: token}
	}
	mux := server.NewGatewayMux()
	pages := map[string]http.Handler{}
	for _, s := range mounted {
		cc, err := conn(s.name)
		if err != nil {
			return err
		}
		if err := s.gateway(ctx, mux, cc); err != nil {
			return err
		}
		for p, h := range s.pages(cc, pd) {
			pages[p] = h
		}
	}
	doc, err := openAPI()
	if err != nil {
		return err
	}
	pages["GET /openapi.json"] = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(doc)
	})
	if len(svcs) == 0 {
		// A lone gateway is healthy when the services behind it are.
		var checks []healthpb.HealthClient
		for _, s := range mounted {
			cc, _ := conn(s.name)
			checks = append(checks, healthpb.NewHealthClient(cc))
		}
		healthy = func() bool {
			ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			for _, hc := range checks {
				r, err := hc.Check(ctx, &healthpb.HealthCheckRequest{})
				if err != nil || r.GetStatus() != healthpb.HealthCheckResponse_SERVING {
					return false
				}
			}
			return true
		}
	}
	h := server.Handler(server.HTTPOptions{
		Gateway: mux, Pages: pages, Metrics: tel.Metrics, Health: healthy,
		Origins: c.originList(), PublicLimiter: httpLimiter,
	}, cors.Handler)
	run = append(run, server.Listener{Name: "http", Lis: ls.http,
		HTTP: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}})

	slog.Info("pipa serving", "target", c.target, "http", ls.http.Addr().String(), "grpc", addrOf(ls.grpc))
	return server.Serve(serveCtx, 20*time.Second, run...)
}

// accessRecorder is the access log's recorder when the ledger's address is known, or nil.
func accessRecorder(c *config, ledgerKnown bool, conn func(string) (*grpc.ClientConn, error)) (*accesslog.Recorder, error) {
	if !c.accessLog {
		return nil, nil
	}
	if !ledgerKnown {
		slog.Error("access log disabled: the ledger's address is not set, so reads of personal data are not recorded (S-2-3): set PIPA_LEDGER_ADDR")
		return nil, nil
	}
	token, err := c.serviceToken()
	if err != nil {
		return nil, err
	}
	if token == nil {
		slog.Error("access log disabled: no service credential to append ACCESS entries (S-2-3): set PIPA_SERVICE_TOKEN_FILE")
		return nil, nil
	}
	trusted, err := c.trustedProxies()
	if err != nil {
		return nil, err
	}
	cc, err := conn("ledger")
	if err != nil {
		return nil, err
	}
	return accesslog.NewRecorder(accesslog.Options{Ledger: ledgerv1.NewLedgerServiceClient(cc), Token: token, Trusted: trusted}), nil
}

func addrOf(l net.Listener) string {
	if l == nil {
		return ""
	}
	return l.Addr().String()
}

// dialable turns a listen address such as [::]:9090 into one a client can dial.
func dialable(a net.Addr) string {
	host, port, _ := net.SplitHostPort(a.String())
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// targets resolves -target to the services to run here and whether to serve the REST edge.
func targets(target string) ([]service, bool, error) {
	switch target {
	case "all":
		return built, true, nil
	case "gateway":
		return nil, true, nil
	}
	for _, s := range built {
		if s.name == target {
			return []service{s}, false, nil
		}
	}
	return nil, false, fmt.Errorf("unknown target %q: want all, registry, requests, ledger, retention or gateway", target)
}

// idempotencyWindow is how long a create's request_id is remembered (AIP-155 retries come
// within minutes; a day covers a client retrying after an outage).
const idempotencyWindow = 24 * time.Hour

// purgeIdempotency forgets request_ids older than the window, hourly, until ctx ends. Every
// replica may run it: the delete is idempotent.
func purgeIdempotency(ctx context.Context, pool *pgxpool.Pool, svcs []service) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		for _, s := range svcs {
			if !s.idempotency {
				continue
			}
			if n, err := idempotency.Purge(ctx, pool, s.schema, idempotencyWindow); err != nil && ctx.Err() == nil {
				slog.Warn("purging request ids", "service", s.name, "err", err)
			} else if n > 0 {
				slog.Info("purged request ids", "service", s.name, "rows", n)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func migrate(ctx context.Context, pool *pgxpool.Pool, svcs []service) error {
	for _, s := range svcs {
		// The outbox's table first: a service migration may move an older outbox's rows into it.
		if s.outbox {
			if err := ledgerout.Migrate(ctx, pool, s.schema); err != nil {
				return fmt.Errorf("migrate %s: %w", s.name, err)
			}
		}
		if err := pgdb.Migrate(ctx, pool, s.schema, s.migrations); err != nil {
			return fmt.Errorf("migrate %s: %w", s.name, err)
		}
		if s.jobs {
			if err := jobs.Migrate(ctx, pool, s.schema); err != nil {
				return fmt.Errorf("migrate %s: %w", s.name, err)
			}
		}
	}
	return nil
}

func migrateCmd(ctx context.Context, args []string) error {
	var c config
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	c.flags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if c.databaseURL == "" {
		return errors.New("no database: set DATABASE_URL")
	}
	pool, err := pgdb.Open(ctx, c.databaseURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := migrate(ctx, pool, built); err != nil {
		return err
	}
	names := make([]string, len(built))
	for i, s := range built {
		names[i] = s.name
	}
	fmt.Println("migrated:", strings.Join(names, ", "))
	return nil
}

// openAPI merges the services' generated OpenAPI documents into one.
func openAPI() ([]byte, error) {
	merged := map[string]any{
		"swagger": "2.0",
		"info":    map[string]any{"title": "pipa", "version": "v1"},
		"paths":   map[string]any{}, "definitions": map[string]any{},
	}
	files, err := fs.Glob(openapi.FS, "*.swagger.json")
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		b, err := fs.ReadFile(openapi.FS, f)
		if err != nil {
			return nil, err
		}
		var doc map[string]any
		if err := json.Unmarshal(b, &doc); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		for _, k := range []string{"paths", "definitions"} {
			m, _ := doc[k].(map[string]any)
			for p, v := range m {
				merged[k].(map[string]any)[p] = v
			}
		}
	}
	return json.Marshal(merged)
}
