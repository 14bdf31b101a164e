package ledger_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pipa-kr/pipa/pkg/auth"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	"github.com/pipa-kr/pipa/services/ledger"
	"github.com/pipa-kr/pipa/services/ledger/entry"
	"github.com/pipa-kr/pipa/services/ledger/store/pg"
)

// The export is the 별지 제3호 ledger of 이용·제공·열람·파기 (STD-45): the access log's ACCESS
// entries (S-2-3), usually most of a log, only when kinds asks for them. Kinds listed apart come
// out merged in index order, across pages.
func TestExportKinds(t *testing.T) {
	s := newTilesStack(t)
	const log = "tenants/iksan/units/cctv"
	as := func(role auth.Role) context.Context {
		tok, err := auth.Mint(s.key, auth.Principal{Subject: "test-" + string(role), Grants: []auth.Grant{{Role: role, Scope: auth.ScopeAll}}}, time.Hour)
		require.NoError(t, err)
		return metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer "+tok)
	}
	staff, service := as(auth.RoleHandler), as(auth.RoleService)
	add := func(ctx context.Context, e *ledgerv1.Entry) error {
		_, err := s.client.AppendEntry(ctx, &ledgerv1.AppendEntryRequest{Parent: log, Entry: e})
		return err
	}
	now := timestamppb.New(time.Now().Add(-time.Hour))
	use := &ledgerv1.Entry{Kind: ledgerv1.EntryKind_ENTRY_KIND_USE, OccurTime: now, FileName: "시청 주차장 CH01",
		Handler: "주무관 김민수", Purpose: "시설물 파손 경위 확인", Counterparty: "안전총괄과",
		LegalBasis: "개인정보 보호법 제18조 제2항 제2호", Form: "내부 열람", Items: []string{"영상"}}
	access := &ledgerv1.Entry{Kind: ledgerv1.EntryKind_ENTRY_KIND_ACCESS, OccurTime: now, Actor: "handler-1",
		RemoteAddr: "203.0.113.7", Subject: log + "/ledger/entries/0", Action: ledgerv1.LedgerService_GetEntry_FullMethodName}
	for _, e := range []*ledgerv1.Entry{use, access,
		{Kind: ledgerv1.EntryKind_ENTRY_KIND_PROVISION, OccurTime: now, FileName: "주차장 CH03", Handler: "주무관 송승학",
			Purpose: "차량 파손 사건 수사", Counterparty: "정읍경찰서", LegalBasis: "개인정보 보호법 제18조 제2항 제7호",
			Form: "USB 사본 제공", DestructionDueDate: "2099-12-20", Items: []string{"영상"}, SafetyRequests: "수사 목적 외 이용 금지"},
		access,
		{Kind: ledgerv1.EntryKind_ENTRY_KIND_VIEWING, OccurTime: now, FileName: "열람실 CH01", Purpose: "분실물 확인",
			Handler: "주무관 소영휴", RequesterName: "김민수", RequesterContact: "010-1234-5678"},
	} {
		ctx := staff
		if e.GetKind() == ledgerv1.EntryKind_ENTRY_KIND_ACCESS {
			ctx = service
		}
		require.NoError(t, add(ctx, e))
	}
	var g errgroup.Group
	g.SetLimit(32)
	for range 520 { // more than a page of ListEntries
		g.Go(func() error { return add(service, access) })
	}
	require.NoError(t, g.Wait())
	require.NoError(t, add(staff, use)) // index 525

	mux := http.NewServeMux()
	mux.Handle(ledger.ExportPattern, ledger.Export(s.client))
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	auditor := s.token(t, "tenants/iksan")
	get := func(query string) (*http.Response, []byte) {
		req, err := http.NewRequest(http.MethodGet, hs.URL+"/v1/"+log+"/ledger:export?"+query, nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+auditor)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp, b
	}
	// rows returns the CSV export's 번호 and 구분 columns.
	rows := func(query string) (index []int64, kinds map[string]int) {
		resp, b := get(query)
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s", b)
		require.Equal(t, "text/csv; charset=utf-8", resp.Header.Get("Content-Type"))
		records, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(b, []byte("\uFEFF")))).ReadAll()
		require.NoError(t, err)
		require.Equal(t, entry.Columns(), records[0])
		kinds = map[string]int{}
		for _, r := range records[1:] {
			i, err := strconv.ParseInt(r[0], 10, 64)
			require.NoError(t, err)
			index = append(index, i)
			kinds[r[1]]++
		}
		return index, kinds
	}

	index, kinds := rows("format=csv")
	require.Equal(t, []int64{0, 2, 4, 525}, index)
	require.Equal(t, map[string]int{"이용": 2, "제공": 1, "열람": 1}, kinds)

	index, kinds = rows("kinds=access")
	require.Len(t, index, 522)
	require.Equal(t, map[string]int{"접속기록": 522}, kinds)

	index, kinds = rows("kinds=USE,access&kinds=use")
	require.Len(t, index, 524)
	require.Equal(t, map[string]int{"이용": 2, "접속기록": 522}, kinds)
	require.IsIncreasing(t, index, "merged in index order")
	require.Equal(t, []int64{0, 1, 3, 5}, index[:4])
	require.Equal(t, int64(525), index[523])

	resp, b := get("format=xlsx")
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", b)
	f, err := excelize.OpenReader(bytes.NewReader(b))
	require.NoError(t, err)
	defer f.Close()
	sheet, err := f.GetRows(entry.SheetName)
	require.NoError(t, err)
	require.Len(t, sheet, 1+4)
	require.Equal(t, []string{"0", "이용"}, sheet[1][:2])
	require.Equal(t, []string{"525", "이용"}, sheet[4][:2])

	for _, q := range []string{"kinds=", "kinds=use,bogus", "kinds=unspecified", "kinds=entry_kind_use"} {
		resp, b = get(q)
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, q)
		require.Contains(t, string(b), `"field":"kinds"`, q)
	}

	// A leaf that does not decode, on the second page of ACCESS entries: the CSV, under way, is
	// cut off, never passed off as whole; the XLSX, not written yet, is an error instead; the
	// 별지3 rows do not read the access log at all.
	_, err = s.store.Append(t.Context(), "iksan", "cctv", pg.AppendRequest{Kind: "ACCESS", OccurTime: time.Now(),
		Build: func(int64) ([]byte, []byte, error) { return []byte("not a leaf\n"), nil, nil }})
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodGet, hs.URL+"/v1/"+log+"/ledger:export?kinds=access", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+auditor)
	cut, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer cut.Body.Close()
	require.Equal(t, http.StatusOK, cut.StatusCode)
	_, err = io.ReadAll(cut.Body)
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	resp, b = get("format=xlsx&kinds=access")
	require.Equal(t, http.StatusInternalServerError, resp.StatusCode, "%s", b)
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	require.Empty(t, resp.Header.Get("Content-Disposition"))
	index, _ = rows("")
	require.Equal(t, []int64{0, 2, 4, 525}, index)
}

// An entry whose personal values do not open (ListEntriesResponse.unreadable) is exported with
// its personal columns empty and says why in 비고; the rows of the others do not.
func TestExportMarksAnUnreadableEntry(t *testing.T) {
	t.Parallel()
	s := newTilesStack(t)
	staff := as(t, s, "song.sh", auth.RoleHandler, iksanLog)
	for range 2 {
		_, err := s.client.AppendEntry(staff, &ledgerv1.AppendEntryRequest{Parent: iksanLog, Entry: viewing()})
		require.NoError(t, err)
	}
	_, err := s.pool.Exec(t.Context(), `UPDATE ledger.entries SET sealed = NULL WHERE tenant_id = 'iksan' AND unit_id = 'cctv' AND idx = 0`)
	require.NoError(t, err)

	mux := http.NewServeMux()
	mux.Handle(ledger.ExportPattern, ledger.Export(s.client))
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	req, err := http.NewRequest(http.MethodGet, hs.URL+"/v1/"+iksanLog+"/ledger:export", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+s.token(t, "tenants/iksan"))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", b)
	records, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(b, []byte("\uFEFF")))).ReadAll()
	require.NoError(t, err)
	require.Len(t, records, 3)
	note := len(entry.Columns()) - 1
	require.Equal(t, "비고", records[0][note])
	require.Equal(t, "0", records[1][0])
	require.Contains(t, records[1][note], entry.UnreadableNote)
	require.Equal(t, "1", records[2][0])
	require.NotContains(t, records[2][note], entry.UnreadableNote)
}
