package ledgerout_test

import (
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/timestamppb"

	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	"github.com/pipa-kr/pipa/pkg/ledgerout"
	"github.com/pipa-kr/pipa/pkg/pgtest"
)

// A service run without the ledger's address (the registry alone) keeps its entries pending: the
// call's delivery answers ErrNoLedger and the drain sends nothing, where both used to call a nil
// client and crash the process.
func TestWithoutLedgerEntriesWait(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := pgtest.NewMulti(t, []pgtest.Migration{{Schema: "svc", Jobs: true, Outbox: true,
		FS: fstest.MapFS{"00001_svc.sql": {Data: []byte("-- +goose Up\nSELECT 1;\n-- +goose Down\nSELECT 1;\n")}}}})
	jobs, err := river.NewClient(riverpgxv5.New(pool), &river.Config{Schema: "svc"}) // inserts only
	require.NoError(t, err)
	o, err := ledgerout.New(ledgerout.Config{Schema: "svc", Pool: pool})
	require.NoError(t, err)
	o.Use(jobs, nil)
	var id int64
	require.NoError(t, pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) (err error) {
		id, err = o.Enqueue(ctx, tx, "iksan", ledgerout.Entry{Unit: "cctv", Subject: "change", Append: &ledgerv1.AppendEntryRequest{
			Entry: &ledgerv1.Entry{Kind: ledgerv1.EntryKind_ENTRY_KIND_REGISTER, OccurTime: timestamppb.Now(), Purpose: "변경"}}})
		return err
	}))
	_, err = o.Deliver(ctx, "iksan", id)
	require.ErrorIs(t, err, ledgerout.ErrNoLedger)
	n, err := o.DrainPass(ctx, time.Now().Add(time.Minute))
	require.Zero(t, n)
	require.ErrorIs(t, err, ledgerout.ErrNoLedger)
	pending, err := o.Pending(ctx, pool, "iksan", "change")
	require.NoError(t, err)
	require.True(t, pending, "the entry waits for a process with the ledger's address")
}
