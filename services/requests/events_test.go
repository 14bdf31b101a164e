package requests_test

import (
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pipa-kr/pipa/pkg/auth"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	requestsv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/requests/v1"
	"github.com/pipa-kr/pipa/pkg/modules"
	"github.com/pipa-kr/pipa/pkg/outbound"
	"github.com/pipa-kr/pipa/pkg/outbound/outboundtest"
	"github.com/pipa-kr/pipa/pkg/stacktest"
	"github.com/pipa-kr/pipa/services/ledger"
	"github.com/pipa-kr/pipa/services/ledger/ledgertest"
	"github.com/pipa-kr/pipa/services/registry"
	"github.com/pipa-kr/pipa/services/registry/policy"
	"github.com/pipa-kr/pipa/services/registry/registrytest"
	"github.com/pipa-kr/pipa/services/requests"
)

// subscribe subscribes a receiver of its own to the library's events of types (none: all).
func subscribe(t *testing.T, s *stack, id string, types ...string) *outboundtest.Receiver {
	t.Helper()
	recv := outboundtest.StartReceiver(t, benchSecret)
	_, err := requestsv1.NewOutboundServiceClient(s.Conn).CreateSubscription(s.As(auth.RoleTenantAdmin, "tenants/jeongeup"),
		&requestsv1.CreateSubscriptionRequest{Parent: "tenants/jeongeup", SubscriptionId: id, Subscription: &requestsv1.Subscription{
			Url: recv.URL, Secret: benchSecret, Unit: libraryUnit, Types: types}})
	require.NoError(t, err)
	return recv
}

// ofType are the events of the type a receiver took, by their id.
func ofType(r *outboundtest.Receiver, typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, g := range r.Received() {
		if g.Event["type"] == typ {
			out[g.ID] = g.Event
		}
	}
	return out
}

// The registry's events reach the request service's subscriptions through its outbound and
// PublishEvent: a policy version announced (STD-21) is told at once, and its coming into force
// on its effective date by the registry's job, each once, as a signed CloudEvent whose source is
// the unit and whose id the registry made.
func TestPolicyEventsRelayed(t *testing.T) {
	t.Parallel()
	var ahead atomic.Int64 // how far the registry's clock is ahead
	clock := func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) }
	s := &stack{registrytest.Start(t, []modules.Module{registry.ModuleWith(registry.WithClock(clock)), ledger.Module, requests.Module},
		outboundtest.WithLoopbackReceivers)}
	s.Load("jeongeup-library.yaml")
	recv := subscribe(t, s, "policies", outbound.PolicyAnnounced, outbound.PolicyInForce)

	cpo := s.As(auth.RoleCPO, libraryUnit)
	d, err := s.Registry.CreatePolicyVersion(cpo, &registryv1.CreatePolicyVersionRequest{Parent: libraryUnit + "/policies/cctv"})
	require.NoError(t, err)
	effective := policy.Today(clock()).AddDays(7).String()
	v, err := s.Registry.AnnouncePolicyVersion(cpo, &registryv1.AnnouncePolicyVersionRequest{Name: d.GetName(),
		EffectiveDate: effective, ChangeSummary: "보관장소 변경"})
	require.NoError(t, err)

	require.Eventually(t, func() bool { return len(ofType(recv, outbound.PolicyAnnounced)) == 1 }, 60*time.Second, 100*time.Millisecond)
	for id, ev := range ofType(recv, outbound.PolicyAnnounced) {
		require.Regexp(t, `^registry-\d+$`, id, "the registry's event id is every delivery's webhook-id")
		require.Equal(t, libraryUnit, ev["source"])
		require.Equal(t, v.GetName(), ev["subject"])
		data := ev["data"].(map[string]any)
		require.Equal(t, effective, data["effectiveDate"])
		require.Equal(t, "cctv", data["kind"])
	}
	require.Empty(t, ofType(recv, outbound.PolicyInForce), "not in force before its effective date")

	// The effective date comes: the job tells of it, once however often it runs.
	ahead.Store(int64(8 * 24 * time.Hour))
	jobs, err := river.NewClient(riverpgxv5.New(s.DB()), &river.Config{Schema: "registry"})
	require.NoError(t, err)
	for range 2 {
		_, err = jobs.Insert(t.Context(), registry.InForceArgs{}, nil)
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool { return len(ofType(recv, outbound.PolicyInForce)) == 1 }, 60*time.Second, 100*time.Millisecond)
	for _, ev := range ofType(recv, outbound.PolicyInForce) {
		require.Equal(t, v.GetName(), ev["subject"])
	}
	require.Zero(t, recv.Rejected.Load())
	// Nothing else comes: each event once (a delivery repeated after a lost answer would reuse its id).
	require.Never(t, func() bool { return len(recv.Received()) > 2 }, 3*time.Second, 200*time.Millisecond)
}

// PublishEvent is the services' own: a staff token is refused, a bad event is refused naming its
// field, and a repeated event id records nothing new.
func TestPublishEvent(t *testing.T) {
	t.Parallel()
	s := startStack(t, outboundtest.WithLoopbackReceivers)
	s.Load("jeongeup-library.yaml")
	recv := subscribe(t, s, "plans", outbound.PlanApproved)
	out := requestsv1.NewOutboundServiceClient(s.Conn)
	data, err := structpb.NewStruct(map[string]any{"plan": libraryUnit + "/plans/7", "items": 3})
	require.NoError(t, err)
	ev := &requestsv1.PublishEventRequest{Parent: libraryUnit, EventId: "retention-9001", Type: outbound.PlanApproved,
		Subject: libraryUnit + "/plans/7", EventTime: timestamppb.Now(), Data: data}

	_, err = out.PublishEvent(s.As(auth.RoleTenantAdmin, "tenants/jeongeup"), ev)
	require.Equal(t, codes.PermissionDenied, status.Code(err))

	svc := s.As(auth.RoleService, auth.ScopeAll)
	for field, bad := range map[string]*requestsv1.PublishEventRequest{
		"event_id": {Parent: ev.Parent, EventId: "retention 9001", Type: ev.Type, Subject: ev.Subject, EventTime: ev.EventTime},
		"type":     {Parent: ev.Parent, EventId: ev.EventId, Type: "kr.pipa.request.received", Subject: ev.Subject, EventTime: ev.EventTime},
		"subject":  {Parent: ev.Parent, EventId: ev.EventId, Type: ev.Type, EventTime: ev.EventTime},
	} {
		_, err := out.PublishEvent(svc, bad)
		require.Equal(t, codes.InvalidArgument, status.Code(err), field)
		require.Equal(t, field, stacktest.Violation(t, err).GetField())
	}

	first, err := out.PublishEvent(svc, ev)
	require.NoError(t, err)
	require.Equal(t, int32(1), first.GetDeliveries())
	again, err := out.PublishEvent(svc, ev)
	require.NoError(t, err)
	require.True(t, again.GetDuplicate())
	require.Zero(t, again.GetDeliveries())
	require.Eventually(t, func() bool { return recv.Unique() == 1 }, 30*time.Second, 100*time.Millisecond)
	require.Never(t, func() bool { return len(recv.Received()) > 1 }, 2*time.Second, 200*time.Millisecond)
	got := recv.Received()[0]
	require.Equal(t, "retention-9001", got.ID)
	require.Equal(t, float64(3), got.Event["data"].(map[string]any)["items"])
}

// The ledger tells of each log's latest signed checkpoint when it grew, at most once an interval
// and never twice for one checkpoint; only subscriptions that name the type get it (opt-in: a
// checkpoint is signed for every committed batch of appends).
func TestCheckpointEventsOptIn(t *testing.T) {
	t.Parallel()
	s := startStack(t, outboundtest.WithLoopbackReceivers, func(c *modules.Config) { c.CheckpointEventInterval = time.Second })
	s.Load("jeongeup-library.yaml")
	named := subscribe(t, s, "checkpoints", outbound.CheckpointSigned)
	everything := subscribe(t, s, "everything")

	staff := s.As(auth.RoleHandler, libraryUnit)
	for range 5 {
		_, err := s.ledger().AppendEntry(staff, &ledgerv1.AppendEntryRequest{Parent: libraryLog, Entry: ledgertest.PoliceProvision()})
		require.NoError(t, err)
	}
	head, err := s.ledger().GetCheckpoint(staff, &ledgerv1.GetCheckpointRequest{Parent: libraryLog})
	require.NoError(t, err)
	size := float64(head.GetTreeSize())

	// The latest checkpoint is told; every one told is told once.
	require.Eventually(t, func() bool {
		for _, ev := range ofType(named, outbound.CheckpointSigned) {
			if ev["data"].(map[string]any)["treeSize"] == size {
				return true
			}
		}
		return false
	}, 60*time.Second, 200*time.Millisecond)
	sizes := map[float64]bool{}
	for _, g := range named.Received() {
		data := g.Event["data"].(map[string]any)
		require.False(t, sizes[data["treeSize"].(float64)], "one event per checkpoint")
		sizes[data["treeSize"].(float64)] = true
		require.Equal(t, libraryLog+"/ledger/checkpoint", g.Event["subject"])
		require.Equal(t, libraryLog+"/ledger", data["ledger"])
		require.Contains(t, data["checkpoint"], "\n— ", "the signed note itself")
	}
	raw, _ := json.Marshal(everything.Received())
	require.NotContains(t, string(raw), outbound.CheckpointSigned, "a subscription to all types has not opted in")
}
