package ledger_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pipa-kr/pipa/pkg/auth"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	"github.com/pipa-kr/pipa/pkg/stacktest"
	"github.com/pipa-kr/pipa/pkg/unitauth"
)

// S-8-2, per tenant: the tenant's download threshold decides which downloads state their reason
// at ingestion (every one by default; at or above the threshold, and any of unknown size, once it
// is set), and its review cycle (monthly by default) decides which periods a review names and
// which are overdue. Settings outside their ranges are refused naming the rule and change nothing.
func TestAccessSettingsPerTenant(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("jeongeup-library.yaml")
	cl := s.ledger()
	admin := s.As(auth.RoleTenantAdmin, "tenants/jeongeup")
	const name = "tenants/jeongeup/ledgerSettings"
	set, err := cl.GetLedgerSettings(admin, &ledgerv1.GetLedgerSettingsRequest{Name: name})
	require.NoError(t, err)
	require.Zero(t, set.GetDownloadReasonThreshold(), "every download states its reason by default")
	require.Equal(t, int32(1), set.GetReviewCycleMonths(), "monthly by default")

	update := func(s *ledgerv1.LedgerSettings, paths ...string) (*ledgerv1.LedgerSettings, error) {
		s.Name = name
		return cl.UpdateLedgerSettings(admin, &ledgerv1.UpdateLedgerSettingsRequest{Settings: s, UpdateMask: &fieldmaskpb.FieldMask{Paths: paths}})
	}
	_, err = update(&ledgerv1.LedgerSettings{ReviewCycleMonths: 5}, "review_cycle_months")
	v := stacktest.Violation(t, err)
	require.Equal(t, "settings.review_cycle_months", v.GetField())
	require.Equal(t, "S-8-2", v.GetReason())
	_, err = update(&ledgerv1.LedgerSettings{DownloadReasonThreshold: -1}, "download_reason_threshold")
	require.Equal(t, "settings.download_reason_threshold", stacktest.Violation(t, err).GetField())

	in := ledgerv1.NewAccessRecordServiceClient(s.Conn)
	tok, err := auth.Mint(s.Key, auth.Principal{Subject: "saeol-system", Grants: []auth.Grant{{Role: auth.RoleService, Scope: "tenants/jeongeup"}}}, time.Hour)
	require.NoError(t, err)
	system := unitauth.WithToken(context.Background(), tok)
	at := time.Date(2026, 8, 20, 10, 0, 0, 0, time.UTC)
	download := func(n int32) *ledgerv1.AccessRecord {
		return &ledgerv1.AccessRecord{System: "새올행정시스템", Account: "clerk001", AccessTime: timestamppb.New(at), RemoteAddr: "10.1.2.3",
			Subject: "민원 2026-000001", Action: "다운로드", Download: true, DownloadRecords: n}
	}
	ingest := func(id string, r *ledgerv1.AccessRecord) error {
		_, err := in.IngestAccessRecords(system, &ledgerv1.IngestAccessRecordsRequest{Parent: libraryLog, BatchId: id, Records: []*ledgerv1.AccessRecord{r}})
		return err
	}
	require.Equal(t, "records[0].download_reason", stacktest.Violation(t, ingest("d-1", download(5))).GetField(), "the default asks every download")

	set, err = update(&ledgerv1.LedgerSettings{DownloadReasonThreshold: 1000, ReviewCycleMonths: 3}, "download_reason_threshold", "review_cycle_months")
	require.NoError(t, err)
	require.Equal(t, int32(1000), set.GetDownloadReasonThreshold())
	require.NoError(t, ingest("d-2", download(999)), "below the threshold")
	require.Equal(t, "S-8-2", stacktest.Violation(t, ingest("d-3", download(1000))).GetReason(), "at the threshold")
	require.Equal(t, "S-8-2", stacktest.Violation(t, ingest("d-4", download(0))).GetReason(), "of unknown size")
	withReason := download(1000)
	withReason.DownloadReason = "정보공개청구 처리"
	require.NoError(t, ingest("d-5", withReason))

	// Quarterly: the first record (August) opens the third quarter, named by July.
	reviews := ledgerv1.NewAccessReviewServiceClient(s.Conn)
	cpo := s.As(auth.RoleCPO, libraryLog)
	list, err := reviews.ListAccessReviews(cpo, &ledgerv1.ListAccessReviewsRequest{Parent: libraryLog})
	require.NoError(t, err)
	require.Equal(t, "2026-07", list.GetOverduePeriods()[0])
	rv := &ledgerv1.AccessReview{Period: "2026-08", Checked: "새올행정시스템 접속기록 전체", DownloadsChecked: true, Findings: "이상 없음", FollowUp: "없음"}
	_, err = reviews.CreateAccessReview(cpo, &ledgerv1.CreateAccessReviewRequest{Parent: libraryLog, Review: rv})
	v = stacktest.Violation(t, err)
	require.Equal(t, "review.period", v.GetField())
	require.Equal(t, "S-8-2", v.GetReason())
	rv.Period = "2026-07"
	got, err := reviews.CreateAccessReview(cpo, &ledgerv1.CreateAccessReviewRequest{Parent: libraryLog, Review: rv})
	require.NoError(t, err)
	require.Equal(t, "2026-07", got.GetPeriod())
	list, err = reviews.ListAccessReviews(cpo, &ledgerv1.ListAccessReviewsRequest{Parent: libraryLog})
	require.NoError(t, err)
	require.NotContains(t, list.GetOverduePeriods(), "2026-07")
	require.Equal(t, int32(len(list.GetOverduePeriods())), list.GetOverdueCount())
}
