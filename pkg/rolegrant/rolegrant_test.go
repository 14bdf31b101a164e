package rolegrant_test

import (
	"context"
	"net"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/pipa-kr/pipa/pkg/auth"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	"github.com/pipa-kr/pipa/pkg/rolegrant"
)

// unreachableLedger is a tracker whose ledger address no longer listens (the ledger stopped),
// and the number of record calls it has tried there.
func unreachableLedger(t *testing.T) (*rolegrant.Tracker, *atomic.Int32) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	var tries atomic.Int32
	count := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		require.Equal(t, ledgerv1.RoleGrantService_RecordRoleGrants_FullMethodName, method)
		tries.Add(1)
		return invoker(ctx, method, req, reply, cc, opts...)
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithUnaryInterceptor(count))
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	token := func() (string, error) { return "service-token", nil }
	return rolegrant.New(rolegrant.Options{Ledger: ledgerv1.NewRoleGrantServiceClient(conn), Token: token}), &tries
}

// S-5: a staff call whose roles cannot be recorded, because the ledger cannot be reached, is
// refused with Unavailable before its handler runs, and is not remembered as recorded: the next
// call tries the ledger again. Calls by pipa's services and unauthenticated calls are not
// recorded, so they go on whatever the ledger's state.
func TestInterceptorUnavailableWithoutLedger_S_5(t *testing.T) {
	t.Parallel()
	tracker, tries := unreachableLedger(t)
	intercept := tracker.Interceptor()
	info := &grpc.UnaryServerInfo{FullMethod: "/pipa.registry.v1.RegistryService/ListSites"}
	served := 0
	handler := func(context.Context, any) (any, error) { served++; return "answer", nil }
	staff := &auth.Principal{Issuer: auth.DevIssuer, Subject: "kim", Name: "김민지",
		Grants: []auth.Grant{{Role: auth.RoleHandler, Scope: "tenants/jeongeup/units/library"}}}

	for try := int32(1); try <= 2; try++ {
		got, err := intercept(auth.NewContext(t.Context(), staff), nil, info, handler)
		require.Equal(t, codes.Unavailable, status.Code(err), "%v", err)
		require.Contains(t, status.Convert(err).Message(), "S-5")
		require.Nil(t, got)
		require.Zero(t, served, "the call does not go on unrecorded")
		require.Equal(t, try, tries.Load(), "each call asks the ledger: a failed record is not remembered")
	}

	service := &auth.Principal{Issuer: auth.DevIssuer, Subject: "pipa", Grants: []auth.Grant{{Role: auth.RoleService, Scope: auth.ScopeAll}}}
	for _, ctx := range []context.Context{auth.NewContext(t.Context(), service), t.Context()} {
		got, err := intercept(ctx, nil, info, handler)
		require.NoError(t, err)
		require.Equal(t, "answer", got)
	}
	require.Equal(t, 2, served)
	require.Equal(t, int32(2), tries.Load(), "neither a service call nor an unauthenticated one is recorded")
}
