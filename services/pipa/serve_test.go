package main

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pipa-kr/pipa/pkg/modules"
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
