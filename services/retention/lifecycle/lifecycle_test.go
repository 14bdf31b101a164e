package lifecycle

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pipa-kr/pipa/pkg/apierr"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	retentionv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/retention/v1"
	"github.com/pipa-kr/pipa/pkg/seoul"
)

func kst(y int, m time.Month, d, h int) time.Time {
	return time.Date(y, m, d, h, 0, 0, 0, seoul.Location)
}

func reason(t *testing.T, err error) string {
	t.Helper()
	var e *apierr.Error
	require.ErrorAs(t, err, &e)
	return e.Reason
}

// STD-42-2 1: a batch's file name states which recording days it destroyed, and says so when
// held days were left out of the range.
func TestBatchName(t *testing.T) {
	days := func(ds ...int) []Claimed {
		var out []Claimed
		for _, d := range ds {
			day := kst(2026, 10, d, 0)
			out = append(out, Claimed{RecordingDate: &day})
		}
		return out
	}
	require.Equal(t, "중앙도서관 녹화분 2026-10-01~2026-10-03 (3일)", BatchName("중앙도서관", days(1, 2, 3)))
	require.Equal(t, "중앙도서관 녹화분 2026-10-01~2026-10-05 중 3일", BatchName("중앙도서관", days(5, 1, 3)))
	require.Equal(t, "중앙도서관 녹화분 2026-10-07 (1일)", BatchName("중앙도서관", days(7)))
	require.Equal(t, "회원 관리: 2024년 탈퇴 회원 외 1건", BatchName("회원 관리",
		[]Claimed{{Description: "2024년 탈퇴 회원"}, {Description: "2025년 탈퇴 회원"}}))
}

// C-9: the check of public recipients' replies is recorded once a quarter, named by the Seoul date.
func TestQuarter(t *testing.T) {
	require.Equal(t, "2026-Q4", Quarter(kst(2026, 12, 31, 23)))
	require.Equal(t, "2027-Q1", Quarter(kst(2027, 1, 1, 0)))
	require.Equal(t, "2027-Q1", Quarter(kst(2027, 1, 1, 0).UTC()), "in Asia/Seoul whatever the zone")
}

// STD-10-1: an item is due at its due time, held while a hold covers it, and overdue 5 days later
// unless held; destroyed it states its entry's index.
func TestItemView_STD_10_1(t *testing.T) {
	due := kst(2026, 11, 30, 0)
	it := &Item{Tenant: "jeongeup", Unit: "library", ID: 7, RuleID: "cctv", Status: Kept, Due: due, OverdueTime: due.AddDate(0, 0, 5)}
	require.Equal(t, retentionv1.ItemState_ITEM_STATE_RETAINED, ItemView(it, due.Add(-time.Second)).GetState())
	v := ItemView(it, due)
	require.Equal(t, retentionv1.ItemState_ITEM_STATE_DUE, v.GetState())
	require.False(t, v.GetOverdue())
	require.True(t, ItemView(it, due.AddDate(0, 0, 5)).GetOverdue())
	it.Holds = []int64{3}
	v = ItemView(it, due.AddDate(0, 0, 6))
	require.Equal(t, retentionv1.ItemState_ITEM_STATE_HELD, v.GetState())
	require.False(t, v.GetOverdue(), "a hold is a justified reason")
	require.Equal(t, []string{"tenants/jeongeup/units/library/holds/3"}, v.GetHolds())
	index, at := int64(41), due.Add(time.Hour)
	it.Status, it.Holds, it.LedgerIndex, it.Destruction = Destroyed, nil, &index, &at
	v = ItemView(it, due.AddDate(0, 0, 9))
	require.Equal(t, retentionv1.ItemState_ITEM_STATE_DESTROYED, v.GetState())
	require.EqualValues(t, 41, v.GetLedgerIndex())
	require.False(t, v.GetOverdue())
}

// A recording system confirms only its own automatic deletions (STD-55), not of a held item
// (PIPA-21-1), not before due (STD-41-2), nor dated before due (STD-42-2).
func TestCheckConfirmation(t *testing.T) {
	plan := &Rule{Doc: &retentionv1.Rule{Name: "r", Action: retentionv1.Action_ACTION_PLAN}}
	require.Equal(t, "NOT_AUTO_DELETE", reason(t, CheckAutoDelete(plan)))
	due := kst(2026, 11, 30, 0)
	it := &Item{Tenant: "t", Unit: "u", ID: 1, Status: Kept, Due: due}
	require.Equal(t, "NOT_DUE", reason(t, CheckConfirmation(it, due, due.Add(-time.Hour))))
	err := CheckConfirmation(it, due.Add(-time.Minute), due.Add(time.Hour))
	var e *apierr.Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, "STD-42-2", e.Violations[0].Rule)
	require.NoError(t, CheckConfirmation(it, due, due.Add(time.Hour)))
	it.Holds = []int64{2}
	require.Equal(t, "ITEM_HELD", reason(t, CheckConfirmation(it, due, due.Add(time.Hour))))
}

// STD-42-2 3: an automatic deletion's record names the official who answers for it — the site's
// CCTV manager, else the unit's head — never a program; STD-55 별지5: the head is the CCTV
// manager, else the CPO.
func TestAutoDeleteHandlerAndDepartmentHead(t *testing.T) {
	manager := &registryv1.Officer{Title: "소장", DisplayName: "송현숙", Roles: []registryv1.OfficerRole{registryv1.OfficerRole_OFFICER_ROLE_CCTV_MANAGER}}
	cpo := &registryv1.Officer{Title: "관장", DisplayName: "김보호", Roles: []registryv1.OfficerRole{registryv1.OfficerRole_OFFICER_ROLE_CPO}}
	staff := &registryv1.Officer{Title: "주무관", DisplayName: "소영휴"}
	require.Equal(t, "소장 송현숙", DepartmentHead([]*registryv1.Officer{staff, cpo, manager}))
	require.Equal(t, "관장 김보호", DepartmentHead([]*registryv1.Officer{staff, cpo}))
	require.Empty(t, DepartmentHead([]*registryv1.Officer{staff}))
	h, named := AutoDeleteHandler(manager, "관장 김보호")
	require.Equal(t, "소장 송현숙 (자동 삭제 점검)", h)
	require.True(t, named)
	h, _ = AutoDeleteHandler(nil, "관장 김보호")
	require.Equal(t, "관장 김보호 (자동 삭제 점검)", h)
	h, named = AutoDeleteHandler(nil, "")
	require.False(t, named)
	require.Equal(t, "관리책임자 미지정 (자동 삭제 점검)", h)
}

// STD-55, STD-10-4: only a proposed plan is approved; a plan is completed once approved, after the
// approval, and a completion started is repeated only with the values it recorded.
func TestPlanCompletion_STD_55(t *testing.T) {
	approve := kst(2026, 11, 30, 10)
	p := &Plan{Doc: &retentionv1.Plan{Name: "tenants/t/units/u/plans/1", State: retentionv1.PlanState_PLAN_STATE_PROPOSED, Etag: "e1"}}
	require.Equal(t, "PLAN_NOT_APPROVED", reason(t, StartCompletion(p, Completion{Method: "파쇄", DestroyedBy: "주무관", Time: approve})))
	require.NoError(t, Approve(p, "cpo", approve))
	require.Equal(t, "PLAN_NOT_PROPOSED", reason(t, Approve(p, "cpo", approve)))
	err := StartCompletion(p, Completion{Method: "파쇄", DestroyedBy: "주무관", Time: approve.Add(-time.Hour)})
	var e *apierr.Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, "STD-55", e.Violations[0].Rule, "carried out after the approval")
	require.Equal(t, "ETAG_MISMATCH", reason(t, StartCompletion(p, Completion{Method: "파쇄", DestroyedBy: "주무관", Time: approve, Etag: "old"})))
	c := Completion{Method: "파쇄", DestroyedBy: "주무관", Time: approve.Add(time.Hour), Etag: "e1"}
	require.NoError(t, StartCompletion(p, c))
	c.Etag, c.Time = "stale", approve.Add(2*time.Hour)
	require.NoError(t, StartCompletion(p, c), "repeated, the recorded time stands unless one is stated")
	c.TimeGiven = true
	require.Equal(t, "COMPLETION_STARTED", reason(t, StartCompletion(p, c)))
}

// C-9: an outcome is an AMENDMENT of the copy's PROVISION entry; an extension moves the due date
// forward only, writing the period in the ledger (STD-42-1 5); a copy with an outcome pending
// takes no other.
func TestOutcomeOf_C_9(t *testing.T) {
	now := kst(2026, 11, 30, 10)
	c := &Copy{Doc: &retentionv1.Copy{Name: "tenants/t/units/u/copies/1", ProvisionIndex: 12, Recipient: "정읍경찰서",
		DestructionDueDate: "2026-12-01", State: retentionv1.CopyState_COPY_STATE_OUT}}
	ext := &retentionv1.CopyOutcome{Kind: retentionv1.OutcomeKind_OUTCOME_KIND_EXTENDED, NewDueDate: "2026-11-30", Reason: "수사 연장", Evidence: "공문"}
	_, err := OutcomeOf(c, ext, "주무관", now)
	var e *apierr.Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, "C-9", e.Violations[0].Rule)
	ext.NewDueDate = "2027-01-31"
	o, err := OutcomeOf(c, ext, "주무관", now)
	require.NoError(t, err)
	a := o.Amendment.GetEntry()
	require.Equal(t, ledgerv1.AmendmentKind_AMENDMENT_KIND_EXTENSION, a.GetAmendmentKind())
	require.EqualValues(t, 12, a.GetFollows())
	require.Equal(t, "2026-12-01 ~ 2027-01-31", a.GetPeriod())
	require.Equal(t, "2027-01-31", o.DueDate)

	ret := &retentionv1.CopyOutcome{Kind: retentionv1.OutcomeKind_OUTCOME_KIND_RETURNED, Evidence: "반환 공문",
		DestroyedBy: "주무관", DestructionMethod: "영구삭제", DestructionTime: timestamppb.New(now)}
	o, err = OutcomeOf(c, ret, "주무관", now)
	require.NoError(t, err)
	require.Equal(t, ledgerv1.EntryKind_ENTRY_KIND_DESTRUCTION, o.Destruction.GetEntry().GetKind(), "the returned copy's destruction here")
	c.Doc.OutcomePending = true
	_, err = OutcomeOf(c, ret, "주무관", now)
	require.Equal(t, "OUTCOME_PENDING", reason(t, err))
}
