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
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/pipa-kr/pipa/pkg/cors"
	"github.com/pipa-kr/pipa/pkg/gen/openapi"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/pkg/idempotency"
	"github.com/pipa-kr/pipa/pkg/pgdb"
	"github.com/pipa-kr/pipa/pkg/server"
	"github.com/pipa-kr/pipa/pkg/telemetry"
	"github.com/pipa-kr/pipa/services/registry"
	registrypg "github.com/pipa-kr/pipa/services/registry/store/pg"
)

// service is one of pipa's services as the binary knows it.
type service struct {
	name       string
	schema     string
	migrations fs.FS
	public     map[string]bool
	register   func(g *grpc.Server, pool *pgxpool.Pool)
}

// built are the services this binary contains, in start order.
var built = []service{
	{
		name: "registry", schema: registrypg.Schema, migrations: registrypg.Migrations,
		public: registry.PublicMethods,
		register: func(g *grpc.Server, pool *pgxpool.Pool) {
			registryv1.RegisterRegistryServiceServer(g, registry.New(registrypg.New(pool)))
		},
	},
}

// planned are targets that exist in the design but not yet in this binary.
var planned = map[string]string{
	"requests":  "the request-workflow service",
	"ledger":    "the ledger service",
	"retention": "the retention service",
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
	tel, err := telemetry.Setup(ctx, "pipa-"+c.target)
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

	var run []server.Listener
	var healthy func() bool = func() bool { return true }
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
		g := server.NewGRPC(server.GRPCOptions{
			Verifier:      verifier,
			Public:        func(m string) bool { return public[m] },
			PublicLimiter: grpcLimiter,
		})
		for _, s := range svcs {
			s.register(g, pool)
		}
		healthy = func() bool {
			ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			return pool.Ping(ctx) == nil
		}
		run = append(run, server.Listener{Name: "grpc", Lis: ls.grpc, GRPC: g})
		if c.registryAddr == "" {
			c.registryAddr = dialable(ls.grpc.Addr())
		}
	}

	mux := server.NewGatewayMux()
	pages := map[string]http.Handler{}
	if gateway || len(svcs) > 0 {
		if c.registryAddr == "" {
			return errors.New("the gateway needs the registry's address: set PIPA_REGISTRY_ADDR")
		}
		conn, err := grpc.NewClient(c.registryAddr,
			grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithStatsHandler(otelgrpc.NewClientHandler()))
		if err != nil {
			return err
		}
		defer conn.Close()
		if err := registryv1.RegisterRegistryServiceHandler(ctx, mux, conn); err != nil {
			return err
		}
		public := registry.Pages(registryv1.NewRegistryServiceClient(conn))
		for _, p := range registry.PagePatterns {
			pages[p] = public
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
			hc := healthpb.NewHealthClient(conn)
			healthy = func() bool {
				ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
				defer cancel()
				r, err := hc.Check(ctx, &healthpb.HealthCheckRequest{})
				return err == nil && r.GetStatus() == healthpb.HealthCheckResponse_SERVING
			}
		}
	}
	h := server.Handler(server.HTTPOptions{
		Gateway: mux, Pages: pages, Metrics: tel.Metrics, Health: healthy,
		Origins: c.originList(), PublicLimiter: httpLimiter,
	}, cors.Handler)
	run = append(run, server.Listener{Name: "http", Lis: ls.http,
		HTTP: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}})

	slog.Info("pipa serving", "target", c.target, "http", ls.http.Addr().String(), "grpc", addrOf(ls.grpc))
	return server.Serve(ctx, 20*time.Second, run...)
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
		for name, what := range planned {
			slog.Warn("not built yet, skipped in -target=all", "service", name, "what", what)
		}
		return built, true, nil
	case "gateway":
		return nil, true, nil
	}
	for _, s := range built {
		if s.name == target {
			return []service{s}, false, nil
		}
	}
	if what, ok := planned[target]; ok {
		return nil, false, fmt.Errorf("target %q (%s) is not built yet", target, what)
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
		if err := pgdb.Migrate(ctx, pool, s.schema, s.migrations); err != nil {
			return fmt.Errorf("migrate %s: %w", s.name, err)
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
