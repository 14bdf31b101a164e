package telemetry

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	noopmetric "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

const (
	parentTrace    = "0af7651916cd43dd8448eb211c80319c"
	parentSpan     = "b7ad6b7169203331"
	incomingParent = "00-" + parentTrace + "-" + parentSpan + "-01"
)

// instrumented installs a meter provider read by hand and W3C propagation for one test, and
// gives a tracer provider that records every span.
func instrumented(t *testing.T) (*sdktrace.TracerProvider, *tracetest.SpanRecorder, *sdkmetric.ManualReader) {
	reader := sdkmetric.NewManualReader()
	otel.SetMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)))
	prev := otel.GetTextMapPropagator()
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	t.Cleanup(func() {
		otel.SetMeterProvider(noopmetric.NewMeterProvider())
		otel.SetTextMapPropagator(prev)
	})
	rec := tracetest.NewSpanRecorder()
	return sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)), rec, reader
}

// counts are a duration histogram's counts by attribute set.
func counts(t *testing.T, reader *sdkmetric.ManualReader, name string) map[attribute.Distinct]uint64 {
	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(t.Context(), &rm))
	out := map[attribute.Distinct]uint64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			require.Equal(t, "s", m.Unit)
			h, ok := m.Data.(metricdata.Histogram[float64])
			require.True(t, ok, "%s is a histogram of seconds", name)
			for _, dp := range h.DataPoints {
				out[dp.Attributes.Equivalent()] = dp.Count
			}
		}
	}
	return out
}

func set(kv ...attribute.KeyValue) attribute.Distinct {
	s := attribute.NewSet(kv...)
	return s.Equivalent()
}

// A request is one server span, child of the traceparent it carries and named by its route once
// served, and one count in http.server.request.duration under its method, scheme, status and
// route; a method the conventions do not name is counted as _OTHER.
func TestHTTP(t *testing.T) {
	tp, rec, reader := instrumented(t)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/things/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Traceparent") != "" {
			require.Equal(t, parentTrace, trace.SpanContextFromContext(r.Context()).TraceID().String(), "the handler runs in the caller's trace")
		}
		w.WriteHeader(http.StatusCreated)
	})
	mux.HandleFunc("GET /v1/broken", func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "broken", http.StatusInternalServerError)
	})
	mux.HandleFunc("GET /v1/panics", func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) })
	mux.HandleFunc("/v1/flushed", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("part"))
		require.NoError(t, http.NewResponseController(w).Flush(), "the server's writer is reachable")
	})
	srv := httptest.NewServer(HTTP(mux, tp))
	defer srv.Close()
	do := func(method, path string, header ...string) int {
		req, err := http.NewRequest(method, srv.URL+path, nil)
		require.NoError(t, err)
		for i := 0; i < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		r, err := srv.Client().Do(req)
		require.NoError(t, err)
		r.Body.Close()
		return r.StatusCode
	}
	require.Equal(t, http.StatusCreated, do(http.MethodPost, "/v1/things/1", "Traceparent", incomingParent))
	require.Equal(t, http.StatusCreated, do(http.MethodPost, "/v1/things/2"))
	require.Equal(t, http.StatusInternalServerError, do(http.MethodGet, "/v1/broken"))
	require.Equal(t, http.StatusOK, do("BREW", "/v1/flushed"))
	_, err := srv.Client().Get(srv.URL + "/v1/panics")
	require.Error(t, err, "a handler's panic closes the connection")
	srv.Close() // waits for the handlers, and so their spans' ends

	spans := rec.Ended()
	require.Len(t, spans, 5, "a panicking handler's span is ended too")
	require.Equal(t, "GET /v1/panics", spans[4].Name())
	require.Equal(t, codes.Error, spans[4].Status().Code, "a panic is a server fault")
	first := spans[0]
	require.Equal(t, "POST /v1/things/{id}", first.Name())
	require.Equal(t, trace.SpanKindServer, first.SpanKind())
	require.Equal(t, parentTrace, first.SpanContext().TraceID().String())
	require.Equal(t, parentSpan, first.Parent().SpanID().String())
	require.True(t, first.Parent().IsRemote())
	require.Contains(t, first.Attributes(), attribute.String("http.route", "/v1/things/{id}"))
	require.Contains(t, first.Attributes(), attribute.Int("http.response.status_code", http.StatusCreated))
	require.Contains(t, first.Attributes(), attribute.String("url.path", "/v1/things/1"))
	require.NotEqual(t, parentTrace, spans[1].SpanContext().TraceID().String(), "a request without one starts a trace")
	require.Equal(t, codes.Error, spans[2].Status().Code, "a 5xx is an error")
	require.Equal(t, codes.Unset, first.Status().Code)
	require.Equal(t, "HTTP /v1/flushed", spans[3].Name())
	require.Contains(t, spans[3].Attributes(), attribute.String("http.request.method_original", "BREW"))

	got := counts(t, reader, "http.server.request.duration")
	require.Equal(t, map[attribute.Distinct]uint64{
		set(attribute.String("http.request.method", "POST"), attribute.String("url.scheme", "http"),
			attribute.Int("http.response.status_code", 201), attribute.String("http.route", "/v1/things/{id}")): 2,
		set(attribute.String("http.request.method", "GET"), attribute.String("url.scheme", "http"),
			attribute.Int("http.response.status_code", 500), attribute.String("http.route", "/v1/broken")): 1,
		set(attribute.String("http.request.method", "_OTHER"), attribute.String("url.scheme", "http"),
			attribute.Int("http.response.status_code", 200), attribute.String("http.route", "/v1/flushed")): 1,
		set(attribute.String("http.request.method", "GET"), attribute.String("url.scheme", "http"),
			attribute.Int("http.response.status_code", 500), attribute.String("http.route", "/v1/panics")): 1,
	}, got)
}

type testService struct {
	testgrpc.UnimplementedTestServiceServer
}

func (testService) EmptyCall(context.Context, *testgrpc.Empty) (*testgrpc.Empty, error) {
	return &testgrpc.Empty{}, nil
}

func (testService) UnaryCall(context.Context, *testgrpc.SimpleRequest) (*testgrpc.SimpleResponse, error) {
	return nil, status.Error(grpccodes.InvalidArgument, "no")
}

// A call over the network is one server span, child of the traceparent in its metadata, and one
// count in rpc.server.call.duration under its method and status code; a code that is the server's
// fault (UNIMPLEMENTED here) is an error span and carries error.type, a client's (INVALID_ARGUMENT)
// neither.
func TestGRPCServer(t *testing.T) {
	tp, rec, reader := instrumented(t)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := grpc.NewServer(grpc.StatsHandler(GRPCServer(tp)))
	testgrpc.RegisterTestServiceServer(s, testService{})
	go func() { _ = s.Serve(lis) }()
	defer s.Stop()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer conn.Close()
	c := testgrpc.NewTestServiceClient(conn)

	ctx := metadata.AppendToOutgoingContext(t.Context(), "traceparent", incomingParent)
	_, err = c.EmptyCall(ctx, &testgrpc.Empty{})
	require.NoError(t, err)
	_, err = c.EmptyCall(t.Context(), &testgrpc.Empty{})
	require.NoError(t, err)
	_, err = c.UnaryCall(t.Context(), &testgrpc.SimpleRequest{})
	require.Equal(t, grpccodes.InvalidArgument, status.Code(err))
	stream, err := c.StreamingOutputCall(t.Context(), &testgrpc.StreamingOutputCallRequest{})
	require.NoError(t, err)
	_, err = stream.Recv()
	require.Equal(t, grpccodes.Unimplemented, status.Code(err))

	// A server span ends just after its client has the answer: the server is stopped (its calls
	// finished) before the spans are read, and they are found by name.
	conn.Close()
	s.GracefulStop()
	byName := map[string][]sdktrace.ReadOnlySpan{}
	for _, sp := range rec.Ended() {
		require.Equal(t, trace.SpanKindServer, sp.SpanKind())
		byName[sp.Name()] = append(byName[sp.Name()], sp)
	}
	empty := byName["grpc.testing.TestService/EmptyCall"]
	require.Len(t, empty, 2)
	var traces []string
	for _, sp := range empty {
		require.Contains(t, sp.Attributes(), attribute.String("rpc.response.status_code", "OK"))
		traces = append(traces, sp.SpanContext().TraceID().String())
		if sp.Parent().IsValid() {
			require.Equal(t, parentSpan, sp.Parent().SpanID().String())
		}
	}
	require.Contains(t, traces, parentTrace, "the call with a traceparent continues its trace")
	require.NotEqual(t, traces[0], traces[1], "the call without one starts a trace")
	require.Len(t, byName["grpc.testing.TestService/UnaryCall"], 1)
	require.Equal(t, codes.Unset, byName["grpc.testing.TestService/UnaryCall"][0].Status().Code, "INVALID_ARGUMENT is the client's")
	require.Len(t, byName["grpc.testing.TestService/StreamingOutputCall"], 1)
	require.Equal(t, codes.Error, byName["grpc.testing.TestService/StreamingOutputCall"][0].Status().Code, "UNIMPLEMENTED is the server's")

	method := func(m string) attribute.KeyValue {
		return attribute.String("rpc.method", "grpc.testing.TestService/"+m)
	}
	sys := attribute.String("rpc.system.name", "grpc")
	got := counts(t, reader, "rpc.server.call.duration")
	require.Equal(t, uint64(2), got[set(method("EmptyCall"), sys, attribute.String("rpc.response.status_code", "OK"))])
	require.Equal(t, uint64(1), got[set(method("UnaryCall"), sys, attribute.String("rpc.response.status_code", "INVALID_ARGUMENT"))])
	require.Equal(t, uint64(1), got[set(method("StreamingOutputCall"), sys, attribute.String("rpc.response.status_code", "UNIMPLEMENTED"),
		attribute.String("error.type", "UNIMPLEMENTED"))])
	require.Len(t, got, 3)
}
