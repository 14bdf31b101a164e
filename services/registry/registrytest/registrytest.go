// Package registrytest is pkg/stacktest with the registry's seeds: a test starts the services it
// needs, the registry among them, and loads the example institutions of deploy/examples into it
// through the registry's API, as `pipa import` does.
package registrytest

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/pkg/modules"
	"github.com/pipa-kr/pipa/pkg/stacktest"
	"github.com/pipa-kr/pipa/services/registry/policy"
	"github.com/pipa-kr/pipa/services/registry/tenantfile"
)

// Stack is running services, the registry among them.
type Stack struct {
	*stacktest.Stack
	Registry registryv1.RegistryServiceClient
}

// Start runs ms (which include the registry) as stacktest.Start does.
func Start(t testing.TB, ms []modules.Module, opts ...stacktest.Option) *Stack {
	t.Helper()
	s := stacktest.Start(t, ms, opts...)
	return &Stack{Stack: s, Registry: registryv1.NewRegistryServiceClient(s.Conn)}
}

// Load imports the example file name of deploy/examples as a tenant_admin of every tenant. Where
// the ledger runs too, it then waits until the ledger records each published text (the registry
// appends them after the import answers) and every entry of the registry's outbox (its officers'
// role grants, its registers' records), so that a test starts from a settled state.
func (s *Stack) Load(name string) *tenantfile.File {
	s.T().Helper()
	f, err := tenantfile.Load(Example(s.T(), name))
	require.NoError(s.T(), err)
	require.NoError(s.T(), tenantfile.Import(s.Admin(), s.Registry, f, time.Now()))
	h, err := healthpb.NewHealthClient(s.Conn).Check(s.Admin(), &healthpb.HealthCheckRequest{Service: ledgerv1.LedgerService_ServiceDesc.ServiceName})
	if err != nil || h.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		return f
	}
	for _, u := range f.Units {
		for _, p := range u.Policies {
			parent := u.Unit.GetName() + "/policies/" + policy.Segment(p.Kind)
			require.Eventually(s.T(), func() bool {
				list, err := s.Registry.ListPolicyVersions(s.Admin(), &registryv1.ListPolicyVersionsRequest{Parent: parent})
				require.NoError(s.T(), err)
				for _, v := range list.GetPolicyVersions() {
					if v.GetDocument() != nil && v.GetDocument().GetLedgerEntry() == "" {
						return false
					}
				}
				return true
			}, 30*time.Second, 50*time.Millisecond, "%s: the published texts reach the ledger", parent)
		}
	}
	require.Eventually(s.T(), func() bool {
		var pending int
		require.NoError(s.T(), s.DB().QueryRow(s.T().Context(), `SELECT count(*) FROM registry.ledger_outbox
			WHERE ledger_index IS NULL AND refuse_time IS NULL`).Scan(&pending))
		return pending == 0
	}, 60*time.Second, 50*time.Millisecond, "the registry's outbox reaches the ledger")
	return f
}

// Example is the path of deploy/examples/name, found from the test's directory upwards.
func Example(t testing.TB, name string) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return filepath.Join(dir, "deploy", "examples", name)
		}
		parent := filepath.Dir(dir)
		require.NotEqual(t, dir, parent, "no go.work above the test's directory")
		dir = parent
	}
}

// InDays is the Seoul day n days from today, as the API writes dates (YYYY-MM-DD).
func InDays(n int) string { return policy.Today(time.Now()).AddDays(n).String() }

// Published is a date of the API (YYYY-MM-DD) as the public pages print it: "2024. 01. 16.".
func Published(t testing.TB, date string) string {
	t.Helper()
	d, err := time.Parse(time.DateOnly, date)
	require.NoError(t, err)
	return d.Format("2006. 01. 02.")
}
