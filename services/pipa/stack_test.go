package main

import (
	"testing"

	"github.com/stretchr/testify/require"

	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	"github.com/pipa-kr/pipa/pkg/modules"
	"github.com/pipa-kr/pipa/pkg/stacktest"
	"github.com/pipa-kr/pipa/services/registry/registrytest"
)

// These tests need PostgreSQL (DATABASE_URL). Each service's behaviour is tested in its own
// module; here are what crosses services (the access log, one trace per call), the binary's
// settings and its two modes, and the journeys over REST.

// stack is the whole pipa (-target=all) on loopback ports over its own fresh database.
type stack struct{ *registrytest.Stack }

func startStack(t testing.TB, opts ...stacktest.Option) *stack {
	return &stack{registrytest.Start(t, built, opts...)}
}

func (s *stack) ledger() ledgerv1.LedgerServiceClient { return ledgerv1.NewLedgerServiceClient(s.Conn) }

// withSettings serves with what the binary makes of c's settings: the public rate limits, the
// trusted proxies and the access log.
func withSettings(t testing.TB, c *config) stacktest.Option {
	httpLimiter, grpcLimiter, err := c.limiters()
	require.NoError(t, err)
	trusted, err := c.trustedProxies()
	require.NoError(t, err)
	return func(mc *modules.Config) {
		mc.HTTPLimiter, mc.GRPCLimiter, mc.Trusted, mc.AccessLog = httpLimiter, grpcLimiter, trusted, c.accessLog
	}
}

// The Jeongeup city library (deploy/examples/jeongeup-library.yaml, seed 000) and its ledger.
const (
	libraryUnit = "tenants/jeongeup/units/library"
	libraryLog  = libraryUnit
	libraryCCTV = libraryUnit + "/policies/cctv"
)
