package retention_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pipa-kr/pipa/pkg/outbound/outboundtest"
	kst "github.com/pipa-kr/pipa/pkg/seoul"
	"github.com/pipa-kr/pipa/pkg/stacktest"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"golang.org/x/mod/sumdb/note"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pipa-kr/pipa/pkg/auth"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	requestsv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/requests/v1"
	retentionv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/retention/v1"
	"github.com/pipa-kr/pipa/services/ledger/ledgertest"
	"github.com/pipa-kr/pipa/services/requests/requeststest"
	"github.com/pipa-kr/pipa/services/retention"
	"github.com/pipa-kr/pipa/services/retention/retentiontest"
)

// The retention service end to end (issue 5, LAW.md section 6), on a clock the tests move. The
// other services keep real time, and the ledger refuses records of what has not happened yet, so
// every time the retention clock stamps on a ledger entry lies in the past: "today" below is
// retentiontest.Today, the Seoul day of two hours ago.

const centralSite = libraryUnit + "/sites/central"

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

// Over REST an update's mask names the fields as the JSON does (updateMask=autoDeleteCycle) or as
// the proto does (auto_delete_cycle); a rule's fixed fields are refused in either form.
func TestRuleUpdateMaskJSONNames(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("jeongeup-library.yaml")
	bearer := "Bearer " + s.Token(auth.RoleManager, libraryUnit)
	send := func(method, path, body string) (int, string) {
		req, err := http.NewRequest(method, s.URL+path, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Authorization", bearer)
		resp, err := s.HTTP.Do(req)
		require.NoError(t, err)
		return resp.StatusCode, stacktest.Body(t, resp)
	}
	code, body := send(http.MethodPost, "/v1/"+libraryUnit+"/rules?ruleId=cctv-central", `{"displayName":"중앙도서관 CCTV",
		"target":"RULE_TARGET_SITE","resource":"`+centralSite+`","clockStart":"CLOCK_START_RECORDING","action":"ACTION_AUTO_DELETE",
		"autoDeleteCycle":"매일 00시 덮어쓰기","method":"영구삭제"}`)
	require.Equal(t, http.StatusOK, code, body)
	rule := "/v1/" + libraryUnit + "/rules/cctv-central"
	for mask, cycle := range map[string]string{"autoDeleteCycle": "매일 01시 덮어쓰기", "auto_delete_cycle": "매일 02시 덮어쓰기"} {
		code, body = send(http.MethodPatch, rule+"?updateMask="+mask, `{"autoDeleteCycle":"`+cycle+`"}`)
		require.Equal(t, http.StatusOK, code, body)
		require.Contains(t, body, `"autoDeleteCycle":"`+cycle+`"`)
	}
	code, body = send(http.MethodPatch, rule+"?updateMask=clockStart,resource", `{"resource":"`+centralSite+`"}`)
	require.Equal(t, http.StatusBadRequest, code, body)
	require.Contains(t, body, `"reason":"immutable"`)
}

// A 30-day CCTV rule (STD-41-2, seed 000 제4조) destroys the recording of day 31 and keeps that of
// day 30; each sweep records the automatic deletion in the ledger with its cycle and check time
// (STD-42-2), once. The rule is created over REST, and its period is the registry's.
func TestRetentionCCTV30Days(t *testing.T) {
	t.Parallel()
	clock := &retentiontest.Clock{}
	s := startStack(t, stacktest.WithClock(clock.Now))
	s.Load("jeongeup-library.yaml")
	retentiontest.Started(t, s.DB())
	cl := s.retention()
	manager := s.As(auth.RoleManager, libraryUnit)
	today := retentiontest.Today()

	clock.Set(today.AddDate(0, 0, -41).Add(time.Hour))
	payload, err := json.Marshal(map[string]any{"displayName": "중앙도서관 CCTV 녹화영상", "target": "RULE_TARGET_SITE",
		"resource": centralSite, "clockStart": "CLOCK_START_RECORDING", "action": "ACTION_AUTO_DELETE",
		"autoDeleteCycle": "매일 00시 보관기간 경과분 자동 덮어쓰기", "method": "영구삭제(덮어쓰기, 복구 불가)", "periodDays": 90})
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, s.URL+"/v1/"+libraryUnit+"/rules?ruleId=cctv-central&requestId=r-1", strings.NewReader(string(payload)))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+s.Token(auth.RoleManager, libraryUnit))
	resp, err := s.HTTP.Do(req)
	require.NoError(t, err)
	page := stacktest.Body(t, resp)
	require.Equal(t, http.StatusOK, resp.StatusCode, page)
	var rule retentionv1.Rule
	require.NoError(t, protojson.Unmarshal([]byte(page), &rule))
	require.Equal(t, libraryUnit+"/rules/cctv-central", rule.GetName())
	require.EqualValues(t, 30, rule.GetPeriodDays(), "a site's period is its retention days in the registry, not the client's 90")

	// The recorder already holds the 30 days before the rule: they are items too, so that their
	// deletion is recorded (STD-42-2, STD-10-3); none is due yet.
	res, err := cl.SweepUnit(manager, &retentionv1.SweepUnitRequest{Parent: libraryUnit})
	require.NoError(t, err)
	require.Zero(t, res.GetDestroyed())
	kept, err := cl.ListItems(manager, &retentionv1.ListItemsRequest{Parent: libraryUnit, State: "retained"})
	require.NoError(t, err)
	require.Len(t, kept.GetItems(), 30)
	require.Equal(t, today.AddDate(0, 0, -71).Format(time.DateOnly), kept.GetItems()[0].GetRecordingDate())

	// Yesterday at 01:00: recording days from the rule's first day are items; those 31 days old
	// or more are destroyed.
	yesterday := today.AddDate(0, 0, -1)
	clock.Set(yesterday.Add(time.Hour))
	res, err = cl.SweepUnit(manager, &retentionv1.SweepUnitRequest{Parent: libraryUnit})
	require.NoError(t, err)
	require.EqualValues(t, 40, res.GetDestroyed(), "days -71 … -32 of today are past their 30 days")
	day31, day30 := itemOn(t, cl, manager, yesterday.AddDate(0, 0, -31)), itemOn(t, cl, manager, yesterday.AddDate(0, 0, -30))
	require.Equal(t, retentionv1.ItemState_ITEM_STATE_DESTROYED, day31.GetState(), "day 31 is destroyed")
	require.Equal(t, retentionv1.ItemState_ITEM_STATE_RETAINED, day30.GetState(), "day 30 is kept")
	require.WithinDuration(t, today, day30.GetDueTime().AsTime(), 0, "day 30 is due when the 30th day after it ends")

	led := s.ledger()
	e, err := led.GetEntry(manager, &ledgerv1.GetEntryRequest{Name: libraryLog + "/ledger/entries/" + itoa(day31.GetLedgerIndex())})
	require.NoError(t, err)
	require.Equal(t, ledgerv1.EntryKind_ENTRY_KIND_DESTRUCTION, e.GetKind())
	first := today.AddDate(0, 0, -71).Format(time.DateOnly)
	require.Equal(t, "중앙도서관 녹화분 "+first+"~"+day31.GetRecordingDate()+" (40일)", e.GetFileName())
	require.Equal(t, "매일 00시 보관기간 경과분 자동 덮어쓰기", e.GetAutoDeleteCycle(), "STD-42-2: the cycle")
	require.WithinDuration(t, yesterday.Add(time.Hour), e.GetAutoDeleteCheckedTime().AsTime(), 0, "STD-42-2: when it was checked")
	require.Equal(t, "영구삭제(덮어쓰기, 복구 불가)", e.GetDestructionMethod())
	require.Equal(t, "소장 송현숙 (자동 삭제 점검)", e.GetHandler(), "STD-42-2 3: the site's CCTV manager, whose check it is")

	// The same sweep again destroys and records nothing more.
	res, err = cl.SweepUnit(manager, &retentionv1.SweepUnitRequest{Parent: libraryUnit})
	require.NoError(t, err)
	require.Zero(t, res.GetDestroyed())
	require.Len(t, destructions(t, s), 1)

	// Today at 01:00: day 30 of yesterday has become day 31.
	clock.Set(today.Add(time.Hour))
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
	require.Equal(t, "STD-41-2", stacktest.Violation(t, err).GetReason())
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
	page = stacktest.Body(t, s.Get("/v1/"+libraryUnit+"/items?state=destroyed&pageSize=100", "Authorization", "Bearer "+s.Token(auth.RoleAuditor, libraryUnit)))
	require.Equal(t, 41, strings.Count(page, `"state":"ITEM_STATE_DESTROYED"`), page)

	// A deleted rule takes no new days, but what it keeps is still destroyed when due (PIPA-21-1).
	_, err = cl.DeleteRule(manager, &retentionv1.DeleteRuleRequest{Name: rule.GetName()})
	require.NoError(t, err)
	_, err = cl.GetRule(manager, &retentionv1.GetRuleRequest{Name: rule.GetName()})
	require.Equal(t, codes.NotFound, status.Code(err))
	kept, err = cl.ListItems(manager, &retentionv1.ListItemsRequest{Parent: libraryUnit, State: "retained"})
	require.NoError(t, err)
	require.Len(t, kept.GetItems(), 30, "the last 30 days are still kept, and will be destroyed")
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// destructions are the unit's DESTRUCTION entries.
func destructions(t *testing.T, s *stack) []*ledgerv1.Entry {
	t.Helper()
	list, err := s.ledger().ListEntries(s.As(auth.RoleAuditor, libraryUnit), &ledgerv1.ListEntriesRequest{Parent: libraryLog,
		Kind: ledgerv1.EntryKind_ENTRY_KIND_DESTRUCTION, PageSize: 1000})
	require.NoError(t, err)
	return list.GetEntries()
}

// A recording system confirms a deletion it made (STD-42-2): the time it states must be valid,
// not before the day was due and not in the future, or it is refused naming deletion_time and
// the rule; the record names the site's CCTV manager as its official. A batch the ledger refuses
// for good is not left half destroyed: its days are kept and due again, the refusal counted.
func TestRetentionConfirmDeletion(t *testing.T) {
	t.Parallel()
	clock := &retentiontest.Clock{}
	s := startStack(t, stacktest.WithClock(clock.Now))
	s.Load("jeongeup-library.yaml")
	retentiontest.Started(t, s.DB())
	cl := s.retention()
	manager := s.As(auth.RoleManager, libraryUnit)
	recorder := s.As(auth.RoleService, "tenants/jeongeup")
	today := retentiontest.Today()
	clock.Set(today.AddDate(0, 0, -41).Add(time.Hour))
	_, err := cl.CreateRule(manager, &retentionv1.CreateRuleRequest{Parent: libraryUnit, Rule: cctvRule()})
	require.NoError(t, err)

	// An hour ahead of the ledger's clock, the sweep's DESTRUCTION entry is refused for good.
	clock.Set(time.Now().Add(time.Hour))
	_, err = cl.SweepUnit(manager, &retentionv1.SweepUnitRequest{Parent: libraryUnit})
	_, reason := stacktest.Reason(err)
	require.Equal(t, "LEDGER_REFUSED", reason)
	due, err := cl.ListItems(manager, &retentionv1.ListItemsRequest{Parent: libraryUnit, State: "due", PageSize: 500})
	require.NoError(t, err)
	require.NotEmpty(t, due.GetItems())
	for _, it := range due.GetItems() {
		require.Zero(t, it.GetLedgerIndex(), "kept, to be destroyed and recorded again")
	}
	// The refusal is counted as the outbox settles the entry, which may end after the call answers.
	refused := regexp.MustCompile(`pipa_retention_ledger_refused_total\{kind="DESTRUCTION",[^}]*tenant="jeongeup"\} 1\n`)
	require.Eventually(t, func() bool { return refused.MatchString(stacktest.Body(t, s.Get("/metrics"))) }, 10*time.Second, 50*time.Millisecond)

	clock.Set(today.AddDate(0, 0, -1).Add(time.Hour))
	_, err = cl.SweepUnit(manager, &retentionv1.SweepUnitRequest{Parent: libraryUnit})
	require.NoError(t, err)
	// Today the day recorded 31 days ago is due, and not yet swept.
	clock.Set(today.Add(time.Hour))
	day := itemOn(t, cl, manager, today.AddDate(0, 0, -31))
	require.Equal(t, retentionv1.ItemState_ITEM_STATE_DUE, day.GetState())
	for _, bad := range []*timestamppb.Timestamp{{Seconds: -1 << 40}, timestamppb.New(today.Add(-time.Minute)), timestamppb.New(time.Now().Add(2 * time.Hour))} {
		_, err = cl.ConfirmDeletion(recorder, &retentionv1.ConfirmDeletionRequest{Name: day.GetName(), DeletionTime: bad})
		require.Equal(t, codes.InvalidArgument, status.Code(err), "%v", err)
		require.Equal(t, "STD-42-2", findViolation(t, err, "deletion_time").GetReason())
	}
	deleted := today.Add(30 * time.Minute)
	done, err := cl.ConfirmDeletion(recorder, &retentionv1.ConfirmDeletionRequest{Name: day.GetName(), DeletionTime: timestamppb.New(deleted)})
	require.NoError(t, err)
	require.Equal(t, retentionv1.ItemState_ITEM_STATE_DESTROYED, done.GetState())
	e, err := s.ledger().GetEntry(manager, &ledgerv1.GetEntryRequest{Name: libraryLog + "/ledger/entries/" + itoa(done.GetLedgerIndex())})
	require.NoError(t, err)
	require.WithinDuration(t, deleted, e.GetOccurTime().AsTime(), 0)
	require.Equal(t, "소장 송현숙 (자동 삭제 점검)", e.GetHandler())
}

// A legal hold on an hour of a site keeps that recording day past its period (PIPA-21-1): the
// sweep leaves it HELD, says which holds it checked, and refuses the recording system's deletion
// of it. Once the hold is released (who, when, why recorded), the next sweep destroys it.
func TestRetentionHold(t *testing.T) {
	t.Parallel()
	clock := &retentiontest.Clock{}
	s := startStack(t, stacktest.WithClock(clock.Now))
	s.Load("jeongeup-library.yaml")
	retentiontest.Started(t, s.DB())
	cl := s.retention()
	manager := s.As(auth.RoleManager, libraryUnit)
	today := retentiontest.Today()
	clock.Set(today.AddDate(0, 0, -41).Add(time.Hour))
	_, err := cl.CreateRule(manager, &retentionv1.CreateRuleRequest{Parent: libraryUnit, Rule: cctvRule()})
	require.NoError(t, err)

	heldDay := today.AddDate(0, 0, -36)
	hold, err := cl.CreateHold(manager, &retentionv1.CreateHoldRequest{Parent: libraryUnit, RequestId: "hold-1", Hold: &retentionv1.Hold{
		Site: centralSite, StartTime: timestamppb.New(heldDay.Add(14 * time.Hour)), EndTime: timestamppb.New(heldDay.Add(15 * time.Hour)),
		Reason: "정읍경찰서 수사 협조 요청(형사과-1234)에 따른 보존", Custodian: "주무관 송승학",
		ReviewDate: today.AddDate(0, 1, 0).Format(time.DateOnly)}})
	require.NoError(t, err)
	require.Equal(t, "test-manager", hold.GetCreatedBy())

	clock.Set(today.AddDate(0, 0, -1).Add(time.Hour))
	res, err := cl.SweepUnit(manager, &retentionv1.SweepUnitRequest{Parent: libraryUnit})
	require.NoError(t, err)
	require.EqualValues(t, 39, res.GetDestroyed(), "days -71 … -32 but the held one")
	require.EqualValues(t, 1, res.GetHeld())
	require.Equal(t, []string{hold.GetName()}, res.GetHoldsChecked(), "the sweep records the holds it checked")
	held := itemOn(t, cl, manager, heldDay)
	require.Equal(t, retentionv1.ItemState_ITEM_STATE_HELD, held.GetState())
	require.Equal(t, []string{hold.GetName()}, held.GetHolds())
	require.False(t, held.GetOverdue(), "a hold is a justified reason (STD-10-1)")
	metrics := stacktest.Body(t, s.Get("/metrics"))
	require.Regexp(t, `pipa_retention_items\{[^}]*state="held",tenant="jeongeup",unit="library"\} 1\n`, metrics)
	require.Regexp(t, `pipa_retention_items\{[^}]*state="retained",tenant="jeongeup",unit="library"\} 30\n`, metrics)
	list, err := cl.ListItems(manager, &retentionv1.ListItemsRequest{Parent: libraryUnit, State: "held"})
	require.NoError(t, err)
	require.Len(t, list.GetItems(), 1)
	// The recording system may not delete it either.
	_, err = cl.ConfirmDeletion(s.As(auth.RoleService, "tenants/jeongeup"), &retentionv1.ConfirmDeletionRequest{Name: held.GetName()})
	code, reason := stacktest.Reason(err)
	require.Equal(t, codes.FailedPrecondition, code)
	require.Equal(t, "ITEM_HELD", reason)

	// Releasing is recorded; releasing twice is refused, unless the second call is the first's
	// retry after a lost answer (the same request_id, AIP-155): it gets the hold as released.
	release := &retentionv1.ReleaseHoldRequest{Name: hold.GetName(), Reason: "수사 종결 통보(형사과-2345)", RequestId: "release-1"}
	released, err := cl.ReleaseHold(s.As(auth.RoleCPO, libraryUnit), release)
	require.NoError(t, err)
	again, err := cl.ReleaseHold(s.As(auth.RoleCPO, libraryUnit), release)
	require.NoError(t, err, "a retry is answered, not refused as HOLD_RELEASED")
	require.True(t, proto.Equal(released, again))
	_, err = cl.ReleaseHold(s.As(auth.RoleCPO, libraryUnit), &retentionv1.ReleaseHoldRequest{Name: hold.GetName(), Reason: "other", RequestId: "release-1"})
	require.Equal(t, "request_id", stacktest.Violation(t, err).GetField(), "the same request_id for another request")
	require.True(t, released.GetReleased())
	require.Equal(t, "test-cpo", released.GetReleasedBy())
	require.Equal(t, "수사 종결 통보(형사과-2345)", released.GetReleaseReason())
	require.WithinDuration(t, today.AddDate(0, 0, -1).Add(time.Hour), released.GetReleaseTime().AsTime(), 0)
	_, err = cl.ReleaseHold(manager, &retentionv1.ReleaseHoldRequest{Name: hold.GetName(), Reason: "again"})
	_, reason = stacktest.Reason(err)
	require.Equal(t, "HOLD_RELEASED", reason)

	clock.Set(today.Add(time.Hour))
	res, err = cl.SweepUnit(manager, &retentionv1.SweepUnitRequest{Parent: libraryUnit})
	require.NoError(t, err)
	require.EqualValues(t, 2, res.GetDestroyed(), "the released day and the day that turned 31")
	require.Empty(t, res.GetHoldsChecked())
	held = itemOn(t, cl, manager, heldDay)
	require.Equal(t, retentionv1.ItemState_ITEM_STATE_DESTROYED, held.GetState())
	require.Empty(t, held.GetHolds())

	// An auditor reads each sweep's record, newest first, with the holds it checked.
	page := stacktest.Body(t, s.Get("/v1/"+libraryUnit+"/sweeps?pageSize=1", "Authorization", "Bearer "+s.Token(auth.RoleAuditor, libraryUnit)))
	var sweeps retentionv1.ListSweepsResponse
	require.NoError(t, protojson.Unmarshal([]byte(page), &sweeps), page)
	require.Len(t, sweeps.GetSweeps(), 1)
	require.EqualValues(t, 2, sweeps.GetSweeps()[0].GetDestroyed())
	require.Empty(t, sweeps.GetSweeps()[0].GetHoldsChecked())
	older, err := cl.ListSweeps(s.As(auth.RoleAuditor, libraryUnit), &retentionv1.ListSweepsRequest{Parent: libraryUnit,
		PageToken: sweeps.GetNextPageToken()})
	require.NoError(t, err)
	require.Len(t, older.GetSweeps(), 1)
	require.EqualValues(t, 1, older.GetSweeps()[0].GetHeld())
	require.Equal(t, []string{hold.GetName()}, older.GetSweeps()[0].GetHoldsChecked())
	require.WithinDuration(t, today.AddDate(0, 0, -1).Add(time.Hour), older.GetSweeps()[0].GetSweepTime().AsTime(), 0)

	// AIP-158: a page token continues only the list, parent and filter it came from.
	auditor := s.As(auth.RoleAuditor, libraryUnit)
	_, err = cl.ListHolds(auditor, &retentionv1.ListHoldsRequest{Parent: libraryUnit, PageToken: sweeps.GetNextPageToken()})
	require.Equal(t, "page_token", stacktest.Violation(t, err).GetField(), "a sweeps token is not a holds token")
	due, err := cl.ListItems(auditor, &retentionv1.ListItemsRequest{Parent: libraryUnit, State: "destroyed", PageSize: 1})
	require.NoError(t, err)
	require.NotEmpty(t, due.GetNextPageToken())
	_, err = cl.ListItems(auditor, &retentionv1.ListItemsRequest{Parent: libraryUnit, State: "retained", PageToken: due.GetNextPageToken()})
	require.Equal(t, "page_token", stacktest.Violation(t, err).GetField(), "a token of destroyed items does not page the retained ones")
	next, err := cl.ListItems(auditor, &retentionv1.ListItemsRequest{Parent: libraryUnit, State: "destroyed", PageSize: 1,
		PageToken: due.GetNextPageToken()})
	require.NoError(t, err)
	require.NotEqual(t, due.GetItems()[0].GetName(), next.GetItems()[0].GetName())
}

const (
	immigrationUnit = "tenants/seoul-immigration/units/office"
	immigrationMain = immigrationUnit + "/sites/main"
)

// immigrationRule is seed 002's 본청: its recordings kept 14 days, or those of a zone (보호실: 30
// days) by the zone's rule.
func immigrationRule(zone string) *retentionv1.Rule {
	return &retentionv1.Rule{DisplayName: "본청 CCTV 녹화영상 " + zone, Target: retentionv1.RuleTarget_RULE_TARGET_SITE,
		Resource: immigrationMain, Zone: zone, ClockStart: retentionv1.ClockStart_CLOCK_START_RECORDING,
		Action: retentionv1.Action_ACTION_AUTO_DELETE, AutoDeleteCycle: "매일 00시 보관기간 경과분 자동 덮어쓰기",
		Method: "영구삭제(덮어쓰기, 복구 불가)"}
}

// Seed 002 keeps its 보호실's footage 30 days and the rest of the site's 14 (STD-41-2): with a
// rule for the site and one for the zone, the same sweep destroys the site's recording of day 15
// and keeps the 보호실's, which is destroyed from day 31; each rule's destructions are recorded
// apart, naming the zone. A hold on the site holds the zone's recordings too. A zone the site does
// not list, a zone on another kind of rule, a second rule for a zone, and a change of zone are
// refused (STD-41-2).
func TestRetentionZones(t *testing.T) {
	t.Parallel()
	clock := &retentiontest.Clock{}
	s := startStack(t, stacktest.WithClock(clock.Now))
	s.Load("seoul-immigration.yaml")
	retentiontest.Started(t, s.DB())
	cl := s.retention()
	manager := s.As(auth.RoleManager, immigrationUnit)
	today := retentiontest.Today()

	clock.Set(today.AddDate(0, 0, -41).Add(time.Hour))
	site, err := cl.CreateRule(manager, &retentionv1.CreateRuleRequest{Parent: immigrationUnit, RuleId: "cctv-main",
		Rule: immigrationRule("")})
	require.NoError(t, err)
	require.EqualValues(t, 14, site.GetPeriodDays())
	zone, err := cl.CreateRule(manager, &retentionv1.CreateRuleRequest{Parent: immigrationUnit, RuleId: "cctv-main-detention",
		Rule: immigrationRule("보호실")})
	require.NoError(t, err)
	require.Equal(t, "보호실", zone.GetZone())
	require.EqualValues(t, 30, zone.GetPeriodDays(), "a zone rule's period is the zone's retention days")

	// Bad input changes nothing.
	for _, c := range []struct {
		name, field, rule string
		r                 *retentionv1.Rule
	}{
		{"a zone the site does not list", "rule.zone", "STD-41-2", immigrationRule("민원실")},
		{"a second rule for the zone", "rule.zone", "unique", immigrationRule("보호실")},
		{"a zone on a file rule", "rule.zone", "STD-41-2", &retentionv1.Rule{DisplayName: "x", Target: retentionv1.RuleTarget_RULE_TARGET_CLOSED_REQUESTS,
			Zone: "보호실", PeriodDays: 365, ClockStart: retentionv1.ClockStart_CLOCK_START_REQUEST_CLOSED,
			Action: retentionv1.Action_ACTION_PLAN, Method: "영구삭제"}},
	} {
		_, err := cl.CreateRule(manager, &retentionv1.CreateRuleRequest{Parent: immigrationUnit, Rule: c.r})
		require.Equal(t, codes.InvalidArgument, status.Code(err), "%s: %v", c.name, err)
		v := findViolation(t, err, c.field)
		require.Equal(t, c.rule, v.GetReason(), "%s: %s", c.name, v.GetDescription())
	}
	_, err = cl.UpdateRule(manager, &retentionv1.UpdateRuleRequest{Rule: &retentionv1.Rule{Name: zone.GetName(), Zone: ""},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"zone"}}})
	require.Equal(t, "immutable", findViolation(t, err, "update_mask").GetReason())
	rules, err := cl.ListRules(manager, &retentionv1.ListRulesRequest{Parent: immigrationUnit})
	require.NoError(t, err)
	require.Len(t, rules.GetRules(), 2)

	// A hold on the site covers day 40 of the site and of its 보호실.
	heldDay := today.AddDate(0, 0, -40)
	hold, err := cl.CreateHold(manager, &retentionv1.CreateHoldRequest{Parent: immigrationUnit, Hold: &retentionv1.Hold{
		Site: immigrationMain, StartTime: timestamppb.New(heldDay.Add(9 * time.Hour)), EndTime: timestamppb.New(heldDay.Add(10 * time.Hour)),
		Reason: "서울남부지방검찰청 수사 협조 요청에 따른 보존", Custodian: "서무계장",
		ReviewDate: today.AddDate(0, 1, 0).Format(time.DateOnly)}})
	require.NoError(t, err)

	// Today at 01:00: the site's days from 55 to 15 days ago are past their 14 days, the 보호실's
	// from 71 to 31 days ago past their 30, each but the held day.
	clock.Set(today.Add(time.Hour))
	res, err := cl.SweepUnit(manager, &retentionv1.SweepUnitRequest{Parent: immigrationUnit})
	require.NoError(t, err)
	require.EqualValues(t, 40+40, res.GetDestroyed())
	require.EqualValues(t, 2, res.GetHeld())
	items := map[string]map[string]*retentionv1.Item{site.GetName(): {}, zone.GetName(): {}}
	for tok := ""; ; {
		list, err := cl.ListItems(manager, &retentionv1.ListItemsRequest{Parent: immigrationUnit, PageToken: tok, PageSize: 500})
		require.NoError(t, err)
		for _, it := range list.GetItems() {
			items[it.GetRule()][it.GetRecordingDate()] = it
		}
		if tok = list.GetNextPageToken(); tok == "" {
			break
		}
	}
	require.Len(t, items[site.GetName()], 55)
	require.Len(t, items[zone.GetName()], 71)
	on := func(rule *retentionv1.Rule, daysAgo int) *retentionv1.Item {
		it := items[rule.GetName()][today.AddDate(0, 0, -daysAgo).Format(time.DateOnly)]
		require.NotNil(t, it, "%s, %d days ago", rule.GetName(), daysAgo)
		return it
	}
	require.Equal(t, retentionv1.ItemState_ITEM_STATE_DESTROYED, on(site, 15).GetState(), "the site's day 15 is past its 14 days")
	require.Equal(t, retentionv1.ItemState_ITEM_STATE_RETAINED, on(site, 14).GetState())
	require.Equal(t, retentionv1.ItemState_ITEM_STATE_RETAINED, on(zone, 15).GetState(), "the 보호실's day 15 is kept for its 30 days")
	require.Equal(t, retentionv1.ItemState_ITEM_STATE_RETAINED, on(zone, 30).GetState())
	require.Equal(t, retentionv1.ItemState_ITEM_STATE_DESTROYED, on(zone, 31).GetState(), "the 보호실's day 31 is past its 30 days")
	for _, r := range []*retentionv1.Rule{site, zone} {
		held := on(r, 40)
		require.Equal(t, retentionv1.ItemState_ITEM_STATE_HELD, held.GetState(), r.GetName())
		require.Equal(t, []string{hold.GetName()}, held.GetHolds())
	}
	day15 := today.AddDate(0, 0, -15).Format(time.DateOnly)
	require.Equal(t, "본청 "+day15+" 녹화분", on(site, 15).GetDescription())
	require.Equal(t, "본청 보호실 "+day15+" 녹화분", on(zone, 15).GetDescription())

	// Each rule's destruction is its own entry, the zone's naming the zone and its 30 days.
	entries, err := s.ledger().ListEntries(s.As(auth.RoleAuditor, immigrationUnit), &ledgerv1.ListEntriesRequest{Parent: immigrationUnit,
		Kind: ledgerv1.EntryKind_ENTRY_KIND_DESTRUCTION, PageSize: 100})
	require.NoError(t, err)
	require.Len(t, entries.GetEntries(), 2)
	byIndex := map[int64]*ledgerv1.Entry{}
	for _, e := range entries.GetEntries() {
		byIndex[e.GetIndex()] = e
	}
	e := byIndex[on(zone, 31).GetLedgerIndex()]
	require.NotNil(t, e)
	require.Equal(t, "본청 보호실 녹화분 "+today.AddDate(0, 0, -71).Format(time.DateOnly)+"~"+
		today.AddDate(0, 0, -31).Format(time.DateOnly)+" 중 40일", e.GetFileName())
	require.Equal(t, "보유기간(30일) 경과", e.GetPurpose())
	e = byIndex[on(site, 15).GetLedgerIndex()]
	require.NotNil(t, e)
	require.Equal(t, "본청 녹화분 "+today.AddDate(0, 0, -55).Format(time.DateOnly)+"~"+day15+" 중 40일", e.GetFileName())
	require.Equal(t, "보유기간(14일) 경과", e.GetPurpose())
}

// Two sweepers on one unit at once — two SweepUnit calls and the sweep's River job — destroy each
// of 1,100 due recording days exactly once: every item once, in exactly one DESTRUCTION entry
// per batch, each appended once (STD-42-2).
func TestRetentionConcurrentSweeps(t *testing.T) {
	t.Parallel()
	clock := &retentiontest.Clock{}
	s := startStack(t, stacktest.WithClock(clock.Now))
	s.Load("jeongeup-library.yaml")
	retentiontest.Started(t, s.DB())
	cl := s.retention()
	manager := s.As(auth.RoleManager, libraryUnit)
	today := retentiontest.Today()
	clock.Set(today.AddDate(0, 0, -1100).Add(time.Hour))
	_, err := cl.CreateRule(manager, &retentionv1.CreateRuleRequest{Parent: libraryUnit, Rule: cctvRule()})
	require.NoError(t, err)

	clock.Set(today.Add(time.Hour))
	db := s.DB()
	job := retentiontest.Enqueue(t, db, retention.SweepUnitArgs{Tenant: "jeongeup", Unit: "library"})
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
	retentiontest.WaitJob(t, db, job)

	ctx := context.Background()
	var destroyed, batches, kept int64
	require.NoError(t, db.QueryRow(ctx, `SELECT count(*) FILTER (WHERE status = 4), count(DISTINCT ledger_index),
		count(*) FILTER (WHERE status <> 4) FROM retention.items`).Scan(&destroyed, &batches, &kept))
	require.EqualValues(t, 1100, destroyed, "every due day: -1130 … -31, the rule's first day less its 30 days first")
	require.EqualValues(t, 30, kept, "the last 30 days are kept")
	require.LessOrEqual(t, results[0].GetDestroyed()+results[1].GetDestroyed(), int64(1100))
	t.Logf("the two calls destroyed %d and %d items, the job the rest", results[0].GetDestroyed(), results[1].GetDestroyed())
	var total, sweeps int64
	require.NoError(t, db.QueryRow(ctx, `SELECT sum(destroyed), count(*) FROM retention.sweeps`).Scan(&total, &sweeps))
	require.EqualValues(t, 3, sweeps, "each sweeper recorded its sweep")
	require.EqualValues(t, 1100, total, "what each sweeper says it destroyed adds up to each item once")
	entries := destructions(t, s)
	require.Len(t, entries, int(batches), "one entry per batch, none twice")
	var outbox int64
	require.NoError(t, db.QueryRow(ctx, `SELECT count(*) FROM retention.ledger_outbox WHERE ledger_index IS NOT NULL`).Scan(&outbox))
	require.Equal(t, batches, outbox)
	// Each entry names the days its batch destroyed (STD-42-2 1): their first and last day and how
	// many there are. Sweepers claiming at once (SKIP LOCKED) can leave a batch with gaps, which
	// its name says: "2026-07-30~2026-11-06 중 82일" rather than "(99일)".
	type batch struct {
		first, last time.Time
		n           int
	}
	per := map[int64]batch{}
	rows, err := db.Query(ctx, `SELECT ledger_index, min(recording_date), max(recording_date), count(*)
		FROM retention.items WHERE ledger_index IS NOT NULL GROUP BY 1`)
	require.NoError(t, err)
	var idx int64
	var b batch
	_, err = pgx.ForEachRow(rows, []any{&idx, &b.first, &b.last, &b.n}, func() error { per[idx] = b; return nil })
	require.NoError(t, err)
	for _, e := range entries {
		b := per[e.GetIndex()]
		require.NotZero(t, b.n, "entry %d destroyed nothing", e.GetIndex())
		days := b.first.Format(time.DateOnly)
		if b.n > 1 {
			days += "~" + b.last.Format(time.DateOnly)
		}
		want := fmt.Sprintf(" %s (%d일)", days, b.n)
		if span := int(b.last.Sub(b.first).Hours()/24) + 1; span != b.n {
			want = fmt.Sprintf(" %s 중 %d일", days, b.n)
		}
		require.True(t, strings.HasSuffix(e.GetFileName(), want), "%q does not end with %q", e.GetFileName(), want)
	}
}

// A unit's sweep longer than one job attempt's budget (WithSweepBudget, here a batch an attempt)
// completes over several attempts of the same job, each recording its sweep, every due item
// destroyed once, and the job does not loop once nothing is left (the 1M-item sweep of
// BenchmarkSweep1M, within jobs.Timeout per attempt).
func TestRetentionSweepSpansAttempts(t *testing.T) {
	t.Parallel()
	clock := &retentiontest.Clock{}
	s := startStackWith(t, retention.ModuleWith(retention.WithSweepBudget(time.Nanosecond)), stacktest.WithClock(clock.Now))
	s.Load("jeongeup-library.yaml")
	retentiontest.Started(t, s.DB())
	cl := s.retention()
	manager := s.As(auth.RoleManager, libraryUnit)
	today := retentiontest.Today()
	clock.Set(today.AddDate(0, 0, -2530).Add(time.Hour))
	_, err := cl.CreateRule(manager, &retentionv1.CreateRuleRequest{Parent: libraryUnit, Rule: cctvRule()})
	require.NoError(t, err)

	clock.Set(today.Add(time.Hour))
	db := s.DB()
	job := retentiontest.Enqueue(t, db, retention.SweepUnitArgs{Tenant: "jeongeup", Unit: "library"})
	retentiontest.WaitJob(t, db, job)
	ctx := context.Background()
	var destroyed, kept, batches int64
	require.NoError(t, db.QueryRow(ctx, `SELECT count(*) FILTER (WHERE status = 4), count(*) FILTER (WHERE status <> 4),
		count(DISTINCT ledger_index) FROM retention.items`).Scan(&destroyed, &kept, &batches))
	require.EqualValues(t, 2530, destroyed, "every due day: -2560 … -31")
	require.EqualValues(t, 30, kept)
	require.EqualValues(t, 3, batches, "batches of 1,000")
	var attempts, sweeps, total int64
	require.NoError(t, db.QueryRow(ctx, `SELECT attempt FROM retention.river_job WHERE id = $1`, job).Scan(&attempts))
	require.NoError(t, db.QueryRow(ctx, `SELECT count(*), sum(destroyed) FROM retention.sweeps WHERE destroyed > 0`).Scan(&sweeps, &total))
	require.EqualValues(t, 3, sweeps, "one batch an attempt, each recorded")
	require.EqualValues(t, 2530, total)
	require.Len(t, destructions(t, s), 3, "one entry per batch, none twice")
	t.Logf("the job ran %d attempts (snoozes take none)", attempts)
}

// A destruction plan (파기요청서, STD-55): the sweep proposes it for the personal fields of a closed
// request and of a ledger entry; only the CPO approves it and confirms its result (STD-10-4), a
// manager is refused naming the rule; completion erases the request's personal fields (through
// the request service) and the entry's (the ledger's redaction), appends one DESTRUCTION entry
// per rule, and issues the 별지5 rows and a certificate that commits to the ledger's DESTRUCTION
// entries (index and leaf hash) and verifies with the tenant's key as served publicly, named with
// the ledgers' origin host.
func TestRetentionPlan(t *testing.T) {
	t.Parallel()
	clock := &retentiontest.Clock{}
	s := startStack(t, stacktest.WithClock(clock.Now), stacktest.WithLedgerOrigin("ledger.jeongeup.go.kr"))
	s.Load("jeongeup-library.yaml")
	retentiontest.Started(t, s.DB())
	cl := s.retention()
	manager, cpo := s.As(auth.RoleManager, libraryUnit), s.As(auth.RoleCPO, libraryUnit)
	clock.Set(time.Now().Add(-time.Hour))

	closed := requeststest.Closed(t, s.requests(), s.As(auth.RoleHandler, libraryUnit), libraryUnit)
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
	handler := s.As(auth.RoleHandler, libraryUnit)
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
	service := s.As(auth.RoleService, auth.ScopeAll)
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
	clock.Set(time.Now().AddDate(0, 0, 5))
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
	// STD-55: what a plan destroys is not deleted on a recording system's word.
	_, err = cl.ConfirmDeletion(service, &retentionv1.ConfirmDeletionRequest{Name: reqItem.GetName()})
	_, why := stacktest.Reason(err)
	require.Equal(t, "NOT_AUTO_DELETE", why)
	require.Contains(t, status.Convert(err).Message(), "STD-55")

	// Not completed 5 days after its items were due, the plan and its items are overdue (STD-10-1).
	clock.Set(time.Now().AddDate(0, 0, 10))
	plan, err = cl.GetPlan(manager, &retentionv1.GetPlanRequest{Name: plan.GetName()})
	require.NoError(t, err)
	require.True(t, plan.GetOverdue())
	overdue, err := cl.ListItems(manager, &retentionv1.ListItemsRequest{Parent: libraryUnit, State: "overdue"})
	require.NoError(t, err)
	require.Len(t, overdue.GetItems(), 2)
	metrics := stacktest.Body(t, s.Get("/metrics"))
	require.Regexp(t, `pipa_retention_overdue\{kind="plans",[^}]*tenant="jeongeup",unit="library"\} 1\n`, metrics)
	require.Regexp(t, `pipa_retention_overdue\{kind="items",[^}]*tenant="jeongeup",unit="library"\} 2\n`, metrics)

	clock.Set(time.Now().Add(-time.Minute))
	for _, who := range []context.Context{manager, handler} {
		_, err = cl.ApprovePlan(who, &retentionv1.ApprovePlanRequest{Name: plan.GetName()})
		require.Equal(t, codes.PermissionDenied, status.Code(err))
		require.Equal(t, "STD-55", errorRule(t, err), "the refusal names the rule")
	}
	_, err = cl.CompletePlan(cpo, &retentionv1.CompletePlanRequest{Name: plan.GetName(), Method: "영구삭제", DestroyedBy: "주무관 송승학"})
	_, reason := stacktest.Reason(err)
	require.Equal(t, "PLAN_NOT_APPROVED", reason)
	approve := &retentionv1.ApprovePlanRequest{Name: plan.GetName(), Etag: plan.GetEtag(), RequestId: "approve-1"}
	plan, err = cl.ApprovePlan(cpo, approve)
	require.NoError(t, err)
	require.Equal(t, retentionv1.PlanState_PLAN_STATE_APPROVED, plan.GetState())
	require.Equal(t, "test-cpo", plan.GetApprovedBy())
	// Its retry after a lost answer (the same request_id, the etag now stale) gets the plan as
	// approved, changed nothing more; the same id with another etag is refused (AIP-155).
	approved, err := cl.ApprovePlan(cpo, approve)
	require.NoError(t, err)
	require.True(t, proto.Equal(plan, approved))
	_, err = cl.ApprovePlan(cpo, &retentionv1.ApprovePlanRequest{Name: plan.GetName(), Etag: plan.GetEtag(), RequestId: "approve-1"})
	require.Equal(t, "request_id", stacktest.Violation(t, err).GetField())

	// STD-10-4: only the CPO confirms the result.
	_, err = cl.CompletePlan(manager, &retentionv1.CompletePlanRequest{Name: plan.GetName(), Method: "영구삭제", DestroyedBy: "주무관 송승학"})
	require.Equal(t, codes.PermissionDenied, status.Code(err))
	require.Equal(t, "STD-55", errorRule(t, err))
	require.Contains(t, status.Convert(err).Message(), "STD-10-4")
	_, err = cl.CompletePlan(cpo, &retentionv1.CompletePlanRequest{Name: plan.GetName(), DestroyedBy: "주무관 송승학"})
	require.Equal(t, "DEC-16", stacktest.Violation(t, err).GetReason())

	clock.Set(time.Now())
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
		require.Equal(t, time.Now().In(kst.Location).Format(time.DateOnly), rec.GetDestroyed())
	}

	// The certificate: signed by the tenant's key, which anyone reads without a token, listing
	// each DESTRUCTION entry with its leaf hash and every item with its entry's index.
	c := done.GetCertificate()
	resp := s.Get("/v1/public/tenants/jeongeup/retention/key")
	page := stacktest.Body(t, resp)
	require.Equal(t, http.StatusOK, resp.StatusCode, page)
	var key retentionv1.CertificateKey
	require.NoError(t, protojson.Unmarshal([]byte(page), &key))
	require.Equal(t, c.GetVerifierKey(), key.GetVerifierKey())
	require.True(t, strings.HasPrefix(key.GetVerifierKey(), "ledger.jeongeup.go.kr/tenants/jeongeup/retention+"), key.GetVerifierKey())
	require.Equal(t, http.StatusNotFound, s.Get("/v1/public/tenants/seongnam/retention/key").StatusCode, "no certificate, no key")
	verifier, err := note.NewVerifier(key.GetVerifierKey())
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
		require.Contains(t, n.Text, "\nentry "+itoa(e.GetIndex())+" leaf-hash "+base64.StdEncoding.EncodeToString(e.GetLeafHash())+"\n")
		require.Equal(t, ledgerv1.EntryKind_ENTRY_KIND_DESTRUCTION, e.GetKind())
		require.Equal(t, plan.GetName(), e.GetPlan())
		require.Equal(t, "주무관 송승학", e.GetHandler())
	}
	tampered := strings.Replace(c.GetNote(), "주무관 송승학", "주무관 김철수", 1)
	_, err = note.Open([]byte(tampered), note.VerifierList(verifier))
	require.Error(t, err, "an altered certificate does not verify")

	// Listed, plans come in their basic view; GetPlan has the certificate and the records.
	list, err := cl.ListPlans(s.As(auth.RoleAuditor, libraryUnit), &retentionv1.ListPlansRequest{Parent: libraryUnit})
	require.NoError(t, err)
	require.Len(t, list.GetPlans(), 1)
	require.Equal(t, retentionv1.PlanState_PLAN_STATE_COMPLETED, list.GetPlans()[0].GetState())
	require.Nil(t, list.GetPlans()[0].GetCertificate())
	require.Empty(t, list.GetPlans()[0].GetRecords())

	// Completing again is refused; the plan stays as it was.
	_, err = cl.CompletePlan(cpo, &retentionv1.CompletePlanRequest{Name: plan.GetName(), Method: "파쇄", DestroyedBy: "x"})
	_, reason = stacktest.Reason(err)
	require.Equal(t, "PLAN_COMPLETED", reason)
}

const officeUnit = "tenants/seongnam/units/library-office"

// filePlan makes, in Seongnam's library office, a rule destroyed by plan for each of its two
// member files (STD-55) with two items each past their two years, and the plan a sweep proposes.
func filePlan(t *testing.T, s *stack, clock *retentiontest.Clock) (*retentionv1.Plan, []*retentionv1.Item) {
	t.Helper()
	cl := s.retention()
	manager := s.As(auth.RoleManager, officeUnit)
	clock.Set(time.Now().Add(-time.Hour))
	var items []*retentionv1.Item
	for _, f := range []string{"homepage-members", "library-members"} {
		r, err := cl.CreateRule(manager, &retentionv1.CreateRuleRequest{Parent: officeUnit, RuleId: f, Rule: &retentionv1.Rule{
			DisplayName: f + " 회원정보", Target: retentionv1.RuleTarget_RULE_TARGET_FILE, Resource: officeUnit + "/files/" + f,
			PeriodDays: 730, ClockStart: retentionv1.ClockStart_CLOCK_START_CONSENT, Action: retentionv1.Action_ACTION_PLAN,
			Method: "영구삭제(복구 불가)"}})
		require.NoError(t, err)
		for _, half := range []string{"상반기", "하반기"} {
			it, err := cl.CreateItem(manager, &retentionv1.CreateItemRequest{Parent: officeUnit, Item: &retentionv1.Item{
				Rule: r.GetName(), Description: "3년 전 " + half + " 탈퇴 회원", ClockStartTime: timestamppb.New(time.Now().AddDate(-3, 0, 0))}})
			require.NoError(t, err)
			items = append(items, it)
		}
	}
	res, err := cl.SweepUnit(manager, &retentionv1.SweepUnitRequest{Parent: officeUnit})
	require.NoError(t, err)
	require.EqualValues(t, 4, res.GetPlanned())
	plan, err := cl.GetPlan(manager, &retentionv1.GetPlanRequest{Name: res.GetPlans()[0]})
	require.NoError(t, err)
	return plan, items
}

// PIPA-21-1: an item that comes under a legal hold after its plan was approved is never
// destroyed, nor silently dropped: completion is refused naming it (ITEMS_HELD) and changes
// nothing, until the CPO asks to leave the held items out. Two such completions at once, with
// the etag read before either, both answer the completed plan, and each rule's DESTRUCTION entry
// is appended once.
func TestRetentionPlanHoldsAndConcurrentCompletions(t *testing.T) {
	t.Parallel()
	clock := &retentiontest.Clock{}
	s := startStack(t, stacktest.WithClock(clock.Now))
	s.Load("seongnam-library.yaml")
	retentiontest.Started(t, s.DB())
	cl := s.retention()
	manager, cpo := s.As(auth.RoleManager, officeUnit), s.As(auth.RoleCPO, officeUnit)
	plan, items := filePlan(t, s, clock)
	plan, err := cl.ApprovePlan(cpo, &retentionv1.ApprovePlanRequest{Name: plan.GetName(), Etag: plan.GetEtag()})
	require.NoError(t, err)
	hold, err := cl.CreateHold(manager, &retentionv1.CreateHoldRequest{Parent: officeUnit, Hold: &retentionv1.Hold{
		File: officeUnit + "/files/library-members", Reason: "행정심판 청구(2026-123)에 따른 보존", Custodian: "정보통신과",
		ReviewDate: time.Now().AddDate(0, 1, 0).Format(time.DateOnly)}})
	require.NoError(t, err)

	clock.Set(time.Now())
	complete := &retentionv1.CompletePlanRequest{Name: plan.GetName(), Method: "영구삭제(복구 불가)", DestroyedBy: "주무관 김정보", Etag: plan.GetEtag()}
	_, err = cl.CompletePlan(cpo, complete)
	code, reason := stacktest.Reason(err)
	require.Equal(t, codes.FailedPrecondition, code)
	require.Equal(t, "ITEMS_HELD", reason)
	require.Equal(t, "PIPA-21-1", errorRule(t, err))
	for _, it := range items[2:] {
		require.Contains(t, status.Convert(err).Message(), it.GetName()+" ("+hold.GetName()+")")
	}
	got, err := cl.GetPlan(cpo, &retentionv1.GetPlanRequest{Name: plan.GetName()})
	require.NoError(t, err)
	require.Equal(t, plan.GetEtag(), got.GetEtag(), "refused, the plan is as it was")
	require.Len(t, got.GetItems(), 4)

	complete.ExcludeHeldItems = true
	var wg sync.WaitGroup
	done := make([]*retentionv1.Plan, 2)
	errs := make([]error, 2)
	for i := range done {
		wg.Go(func() { done[i], errs[i] = cl.CompletePlan(cpo, complete) })
	}
	wg.Wait()
	for i := range done {
		require.NoError(t, errs[i])
		require.Equal(t, retentionv1.PlanState_PLAN_STATE_COMPLETED, done[i].GetState())
		require.ElementsMatch(t, []string{items[0].GetName(), items[1].GetName()}, done[i].GetItems())
	}
	list, err := s.ledger().ListEntries(s.As(auth.RoleAuditor, officeUnit), &ledgerv1.ListEntriesRequest{Parent: officeUnit,
		Kind: ledgerv1.EntryKind_ENTRY_KIND_DESTRUCTION})
	require.NoError(t, err)
	require.Len(t, list.GetEntries(), 1, "one DESTRUCTION entry for the one rule left, appended once")
	require.Equal(t, "homepage-members 회원정보 2건", list.GetEntries()[0].GetFileName())
	for _, it := range items[2:] {
		got, err := cl.GetItem(manager, &retentionv1.GetItemRequest{Name: it.GetName()})
		require.NoError(t, err)
		require.Equal(t, retentionv1.ItemState_ITEM_STATE_HELD, got.GetState())
		require.Empty(t, got.GetPlan())
	}
}

// A completion cut short is finished by repeating it with the same values, even with the etag
// read before it started (it changed the plan); a completion whose answer was lost gets the
// completed plan. A period lengthened after the plan was made keeps its items out of it.
func TestRetentionPlanResumes(t *testing.T) {
	t.Parallel()
	clock := &retentiontest.Clock{}
	s := startStack(t, stacktest.WithClock(clock.Now))
	s.Load("seongnam-library.yaml")
	retentiontest.Started(t, s.DB())
	cl := s.retention()
	manager, cpo := s.As(auth.RoleManager, officeUnit), s.As(auth.RoleCPO, officeUnit)
	plan, items := filePlan(t, s, clock)
	plan, err := cl.ApprovePlan(cpo, &retentionv1.ApprovePlanRequest{Name: plan.GetName(), Etag: plan.GetEtag()})
	require.NoError(t, err)
	_, err = cl.UpdateRule(manager, &retentionv1.UpdateRuleRequest{Rule: &retentionv1.Rule{Name: officeUnit + "/rules/homepage-members",
		PeriodDays: 3650}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"period_days"}}})
	require.NoError(t, err)
	for _, it := range items[:2] {
		got, err := cl.GetItem(manager, &retentionv1.GetItemRequest{Name: it.GetName()})
		require.NoError(t, err)
		require.Equal(t, retentionv1.ItemState_ITEM_STATE_RETAINED, got.GetState(), "kept for the new period (PIPA-21-1)")
		require.Empty(t, got.GetPlan())
	}

	// The first step of a completion was recorded, then the call was cut short.
	when := time.Now().Add(-time.Minute).Truncate(time.Second)
	_, err = s.DB().Exec(context.Background(), `UPDATE retention.plans SET revision = revision + 1,
		doc = doc || jsonb_build_object('method', '영구삭제(복구 불가)', 'destroyedBy', '주무관 김정보', 'destructionTime', $2::text)
		WHERE tenant_id = 'seongnam' AND plan_id = $1`, plan.GetName()[strings.LastIndex(plan.GetName(), "/")+1:], when.UTC().Format(time.RFC3339))
	require.NoError(t, err)
	clock.Set(time.Now())
	complete := &retentionv1.CompletePlanRequest{Name: plan.GetName(), Method: "영구삭제(복구 불가)", DestroyedBy: "주무관 김정보", Etag: plan.GetEtag()}
	_, err = cl.CompletePlan(cpo, &retentionv1.CompletePlanRequest{Name: plan.GetName(), Method: "파쇄", DestroyedBy: "주무관 김정보", Etag: plan.GetEtag()})
	_, reason := stacktest.Reason(err)
	require.Equal(t, "COMPLETION_STARTED", reason, "only the values recorded")
	done, err := cl.CompletePlan(cpo, complete)
	require.NoError(t, err)
	require.Equal(t, retentionv1.PlanState_PLAN_STATE_COMPLETED, done.GetState())
	require.WithinDuration(t, when, done.GetDestructionTime().AsTime(), 0)
	require.ElementsMatch(t, []string{items[2].GetName(), items[3].GetName()}, done.GetItems())
	again, err := cl.CompletePlan(cpo, complete)
	require.NoError(t, err, "a retry whose first answer was lost")
	require.Equal(t, done.GetEtag(), again.GetEtag())
	require.Equal(t, done.GetCertificate().GetNote(), again.GetCertificate().GetNote())
}

// PIPA-21-1: the personal fields of ledger entries can be held. An entry that records a request
// is held by a hold on that request, as the request's own record is; an entry of no request by
// a hold on the entry itself. Held, neither is planned for destruction.
func TestRetentionLedgerEntryHolds(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("jeongeup-library.yaml")
	retentiontest.Started(t, s.DB())
	cl := s.retention()
	manager := s.As(auth.RoleManager, libraryUnit)
	closed := requeststest.Closed(t, s.requests(), s.As(auth.RoleHandler, libraryUnit), libraryUnit)
	viewing := closed.GetLedger()[0].GetEntry()
	use, err := s.ledger().AppendEntry(s.As(auth.RoleHandler, libraryUnit), &ledgerv1.AppendEntryRequest{Parent: libraryLog, Entry: &ledgerv1.Entry{
		Kind: ledgerv1.EntryKind_ENTRY_KIND_USE, OccurTime: timestamppb.New(time.Now().Add(-time.Hour)), FileName: "정문 CH01",
		Counterparty: "시설관리팀", CounterpartyOfficer: "주무관 이시설", Purpose: "시설 점검", Form: "현장 열람", Handler: "주무관 송승학",
		LegalBasis: "개인정보 보호법 제18조 제2항 제2호", Items: []string{"영상"}}})
	require.NoError(t, err)
	rule, err := cl.CreateRule(manager, &retentionv1.CreateRuleRequest{Parent: libraryUnit, RuleId: "ledger-personal", Rule: &retentionv1.Rule{
		DisplayName: "관리대장 개인정보", Target: retentionv1.RuleTarget_RULE_TARGET_LEDGER_ENTRIES, PeriodDays: 3,
		ClockStart: retentionv1.ClockStart_CLOCK_START_COLLECTION, Action: retentionv1.Action_ACTION_PLAN, Method: "개인정보 영구삭제"}})
	require.NoError(t, err)
	var items []*retentionv1.Item
	for _, e := range []string{viewing, use.GetName()} {
		it, err := cl.CreateItem(manager, &retentionv1.CreateItemRequest{Parent: libraryUnit, Item: &retentionv1.Item{
			Rule: rule.GetName(), Resource: e, ClockStartTime: timestamppb.New(time.Now().AddDate(0, 0, -10))}})
		require.NoError(t, err)
		items = append(items, it)
	}
	hold := func(h *retentionv1.Hold) (*retentionv1.Hold, error) {
		h.Reason, h.Custodian, h.ReviewDate = "감사원 감사 자료 보존 요청", "주무관 송승학", time.Now().AddDate(0, 1, 0).Format(time.DateOnly)
		return cl.CreateHold(manager, &retentionv1.CreateHoldRequest{Parent: libraryUnit, Hold: h})
	}
	_, err = hold(&retentionv1.Hold{LedgerEntry: viewing})
	require.Equal(t, "PIPA-21-1", findViolation(t, err, "hold.ledger_entry").GetReason(), "an entry of a request is held by its request")
	byRequest, err := hold(&retentionv1.Hold{Request: closed.GetName()})
	require.NoError(t, err)
	byEntry, err := hold(&retentionv1.Hold{LedgerEntry: use.GetName()})
	require.NoError(t, err)
	require.Equal(t, use.GetName(), byEntry.GetLedgerEntry())

	res, err := cl.SweepUnit(manager, &retentionv1.SweepUnitRequest{Parent: libraryUnit})
	require.NoError(t, err)
	require.Zero(t, res.GetPlanned())
	require.EqualValues(t, 2, res.GetHeld())
	for i, h := range []*retentionv1.Hold{byRequest, byEntry} {
		got, err := cl.GetItem(manager, &retentionv1.GetItemRequest{Name: items[i].GetName()})
		require.NoError(t, err)
		require.Equal(t, retentionv1.ItemState_ITEM_STATE_HELD, got.GetState())
		require.Equal(t, []string{h.GetName()}, got.GetHolds())
	}
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
// service from its PROVISION entry (a retry after the request_id was forgotten finds it);
// stated in the ledger by the quarter's check of public recipients' replies, once a quarter;
// reminded daily once past its due date and counted overdue, each reminder mailed to the
// recipient's address; and closed by outcomes, each an
// AMENDMENT that follows the PROVISION entry, appended before the copy changes: extended (to a
// date not before today, on the recipient's request), then destroyed (with its notice); another
// one returned, its destruction here recorded by a DESTRUCTION entry after the RETURN. An
// outcome the ledger refuses leaves the copy as it was, and is counted. Dates follow today.
func TestRetentionCopies(t *testing.T) {
	t.Parallel()
	clock := &retentiontest.Clock{}
	smtpd := outboundtest.StartMail(t)
	s := startStack(t, stacktest.WithClock(clock.Now), outboundtest.WithMail(smtpd.Addr, 15))
	s.Load("jeongeup-library.yaml")
	retentiontest.Started(t, s.DB())
	cl := s.retention()
	led := s.ledger()
	staff := s.As(auth.RoleHandler, libraryUnit)
	service := s.As(auth.RoleService, auth.ScopeAll)
	db := s.DB()
	ctx := context.Background()
	clock.Set(time.Now().Add(-time.Minute))

	provision := func() *ledgerv1.Entry {
		e, err := led.AppendEntry(staff, &ledgerv1.AppendEntryRequest{Parent: libraryLog, Entry: ledgertest.PoliceProvision()})
		require.NoError(t, err)
		e, err = led.GetEntry(staff, &ledgerv1.GetEntryRequest{Name: e.GetName()})
		require.NoError(t, err)
		return e
	}
	p1 := provision()
	create := &retentionv1.CreateCopyRequest{Parent: libraryUnit, RequestId: "copy-1",
		Copy: &retentionv1.Copy{ProvisionIndex: p1.GetIndex(), PublicRecipient: true, Request: libraryUnit + "/requests/P-2026-000001",
			RecipientEmail: "cctv@jeongeup.police.go.kr"}}
	c, err := cl.CreateCopy(service, create)
	require.NoError(t, err)
	require.Equal(t, "정읍경찰서", c.GetRecipient(), "from the PROVISION entry")
	require.Equal(t, p1.GetDestructionDueDate(), c.GetDestructionDueDate())
	require.Equal(t, retentionv1.CopyState_COPY_STATE_OUT, c.GetState())
	again, err := cl.CreateCopy(service, create)
	require.NoError(t, err)
	require.Equal(t, c.GetName(), again.GetName())
	// Request ids are kept a day (AIP-155); a retry after that finds the copy of its request.
	_, err = db.Exec(ctx, `DELETE FROM retention.idempotency`)
	require.NoError(t, err)
	again, err = cl.CreateCopy(service, create)
	require.NoError(t, err)
	require.Equal(t, c.GetName(), again.GetName())
	_, err = cl.CreateCopy(service, &retentionv1.CreateCopyRequest{Parent: libraryUnit, Copy: &retentionv1.Copy{ProvisionIndex: p1.GetIndex(),
		Request: libraryUnit + "/requests/P-2026-000002"}})
	require.Equal(t, codes.AlreadyExists, status.Code(err), "one copy per provision")
	viewing, err := led.AppendEntry(staff, &ledgerv1.AppendEntryRequest{Parent: libraryLog, Entry: &ledgerv1.Entry{
		Kind: ledgerv1.EntryKind_ENTRY_KIND_USE, OccurTime: timestamppb.New(time.Now().Add(-time.Hour)), FileName: "정문 CH01",
		Counterparty: "시설관리팀", Purpose: "시설 점검", Form: "현장 열람", Handler: "주무관 송승학",
		LegalBasis: "개인정보 보호법 제18조 제2항 제2호", Items: []string{"영상"}}})
	require.NoError(t, err)
	_, err = cl.CreateCopy(service, &retentionv1.CreateCopyRequest{Parent: libraryUnit, Copy: &retentionv1.Copy{ProvisionIndex: viewing.GetIndex()}})
	require.Equal(t, "C-9", stacktest.Violation(t, err).GetReason(), "a copy follows a PROVISION entry")

	// The C-9 check runs daily; the first run of a quarter records which public recipients' copies
	// are still out, and states each in the ledger, once.
	retentiontest.WaitJob(t, db, retentiontest.Enqueue(t, db, retention.CheckCopiesArgs{}))
	retentiontest.WaitJob(t, db, retentiontest.Enqueue(t, db, retention.CheckCopiesArgs{}))
	now := clock.Now().In(kst.Location)
	quarter := fmt.Sprintf("%d-Q%d", now.Year(), (int(now.Month())+2)/3)
	var out []string
	require.NoError(t, db.QueryRow(ctx, `SELECT copies_out FROM retention.copy_checks
		WHERE tenant_id = 'jeongeup' AND unit_id = 'library' AND quarter = $1`, quarter).Scan(&out))
	require.Equal(t, []string{c.GetName()}, out)
	amendments := func(kind ledgerv1.AmendmentKind) []*ledgerv1.Entry {
		list, err := led.ListEntries(staff, &ledgerv1.ListEntriesRequest{Parent: libraryLog, Kind: ledgerv1.EntryKind_ENTRY_KIND_AMENDMENT, PageSize: 100})
		require.NoError(t, err)
		var got []*ledgerv1.Entry
		for _, e := range list.GetEntries() {
			if e.GetFollows() == p1.GetIndex() && e.GetAmendmentKind() == kind {
				got = append(got, e)
			}
		}
		return got
	}
	checks := amendments(ledgerv1.AmendmentKind_AMENDMENT_KIND_PROGRESS)
	require.Len(t, checks, 1, "once a quarter")
	require.Contains(t, checks[0].GetNote(), "C-9 분기 점검("+quarter+"): 정읍경찰서의 파기 결과 회신 미접수")

	// Past its due date, the daily job records one reminder a day.
	due, err := time.ParseInLocation(time.DateOnly, c.GetDestructionDueDate(), kst.Location)
	require.NoError(t, err)
	clock.Set(due.AddDate(0, 0, 2).Add(10 * time.Hour))
	retentiontest.WaitJob(t, db, retentiontest.Enqueue(t, db, retention.RemindCopiesArgs{}))
	retentiontest.WaitJob(t, db, retentiontest.Enqueue(t, db, retention.RemindCopiesArgs{}))
	got, err := cl.GetCopy(staff, &retentionv1.GetCopyRequest{Name: c.GetName()})
	require.NoError(t, err)
	require.EqualValues(t, 1, got.GetReminders(), "one reminder a day")
	require.True(t, got.GetOverdue())
	require.WithinDuration(t, clock.Now(), got.GetLastReminderTime().AsTime(), 0)
	overdue, err := cl.ListCopies(staff, &retentionv1.ListCopiesRequest{Parent: libraryUnit, State: "overdue"})
	require.NoError(t, err)
	require.Len(t, overdue.GetCopies(), 1)
	require.Regexp(t, `pipa_retention_overdue\{kind="copies",[^}]*tenant="jeongeup",unit="library"\} 1\n`, stacktest.Body(t, s.Get("/metrics")))
	clock.Set(clock.Now().AddDate(0, 0, 1))
	retentiontest.WaitJob(t, db, retentiontest.Enqueue(t, db, retention.RemindCopiesArgs{}))
	got, err = cl.GetCopy(staff, &retentionv1.GetCopyRequest{Name: c.GetName()})
	require.NoError(t, err)
	require.EqualValues(t, 2, got.GetReminders())
	require.Eventually(t, func() bool { return len(smtpd.Mail()) == 2 }, 30*time.Second, 100*time.Millisecond, "a mail per reminder")
	for i, m := range smtpd.Mail() {
		require.Equal(t, []string{"cctv@jeongeup.police.go.kr"}, m.To)
		require.Contains(t, m.Subject, "파기 기한("+c.GetDestructionDueDate()+")이 지났습니다")
		require.Contains(t, m.Text, "정읍경찰서 담당자께")
		require.Contains(t, m.Text, fmt.Sprintf("알림 횟수: %d", i+1))
		require.Contains(t, m.Text, c.GetName())
	}

	clock.Set(time.Now().Add(-time.Minute))
	today := clock.Now().In(kst.Location)
	amendment := func(c *retentionv1.Copy) *ledgerv1.Entry {
		o := c.GetOutcomes()[len(c.GetOutcomes())-1]
		require.NotZero(t, o.GetLedgerIndex(), "the answer carries the entry's index")
		e, err := led.GetEntry(staff, &ledgerv1.GetEntryRequest{Name: libraryLog + "/ledger/entries/" + itoa(o.GetLedgerIndex())})
		require.NoError(t, err)
		require.Equal(t, ledgerv1.EntryKind_ENTRY_KIND_AMENDMENT, e.GetKind())
		require.Equal(t, c.GetProvisionIndex(), e.GetFollows())
		return e
	}
	// An extension: to a date not before today and later than the current one, with its reason
	// and the recipient's request (C-9).
	extend := func(date, evidence string) (*retentionv1.Copy, error) {
		return cl.RecordCopyOutcome(staff, &retentionv1.RecordCopyOutcomeRequest{Name: c.GetName(), Outcome: &retentionv1.CopyOutcome{
			Kind: retentionv1.OutcomeKind_OUTCOME_KIND_EXTENDED, NewDueDate: date, Reason: "수사기간 연장", Evidence: evidence}})
	}
	_, err = extend(today.AddDate(0, 0, -1).Format(time.DateOnly), "형사과-3456")
	require.Equal(t, "C-9", findViolation(t, err, "outcome.new_due_date").GetReason(), "not before today")
	_, err = extend(today.AddDate(0, 2, 0).Format(time.DateOnly), "")
	require.Equal(t, "C-9", findViolation(t, err, "outcome.evidence").GetReason())
	newDue := due.AddDate(0, 2, 0).Format(time.DateOnly)
	ext, err := extend(newDue, "정읍경찰서 수사기간 연장 요청(형사과-3456)")
	require.NoError(t, err)
	require.Equal(t, newDue, ext.GetDestructionDueDate())
	e := amendment(ext)
	require.Equal(t, ledgerv1.AmendmentKind_AMENDMENT_KIND_EXTENSION, e.GetAmendmentKind())
	require.Equal(t, c.GetDestructionDueDate()+" ~ "+newDue, e.GetPeriod())

	// A destruction needs the recipient's notice; refused, nothing changes.
	_, err = cl.RecordCopyOutcome(staff, &retentionv1.RecordCopyOutcomeRequest{Name: c.GetName(), Outcome: &retentionv1.CopyOutcome{
		Kind: retentionv1.OutcomeKind_OUTCOME_KIND_DESTROYED}})
	require.Equal(t, "outcome.evidence", stacktest.Violation(t, err).GetField())
	require.Equal(t, "C-9", stacktest.Violation(t, err).GetReason())
	destroy := &retentionv1.RecordCopyOutcomeRequest{Name: c.GetName(),
		Outcome: &retentionv1.CopyOutcome{Kind: retentionv1.OutcomeKind_OUTCOME_KIND_DESTROYED, Evidence: "정읍경찰서 형사과-4567, 파기 통보"}}
	// The ledger refuses an entry stamped in its future (a clock gone wrong) for good: the copy
	// stays out, its outcome undone, and the refusal is counted.
	clock.Set(time.Now().Add(time.Hour))
	_, err = cl.RecordCopyOutcome(staff, destroy)
	code, reason := stacktest.Reason(err)
	require.Equal(t, codes.FailedPrecondition, code)
	require.Equal(t, "LEDGER_REFUSED", reason)
	got, err = cl.GetCopy(staff, &retentionv1.GetCopyRequest{Name: c.GetName()})
	require.NoError(t, err)
	require.Equal(t, retentionv1.CopyState_COPY_STATE_OUT, got.GetState())
	require.Len(t, got.GetOutcomes(), 1)
	require.False(t, got.GetOutcomePending())
	require.Regexp(t, `pipa_retention_ledger_refused_total\{kind="AMENDMENT",[^}]*tenant="jeongeup"\} 1\n`, stacktest.Body(t, s.Get("/metrics")))
	clock.Set(time.Now().Add(-time.Minute))
	destroy.Etag = got.GetEtag()
	destroyed, err := cl.RecordCopyOutcome(staff, destroy)
	require.NoError(t, err)
	require.Equal(t, retentionv1.CopyState_COPY_STATE_DESTROYED, destroyed.GetState())
	require.Equal(t, ledgerv1.AmendmentKind_AMENDMENT_KIND_DESTRUCTION_REPLY, amendment(destroyed).GetAmendmentKind())
	_, err = cl.RecordCopyOutcome(staff, &retentionv1.RecordCopyOutcomeRequest{Name: c.GetName(), Outcome: &retentionv1.CopyOutcome{
		Kind: retentionv1.OutcomeKind_OUTCOME_KIND_DESTROYED, Evidence: "x"}})
	_, reason = stacktest.Reason(err)
	require.Equal(t, "COPY_NOT_OUT", reason)

	// A returned copy is destroyed here: how, by whom and when are required (DEC-16, STD-42-2),
	// and recorded by a DESTRUCTION entry after the RETURN amendment.
	c2, err := cl.CreateCopy(s.As(auth.RoleManager, libraryUnit), &retentionv1.CreateCopyRequest{Parent: libraryUnit,
		Copy: &retentionv1.Copy{ProvisionIndex: provision().GetIndex(), PublicRecipient: true}})
	require.NoError(t, err)
	ret := &retentionv1.RecordCopyOutcomeRequest{Name: c2.GetName(), Outcome: &retentionv1.CopyOutcome{
		Kind: retentionv1.OutcomeKind_OUTCOME_KIND_RETURNED, Evidence: "USB 반환 접수(형사과-5678)"}}
	_, err = cl.RecordCopyOutcome(staff, ret)
	require.Equal(t, "DEC-16", findViolation(t, err, "outcome.destruction_method").GetReason())
	require.Equal(t, "STD-42-2", findViolation(t, err, "outcome.destroyed_by").GetReason())
	require.Equal(t, "STD-42-2", findViolation(t, err, "outcome.destruction_time").GetReason())
	destroyedAt := time.Now().Add(-30 * time.Minute)
	ret.Outcome.DestructionMethod, ret.Outcome.DestroyedBy = "USB 영구삭제(복구 불가)", "주무관 송승학"
	ret.Outcome.DestructionTime = timestamppb.New(destroyedAt)
	returned, err := cl.RecordCopyOutcome(staff, ret)
	require.NoError(t, err)
	require.Equal(t, retentionv1.CopyState_COPY_STATE_RETURNED, returned.GetState())
	back := amendment(returned)
	require.Equal(t, ledgerv1.AmendmentKind_AMENDMENT_KIND_RETURN, back.GetAmendmentKind())
	o := returned.GetOutcomes()[0]
	require.Greater(t, o.GetDestructionLedgerIndex(), back.GetIndex(), "the DESTRUCTION follows the RETURN")
	d, err := led.GetEntry(staff, &ledgerv1.GetEntryRequest{Name: libraryLog + "/ledger/entries/" + itoa(o.GetDestructionLedgerIndex())})
	require.NoError(t, err)
	require.Equal(t, ledgerv1.EntryKind_ENTRY_KIND_DESTRUCTION, d.GetKind())
	require.Equal(t, "USB 영구삭제(복구 불가)", d.GetDestructionMethod())
	require.Equal(t, "주무관 송승학", d.GetHandler())
	require.WithinDuration(t, destroyedAt, d.GetOccurTime().AsTime(), time.Microsecond)
}

// Another tenant's CPO is refused every method on Jeongeup's unit, whether the resource exists or
// not, so it learns nothing; under its own unit, Jeongeup's names do not resolve.
func TestRetentionTenantIsolation(t *testing.T) {
	t.Parallel()
	clock := &retentiontest.Clock{}
	s := startStack(t, stacktest.WithClock(clock.Now))
	s.Load("jeongeup-library.yaml")
	s.Load("seongnam-library.yaml")
	retentiontest.Started(t, s.DB())
	cl := s.retention()
	manager := s.As(auth.RoleManager, libraryUnit)
	today := retentiontest.Today()
	clock.Set(today.AddDate(0, 0, -40).Add(time.Hour))
	rule, err := cl.CreateRule(manager, &retentionv1.CreateRuleRequest{Parent: libraryUnit, RuleId: "cctv", Rule: cctvRule()})
	require.NoError(t, err)
	hold, err := cl.CreateHold(manager, &retentionv1.CreateHoldRequest{Parent: libraryUnit, Hold: &retentionv1.Hold{Site: centralSite,
		StartTime: timestamppb.New(today.AddDate(0, 0, -35)), EndTime: timestamppb.New(today.AddDate(0, 0, -34)),
		Reason: "수사 협조", Custodian: "송승학", ReviewDate: today.Format(time.DateOnly)}})
	require.NoError(t, err)
	clock.Set(today.Add(time.Hour))
	_, err = cl.SweepUnit(manager, &retentionv1.SweepUnitRequest{Parent: libraryUnit})
	require.NoError(t, err)
	item := itemOn(t, cl, manager, today.AddDate(0, 0, -2))

	other := s.As(auth.RoleCPO, "tenants/seongnam")
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
		"ListSweeps": func(string) error {
			_, err := cl.ListSweeps(other, &retentionv1.ListSweepsRequest{Parent: libraryUnit})
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
		"ListObligations": func(string) error {
			_, err := cl.ListObligations(other, &retentionv1.ListObligationsRequest{Parent: libraryUnit})
			return err
		},
		"RecordCopyOutcome": func(string) error {
			_, err := cl.RecordCopyOutcome(other, &retentionv1.RecordCopyOutcomeRequest{Name: libraryUnit + "/copies/1",
				Outcome: &retentionv1.CopyOutcome{Kind: retentionv1.OutcomeKind_OUTCOME_KIND_DESTROYED, Evidence: "x"}})
			return err
		},
	}
	require.Len(t, calls, retentionv1.File_pipa_retention_v1_retention_proto.Services().Get(0).Methods().Len()-len(retention.PublicMethods),
		"every method but the public ones (the certificate key)")
	for method, call := range calls {
		for _, name := range []string{item.GetName(), missing} {
			err := call(name)
			require.Equal(t, codes.PermissionDenied, status.Code(err), "%s: %v", method, err)
			require.NotContains(t, err.Error(), "999999", method)
		}
	}
	// Seongnam's own unit does not see Jeongeup's item under its name.
	_, err = cl.GetItem(s.As(auth.RoleCPO, "tenants/seongnam"), &retentionv1.GetItemRequest{
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
	t.Parallel()
	s := startStack(t)
	s.Load("jeongeup-library.yaml")
	retentiontest.Started(t, s.DB())
	cl := s.retention()
	manager := s.As(auth.RoleManager, libraryUnit)
	review := time.Now().AddDate(1, 0, 0).Format(time.DateOnly)
	with := func(change func(r *retentionv1.Rule)) *retentionv1.Rule {
		r := cctvRule()
		change(r)
		return r
	}
	cases := []struct {
		name, field, rule string
		r                 *retentionv1.Rule
	}{
		{"no method", "rule.method", "DEC-16", with(func(r *retentionv1.Rule) { r.Method = "" })},
		{"auto-delete without its cycle", "rule.auto_delete_cycle", "STD-42-2", with(func(r *retentionv1.Rule) { r.AutoDeleteCycle = "" })},
		{"a site counted from collection", "rule.clock_start", "STD-41-2", with(func(r *retentionv1.Rule) {
			r.ClockStart = retentionv1.ClockStart_CLOCK_START_COLLECTION
		})},
		{"a site of another unit", "rule.resource", "STD-41-2", with(func(r *retentionv1.Rule) { r.Resource = "tenants/iksan/units/city/sites/x" })},
		{"an unknown site", "rule.resource", "STD-41-2", with(func(r *retentionv1.Rule) { r.Resource = libraryUnit + "/sites/nowhere" })},
		{"a zone the site does not list", "rule.zone", "STD-41-2", with(func(r *retentionv1.Rule) { r.Zone = "보호실" })},
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
		ReviewDate: review}})
	require.Equal(t, "PIPA-21-1", findViolation(t, err, "hold.reason").GetReason())
	// A hold's scope and times name the rule that holds are for (PIPA-21-1); an invalid time is
	// bad input, not a server error.
	holdCases := map[string]*retentionv1.Hold{
		"hold":             {Reason: "수사", Custodian: "송승학", ReviewDate: review},
		"hold.start_time":  {Site: centralSite, StartTime: &timestamppb.Timestamp{Seconds: 1 << 62}, EndTime: timestamppb.Now(), Reason: "수사", Custodian: "송승학", ReviewDate: review},
		"hold.end_time":    {Site: centralSite, StartTime: timestamppb.Now(), EndTime: &timestamppb.Timestamp{Nanos: -1}, Reason: "수사", Custodian: "송승학", ReviewDate: review},
		"hold.file":        {File: libraryUnit + "/files/nothing", Reason: "수사", Custodian: "송승학", ReviewDate: review},
		"hold.review_date": {Request: libraryUnit + "/requests/R-2026-000001", Reason: "수사", Custodian: "송승학"},
	}
	for field, h := range holdCases {
		_, err := cl.CreateHold(manager, &retentionv1.CreateHoldRequest{Parent: libraryUnit, Hold: h})
		require.Equal(t, codes.InvalidArgument, status.Code(err), "%s: %v", field, err)
		require.Equal(t, "PIPA-21-1", findViolation(t, err, field).GetReason(), field)
	}
	rules, err := cl.ListRules(manager, &retentionv1.ListRulesRequest{Parent: libraryUnit})
	require.NoError(t, err)
	require.Empty(t, rules.GetRules(), "nothing refused was stored")
	holds, err := cl.ListHolds(manager, &retentionv1.ListHoldsRequest{Parent: libraryUnit, ShowReleased: true})
	require.NoError(t, err)
	require.Empty(t, holds.GetHolds())
	rule, err := cl.CreateRule(manager, &retentionv1.CreateRuleRequest{Parent: libraryUnit, Rule: cctvRule()})
	require.NoError(t, err)
	_, err = cl.CreateItem(s.As(auth.RoleHandler, libraryUnit), &retentionv1.CreateItemRequest{Parent: libraryUnit,
		Item: &retentionv1.Item{Rule: rule.GetName()}})
	require.Equal(t, "STD-41-2", findViolation(t, err, "item.recording_date").GetReason())
	for _, date := range []string{"2026-13-45", time.Now().AddDate(0, 0, 2).Format(time.DateOnly)} {
		_, err = cl.CreateItem(s.As(auth.RoleHandler, libraryUnit), &retentionv1.CreateItemRequest{Parent: libraryUnit,
			Item: &retentionv1.Item{Rule: rule.GetName(), RecordingDate: date}})
		require.Equal(t, "STD-41-2", findViolation(t, err, "item.recording_date").GetReason(), date)
	}
	_, err = cl.CreateItem(s.As(auth.RoleHandler, libraryUnit), &retentionv1.CreateItemRequest{Parent: libraryUnit,
		Item: &retentionv1.Item{Rule: rule.GetName(), RecordingDate: time.Now().AddDate(0, 0, -2).Format(time.DateOnly),
			ClockStartTime: &timestamppb.Timestamp{Seconds: -1 << 62}}})
	require.Equal(t, codes.InvalidArgument, status.Code(err), "%v", err)
	require.Equal(t, "PIPA-21-1", findViolation(t, err, "item.clock_start_time").GetReason())
	items, err := cl.ListItems(manager, &retentionv1.ListItemsRequest{Parent: libraryUnit})
	require.NoError(t, err)
	require.Empty(t, items.GetItems())
	// A handler may read but not set rules.
	_, err = cl.CreateRule(s.As(auth.RoleHandler, libraryUnit), &retentionv1.CreateRuleRequest{Parent: libraryUnit, Rule: cctvRule()})
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
	t.Parallel()
	s := startStack(t)
	s.Load("jeongeup-library.yaml")
	retentiontest.Started(t, s.DB())
	cl := s.retention()
	manager := s.As(auth.RoleManager, libraryUnit)
	rule, err := cl.CreateRule(manager, &retentionv1.CreateRuleRequest{Parent: libraryUnit, RuleId: "closed-requests", Rule: &retentionv1.Rule{
		DisplayName: "종결된 열람청구 처리기록", Target: retentionv1.RuleTarget_RULE_TARGET_CLOSED_REQUESTS,
		PeriodDays: 365 * 3, ClockStart: retentionv1.ClockStart_CLOCK_START_REQUEST_CLOSED, Action: retentionv1.Action_ACTION_PLAN,
		Method: "개인정보 영구삭제(복구 불가)", Basis: "표준 개인정보 보호지침 제60조"}})
	require.NoError(t, err)
	closed := requeststest.Closed(t, s.requests(), s.As(auth.RoleHandler, libraryUnit), libraryUnit)
	items, err := cl.ListItems(manager, &retentionv1.ListItemsRequest{Parent: libraryUnit})
	require.NoError(t, err)
	require.Len(t, items.GetItems(), 1)
	it := items.GetItems()[0]
	require.Equal(t, rule.GetName(), it.GetRule())
	require.Equal(t, closed.GetName(), it.GetResource())
	require.WithinDuration(t, closed.GetCloseTime().AsTime(), it.GetClockStartTime().AsTime(), time.Microsecond)
	require.Equal(t, retentionv1.ItemState_ITEM_STATE_RETAINED, it.GetState())
}

// A copy of footage that an approved provision hands to the police is tracked here until it is
// destroyed or returned (C-9), amending the request's PROVISION entry.
func TestProvidedCopiesAreTracked(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("jeongeup-library.yaml")
	staff := s.As(auth.RoleManager, libraryUnit)
	created, err := s.requests().CreateProvision(staff, &requestsv1.CreateProvisionRequest{Parent: libraryUnit,
		Request: requeststest.PoliceProvision(centralSite, requestsv1.ProvisionGround_PROVISION_GROUND_CRIMINAL_INVESTIGATION)})
	require.NoError(t, err)
	got := requeststest.Approve(t, s.requests(), staff, created.GetRequest())
	require.Len(t, got.GetLedger(), 1)

	require.NotEmpty(t, got.GetCopy(), "the approval handed the copy to the retention service")
	c, err := s.retention().GetCopy(staff, &retentionv1.GetCopyRequest{Name: got.GetCopy()})
	require.NoError(t, err)
	require.Equal(t, "정읍경찰서", c.GetRecipient())
	require.Equal(t, got.GetLedger()[0].GetIndex(), c.GetProvisionIndex())
	require.Equal(t, got.GetProvision().GetDestructionDueDate(), c.GetDestructionDueDate())
	require.Equal(t, got.GetName(), c.GetRequest())
}
