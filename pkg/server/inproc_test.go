package server

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/pipa-kr/pipa/pkg/auth"
)

type emptyService struct {
	testgrpc.UnimplementedTestServiceServer
}

func (emptyService) EmptyCall(context.Context, *testgrpc.Empty) (*testgrpc.Empty, error) {
	return &testgrpc.Empty{}, nil
}

// A streaming call in-process is refused, its handler never run: the channel runs only the
// server's unary interceptors, and a stream must not skip authentication.
func TestInProcessRefusesStreams(t *testing.T) {
	ch := InProcess(GRPCOptions{Public: func(string) bool { return true }})
	ran := make(chan struct{}, 1)
	Registrar{ch}.RegisterService(&testgrpc.TestService_ServiceDesc, streamService{ran: ran})
	stream, err := testgrpc.NewTestServiceClient(ch).FullDuplexCall(t.Context())
	require.NoError(t, err)
	_, err = stream.Recv()
	require.Equal(t, codes.Unimplemented, status.Code(err), "%v", err)
	require.Empty(t, ran, "the handler ran")
}

type streamService struct {
	testgrpc.UnimplementedTestServiceServer
	ran chan struct{}
}

func (s streamService) FullDuplexCall(testgrpc.TestService_FullDuplexCallServer) error {
	s.ran <- struct{}{}
	return nil
}

// The in-process channel runs the server's interceptors (a call without a token is refused as
// over the network), and its peer is the edge's client: the last X-Forwarded-For hop, taken off
// (the access location the access log records, S-2-3).
func TestInProcess(t *testing.T) {
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	type seen struct {
		peer string
		xff  []string
	}
	calls := make(chan seen, 4)
	record := func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		p, _ := peer.FromContext(ctx)
		calls <- seen{p.Addr.String(), metadata.ValueFromIncomingContext(ctx, "x-forwarded-for")}
		return h(ctx, req)
	}
	ch := InProcess(GRPCOptions{Verifier: auth.NewDevVerifier(pub), Unary: []grpc.UnaryServerInterceptor{record}})
	g := grpc.NewServer()
	Registrar{g, ch}.RegisterService(&testgrpc.TestService_ServiceDesc, emptyService{})
	healthpb.RegisterHealthServer(Registrar{g, ch}, health.NewServer())
	require.Contains(t, g.GetServiceInfo(), "grpc.testing.TestService", "registered on the server too")

	client := testgrpc.NewTestServiceClient(ch)
	_, err = client.EmptyCall(t.Context(), &testgrpc.Empty{})
	require.Equal(t, codes.Unauthenticated, status.Code(err), "%v", err)

	tok, err := auth.Mint(key, auth.Principal{Subject: "s", Grants: []auth.Grant{{Role: auth.RoleAuditor, Scope: "tenants/t"}}}, time.Hour)
	require.NoError(t, err)
	ctx := metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer "+tok,
		"x-forwarded-for", "198.51.100.1, 203.0.113.7")
	_, err = client.EmptyCall(ctx, &testgrpc.Empty{})
	require.NoError(t, err)
	require.Equal(t, seen{"203.0.113.7:0", []string{"198.51.100.1"}}, <-calls)

	// A probe needs no token; a call without X-Forwarded-For comes from this process.
	_, err = healthpb.NewHealthClient(ch).Check(t.Context(), &healthpb.HealthCheckRequest{})
	require.NoError(t, err)
	require.Equal(t, seen{"127.0.0.1:0", nil}, <-calls)
}

// An in-process call is in its caller's trace, its server span a child of the caller's span,
// with the caller's baggage: one call is one trace without a client span in between, and a trace
// context an HTTP client put in the metadata does not take the call out of the edge's trace.
func TestInProcessTrace(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	prev := otel.GetTextMapPropagator()
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	t.Cleanup(func() { otel.SetTextMapPropagator(prev) })
	bags := make(chan string, 1)
	ch := InProcess(GRPCOptions{Tracer: tp, Public: func(string) bool { return true },
		Unary: []grpc.UnaryServerInterceptor{func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			bags <- baggage.FromContext(ctx).Member("unit").Value()
			return h(ctx, req)
		}}})
	Registrar{ch}.RegisterService(&testgrpc.TestService_ServiceDesc, emptyService{})

	ctx, edge := tp.Tracer("test").Start(t.Context(), "edge")
	m, err := baggage.NewMember("unit", "library")
	require.NoError(t, err)
	b, err := baggage.New(m)
	require.NoError(t, err)
	ctx = baggage.ContextWithBaggage(ctx, b)
	ctx = metadata.AppendToOutgoingContext(ctx, "traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	_, err = testgrpc.NewTestServiceClient(ch).EmptyCall(ctx, &testgrpc.Empty{})
	require.NoError(t, err)
	edge.End()

	require.Equal(t, "library", <-bags)
	spans := rec.Ended()
	require.Len(t, spans, 2, "the edge's span and the call's server span, no client span")
	call := spans[0]
	require.Equal(t, "grpc.testing.TestService/EmptyCall", call.Name())
	require.Equal(t, trace.SpanKindServer, call.SpanKind())
	require.Equal(t, edge.SpanContext().TraceID(), call.SpanContext().TraceID())
	require.Equal(t, edge.SpanContext().SpanID(), call.Parent().SpanID())
}

// A call on Local waits until its services are registered and it is opened, as a call to a gRPC
// server that has not begun serving waits: a call that runs out of time before is answered as a
// gRPC client answers it, and one that waits is served once Local is open.
func TestLocalWaitsForOpen(t *testing.T) {
	l := NewLocal()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	_, err := testgrpc.NewTestServiceClient(l).EmptyCall(ctx, &testgrpc.Empty{})
	require.Equal(t, codes.DeadlineExceeded, status.Code(err), "%v", err)

	done := make(chan error, 1)
	go func() {
		_, err := testgrpc.NewTestServiceClient(l).EmptyCall(t.Context(), &testgrpc.Empty{})
		done <- err
	}()
	ch := InProcess(GRPCOptions{Public: func(string) bool { return true }})
	Registrar{ch}.RegisterService(&testgrpc.TestService_ServiceDesc, emptyService{})
	select {
	case err := <-done:
		t.Fatalf("served before Open: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	l.Open(ch)
	require.NoError(t, <-done)
}
