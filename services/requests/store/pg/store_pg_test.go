package pg_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	requestsv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/requests/v1"
	"github.com/pipa-kr/pipa/pkg/pgtest"
	"github.com/pipa-kr/pipa/pkg/seal"
	"github.com/pipa-kr/pipa/pkg/seoul"
	"github.com/pipa-kr/pipa/services/requests/store/pg"
)

func newStore(t *testing.T) *pg.Store {
	t.Helper()
	pool := pgtest.NewMulti(t, []pgtest.Migration{{Schema: pg.Schema, FS: pg.Migrations, Jobs: true}})
	key := make([]byte, seal.KeySize)
	_, _ = rand.Read(key)
	box, err := seal.New(map[string][]byte{"k1": key}, "k1")
	require.NoError(t, err)
	jobs, err := river.NewClient(riverpgxv5.New(pool), &river.Config{Schema: pg.Schema}) // inserts only
	require.NoError(t, err)
	return pg.New(pool, box, jobs)
}

func create(t *testing.T, s *pg.Store, tenant string) *pg.Record {
	t.Helper()
	rec, err := s.Create(context.Background(), tenant, "library", "R", time.Now(), pg.Idem{}, func(string) (*pg.Record, error) {
		return &pg.Record{Doc: &requestsv1.Request{Type: requestsv1.RequestType_REQUEST_TYPE_ACCESS,
			State: requestsv1.RequestState_REQUEST_STATE_RECEIVED}, Personal: pg.Personal{Requester: &requestsv1.Person{Name: "김민원"}}}, nil
	})
	require.NoError(t, err)
	return rec
}

// Two steps written with a request: the second follows the first. When the ledger refuses the
// first, the step is settled as failed (not retried for ever) and the second cannot follow it;
// the outbox counts say so for the operator.
func TestOutboxFailedStepStopsItsFollowers(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	rec := create(t, s, "jeongeup")
	receipt := rec.Doc.GetReceiptNumber()
	entry := func() *ledgerv1.AppendEntryRequest {
		return &ledgerv1.AppendEntryRequest{Parent: "tenants/jeongeup/units/library", Entry: &ledgerv1.Entry{Note: "x"}}
	}
	_, seqs, err := s.Transition(ctx, "jeongeup", "library", receipt, "", func(*pg.Record) (*pg.Change, error) {
		return &pg.Change{Steps: []pg.Step{{Name: "verifyIdentity", Entry: entry()}, {Name: "approve", Entry: entry(), Follows: 1}}}, nil
	})
	require.NoError(t, err)
	require.Equal(t, []int{1, 2}, seqs)

	_, err = s.Step(ctx, "jeongeup", receipt, 2)
	require.ErrorIs(t, err, pg.ErrFollowedPending)
	pending, failed, err := s.OutboxCounts(ctx)
	require.NoError(t, err)
	require.Equal(t, [2]int64{2, 0}, [2]int64{pending, failed})

	require.NoError(t, s.Failed(ctx, "jeongeup", receipt, 1, "entry.note: too long"))
	st, err := s.Step(ctx, "jeongeup", receipt, 1)
	require.NoError(t, err)
	require.Equal(t, "entry.note: too long", st.Failed)
	_, err = s.Step(ctx, "jeongeup", receipt, 2)
	require.ErrorIs(t, err, pg.ErrFollowedFailed)
	require.NoError(t, s.Delivered(ctx, "jeongeup", receipt, 1, 7), "a late success does not overwrite the failure")
	got, err := s.Get(ctx, "jeongeup", "library", receipt)
	require.NoError(t, err)
	require.Equal(t, "entry.note: too long", got.Doc.GetLedger()[0].GetFailure())
	require.False(t, got.Doc.GetLedger()[0].GetPending())
	pending, failed, err = s.OutboxCounts(ctx)
	require.NoError(t, err)
	require.Equal(t, [2]int64{1, 1}, [2]int64{pending, failed})
}

// Receipt numbers count per tenant and year without gaps, however many intakes run at once, and a
// request of one tenant is not found under another's name.
func TestReceiptsPerTenantAndIsolation(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	done := make(chan string, 20)
	for i := range 20 {
		go func() {
			tenant := []string{"jeongeup", "iksan"}[i%2]
			rec, err := s.Create(ctx, tenant, "library", "R", time.Now(), pg.Idem{}, func(string) (*pg.Record, error) {
				return &pg.Record{Doc: &requestsv1.Request{Type: requestsv1.RequestType_REQUEST_TYPE_ACCESS}}, nil
			})
			if err != nil {
				done <- "error: " + err.Error()
				return
			}
			done <- tenant + "/" + rec.Doc.GetReceiptNumber()
		}()
	}
	seen := map[string]bool{}
	for range 20 {
		seen[<-done] = true
	}
	year := time.Now().In(seoul.Location).Year()
	for _, tenant := range []string{"jeongeup", "iksan"} {
		for n := 1; n <= 10; n++ {
			require.True(t, seen[tenant+"/"+receiptNumber(year, n)], "%s %d in %v", tenant, n, seen)
		}
	}
	_, err := s.Get(ctx, "iksan", "library", receiptNumber(year, 11))
	require.Error(t, err)
	_, _, err = s.Transition(ctx, "iksan", "other-unit", receiptNumber(year, 1), "", func(*pg.Record) (*pg.Change, error) {
		return &pg.Change{}, nil
	})
	require.Error(t, err, "a unit does not reach another unit's request")
	_, err = s.Get(ctx, "seongnam", "library", receiptNumber(year, 1))
	require.Error(t, err, "nor a tenant another tenant's")
}

func receiptNumber(year, n int) string { return fmt.Sprintf("R-%d-%06d", year, n) }
