package retention_test

import (
	"testing"

	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	requestsv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/requests/v1"
	retentionv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/retention/v1"
	"github.com/pipa-kr/pipa/pkg/modules"
	"github.com/pipa-kr/pipa/pkg/stacktest"
	"github.com/pipa-kr/pipa/services/ledger"
	"github.com/pipa-kr/pipa/services/registry"
	"github.com/pipa-kr/pipa/services/registry/registrytest"
	"github.com/pipa-kr/pipa/services/requests"
	"github.com/pipa-kr/pipa/services/retention"
)

// These tests need PostgreSQL (DATABASE_URL): each runs the retention service and the services it
// needs (the registry, the ledger and the request service), over gRPC and the REST gateway, on a
// database of its own.

type stack struct{ *registrytest.Stack }

func startStack(t testing.TB, opts ...stacktest.Option) *stack {
	return startStackWith(t, retention.Module, opts...)
}

// startStackWith is startStack with the retention module given (retention.ModuleWith).
func startStackWith(t testing.TB, m modules.Module, opts ...stacktest.Option) *stack {
	return &stack{registrytest.Start(t, []modules.Module{registry.Module, ledger.Module, requests.Module, m}, opts...)}
}

func (s *stack) retention() retentionv1.RetentionServiceClient {
	return retentionv1.NewRetentionServiceClient(s.Conn)
}

func (s *stack) requests() requestsv1.RequestServiceClient {
	return requestsv1.NewRequestServiceClient(s.Conn)
}

func (s *stack) ledger() ledgerv1.LedgerServiceClient { return ledgerv1.NewLedgerServiceClient(s.Conn) }

// The Jeongeup city library (deploy/examples/jeongeup-library.yaml, seed 000) and its ledger.
const (
	libraryUnit = "tenants/jeongeup/units/library"
	libraryLog  = libraryUnit
)
