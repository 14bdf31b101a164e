package main

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pipa-kr/pipa/pkg/modules"
	"github.com/pipa-kr/pipa/pkg/stacktest"
)

// Every service is a target of its own; anything else is refused.
func TestTargets(t *testing.T) {
	for _, name := range []string{"registry", "ledger", "requests", "retention"} {
		run, gw, err := modules.Targets(built, name)
		require.NoError(t, err)
		require.False(t, gw)
		require.Len(t, run, 1)
		require.Equal(t, name, run[0].Name)
	}
	_, _, err := modules.Targets(built, "bogus")
	require.ErrorContains(t, err, "unknown target")
	run, gw, err := modules.Targets(built, "all")
	require.NoError(t, err)
	require.True(t, gw)
	require.Len(t, run, len(built))
}

// A service started without the address of a service it needs does not start, and says which
// setting is missing.
func TestMissingNeedIsAStartError(t *testing.T) {
	t.Parallel()
	err := serve(context.Background(), &config{target: "retention", registryAddr: "127.0.0.1:1", ledgerAddr: "127.0.0.1:2"},
		&listeners{grpc: stacktest.Listen(t), http: stacktest.Listen(t)})
	require.EqualError(t, err, "retention needs the requests service: set PIPA_REQUESTS_ADDR (or run both here: -target=all)")
}

// `pipa targets` lists the module graph that serve follows.
func TestTargetsText(t *testing.T) {
	require.Equal(t, `registry (pipa.registry.v1.RegistryService): needs nothing; wants ledger, requests, retention
ledger (pipa.ledger.v1.LedgerService): needs registry; wants requests
requests (pipa.requests.v1.RequestService): needs registry, ledger; wants retention
retention (pipa.retention.v1.RetentionService): needs registry, ledger, requests
gateway: the REST edge and the public pages over the services' addresses
all: every service and the gateway in one process (monolithic mode)
`, targetsText())
}
