package pg_test

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/pipa-kr/pipa/pkg/apierr"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	retentionv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/retention/v1"
	"github.com/pipa-kr/pipa/pkg/idempotency"
	"github.com/pipa-kr/pipa/pkg/pgtest"
	"github.com/pipa-kr/pipa/pkg/seal"
	"github.com/pipa-kr/pipa/pkg/seoul"
	"github.com/pipa-kr/pipa/services/retention/store/pg"
)

// These tests need PostgreSQL (DATABASE_URL): each gets a fresh database with the retention
// schema and its job queue. The store's clock is a variable they set.

type fixture struct {
	pool  *pgxpool.Pool
	box   *seal.Box
	store *pg.Store
	mu    sync.Mutex
	now   time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	pool := pgtest.NewMulti(t, []pgtest.Migration{{Schema: pg.Schema, FS: pg.Migrations, Jobs: true}})
	jobs, err := river.NewClient(riverpgxv5.New(pool), &river.Config{Schema: pg.Schema})
	require.NoError(t, err)
	box, err := seal.LoadOrCreateDevKey(filepath.Join(t.TempDir(), "data-key"))
	require.NoError(t, err)
	f := &fixture{pool: pool, box: box}
	f.store = pg.New(pool, box, jobs, f.clock)
	return f
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
func (f *fixture) siteRule(t *testing.T, tenant, unit, site string) *pg.Rule {
	t.Helper()
	r, err := f.store.CreateRule(context.Background(), tenant, unit, "cctv-"+site, pg.Idem{}, &retentionv1.Rule{
		DisplayName: site, Target: retentionv1.RuleTarget_RULE_TARGET_SITE, PeriodDays: 30,
		Resource:   "tenants/" + tenant + "/units/" + unit + "/sites/" + site,
		ClockStart: retentionv1.ClockStart_CLOCK_START_RECORDING, Action: retentionv1.Action_ACTION_AUTO_DELETE,
		AutoDeleteCycle: "매일", Method: "덮어쓰기"})
	require.NoError(t, err)
	return r
}

func entry([]pg.Claimed) *ledgerv1.AppendEntryRequest {
	return &ledgerv1.AppendEntryRequest{Entry: &ledgerv1.Entry{Kind: ledgerv1.EntryKind_ENTRY_KIND_DESTRUCTION}}
}

// STD-41-2 in retention.due_time: a recording of day D kept 30 days is due when day D+30 ends,
// in Asia/Seoul; on 11-30 the sweep takes 10-30 (31 days ago), not 10-31 (30 days ago).
func TestDayThirtyOneIsDueDayThirtyIsNot(t *testing.T) {
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

	var claimed []pg.Claimed
	_, got, err := f.store.ClaimBatch(ctx, "jeongeup", "library", r.ID, kstHour(2026, 11, 30, 0), 100, func(c []pg.Claimed) *ledgerv1.AppendEntryRequest {
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
					if _, err := f.store.Delivered(ctx, "jeongeup", outbox, outbox, nil); err != nil {
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
	require.NoError(t, f.pool.QueryRow(ctx, `SELECT count(*) FROM retention.outbox`).Scan(&outbox))
	require.Equal(t, due, destroyed)
	require.Equal(t, claims, batches)
	require.Equal(t, claims, outbox, "one ledger entry per batch")
}

// A site hold over part of a day keeps that day past its period (PIPA-21-1): not claimed, listed
// held, counted, and not overdue; a file hold keeps all of its file. Released, both are claimed.
func TestHoldsKeepWhatTheyCover(t *testing.T) {
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

	_, err = f.store.ReleaseHold(ctx, "jeongeup", "library", hold.ID, "cpo", "수사 종결")
	require.NoError(t, err)
	_, err = f.store.ReleaseHold(ctx, "jeongeup", "library", hold.ID, "cpo", "again")
	require.Equal(t, "HOLD_RELEASED", err.(*apierr.Error).Reason)
	_, n, err = f.store.ClaimBatch(ctx, "jeongeup", "library", r.ID, now, 100, entry)
	require.NoError(t, err)
	require.Equal(t, 2, n)
}

// Concurrent sweeps of one unit propose one plan: the second finds nothing left to plan (STD-55).
func TestOnePlanPerSweep(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.set(kstHour(2026, 1, 1, 9))
	r, err := f.store.CreateRule(ctx, "seongnam", "library-office", "", pg.Idem{}, &retentionv1.Rule{
		DisplayName: "홈페이지 회원", Target: retentionv1.RuleTarget_RULE_TARGET_FILE, PeriodDays: 730,
		Resource:   "tenants/seongnam/units/library-office/files/homepage-members",
		ClockStart: retentionv1.ClockStart_CLOCK_START_CONSENT, Action: retentionv1.Action_ACTION_PLAN, Method: "영구삭제"})
	require.NoError(t, err)
	for i := range 30 {
		_, err := f.store.CreateItem(ctx, "seongnam", "library-office", pg.Idem{}, pg.NewItem{RuleID: r.ID, Scope: r.Doc.GetResource(),
			Description: "2023년 탈퇴 회원 " + time.Month(i%12+1).String(), ClockStart: kstHour(2023, time.Month(i%12+1), 1, 0).AddDate(0, 0, i/12),
			PeriodDays: 730})
		require.NoError(t, err)
	}
	now := kstHour(2026, 1, 2, 1)
	plans := make([]*pg.Plan, 2)
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
	require.Equal(t, codes.NotFound, err.(*apierr.Error).Code)
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
func (f *fixture) planRule(t *testing.T, tenant, unit, id string, target retentionv1.RuleTarget, days int32) *pg.Rule {
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
func (f *fixture) item(t *testing.T, r *pg.Rule, scope, resource string, start time.Time) *pg.Item {
	t.Helper()
	it, err := f.store.CreateItem(context.Background(), r.Tenant, r.Unit, pg.Idem{}, pg.NewItem{RuleID: r.ID, Scope: scope,
		Resource: resource, Description: scope, ClockStart: start, PeriodDays: r.Doc.GetPeriodDays()})
	require.NoError(t, err)
	return it
}

func (f *fixture) status(t *testing.T, it *pg.Item) int16 {
	t.Helper()
	var s int16
	require.NoError(t, f.pool.QueryRow(context.Background(), `SELECT status FROM retention.items WHERE item_id = $1`, it.ID).Scan(&s))
	return s
}

func destruction(pg.RuleGroup) *ledgerv1.AppendEntryRequest {
	return &ledgerv1.AppendEntryRequest{Entry: &ledgerv1.Entry{Kind: ledgerv1.EntryKind_ENTRY_KIND_DESTRUCTION}}
}

// PIPA-21-1: a hold committing while a sweep claims its batch is never missed. CreateHold holds
// the unit's hold lock exclusively until it commits, and the claim waits for it, so it does not
// take the day the hold covers.
func TestClaimWaitsForAHoldBeingCreated(t *testing.T) {
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
	require.Equal(t, pg.Planned, f.status(t, a), "refused, nothing is queued")

	pending, err := f.store.QueuePlanEntries(ctx, "jeongeup", "library", p.ID, now, true, destruction)
	require.NoError(t, err)
	require.Len(t, pending, 1)
	require.Equal(t, pg.Destroying, f.status(t, a))
	require.Equal(t, pg.Kept, f.status(t, b), "the held item waits for its release, out of the plan")
}

// Concurrent completions of one plan queue each rule's DESTRUCTION entry once: the plan's row
// is locked first, and the items marked are exactly those read.
func TestConcurrentCompletionsQueueOnce(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.set(kstHour(2026, 1, 1, 9))
	var rules []*pg.Rule
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
	require.NoError(t, f.pool.QueryRow(ctx, `SELECT count(*) FROM retention.outbox`).Scan(&outbox))
	require.NoError(t, f.pool.QueryRow(ctx, `SELECT count(*) FROM retention.items WHERE status = 2`).Scan(&queued))
	require.Equal(t, len(rules), outbox, "one DESTRUCTION entry per rule, none twice")
	require.Equal(t, 15, queued)
}

// A period lengthened after items were planned keeps them for the new period (PIPA-21-1): a
// planned item no longer due goes back to kept at once, and one due now but not when the plan
// was carried out is not recorded destroyed by it.
func TestLongerPeriodKeepsPlannedItems(t *testing.T) {
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

	_, err = f.store.UpdateRule(ctx, "seongnam", "library-office", r.ID, "", func(d *retentionv1.Rule) error {
		d.PeriodDays = 1000
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, pg.Kept, f.status(t, recent), "no longer due: back to kept")
	require.Equal(t, pg.Planned, f.status(t, mid))
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
	require.Equal(t, pg.Destroying, f.status(t, old))
	require.Equal(t, pg.Kept, f.status(t, mid), "not due when the plan was carried out")
}

// C-9: a copy is closed only once its outcome is in the ledger. A returned copy's RETURN
// amendment is appended before the DESTRUCTION that follows it, and the copy becomes RETURNED
// when both are in; until then it is out, its outcome pending, and takes no other outcome. An
// outcome the ledger refuses for good leaves the copy as it was.
func TestCopyClosesOnceItsEntriesAreIn(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.set(kstHour(2026, 11, 1, 9))
	copyOf := func(index int64) *pg.Copy {
		c, err := f.store.CreateCopy(ctx, "jeongeup", "library", pg.Idem{}, &retentionv1.Copy{ProvisionIndex: index,
			Recipient: "정읍경찰서", DestructionDueDate: "2026-12-01", PublicRecipient: true})
		require.NoError(t, err)
		return c
	}
	amendment := &ledgerv1.AppendEntryRequest{Entry: &ledgerv1.Entry{Kind: ledgerv1.EntryKind_ENTRY_KIND_AMENDMENT}}
	returned := func(*pg.Copy) (*pg.Outcome, error) {
		return &pg.Outcome{Doc: &retentionv1.CopyOutcome{Kind: retentionv1.OutcomeKind_OUTCOME_KIND_RETURNED},
			Amendment: proto.CloneOf(amendment), State: retentionv1.CopyState_COPY_STATE_RETURNED,
			Destruction: &ledgerv1.AppendEntryRequest{Entry: &ledgerv1.Entry{Kind: ledgerv1.EntryKind_ENTRY_KIND_DESTRUCTION}}}, nil
	}
	c := copyOf(7)
	got, outbox, err := f.store.RecordOutcome(ctx, "jeongeup", "library", c.ID, c.Doc.GetEtag(), returned)
	require.NoError(t, err)
	require.Len(t, outbox, 2)
	require.Equal(t, retentionv1.CopyState_COPY_STATE_OUT, got.Doc.GetState(), "not closed before the ledger has it")
	require.True(t, got.Doc.GetOutcomePending())
	_, _, err = f.store.Outbox(ctx, "jeongeup", outbox[1])
	require.ErrorIs(t, err, pg.ErrWaiting, "the DESTRUCTION follows the RETURN")

	_, err = f.store.Delivered(ctx, "jeongeup", outbox[0], 100, nil)
	require.NoError(t, err)
	got, err = f.store.GetCopy(ctx, "jeongeup", "library", c.ID)
	require.NoError(t, err)
	require.Equal(t, retentionv1.CopyState_COPY_STATE_OUT, got.Doc.GetState(), "returned, not yet recorded destroyed here")
	_, _, err = f.store.Outbox(ctx, "jeongeup", outbox[1])
	require.NoError(t, err)
	_, err = f.store.Delivered(ctx, "jeongeup", outbox[1], 101, nil)
	require.NoError(t, err)
	got, err = f.store.GetCopy(ctx, "jeongeup", "library", c.ID)
	require.NoError(t, err)
	require.Equal(t, retentionv1.CopyState_COPY_STATE_RETURNED, got.Doc.GetState())
	require.False(t, got.Doc.GetOutcomePending())
	require.EqualValues(t, 100, got.Doc.GetOutcomes()[0].GetLedgerIndex())
	require.EqualValues(t, 101, got.Doc.GetOutcomes()[0].GetDestructionLedgerIndex())

	// Refused for good, the outcome is undone with the entry that was to follow it.
	c = copyOf(8)
	_, outbox, err = f.store.RecordOutcome(ctx, "jeongeup", "library", c.ID, "", returned)
	require.NoError(t, err)
	refused, _, err := f.store.Refused(ctx, "jeongeup", outbox[0], "occur_time in the future")
	require.NoError(t, err)
	require.True(t, refused)
	got, err = f.store.GetCopy(ctx, "jeongeup", "library", c.ID)
	require.NoError(t, err)
	require.Equal(t, retentionv1.CopyState_COPY_STATE_OUT, got.Doc.GetState())
	require.Empty(t, got.Doc.GetOutcomes())
	require.False(t, got.Doc.GetOutcomePending(), "free to take the outcome again")
	for _, id := range outbox {
		_, _, err = f.store.Outbox(ctx, "jeongeup", id)
		require.ErrorIs(t, err, pg.ErrRefused)
	}
	n, err := f.store.PendingEntries(ctx)
	require.NoError(t, err)
	require.Zero(t, n, "a refused entry is not pending")
}

// The ledger takes request_ids of at most 128 characters: an outbox entry's is
// "retention/entries/{id}" whatever the length of its tenant and unit ids (up to 63 each).
func TestOutboxRequestIDsFitTheLedger(t *testing.T) {
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
	req, _, err := f.store.Outbox(ctx, tenant, id)
	require.NoError(t, err)
	require.Equal(t, "retention/entries/"+strconv.FormatInt(id, 10), req.GetRequestId())
	require.LessOrEqual(t, len(req.GetRequestId()), 128)
}

// STD-55: a plan left without items certifies nothing: its completion is refused.
func TestEmptyPlanIsNotCompleted(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.set(kstHour(2026, 1, 1, 9))
	r := f.planRule(t, "seongnam", "library-office", "members", retentionv1.RuleTarget_RULE_TARGET_FILE, 30)
	f.item(t, r, r.Doc.GetResource(), "", kstHour(2025, 6, 1, 0))
	now := kstHour(2026, 1, 2, 9)
	f.set(now)
	p, err := f.store.ProposePlan(ctx, "seongnam", "library-office", now, 100, "보유기간 경과")
	require.NoError(t, err)
	_, err = f.store.UpdateRule(ctx, "seongnam", "library-office", r.ID, "", func(d *retentionv1.Rule) error {
		d.PeriodDays = 3650
		return nil
	})
	require.NoError(t, err)
	_, err = f.store.StartCompletion(ctx, "seongnam", "library-office", p.ID, false, func(p *pg.Plan) error {
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
