package requests_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pipa-kr/pipa/pkg/auth"
	requestsv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/requests/v1"
	"github.com/pipa-kr/pipa/pkg/outbound/outboundtest"
	"github.com/pipa-kr/pipa/pkg/stacktest"
	"github.com/pipa-kr/pipa/services/requests/requeststest"
)

// A decision retried after its answer was lost (AIP-155): the same request_id, even with the etag
// it was first sent with, answers with the request as the first call left it — one notice, one
// ledger entry — instead of INVALID_TRANSITION; the same id with another decision is refused
// naming request_id, and changes nothing.
func TestDecisionsAreIdempotent(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("jeongeup-library.yaml")
	cl := s.requests()
	staff := s.As(auth.RoleHandler, libraryUnit)
	created, err := cl.CreateRequest(staff, &requestsv1.CreateRequestRequest{Parent: libraryUnit, Request: requeststest.WithChannel(requeststest.AccessRequest())})
	require.NoError(t, err)
	r := created.GetRequest()
	verify := &requestsv1.VerifyIdentityRequest{Name: r.GetName(), RequestId: "verify-1",
		Verification: &requestsv1.Verification{Method: requestsv1.VerificationMethod_VERIFICATION_METHOD_ADMIN_DATA_SHARING}}
	verified, err := cl.VerifyIdentity(staff, verify)
	require.NoError(t, err)
	again, err := cl.VerifyIdentity(staff, verify)
	require.NoError(t, err, "a retried verification is not an invalid transition")
	require.Equal(t, verified.GetEtag(), again.GetEtag())

	approve := &requestsv1.ApproveRequestRequest{Name: r.GetName(), Grant: requeststest.VisitGrant(), Etag: verified.GetEtag(), RequestId: "approve-1"}
	first, err := cl.ApproveRequest(staff, approve)
	require.NoError(t, err)
	require.Equal(t, requestsv1.RequestState_REQUEST_STATE_APPROVED, first.GetState())
	retry, err := cl.ApproveRequest(staff, approve) // its etag is stale now: the replay answers first
	require.NoError(t, err)
	require.Equal(t, first.GetEtag(), retry.GetEtag())
	require.Len(t, retry.GetNotices(), 1, "one notice")
	require.Len(t, retry.GetLedger(), 2, "one entry for the approval")

	_, err = cl.RefuseRequest(staff, &requestsv1.RefuseRequestRequest{Name: r.GetName(), RequestId: "approve-1",
		Reason: &requestsv1.Reason{Text: "사유", Grounds: []requestsv1.Ground{requestsv1.Ground_GROUND_ACCESS_PROHIBITED_BY_LAW}}})
	code, _ := stacktest.Reason(err)
	require.Equal(t, codes.InvalidArgument, code)
	require.Equal(t, "request_id", stacktest.Violation(t, err).GetField())
	got, err := cl.GetRequest(staff, &requestsv1.GetRequestRequest{Name: r.GetName()})
	require.NoError(t, err)
	require.Equal(t, first.GetEtag(), got.GetEtag(), "the refused reuse changed nothing")
}

// The subscription changes and the erasure retried after a lost answer (AIP-155): the same
// request_id answers as the first call did and changes nothing again — a replay's deliveries are
// queued once, a subscription disabled again since its enabling stays disabled, a deleted
// subscription's delete succeeds again — and the same id with a different request is refused
// naming request_id, changing nothing.
func TestOutboundChangesAreIdempotent(t *testing.T) {
	t.Parallel()
	s := startStack(t, outboundtest.WithLoopbackReceivers)
	s.Load("jeongeup-library.yaml")
	subs := requestsv1.NewOutboundServiceClient(s.Conn)
	admin := s.As(auth.RoleTenantAdmin, "tenants/jeongeup")
	recv := outboundtest.StartReceiver(t, benchSecret)
	for _, id := range []string{"dept", "spare"} {
		_, err := subs.CreateSubscription(admin, &requestsv1.CreateSubscriptionRequest{Parent: "tenants/jeongeup", SubscriptionId: id,
			Subscription: &requestsv1.Subscription{Url: recv.URL, Secret: benchSecret, Types: []string{"kr.pipa.request.received"}}})
		require.NoError(t, err)
	}
	dept, spare := "tenants/jeongeup/subscriptions/dept", "tenants/jeongeup/subscriptions/spare"
	cl := s.requests()
	staff := s.As(auth.RoleHandler, libraryUnit)
	start := time.Now().Add(-time.Minute)
	created, err := cl.CreateRequest(staff, &requestsv1.CreateRequestRequest{Parent: libraryUnit, Request: requeststest.WithChannel(requeststest.AccessRequest())})
	require.NoError(t, err)
	name := created.GetRequest().GetName()
	_, err = cl.VerifyIdentity(staff, &requestsv1.VerifyIdentityRequest{Name: name,
		Verification: &requestsv1.Verification{Method: requestsv1.VerificationMethod_VERIFICATION_METHOD_ADMIN_DATA_SHARING}})
	require.NoError(t, err)
	_, err = cl.ApproveRequest(staff, &requestsv1.ApproveRequestRequest{Name: name, Grant: requeststest.VisitGrant()})
	require.NoError(t, err)
	_, err = cl.FulfillRequest(staff, &requestsv1.FulfillRequestRequest{Name: name, Note: "열람 제공"})
	require.NoError(t, err)
	_, err = cl.CloseRequest(staff, &requestsv1.CloseRequestRequest{Name: name})
	require.NoError(t, err)
	deliveries := func() int {
		log, err := subs.ListDeliveries(admin, &requestsv1.ListDeliveriesRequest{Parent: dept})
		require.NoError(t, err)
		return len(log.GetDeliveries())
	}
	require.Equal(t, 1, deliveries(), "the request's received event")
	disableDept := func() {
		_, err := s.DB().Exec(context.Background(), `UPDATE requests.subscriptions SET disable_time = now(), disable_reason = 'HTTP 410 Gone'
			WHERE tenant_id = 'jeongeup' AND id = 'dept'`) // as the outbound does when a receiver fails for good
		require.NoError(t, err)
	}
	service := s.As(auth.RoleService, auth.ScopeAll)
	replay := func(id string, end time.Time) error {
		n, err := subs.ReplaySubscription(admin, &requestsv1.ReplaySubscriptionRequest{Name: dept, RequestId: id,
			StartTime: timestamppb.New(start), EndTime: timestamppb.New(end)})
		if err == nil {
			require.Equal(t, int32(1), n.GetCount(), "a retry answers the first call's count")
		}
		return err
	}
	end := time.Now().Add(time.Minute)
	for _, tc := range []struct {
		name   string
		before func()
		// call sends the change under request_id id; other sends a different one.
		call  func(id string, other bool) error
		check func() // after the call, its retry and the refused reuse
	}{
		{"replay", func() {}, func(id string, other bool) error {
			if other {
				return replay(id, end.Add(time.Minute))
			}
			return replay(id, end)
		}, func() { require.Equal(t, 2, deliveries(), "the replay queued its delivery once") }},
		{"enable", disableDept, func(id string, other bool) error {
			if other {
				_, err := subs.EnableSubscription(admin, &requestsv1.EnableSubscriptionRequest{Name: spare, RequestId: id})
				return err
			}
			got, err := subs.EnableSubscription(admin, &requestsv1.EnableSubscriptionRequest{Name: dept, RequestId: id})
			if err == nil && got.GetDisableTime() == nil {
				disableDept() // the receiver fails for good again: its retry must not enable it
			}
			return err
		}, func() {
			got, err := subs.GetSubscription(admin, &requestsv1.GetSubscriptionRequest{Name: dept})
			require.NoError(t, err)
			require.NotNil(t, got.GetDisableTime(), "the retried enabling changed nothing again")
		}},
		{"delete", func() {}, func(id string, other bool) error {
			if other {
				_, err := subs.DeleteSubscription(admin, &requestsv1.DeleteSubscriptionRequest{Name: dept, RequestId: id})
				return err
			}
			_, err := subs.DeleteSubscription(admin, &requestsv1.DeleteSubscriptionRequest{Name: spare, RequestId: id})
			return err
		}, func() {
			_, err := subs.GetSubscription(admin, &requestsv1.GetSubscriptionRequest{Name: dept})
			require.NoError(t, err, "the refused reuse deleted nothing")
		}},
		{"erase", func() {}, func(id string, other bool) error {
			reason := "보유기간 경과"
			if other {
				reason = "다른 사유"
			}
			_, err := cl.ErasePersonalData(service, &requestsv1.ErasePersonalDataRequest{Name: name, Reason: reason, RequestId: id})
			return err
		}, func() {
			got, err := cl.GetRequest(staff, &requestsv1.GetRequestRequest{Name: name})
			require.NoError(t, err)
			require.NotNil(t, got.GetEraseTime())
			require.Empty(t, got.GetRequester().GetName())
		}},
	} {
		tc.before()
		id := tc.name + "-1"
		require.NoError(t, tc.call(id, false), tc.name)
		require.NoError(t, tc.call(id, false), "%s: a retry answers as the first call did", tc.name)
		err := tc.call(id, true)
		code, _ := stacktest.Reason(err)
		require.Equal(t, codes.InvalidArgument, code, tc.name)
		v := stacktest.Violation(t, err)
		require.Equal(t, "request_id", v.GetField(), tc.name)
		require.Equal(t, "AIP-155", v.GetReason(), tc.name)
		tc.check()
	}
}
