package ratelimit

import (
	"context"
	"net"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// startHealth serves grpc's health service on a loopback listener with Check limited by l.
func startHealth(t *testing.T, l *Limiter) healthpb.HealthClient {
	t.Helper()
	srv := grpc.NewServer(grpc.UnaryInterceptor(l.UnaryServerInterceptor(func(m string) bool {
		return m == healthpb.Health_Check_FullMethodName
	})))
	healthpb.RegisterHealthServer(srv, health.NewServer())
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)

	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	return healthpb.NewHealthClient(conn)
}

func TestUnaryServerInterceptor(t *testing.T) {
	l, _ := newTestLimiter(0.2, 2) // a token every 5 s
	client := startHealth(t, l)
	ctx := t.Context()

	for range 2 {
		_, err := client.Check(ctx, &healthpb.HealthCheckRequest{})
		require.NoError(t, err)
	}
	var header metadata.MD
	_, err := client.Check(ctx, &healthpb.HealthCheckRequest{}, grpc.Header(&header))
	require.Equal(t, codes.ResourceExhausted, status.Code(err))
	require.Equal(t, "rate limit exceeded, retry later", status.Convert(err).Message())
	require.Equal(t, []string{"5"}, header.Get("retry-after"))

	_, err = client.List(ctx, &healthpb.HealthListRequest{})
	require.NoError(t, err, "unmatched methods are not limited")
}

func TestUnaryServerInterceptorTrustedPeer(t *testing.T) {
	from := func(ctx context.Context, client string) context.Context {
		return metadata.AppendToOutgoingContext(ctx, "x-forwarded-for", client)
	}
	check := func(client healthpb.HealthClient, ctx context.Context) codes.Code {
		_, err := client.Check(ctx, &healthpb.HealthCheckRequest{})
		return status.Code(err)
	}

	// The gateway on loopback is trusted: the clients it forwards are counted apart.
	l, _ := newTestLimiter(1, 1, WithTrustedProxies(netip.MustParsePrefix("127.0.0.0/8")))
	gateway := startHealth(t, l)
	ctx := t.Context()
	require.Equal(t, codes.OK, check(gateway, from(ctx, "203.0.113.1")))
	require.Equal(t, codes.OK, check(gateway, from(ctx, "203.0.113.2")))
	require.Equal(t, codes.ResourceExhausted, check(gateway, from(ctx, "203.0.113.1")))

	// Without trust, x-forwarded-for is ignored and the peer is counted.
	l, _ = newTestLimiter(1, 1)
	untrusted := startHealth(t, l)
	require.Equal(t, codes.OK, check(untrusted, from(ctx, "203.0.113.1")))
	require.Equal(t, codes.ResourceExhausted, check(untrusted, from(ctx, "203.0.113.2")))
}

func TestUnaryServerInterceptorDisabled(t *testing.T) {
	client := startHealth(t, New(0, 1))
	for range 20 {
		_, err := client.Check(t.Context(), &healthpb.HealthCheckRequest{})
		require.NoError(t, err)
	}
}
