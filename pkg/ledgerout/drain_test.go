package ledgerout

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// Without the ledger's address (Config.Ledger nil) the drain leaves the entries where they are:
// it neither sends (a nil client) nor touches the database (here, no pool at all).
func TestDrainWithoutLedgerWaits(t *testing.T) {
	w := &drainWorker{o: &Outbox{}}
	require.NoError(t, w.Work(context.Background(), nil))
}
