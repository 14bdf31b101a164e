package requests_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"

	"github.com/pipa-kr/pipa/pkg/auth"
	requestsv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/requests/v1"
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
