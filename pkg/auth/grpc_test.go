package auth

import (
	"context"
	"crypto/ed25519"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// authServer is a real gRPC server on a loopback listener serving grpc's health service, with
// Check public and List and Watch protected. It records the principal each call ran with.
type authServer struct {
	addr string

	mu        sync.Mutex
	principal *Principal
}

func (s *authServer) seen() *Principal {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.principal
}

func (s *authServer) record(ctx context.Context) {
	p, _ := FromContext(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.principal = p
}

func startAuthServer(t *testing.T, v Verifier) *authServer {
	t.Helper()
	s := &authServer{}
	public := func(m string) bool { return m == healthpb.Health_Check_FullMethodName }
	srv := grpc.NewServer(
		grpc.ChainUnaryInterceptor(UnaryServerInterceptor(v, public),
			func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
				s.record(ctx)
				return h(ctx, req)
			}),
		grpc.ChainStreamInterceptor(StreamServerInterceptor(v, public),
			func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
				s.record(ss.Context())
				return h(srv, ss)
			}),
	)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	s.addr = lis.Addr().String()
	return s
}

func dial(t *testing.T, addr string, opts ...grpc.DialOption) healthpb.HealthClient {
	t.Helper()
	conn, err := grpc.NewClient(addr, append(opts, grpc.WithTransportCredentials(insecure.NewCredentials()))...)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	return healthpb.NewHealthClient(conn)
}

func bearer(ctx context.Context, value string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", value)
}

func requireUnauthenticated(t *testing.T, err error, msg string) {
	t.Helper()
	st, ok := status.FromError(err)
	require.True(t, ok, "not a status: %v", err)
	require.Equal(t, codes.Unauthenticated, st.Code(), st.Message())
	require.Equal(t, msg, st.Message())
}

func TestInterceptors(t *testing.T) {
	key := newDevKey(t)
	srv := startAuthServer(t, NewDevVerifier(key.Public().(ed25519.PublicKey)))
	client := dial(t, srv.addr)
	ctx := t.Context()

	good, err := Mint(key, officer, time.Hour)
	require.NoError(t, err)
	forged, err := Mint(newDevKey(t), officer, time.Hour)
	require.NoError(t, err)
	expired, err := mint(key, officer, time.Now().Add(-2*time.Hour), time.Hour)
	require.NoError(t, err)

	t.Run("public method without token", func(t *testing.T) {
		_, err := client.Check(ctx, &healthpb.HealthCheckRequest{})
		require.NoError(t, err)
		require.Nil(t, srv.seen())
	})
	t.Run("public method with a valid token still identifies the caller", func(t *testing.T) {
		_, err := client.Check(bearer(ctx, "Bearer "+good), &healthpb.HealthCheckRequest{})
		require.NoError(t, err)
		require.Equal(t, officer, *srv.seen())
	})
	t.Run("public method with an invalid token", func(t *testing.T) {
		_, err := client.Check(bearer(ctx, "Bearer "+forged), &healthpb.HealthCheckRequest{})
		requireUnauthenticated(t, err, "invalid bearer token")
	})
	t.Run("protected method without token", func(t *testing.T) {
		_, err := client.List(ctx, &healthpb.HealthListRequest{})
		requireUnauthenticated(t, err, "missing bearer token")
	})
	t.Run("protected method with a valid token", func(t *testing.T) {
		_, err := client.List(bearer(ctx, "bearer "+good), &healthpb.HealthListRequest{})
		require.NoError(t, err)
		require.Equal(t, officer, *srv.seen())
	})
	t.Run("forged token", func(t *testing.T) {
		_, err := client.List(bearer(ctx, "Bearer "+forged), &healthpb.HealthListRequest{})
		requireUnauthenticated(t, err, "invalid bearer token")
	})
	t.Run("expired token", func(t *testing.T) {
		_, err := client.List(bearer(ctx, "Bearer "+expired), &healthpb.HealthListRequest{})
		requireUnauthenticated(t, err, "bearer token expired")
	})
	t.Run("not a bearer token", func(t *testing.T) {
		_, err := client.List(bearer(ctx, "Basic dXNlcjpwYXNz"), &healthpb.HealthListRequest{})
		requireUnauthenticated(t, err, `authorization must be "Bearer <token>"`)
	})
	t.Run("two tokens", func(t *testing.T) {
		_, err := client.List(bearer(bearer(ctx, "Bearer "+good), "Bearer "+good), &healthpb.HealthListRequest{})
		requireUnauthenticated(t, err, "more than one authorization header")
	})
	t.Run("stream without token", func(t *testing.T) {
		stream, err := client.Watch(ctx, &healthpb.HealthCheckRequest{})
		require.NoError(t, err)
		_, err = stream.Recv()
		requireUnauthenticated(t, err, "missing bearer token")
	})
	t.Run("stream with a valid token", func(t *testing.T) {
		stream, err := client.Watch(bearer(ctx, "Bearer "+good), &healthpb.HealthCheckRequest{})
		require.NoError(t, err)
		resp, err := stream.Recv()
		require.NoError(t, err)
		require.Equal(t, healthpb.HealthCheckResponse_SERVING, resp.Status)
		require.Equal(t, officer, *srv.seen())
	})
}

func TestServiceToServiceCall(t *testing.T) {
	key := newDevKey(t)
	srv := startAuthServer(t, NewDevVerifier(key.Public().(ed25519.PublicKey)))
	client := dial(t, srv.addr, grpc.WithPerRPCCredentials(PerRPCToken(DevServiceToken(key, time.Hour))))

	_, err := client.List(t.Context(), &healthpb.HealthListRequest{})
	require.NoError(t, err)
	p := srv.seen()
	require.Equal(t, []Grant{{RoleService, ScopeAll}}, p.Grants)
	require.True(t, p.Allows("seongnam", []string{"welfare"}, RoleService))
}
