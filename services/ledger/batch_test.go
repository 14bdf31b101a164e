package ledger_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pipa-kr/pipa/pkg/auth"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	"github.com/pipa-kr/pipa/pkg/stacktest"
	"github.com/pipa-kr/pipa/services/ledger"
)

// appends is n AppendEntry requests of USE entries with request ids "{prefix}-{i}", each saying
// which it is in its note.
func appends(prefix string, n int) []*ledgerv1.AppendEntryRequest {
	out := make([]*ledgerv1.AppendEntryRequest, n)
	for i := range out {
		e := use()
		e.Note = fmt.Sprintf("%s-%d", prefix, i)
		out[i] = &ledgerv1.AppendEntryRequest{Entry: e, RequestId: fmt.Sprintf("%s-%d", prefix, i)}
	}
	return out
}

// BatchAppendEntries (AIP-233): the entries of a batch get consecutive indexes in the order given,
// each idempotent by its own request_id as with AppendEntry (an entry sent alone first keeps its
// index; a batch sent again gets the same entries); an invalid entry refuses the whole batch,
// naming requests[i] and the rule; the kinds staff may not append are refused in a batch too.
func TestBatchAppendEntries(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("jeongeup-library.yaml")
	cl, staff, cpo := s.ledger(), s.As(auth.RoleHandler, libraryLog), s.As(auth.RoleCPO, libraryLog)
	size := func() int64 {
		cp, err := cl.GetCheckpoint(cpo, &ledgerv1.GetCheckpointRequest{Parent: libraryLog})
		require.NoError(t, err)
		return cp.GetTreeSize()
	}

	reqs := appends("b1", 20)
	// One of them was appended alone before, as the ledger outbox's call does.
	alone, err := cl.AppendEntry(staff, &ledgerv1.AppendEntryRequest{Parent: libraryLog, Entry: reqs[7].GetEntry(), RequestId: reqs[7].GetRequestId()})
	require.NoError(t, err)
	b0 := size()
	got, err := cl.BatchAppendEntries(staff, &ledgerv1.BatchAppendEntriesRequest{Parent: libraryLog, Requests: reqs})
	require.NoError(t, err)
	require.Len(t, got.GetEntries(), 20)
	next := b0
	for i, e := range got.GetEntries() {
		require.Equal(t, fmt.Sprintf("b1-%d", i), e.GetNote(), "in the order given")
		require.Equal(t, "test-"+string(auth.RoleHandler), e.GetRecordedBy(), "recorded_by from the token (S-8-3)")
		if i == 7 {
			require.Equal(t, alone.GetIndex(), e.GetIndex(), "an entry appended before keeps its index")
			continue
		}
		require.Equal(t, next, e.GetIndex(), "consecutive indexes")
		require.Equal(t, fmt.Sprintf("%s/ledger/entries/%d", libraryLog, next), e.GetName())
		next++
	}
	require.Equal(t, b0+19, size())
	again, err := cl.BatchAppendEntries(staff, &ledgerv1.BatchAppendEntriesRequest{Parent: libraryLog, Requests: reqs})
	require.NoError(t, err)
	for i, e := range again.GetEntries() {
		require.Equal(t, got.GetEntries()[i].GetIndex(), e.GetIndex(), "a batch sent again is the same entries")
		require.Equal(t, got.GetEntries()[i].GetLeafHash(), e.GetLeafHash())
	}
	one, err := cl.AppendEntry(staff, &ledgerv1.AppendEntryRequest{Parent: libraryLog, Entry: reqs[3].GetEntry(), RequestId: reqs[3].GetRequestId()})
	require.NoError(t, err)
	require.Equal(t, got.GetEntries()[3].GetIndex(), one.GetIndex(), "an entry of a batch sent alone again is the same entry")
	require.Equal(t, b0+19, size())

	// Refused whole, naming the entry and the rule; nothing appended.
	bad := appends("b2", 5)
	bad[3].Entry.Purpose = ""
	_, err = cl.BatchAppendEntries(staff, &ledgerv1.BatchAppendEntriesRequest{Parent: libraryLog, Requests: bad})
	v := stacktest.Violation(t, err)
	require.Equal(t, "requests[3].entry.purpose", v.GetField())
	reused := appends("b3", 3)
	reused[2].RequestId = "b1-0" // another entry's
	_, err = cl.BatchAppendEntries(staff, &ledgerv1.BatchAppendEntriesRequest{Parent: libraryLog, Requests: reused})
	requireViolation(t, err, "requests[2].request_id", "AIP-155")
	twice := appends("b4", 3)
	twice[1].RequestId = twice[0].RequestId
	_, err = cl.BatchAppendEntries(staff, &ledgerv1.BatchAppendEntriesRequest{Parent: libraryLog, Requests: twice})
	requireViolation(t, err, "requests[1].request_id", "AIP-155")
	amend := appends("b5", 2)
	amend[1].Entry = &ledgerv1.Entry{Kind: ledgerv1.EntryKind_ENTRY_KIND_AMENDMENT, OccurTime: amend[0].GetEntry().GetOccurTime(),
		Follows: ptr(int64(100_000)), AmendmentKind: ledgerv1.AmendmentKind_AMENDMENT_KIND_DESTRUCTION_REPLY, Note: "회신", Handler: "주무관 김민수"}
	_, err = cl.BatchAppendEntries(staff, &ledgerv1.BatchAppendEntriesRequest{Parent: libraryLog, Requests: amend})
	require.Equal(t, "requests[1].entry.follows", stacktest.Violation(t, err).GetField())
	elsewhere := appends("b6", 2)
	elsewhere[1].Parent = "tenants/jeongeup/units/other"
	_, err = cl.BatchAppendEntries(staff, &ledgerv1.BatchAppendEntriesRequest{Parent: libraryLog, Requests: elsewhere})
	requireViolation(t, err, "requests[1].parent", "AIP-233")
	_, err = cl.BatchAppendEntries(staff, &ledgerv1.BatchAppendEntriesRequest{Parent: libraryLog})
	requireViolation(t, err, "requests", "required")
	_, err = cl.BatchAppendEntries(staff, &ledgerv1.BatchAppendEntriesRequest{Parent: libraryLog, Requests: appends("b7", ledger.MaxBatchAppend+1)})
	requireViolation(t, err, "requests", "range")
	access := appends("b8", 2)
	access[1].Entry = &ledgerv1.Entry{Kind: ledgerv1.EntryKind_ENTRY_KIND_ACCESS, OccurTime: access[0].GetEntry().GetOccurTime(),
		Actor: "clerk", Subject: "x", Action: "조회", FileName: "새올"}
	_, err = cl.BatchAppendEntries(staff, &ledgerv1.BatchAppendEntriesRequest{Parent: libraryLog, Requests: access})
	info, _ := requireStatus(t, err, codes.PermissionDenied)
	require.Equal(t, "S-8-3", info["rule"])
	require.Contains(t, status.Convert(err).Message(), "requests[1]")
	_, err = cl.BatchAppendEntries(s.As(auth.RoleAuditor, libraryLog), &ledgerv1.BatchAppendEntriesRequest{Parent: libraryLog, Requests: appends("b9", 1)})
	require.Equal(t, codes.PermissionDenied, status.Code(err), "an auditor reads, never appends")
	require.Equal(t, b0+19, size(), "refused batches append nothing")
}

// The REST mapping: POST …/ledger/entries:batchAppend, and a refusal names the entry's JSON field.
func TestBatchAppendEntriesREST(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("jeongeup-library.yaml")
	post := func(body string) (int, string) {
		req, err := http.NewRequest(http.MethodPost, s.URL+"/v1/"+libraryLog+"/ledger/entries:batchAppend", strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+s.Token(auth.RoleHandler, libraryLog))
		r, err := s.HTTP.Do(req)
		require.NoError(t, err)
		return r.StatusCode, stacktest.Body(t, r)
	}
	at := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	entry := func(note string) string {
		return `{"entry":{"kind":"ENTRY_KIND_VIEWING","occurTime":"` + at + `","fileName":"열람실 CH01","purpose":"분실물 확인",
			"handler":"주무관 소영휴","requesterName":"김민수","requesterContact":"010-1234-5678","note":"` + note + `"},"requestId":"rest-` + note + `"}`
	}
	code, body := post(`{"requests":[` + entry("a") + `,` + entry("b") + `,` + entry("c") + `]}`)
	require.Equal(t, http.StatusOK, code, body)
	var out struct {
		Entries []struct {
			Index string `json:"index"`
			Note  string `json:"note"`
		} `json:"entries"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &out))
	require.Len(t, out.Entries, 3)
	for i, e := range out.Entries {
		require.Equal(t, string(rune('a'+i)), e.Note)
		require.Equal(t, out.Entries[0].Index, fmt.Sprint(mustInt(t, out.Entries[0].Index)))
		require.Equal(t, mustInt(t, out.Entries[0].Index)+int64(i), mustInt(t, e.Index))
	}
	code, body = post(`{"requests":[` + entry("d") + `,{"entry":{"kind":"ENTRY_KIND_VIEWING"},"requestId":"rest-e"}]}`)
	require.Equal(t, http.StatusBadRequest, code, body)
	require.Contains(t, body, `"field":"requests[1].entry.`)
}

func mustInt(t *testing.T, s string) int64 {
	t.Helper()
	var n int64
	_, err := fmt.Sscan(s, &n)
	require.NoError(t, err)
	return n
}
