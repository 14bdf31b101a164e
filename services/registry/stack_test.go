package registry_test

import (
	"testing"

	"github.com/pipa-kr/pipa/pkg/modules"
	"github.com/pipa-kr/pipa/pkg/stacktest"
	"github.com/pipa-kr/pipa/services/registry"
	"github.com/pipa-kr/pipa/services/registry/registrytest"
)

// These tests need PostgreSQL (DATABASE_URL): each runs the registry alone, over gRPC and the
// REST gateway, on a database of its own.

type stack = registrytest.Stack

func startStack(t testing.TB, opts ...stacktest.Option) *stack {
	return registrytest.Start(t, []modules.Module{registry.Module}, opts...)
}
