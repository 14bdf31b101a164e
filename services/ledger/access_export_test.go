package ledger_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"

	"github.com/pipa-kr/pipa/pkg/auth"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	"github.com/pipa-kr/pipa/pkg/unitauth"
	"github.com/pipa-kr/pipa/services/ledger/entry"
)

// The access record (S-2-3) and the review log (S-8-2) come out of the unit's ledger export as
// CSV or XLSX through the gateway, each alone (kinds=access, kinds=access_review), with the
// S-2-3 fields and the download's reason; the export answers only to the unit's or tenant's
// staff, not to another unit's or tenant's.
func TestExportAccessRecordAndReviews(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("jeongeup-library.yaml")
	tok, err := auth.Mint(s.Key, auth.Principal{Subject: "saeol-system", Grants: []auth.Grant{{Role: auth.RoleService, Scope: "tenants/jeongeup"}}}, time.Hour)
	require.NoError(t, err)
	at := time.Now().Add(-time.Hour)
	_, err = ledgerv1.NewAccessRecordServiceClient(s.Conn).IngestAccessRecords(unitauth.WithToken(context.Background(), tok),
		&ledgerv1.IngestAccessRecordsRequest{Parent: libraryLog, BatchId: "export-1", Records: records(3, at)})
	require.NoError(t, err)
	cpo := s.As(auth.RoleCPO, libraryLog)
	_, err = ledgerv1.NewAccessReviewServiceClient(s.Conn).CreateAccessReview(cpo, &ledgerv1.CreateAccessReviewRequest{Parent: libraryLog,
		Review: &ledgerv1.AccessReview{Period: at.Format("2006-01"), Checked: "새올행정시스템 접속기록", DownloadsChecked: true, Findings: "이상 없음", FollowUp: "없음"}})
	require.NoError(t, err)

	get := func(scope, query string) (*http.Response, []byte) {
		resp := s.Get("/v1/"+libraryLog+"/ledger:export?"+query, "Authorization", "Bearer "+s.Token(auth.RoleAuditor, scope))
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp, b
	}
	col := func(header string) int {
		for i, h := range entry.Columns() {
			if h == header {
				return i
			}
		}
		t.Fatalf("no column %s", header)
		return -1
	}

	resp, b := get("tenants/jeongeup", "kinds=access&format=csv")
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", b)
	rows, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(b, []byte("\uFEFF")))).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 1+3, "the header and the three records, nothing else")
	// A batch's records are appended in no set order: find each by its account.
	by := map[string][]string{}
	for _, r := range rows[1:] {
		require.Equal(t, "접속기록", r[col("구분")])
		require.Equal(t, "10.1.2.3", r[col("접속지")])
		require.Contains(t, r[col("파일명/형태")], "새올행정시스템")
		by[r[col("접속 계정")]] = r
	}
	require.Len(t, by, 3)
	download := by["clerk000"]
	require.Equal(t, "민원 2026-000000", download[col("처리한 정보주체")])
	require.Equal(t, "다운로드", download[col("수행 업무")])
	require.Equal(t, "정보공개청구 처리", download[col("목적/사유")], "a download's reason (S-8-2)")
	require.Equal(t, "조회", by["clerk001"][col("수행 업무")])
	require.Equal(t, "민원 2026-000001", by["clerk001"][col("처리한 정보주체")])

	resp, b = get(libraryLog, "kinds=access_review&format=xlsx")
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", b)
	require.Equal(t, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", resp.Header.Get("Content-Type"))
	f, err := excelize.OpenReader(bytes.NewReader(b))
	require.NoError(t, err)
	sheet, err := f.GetRows(entry.SheetName)
	require.NoError(t, err)
	require.Len(t, sheet, 1+1, "the header and the one review")
	require.Equal(t, "접속기록 점검", sheet[1][col("구분")])
	require.Contains(t, sheet[1][col("비고")], "이상 없음")
	require.Contains(t, sheet[1][col("기간")], at.Format("2006-01"))

	for _, scope := range []string{"tenants/jeongeup/units/museum", "tenants/iksan"} {
		resp, b = get(scope, "kinds=access")
		require.Equal(t, http.StatusForbidden, resp.StatusCode, "%s: %s", scope, b)
		require.NotContains(t, string(b), "clerk000")
	}
}
