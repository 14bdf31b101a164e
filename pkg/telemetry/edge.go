package telemetry

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"
)

// The edge's instrumentation: one server span per HTTP request and per gRPC call, with the W3C
// trace context (and baggage) taken from the request, and the duration histograms operators read
// (http.server.request.duration, rpc.server.call.duration, deploy/OPERATIONS.md) with the
// attributes the semantic conventions name. It replaces otelhttp's handler and otelgrpc's server
// stats handler, whose per-call attribute lists, attribute sets and wrappers were 5–13 % of an
// append's CPU (services/ledger/BENCHMARKS.md, issue 18): here the instruments are made once, a
// metric's attribute set is made once per method, route and status and then reused, and a span's
// attributes are computed only when it is recorded (sampled).

// scope names the instrumentation in the metrics' otel_scope_name and the spans' scope.
const scope = "github.com/pipa-kr/pipa/pkg/telemetry"

// durationBuckets are the semantic conventions' advised boundaries, in seconds, as otelhttp and
// otelgrpc use.
var durationBuckets = metric.WithExplicitBucketBoundaries(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10)

var serverKind = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindServer)}

// maxSets bounds each cache of attribute sets; past it a set is made per call (the keys are
// bounded by the routes, methods and statuses, so this is a guard, not a limit one meets).
const maxSets = 4096

// setCache holds attribute sets by key, made once.
type setCache[K comparable] struct {
	mu   sync.RWMutex
	sets map[K]attribute.Set
}

func (c *setCache[K]) get(k K, make func() attribute.Set) attribute.Set {
	c.mu.RLock()
	s, ok := c.sets[k]
	c.mu.RUnlock()
	if ok {
		return s
	}
	s = make()
	c.mu.Lock()
	if c.sets == nil {
		c.sets = map[K]attribute.Set{}
	}
	if len(c.sets) < maxSets {
		c.sets[k] = s
	}
	c.mu.Unlock()
	return s
}

func histogram(name, desc string) metric.Float64Histogram {
	h, err := otel.GetMeterProvider().Meter(scope).Float64Histogram(name, metric.WithUnit("s"),
		metric.WithDescription(desc), durationBuckets)
	if err != nil {
		otel.Handle(err) // a no-op instrument is returned with the error
	}
	return h
}

// HTTP is the HTTP edge's instrumentation around next: a server span named by the request's
// route template once next has served it (r.Pattern of the request next received, "POST
// /v1/tenants/{tenant}"; the method alone when none), child of the traceparent the request
// carries, and http.server.request.duration by http.request.method, url.scheme,
// http.response.status_code and http.route. tp makes the spans.
func HTTP(next http.Handler, tp trace.TracerProvider) http.Handler {
	return &httpServer{next: next, tracer: tp.Tracer(scope),
		duration: histogram("http.server.request.duration", "Duration of HTTP server requests.")}
}

type httpServer struct {
	next     http.Handler
	tracer   trace.Tracer
	duration metric.Float64Histogram
	sets     setCache[httpKey]
}

type httpKey struct {
	method, route string
	status        int
	tls           bool
}

// knownMethods are the methods the conventions name; others are recorded as _OTHER, so that a
// client cannot grow the metrics.
var knownMethods = map[string]bool{http.MethodConnect: true, http.MethodDelete: true, http.MethodGet: true,
	http.MethodHead: true, http.MethodOptions: true, http.MethodPatch: true, http.MethodPost: true,
	http.MethodPut: true, http.MethodTrace: true}

func (h *httpServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	method := r.Method
	if !knownMethods[method] {
		method = "_OTHER"
	}
	ctx := otel.GetTextMapPropagator().Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	name := method
	if method == "_OTHER" {
		name = "HTTP"
	}
	ctx, span := h.tracer.Start(ctx, name, serverKind...)
	recording := span.IsRecording()
	if recording {
		span.SetAttributes(requestAttrs(r, method)...)
	}
	sw := &statusWriter{ResponseWriter: w}
	in := r.WithContext(ctx)
	// Ended in a defer, so that a handler's panic still ends its span and counts its request.
	defer func() {
		// Copied back so that net/http removes the files ParseMultipartForm made, as otelhttp did.
		if in.MultipartForm != nil {
			r.MultipartForm = in.MultipartForm
		}
		panicked := recover()
		code := sw.status
		switch {
		case panicked != nil: // net/http answers it by closing the connection: a server fault
			code = http.StatusInternalServerError
		case code == 0:
			code = http.StatusOK
		}
		route := ""
		if i := strings.IndexByte(in.Pattern, '/'); i >= 0 {
			route = in.Pattern[i:]
		}
		if recording {
			if route != "" {
				span.SetName(name + " " + route)
				span.SetAttributes(semconv.HTTPRoute(route))
			}
			span.SetAttributes(semconv.HTTPResponseStatusCode(code))
			if code >= http.StatusInternalServerError {
				span.SetStatus(codes.Error, "")
			}
		}
		span.End()
		k := httpKey{method: method, route: route, status: code, tls: r.TLS != nil}
		set := h.sets.get(k, func() attribute.Set {
			kv := []attribute.KeyValue{semconv.HTTPRequestMethodKey.String(k.method), semconv.URLScheme(scheme(k.tls)),
				semconv.HTTPResponseStatusCode(k.status)}
			if k.route != "" {
				kv = append(kv, semconv.HTTPRoute(k.route))
			}
			return attribute.NewSet(kv...)
		})
		h.duration.Record(ctx, time.Since(start).Seconds(), metric.WithAttributeSet(set))
		if panicked != nil {
			panic(panicked)
		}
	}()
	h.next.ServeHTTP(sw, in)
}

func scheme(tls bool) string {
	if tls {
		return "https"
	}
	return "http"
}

// requestAttrs are a recorded span's attributes of the request, as otelhttp gave them.
func requestAttrs(r *http.Request, method string) []attribute.KeyValue {
	kv := []attribute.KeyValue{semconv.HTTPRequestMethodKey.String(method), semconv.URLScheme(scheme(r.TLS != nil)),
		semconv.URLPath(r.URL.Path), semconv.ServerAddress(r.Host)}
	if method == "_OTHER" {
		kv = append(kv, semconv.HTTPRequestMethodOriginal(r.Method))
	}
	if ua := r.UserAgent(); ua != "" {
		kv = append(kv, semconv.UserAgentOriginal(ua))
	}
	if r.RemoteAddr != "" {
		kv = append(kv, semconv.NetworkPeerAddress(r.RemoteAddr))
	}
	if r.ProtoMajor > 0 {
		kv = append(kv, semconv.NetworkProtocolVersion(strconv.Itoa(r.ProtoMajor)+"."+strconv.Itoa(r.ProtoMinor)))
	}
	return kv
}

// statusWriter notes the status of an answer. Unwrap lets http.ResponseController reach what the
// server gave (flushing, deadlines); ReadFrom keeps the server's sendfile for copied bodies.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) ReadFrom(src io.Reader) (int64, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return io.Copy(w.ResponseWriter, src)
}

func (w *statusWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// GRPCServer is a gRPC server's instrumentation, a stats.Handler: a server span per call named
// by its method ("pipa.ledger.v1.LedgerService/AppendEntry"), child of the trace context in the
// call's metadata, and rpc.server.call.duration by rpc.method, rpc.system.name and
// rpc.response.status_code (and error.type for a server's fault), as otelgrpc records them.
func GRPCServer(tp trace.TracerProvider) stats.Handler {
	return &grpcServer{tracer: tp.Tracer(scope),
		duration: histogram("rpc.server.call.duration", "Measures the duration of inbound remote procedure calls.")}
}

type grpcServer struct {
	tracer   trace.Tracer
	duration metric.Float64Histogram
	sets     setCache[grpcKey]
}

type grpcKey struct {
	method string
	code   grpccodes.Code
}

type grpcCallKey struct{}

// grpcCall is what TagRPC hands to HandleRPC.
type grpcCall struct {
	method string
	span   trace.Span
}

func (*grpcServer) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }
func (*grpcServer) HandleConn(context.Context, stats.ConnStats)                       {}

func (h *grpcServer) TagRPC(ctx context.Context, info *stats.RPCTagInfo) context.Context {
	ctx = otel.GetTextMapPropagator().Extract(ctx, incoming{ctx})
	method := info.FullMethodName
	if len(method) > 0 && method[0] == '/' {
		method = method[1:]
	}
	ctx, span := h.tracer.Start(ctx, method, serverKind...)
	if span.IsRecording() {
		span.SetAttributes(semconv.RPCMethodKey.String(method), attribute.String("rpc.system.name", "grpc"))
	}
	return context.WithValue(ctx, grpcCallKey{}, &grpcCall{method: method, span: span})
}

func (h *grpcServer) HandleRPC(ctx context.Context, rs stats.RPCStats) {
	end, ok := rs.(*stats.End)
	if !ok {
		return
	}
	call, _ := ctx.Value(grpcCallKey{}).(*grpcCall)
	if call == nil {
		return
	}
	s, _ := status.FromError(end.Error)
	code := s.Code()
	if call.span.IsRecording() {
		if serverFault(code) {
			call.span.SetStatus(codes.Error, s.Message())
		}
		call.span.SetAttributes(attribute.String("rpc.response.status_code", canonical(code)))
	}
	call.span.End()
	set := h.sets.get(grpcKey{call.method, code}, func() attribute.Set {
		kv := []attribute.KeyValue{semconv.RPCMethodKey.String(call.method), attribute.String("rpc.system.name", "grpc"),
			attribute.String("rpc.response.status_code", canonical(code))}
		if serverFault(code) {
			kv = append(kv, semconv.ErrorTypeKey.String(canonical(code)))
		}
		return attribute.NewSet(kv...)
	})
	h.duration.Record(ctx, end.EndTime.Sub(end.BeginTime).Seconds(), metric.WithAttributeSet(set))
}

// serverFault: the codes that are the server's fault, an error status on its span (otelgrpc's).
func serverFault(c grpccodes.Code) bool {
	switch c {
	case grpccodes.Unknown, grpccodes.DeadlineExceeded, grpccodes.Unimplemented, grpccodes.Internal,
		grpccodes.Unavailable, grpccodes.DataLoss:
		return true
	}
	return false
}

// canonical is a code's name as the conventions spell it ("INVALID_ARGUMENT").
func canonical(c grpccodes.Code) string {
	if int(c) < len(codeNames) {
		return codeNames[c]
	}
	return "CODE(" + strconv.Itoa(int(c)) + ")"
}

var codeNames = [...]string{"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
	"ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
	"UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"}

// incoming reads a call's incoming metadata as a propagation carrier without copying it.
type incoming struct{ ctx context.Context }

func (c incoming) Get(key string) string {
	if v := metadata.ValueFromIncomingContext(c.ctx, key); len(v) > 0 {
		return v[0]
	}
	return ""
}

func (incoming) Set(string, string) {}

func (c incoming) Keys() []string {
	md, _ := metadata.FromIncomingContext(c.ctx)
	keys := make([]string, 0, len(md))
	for k := range md {
		keys = append(keys, k)
	}
	return keys
}
