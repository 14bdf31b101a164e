package pg_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"io/fs"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pipa-kr/pipa/pkg/apierr"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	requestsv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/requests/v1"
	"github.com/pipa-kr/pipa/pkg/ledgerout"
	"github.com/pipa-kr/pipa/pkg/outbound"
	"github.com/pipa-kr/pipa/pkg/pgdb"
	"github.com/pipa-kr/pipa/pkg/pgtest"
	"github.com/pipa-kr/pipa/pkg/seal"
	"github.com/pipa-kr/pipa/pkg/seoul"
	"github.com/pipa-kr/pipa/pkg/unitauth"
	"github.com/pipa-kr/pipa/services/ledger/ledgertest"
	ledgerpg "github.com/pipa-kr/pipa/services/ledger/store/pg"
	"github.com/pipa-kr/pipa/services/requests/request"
	"github.com/pipa-kr/pipa/services/requests/store/pg"
)

type fixture struct {
	pool   *pgxpool.Pool
	box    *seal.Box
	store  *pg.Store
	outbox *ledgerout.Outbox
	ledger ledgerv1.LedgerServiceClient
	token  func() (string, error)
}

// newFixture is the store on a fresh database, its outbox delivering to a real ledger over gRPC;
// the job queue only inserts.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	pool := pgtest.NewMulti(t, []pgtest.Migration{{Schema: ledgerpg.Schema, FS: ledgerpg.Migrations},
		{Schema: pg.Schema, FS: pg.Migrations, Jobs: true, Outbox: true, Outbound: true}})
	dataKey := make([]byte, seal.KeySize)
	_, _ = rand.Read(dataKey)
	box, err := seal.New(map[string][]byte{"k1": dataKey}, "k1")
	require.NoError(t, err)
	client, token := ledgertest.Serve(t, pool, box)
	outbox, err := ledgerout.New(ledgerout.Config{Schema: pg.Schema, Pool: pool, Box: box, Ledger: client, Token: token})
	require.NoError(t, err)
	jobs, err := river.NewClient(riverpgxv5.New(pool), &river.Config{Schema: pg.Schema}) // inserts only
	require.NoError(t, err)
	out, err := outbound.New(outbound.Config{Schema: pg.Schema, Pool: pool, Box: box}) // writes only: not started
	require.NoError(t, err)
	store := pg.New(pool, box, jobs, outbox, out)
	outbox.Use(jobs, store)
	return &fixture{pool: pool, box: box, store: store, outbox: outbox, ledger: client, token: token}
}

func draft(tenant string) *request.Request {
	return &request.Request{Tenant: tenant, Unit: "library", Doc: &requestsv1.Request{Type: requestsv1.RequestType_REQUEST_TYPE_ACCESS,
		State: requestsv1.RequestState_REQUEST_STATE_RECEIVED}, Personal: request.Personal{Requester: &requestsv1.Person{Name: "김민원"}}}
}

func (f *fixture) create(t *testing.T, tenant string) *request.Request {
	t.Helper()
	r, err := f.store.Create(context.Background(), draft(tenant), "R", time.Now(), pg.Idem{})
	require.NoError(t, err)
	return r
}

func viewing(r *request.Request) *ledgerv1.AppendEntryRequest {
	return &ledgerv1.AppendEntryRequest{Entry: &ledgerv1.Entry{Kind: ledgerv1.EntryKind_ENTRY_KIND_VIEWING,
		OccurTime: timestamppb.Now(), FileName: "열람", Purpose: "열람 요구 처리", Handler: "주무관", Request: r.Doc.GetName(),
		RequesterName: "김민원", RequesterContact: "010-0000-0000"}}
}

func progress(r *request.Request) *ledgerv1.AppendEntryRequest {
	return &ledgerv1.AppendEntryRequest{Entry: &ledgerv1.Entry{Kind: ledgerv1.EntryKind_ENTRY_KIND_AMENDMENT,
		AmendmentKind: ledgerv1.AmendmentKind_AMENDMENT_KIND_PROGRESS, Follows: proto.Int64(0), OccurTime: timestamppb.Now(),
		Handler: "주무관", Note: "종결", Request: r.Doc.GetName()}}
}

// A step's entry is written with it, as the request's record: pending until delivered, then with
// its index; a later step's amendment follows the first entry. While an entry waits, the request's
// personal data are not erased (its sealed copy names the requester); once all are in the ledger,
// erasure forgets the outbox's copies too.
func TestTransitionRecordsItsEntries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	r := f.create(t, "jeongeup")
	receipt := r.Doc.GetReceiptNumber()
	step := func(name string, e *ledgerv1.AppendEntryRequest, follows bool, state requestsv1.RequestState) int64 {
		_, id, err := f.store.Transition(ctx, "jeongeup", "library", receipt, "", pg.Idem{}, func(r *request.Request) (request.Outcome, error) {
			r.Doc.State = state
			return request.Outcome{Entry: &request.LedgerEntry{Step: name, Append: e, Follows: follows},
				Closed: state == requestsv1.RequestState_REQUEST_STATE_CLOSED}, nil
		})
		require.NoError(t, err)
		return id
	}
	first := step("verifyIdentity", viewing(r), false, requestsv1.RequestState_REQUEST_STATE_VERIFIED)
	got, err := f.store.Get(ctx, "jeongeup", "library", receipt)
	require.NoError(t, err)
	require.Len(t, got.Doc.GetLedger(), 1)
	require.True(t, got.Doc.GetLedger()[0].GetPending())
	require.Equal(t, "verifyIdentity", got.Doc.GetLedger()[0].GetStep())
	second := step("close", progress(r), true, requestsv1.RequestState_REQUEST_STATE_CLOSED)

	_, err = f.store.Erase(ctx, "jeongeup", "library", receipt, pg.Idem{}, request.Erase)
	var e *apierr.Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, "LEDGER_PENDING", e.Reason)

	_, err = f.outbox.Deliver(ctx, "jeongeup", second)
	require.ErrorIs(t, err, ledgerout.ErrWaiting, "the amendment waits for the entry it follows")
	a, err := f.outbox.Deliver(ctx, "jeongeup", first)
	require.NoError(t, err)
	b, err := f.outbox.Deliver(ctx, "jeongeup", second)
	require.NoError(t, err)
	got, err = f.store.Get(ctx, "jeongeup", "library", receipt)
	require.NoError(t, err)
	require.Equal(t, []int64{a.Index, b.Index}, []int64{got.Doc.GetLedger()[0].GetIndex(), got.Doc.GetLedger()[1].GetIndex()})
	require.Equal(t, "tenants/jeongeup/units/library/ledger/entries/0", got.Doc.GetLedger()[0].GetEntry())

	erased, err := f.store.Erase(ctx, "jeongeup", "library", receipt, pg.Idem{}, request.Erase)
	require.NoError(t, err)
	require.NotNil(t, erased.Doc.GetEraseTime())
	require.Nil(t, erased.Personal.Requester)
	var kept int
	require.NoError(t, f.pool.QueryRow(ctx, `SELECT count(*) FROM requests.ledger_outbox WHERE subject = $1 AND entry IS NOT NULL`,
		receipt).Scan(&kept))
	require.Zero(t, kept, "the outbox's copies are forgotten")
}

// Receipt numbers count per tenant and year without gaps, however many intakes run at once, and a
// request of one tenant is not found under another's name.
func TestReceiptsPerTenantAndIsolation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	done := make(chan string, 20)
	for i := range 20 {
		go func() {
			tenant := []string{"jeongeup", "iksan"}[i%2]
			r, err := f.store.Create(ctx, draft(tenant), "R", time.Now(), pg.Idem{})
			if err != nil {
				done <- "error: " + err.Error()
				return
			}
			done <- tenant + "/" + r.Doc.GetReceiptNumber()
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
	_, err := f.store.Get(ctx, "iksan", "library", receiptNumber(year, 11))
	require.Error(t, err)
	_, _, err = f.store.Transition(ctx, "iksan", "other-unit", receiptNumber(year, 1), "", pg.Idem{}, func(*request.Request) (request.Outcome, error) {
		return request.Outcome{}, nil
	})
	require.Error(t, err, "a unit does not reach another unit's request")
	_, err = f.store.Get(ctx, "seongnam", "library", receiptNumber(year, 1))
	require.Error(t, err, "nor a tenant another tenant's")
}

func receiptNumber(year, n int) string { return fmt.Sprintf("R-%d-%06d", year, n) }

// An intake that has taken its number and is held up (here on another transaction's row with
// that receipt) does not hold up the tenant's next intake, which takes the next number and
// commits (migration 00004: one counter row locked until commit made them wait in turn). The
// numbers stay unique, and one taken by an intake that failed is not given out again.
func TestReceiptsDoNotWaitForEachOther(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	year := time.Now().In(seoul.Location).Year()
	require.Equal(t, receiptNumber(year, 1), f.create(t, "jeongeup").Doc.GetReceiptNumber())

	blocker, err := f.pool.Begin(ctx)
	require.NoError(t, err)
	_, err = blocker.Exec(ctx, `INSERT INTO requests.requests (tenant_id, receipt, unit_id, type, state, doc, personal,
		secret_hash, receive_time, create_time, update_time) VALUES ('jeongeup', $1, 'library', 1, 1, '', '', '', now(), now(), now())`,
		receiptNumber(year, 2))
	require.NoError(t, err)
	held := make(chan *request.Request, 1)
	go func() {
		r, err := f.store.Create(ctx, draft("jeongeup"), "R", time.Now(), pg.Idem{})
		assert.NoError(t, err)
		held <- r
	}()
	require.Eventually(t, func() bool {
		var waiting bool
		require.NoError(t, f.pool.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_stat_activity WHERE wait_event_type = 'Lock'
			AND datname = current_database() AND query LIKE 'INSERT INTO requests.requests%')`).Scan(&waiting))
		return waiting
	}, 30*time.Second, 10*time.Millisecond, "the first intake waits on receipt 2")

	within, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	next, err := f.store.Create(within, draft("jeongeup"), "R", time.Now(), pg.Idem{})
	require.NoError(t, err, "the next intake does not wait for the held one")
	require.Equal(t, receiptNumber(year, 3), next.Doc.GetReceiptNumber())

	require.NoError(t, blocker.Rollback(ctx))
	require.Equal(t, receiptNumber(year, 2), (<-held).Doc.GetReceiptNumber())

	// A failed intake's number is not given out again: with receipt 5 taken, the intake that draws 4
	// succeeds, the one that draws 5 fails, and the next draws 6 (5 is a gap in its own numbers).
	_, err = f.pool.Exec(ctx, `INSERT INTO requests.requests (tenant_id, receipt, unit_id, type, state, doc, personal,
		secret_hash, receive_time, create_time, update_time) VALUES ('jeongeup', $1, 'library', 1, 1, '', '', '', now(), now(), now())`,
		receiptNumber(year, 5))
	require.NoError(t, err)
	require.Equal(t, receiptNumber(year, 4), f.create(t, "jeongeup").Doc.GetReceiptNumber())
	_, err = f.store.Create(ctx, draft("jeongeup"), "R", time.Now(), pg.Idem{})
	require.Error(t, err)
	require.Equal(t, receiptNumber(year, 6), f.create(t, "jeongeup").Doc.GetReceiptNumber())
}

// A receipt sequence the store has cached and that is gone (the schema migrated down and up,
// which numbers the receipts rows afresh and so renames their sequences) is looked up again: the
// intake takes the next number of the sequence now named for its row, rather than failing until
// the process restarts.
func TestReceiptSequenceLookedUpAgain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	year := time.Now().In(seoul.Location).Year()
	require.Equal(t, receiptNumber(year, 1), f.create(t, "jeongeup").Doc.GetReceiptNumber())
	var old, renamed int64
	require.NoError(t, f.pool.QueryRow(ctx, `SELECT id FROM requests.receipts WHERE tenant_id = 'jeongeup'`).Scan(&old))
	require.NoError(t, f.pool.QueryRow(ctx, `UPDATE requests.receipts SET id = DEFAULT WHERE tenant_id = 'jeongeup'
		RETURNING id`).Scan(&renamed))
	_, err := f.pool.Exec(ctx, fmt.Sprintf(`ALTER SEQUENCE requests.receipt_%d RENAME TO receipt_%d`, old, renamed))
	require.NoError(t, err)
	require.Equal(t, receiptNumber(year, 2), f.create(t, "jeongeup").Doc.GetReceiptNumber())
}

// Upgrading from the counter rows of 00001 to the sequences of 00004 carries each tenant's count
// on: the next number follows the last one given.
func TestReceiptCountersBecomeSequences(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	before := fstest.MapFS{}
	for _, name := range []string{"00001_requests.sql", "00002_steps_to_ledger_outbox.sql", "00003_breaches.sql"} {
		b, err := fs.ReadFile(pg.Migrations, name)
		require.NoError(t, err)
		before[name] = &fstest.MapFile{Data: b}
	}
	pool := pgtest.New(t, pg.Schema, before)
	_, err := pool.Exec(ctx, `INSERT INTO requests.receipts (tenant_id, prefix, year, last)
		VALUES ('jeongeup', 'R', 2026, 41), ('jeongeup', 'P', 2026, 7), ('iksan', 'R', 2026, 1)`)
	require.NoError(t, err)
	require.NoError(t, pgdb.Migrate(ctx, pool, pg.Schema, pg.Migrations))
	for _, c := range []struct {
		tenant, prefix string
		next           int64
	}{{"jeongeup", "R", 42}, {"jeongeup", "P", 8}, {"iksan", "R", 2}} {
		var next int64
		require.NoError(t, pool.QueryRow(ctx, `SELECT nextval(format('requests.receipt_%s', id)) FROM requests.receipts
			WHERE tenant_id = $1 AND prefix = $2 AND year = 2026`, c.tenant, c.prefix).Scan(&next))
		require.Equal(t, c.next, next, "%s %s", c.tenant, c.prefix)
	}
}

// legacySteps is requests.steps as migration 00001 made it: the outbox before pkg/ledgerout.
const legacySteps = `CREATE TABLE requests.steps (
  tenant_id text NOT NULL, receipt text NOT NULL, seq int NOT NULL, step text NOT NULL, entry bytea NOT NULL,
  follows_seq int, ledger_index bigint, fail_reason text, deliver_time timestamptz, create_time timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, receipt, seq), FOREIGN KEY (tenant_id, receipt) REFERENCES requests.requests)`

// An upgrade carries the steps of the older outbox over: a delivered step keeps its index, a
// refused one its refusal, and a pending one — with the amendment that follows it — is delivered
// from the new outbox under the request_id it was first written with, so a step the old version
// had appended in fact (its answer lost) is not appended twice. The old table goes.
func TestAdoptSteps(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	_, err := f.pool.Exec(ctx, legacySteps)
	require.NoError(t, err)
	done, pending, refused := f.create(t, "jeongeup"), f.create(t, "jeongeup"), f.create(t, "jeongeup")
	oldID := func(r *request.Request, seq int) string {
		return fmt.Sprintf("requests/%s/%d/%d", r.Doc.GetReceiptNumber(), r.Created.UnixMicro(), seq)
	}
	// The old version appended the pending request's first step, but its answer was lost.
	first := viewing(pending)
	first.Parent, first.RequestId = "tenants/jeongeup/units/library", oldID(pending, 1)
	ctxSvc := f.service(t)
	appended, err := f.ledger.AppendEntry(ctxSvc, first)
	require.NoError(t, err)
	insert := func(r *request.Request, seq int, step string, e *ledgerv1.AppendEntryRequest, follows, index, failed any) {
		b, err := proto.Marshal(e)
		require.NoError(t, err)
		sealed, err := f.box.Seal(b, fmt.Appendf(nil, "pipa/requests step\x00%s\x00%s\x00%d", r.Tenant, r.Doc.GetReceiptNumber(), seq))
		require.NoError(t, err)
		_, err = f.pool.Exec(ctx, `INSERT INTO requests.steps (tenant_id, receipt, seq, step, entry, follows_seq, ledger_index,
			fail_reason, create_time) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now())`,
			r.Tenant, r.Doc.GetReceiptNumber(), seq, step, sealed, follows, index, failed)
		require.NoError(t, err)
	}
	insert(done, 1, "verifyIdentity", viewing(done), nil, 41, nil)
	insert(pending, 1, "verifyIdentity", first, nil, nil, nil)
	insert(pending, 2, "close", progress(pending), 1, nil, nil)
	insert(refused, 1, "verifyIdentity", viewing(refused), nil, nil, "entry.note: too long")

	require.NoError(t, f.store.AdoptSteps(ctx))
	require.NoError(t, f.store.AdoptSteps(ctx), "once the table is gone, nothing to do")
	var exists bool
	require.NoError(t, f.pool.QueryRow(ctx, `SELECT to_regclass('requests.steps') IS NOT NULL`).Scan(&exists))
	require.False(t, exists)

	get := func(r *request.Request) *request.Request {
		got, err := f.store.Get(ctx, "jeongeup", "library", r.Doc.GetReceiptNumber())
		require.NoError(t, err)
		return got
	}
	require.EqualValues(t, 41, get(done).Doc.GetLedger()[0].GetIndex())
	require.Equal(t, "entry.note: too long", get(refused).Doc.GetLedger()[0].GetFailure())
	p := get(pending)
	require.Len(t, p.Doc.GetLedger(), 2)
	for _, id := range p.Entries {
		_, err := f.outbox.Deliver(ctx, "jeongeup", id)
		require.NoError(t, err)
	}
	p = get(pending)
	require.Equal(t, appended.GetIndex(), p.Doc.GetLedger()[0].GetIndex(), "the same request_id: the first append, not a second")
	amend, err := f.ledger.GetEntry(ctxSvc, &ledgerv1.GetEntryRequest{Name: p.Doc.GetLedger()[1].GetEntry()})
	require.NoError(t, err)
	require.Equal(t, appended.GetIndex(), amend.GetFollows())
}

// service is a context carrying the service credential.
func (f *fixture) service(t *testing.T) context.Context {
	tok, err := f.token()
	require.NoError(t, err)
	return unitauth.WithToken(t.Context(), tok)
}
