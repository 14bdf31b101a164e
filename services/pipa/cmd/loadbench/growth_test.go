package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// A smaller scale's units are the first of a larger one's, -units to a tenant, so that one
// database grows from scale to scale.
func TestBenchUnitsGrow(t *testing.T) {
	small, large := benchUnits(100, 40), benchUnits(1000, 40)
	require.Equal(t, small, large[:100])
	require.Equal(t, "tenants/bench-000/units/u-000", large[0])
	require.Equal(t, "tenants/bench-001/units/u-000", large[40])
	require.Equal(t, "tenants/bench-024/units/u-039", large[999])
	require.Equal(t, "bench-024", tenantOf(large[999]))
}

func TestThousands(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 10022: "10,022", 1234567: "1,234,567", -12345: "-12,345"} {
		require.Equal(t, want, thousands(n), "%d", n)
	}
}
