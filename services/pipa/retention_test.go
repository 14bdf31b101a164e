package main

import (
	"context"
	"encoding/json"
	"net/http"
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
	"golang.org/x/mod/sumdb/note"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pipa-kr/pipa/pkg/auth"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	requestsv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/requests/v1"
	retentionv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/retention/v1"
	"github.com/pipa-kr/pipa/services/retention"
	retentionpg "github.com/pipa-kr/pipa/services/retention/store/pg"
)

// The retention service end to end (issue 5, LAW.md section 6), on a clock the tests move. The
// other services keep real time, and the ledger refuses records of what has not happened yet, so
// every time the retention clock stamps on a ledger entry lies in the past: "today" below is the
// Seoul day of an hour or more ago.

const centralSite = libraryUnit + "/sites/central"

// testClock is the retention service's clock.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

func withRetentionClock(c *testClock) stackOption {
	return func(cfg *config) { cfg.retentionClock = c.now }
}

// retentionToday returns today 00:00 in Seoul, taken an hour or more before now, so that every
// time of "today" used below up to 01:00 is in the past.
func retentionToday(t testing.TB) time.Time {
	l := time.Now().Add(-2 * time.Hour).In(seoul(t))
	return time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, seoul(t))
}

func (s *stack) retention() retentionv1.RetentionServiceClient {
	return retentionv1.NewRetentionServiceClient(s.conn)
}

// cctvRule is seed 000 제4조: the central library's recordings, kept 30 days and overwritten.
func cctvRule() *retentionv1.Rule {
	return &retentionv1.Rule{DisplayName: "중앙도서관 CCTV 녹화영상", Target: retentionv1.RuleTarget_RULE_TARGET_SITE,
		Resource: centralSite, ClockStart: retentionv1.ClockStart_CLOCK_START_RECORDING,
		Action: retentionv1.Action_ACTION_AUTO_DELETE, AutoDeleteCycle: "매일 00시 보관기간 경과분 자동 덮어쓰기",
		Method: "영구삭제(덮어쓰기, 복구 불가)", Basis: "표준 개인정보 보호지침 제41조"}
}

// itemOn finds the unit's item for a recording day.
func itemOn(t *testing.T, cl retentionv1.RetentionServiceClient, ctx context.Context, date time.Time) *retentionv1.Item {
	t.Helper()
	for tok := ""; ; {
		list, err := cl.ListItems(ctx, &retentionv1.ListItemsRequest{Parent: libraryUnit, PageToken: tok, PageSize: 500})
		require.NoError(t, err)
		for _, it := range list.GetItems() {
			if it.GetRecordingDate() == date.Format(time.DateOnly) {
				return it
			}
		}
		if tok = list.GetNextPageToken(); tok == "" {
			t.Fatalf("no item for %s", date.Format(time.DateOnly))
		}
	}
}

// A 30-day CCTV rule (STD-41-2, seed 000 제4조) destroys the recording of day 31 and keeps that of
// day 30; each sweep records the automatic deletion in the ledger with its cycle and check time
// (STD-42-2), once. The rule is created over REST, and its period is the registry's.
func TestRetentionCCTV30Days(t *testing.T) {
	clock := &testClock{}
	s := startStack(t, withRetentionClock(clock))
	s.load("jeongeup-library.yaml")
	cl := s.retention()
	manager := s.as(auth.RoleManager, libraryUnit)
	today := retentionToday(t)

	clock.set(today.AddDate(0, 0, -41).Add(time.Hour))
	payload, err := json.Marshal(map[string]any{"displayName": "중앙도서관 CCTV 녹화영상", "target": "RULE_TARGET_SITE",
		"resource": centralSite, "clockStart": "CLOCK_START_RECORDING", "action": "ACTION_AUTO_DELETE",
		"autoDeleteCycle": "매일 00시 보관기간 경과분 자동 덮어쓰기", "method": "영구삭제(덮어쓰기, 복구 불가)", "periodDays": 90})
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, s.url+"/v1/"+libraryUnit+"/rules?ruleId=cctv-central&requestId=r-1", strings.NewReader(string(payload)))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+s.token(auth.RoleManager, libraryUnit))
	resp, err := s.http.Do(req)
	require.NoError(t, err)
	page := body(t, resp)
	require.Equal(t, http.StatusOK, resp.StatusCode, page)
	var rule retentionv1.Rule
	require.NoError(t, protojson.Unmarshal([]byte(page), &rule))
	require.Equal(t, libraryUnit+"/rules/cctv-central", rule.GetName())
	require.EqualValues(t, 30, rule.GetPeriodDays(), "a site's period is its retention days in the registry, not the client's 90")

	// Yesterday at 01:00: recording days from the rule's first day are items; those 31 days old
	// or more are destroyed.
	yesterday := today.AddDate(0, 0, -1)
	clock.set(yesterday.Add(time.Hour))
	res, err := cl.SweepUnit(manager, &retentionv1.SweepUnitRequest{Parent: libraryUnit})
	require.NoError(t, err)
	require.EqualValues(t, 10, res.GetDestroyed(), "days -41 … -32 of today are past their 30 days")
	day31, day30 := itemOn(t, cl, manager, yesterday.AddDate(0, 0, -31)), itemOn(t, cl, manager, yesterday.AddDate(0, 0, -30))
	require.Equal(t, retentionv1.ItemState_ITEM_STATE_DESTROYED, day31.GetState(), "day 31 is destroyed")
	require.Equal(t, retentionv1.ItemState_ITEM_STATE_RETAINED, day30.GetState(), "day 30 is kept")
	require.WithinDuration(t, today, day30.GetDueTime().AsTime(), 0, "day 30 is due when the 30th day after it ends")

	led := s.ledger()
	e, err := led.GetEntry(manager, &ledgerv1.GetEntryRequest{Name: libraryLog + "/ledger/entries/" + itoa(day31.GetLedgerIndex())})
	require.NoError(t, err)
	require.Equal(t, ledgerv1.EntryKind_ENTRY_KIND_DESTRUCTION, e.GetKind())
	first := today.AddDate(0, 0, -41).Format(time.DateOnly)
	require.Equal(t, "중앙도서관 녹화분 "+first+"~"+day31.GetRecordingDate()+" (10일)", e.GetFileName())
	require.Equal(t, "매일 00시 보관기간 경과분 자동 덮어쓰기", e.GetAutoDeleteCycle(), "STD-42-2: the cycle")
	require.WithinDuration(t, yesterday.Add(time.Hour), e.GetAutoDeleteCheckedTime().AsTime(), 0, "STD-42-2: when it was checked")
	require.Equal(t, "영구삭제(덮어쓰기, 복구 불가)", e.GetDestructionMethod())
	require.Equal(t, "자동 삭제 점검 (pipa retention)", e.GetHandler())

	// The same sweep again destroys and records nothing more.
	res, err = cl.SweepUnit(manager, &retentionv1.SweepUnitRequest{Parent: libraryUnit})
	require.NoError(t, err)
	require.Zero(t, res.GetDestroyed())
	require.Len(t, destructions(t, s), 1)

	// Today at 01:00: day 30 of yesterday has become day 31.
	clock.set(today.Add(time.Hour))
	res, err = cl.SweepUnit(manager, &retentionv1.SweepUnitRequest{Parent: libraryUnit})
	require.NoError(t, err)
	require.EqualValues(t, 1, res.GetDestroyed())
	day30 = itemOn(t, cl, manager, yesterday.AddDate(0, 0, -30))
	require.Equal(t, retentionv1.ItemState_ITEM_STATE_DESTROYED, day30.GetState())
	entries := destructions(t, s)
	require.Len(t, entries, 2)
	require.Equal(t, "중앙도서관 녹화분 "+day30.GetRecordingDate()+" (1일)", entries[1].GetFileName())

	// A site rule's period is the registry's; its other fields change with the etag read.
	_, err = cl.UpdateRule(manager, &retentionv1.UpdateRuleRequest{Rule: &retentionv1.Rule{Name: rule.GetName(), PeriodDays: 60},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"period_days"}}})
	require.Equal(t, "STD-41-2", violation(t, err).GetReason())
	got, err := cl.GetRule(manager, &retentionv1.GetRuleRequest{Name: rule.GetName()})
	require.NoError(t, err)
	_, err = cl.UpdateRule(manager, &retentionv1.UpdateRuleRequest{Rule: &retentionv1.Rule{Name: rule.GetName(), Method: "x", Etag: "stale"}})
	require.Equal(t, codes.Aborted, status.Code(err))
	updated, err := cl.UpdateRule(manager, &retentionv1.UpdateRuleRequest{Rule: &retentionv1.Rule{Name: rule.GetName(),
		Method: "영구삭제(덮어쓰기 3회)", Etag: got.GetEtag()}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"method"}}})
	require.NoError(t, err)
	require.Equal(t, "영구삭제(덮어쓰기 3회)", updated.GetMethod())
	require.EqualValues(t, 30, updated.GetPeriodDays())

	// Over REST: the destroyed items, each with its entry's index.
	page = body(t, s.get("/v1/"+libraryUnit+"/items?state=destroyed&pageSize=100", "Authorization", "Bearer "+s.token(auth.RoleAuditor, libraryUnit)))
	require.Equal(t, 11, strings.Count(page, `"state":"ITEM_STATE_DESTROYED"`), page)

	// A deleted rule takes no new days, but what it keeps is still destroyed when due (PIPA-21-1).
	_, err = cl.DeleteRule(manager, &retentionv1.DeleteRuleRequest{Name: rule.GetName()})
	require.NoError(t, err)
	_, err = cl.GetRule(manager, &retentionv1.GetRuleRequest{Name: rule.GetName()})
	require.Equal(t, codes.NotFound, status.Code(err))
	kept, err := cl.ListItems(manager, &retentionv1.ListItemsRequest{Parent: libraryUnit, State: "retained"})
	require.NoError(t, err)
	require.Len(t, kept.GetItems(), 30, "the last 30 days are still kept, and will be destroyed")
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// destructions are the unit's DESTRUCTION entries.
func destructions(t *testing.T, s *stack) []*ledgerv1.Entry {
	t.Helper()
	list, err := s.ledger().ListEntries(s.as(auth.RoleAuditor, libraryUnit), &ledgerv1.ListEntriesRequest{Parent: libraryLog,
		Kind: ledgerv1.EntryKind_ENTRY_KIND_DESTRUCTION, PageSize: 1000})
	require.NoError(t, err)
	return list.GetEntries()
}

// A legal hold on an hour of a site keeps that recording day past its period (PIPA-21-1): the
// sweep leaves it HELD, says which holds it checked, and refuses the recording system's deletion
// of it. Once the hold is released (who, when, why recorded), the next sweep destroys it.
func TestRetentionHold(t *testing.T) {
	clock := &testClock{}
	s := startStack(t, withRetentionClock(clock))
	s.load("jeongeup-library.yaml")
	cl := s.retention()
	manager := s.as(auth.RoleManager, libraryUnit)
	today := retentionToday(t)
	clock.set(today.AddDate(0, 0, -41).Add(time.Hour))
	_, err := cl.CreateRule(manager, &retentionv1.CreateRuleRequest{Parent: libraryUnit, Rule: cctvRule()})
	require.NoError(t, err)

	heldDay := today.AddDate(0, 0, -36)
	hold, err := cl.CreateHold(manager, &retentionv1.CreateHoldRequest{Parent: libraryUnit, RequestId: "hold-1", Hold: &retentionv1.Hold{
		Site: centralSite, StartTime: timestamppb.New(heldDay.Add(14 * time.Hour)), EndTime: timestamppb.New(heldDay.Add(15 * time.Hour)),
		Reason: "정읍경찰서 수사 협조 요청(형사과-1234)에 따른 보존", Custodian: "주무관 송승학",
		ReviewDate: today.AddDate(0, 1, 0).Format(time.DateOnly)}})
	require.NoError(t, err)
	require.Equal(t, "test-manager", hold.GetCreatedBy())

	clock.set(today.AddDate(0, 0, -1).Add(time.Hour))
	res, err := cl.SweepUnit(manager, &retentionv1.SweepUnitRequest{Parent: libraryUnit})
	require.NoError(t, err)
	require.EqualValues(t, 9, res.GetDestroyed())
	require.EqualValues(t, 1, res.GetHeld())
	require.Equal(t, []string{hold.GetName()}, res.GetHoldsChecked(), "the sweep records the holds it checked")
	held := itemOn(t, cl, manager, heldDay)
	require.Equal(t, retentionv1.ItemState_ITEM_STATE_HELD, held.GetState())
	require.Equal(t, []string{hold.GetName()}, held.GetHolds())
	require.False(t, held.GetOverdue(), "a hold is a justified reason (STD-10-1)")
	metrics := body(t, s.get("/metrics"))
	require.Regexp(t, `pipa_retention_items\{[^}]*state="held",tenant="jeongeup",unit="library"\} 1\n`, metrics)
	require.Regexp(t, `pipa_retention_items\{[^}]*state="retained",tenant="jeongeup",unit="library"\} 30\n`, metrics)
	list, err := cl.ListItems(manager, &retentionv1.ListItemsRequest{Parent: libraryUnit, State: "held"})
	require.NoError(t, err)
	require.Len(t, list.GetItems(), 1)
	// The recording system may not delete it either.
	_, err = cl.ConfirmDeletion(s.as(auth.RoleService, "tenants/jeongeup"), &retentionv1.ConfirmDeletionRequest{Name: held.GetName()})
	code, reason, _ := reasonOf(t, err)
	require.Equal(t, codes.FailedPrecondition, code)
	require.Equal(t, "ITEM_HELD", reason)

	// Releasing is recorded; releasing twice is refused.
	released, err := cl.ReleaseHold(s.as(auth.RoleCPO, libraryUnit), &retentionv1.ReleaseHoldRequest{Name: hold.GetName(), Reason: "수사 종결 통보(형사과-2345)"})
	require.NoError(t, err)
	require.True(t, released.GetReleased())
	require.Equal(t, "test-cpo", released.GetReleasedBy())
	require.Equal(t, "수사 종결 통보(형사과-2345)", released.GetReleaseReason())
	require.WithinDuration(t, today.AddDate(0, 0, -1).Add(time.Hour), released.GetReleaseTime().AsTime(), 0)
	_, err = cl.ReleaseHold(manager, &retentionv1.ReleaseHoldRequest{Name: hold.GetName(), Reason: "again"})
	_, reason, _ = reasonOf(t, err)
	require.Equal(t, "HOLD_RELEASED", reason)

	clock.set(today.Add(time.Hour))
	res, err = cl.SweepUnit(manager, &retentionv1.SweepUnitRequest{Parent: libraryUnit})
	require.NoError(t, err)
	require.EqualValues(t, 2, res.GetDestroyed(), "the released day and the day that turned 31")
	require.Empty(t, res.GetHoldsChecked())
	held = itemOn(t, cl, manager, heldDay)
	require.Equal(t, retentionv1.ItemState_ITEM_STATE_DESTROYED, held.GetState())
	require.Empty(t, held.GetHolds())
}

// Two sweepers on one unit at once — two SweepUnit calls and the sweep's River job — destroy each
// of 1,070 due recording days exactly once: every item once, in exactly one DESTRUCTION entry
// per batch, each appended once (STD-42-2).
func TestRetentionConcurrentSweeps(t *testing.T) {
	clock := &testClock{}
	s := startStack(t, withRetentionClock(clock))
	s.load("jeongeup-library.yaml")
	cl := s.retention()
	manager := s.as(auth.RoleManager, libraryUnit)
	today := retentionToday(t)
	clock.set(today.AddDate(0, 0, -1100).Add(time.Hour))
	_, err := cl.CreateRule(manager, &retentionv1.CreateRuleRequest{Parent: libraryUnit, Rule: cctvRule()})
	require.NoError(t, err)

	clock.set(today.Add(time.Hour))
	db := s.db()
	job := enqueue(t, db, retention.SweepUnitArgs{Tenant: "jeongeup", Unit: "library"})
	var wg sync.WaitGroup
	results := make([]*retentionv1.SweepResult, 2)
	errs := make([]error, 2)
	for i := range results {
		wg.Go(func() {
			results[i], errs[i] = cl.SweepUnit(manager, &retentionv1.SweepUnitRequest{Parent: libraryUnit})
		})
	}
	wg.Wait()
	require.NoError(t, errs[0])
	require.NoError(t, errs[1])
	waitJob(t, db, job)

	ctx := context.Background()
	var destroyed, batches, kept int64
	require.NoError(t, db.QueryRow(ctx, `SELECT count(*) FILTER (WHERE status = 4), count(DISTINCT ledger_index),
		count(*) FILTER (WHERE status <> 4) FROM retention.items`).Scan(&destroyed, &batches, &kept))
	require.EqualValues(t, 1070, destroyed, "every due day: -1100 … -31")
	require.EqualValues(t, 30, kept, "the last 30 days are kept")
	require.LessOrEqual(t, results[0].GetDestroyed()+results[1].GetDestroyed(), int64(1070))
	t.Logf("the two calls destroyed %d and %d items, the job the rest", results[0].GetDestroyed(), results[1].GetDestroyed())
	var total, sweeps int64
	require.NoError(t, db.QueryRow(ctx, `SELECT sum(destroyed), count(*) FROM retention.sweeps`).Scan(&total, &sweeps))
	require.EqualValues(t, 3, sweeps, "each sweeper recorded its sweep")
	require.EqualValues(t, 1070, total, "what each sweeper says it destroyed adds up to each item once")
	entries := destructions(t, s)
	require.Len(t, entries, int(batches), "one entry per batch, none twice")
	var outbox int64
	require.NoError(t, db.QueryRow(ctx, `SELECT count(*) FROM retention.outbox WHERE ledger_index IS NOT NULL`).Scan(&outbox))
	require.Equal(t, batches, outbox)
	// Each entry names as many days as its batch destroyed.
	per := map[int64]int{}
	rows, err := db.Query(ctx, `SELECT ledger_index, count(*) FROM retention.items WHERE ledger_index IS NOT NULL GROUP BY 1`)
	require.NoError(t, err)
	var idx int64
	var n int
	_, err = pgx.ForEachRow(rows, []any{&idx, &n}, func() error { per[idx] = n; return nil })
	require.NoError(t, err)
	for _, e := range entries {
		require.Contains(t, e.GetFileName(), "("+itoa(int64(per[e.GetIndex()]))+"일)", e.GetFileName())
	}
}

// enqueue inserts a retention job as another replica would; the stack's own River client works it.
func enqueue(t testing.TB, db *pgxpool.Pool, args river.JobArgs) int64 {
	t.Helper()
	client, err := river.NewClient(riverpgxv5.New(db), &river.Config{Schema: retentionpg.Schema})
	require.NoError(t, err)
	res, err := client.Insert(context.Background(), args, nil)
	require.NoError(t, err)
	return res.Job.ID
}

// waitJob waits for a retention job to complete.
func waitJob(t testing.TB, db *pgxpool.Pool, id int64) {
	t.Helper()
	require.Eventually(t, func() bool {
		var state string
		err := db.QueryRow(context.Background(), `SELECT state FROM retention.river_job WHERE id = $1`, id).Scan(&state)
		return err == nil && state == "completed"
	}, 30*time.Second, 50*time.Millisecond, "job %d completes", id)
}

// db is a pool on the stack's database, for what only SQL shows (and River's tables).
func (s *stack) db() *pgxpool.Pool {
	pool, err := pgxpool.New(context.Background(), s.dbURL)
	require.NoError(s.t, err)
	s.t.Cleanup(pool.Close)
	return pool
}

// closedRequest takes a citizen's access request through to its close (PIPA-35-3).
func closedRequest(t *testing.T, s *stack) *requestsv1.Request {
	t.Helper()
	cl := s.requests()
	staff := s.as(auth.RoleHandler, libraryUnit)
	r, err := cl.CreateRequest(staff, &requestsv1.CreateRequestRequest{Parent: libraryUnit, Request: withChannel(accessRequest())})
	require.NoError(t, err)
	name := r.GetRequest().GetName()
	_, err = cl.VerifyIdentity(staff, &requestsv1.VerifyIdentityRequest{Name: name,
		Verification: &requestsv1.Verification{Method: requestsv1.VerificationMethod_VERIFICATION_METHOD_ADMIN_DATA_SHARING}})
	require.NoError(t, err)
	_, err = cl.ApproveRequest(staff, &requestsv1.ApproveRequestRequest{Name: name, Grant: visitGrant()})
	require.NoError(t, err)
	_, err = cl.FulfillRequest(staff, &requestsv1.FulfillRequestRequest{Name: name, Note: "원본 열람 제공"})
	require.NoError(t, err)
	got, err := cl.CloseRequest(staff, &requestsv1.CloseRequestRequest{Name: name})
	require.NoError(t, err)
	require.Equal(t, requestsv1.RequestState_REQUEST_STATE_CLOSED, got.GetState())
	return got
}

// A destruction plan (파기요청서, STD-55): the sweep proposes it for the personal fields of a closed
// request and of a ledger entry; only the CPO approves it and confirms its result (STD-10-4), a
// manager is refused naming the rule; completion erases the request's personal fields (through
// the request service) and the entry's (the ledger's redaction), appends one DESTRUCTION entry
// per rule, and issues the 별지5 rows and a certificate whose signature verifies and whose
// indexes are the ledger's DESTRUCTION entries.
func TestRetentionPlan(t *testing.T) {
	clock := &testClock{}
	s := startStack(t, withRetentionClock(clock))
	s.load("jeongeup-library.yaml")
	cl := s.retention()
	manager, cpo := s.as(auth.RoleManager, libraryUnit), s.as(auth.RoleCPO, libraryUnit)
	clock.set(time.Now().Add(-time.Hour))

	closed := closedRequest(t, s)
	viewing := closed.GetLedger()[0]
	requestRule, err := cl.CreateRule(manager, &retentionv1.CreateRuleRequest{Parent: libraryUnit, RuleId: "closed-requests", Rule: &retentionv1.Rule{
		DisplayName: "종결된 열람청구 처리기록", Target: retentionv1.RuleTarget_RULE_TARGET_CLOSED_REQUESTS,
		PeriodDays: 3, ClockStart: retentionv1.ClockStart_CLOCK_START_REQUEST_CLOSED, Action: retentionv1.Action_ACTION_PLAN,
		Method: "개인정보 영구삭제(복구 불가)", Basis: "표준 개인정보 보호지침 제60조"}})
	require.NoError(t, err)
	entryRule, err := cl.CreateRule(manager, &retentionv1.CreateRuleRequest{Parent: libraryUnit, RuleId: "ledger-personal", Rule: &retentionv1.Rule{
		DisplayName: "관리대장 요구인 개인정보", Target: retentionv1.RuleTarget_RULE_TARGET_LEDGER_ENTRIES,
		PeriodDays: 3, ClockStart: retentionv1.ClockStart_CLOCK_START_COLLECTION, Action: retentionv1.Action_ACTION_PLAN,
		Method: "개인정보 영구삭제(복구 불가)"}})
	require.NoError(t, err)
	handler := s.as(auth.RoleHandler, libraryUnit)
	reqItem, err := cl.CreateItem(handler, &retentionv1.CreateItemRequest{Parent: libraryUnit, RequestId: "item-1",
		Item: &retentionv1.Item{Rule: requestRule.GetName(), Resource: closed.GetName()}})
	require.NoError(t, err)
	require.WithinDuration(t, closed.GetCloseTime().AsTime(), reqItem.GetClockStartTime().AsTime(), time.Microsecond, "the period runs from the close")
	again, err := cl.CreateItem(handler, &retentionv1.CreateItemRequest{Parent: libraryUnit, RequestId: "item-1",
		Item: &retentionv1.Item{Rule: requestRule.GetName(), Resource: closed.GetName()}})
	require.NoError(t, err)
	require.Equal(t, reqItem.GetName(), again.GetName(), "a retried create makes nothing new (AIP-155)")
	// The request service registers its closed requests itself, stating the close time; one
	// item per request and rule.
	service := s.as(auth.RoleService, auth.ScopeAll)
	_, err = cl.CreateItem(service, &retentionv1.CreateItemRequest{Parent: libraryUnit,
		Item: &retentionv1.Item{Rule: requestRule.GetName(), Resource: closed.GetName()}})
	require.Equal(t, "PIPA-21-1", findViolation(t, err, "item.clock_start_time").GetReason())
	_, err = cl.CreateItem(service, &retentionv1.CreateItemRequest{Parent: libraryUnit,
		Item: &retentionv1.Item{Rule: requestRule.GetName(), Resource: closed.GetName(), ClockStartTime: closed.GetCloseTime()}})
	require.Equal(t, codes.AlreadyExists, status.Code(err))
	entryItem, err := cl.CreateItem(handler, &retentionv1.CreateItemRequest{Parent: libraryUnit,
		Item: &retentionv1.Item{Rule: entryRule.GetName(), Resource: viewing.GetEntry()}})
	require.NoError(t, err)

	// The sweep runs after the period (the clock runs ahead; the plan is approved and completed
	// now, so that the ledger records nothing in its future).
	clock.set(time.Now().AddDate(0, 0, 5))
	res, err := cl.SweepUnit(manager, &retentionv1.SweepUnitRequest{Parent: libraryUnit})
	require.NoError(t, err)
	require.EqualValues(t, 2, res.GetPlanned())
	require.Len(t, res.GetPlans(), 1)
	plan, err := cl.GetPlan(manager, &retentionv1.GetPlanRequest{Name: res.GetPlans()[0]})
	require.NoError(t, err)
	require.Equal(t, retentionv1.PlanState_PLAN_STATE_PROPOSED, plan.GetState())
	require.ElementsMatch(t, []string{reqItem.GetName(), entryItem.GetName()}, plan.GetItems())
	require.Equal(t, "보유기간 경과", plan.GetReason())
	res, err = cl.SweepUnit(manager, &retentionv1.SweepUnitRequest{Parent: libraryUnit})
	require.NoError(t, err)
	require.Zero(t, res.GetPlanned(), "planned items are not planned again")

	// Not completed 5 days after its items were due, the plan and its items are overdue (STD-10-1).
	clock.set(time.Now().AddDate(0, 0, 10))
	plan, err = cl.GetPlan(manager, &retentionv1.GetPlanRequest{Name: plan.GetName()})
	require.NoError(t, err)
	require.True(t, plan.GetOverdue())
	overdue, err := cl.ListItems(manager, &retentionv1.ListItemsRequest{Parent: libraryUnit, State: "overdue"})
	require.NoError(t, err)
	require.Len(t, overdue.GetItems(), 2)
	metrics := body(t, s.get("/metrics"))
	require.Regexp(t, `pipa_retention_overdue\{kind="plans",[^}]*tenant="jeongeup",unit="library"\} 1\n`, metrics)
	require.Regexp(t, `pipa_retention_overdue\{kind="items",[^}]*tenant="jeongeup",unit="library"\} 2\n`, metrics)

	clock.set(time.Now().Add(-time.Minute))
	for _, who := range []context.Context{manager, handler} {
		_, err = cl.ApprovePlan(who, &retentionv1.ApprovePlanRequest{Name: plan.GetName()})
		require.Equal(t, codes.PermissionDenied, status.Code(err))
		require.Equal(t, "STD-55", errorRule(t, err), "the refusal names the rule")
	}
	_, err = cl.CompletePlan(cpo, &retentionv1.CompletePlanRequest{Name: plan.GetName(), Method: "영구삭제", DestroyedBy: "주무관 송승학"})
	_, reason, _ := reasonOf(t, err)
	require.Equal(t, "PLAN_NOT_APPROVED", reason)
	plan, err = cl.ApprovePlan(cpo, &retentionv1.ApprovePlanRequest{Name: plan.GetName(), Etag: plan.GetEtag()})
	require.NoError(t, err)
	require.Equal(t, retentionv1.PlanState_PLAN_STATE_APPROVED, plan.GetState())
	require.Equal(t, "test-cpo", plan.GetApprovedBy())

	_, err = cl.CompletePlan(manager, &retentionv1.CompletePlanRequest{Name: plan.GetName(), Method: "영구삭제", DestroyedBy: "주무관 송승학"})
	require.Equal(t, codes.PermissionDenied, status.Code(err))
	_, err = cl.CompletePlan(cpo, &retentionv1.CompletePlanRequest{Name: plan.GetName(), DestroyedBy: "주무관 송승학"})
	require.Equal(t, "DEC-16", violation(t, err).GetReason())

	clock.set(time.Now())
	done, err := cl.CompletePlan(cpo, &retentionv1.CompletePlanRequest{Name: plan.GetName(),
		Method: "개인정보 영구삭제(복구 불가)", DestroyedBy: "주무관 송승학", Etag: plan.GetEtag()})
	require.NoError(t, err)
	require.Equal(t, retentionv1.PlanState_PLAN_STATE_COMPLETED, done.GetState())

	// The request service erased the requester; the ledger entry's personal values are redacted.
	r, err := s.requests().GetRequest(handler, &requestsv1.GetRequestRequest{Name: closed.GetName()})
	require.NoError(t, err)
	require.NotNil(t, r.GetEraseTime())
	require.Empty(t, r.GetRequester().GetName())
	led := s.ledger()
	v, err := led.GetEntry(handler, &ledgerv1.GetEntryRequest{Name: viewing.GetEntry()})
	require.NoError(t, err)
	require.True(t, v.GetRedacted())
	require.Empty(t, v.GetRequesterName())

	// 별지5: one row per rule.
	require.Len(t, done.GetRecords(), 2)
	for _, rec := range done.GetRecords() {
		require.Equal(t, "보유기간 경과", rec.GetReason())
		require.Equal(t, "주무관 송승학", rec.GetHandler())
		require.Equal(t, "소장 송현숙", rec.GetDepartmentHead(), "the unit's CCTV manager heads it")
		require.Equal(t, time.Now().In(seoul(t)).Format(time.DateOnly), rec.GetDestroyed())
	}

	// The certificate: signed by the tenant's key, listing every item with its entry's index.
	c := done.GetCertificate()
	verifier, err := note.NewVerifier(c.GetVerifierKey())
	require.NoError(t, err)
	n, err := note.Open([]byte(c.GetNote()), note.VerifierList(verifier))
	require.NoError(t, err)
	require.Equal(t, c.GetText(), n.Text)
	require.Contains(t, n.Text, "plan "+plan.GetName()+"\n")
	require.Contains(t, n.Text, "method 개인정보 영구삭제(복구 불가)\n")
	for _, name := range []string{reqItem.GetName(), entryItem.GetName()} {
		it, err := cl.GetItem(manager, &retentionv1.GetItemRequest{Name: name})
		require.NoError(t, err)
		require.Equal(t, retentionv1.ItemState_ITEM_STATE_DESTROYED, it.GetState())
		require.Contains(t, n.Text, "item "+name+" entry "+itoa(it.GetLedgerIndex())+" ")
		e, err := led.GetEntry(handler, &ledgerv1.GetEntryRequest{Name: libraryLog + "/ledger/entries/" + itoa(it.GetLedgerIndex())})
		require.NoError(t, err)
		require.Equal(t, ledgerv1.EntryKind_ENTRY_KIND_DESTRUCTION, e.GetKind())
		require.Equal(t, plan.GetName(), e.GetPlan())
		require.Equal(t, "주무관 송승학", e.GetHandler())
	}
	tampered := strings.Replace(c.GetNote(), "주무관 송승학", "주무관 김철수", 1)
	_, err = note.Open([]byte(tampered), note.VerifierList(verifier))
	require.Error(t, err, "an altered certificate does not verify")

	// Completing again is refused; the plan stays as it was.
	_, err = cl.CompletePlan(cpo, &retentionv1.CompletePlanRequest{Name: plan.GetName(), Method: "파쇄", DestroyedBy: "x"})
	_, reason, _ = reasonOf(t, err)
	require.Equal(t, "PLAN_COMPLETED", reason)
}

// errorRule is the LAW.md rule an error's ErrorInfo names.
func errorRule(t testing.TB, err error) string {
	t.Helper()
	st, _ := status.FromError(err)
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info.GetMetadata()["rule"]
		}
	}
	return ""
}

// A copy handed to the police (seed 001 별표3 row 2) is chased (C-9): created by the request
// service from its PROVISION entry, reminded daily once past its due date and counted overdue,
// checked in the quarter's review of public recipients' replies, and closed by outcomes each
// appended as an AMENDMENT that follows the PROVISION entry: extended (with the new period),
// then destroyed (with the recipient's notice); another one returned.
func TestRetentionCopies(t *testing.T) {
	clock := &testClock{}
	s := startStack(t, withRetentionClock(clock))
	s.load("jeongeup-library.yaml")
	cl := s.retention()
	led := s.ledger()
	staff := s.as(auth.RoleHandler, libraryUnit)
	service := s.as(auth.RoleService, auth.ScopeAll)
	clock.set(time.Now().Add(-time.Minute))

	provision := func() int64 {
		e, err := led.AppendEntry(staff, &ledgerv1.AppendEntryRequest{Parent: libraryLog, Entry: policeProvision()})
		require.NoError(t, err)
		return e.GetIndex()
	}
	p1 := provision()
	create := &retentionv1.CreateCopyRequest{Parent: libraryUnit, RequestId: "copy-1",
		Copy: &retentionv1.Copy{ProvisionIndex: p1, PublicRecipient: true}}
	c, err := cl.CreateCopy(service, create)
	require.NoError(t, err)
	require.Equal(t, "정읍경찰서", c.GetRecipient(), "from the PROVISION entry")
	require.Equal(t, "2026-12-20", c.GetDestructionDueDate())
	require.Equal(t, retentionv1.CopyState_COPY_STATE_OUT, c.GetState())
	again, err := cl.CreateCopy(service, create)
	require.NoError(t, err)
	require.Equal(t, c.GetName(), again.GetName())
	_, err = cl.CreateCopy(service, &retentionv1.CreateCopyRequest{Parent: libraryUnit, Copy: &retentionv1.Copy{ProvisionIndex: p1}})
	require.Equal(t, codes.AlreadyExists, status.Code(err), "one copy per provision")
	viewing, err := led.AppendEntry(staff, &ledgerv1.AppendEntryRequest{Parent: libraryLog, Entry: &ledgerv1.Entry{
		Kind: ledgerv1.EntryKind_ENTRY_KIND_USE, OccurTime: timestamppb.New(time.Now().Add(-time.Hour)), FileName: "정문 CH01",
		Counterparty: "시설관리팀", Purpose: "시설 점검", Form: "현장 열람", Handler: "주무관 송승학",
		LegalBasis: "개인정보 보호법 제18조 제2항 제2호", Items: []string{"영상"}}})
	require.NoError(t, err)
	_, err = cl.CreateCopy(service, &retentionv1.CreateCopyRequest{Parent: libraryUnit, Copy: &retentionv1.Copy{ProvisionIndex: viewing.GetIndex()}})
	require.Equal(t, "C-9", violation(t, err).GetReason(), "a copy follows a PROVISION entry")

	// Past its due date, the daily job records one reminder a day.
	db := s.db()
	clock.set(time.Date(2026, 12, 22, 10, 0, 0, 0, seoul(t)))
	waitJob(t, db, enqueue(t, db, retention.RemindCopiesArgs{}))
	waitJob(t, db, enqueue(t, db, retention.RemindCopiesArgs{}))
	got, err := cl.GetCopy(staff, &retentionv1.GetCopyRequest{Name: c.GetName()})
	require.NoError(t, err)
	require.EqualValues(t, 1, got.GetReminders(), "one reminder a day")
	require.True(t, got.GetOverdue())
	require.WithinDuration(t, clock.now(), got.GetLastReminderTime().AsTime(), 0)
	overdue, err := cl.ListCopies(staff, &retentionv1.ListCopiesRequest{Parent: libraryUnit, State: "overdue"})
	require.NoError(t, err)
	require.Len(t, overdue.GetCopies(), 1)
	require.Regexp(t, `pipa_retention_overdue\{kind="copies",[^}]*tenant="jeongeup",unit="library"\} 1\n`, body(t, s.get("/metrics")))
	clock.set(clock.now().AddDate(0, 0, 1))
	waitJob(t, db, enqueue(t, db, retention.RemindCopiesArgs{}))
	got, err = cl.GetCopy(staff, &retentionv1.GetCopyRequest{Name: c.GetName()})
	require.NoError(t, err)
	require.EqualValues(t, 2, got.GetReminders())
	// The quarter's check of public recipients' replies lists it as still out (C-9).
	waitJob(t, db, enqueue(t, db, retention.CheckCopiesArgs{}))
	var out []string
	require.NoError(t, db.QueryRow(context.Background(), `SELECT copies_out FROM retention.copy_checks
		WHERE tenant_id = 'jeongeup' AND unit_id = 'library' AND quarter = '2026-Q4'`).Scan(&out))
	require.Equal(t, []string{c.GetName()}, out)

	clock.set(time.Now().Add(-time.Minute))
	amendment := func(c *retentionv1.Copy) *ledgerv1.Entry {
		o := c.GetOutcomes()[len(c.GetOutcomes())-1]
		require.NotZero(t, o.GetLedgerIndex(), "the answer carries the entry's index")
		e, err := led.GetEntry(staff, &ledgerv1.GetEntryRequest{Name: libraryLog + "/ledger/entries/" + itoa(o.GetLedgerIndex())})
		require.NoError(t, err)
		require.Equal(t, ledgerv1.EntryKind_ENTRY_KIND_AMENDMENT, e.GetKind())
		require.Equal(t, c.GetProvisionIndex(), e.GetFollows())
		return e
	}
	// An extension later than the current date, with its reason.
	_, err = cl.RecordCopyOutcome(staff, &retentionv1.RecordCopyOutcomeRequest{Name: c.GetName(), Outcome: &retentionv1.CopyOutcome{
		Kind: retentionv1.OutcomeKind_OUTCOME_KIND_EXTENDED, NewDueDate: "2026-12-01", Reason: "수사 연장"}})
	require.Equal(t, "C-9", violation(t, err).GetReason())
	ext, err := cl.RecordCopyOutcome(staff, &retentionv1.RecordCopyOutcomeRequest{Name: c.GetName(), Outcome: &retentionv1.CopyOutcome{
		Kind: retentionv1.OutcomeKind_OUTCOME_KIND_EXTENDED, NewDueDate: "2027-01-31", Reason: "정읍경찰서 수사기간 연장 요청(형사과-3456)"}})
	require.NoError(t, err)
	require.Equal(t, "2027-01-31", ext.GetDestructionDueDate())
	e := amendment(ext)
	require.Equal(t, ledgerv1.AmendmentKind_AMENDMENT_KIND_EXTENSION, e.GetAmendmentKind())
	require.Equal(t, "2026-12-20 ~ 2027-01-31", e.GetPeriod())

	// A destruction needs the recipient's notice; refused, nothing changes.
	_, err = cl.RecordCopyOutcome(staff, &retentionv1.RecordCopyOutcomeRequest{Name: c.GetName(), Outcome: &retentionv1.CopyOutcome{
		Kind: retentionv1.OutcomeKind_OUTCOME_KIND_DESTROYED}})
	require.Equal(t, "outcome.evidence", violation(t, err).GetField())
	require.Equal(t, "C-9", violation(t, err).GetReason())
	got, err = cl.GetCopy(staff, &retentionv1.GetCopyRequest{Name: c.GetName()})
	require.NoError(t, err)
	require.Len(t, got.GetOutcomes(), 1)
	destroyed, err := cl.RecordCopyOutcome(staff, &retentionv1.RecordCopyOutcomeRequest{Name: c.GetName(), Etag: got.GetEtag(),
		Outcome: &retentionv1.CopyOutcome{Kind: retentionv1.OutcomeKind_OUTCOME_KIND_DESTROYED, Evidence: "정읍경찰서 형사과-4567, 파기 통보"}})
	require.NoError(t, err)
	require.Equal(t, retentionv1.CopyState_COPY_STATE_DESTROYED, destroyed.GetState())
	require.Equal(t, ledgerv1.AmendmentKind_AMENDMENT_KIND_DESTRUCTION_REPLY, amendment(destroyed).GetAmendmentKind())
	_, err = cl.RecordCopyOutcome(staff, &retentionv1.RecordCopyOutcomeRequest{Name: c.GetName(), Outcome: &retentionv1.CopyOutcome{
		Kind: retentionv1.OutcomeKind_OUTCOME_KIND_RETURNED, Evidence: "x"}})
	_, reason, _ := reasonOf(t, err)
	require.Equal(t, "COPY_NOT_OUT", reason)

	c2, err := cl.CreateCopy(s.as(auth.RoleManager, libraryUnit), &retentionv1.CreateCopyRequest{Parent: libraryUnit,
		Copy: &retentionv1.Copy{ProvisionIndex: provision(), PublicRecipient: true}})
	require.NoError(t, err)
	returned, err := cl.RecordCopyOutcome(staff, &retentionv1.RecordCopyOutcomeRequest{Name: c2.GetName(), Outcome: &retentionv1.CopyOutcome{
		Kind: retentionv1.OutcomeKind_OUTCOME_KIND_RETURNED, Evidence: "USB 반환 접수(형사과-5678)"}})
	require.NoError(t, err)
	require.Equal(t, retentionv1.CopyState_COPY_STATE_RETURNED, returned.GetState())
	require.Equal(t, ledgerv1.AmendmentKind_AMENDMENT_KIND_RETURN, amendment(returned).GetAmendmentKind())
}

// Another tenant's CPO is refused every method on Jeongeup's unit, whether the resource exists or
// not, so it learns nothing; under its own unit, Jeongeup's names do not resolve.
func TestRetentionTenantIsolation(t *testing.T) {
	clock := &testClock{}
	s := startStack(t, withRetentionClock(clock))
	s.load("jeongeup-library.yaml")
	s.load("seongnam-library.yaml")
	cl := s.retention()
	manager := s.as(auth.RoleManager, libraryUnit)
	today := retentionToday(t)
	clock.set(today.AddDate(0, 0, -40).Add(time.Hour))
	rule, err := cl.CreateRule(manager, &retentionv1.CreateRuleRequest{Parent: libraryUnit, RuleId: "cctv", Rule: cctvRule()})
	require.NoError(t, err)
	hold, err := cl.CreateHold(manager, &retentionv1.CreateHoldRequest{Parent: libraryUnit, Hold: &retentionv1.Hold{Site: centralSite,
		StartTime: timestamppb.New(today.AddDate(0, 0, -35)), EndTime: timestamppb.New(today.AddDate(0, 0, -34)),
		Reason: "수사 협조", Custodian: "송승학", ReviewDate: today.Format(time.DateOnly)}})
	require.NoError(t, err)
	clock.set(today.Add(time.Hour))
	_, err = cl.SweepUnit(manager, &retentionv1.SweepUnitRequest{Parent: libraryUnit})
	require.NoError(t, err)
	item := itemOn(t, cl, manager, today.AddDate(0, 0, -2))

	other := s.as(auth.RoleCPO, "tenants/seongnam")
	missing := libraryUnit + "/items/999999"
	calls := map[string]func(name string) error{
		"CreateRule": func(string) error {
			_, err := cl.CreateRule(other, &retentionv1.CreateRuleRequest{Parent: libraryUnit, Rule: cctvRule()})
			return err
		},
		"GetRule": func(string) error {
			_, err := cl.GetRule(other, &retentionv1.GetRuleRequest{Name: rule.GetName()})
			return err
		},
		"ListRules": func(string) error {
			_, err := cl.ListRules(other, &retentionv1.ListRulesRequest{Parent: libraryUnit})
			return err
		},
		"UpdateRule": func(string) error {
			_, err := cl.UpdateRule(other, &retentionv1.UpdateRuleRequest{Rule: &retentionv1.Rule{Name: rule.GetName(), Method: "x"}})
			return err
		},
		"DeleteRule": func(string) error {
			_, err := cl.DeleteRule(other, &retentionv1.DeleteRuleRequest{Name: rule.GetName()})
			return err
		},
		"CreateHold": func(string) error {
			_, err := cl.CreateHold(other, &retentionv1.CreateHoldRequest{Parent: libraryUnit, Hold: &retentionv1.Hold{File: "x"}})
			return err
		},
		"GetHold": func(string) error {
			_, err := cl.GetHold(other, &retentionv1.GetHoldRequest{Name: hold.GetName()})
			return err
		},
		"ListHolds": func(string) error {
			_, err := cl.ListHolds(other, &retentionv1.ListHoldsRequest{Parent: libraryUnit})
			return err
		},
		"ReleaseHold": func(string) error {
			_, err := cl.ReleaseHold(other, &retentionv1.ReleaseHoldRequest{Name: hold.GetName(), Reason: "x"})
			return err
		},
		"CreateItem": func(string) error {
			_, err := cl.CreateItem(other, &retentionv1.CreateItemRequest{Parent: libraryUnit, Item: &retentionv1.Item{Rule: rule.GetName()}})
			return err
		},
		"GetItem": func(name string) error {
			_, err := cl.GetItem(other, &retentionv1.GetItemRequest{Name: name})
			return err
		},
		"ListItems": func(string) error {
			_, err := cl.ListItems(other, &retentionv1.ListItemsRequest{Parent: libraryUnit})
			return err
		},
		"ConfirmDeletion": func(name string) error {
			_, err := cl.ConfirmDeletion(other, &retentionv1.ConfirmDeletionRequest{Name: name})
			return err
		},
		"GetPlan": func(string) error {
			_, err := cl.GetPlan(other, &retentionv1.GetPlanRequest{Name: libraryUnit + "/plans/1"})
			return err
		},
		"ListPlans": func(string) error {
			_, err := cl.ListPlans(other, &retentionv1.ListPlansRequest{Parent: libraryUnit})
			return err
		},
		"ApprovePlan": func(string) error {
			_, err := cl.ApprovePlan(other, &retentionv1.ApprovePlanRequest{Name: libraryUnit + "/plans/1"})
			return err
		},
		"CompletePlan": func(string) error {
			_, err := cl.CompletePlan(other, &retentionv1.CompletePlanRequest{Name: libraryUnit + "/plans/1", Method: "x", DestroyedBy: "x"})
			return err
		},
		"SweepUnit": func(string) error {
			_, err := cl.SweepUnit(other, &retentionv1.SweepUnitRequest{Parent: libraryUnit})
			return err
		},
		"CreateCopy": func(string) error {
			_, err := cl.CreateCopy(other, &retentionv1.CreateCopyRequest{Parent: libraryUnit, Copy: &retentionv1.Copy{ProvisionIndex: 0}})
			return err
		},
		"GetCopy": func(string) error {
			_, err := cl.GetCopy(other, &retentionv1.GetCopyRequest{Name: libraryUnit + "/copies/1"})
			return err
		},
		"ListCopies": func(string) error {
			_, err := cl.ListCopies(other, &retentionv1.ListCopiesRequest{Parent: libraryUnit})
			return err
		},
		"RecordCopyOutcome": func(string) error {
			_, err := cl.RecordCopyOutcome(other, &retentionv1.RecordCopyOutcomeRequest{Name: libraryUnit + "/copies/1",
				Outcome: &retentionv1.CopyOutcome{Kind: retentionv1.OutcomeKind_OUTCOME_KIND_DESTROYED, Evidence: "x"}})
			return err
		},
	}
	require.Len(t, calls, retentionv1.File_pipa_retention_v1_retention_proto.Services().Get(0).Methods().Len(), "every method")
	for method, call := range calls {
		for _, name := range []string{item.GetName(), missing} {
			err := call(name)
			require.Equal(t, codes.PermissionDenied, status.Code(err), "%s: %v", method, err)
			require.NotContains(t, err.Error(), "999999", method)
		}
	}
	// Seongnam's own unit does not see Jeongeup's item under its name.
	_, err = cl.GetItem(s.as(auth.RoleCPO, "tenants/seongnam"), &retentionv1.GetItemRequest{
		Name: strings.Replace(item.GetName(), libraryUnit, "tenants/seongnam/units/library-office", 1)})
	require.Equal(t, codes.NotFound, status.Code(err))
	// And nothing it tried changed Jeongeup's unit.
	got, err := cl.GetHold(manager, &retentionv1.GetHoldRequest{Name: hold.GetName()})
	require.NoError(t, err)
	require.False(t, got.GetReleased())
	rules, err := cl.ListRules(manager, &retentionv1.ListRulesRequest{Parent: libraryUnit})
	require.NoError(t, err)
	require.Len(t, rules.GetRules(), 1)
}

// Bad input is refused naming the field and the LAW.md rule, and changes nothing.
func TestRetentionBadInput(t *testing.T) {
	s := startStack(t)
	s.load("jeongeup-library.yaml")
	cl := s.retention()
	manager := s.as(auth.RoleManager, libraryUnit)
	with := func(change func(r *retentionv1.Rule)) *retentionv1.Rule {
		r := cctvRule()
		change(r)
		return r
	}
	cases := []struct {
		name, field, rule string
		r                 *retentionv1.Rule
	}{
		{"no method", "rule.method", "required", with(func(r *retentionv1.Rule) { r.Method = "" })},
		{"auto-delete without its cycle", "rule.auto_delete_cycle", "required", with(func(r *retentionv1.Rule) { r.AutoDeleteCycle = "" })},
		{"a site counted from collection", "rule.clock_start", "STD-41-2", with(func(r *retentionv1.Rule) {
			r.ClockStart = retentionv1.ClockStart_CLOCK_START_COLLECTION
		})},
		{"a site of another unit", "rule.resource", "STD-41-2", with(func(r *retentionv1.Rule) { r.Resource = "tenants/iksan/units/city/sites/x" })},
		{"an unknown site", "rule.resource", "STD-41-2", with(func(r *retentionv1.Rule) { r.Resource = libraryUnit + "/sites/nowhere" })},
		{"requests deleted without a plan", "rule.action", "STD-55", with(func(r *retentionv1.Rule) {
			r.Target, r.Resource, r.PeriodDays = retentionv1.RuleTarget_RULE_TARGET_CLOSED_REQUESTS, "", 365
			r.ClockStart = retentionv1.ClockStart_CLOCK_START_REQUEST_CLOSED
		})},
		{"a category without a period", "rule.period_days", "STD-60", with(func(r *retentionv1.Rule) {
			r.Target, r.Resource, r.Action = retentionv1.RuleTarget_RULE_TARGET_LEDGER_ENTRIES, "", retentionv1.Action_ACTION_PLAN
			r.ClockStart = retentionv1.ClockStart_CLOCK_START_COLLECTION
		})},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := cl.CreateRule(manager, &retentionv1.CreateRuleRequest{Parent: libraryUnit, Rule: c.r})
			require.Equal(t, codes.InvalidArgument, status.Code(err), "%v", err)
			v := findViolation(t, err, c.field)
			require.Equal(t, c.rule, v.GetReason(), v.GetDescription())
		})
	}
	_, err := cl.CreateHold(manager, &retentionv1.CreateHoldRequest{Parent: libraryUnit, Hold: &retentionv1.Hold{
		Site: centralSite, StartTime: timestamppb.Now(), EndTime: timestamppb.New(time.Now().Add(time.Hour)), Custodian: "송승학",
		ReviewDate: "2099-01-01"}})
	require.Equal(t, "PIPA-21-1", findViolation(t, err, "hold.reason").GetReason())
	rules, err := cl.ListRules(manager, &retentionv1.ListRulesRequest{Parent: libraryUnit})
	require.NoError(t, err)
	require.Empty(t, rules.GetRules(), "nothing refused was stored")
	holds, err := cl.ListHolds(manager, &retentionv1.ListHoldsRequest{Parent: libraryUnit, ShowReleased: true})
	require.NoError(t, err)
	require.Empty(t, holds.GetHolds())
	rule, err := cl.CreateRule(manager, &retentionv1.CreateRuleRequest{Parent: libraryUnit, Rule: cctvRule()})
	require.NoError(t, err)
	_, err = cl.CreateItem(s.as(auth.RoleHandler, libraryUnit), &retentionv1.CreateItemRequest{Parent: libraryUnit,
		Item: &retentionv1.Item{Rule: rule.GetName()}})
	require.Equal(t, "STD-41-2", findViolation(t, err, "item.recording_date").GetReason())
	items, err := cl.ListItems(manager, &retentionv1.ListItemsRequest{Parent: libraryUnit})
	require.NoError(t, err)
	require.Empty(t, items.GetItems())
	// A handler may read but not set rules.
	_, err = cl.CreateRule(s.as(auth.RoleHandler, libraryUnit), &retentionv1.CreateRuleRequest{Parent: libraryUnit, Rule: cctvRule()})
	require.Equal(t, codes.PermissionDenied, status.Code(err))
}

// findViolation is the violation of field in a status error.
func findViolation(t testing.TB, err error, field string) *errdetails.BadRequest_FieldViolation {
	t.Helper()
	st, _ := status.FromError(err)
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				if v.GetField() == field {
					return v
				}
			}
		}
	}
	t.Fatalf("no violation of %s in %v", field, err)
	return nil
}

// A request that closes under a unit's rule for closed requests is registered with the retention
// service by the request service itself, its period running from the close (PIPA-21-1), so that
// its personal fields are erased when the period ends.
func TestClosedRequestsRegisterThemselves(t *testing.T) {
	s := startStack(t)
	s.load("jeongeup-library.yaml")
	cl := s.retention()
	manager := s.as(auth.RoleManager, libraryUnit)
	rule, err := cl.CreateRule(manager, &retentionv1.CreateRuleRequest{Parent: libraryUnit, RuleId: "closed-requests", Rule: &retentionv1.Rule{
		DisplayName: "종결된 열람청구 처리기록", Target: retentionv1.RuleTarget_RULE_TARGET_CLOSED_REQUESTS,
		PeriodDays: 365 * 3, ClockStart: retentionv1.ClockStart_CLOCK_START_REQUEST_CLOSED, Action: retentionv1.Action_ACTION_PLAN,
		Method: "개인정보 영구삭제(복구 불가)", Basis: "표준 개인정보 보호지침 제60조"}})
	require.NoError(t, err)
	closed := closedRequest(t, s)
	items, err := cl.ListItems(manager, &retentionv1.ListItemsRequest{Parent: libraryUnit})
	require.NoError(t, err)
	require.Len(t, items.GetItems(), 1)
	it := items.GetItems()[0]
	require.Equal(t, rule.GetName(), it.GetRule())
	require.Equal(t, closed.GetName(), it.GetResource())
	require.WithinDuration(t, closed.GetCloseTime().AsTime(), it.GetClockStartTime().AsTime(), time.Microsecond)
	require.Equal(t, retentionv1.ItemState_ITEM_STATE_RETAINED, it.GetState())
}
