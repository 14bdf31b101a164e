package retention_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pipa-kr/pipa/pkg/auth"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	requestsv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/requests/v1"
	retentionv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/retention/v1"
	"github.com/pipa-kr/pipa/pkg/outbound"
	"github.com/pipa-kr/pipa/pkg/outbound/outboundtest"
	kst "github.com/pipa-kr/pipa/pkg/seoul"
	"github.com/pipa-kr/pipa/pkg/stacktest"
	"github.com/pipa-kr/pipa/services/ledger/ledgertest"
	"github.com/pipa-kr/pipa/services/retention"
	"github.com/pipa-kr/pipa/services/retention/retentiontest"
)

// eventSecret signs the events test's webhooks.
const eventSecret = "whsec_cGlwYSByZXRlbnRpb24gZXZlbnRzIHNlY3JldCAzMiE="

// subscribeTenant subscribes a receiver of its own to all of the tenant's events.
func subscribeTenant(t *testing.T, s *stack, tenant string) *outboundtest.Receiver {
	t.Helper()
	recv := outboundtest.StartReceiver(t, eventSecret)
	_, err := requestsv1.NewOutboundServiceClient(s.Conn).CreateSubscription(s.As(auth.RoleTenantAdmin, "tenants/"+tenant),
		&requestsv1.CreateSubscriptionRequest{Parent: "tenants/" + tenant, SubscriptionId: "integration",
			Subscription: &requestsv1.Subscription{Url: recv.URL, Secret: eventSecret}})
	require.NoError(t, err)
	return recv
}

// eventsOf waits until the receiver took n events of the type, and returns them.
func eventsOf(t *testing.T, r *outboundtest.Receiver, typ string, n int) []map[string]any {
	t.Helper()
	var got []map[string]any
	require.Eventually(t, func() bool {
		got = nil
		for _, g := range r.Received() {
			if g.Event["type"] == typ {
				got = append(got, g.Event)
			}
		}
		return len(got) >= n
	}, 60*time.Second, 100*time.Millisecond, "%d events of type %s", n, typ)
	require.Len(t, got, n, "each event once")
	return got
}

// The retention service's events reach the subscriptions of the request service through its
// outbound: a sweep that planned a destruction, the plan's approval and completion (STD-55), a
// copy given to the police falling overdue and its destruction (C-9) — each once, named, with
// codes and counts and no personal data, written in the transaction of the change it tells of.
func TestRetentionEvents(t *testing.T) {
	t.Parallel()
	clock := &retentiontest.Clock{}
	s := startStack(t, stacktest.WithClock(clock.Now), outboundtest.WithLoopbackReceivers)
	s.Load("seongnam-library.yaml")
	s.Load("jeongeup-library.yaml")
	retentiontest.Started(t, s.DB())
	seongnam, jeongeup := subscribeTenant(t, s, "seongnam"), subscribeTenant(t, s, "jeongeup")
	cl := s.retention()
	cpo := s.As(auth.RoleCPO, officeUnit)

	plan, _ := filePlan(t, s, clock)
	sweep := eventsOf(t, seongnam, outbound.SweepCompleted, 1)[0]
	require.Equal(t, officeUnit, sweep["source"])
	require.EqualValues(t, 4, sweep["data"].(map[string]any)["planned"])
	require.Equal(t, []any{plan.GetName()}, sweep["data"].(map[string]any)["plans"])

	plan, err := cl.ApprovePlan(cpo, &retentionv1.ApprovePlanRequest{Name: plan.GetName(), Etag: plan.GetEtag()})
	require.NoError(t, err)
	approved := eventsOf(t, seongnam, outbound.PlanApproved, 1)[0]
	require.Equal(t, plan.GetName(), approved["subject"])
	require.Equal(t, "PLAN_STATE_APPROVED", approved["data"].(map[string]any)["state"])

	clock.Set(time.Now())
	done, err := cl.CompletePlan(cpo, &retentionv1.CompletePlanRequest{Name: plan.GetName(), Method: "영구삭제(복구 불가)",
		DestroyedBy: "주무관 김정보", Etag: plan.GetEtag()})
	require.NoError(t, err)
	require.Equal(t, retentionv1.PlanState_PLAN_STATE_COMPLETED, done.GetState())
	completed := eventsOf(t, seongnam, outbound.PlanCompleted, 1)[0]
	require.Equal(t, plan.GetName(), completed["subject"])
	require.EqualValues(t, 4, completed["data"].(map[string]any)["items"])

	// A copy given to the police: overdue once per due date, however many reminders; destroyed.
	staff, service := s.As(auth.RoleHandler, libraryUnit), s.As(auth.RoleService, auth.ScopeAll)
	clock.Set(time.Now().Add(-time.Minute))
	p, err := s.ledger().AppendEntry(staff, &ledgerv1.AppendEntryRequest{Parent: libraryLog, Entry: ledgertest.PoliceProvision()})
	require.NoError(t, err)
	c, err := cl.CreateCopy(service, &retentionv1.CreateCopyRequest{Parent: libraryUnit, Copy: &retentionv1.Copy{
		ProvisionIndex: p.GetIndex(), PublicRecipient: true, Request: libraryUnit + "/requests/P-2026-000001"}})
	require.NoError(t, err)
	due, err := time.ParseInLocation(time.DateOnly, c.GetDestructionDueDate(), kst.Location)
	require.NoError(t, err)
	db := s.DB()
	for day := 2; day <= 3; day++ {
		clock.Set(due.AddDate(0, 0, day).Add(10 * time.Hour))
		retentiontest.WaitJob(t, db, retentiontest.Enqueue(t, db, retention.RemindCopiesArgs{}))
	}
	overdue := eventsOf(t, jeongeup, outbound.CopyOverdue, 1)[0]
	require.Equal(t, c.GetName(), overdue["subject"])
	require.Equal(t, c.GetDestructionDueDate(), overdue["data"].(map[string]any)["dueDate"])

	clock.Set(time.Now().Add(-time.Minute))
	_, err = cl.RecordCopyOutcome(staff, &retentionv1.RecordCopyOutcomeRequest{Name: c.GetName(),
		Outcome: &retentionv1.CopyOutcome{Kind: retentionv1.OutcomeKind_OUTCOME_KIND_DESTROYED, Evidence: "정읍경찰서 형사과-4567, 파기 통보"}})
	require.NoError(t, err)
	closed := eventsOf(t, jeongeup, outbound.CopyClosed, 1)[0]
	require.Equal(t, c.GetName(), closed["subject"])
	require.Equal(t, "COPY_STATE_DESTROYED", closed["data"].(map[string]any)["state"])
	require.Regexp(t, `^`+libraryLog+`/ledger/entries/\d+$`, closed["data"].(map[string]any)["ledgerEntry"])
	for _, r := range []*outboundtest.Receiver{seongnam, jeongeup} {
		require.Zero(t, r.Rejected.Load())
		for _, g := range r.Received() {
			require.Regexp(t, `^retention-\d+$`, g.ID)
		}
	}
}
