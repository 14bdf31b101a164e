package pg_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"

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
	f.set(kstHour(2026, 10, 30, 9))
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
	f.set(kstHour(2010, 1, 1, 9))
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
					if _, err := f.store.Delivered(ctx, "jeongeup", outbox, outbox); err != nil {
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
	f.set(kstHour(2026, 9, 1, 9))
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
	f.set(kstHour(2026, 9, 1, 9))
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
