package ledger_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pipa-kr/pipa/pkg/auth"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	"github.com/pipa-kr/pipa/pkg/seoul"
	"github.com/pipa-kr/pipa/pkg/stacktest"
	"github.com/pipa-kr/pipa/pkg/unitauth"
)

// Reviews of the access log are recorded in the unit's ledger with who, when, what was checked
// (the downloads' reasons always), what was found and the follow-up; months without a review
// are overdue and counted (S-8-2).
func TestAccessReviews(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("jeongeup-library.yaml")
	// The log's first access record, three months ago, from the city's system.
	tok, err := auth.Mint(s.Key, auth.Principal{Subject: "saeol-system", Grants: []auth.Grant{{Role: auth.RoleService, Scope: "tenants/jeongeup"}}}, time.Hour)
	require.NoError(t, err)
	now := time.Now().In(seoul.Location)
	thisMonth := time.Date(now.Year(), now.Month(), 1, 12, 0, 0, 0, seoul.Location)
	_, err = ledgerv1.NewAccessRecordServiceClient(s.Conn).IngestAccessRecords(unitauth.WithToken(context.Background(), tok),
		&ledgerv1.IngestAccessRecordsRequest{Parent: libraryLog, BatchId: "first", Records: []*ledgerv1.AccessRecord{{System: "새올행정시스템",
			Account: "clerk001", AccessTime: timestamppb.New(thisMonth.AddDate(0, -3, 0)), RemoteAddr: "10.1.2.3", Subject: "민원 2026-000001", Action: "조회"}}})
	require.NoError(t, err)
	month := func(back int) string { return thisMonth.AddDate(0, -back, 0).Format("2006-01") }

	cl := ledgerv1.NewAccessReviewServiceClient(s.Conn)
	cpo := s.As(auth.RoleCPO, libraryLog)
	list, err := cl.ListAccessReviews(cpo, &ledgerv1.ListAccessReviewsRequest{Parent: libraryLog})
	require.NoError(t, err)
	require.Equal(t, []string{month(3), month(2)}, list.GetOverduePeriods())
	require.Equal(t, int32(2), list.GetOverdueCount())

	rv := &ledgerv1.AccessReview{Period: month(3), Checked: "새올행정시스템 접속기록 전체, 야간 조회", Findings: "이상 없음", FollowUp: "없음"}
	_, err = cl.CreateAccessReview(cpo, &ledgerv1.CreateAccessReviewRequest{Parent: libraryLog, Review: rv})
	v := stacktest.Violation(t, err)
	require.Equal(t, "review.downloads_checked", v.GetField())
	require.Equal(t, "S-8-2", v.GetReason())
	rv.DownloadsChecked = true
	got, err := cl.CreateAccessReview(cpo, &ledgerv1.CreateAccessReviewRequest{Parent: libraryLog, Review: rv, RequestId: "review-1"})
	require.NoError(t, err)
	require.Equal(t, month(3), got.GetPeriod())
	require.Contains(t, got.GetText(), "점검 결과: 이상 없음")
	_, err = cl.CreateAccessReview(cpo, &ledgerv1.CreateAccessReviewRequest{Parent: libraryLog, Review: rv, RequestId: "review-1"})
	require.NoError(t, err)
	_, err = cl.CreateAccessReview(s.As(auth.RoleHandler, libraryLog), &ledgerv1.CreateAccessReviewRequest{Parent: libraryLog, Review: rv})
	require.Error(t, err, "a handler does not review the log")

	list, err = cl.ListAccessReviews(cpo, &ledgerv1.ListAccessReviewsRequest{Parent: libraryLog})
	require.NoError(t, err)
	require.Len(t, list.GetReviews(), 1, "a retried review is one")
	require.Equal(t, []string{month(2)}, list.GetOverduePeriods())
	e, err := s.ledger().GetEntry(cpo, &ledgerv1.GetEntryRequest{Name: list.GetReviews()[0].GetName()})
	require.NoError(t, err)
	require.Equal(t, ledgerv1.EntryKind_ENTRY_KIND_ACCESS_REVIEW, e.GetKind())
	require.NotEmpty(t, e.GetHandler())
}
