package retention_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pipa-kr/pipa/pkg/auth"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	retentionv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/retention/v1"
	"github.com/pipa-kr/pipa/pkg/stacktest"
	"github.com/pipa-kr/pipa/services/ledger/verify"
	"github.com/pipa-kr/pipa/services/retention"
	"github.com/pipa-kr/pipa/services/retention/retentiontest"
)

// S-8-1: an access record past its period, destroyed by the daily sweep of access records,
// leaves nothing of who, from where, whose data, what and why readable anywhere: not through
// REST (the entry, the list), the export, the raw leaf or the log's entry bundle; only its kind,
// time and system. The log still verifies (S-8-3), and a record not yet due reads as before.
// The hourly sweep of the unit's rules leaves the access records to the daily job.
func TestDestroyedAccessRecordLeavesNothingReadable_S_8_1(t *testing.T) {
	t.Parallel()
	s, cpo, now := loansSystem(t)

	destroyed := []string{"clerk-424242", "203.0.113.77", "회원번호 424242", "대출 이력 일괄 다운로드", "감사 자료 제출 424242"}
	kept := []string{"clerk-515151", "198.51.100.51", "회원번호 515151", "대출 이력 조회"}
	in, err := ledgerv1.NewAccessRecordServiceClient(s.Conn).IngestAccessRecords(s.As(auth.RoleService, libraryUnit),
		&ledgerv1.IngestAccessRecordsRequest{Parent: libraryUnit, BatchId: "destroy-1", Records: []*ledgerv1.AccessRecord{
			{System: loanSystem, AccessTime: timestamppb.New(now.AddDate(-1, 0, -1)), Account: destroyed[0], RemoteAddr: destroyed[1],
				Subject: destroyed[2], Action: destroyed[3], Download: true, DownloadReason: destroyed[4]},
			{System: loanSystem, AccessTime: timestamppb.New(now.AddDate(0, -1, 0)), Account: kept[0], RemoteAddr: kept[1],
				Subject: kept[2], Action: kept[3]},
		}})
	require.NoError(t, err)
	gone := fmt.Sprintf("%s/ledger/entries/%d", libraryLog, in.GetIndexes()[0])
	auditor := "Bearer " + s.Token(auth.RoleAuditor, libraryUnit)
	get := func(path string) string {
		t.Helper()
		resp := s.Get(path, "Authorization", auditor)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", path, b)
		return string(b)
	}
	// contains says which of vs s holds.
	contains := func(s string, vs []string) []string {
		var out []string
		for _, v := range vs {
			if strings.Contains(s, v) {
				out = append(out, v)
			}
		}
		return out
	}
	require.Equal(t, destroyed, contains(get("/v1/"+gone), destroyed), "read before its period ends")

	// The hourly sweep of the unit does not make the access passes; the daily job does.
	retentiontest.WaitJob(t, s.DB(), retentiontest.Enqueue(t, s.DB(), retention.SweepUnitArgs{Tenant: "jeongeup", Unit: "library"}))
	sweeps, err := s.retention().ListSweeps(cpo, &retentionv1.ListSweepsRequest{Parent: libraryUnit})
	require.NoError(t, err)
	require.NotEmpty(t, sweeps.GetSweeps())
	require.Zero(t, sweeps.GetSweeps()[0].GetAccessDestroyed())
	require.Contains(t, get("/v1/"+gone), destroyed[0], "not destroyed by the hourly sweep")
	retentiontest.WaitJob(t, s.DB(), retentiontest.Enqueue(t, s.DB(), retention.SweepAccessArgs{Tenant: "jeongeup", Unit: "library"}))
	sweeps, err = s.retention().ListSweeps(cpo, &retentionv1.ListSweepsRequest{Parent: libraryUnit})
	require.NoError(t, err)
	require.EqualValues(t, 1, sweeps.GetSweeps()[0].GetAccessDestroyed())

	// The entry and the list.
	var e ledgerv1.Entry
	body := get("/v1/" + gone)
	require.NoError(t, protojson.Unmarshal([]byte(body), &e), body)
	require.True(t, e.GetRedacted())
	require.Equal(t, loanSystem, e.GetFileName())
	require.True(t, e.GetOccurTime().AsTime().Equal(now.AddDate(-1, 0, -1)))
	require.Empty(t, contains(body, destroyed))
	list := get("/v1/" + libraryLog + "/ledger/entries?kind=ENTRY_KIND_ACCESS&pageSize=1000")
	require.Empty(t, contains(list, destroyed))
	require.Equal(t, kept, contains(list, kept), "the record not yet due reads as before")

	// The export says the record was destroyed.
	csv := get("/v1/" + libraryLog + "/ledger:export?kinds=access&format=csv")
	require.Empty(t, contains(csv, destroyed))
	require.Equal(t, kept, contains(csv, kept))
	require.Contains(t, csv, "(보유기간 경과로 파기됨)")

	// The raw leaf and the entry bundle it is served in hold only commitments, before and after.
	var leaf struct{ Data []byte }
	require.NoError(t, json.Unmarshal([]byte(get("/v1/"+gone+":leaf")), &leaf))
	require.Contains(t, string(leaf.Data), "\nactor-commitment: ")
	require.Empty(t, contains(string(leaf.Data), append(destroyed, kept...)))
	cp, err := s.ledger().GetCheckpoint(cpo, &ledgerv1.GetCheckpointRequest{Parent: libraryLog})
	require.NoError(t, err)
	require.Less(t, cp.GetTreeSize(), int64(256), "one partial bundle")
	bundle := get(fmt.Sprintf("/v1/%s/ledger/tiles/tile/entries/000.p/%d", libraryLog, cp.GetTreeSize()))
	require.Contains(t, bundle, "kind: ACCESS")
	require.Empty(t, contains(bundle, append(destroyed, kept...)))

	var sealed []byte
	require.NoError(t, s.DB().QueryRow(t.Context(), `SELECT sealed FROM ledger.entries WHERE unit_id = 'library' AND idx = $1`,
		in.GetIndexes()[0]).Scan(&sealed))
	require.Nil(t, sealed, "the sealed values are deleted")

	rep, err := verify.Run(t.Context(), &verify.Client{BaseURL: s.URL, Token: s.Token(auth.RoleCPO, libraryUnit)}, libraryLog,
		&verify.State{}, verify.Policy{Full: true})
	require.NoError(t, err)
	require.True(t, rep.OK(), "%+v", rep)
	require.Empty(t, rep.Unchecked)
}

// The access sweep saves each pass's cursor once a page it reads: 600 records not yet due of an
// unclassified (two-year) system make the seen pass and the one-year pass read two pages each,
// and stop the two-year pass at its first record.
func TestAccessSweepSavesItsCursorOnceAPage(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.Load("jeongeup-library.yaml")
	retentiontest.Started(t, s.DB())
	recs := make([]*ledgerv1.AccessRecord, 600)
	at := time.Now().Add(-time.Hour)
	for i := range recs {
		recs[i] = &ledgerv1.AccessRecord{System: "민원접수시스템", AccessTime: timestamppb.New(at), Account: fmt.Sprintf("clerk%d", i%7),
			RemoteAddr: "10.1.2.3", Subject: fmt.Sprintf("민원 %d", i), Action: "조회"}
	}
	_, err := ledgerv1.NewAccessRecordServiceClient(s.Conn).IngestAccessRecords(s.As(auth.RoleService, libraryUnit),
		&ledgerv1.IngestAccessRecordsRequest{Parent: libraryUnit, BatchId: "pages-1", Records: recs})
	require.NoError(t, err)
	var n int
	require.NoError(t, s.DB().QueryRow(t.Context(), `SELECT count(*) FROM ledger.entries WHERE unit_id = 'library' AND kind = 'ACCESS'`).Scan(&n))
	require.True(t, n > 500 && n < 1000, "two pages of 500: %d", n)

	// Each UPDATE that names a pass's cursor is counted.
	_, err = s.DB().Exec(t.Context(), `CREATE TABLE public.cursor_saves (pass text NOT NULL);
		CREATE FUNCTION public.count_save() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN INSERT INTO public.cursor_saves VALUES (TG_ARGV[0]); RETURN NEW; END $$;
		CREATE TRIGGER seen AFTER UPDATE OF seen_token ON retention.access_scans FOR EACH ROW EXECUTE FUNCTION public.count_save('seen');
		CREATE TRIGGER short AFTER UPDATE OF short_token ON retention.access_scans FOR EACH ROW EXECUTE FUNCTION public.count_save('short');
		CREATE TRIGGER long AFTER UPDATE OF long_token ON retention.access_scans FOR EACH ROW EXECUTE FUNCTION public.count_save('long');`)
	require.NoError(t, err)
	res, err := s.retention().SweepUnit(s.As(auth.RoleCPO, libraryUnit), &retentionv1.SweepUnitRequest{Parent: libraryUnit})
	require.NoError(t, err)
	require.Zero(t, res.GetAccessDestroyed())
	saves := map[string]int{}
	rows, err := s.DB().Query(t.Context(), `SELECT pass, count(*) FROM public.cursor_saves GROUP BY pass`)
	require.NoError(t, err)
	for rows.Next() {
		var pass string
		var c int
		require.NoError(t, rows.Scan(&pass, &c))
		saves[pass] = c
	}
	require.NoError(t, rows.Err())
	// The seen and short passes read both pages (a save each); the long pass stopped at its
	// first record, where the store's cursor already was, and saves nothing.
	require.Equal(t, map[string]int{"seen": 2, "short": 2}, saves)
}

// S-8-1, S-8-3: an access record whose sealed values no longer open (altered behind the API)
// does not stop the unit's access sweep: the list names it and goes on, a direct read of it is
// still DataLoss, and the sweep destroys it and the records after it when they are due (from the
// system and time its leaf states), moving its cursor past it.
func TestAccessSweepGoesPastAnUnreadableRecord_S_8_1(t *testing.T) {
	t.Parallel()
	s, cpo, now := loansSystem(t)
	var recs []*ledgerv1.AccessRecord
	for i := range 3 {
		recs = append(recs, &ledgerv1.AccessRecord{System: loanSystem, AccessTime: timestamppb.New(now.AddDate(-1, 0, -1-i)),
			Account: fmt.Sprintf("clerk-%d", i), RemoteAddr: "203.0.113.7", Subject: fmt.Sprintf("회원번호 %d", i), Action: "조회"})
	}
	in, err := ledgerv1.NewAccessRecordServiceClient(s.Conn).IngestAccessRecords(s.As(auth.RoleService, libraryUnit),
		&ledgerv1.IngestAccessRecordsRequest{Parent: libraryUnit, BatchId: "unreadable-1", Records: recs})
	require.NoError(t, err)
	bad := fmt.Sprintf("%s/ledger/entries/%d", libraryLog, in.GetIndexes()[1])
	_, err = s.DB().Exec(t.Context(), `UPDATE ledger.entries SET sealed = overlay(sealed placing '\x00'::bytea from 20)
		WHERE unit_id = 'library' AND idx = $1`, in.GetIndexes()[1])
	require.NoError(t, err)

	auditor := s.As(auth.RoleAuditor, libraryUnit)
	_, err = s.ledger().GetEntry(auditor, &ledgerv1.GetEntryRequest{Name: bad})
	require.Equal(t, codes.DataLoss, status.Code(err), "%v", err)
	list, err := s.ledger().ListEntries(auditor, &ledgerv1.ListEntriesRequest{Parent: libraryLog, Kind: ledgerv1.EntryKind_ENTRY_KIND_ACCESS})
	require.NoError(t, err, "the list goes on past it")
	require.Equal(t, []string{bad}, list.GetUnreadable())
	ingested := 0
	for _, e := range list.GetEntries() {
		switch {
		case e.GetName() == bad:
			require.Equal(t, loanSystem, e.GetFileName(), "what its leaf states in clear")
			require.Empty(t, e.GetActor()+e.GetSubject()+e.GetRemoteAddr())
		case e.GetFileName() == loanSystem:
			require.NotEmpty(t, e.GetActor())
		default:
			continue
		}
		ingested++
	}
	require.Equal(t, 3, ingested)

	retentiontest.WaitJob(t, s.DB(), retentiontest.Enqueue(t, s.DB(), retention.SweepAccessArgs{Tenant: "jeongeup", Unit: "library"}))
	sweeps, err := s.retention().ListSweeps(cpo, &retentionv1.ListSweepsRequest{Parent: libraryUnit})
	require.NoError(t, err)
	require.NotEmpty(t, sweeps.GetSweeps())
	require.EqualValues(t, 3, sweeps.GetSweeps()[0].GetAccessDestroyed(), "the unreadable record and those after it")
	var left int
	require.NoError(t, s.DB().QueryRow(t.Context(), `SELECT count(*) FROM ledger.entries
		WHERE unit_id = 'library' AND idx = ANY($1) AND (sealed IS NOT NULL OR NOT redacted)`, in.GetIndexes()).Scan(&left))
	require.Zero(t, left, "each of the three destroyed, its sealed values deleted")
}

// loanSystem is the access-record system of loansSystem's file.
const loanSystem = "도서관리시스템"

// loansSystem starts a stack whose library unit keeps a file of 12,000 subjects in loanSystem
// (one year of access records, S-8-1), with the clock pinned 25 hours back at now.
func loansSystem(t *testing.T) (s *stack, cpo context.Context, now time.Time) {
	t.Helper()
	clock := &retentiontest.Clock{}
	s = startStack(t, stacktest.WithClock(clock.Now))
	s.Load("jeongeup-library.yaml")
	retentiontest.Started(t, s.DB())
	cpo = s.As(auth.RoleCPO, libraryUnit)
	now = time.Now().Add(-25 * time.Hour).Truncate(time.Second)
	clock.Pin(t, now)
	_, err := s.Registry.CreateFile(cpo, &registryv1.CreateFileRequest{Parent: libraryUnit, FileId: "loans", File: &registryv1.PersonalInformationFile{
		DisplayName: "도서 대출 이력", Purpose: "도서 대출·반납", Retention: "대출 종료 후 1년", SubjectCount: 12000, Systems: []string{loanSystem}}})
	require.NoError(t, err)
	return s, cpo, now
}
