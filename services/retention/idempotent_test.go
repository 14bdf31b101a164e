package retention_test

import (
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
