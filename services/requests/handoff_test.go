package requests_test

import (
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pipa-kr/pipa/pkg/auth"
	requestsv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/requests/v1"
	"github.com/pipa-kr/pipa/pkg/modules"
	"github.com/pipa-kr/pipa/pkg/stacktest"
	"github.com/pipa-kr/pipa/services/registry"
	"github.com/pipa-kr/pipa/services/registry/registrytest"
	"github.com/pipa-kr/pipa/services/requests"
	"github.com/pipa-kr/pipa/services/requests/requeststest"
)

// A provided copy's hand-off to retention waits for its PROVISION entry (C-9), but not for ever:
// with the ledger out the entry stays pending, and a hand-off job (one written with the step by an
// earlier version) retries as failed attempts while young, and is given up once it has waited an
// hour: cancelled, logged, and counted by pipa_requests_copy_handoffs_failed for the alert.
func TestCopyHandOffWaitIsBounded(t *testing.T) {
	t.Parallel()
	down := stacktest.Listen(t) // the ledger's address, refusing connections
	require.NoError(t, down.Close())
	s := &stack{registrytest.Start(t, []modules.Module{registry.Module, requests.Module}, func(c *modules.Config) {
		c.Addrs = map[string]string{"ledger": down.Addr().String()}
	})}
	s.Load("jeongeup-library.yaml")
	cl := s.requests()
	staff := s.As(auth.RoleManager, libraryUnit)
	created, err := cl.CreateProvision(staff, &requestsv1.CreateProvisionRequest{Parent: libraryUnit,
		Request: requeststest.PoliceProvision(libraryUnit+"/sites/central", requestsv1.ProvisionGround_PROVISION_GROUND_CRIMINAL_INVESTIGATION)})
	require.NoError(t, err)
	r := created.GetRequest()
	_, err = cl.VerifyIdentity(staff, &requestsv1.VerifyIdentityRequest{Name: r.GetName(),
		Verification: &requestsv1.Verification{Method: requestsv1.VerificationMethod_VERIFICATION_METHOD_OFFICIAL_DOCUMENT}})
	require.NoError(t, err)
	approved, err := cl.ApproveRequest(staff, &requestsv1.ApproveRequestRequest{Name: r.GetName(),
		Grant: &requestsv1.Grant{SafetyRequests: "수사 목적 외 이용 금지, 사건 종결 시 파기 후 회신",
			Masking: &requestsv1.Masking{NotNeededReason: "피의 차량 외 촬영된 사람 없음"}}})
	require.NoError(t, err, "the approval does not wait for the ledger")
	require.True(t, approved.GetLedger()[0].GetPending(), "the PROVISION entry waits in the outbox")

	ctx, db := context.Background(), s.DB()
	job := func(age time.Duration) int64 {
		var id int64
		require.NoError(t, db.QueryRow(ctx, `INSERT INTO requests.river_job (kind, args, max_attempts, created_at)
			VALUES ('requests.track_copy', jsonb_build_object('tenant', 'jeongeup', 'receipt', $1::text), 25, now() - $2 * interval '1 second')
			RETURNING id`, r.GetReceiptNumber(), age.Seconds()).Scan(&id))
		return id
	}
	young, old := job(time.Minute), job(2*time.Hour)
	state := func(id int64) (state string, attempt int) {
		require.NoError(t, db.QueryRow(ctx, `SELECT state, attempt FROM requests.river_job WHERE id = $1`, id).Scan(&state, &attempt))
		return state, attempt
	}
	require.Eventually(t, func() bool { st, _ := state(old); return st == "cancelled" }, 60*time.Second, 200*time.Millisecond,
		"a job that waited over an hour is given up")
	require.Eventually(t, func() bool { st, n := state(young); return st == "retryable" && n >= 1 }, 60*time.Second, 200*time.Millisecond,
		"a young one retries, each wait a failed attempt")
	require.Eventually(t, func() bool {
		return failedGauge.MatchString(stacktest.Body(t, s.Get("/metrics")))
	}, 30*time.Second, 500*time.Millisecond, "the given-up hand-off is counted")
}

var failedGauge = regexp.MustCompile(`pipa_requests_copy_handoffs_failed(\{[^}]*\})? 1\n`)
