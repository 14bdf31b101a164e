package main

import (
	"flag"
	"testing"

	"github.com/stretchr/testify/require"
)

// PIPA_LEDGER_ORIGIN sets -ledger-origin, the host of every ledger's origin line and key name
// (services/ledger's TestLedgerOrigin serves with it).
func TestLedgerOriginSetting(t *testing.T) {
	const host = "ledger.jeongeup.go.kr"
	t.Setenv("PIPA_LEDGER_ORIGIN", host)
	var c config
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	c.flags(fs)
	require.NoError(t, fs.Parse(nil))
	require.Equal(t, host, c.ledgerOrigin)
	mc, err := c.modules(&listeners{})
	require.NoError(t, err)
	require.Equal(t, host, mc.LedgerOrigin)
}
