// Package server is the bootstrap every pipa service shares: a gRPC server with health,
// reflection, panic recovery, OpenTelemetry stats (pkg/telemetry), authentication and pipa's error translation;
// the REST edge (grpc-gateway mux with pkg/telemetry's spans and metrics, CORS, rate limits on public paths, /metrics,
// /openapi.json); and graceful shutdown of both. Services register themselves on what it builds,
// so monolithic and microservices modes run the same code.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"

	"github.com/pipa-kr/pipa/pkg/apierr"
	"github.com/pipa-kr/pipa/pkg/auth"
	"github.com/pipa-kr/pipa/pkg/ratelimit"
	"github.com/pipa-kr/pipa/pkg/telemetry"
)

// GRPCOptions configures NewGRPC.
type GRPCOptions struct {
	// Verifier checks bearer tokens.
	Verifier auth.Verifier
	// Public reports the full method names callable without a token.
	Public func(fullMethod string) bool
	// PublicLimiter rate-limits public methods per client; nil disables.
	PublicLimiter *ratelimit.Limiter
	// Unary are extra interceptors, run innermost: after authentication and error translation,
	// right around the handler (e.g. the access log, pkg/accesslog).
	Unary []grpc.UnaryServerInterceptor
	// Tracer traces the calls; nil is the global provider.
	Tracer trace.TracerProvider
	// Health is the server's health service, on which the caller reports each service it
	// registers by name; nil makes one that reports the server only.
	Health *health.Server
	// Timeout is the longest a call may run: the deadline of a call that comes without one (a
	// client of the gRPC API) or with a later one. Zero is none.
	Timeout time.Duration
	// MaxMessage is the largest request message in bytes (an import's document); gRPC's 4 MiB when 0.
	MaxMessage int
}

// NewGRPC builds a gRPC server with pipa's interceptor chain and the health (SERVING for the
// server, "") and reflection services registered.
func NewGRPC(o GRPCOptions) *grpc.Server {
	unary := unaryChain(o)
	o.Public = withProbes(o.Public)
	opts := []grpc.ServerOption{
		// Idle connections are closed after a while, and a client that pings more often than
		// every 10 seconds is cut off: connections are not held open for free.
		grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionIdle: 5 * time.Minute, Time: time.Minute, Timeout: 20 * time.Second}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
	}
	if o.MaxMessage > 0 {
		opts = append(opts, grpc.MaxRecvMsgSize(o.MaxMessage))
	}
	s := grpc.NewServer(append(opts,
		grpc.StatsHandler(telemetry.GRPCServer(tracer(o.Tracer))),
		grpc.ChainUnaryInterceptor(unary...),
		grpc.ChainStreamInterceptor(
			recovery.StreamServerInterceptor(recovery.WithRecoveryHandlerContext(recovered)),
			auth.StreamServerInterceptor(o.Verifier, o.Public),
		))...,
	)
	hs := o.Health
	if hs == nil {
		hs = health.NewServer()
	}
	healthpb.RegisterHealthServer(s, hs)
	reflection.Register(s)
	return s
}

// withProbes adds the probes and tooling to public: they need no token (health says nothing
// about data, and reflection only describes the published API).
func withProbes(public func(string) bool) func(string) bool {
	return func(m string) bool {
		return strings.HasPrefix(m, "/grpc.health.v1.Health/") || strings.HasPrefix(m, "/grpc.reflection.") ||
			(public != nil && public(m))
	}
}

// unaryChain is the unary interceptors of o, outermost first.
func unaryChain(o GRPCOptions) []grpc.UnaryServerInterceptor {
	unary := []grpc.UnaryServerInterceptor{
		recovery.UnaryServerInterceptor(recovery.WithRecoveryHandlerContext(recovered)),
	}
	if o.PublicLimiter != nil && o.Public != nil {
		// Only the services' public methods are limited, not probes.
		unary = append(unary, o.PublicLimiter.UnaryServerInterceptor(o.Public))
	}
	if o.Timeout > 0 {
		unary = append([]grpc.UnaryServerInterceptor{deadline(o.Timeout)}, unary...)
	}
	unary = append(unary, auth.UnaryServerInterceptor(o.Verifier, withProbes(o.Public)), translateErrors, rejectControl)
	return append(unary, o.Unary...)
}

// deadline bounds a call by max: its own deadline when that is sooner.
func deadline(max time.Duration) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		if d, ok := ctx.Deadline(); ok && time.Until(d) <= max {
			return h(ctx, req)
		}
		ctx, cancel := context.WithTimeout(ctx, max)
		defer cancel()
		return h(ctx, req)
	}
}

func recovered(ctx context.Context, p any) error {
	slog.ErrorContext(ctx, "panic in handler", "panic", p, "stack", string(debug.Stack()))
	return status.Error(codes.Internal, "internal error")
}

// translateErrors is where every handler error becomes a gRPC status (apierr.ToStatus).
func translateErrors(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	resp, err := h(ctx, req)
	if err != nil {
		return nil, apierr.ToStatus(err)
	}
	return resp, nil
}

// HTTPOptions configures Handler.
type HTTPOptions struct {
	// Gateway serves the REST API (mounted at /).
	Gateway http.Handler
	// Pages are extra handlers by pattern (the public HTML pages, /openapi.json).
	Pages map[string]http.Handler
	// Metrics serves /metrics here; nil when it has a listener of its own.
	Metrics http.Handler
	// Health answers /healthz (200 when serving).
	Health func() bool
	// Origins are the frontend origins allowed by CORS.
	Origins []string
	// PublicLimiter rate-limits the public paths (/v1/public/, /p/, /tenants/) per client; nil
	// disables.
	PublicLimiter *ratelimit.Limiter
	// Tracer traces the requests; nil is the global provider.
	Tracer trace.TracerProvider
	// Limits are the requests' deadlines and body limits.
	Limits Limits
}

// Handler composes the HTTP edge: the gateway at /, the pages, /metrics (unless it has a listener
// of its own) and /healthz, behind the rate limits, the deadlines and body limits, CORS, the security headers (nosniff on every
// answer, a Content-Security-Policy on every HTML page), HEAD served as GET, 405 with Allow, and
// OpenTelemetry (telemetry.HTTP), whose spans and http.route name each request's route template
// ("POST /v1/tenants/{tenant}/units/{unit}/requests").
func Handler(o HTTPOptions, cors func([]string, http.Handler) http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", o.Gateway)
	pages := map[string]http.Handler{}
	for pattern, h := range o.Pages {
		pages[pattern] = h
	}
	if o.Metrics != nil {
		pages["GET /metrics"] = o.Metrics
	}
	pages["GET /healthz"] = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if o.Health != nil && !o.Health() {
			http.Error(w, "not serving", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	for pattern, h := range pages {
		mux.Handle(pattern, page(pattern, h))
	}
	h := limit(o.Limits, mux)
	if o.PublicLimiter != nil {
		h = o.PublicLimiter.Middleware(isPublicPath, h)
	}
	if cors != nil && len(o.Origins) > 0 {
		h = cors(o.Origins, h)
	}
	return telemetry.HTTP(edge(mux, o.Gateway, h), tracer(o.Tracer))
}

// tracer is tp, or the global provider when tp is nil.
func tracer(tp trace.TracerProvider) trace.TracerProvider {
	if tp == nil {
		return otel.GetTracerProvider()
	}
	return tp
}

// isPublicPath: the public API and pages, and the ledgers' tlog-tiles at their origin paths.
func isPublicPath(r *http.Request) bool {
	return strings.HasPrefix(r.URL.Path, "/v1/public/") || strings.HasPrefix(r.URL.Path, "/p/") ||
		strings.HasPrefix(r.URL.Path, "/tenants/")
}

// Listener is a named server bound to an address.
type Listener struct {
	Name string
	Lis  net.Listener
	// Exactly one of GRPC and HTTP is set.
	GRPC *grpc.Server
	HTTP *http.Server
}

// Serve runs every listener until ctx is done or one fails, then stops them all gracefully
// (in-flight calls get up to grace to finish).
func Serve(ctx context.Context, grace time.Duration, ls ...Listener) error {
	errc := make(chan error, len(ls))
	for _, l := range ls {
		go func() {
			var err error
			if l.GRPC != nil {
				err = l.GRPC.Serve(l.Lis)
			} else {
				err = l.HTTP.Serve(l.Lis)
			}
			if err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, grpc.ErrServerStopped) {
				errc <- fmt.Errorf("%s: %w", l.Name, err)
				return
			}
			errc <- nil
		}()
	}
	var first error
	select {
	case <-ctx.Done():
	case first = <-errc:
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	for _, l := range ls {
		if l.HTTP != nil {
			_ = l.HTTP.Shutdown(sctx)
			continue
		}
		done := make(chan struct{})
		go func() { l.GRPC.GracefulStop(); close(done) }()
		select {
		case <-done:
		case <-sctx.Done():
			l.GRPC.Stop()
		}
	}
	return first
}
