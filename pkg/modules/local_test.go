package modules_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/pipa-kr/pipa/pkg/accesslog"
	"github.com/pipa-kr/pipa/pkg/apierr"
	"github.com/pipa-kr/pipa/pkg/auth"
	"github.com/pipa-kr/pipa/pkg/modules"
	"github.com/pipa-kr/pipa/pkg/pgtest"
	"github.com/pipa-kr/pipa/pkg/seal"
	"github.com/pipa-kr/pipa/pkg/stacktest"
	"github.com/pipa-kr/pipa/pkg/unitauth"
)

// carried is what a call reached the called service with.
type carried struct {
	auth     []string
	deadline time.Time
	peer     string
	span     trace.SpanContext
	ended    error // the call's context's error when it ended (callee.UnaryCall waiting)
}

// callee is a service that another calls (grpc.testing.TestService): EmptyCall tells the test
// what the call carried; UnaryCall refuses its request as pipa's services do (AIP-193), or, asked
// to fill the username, waits until the call ends and tells the test why it did.
type callee struct {
	testgrpc.UnimplementedTestServiceServer
	seen chan carried
}

func (c callee) EmptyCall(ctx context.Context, _ *testgrpc.Empty) (*testgrpc.Empty, error) {
	dl, _ := ctx.Deadline()
	p, _ := peer.FromContext(ctx)
	c.seen <- carried{auth: metadata.ValueFromIncomingContext(ctx, "authorization"), deadline: dl, peer: p.Addr.String(),
		span: trace.SpanContextFromContext(ctx)}
	return &testgrpc.Empty{}, nil
}

func (c callee) UnaryCall(ctx context.Context, req *testgrpc.SimpleRequest) (*testgrpc.SimpleResponse, error) {
	if req.GetFillUsername() {
		c.seen <- carried{}
		<-ctx.Done()
		c.seen <- carried{ended: ctx.Err()}
		return nil, ctx.Err()
	}
	var vs apierr.Violations
	vs.Add("response_size", "range", "must be at least 1")
	return nil, vs.Err()
}

// caller is a service that calls the callee with its own caller's token, as pipa's services call
// each other (unitauth.ForwardToken), and answers what the callee answered
// (grpc.testing.HookService, its methods only names here): Hook calls EmptyCall, SetReturnStatus
// a refused UnaryCall, ClearReturnStatus a waiting one. It tells the test its own deadline.
type caller struct {
	testgrpc.UnimplementedHookServiceServer
	callee    testgrpc.TestServiceClient
	deadlines chan time.Time
}

func (c caller) Hook(ctx context.Context, _ *testgrpc.Empty) (*testgrpc.Empty, error) {
	dl, _ := ctx.Deadline()
	c.deadlines <- dl
	return c.callee.EmptyCall(unitauth.ForwardToken(ctx), &testgrpc.Empty{})
}

func (c caller) SetReturnStatus(ctx context.Context, _ *testgrpc.SetReturnStatusRequest) (*testgrpc.Empty, error) {
	_, err := c.callee.UnaryCall(unitauth.ForwardToken(ctx), &testgrpc.SimpleRequest{})
	return nil, err
}

func (c caller) ClearReturnStatus(ctx context.Context, _ *testgrpc.Empty) (*testgrpc.Empty, error) {
	_, err := c.callee.UnaryCall(unitauth.ForwardToken(ctx), &testgrpc.SimpleRequest{FillUsername: true})
	return nil, err
}

// In one process a service calls another in-process, as the REST edge does (server.Local), never
// over a connection to its own listener, and the call is the one a network call would be: behind
// the callee's interceptors (the token checked), with the caller's token, deadline, cancellation
// and trace, the callee's error as the callee gave it, and this process (127.0.0.1) as its peer.
func TestServiceCallsStayInProcess(t *testing.T) {
	t.Parallel()
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	seen, deadlines := make(chan carried, 2), make(chan time.Time, 1)
	noREST := func(context.Context, *runtime.ServeMux, grpc.ClientConnInterface) error { return nil }
	back := modules.Module{Name: "back", Service: testgrpc.TestService_ServiceDesc.ServiceName, Gateway: noREST,
		Register: func(g grpc.ServiceRegistrar, _ modules.Deps) error {
			testgrpc.RegisterTestServiceServer(g, callee{seen: seen})
			return nil
		}}
	front := modules.Module{Name: "front", Service: testgrpc.HookService_ServiceDesc.ServiceName, Needs: []string{"back"},
		Public: map[string]bool{testgrpc.HookService_Hook_FullMethodName: true}, Gateway: noREST,
		Register: func(g grpc.ServiceRegistrar, d modules.Deps) error {
			cc, err := d.Conn("back")
			if err != nil {
				return err
			}
			testgrpc.RegisterHookServiceServer(g, caller{callee: testgrpc.NewTestServiceClient(cc), deadlines: deadlines})
			return nil
		}}

	spans := tracetest.NewSpanRecorder()
	lis := &stacktest.Accepting{Listener: stacktest.Listen(t)}
	pool := pgtest.New(t, accesslog.Schema, accesslog.Migrations)
	c := modules.Config{GRPC: lis, HTTP: stacktest.Listen(t), DatabaseURL: pool.Config().ConnString(), Spans: spans,
		Verifier: func(context.Context) (auth.Verifier, error) { return auth.NewDevVerifier(pub), nil },
		Box:      func() (*seal.Box, error) { return nil, errors.New("no data key") }}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- modules.Run(ctx, c, []modules.Module{front, back}, "all") }()
	t.Cleanup(func() {
		cancel()
		if err := <-stopped; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("serve: %v", err)
		}
	})
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	require.NoError(t, stacktest.WaitServing(ctx, conn, front.Service, stopped))

	tok, err := auth.Mint(key, auth.Principal{Subject: "kim", Grants: []auth.Grant{{Role: auth.RoleHandler, Scope: "tenants/t"}}}, time.Hour)
	require.NoError(t, err)
	const traceID = "0af7651916cd43dd8448eb211c80319c"
	call, stop := context.WithTimeout(unitauth.WithToken(t.Context(), tok), 20*time.Second)
	defer stop()
	call = metadata.AppendToOutgoingContext(call, "traceparent", "00-"+traceID+"-b7ad6b7169203331-01")
	hooks := testgrpc.NewHookServiceClient(conn)
	_, err = hooks.Hook(call, &testgrpc.Empty{})
	require.NoError(t, err)
	got, callerDeadline := <-seen, <-deadlines
	require.Equal(t, []string{"Bearer " + tok}, got.auth, "the caller's token")
	require.Equal(t, callerDeadline, got.deadline, "the caller's own deadline")
	require.Equal(t, "127.0.0.1:0", got.peer, "this process, in-process")
	require.Equal(t, traceID, got.span.TraceID().String(), "the caller's trace")
	var frontSpan, backSpan trace.SpanContext
	var backParent trace.SpanID
	for _, sp := range spans.Ended() {
		switch sp.Name() {
		case "grpc.testing.HookService/Hook":
			frontSpan = sp.SpanContext()
		case "grpc.testing.TestService/EmptyCall":
			backSpan, backParent = sp.SpanContext(), sp.Parent().SpanID()
		}
	}
	require.Equal(t, got.span.SpanID(), backSpan.SpanID(), "the callee's server span")
	require.Equal(t, frontSpan.SpanID(), backParent, "a child of the caller's span, no client span between")

	// The callee's interceptors run: a call without a token, which the caller lets in (Hook is
	// public), is refused by the callee, as over the network.
	_, err = hooks.Hook(t.Context(), &testgrpc.Empty{})
	<-deadlines
	require.Equal(t, codes.Unauthenticated, status.Code(err), "%v", err)

	// The callee's refusal reaches the caller's caller whole: code, message and the field.
	_, err = hooks.SetReturnStatus(call, &testgrpc.SetReturnStatusRequest{})
	require.Equal(t, codes.InvalidArgument, status.Code(err), "%v", err)
	vs, _ := stacktest.Details(err)
	require.Len(t, vs, 1)
	require.Equal(t, "response_size", vs[0].GetField())
	require.Equal(t, "must be at least 1", vs[0].GetDescription())

	// Cancelling the first call ends the second.
	waiting, cancelWait := context.WithCancel(call)
	done := make(chan error, 1)
	go func() { _, err := hooks.ClearReturnStatus(waiting, &testgrpc.Empty{}); done <- err }()
	<-seen // the callee is waiting
	cancelWait()
	require.Equal(t, codes.Canceled, status.Code(<-done))
	require.ErrorIs(t, (<-seen).ended, context.Canceled)

	require.Len(t, lis.Accepted(), 1, "one connection to the listener, the test's own: %v", lis.Accepted())
}
