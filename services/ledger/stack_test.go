package ledger_test

import (
	"testing"

	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	"github.com/pipa-kr/pipa/pkg/modules"
	"github.com/pipa-kr/pipa/pkg/stacktest"
	"github.com/pipa-kr/pipa/services/ledger"
	"github.com/pipa-kr/pipa/services/registry"
	"github.com/pipa-kr/pipa/services/registry/registrytest"
)

// These tests need PostgreSQL (DATABASE_URL): each runs the ledger and the registry it asks about
// units, over gRPC and the REST gateway, on a database of its own.

type stack struct{ *registrytest.Stack }

func startStack(t testing.TB, opts ...stacktest.Option) *stack {
	return &stack{registrytest.Start(t, []modules.Module{registry.Module, ledger.Module}, opts...)}
}

func (s *stack) ledger() ledgerv1.LedgerServiceClient { return ledgerv1.NewLedgerServiceClient(s.Conn) }
