package requests_test

import (
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/stretchr/testify/require"

	"github.com/pipa-kr/pipa/pkg/auth"
	requestsv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/requests/v1"
	"github.com/pipa-kr/pipa/pkg/outbound/outboundtest"
	"github.com/pipa-kr/pipa/services/requests/requeststest"
)

// decideByMail takes a request whose requester gave an email address to its approval, which
// issues the notice that is mailed, and returns the request.
func decideByMail(t *testing.T, s *stack) *requestsv1.Request {
	t.Helper()
	r := requeststest.WithChannel(requeststest.AccessRequest())
	r.Requester.Email = "minwon@example.kr"
	return decide(t, s, r)
}

// decide takes r, a request to the library, through its identity check to its approval, which
// issues one notice, and returns the request.
func decide(t *testing.T, s *stack, r *requestsv1.Request) *requestsv1.Request {
	t.Helper()
	cl, staff := s.requests(), s.As(auth.RoleHandler, libraryUnit)
	created, err := cl.CreateRequest(staff, &requestsv1.CreateRequestRequest{Parent: libraryUnit, Request: r})
	require.NoError(t, err)
	name := created.GetRequest().GetName()
	_, err = cl.VerifyIdentity(staff, &requestsv1.VerifyIdentityRequest{Name: name,
		Verification: &requestsv1.Verification{Method: requestsv1.VerificationMethod_VERIFICATION_METHOD_ADMIN_DATA_SHARING}})
	require.NoError(t, err)
	got, err := cl.ApproveRequest(staff, &requestsv1.ApproveRequestRequest{Name: name, Grant: requeststest.VisitGrant()})
	require.NoError(t, err)
	require.Len(t, got.GetNotices(), 1)
	return got
}

// mailDelivery waits until the request's mail is settled (delivered or failed) and returns it.
func mailDelivery(t *testing.T, s *stack, request string) *requestsv1.Delivery {
	t.Helper()
	var d *requestsv1.Delivery
	require.Eventually(t, func() bool {
		ds, err := requestsv1.NewOutboundServiceClient(s.Conn).ListRequestDeliveries(s.As(auth.RoleHandler, libraryUnit),
			&requestsv1.ListRequestDeliveriesRequest{Parent: request})
		require.NoError(t, err)
		for _, x := range ds.GetDeliveries() {
			if x.GetChannel() == "mail" && x.GetState() != requestsv1.DeliveryState_DELIVERY_STATE_PENDING {
				d = x
				return true
			}
		}
		return false
	}, 60*time.Second, 100*time.Millisecond)
	return d
}

// Through a relay that requires STARTTLS and AUTH (PLAIN), as production relays do, the notice
// reaches the requester; with a wrong password it does not, and its delivery is recorded failed
// after its attempts with the relay's answer, 535, for the staff to see.
func TestNoticeMailedOverSTARTTLSWithAuth(t *testing.T) {
	t.Parallel()
	t.Run("right password", func(t *testing.T) {
		t.Parallel()
		relay := outboundtest.StartMailAuth(t, "privacy@jeongeup.go.kr", "correct horse", sasl.Plain, sasl.Login)
		s := startStack(t, outboundtest.WithMailAuth(relay, "privacy@jeongeup.go.kr", "correct horse", 15))
		s.Load("jeongeup-library.yaml")
		got := decideByMail(t, s)
		require.Eventually(t, func() bool { return len(relay.Mail()) == 1 }, 60*time.Second, 100*time.Millisecond)
		m := relay.Mail()[0]
		require.Equal(t, []string{"minwon@example.kr"}, m.To)
		require.Contains(t, m.Subject, got.GetReceiptNumber())
		require.Contains(t, m.Text, "접수번호")
		d := mailDelivery(t, s, got.GetName())
		require.Equal(t, requestsv1.DeliveryState_DELIVERY_STATE_DELIVERED, d.GetState())
		require.Equal(t, "2.0.0 OK: queued", d.GetAnswer())
	})
	t.Run("wrong password", func(t *testing.T) {
		t.Parallel()
		relay := outboundtest.StartMailAuth(t, "privacy@jeongeup.go.kr", "correct horse", sasl.Plain, sasl.Login)
		s := startStack(t, outboundtest.WithMailAuth(relay, "privacy@jeongeup.go.kr", "wrong", 2))
		s.Load("jeongeup-library.yaml")
		got := decideByMail(t, s)
		d := mailDelivery(t, s, got.GetName())
		require.Equal(t, requestsv1.DeliveryState_DELIVERY_STATE_FAILED, d.GetState())
		require.EqualValues(t, 2, d.GetAttempts())
		require.Contains(t, d.GetAnswer(), "535")
		require.NotNil(t, d.GetFailTime())
		require.Empty(t, relay.Mail())
	})
}
