package pg_test

import (
	"context"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pipa-kr/pipa/pkg/apierr"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	retentionv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/retention/v1"
	"github.com/pipa-kr/pipa/pkg/idempotency"
	"github.com/pipa-kr/pipa/pkg/ledgerout"
	"github.com/pipa-kr/pipa/pkg/pgtest"
	"github.com/pipa-kr/pipa/pkg/seal"
	"github.com/pipa-kr/pipa/pkg/seoul"
	"github.com/pipa-kr/pipa/pkg/unitauth"
	"github.com/pipa-kr/pipa/services/ledger/ledgertest"
	ledgerpg "github.com/pipa-kr/pipa/services/ledger/store/pg"
	"github.com/pipa-kr/pipa/services/retention/lifecycle"
	"github.com/pipa-kr/pipa/services/retention/store/pg"
)

// These tests need PostgreSQL (DATABASE_URL): each gets a fresh database with the retention
// schema, its outbox and job queue, and the ledger's schema, which a real ledger serves over gRPC
// to the outbox (ledgertest.Serve). The store's clock is a variable they set.

type fixture struct {
	pool   *pgxpool.Pool
	box    *seal.Box
	store  *pg.Store
	outbox *ledgerout.Outbox
	ledger ledgerv1.LedgerServiceClient
	token  func() (string, error)
	mu     sync.Mutex
	now    time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	pool := pgtest.NewMulti(t, []pgtest.Migration{{Schema: ledgerpg.Schema, FS: ledgerpg.Migrations},
		{Schema: pg.Schema, FS: pg.Migrations, Jobs: true, Outbox: true}})
	box, err := seal.LoadOrCreateDevKey(filepath.Join(t.TempDir(), "data-key"))
	require.NoError(t, err)
	client, token := ledgertest.Serve(t, pool, box)
	outbox, err := ledgerout.New(ledgerout.Config{Schema: pg.Schema, Pool: pool, Ledger: client, Token: token})
	require.NoError(t, err)
	jobs, err := river.NewClient(riverpgxv5.New(pool), &river.Config{Schema: pg.Schema}) // inserts only
	require.NoError(t, err)
	f := &fixture{pool: pool, box: box, outbox: outbox, ledger: client, token: token}
	f.store = pg.New(pool, box, outbox, f.clock)
	outbox.Use(jobs, f.store)
	return f
}

// deliver delivers outbox entry id of the tenant, as the call or the job does.
func (f *fixture) deliver(t *testing.T, tenant string, id int64) (ledgerout.Settled, error) {
	t.Helper()
	return f.outbox.Deliver(context.Background(), tenant, id)
}

func (f *fixture) clock() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fixture) set(t time.Time) {
	f.mu.Lock()
	f.now = t
	f.mu.Unlock()
}

func kstHour(y int, m time.Month, d, h int) time.Time {
	return time.Date(y, m, d, h, 0, 0, 0, seoul.Location)
}

// siteRule stores a 30-day auto-delete rule of a site, created at the fixture's time.
func (f *fixture) siteRule(t *testing.T, tenant, unit, site string) *lifecycle.Rule {
	t.Helper()
	r, err := f.store.CreateRule(context.Background(), tenant, unit, "cctv-"+site, pg.Idem{}, &retentionv1.Rule{
		DisplayName: site, Target: retentionv1.RuleTarget_RULE_TARGET_SITE, PeriodDays: 30,
		Resource:   "tenants/" + tenant + "/units/" + unit + "/sites/" + site,
		ClockStart: retentionv1.ClockStart_CLOCK_START_RECORDING, Action: retentionv1.Action_ACTION_AUTO_DELETE,
		AutoDeleteCycle: "매일", Method: "덮어쓰기"})
	require.NoError(t, err)
	return r
}

// entry is a batch's DESTRUCTION entry, as the sweep writes it (STD-42-2), checked the day after
// the test clock's days.
func entry(items []lifecycle.Claimed) *ledgerv1.AppendEntryRequest {
	at := timestamppb.New(kstHour(2026, 11, 30, 1))
	return &ledgerv1.AppendEntryRequest{Entry: &ledgerv1.Entry{Kind: ledgerv1.EntryKind_ENTRY_KIND_DESTRUCTION, OccurTime: at,
		FileName: strconv.Itoa(len(items)) + "일 녹화분", Handler: "소장 송현숙 (자동 삭제 점검)", Purpose: "보유기간(30일) 경과",
		DestructionMethod: "덮어쓰기", AutoDeleteCycle: "매일", AutoDeleteCheckedTime: at}}
}

// STD-41-2 in retention.due_time: a recording of day D kept 30 days is due when day D+30 ends,
// in Asia/Seoul; on 11-30 the sweep takes 10-30 (31 days ago), not 10-31 (30 days ago).
func TestDayThirtyOneIsDueDayThirtyIsNot(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	f.set(kstHour(2026, 11, 29, 9)) // the rule keeps the 30 days already recorded, from 10-30
	r := f.siteRule(t, "jeongeup", "library", "central")
	n, err := f.store.GenerateDays(ctx, r, kstHour(2026, 11, 29, 0), "중앙도서관")
	require.NoError(t, err)
	require.EqualValues(t, 31, n, "10-30 … 11-29")
	again, err := f.store.GenerateDays(ctx, r, kstHour(2026, 11, 29, 0), "중앙도서관")
	require.NoError(t, err)
	require.Zero(t, again, "each day once")
	rules, err := f.store.SweepRules(ctx, "jeongeup", "library")
	require.NoError(t, err)
	next, err := f.store.GenerateDays(ctx, rules[0], kstHour(2026, 11, 30, 0), "중앙도서관")
	require.NoError(t, err)
	require.EqualValues(t, 1, next, "the next sweep adds the day after the last one made")

	items, _, err := f.store.ListItems(ctx, "jeongeup", "library", "", kstHour(2026, 11, 30, 0), 2, 0)
	require.NoError(t, err)
	require.Equal(t, "중앙도서관 2026-10-30 녹화분", items[0].Description)
	require.True(t, kstHour(2026, 11, 30, 0).Equal(items[0].Due), "10-30 is due at 11-30 00:00 KST, got %v", items[0].Due)
	require.True(t, kstHour(2026, 12, 1, 0).Equal(items[1].Due))

	var claimed []lifecycle.Claimed
	_, got, err := f.store.ClaimBatch(ctx, "jeongeup", "library", r.ID, kstHour(2026, 11, 30, 0), 100, func(c []lifecycle.Claimed) *ledgerv1.AppendEntryRequest {
		claimed = c
		return entry(c)
	})
	require.NoError(t, err)
	require.Equal(t, 1, got)
	require.Equal(t, "2026-10-30", claimed[0].RecordingDate.Format(time.DateOnly))
}

// Eight sweepers claiming batches of one rule at once, with SKIP LOCKED, take every due item
// exactly once; delivering each batch destroys its items once, however often it is delivered.
func TestConcurrentClaimsTakeEachItemOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	f.set(kstHour(2010, 1, 31, 9))
	r := f.siteRule(t, "jeongeup", "library", "central")
	_, err := f.store.GenerateDays(ctx, r, kstHour(2026, 11, 29, 0), "중앙도서관")
	require.NoError(t, err)
	now := kstHour(2026, 11, 30, 1)
	var due int
	require.NoError(t, f.pool.QueryRow(ctx, `SELECT count(*) FROM retention.items WHERE due_time <= $1`, now).Scan(&due))

	var mu sync.Mutex
	var total, claims int
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			for {
				outbox, n, err := f.store.ClaimBatch(ctx, "jeongeup", "library", r.ID, now, 97, entry)
				if err != nil {
					errs <- err
					return
				}
				if n == 0 {
					return
				}
				for range 2 { // the call and the job both deliver
					if _, err := f.outbox.Deliver(ctx, "jeongeup", outbox); err != nil {
						errs <- err
						return
					}
				}
				mu.Lock()
				total, claims = total+n, claims+1
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, due, total)
	var destroyed, batches, outbox int
	require.NoError(t, f.pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT batch_id) FROM retention.items WHERE status = 4`).Scan(&destroyed, &batches))
	require.NoError(t, f.pool.QueryRow(ctx, `SELECT count(*) FROM ledger.entries`).Scan(&outbox))
	require.Equal(t, due, destroyed)
	require.Equal(t, claims, batches)
	require.Equal(t, claims, outbox, "one ledger entry per batch, however often delivered")
}

// A site hold over part of a day keeps that day past its period (PIPA-21-1): not claimed, listed
// held, counted, and not overdue; a file hold keeps all of its file. Released, both are claimed.
func TestHoldsKeepWhatTheyCover(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	f.set(kstHour(2026, 10, 1, 9)) // recording days from 09-01
	r := f.siteRule(t, "jeongeup", "library", "central")
	_, err := f.store.GenerateDays(ctx, r, kstHour(2026, 9, 10, 0), "중앙도서관")
	require.NoError(t, err)
	start, end := kstHour(2026, 9, 5, 23), kstHour(2026, 9, 6, 1) // two days touched
	hold, err := f.store.CreateHold(ctx, "jeongeup", "library", pg.Idem{}, &retentionv1.Hold{Site: r.Doc.GetResource(), Reason: "수사"},
		r.Doc.GetResource(), &start, &end)
	require.NoError(t, err)

	now := kstHour(2026, 11, 30, 1)
	held, overdue, err := f.store.UnitCounts(ctx, "jeongeup", "library", now)
	require.NoError(t, err)
	require.EqualValues(t, 2, held)
	require.EqualValues(t, 8, overdue, "the unheld days are 5 days past due")
	list, _, err := f.store.ListItems(ctx, "jeongeup", "library", "held", now, 10, 0)
	require.NoError(t, err)
	require.Len(t, list, 2)
	require.Equal(t, []int64{hold.ID}, list[0].Holds)
	_, n, err := f.store.ClaimBatch(ctx, "jeongeup", "library", r.ID, now, 100, entry)
	require.NoError(t, err)
	require.Equal(t, 8, n, "the held days are left")

	_, err = f.store.ReleaseHold(ctx, "jeongeup", "library", hold.ID, pg.Idem{}, "cpo", "수사 종결")
	require.NoError(t, err)
	_, err = f.store.ReleaseHold(ctx, "jeongeup", "library", hold.ID, pg.Idem{}, "cpo", "again")
	require.Equal(t, "HOLD_RELEASED", err.(*apierr.Error).Reason)
	_, n, err = f.store.ClaimBatch(ctx, "jeongeup", "library", r.ID, now, 100, entry)
	require.NoError(t, err)
	require.Equal(t, 2, n)
}

// Concurrent sweeps of one unit propose one plan: the second finds nothing left to plan (STD-55).
func TestOnePlanPerSweep(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	f.set(kstHour(2026, 1, 1, 9))
	r, err := f.store.CreateRule(ctx, "seongnam", "library-office", "", pg.Idem{}, &retentionv1.Rule{
		DisplayName: "홈페이지 회원", Target: retentionv1.RuleTarget_RULE_TARGET_FILE, PeriodDays: 730,
		Resource:   "tenants/seongnam/units/library-office/files/homepage-members",
		ClockStart: retentionv1.ClockStart_CLOCK_START_CONSENT, Action: retentionv1.Action_ACTION_PLAN, Method: "영구삭제"})
	require.NoError(t, err)
	for i := range 30 {
		_, err := f.store.CreateItem(ctx, "seongnam", "library-office", pg.Idem{}, lifecycle.NewItem{RuleID: r.ID, Scope: r.Doc.GetResource(),
			Description: "2023년 탈퇴 회원 " + time.Month(i%12+1).String(), ClockStart: kstHour(2023, time.Month(i%12+1), 1, 0).AddDate(0, 0, i/12),
			PeriodDays: 730})
		require.NoError(t, err)
	}
	now := kstHour(2026, 1, 2, 1)
	plans := make([]*lifecycle.Plan, 2)
	var wg sync.WaitGroup
	for i := range plans {
		wg.Go(func() {
			p, err := f.store.ProposePlan(ctx, "seongnam", "library-office", now, 1000, "보유기간 경과")
			if err == nil {
				plans[i] = p
			}
		})
	}
	wg.Wait()
	require.True(t, (plans[0] == nil) != (plans[1] == nil), "exactly one plan")
	p := plans[0]
	if p == nil {
		p = plans[1]
	}
	require.EqualValues(t, 30, p.Doc.GetItemCount())
	require.True(t, kstHour(2025, 1, 1, 0).Equal(p.FirstDue), "the earliest item is due when day 2023-01-01 + 730 (2024-12-31) ends, got %v", p.FirstDue)
}

// Every query is scoped by tenant: the same unit and rule ids in another tenant are another
// unit, whose calls neither see nor take this one's items, holds or keys.
func TestTenantsAreApart(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	f.set(kstHour(2026, 10, 1, 9)) // recording days from 09-01
	a := f.siteRule(t, "jeongeup", "library", "central")
	b := f.siteRule(t, "seongnam", "library", "central")
	_, err := f.store.GenerateDays(ctx, a, kstHour(2026, 9, 10, 0), "A")
	require.NoError(t, err)
	items, _, err := f.store.ListItems(ctx, "jeongeup", "library", "", kstHour(2026, 11, 30, 0), 100, 0)
	require.NoError(t, err)
	require.Len(t, items, 10)

	_, err = f.store.GetItem(ctx, "seongnam", "library", items[0].ID)
	require.Equal(t, apierr.KindNotFound, apierr.KindOf(err))
	other, _, err := f.store.ListItems(ctx, "seongnam", "library", "", kstHour(2026, 11, 30, 0), 100, 0)
	require.NoError(t, err)
	require.Empty(t, other)
	_, n, err := f.store.ClaimBatch(ctx, "seongnam", "library", b.ID, kstHour(2026, 11, 30, 0), 100, entry)
	require.NoError(t, err)
	require.Zero(t, n)
	// A hold in one tenant covers nothing in the other.
	start, end := kstHour(2026, 9, 1, 0), kstHour(2026, 9, 30, 0)
	_, err = f.store.CreateHold(ctx, "seongnam", "library", pg.Idem{}, &retentionv1.Hold{}, a.Doc.GetResource(), &start, &end)
	require.NoError(t, err)
	held, _, err := f.store.UnitCounts(ctx, "jeongeup", "library", kstHour(2026, 11, 30, 0))
	require.NoError(t, err)
	require.Zero(t, held)

	ka, err := f.store.Key(ctx, "jeongeup")
	require.NoError(t, err)
	kb, err := f.store.Key(ctx, "seongnam")
	require.NoError(t, err)
	require.NotEqual(t, ka.Verifier, kb.Verifier, "one certificate key per tenant")
	var sealed []byte
	require.NoError(t, f.pool.QueryRow(ctx, `SELECT signer_skey FROM retention.keys WHERE tenant_id = 'jeongeup'`).Scan(&sealed))
	require.NotContains(t, string(sealed), "PRIVATE+KEY", "the signer key is stored sealed")
	_, err = f.pool.Exec(ctx, `UPDATE retention.keys SET signer_skey = $1 WHERE tenant_id = 'seongnam'`, sealed)
	require.NoError(t, err)
	_, err = pg.New(f.pool, f.box, nil, f.clock).Key(ctx, "seongnam")
	require.Error(t, err, "a key copied to another tenant does not open")
}

// The idempotency table is exactly idempotency.DDL("retention").
func TestIdempotencyTable(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	_, err := f.pool.Exec(ctx, "CREATE SCHEMA scratch; "+idempotency.DDL("scratch"))
	require.NoError(t, err)
	shape := func(schema string) string {
		var s string
		require.NoError(t, f.pool.QueryRow(ctx, `SELECT string_agg(column_name || ' ' || data_type || ' ' || is_nullable || ' ' ||
			coalesce(column_default, ''), ', ' ORDER BY ordinal_position) || ' / ' ||
			(SELECT pg_get_constraintdef(c.oid) FROM pg_constraint c WHERE c.conrelid = ($1 || '.idempotency')::regclass AND c.contype = 'p')
			FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'idempotency'`, schema).Scan(&s))
		return s
	}
	require.Equal(t, shape("scratch"), shape(pg.Schema))
}

// planRule stores a rule whose items are destroyed by a plan the CPO approves (STD-55).
func (f *fixture) planRule(t *testing.T, tenant, unit, id string, target retentionv1.RuleTarget, days int32) *lifecycle.Rule {
	t.Helper()
	r := &retentionv1.Rule{DisplayName: id, Target: target, PeriodDays: days, Action: retentionv1.Action_ACTION_PLAN, Method: "영구삭제",
		ClockStart: retentionv1.ClockStart_CLOCK_START_REQUEST_CLOSED}
	if target == retentionv1.RuleTarget_RULE_TARGET_FILE {
		r.Resource, r.ClockStart = "tenants/"+tenant+"/units/"+unit+"/files/"+id, retentionv1.ClockStart_CLOCK_START_CONSENT
	}
	rule, err := f.store.CreateRule(context.Background(), tenant, unit, id, pg.Idem{}, r)
	require.NoError(t, err)
	return rule
}

// item registers an item of rule whose period started at start; scope is what a hold names.
func (f *fixture) item(t *testing.T, r *lifecycle.Rule, scope, resource string, start time.Time) *lifecycle.Item {
	t.Helper()
	it, err := f.store.CreateItem(context.Background(), r.Tenant, r.Unit, pg.Idem{}, lifecycle.NewItem{RuleID: r.ID, Scope: scope,
		Resource: resource, Description: scope, ClockStart: start, PeriodDays: r.Doc.GetPeriodDays()})
	require.NoError(t, err)
	return it
}

func (f *fixture) status(t *testing.T, it *lifecycle.Item) int16 {
	t.Helper()
	var s int16
	require.NoError(t, f.pool.QueryRow(context.Background(), `SELECT status FROM retention.items WHERE item_id = $1`, it.ID).Scan(&s))
	return s
}

func destruction(lifecycle.RuleGroup) *ledgerv1.AppendEntryRequest {
	return entry(nil)
}

// PIPA-21-1: a hold committing while a sweep claims its batch is never missed. CreateHold holds
// the unit's hold lock exclusively until it commits, and the claim waits for it, so it does not
// take the day the hold covers.
func TestClaimWaitsForAHoldBeingCreated(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	f.set(kstHour(2026, 10, 1, 9)) // recording days from 09-01
	r := f.siteRule(t, "jeongeup", "library", "central")
	_, err := f.store.GenerateDays(ctx, r, kstHour(2026, 9, 10, 0), "중앙도서관")
	require.NoError(t, err)

	inserted, release := make(chan struct{}), make(chan struct{})
	f.store.SetHoldInserted(func() { close(inserted); <-release })
	held := make(chan error, 1)
	go func() {
		start, end := kstHour(2026, 9, 5, 12), kstHour(2026, 9, 5, 13)
		_, err := f.store.CreateHold(ctx, "jeongeup", "library", pg.Idem{}, &retentionv1.Hold{Site: r.Doc.GetResource(), Reason: "수사"},
			r.Doc.GetResource(), &start, &end)
		held <- err
	}()
	<-inserted // the hold is written, not committed
	type claim struct {
		n   int
		err error
	}
	claims := make(chan claim, 1)
	go func() {
		_, n, err := f.store.ClaimBatch(ctx, "jeongeup", "library", r.ID, kstHour(2026, 11, 30, 1), 100, entry)
		claims <- claim{n, err}
	}()
	var got *claim
	require.Eventually(t, func() bool {
		select {
		case c := <-claims:
			got = &c
			return true
		default:
		}
		var waiting int
		require.NoError(t, f.pool.QueryRow(ctx, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`).Scan(&waiting))
		return waiting > 0
	}, 10*time.Second, 5*time.Millisecond)
	close(release)
	require.NoError(t, <-held)
	if got == nil {
		c := <-claims
		got = &c
	}
	require.NoError(t, got.err)
	require.Equal(t, 9, got.n, "the day under the hold that committed meanwhile is not claimed")
}

// PIPA-21-1: completing an approved plan never destroys an item a hold covers: queuing its
// DESTRUCTION entries refuses naming the item and its hold (ITEMS_HELD), changing nothing, or,
// when asked, takes exactly the held item out of the plan and queues the rest.
func TestCompletionNeverQueuesAHeldItem(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	f.set(kstHour(2026, 1, 1, 9))
	r := f.planRule(t, "jeongeup", "library", "closed", retentionv1.RuleTarget_RULE_TARGET_CLOSED_REQUESTS, 30)
	req := func(n string) string { return "tenants/jeongeup/units/library/requests/" + n }
	a := f.item(t, r, req("R-1"), req("R-1"), kstHour(2026, 1, 1, 0))
	b := f.item(t, r, req("R-2"), req("R-2"), kstHour(2026, 1, 1, 0))
	now := kstHour(2026, 3, 1, 9)
	f.set(now)
	p, err := f.store.ProposePlan(ctx, "jeongeup", "library", now, 100, "보유기간 경과")
	require.NoError(t, err)
	hold, err := f.store.CreateHold(ctx, "jeongeup", "library", pg.Idem{}, &retentionv1.Hold{Request: req("R-2")}, req("R-2"), nil, nil)
	require.NoError(t, err)

	_, err = f.store.QueuePlanEntries(ctx, "jeongeup", "library", p.ID, now, false, destruction)
	e := err.(*apierr.Error)
	require.Equal(t, "ITEMS_HELD", e.Reason)
	require.Equal(t, "PIPA-21-1", e.Metadata["rule"])
	require.Equal(t, b.Name()+" ("+hold.Doc.GetName()+")", e.Metadata["items"])
	require.Equal(t, lifecycle.Planned, f.status(t, a), "refused, nothing is queued")

	pending, err := f.store.QueuePlanEntries(ctx, "jeongeup", "library", p.ID, now, true, destruction)
	require.NoError(t, err)
	require.Len(t, pending, 1)
	require.Equal(t, lifecycle.Destroying, f.status(t, a))
	require.Equal(t, lifecycle.Kept, f.status(t, b), "the held item waits for its release, out of the plan")
}

// A plan's erasures are claimed under the hold lock and made after that commits (no call in a
// transaction, PIPA-21-1): a held item is refused before its claim, or taken out of the plan;
// once claimed, an item is destroyed in fact and is recorded, whatever hold comes after.
func TestErasureClaimIsThePointOfNoReturn(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	f.set(kstHour(2026, 1, 1, 9))
	r := f.planRule(t, "jeongeup", "library", "closed", retentionv1.RuleTarget_RULE_TARGET_CLOSED_REQUESTS, 30)
	req := func(n string) string { return "tenants/jeongeup/units/library/requests/R-2026-00000" + n }
	a := f.item(t, r, req("1"), req("1"), kstHour(2026, 1, 1, 0))
	b := f.item(t, r, req("2"), req("2"), kstHour(2026, 1, 1, 0))
	now := kstHour(2026, 3, 1, 9)
	f.set(now)
	p, err := f.store.ProposePlan(ctx, "jeongeup", "library", now, 100, "보유기간 경과")
	require.NoError(t, err)
	hold := func(n string) {
		_, err := f.store.CreateHold(ctx, "jeongeup", "library", pg.Idem{}, &retentionv1.Hold{Request: req(n)}, req(n), nil, nil)
		require.NoError(t, err)
	}
	hold("2")
	_, _, err = f.store.ClaimErasures(ctx, "jeongeup", "library", p.ID, false, 0, 100)
	require.Equal(t, "ITEMS_HELD", err.(*apierr.Error).Reason)
	claimed, last, err := f.store.ClaimErasures(ctx, "jeongeup", "library", p.ID, true, 0, 100)
	require.NoError(t, err)
	require.Len(t, claimed, 1)
	require.Equal(t, a.ID, claimed[0].ItemID)
	require.Equal(t, b.ID, last, "the page read both")
	require.Equal(t, lifecycle.Kept, f.status(t, b), "the held item left the plan")

	hold("1") // after the claim: too late to stop the erasure
	again, _, err := f.store.ClaimErasures(ctx, "jeongeup", "library", p.ID, false, 0, 100)
	require.NoError(t, err)
	require.Len(t, again, 1, "a claimed erasure not yet made is made again by a repeated completion")
	require.NoError(t, f.store.Erased(ctx, "jeongeup", a.ID))
	again, last, err = f.store.ClaimErasures(ctx, "jeongeup", "library", p.ID, false, 0, 100)
	require.NoError(t, err)
	require.Empty(t, again)
	require.Zero(t, last, "nothing left to erase")
	_, err = f.store.QueuePlanEntries(ctx, "jeongeup", "library", p.ID, now, false, destruction)
	require.NoError(t, err)
	require.Equal(t, lifecycle.Destroying, f.status(t, a), "erased, it is recorded destroyed though held since")
}

// Concurrent completions of one plan queue each rule's DESTRUCTION entry once: the plan's row
// is locked first, and the items marked are exactly those read.
func TestConcurrentCompletionsQueueOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	f.set(kstHour(2026, 1, 1, 9))
	var rules []*lifecycle.Rule
	for _, id := range []string{"members", "visitors", "loans"} {
		r := f.planRule(t, "seongnam", "library-office", id, retentionv1.RuleTarget_RULE_TARGET_FILE, 30)
		rules = append(rules, r)
		for m := range 5 {
			f.item(t, r, r.Doc.GetResource(), "", kstHour(2025, time.Month(m+1), 1, 0))
		}
	}
	now := kstHour(2026, 1, 2, 9)
	p, err := f.store.ProposePlan(ctx, "seongnam", "library-office", now, 100, "보유기간 경과")
	require.NoError(t, err)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			_, err := f.store.QueuePlanEntries(ctx, "seongnam", "library-office", p.ID, now, false, destruction)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	var outbox, queued int
	require.NoError(t, f.pool.QueryRow(ctx, `SELECT count(*) FROM retention.ledger_outbox`).Scan(&outbox))
	require.NoError(t, f.pool.QueryRow(ctx, `SELECT count(*) FROM retention.items WHERE status = 2`).Scan(&queued))
	require.Equal(t, len(rules), outbox, "one DESTRUCTION entry per rule, none twice")
	require.Equal(t, 15, queued)
}

// A period lengthened after items were planned keeps them for the new period (PIPA-21-1): a
// planned item no longer due goes back to kept at once, and one due now but not when the plan
// was carried out is not recorded destroyed by it.
func TestLongerPeriodKeepsPlannedItems(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	f.set(kstHour(2022, 1, 1, 9))
	r := f.planRule(t, "seongnam", "library-office", "members", retentionv1.RuleTarget_RULE_TARGET_FILE, 730)
	old := f.item(t, r, r.Doc.GetResource(), "", kstHour(2022, 1, 1, 0))    // 1000 days: due 2024-09-28
	mid := f.item(t, r, r.Doc.GetResource(), "", kstHour(2023, 1, 1, 0))    // 1000 days: due 2025-09-28
	recent := f.item(t, r, r.Doc.GetResource(), "", kstHour(2024, 6, 1, 0)) // 1000 days: due 2027-02-26
	now := kstHour(2026, 7, 1, 9)
	f.set(now)
	p, err := f.store.ProposePlan(ctx, "seongnam", "library-office", now, 100, "보유기간 경과")
	require.NoError(t, err)
	require.EqualValues(t, 3, p.Doc.GetItemCount())

	_, err = f.store.UpdateRule(ctx, "seongnam", "library-office", r.ID, "", pg.Idem{}, func(d *retentionv1.Rule) error {
		d.PeriodDays = 1000
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, lifecycle.Kept, f.status(t, recent), "no longer due: back to kept")
	require.Equal(t, lifecycle.Planned, f.status(t, mid))
	got, err := f.store.GetItem(ctx, "seongnam", "library-office", mid.ID)
	require.NoError(t, err)
	require.True(t, kstHour(2025, 9, 28, 0).Equal(got.Due), "the planned item's due time moved, got %v", got.Due)
	// STD-10-1: the plan's 5 days run from its items' due times as they are now.
	p, err = f.store.GetPlan(ctx, "seongnam", "library-office", p.ID)
	require.NoError(t, err)
	require.True(t, kstHour(2024, 9, 28, 0).Equal(p.FirstDue), "the plan's first due time follows its items, got %v", p.FirstDue)
	require.True(t, kstHour(2024, 10, 3, 0).Equal(p.OverdueTime), "got %v", p.OverdueTime)

	_, err = f.store.QueuePlanEntries(ctx, "seongnam", "library-office", p.ID, kstHour(2025, 6, 1, 9), false, destruction)
	require.NoError(t, err)
	require.Equal(t, lifecycle.Destroying, f.status(t, old))
	require.Equal(t, lifecycle.Kept, f.status(t, mid), "not due when the plan was carried out")
}

// C-9: a copy is closed only once its outcome is in the ledger. A returned copy's RETURN
// amendment is appended before the DESTRUCTION that follows it, and the copy becomes RETURNED
// when both are in; until then it is out, its outcome pending, and takes no other outcome. An
// outcome the ledger refuses for good leaves the copy as it was (C-9).
func TestCopyClosesOnceItsEntriesAreIn(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	f.set(kstHour(2026, 11, 1, 9))
	svc := f.service(t)
	copyOf := func() *lifecycle.Copy {
		prov, err := f.ledger.AppendEntry(svc, &ledgerv1.AppendEntryRequest{Parent: "tenants/jeongeup/units/library",
			Entry: ledgertest.PoliceProvision()})
		require.NoError(t, err)
		c, err := f.store.CreateCopy(ctx, "jeongeup", "library", pg.Idem{}, &retentionv1.Copy{ProvisionIndex: prov.GetIndex(),
			Recipient: "정읍경찰서", DestructionDueDate: "2026-12-01", PublicRecipient: true})
		require.NoError(t, err)
		return c
	}
	returned := func(occur time.Time) func(c *lifecycle.Copy) (*lifecycle.Outcome, error) {
		return func(c *lifecycle.Copy) (*lifecycle.Outcome, error) {
			index := c.Doc.GetProvisionIndex()
			at := timestamppb.New(occur)
			return &lifecycle.Outcome{Doc: &retentionv1.CopyOutcome{Kind: retentionv1.OutcomeKind_OUTCOME_KIND_RETURNED},
				Amendment: &ledgerv1.AppendEntryRequest{Entry: &ledgerv1.Entry{Kind: ledgerv1.EntryKind_ENTRY_KIND_AMENDMENT,
					AmendmentKind: ledgerv1.AmendmentKind_AMENDMENT_KIND_RETURN, Follows: &index, OccurTime: at,
					Handler: "주무관", Note: "자료 반환"}},
				State: retentionv1.CopyState_COPY_STATE_RETURNED,
				Destruction: &ledgerv1.AppendEntryRequest{Entry: &ledgerv1.Entry{Kind: ledgerv1.EntryKind_ENTRY_KIND_DESTRUCTION,
					OccurTime: at, FileName: "반환 사본", Handler: "주무관", Purpose: "제공 사본 반환", DestructionMethod: "USB 영구삭제"}}}, nil
		}
	}
	c := copyOf()
	got, outbox, err := f.store.RecordOutcome(ctx, "jeongeup", "library", c.ID, c.Doc.GetEtag(), pg.Idem{}, returned(time.Now().Add(-time.Minute)))
	require.NoError(t, err)
	require.Len(t, outbox, 2)
	require.Equal(t, retentionv1.CopyState_COPY_STATE_OUT, got.Doc.GetState(), "not closed before the ledger has it")
	require.True(t, got.Doc.GetOutcomePending())
	_, err = f.deliver(t, "jeongeup", outbox[1])
	require.ErrorIs(t, err, ledgerout.ErrWaiting, "the DESTRUCTION follows the RETURN")

	ret, err := f.deliver(t, "jeongeup", outbox[0])
	require.NoError(t, err)
	got, err = f.store.GetCopy(ctx, "jeongeup", "library", c.ID)
	require.NoError(t, err)
	require.Equal(t, retentionv1.CopyState_COPY_STATE_OUT, got.Doc.GetState(), "returned, not yet recorded destroyed here")
	destroyed, err := f.deliver(t, "jeongeup", outbox[1])
	require.NoError(t, err)
	got, err = f.store.GetCopy(ctx, "jeongeup", "library", c.ID)
	require.NoError(t, err)
	require.Equal(t, retentionv1.CopyState_COPY_STATE_RETURNED, got.Doc.GetState())
	require.False(t, got.Doc.GetOutcomePending())
	require.Equal(t, ret.Index, got.Doc.GetOutcomes()[0].GetLedgerIndex())
	require.Equal(t, destroyed.Index, got.Doc.GetOutcomes()[0].GetDestructionLedgerIndex())

	// Stamped in the ledger's future, refused for good: the outcome is undone with the entry that
	// was to follow it.
	c = copyOf()
	_, outbox, err = f.store.RecordOutcome(ctx, "jeongeup", "library", c.ID, "", pg.Idem{}, returned(time.Now().Add(time.Hour)))
	require.NoError(t, err)
	_, err = f.deliver(t, "jeongeup", outbox[0])
	require.ErrorIs(t, err, ledgerout.ErrRefused)
	got, err = f.store.GetCopy(ctx, "jeongeup", "library", c.ID)
	require.NoError(t, err)
	require.Equal(t, retentionv1.CopyState_COPY_STATE_OUT, got.Doc.GetState())
	require.Empty(t, got.Doc.GetOutcomes())
	require.False(t, got.Doc.GetOutcomePending(), "free to take the outcome again")
	for _, id := range outbox {
		_, err = f.deliver(t, "jeongeup", id)
		require.ErrorIs(t, err, ledgerout.ErrRefused, "settled: not retried")
	}
}

// service is a context carrying the service credential.
func (f *fixture) service(t *testing.T) context.Context {
	tok, err := f.token()
	require.NoError(t, err)
	return unitauth.WithToken(t.Context(), tok)
}

// The ledger takes request_ids of at most 128 characters: an outbox entry's is
// "retention/entries/{id}" whatever the length of its tenant and unit ids (up to 63 each), and the
// ledger takes it.
func TestOutboxRequestIDsFitTheLedger(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	f.set(kstHour(2026, 10, 1, 9)) // recording days from 09-01
	tenant, unit := "t"+strings.Repeat("x", 62), "u"+strings.Repeat("y", 62)
	r := f.siteRule(t, tenant, unit, "central")
	_, err := f.store.GenerateDays(ctx, r, kstHour(2026, 9, 10, 0), "중앙도서관")
	require.NoError(t, err)
	id, n, err := f.store.ClaimBatch(ctx, tenant, unit, r.ID, kstHour(2026, 11, 30, 1), 100, entry)
	require.NoError(t, err)
	require.Equal(t, 10, n)
	var requestID string
	require.NoError(t, f.pool.QueryRow(ctx, `SELECT request_id FROM retention.ledger_outbox WHERE id = $1`, id).Scan(&requestID))
	require.Equal(t, "retention/entries/"+strconv.FormatInt(id, 10), requestID)
	_, err = f.deliver(t, tenant, id)
	require.NoError(t, err)
}

// STD-55: a plan left without items certifies nothing: its completion is refused.
func TestEmptyPlanIsNotCompleted(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	f.set(kstHour(2026, 1, 1, 9))
	r := f.planRule(t, "seongnam", "library-office", "members", retentionv1.RuleTarget_RULE_TARGET_FILE, 30)
	f.item(t, r, r.Doc.GetResource(), "", kstHour(2025, 6, 1, 0))
	now := kstHour(2026, 1, 2, 9)
	f.set(now)
	p, err := f.store.ProposePlan(ctx, "seongnam", "library-office", now, 100, "보유기간 경과")
	require.NoError(t, err)
	_, err = f.store.UpdateRule(ctx, "seongnam", "library-office", r.ID, "", pg.Idem{}, func(d *retentionv1.Rule) error {
		d.PeriodDays = 3650
		return nil
	})
	require.NoError(t, err)
	_, err = f.store.StartCompletion(ctx, "seongnam", "library-office", p.ID, pg.Idem{}, false, func(p *lifecycle.Plan) error {
		p.Doc.Method = "영구삭제"
		return nil
	})
	require.Equal(t, "PLAN_EMPTY", err.(*apierr.Error).Reason)
	got, err := f.store.GetPlan(ctx, "seongnam", "library-office", p.ID)
	require.NoError(t, err)
	require.Empty(t, got.Doc.GetMethod(), "refused, nothing recorded")
}

// STD-10-1 in retention.overdue_time, which C-10 applies to CCTV: a recording day not destroyed
// 5 days after its due time is overdue, and every reading agrees at the boundary — the item's own
// overdue time, the overdue list and the unit's count.
func TestOverdueIsFiveDaysAfterDue(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	f.set(kstHour(2026, 11, 29, 9))
	r := f.siteRule(t, "jeongeup", "library", "central")
	_, err := f.store.GenerateDays(ctx, r, kstHour(2026, 10, 30, 0), "중앙도서관")
	require.NoError(t, err)
	items, _, err := f.store.ListItems(ctx, "jeongeup", "library", "", kstHour(2026, 12, 5, 0), 10, 0)
	require.NoError(t, err)
	require.Len(t, items, 1, "10-30")
	it := items[0]
	require.True(t, kstHour(2026, 12, 5, 0).Equal(it.OverdueTime), "due 11-30 00:00, overdue 12-05 00:00 KST, got %v", it.OverdueTime)
	for _, at := range []struct {
		now     time.Time
		overdue int
	}{{it.OverdueTime.Add(-time.Microsecond), 0}, {it.OverdueTime, 1}} {
		list, _, err := f.store.ListItems(ctx, "jeongeup", "library", "overdue", at.now, 10, 0)
		require.NoError(t, err)
		require.Len(t, list, at.overdue, "%v", at.now)
		_, n, err := f.store.UnitCounts(ctx, "jeongeup", "library", at.now)
		require.NoError(t, err)
		require.EqualValues(t, at.overdue, n)
	}
}

// legacyOutbox is retention.outbox as migration 00001 made it: the outbox before pkg/ledgerout.
const legacyOutbox = `CREATE TABLE retention.outbox (
  tenant_id text NOT NULL, id bigint NOT NULL DEFAULT nextval('retention.ids'), unit_id text NOT NULL, entry bytea NOT NULL,
  occur_time timestamptz NOT NULL, after_id bigint, ledger_index bigint, leaf_hash bytea, create_time timestamptz NOT NULL,
  deliver_time timestamptz, refuse_time timestamptz, refusal text, PRIMARY KEY (tenant_id, id))`

// An upgrade keeps what the old outbox held (migration 00003): every row moves with its id (which
// items name as their batch) and the request_id it was sent under; a delivered entry keeps its
// index and leaf hash, a refused one its refusal, and a pending one is delivered from the new
// outbox, destroying its batch's items then.
func TestMigrationMovesTheOldOutbox(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	_, err := f.pool.Exec(ctx, legacyOutbox)
	require.NoError(t, err)
	f.set(kstHour(2026, 10, 1, 9))
	r := f.siteRule(t, "jeongeup", "library", "central")
	_, err = f.store.GenerateDays(ctx, r, kstHour(2026, 9, 10, 0), "중앙도서관")
	require.NoError(t, err)
	// As the old outbox wrote it: the whole request, its request_id fixed by the row's id.
	var pending int64
	require.NoError(t, f.pool.QueryRow(ctx, `SELECT nextval('retention.ids')`).Scan(&pending))
	old := entry(make([]lifecycle.Claimed, 10))
	old.Parent, old.RequestId = "tenants/jeongeup/units/library", "retention/entries/"+strconv.FormatInt(pending, 10)
	b, err := proto.Marshal(old)
	require.NoError(t, err)
	_, err = f.pool.Exec(ctx, `INSERT INTO retention.outbox (tenant_id, id, unit_id, entry, occur_time, create_time)
		VALUES ('jeongeup', $2, 'library', $1, now(), now())`, b, pending)
	require.NoError(t, err)
	_, err = f.pool.Exec(ctx, `UPDATE retention.items SET status = 2, batch_id = $1`, pending)
	require.NoError(t, err)
	_, err = f.pool.Exec(ctx, `INSERT INTO retention.outbox (tenant_id, unit_id, entry, occur_time, ledger_index, leaf_hash, create_time)
		VALUES ('jeongeup', 'library', $1, now(), 41, 'h', now()), ('jeongeup', 'library', $1, now(), NULL, NULL, now())`, b)
	require.NoError(t, err)
	_, err = f.pool.Exec(ctx, `UPDATE retention.outbox SET refuse_time = now(), refusal = 'occur_time in the future'
		WHERE ledger_index IS NULL AND id <> $1`, pending)
	require.NoError(t, err)

	migration, err := fs.ReadFile(pg.Migrations, "00003_outbox_to_ledger_outbox.sql")
	require.NoError(t, err)
	up, _, _ := strings.Cut(string(migration), "-- +goose Down")
	_, err = f.pool.Exec(ctx, up)
	require.NoError(t, err)

	rows, err := f.pool.Query(ctx, `SELECT id, request_id, coalesce(ledger_index, -1), coalesce(refusal, '') FROM retention.ledger_outbox ORDER BY id`)
	require.NoError(t, err)
	type moved struct {
		ID        int64
		RequestID string
		Index     int64
		Refusal   string
	}
	got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[moved])
	require.NoError(t, err)
	require.Len(t, got, 3)
	require.Equal(t, moved{pending, "retention/entries/" + strconv.FormatInt(pending, 10), -1, ""}, got[0])
	require.EqualValues(t, 41, got[1].Index)
	require.Equal(t, "occur_time in the future", got[2].Refusal)
	var exists bool
	require.NoError(t, f.pool.QueryRow(ctx, `SELECT to_regclass('retention.outbox') IS NOT NULL`).Scan(&exists))
	require.False(t, exists)

	e, err := f.deliver(t, "jeongeup", pending)
	require.NoError(t, err)
	var destroyed int
	require.NoError(t, f.pool.QueryRow(ctx, `SELECT count(*) FROM retention.items WHERE status = 4 AND ledger_index = $1`, e.Index).Scan(&destroyed))
	require.Equal(t, 10, destroyed, "its batch is destroyed once it is in the ledger")
	var next int64
	require.NoError(t, f.pool.QueryRow(ctx, `SELECT nextval('retention.ledger_outbox_ids')`).Scan(&next))
	require.Greater(t, next, got[2].ID, "new entries never take a moved id (nor its request_id)")
}
