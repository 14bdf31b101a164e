package ledger_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pipa-kr/pipa/pkg/auth"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	"github.com/pipa-kr/pipa/pkg/stacktest"
	"github.com/pipa-kr/pipa/pkg/unitauth"
)

// records are n accesses of the city's civil-affairs system, every tenth a download with its reason.
func records(n int, at time.Time) []*ledgerv1.AccessRecord {
	out := make([]*ledgerv1.AccessRecord, n)
	for i := range out {
		r := &ledgerv1.AccessRecord{System: "새올행정시스템", Account: fmt.Sprintf("clerk%03d", i%50),
			AccessTime: timestamppb.New(at.Add(time.Duration(i) * time.Millisecond)), RemoteAddr: "10.1.2.3",
			Subject: fmt.Sprintf("민원 2026-%06d", i), Action: "조회"}
		if i%10 == 0 {
			r.Action, r.Download, r.DownloadReason = "다운로드", true, "정보공개청구 처리"
		}
		out[i] = r
	}
	return out
}

// The body's other systems hand in their access records (S-2-3) in batches with a service
// credential on their tenant: each record becomes an ACCESS entry of the unit's ledger, recorded
// by that credential (S-8-3); a batch sent again is appended once; a download without its reason
// is refused naming S-8-2 and the batch appends nothing; staff cannot hand records in.
func TestIngestAccessRecords(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("jeongeup-library.yaml")
	in := ledgerv1.NewAccessRecordServiceClient(s.Conn)
	tok, err := auth.Mint(s.Key, auth.Principal{Subject: "saeol-system", Grants: []auth.Grant{{Role: auth.RoleService, Scope: "tenants/jeongeup"}}}, time.Hour)
	require.NoError(t, err)
	system := unitauth.WithToken(context.Background(), tok)
	at := time.Now().Add(-time.Hour)

	bad := records(5, at)
	bad[3].DownloadReason = ""
	bad[3].Download = true
	_, err = in.IngestAccessRecords(system, &ledgerv1.IngestAccessRecordsRequest{Parent: libraryLog, BatchId: "b-0", Records: bad})
	v := stacktest.Violation(t, err)
	require.Equal(t, "records[3].download_reason", v.GetField())
	require.Equal(t, "S-8-2", v.GetReason())
	bad = records(2, at)
	bad[1].Subject = ""
	_, err = in.IngestAccessRecords(system, &ledgerv1.IngestAccessRecordsRequest{Parent: libraryLog, BatchId: "b-0", Records: bad})
	require.Equal(t, "records[1].subject", stacktest.Violation(t, err).GetField())

	cl, cpo := s.ledger(), s.As(auth.RoleCPO, libraryLog)
	before := len(accessOf(t, cl, cpo, "saeol-system"))
	require.Zero(t, before, "refused batches append nothing")
	batch := &ledgerv1.IngestAccessRecordsRequest{Parent: libraryLog, BatchId: "saeol-2026-12-07-0001", Records: records(40, at)}
	got, err := in.IngestAccessRecords(system, batch)
	require.NoError(t, err)
	require.Len(t, got.GetIndexes(), 40)
	again, err := in.IngestAccessRecords(system, batch)
	require.NoError(t, err)
	require.Equal(t, got.GetIndexes(), again.GetIndexes(), "a batch sent again is the same entries")
	entries := accessOf(t, cl, cpo, "saeol-system")
	require.Len(t, entries, 40)
	e, err := cl.GetEntry(cpo, &ledgerv1.GetEntryRequest{Name: fmt.Sprintf("%s/ledger/entries/%d", libraryLog, got.GetIndexes()[0])})
	require.NoError(t, err)
	require.Equal(t, ledgerv1.EntryKind_ENTRY_KIND_ACCESS, e.GetKind())
	require.Equal(t, "clerk000", e.GetActor())
	require.Equal(t, "민원 2026-000000", e.GetSubject())
	require.Equal(t, "정보공개청구 처리", e.GetPurpose())
	require.Equal(t, "새올행정시스템", e.GetFileName())

	other := batch
	other.Records = records(3, at.Add(time.Minute))
	_, err = in.IngestAccessRecords(system, other)
	v = stacktest.Violation(t, err)
	require.Equal(t, "batch_id", v.GetField(), "a batch id is not taken for other records")
	require.Equal(t, "AIP-155", v.GetReason())
	other.Records = records(1, at.Add(2*time.Minute))
	_, err = in.IngestAccessRecords(system, other)
	require.Equal(t, "batch_id", stacktest.Violation(t, err).GetField(), "a one-record batch's reused id too")

	_, err = in.IngestAccessRecords(cpo, &ledgerv1.IngestAccessRecordsRequest{Parent: libraryLog, BatchId: "staff-1", Records: records(1, at)})
	require.Equal(t, codes.PermissionDenied, status.Code(err), "staff do not write the access record")
	iksan, err := auth.Mint(s.Key, auth.Principal{Subject: "iksan-system", Grants: []auth.Grant{{Role: auth.RoleService, Scope: "tenants/iksan"}}}, time.Hour)
	require.NoError(t, err)
	_, err = in.IngestAccessRecords(unitauth.WithToken(context.Background(), iksan), &ledgerv1.IngestAccessRecordsRequest{Parent: libraryLog, BatchId: "x-1", Records: records(1, at)})
	require.Equal(t, codes.PermissionDenied, status.Code(err), "another tenant's system")
}

// accessOf are the unit's ACCESS entries recorded by the credential named by.
func accessOf(t *testing.T, cl ledgerv1.LedgerServiceClient, ctx context.Context, by string) []*ledgerv1.Entry {
	t.Helper()
	var out []*ledgerv1.Entry
	req := &ledgerv1.ListEntriesRequest{Parent: libraryLog, Kind: ledgerv1.EntryKind_ENTRY_KIND_ACCESS, PageSize: 500}
	for {
		page, err := cl.ListEntries(ctx, req)
		require.NoError(t, err)
		for _, e := range page.GetEntries() {
			if e.GetRecordedBy() == by {
				out = append(out, e)
			}
		}
		if page.GetNextPageToken() == "" {
			return out
		}
		req.PageToken = page.GetNextPageToken()
	}
}

// A batch's records are appended in the batch's order, with consecutive indexes, while other
// batches are taken in at the same time (S-2-3: the record keeps the order the system gave).
func TestIngestKeepsTheBatchOrder(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("jeongeup-library.yaml")
	in := ledgerv1.NewAccessRecordServiceClient(s.Conn)
	tok, err := auth.Mint(s.Key, auth.Principal{Subject: "saeol-system", Grants: []auth.Grant{{Role: auth.RoleService, Scope: "tenants/jeongeup"}}}, time.Hour)
	require.NoError(t, err)
	system := unitauth.WithToken(context.Background(), tok)
	const batches, per = 8, 60
	got := make([][]int64, batches)
	var g errgroup.Group
	for b := range batches {
		g.Go(func() error {
			r, err := in.IngestAccessRecords(system, &ledgerv1.IngestAccessRecordsRequest{Parent: libraryLog,
				BatchId: fmt.Sprintf("order-%d", b), Records: records(per, time.Now().Add(-time.Hour))})
			got[b] = r.GetIndexes()
			return err
		})
	}
	require.NoError(t, g.Wait())
	cl, cpo := s.ledger(), s.As(auth.RoleCPO, libraryLog)
	byIndex := map[int64]*ledgerv1.Entry{}
	for _, e := range accessOf(t, cl, cpo, "saeol-system") {
		byIndex[e.GetIndex()] = e
	}
	require.Len(t, byIndex, batches*per)
	for b, idx := range got {
		require.Len(t, idx, per)
		for i, x := range idx {
			require.Equal(t, idx[0]+int64(i), x, "batch %d: consecutive indexes", b)
			require.Equal(t, fmt.Sprintf("민원 2026-%06d", i), byIndex[x].GetSubject(), "batch %d: record %d at its place", b, i)
		}
	}
}
