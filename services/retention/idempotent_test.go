package retention_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pipa-kr/pipa/pkg/auth"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	retentionv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/retention/v1"
	"github.com/pipa-kr/pipa/pkg/stacktest"
	"github.com/pipa-kr/pipa/services/ledger/ledgertest"
	"github.com/pipa-kr/pipa/services/retention/retentiontest"
)

// The retention service's changes take a request_id (AIP-155): a retry after a lost answer, even
// with the etag the first call was sent with, gets the first answer and writes no second ledger
// entry (a deletion confirmed once, an outcome recorded once, a retried delete not NotFound); the
// same id with another request is refused naming request_id and changes nothing; another
// tenant's staff cannot replay it.
func TestChangesAreIdempotent(t *testing.T) {
	t.Parallel()
	clock := &retentiontest.Clock{}
	s := startStack(t, stacktest.WithClock(clock.Now))
	s.Load("jeongeup-library.yaml")
	s.Load("iksan.yaml")
	retentiontest.Started(t, s.DB())
	cl, led := s.retention(), s.ledger()
	manager := s.As(auth.RoleManager, libraryUnit)
	recorder := s.As(auth.RoleService, "tenants/jeongeup")
	today := retentiontest.Today()

	// A CCTV rule of 30 days, swept yesterday: the day recorded 31 days ago is due, not destroyed.
	clock.Set(today.AddDate(0, 0, -41).Add(time.Hour))
	rule, err := cl.CreateRule(manager, &retentionv1.CreateRuleRequest{Parent: libraryUnit, Rule: cctvRule()})
	require.NoError(t, err)
	clock.Set(today.AddDate(0, 0, -1).Add(time.Hour))
	_, err = cl.SweepUnit(manager, &retentionv1.SweepUnitRequest{Parent: libraryUnit})
	require.NoError(t, err)
	clock.Set(today.Add(time.Hour))
	day := itemOn(t, cl, manager, today.AddDate(0, 0, -31))
	require.Equal(t, retentionv1.ItemState_ITEM_STATE_DUE, day.GetState())
	// A copy provided to the police.
	p, err := led.AppendEntry(manager, &ledgerv1.AppendEntryRequest{Parent: libraryLog, Entry: ledgertest.PoliceProvision()})
	require.NoError(t, err)
	p, err = led.GetEntry(manager, &ledgerv1.GetEntryRequest{Name: p.GetName()})
	require.NoError(t, err)
	cp, err := cl.CreateCopy(manager, &retentionv1.CreateCopyRequest{Parent: libraryUnit,
		Copy: &retentionv1.Copy{ProvisionIndex: p.GetIndex(), PublicRecipient: true}})
	require.NoError(t, err)
	due, err := time.Parse(time.DateOnly, cp.GetDestructionDueDate())
	require.NoError(t, err)
	pick := func(other bool, first, second string) string {
		if other {
			return second
		}
		return first
	}

	calls := []struct {
		name string
		call func(id string, other bool) (proto.Message, error)
	}{
		{"ConfirmDeletion", func(id string, other bool) (proto.Message, error) {
			at := today.Add(map[bool]time.Duration{false: 30 * time.Minute, true: 40 * time.Minute}[other])
			return cl.ConfirmDeletion(recorder, &retentionv1.ConfirmDeletionRequest{RequestId: id, Name: day.GetName(), DeletionTime: timestamppb.New(at)})
		}},
		{"UpdateRule", func(id string, other bool) (proto.Message, error) {
			return cl.UpdateRule(manager, &retentionv1.UpdateRuleRequest{RequestId: id, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"method"}},
				Rule: &retentionv1.Rule{Name: rule.GetName(), Etag: rule.GetEtag(), Method: pick(other, "영구삭제(덮어쓰기 3회)", "영구삭제(덮어쓰기 7회)")}})
		}},
		{"RecordCopyOutcome", func(id string, other bool) (proto.Message, error) {
			return cl.RecordCopyOutcome(manager, &retentionv1.RecordCopyOutcomeRequest{RequestId: id, Name: cp.GetName(), Etag: cp.GetEtag(),
				Outcome: &retentionv1.CopyOutcome{Kind: retentionv1.OutcomeKind_OUTCOME_KIND_EXTENDED, Reason: "수사기간 연장",
					NewDueDate: due.AddDate(0, map[bool]int{false: 2, true: 3}[other], 0).Format(time.DateOnly), Evidence: "정읍경찰서 형사과-3456"}})
		}},
		{"DeleteRule", func(id string, other bool) (proto.Message, error) {
			return cl.DeleteRule(manager, &retentionv1.DeleteRuleRequest{RequestId: id, Name: rule.GetName(), Etag: pick(other, "", "stale")})
		}},
	}
	entries := func() int {
		list, err := led.ListEntries(manager, &ledgerv1.ListEntriesRequest{Parent: libraryLog, PageSize: 1000})
		require.NoError(t, err)
		return len(list.GetEntries())
	}
	for _, c := range calls {
		id := "retry-" + c.name
		first, err := c.call(id, false)
		require.NoError(t, err, c.name)
		n := entries()
		retry, err := c.call(id, false)
		require.NoError(t, err, "%s: a retry is answered, not refused as stale or gone", c.name)
		require.True(t, proto.Equal(first, retry), "%s: the retry gets the first answer: %v != %v", c.name, first, retry)

		_, err = c.call(id, true)
		require.Equal(t, codes.InvalidArgument, status.Code(err), "%s: %v", c.name, err)
		v := stacktest.Violation(t, err)
		require.Equal(t, "request_id", v.GetField(), c.name)
		require.Equal(t, "AIP-155", v.GetReason(), c.name)

		again, err := c.call(id, false)
		require.NoError(t, err, c.name)
		require.True(t, proto.Equal(first, again), "%s: the refused reuse changed nothing: %v != %v", c.name, first, again)
		require.Equal(t, n, entries(), "%s: no second ledger entry", c.name)
	}
	got, err := cl.GetCopy(manager, &retentionv1.GetCopyRequest{Name: cp.GetName()})
	require.NoError(t, err)
	require.Len(t, got.GetOutcomes(), 1, "one extension")

	// Iksan's staff cannot replay Jeongeup's request_id on Jeongeup's rule.
	_, err = cl.DeleteRule(s.As(auth.RoleManager, "tenants/iksan"), &retentionv1.DeleteRuleRequest{RequestId: "retry-DeleteRule", Name: rule.GetName()})
	require.Equal(t, codes.PermissionDenied, status.Code(err), "%v", err)
}

// A sweep and a plan's completion retried after a lost answer (AIP-155): the same request_id
// answers the first call's sweep or completed plan and sweeps or destroys nothing again — an item
// due since is left for the next sweep, no DESTRUCTION entry is appended twice — and the same id
// with a different request is refused naming request_id. The key is the tenant's: Jeongeup's
// sweep under Seongnam's request_id is its own.
func TestSweepAndCompletionAreIdempotent(t *testing.T) {
	t.Parallel()
	clock := &retentiontest.Clock{}
	s := startStack(t, stacktest.WithClock(clock.Now))
	s.Load("seongnam-library.yaml")
	s.Load("jeongeup-library.yaml")
	retentiontest.Started(t, s.DB())
	cl := s.retention()
	manager, cpo := s.As(auth.RoleManager, officeUnit), s.As(auth.RoleCPO, officeUnit)
	plan, _ := filePlan(t, s, clock)
	sweeps := func() int {
		list, err := cl.ListSweeps(manager, &retentionv1.ListSweepsRequest{Parent: officeUnit, PageSize: 100})
		require.NoError(t, err)
		return len(list.GetSweeps())
	}
	entries := func() int {
		list, err := s.ledger().ListEntries(s.As(auth.RoleAuditor, officeUnit), &ledgerv1.ListEntriesRequest{Parent: officeUnit,
			Kind: ledgerv1.EntryKind_ENTRY_KIND_DESTRUCTION})
		require.NoError(t, err)
		return len(list.GetEntries())
	}
	refused := func(err error) {
		t.Helper()
		require.Equal(t, codes.InvalidArgument, status.Code(err), "%v", err)
		v := stacktest.Violation(t, err)
		require.Equal(t, "request_id", v.GetField())
		require.Equal(t, "AIP-155", v.GetReason())
	}

	plan, err := cl.ApprovePlan(cpo, &retentionv1.ApprovePlanRequest{Name: plan.GetName(), Etag: plan.GetEtag()})
	require.NoError(t, err)
	clock.Set(time.Now())
	complete := func(by string) (*retentionv1.Plan, error) {
		return cl.CompletePlan(cpo, &retentionv1.CompletePlanRequest{Name: plan.GetName(), Method: "영구삭제(복구 불가)",
			DestroyedBy: by, Etag: plan.GetEtag(), RequestId: "complete-1"})
	}
	done, err := complete("주무관 김정보")
	require.NoError(t, err)
	require.Equal(t, retentionv1.PlanState_PLAN_STATE_COMPLETED, done.GetState())
	require.Equal(t, 2, entries(), "one DESTRUCTION entry per rule")
	retry, err := complete("주무관 김정보") // its etag is stale now: the retry answers the plan
	require.NoError(t, err)
	require.Equal(t, done.GetEtag(), retry.GetEtag())
	require.Equal(t, done.GetCertificate(), retry.GetCertificate())
	_, err = complete("주무관 이정보")
	refused(err)
	require.Equal(t, 2, entries(), "nothing destroyed again")

	sweep := func(who context.Context, parent, id string) (*retentionv1.SweepResult, error) {
		return cl.SweepUnit(who, &retentionv1.SweepUnitRequest{Parent: parent, RequestId: id})
	}
	first, err := sweep(manager, officeUnit, "sweep-1")
	require.NoError(t, err)
	require.Zero(t, first.GetPlanned(), "the due items are in the plan")
	n := sweeps()
	// An item falls due after the first call: its retry does not plan it.
	_, err = cl.CreateItem(manager, &retentionv1.CreateItemRequest{Parent: officeUnit, Item: &retentionv1.Item{
		Rule: officeUnit + "/rules/library-members", Description: "3년 전 탈퇴 회원 (추가)",
		ClockStartTime: timestamppb.New(time.Now().AddDate(-3, 0, 0))}})
	require.NoError(t, err)
	again, err := sweep(manager, officeUnit, "sweep-1")
	require.NoError(t, err)
	require.True(t, proto.Equal(first, again), "the retry gets the first answer: %v != %v", first, again)
	require.Equal(t, n, sweeps(), "no second sweep")
	_, err = sweep(manager, officeUnit, "complete-1")
	refused(err)
	require.Equal(t, n, sweeps())
	next, err := sweep(manager, officeUnit, "sweep-2")
	require.NoError(t, err)
	require.EqualValues(t, 1, next.GetPlanned(), "a new request sweeps")

	_, err = sweep(s.As(auth.RoleManager, libraryUnit), libraryUnit, "sweep-1")
	require.NoError(t, err, "another tenant's request_id is not this one's")
}
