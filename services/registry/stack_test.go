package registry_test

import (
	"testing"

	"github.com/stretchr/testify/require"

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

// A stack's DB is one pool however often a test asks for it, not a new pool (and its
// connections to the test's database) a call.
func TestStackDBIsOnePool(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	db := s.DB()
	require.Same(t, db, s.DB())
	require.NoError(t, db.Ping(t.Context()))
}
