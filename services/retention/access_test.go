package retention_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pipa-kr/pipa/pkg/auth"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	retentionv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/retention/v1"
	"github.com/pipa-kr/pipa/pkg/rolechange"
	"github.com/pipa-kr/pipa/pkg/stacktest"
	"github.com/pipa-kr/pipa/services/ledger/verify"
	"github.com/pipa-kr/pipa/services/retention"
	"github.com/pipa-kr/pipa/services/retention/retentiontest"
)

// S-8-1, S-8-3: access records taken in from the library's systems are kept for their system's
// period, computed from the files' facts (1 year: 12,000 subjects; 2 years: 60,000 subjects; 2
// years and listed as unclassified: a system no file names), and destroyed by the sweep once it
// has passed — not a day before (1 year less a day, 2 years less a day), not a ROLE_CHANGE or any
// other kind — by REDACTION entries, after which the ledger still verifies. A sweep repeated
// destroys nothing again; one that finds a record already redacted under its request_id (a
// sweeper killed after the call) counts it once; entering the facts moves a system's period.
func TestAccessRecordsKeptForTheirPeriod_S_8_1(t *testing.T) {
	t.Parallel()
	clock := &retentiontest.Clock{}
	s := startStack(t, stacktest.WithClock(clock.Now))
	s.Load("jeongeup-library.yaml")
	retentiontest.Started(t, s.DB())
	cpo := s.As(auth.RoleCPO, libraryUnit)
	// The ledger keeps real time and holds the one-year floor by it: the retention clock starts a
	// day behind, to move a day forward later.
	now := time.Now().Add(-25 * time.Hour).Truncate(time.Second)
	clock.Pin(t, now)

	const short, long, unnamed = "도서관리시스템", "회원통합시스템", "민원접수시스템"
	for i, f := range []*registryv1.PersonalInformationFile{
		{DisplayName: "도서 대출 이력", Purpose: "도서 대출·반납", Retention: "대출 종료 후 1년", SubjectCount: 12000, Systems: []string{short}},
		{DisplayName: "도서관 회원", Purpose: "회원 관리", Retention: "탈퇴 시까지", SubjectCount: 60000, Systems: []string{long}},
	} {
		_, err := s.Registry.CreateFile(cpo, &registryv1.CreateFileRequest{Parent: libraryUnit, FileId: fmt.Sprintf("access-%d", i), File: f})
		require.NoError(t, err)
	}
	_, err := s.Registry.CreateFile(cpo, &registryv1.CreateFileRequest{Parent: libraryUnit, FileId: "bad", File: &registryv1.PersonalInformationFile{
		DisplayName: "x", Purpose: "x", Retention: "x", Systems: []string{" 도서관리시스템"}}})
	require.Equal(t, "S-8-1", findViolation(t, err, "file.systems[0]").GetReason())

	// Each system's records at the edges of its period, taken in as the systems send them: in the
	// order of their access times.
	records := []struct {
		system string
		at     time.Time
		due    bool
	}{
		{long, now.AddDate(-2, 0, 0), true},
		{unnamed, now.AddDate(-2, 0, 0), true},
		{long, now.AddDate(-2, 0, 1), false},
		{unnamed, now.AddDate(-2, 0, 1), false},
		{long, now.AddDate(-1, 0, -1), false},
		{unnamed, now.AddDate(-1, 0, -1), false},
		{short, now.AddDate(-1, 0, 0), true},
		{short, now.AddDate(-1, 0, 1), false},
	}
	var batch []*ledgerv1.AccessRecord
	for i, r := range records {
		batch = append(batch, &ledgerv1.AccessRecord{System: r.system, Account: fmt.Sprintf("user%d", i), AccessTime: timestamppb.New(r.at),
			RemoteAddr: "10.1.2.3", Subject: fmt.Sprintf("회원번호 %d", 1000+i), Action: "조회"})
	}
	in, err := ledgerv1.NewAccessRecordServiceClient(s.Conn).IngestAccessRecords(s.As(auth.RoleService, libraryUnit),
		&ledgerv1.IngestAccessRecordsRequest{Parent: libraryUnit, BatchId: "keep-1", Records: batch})
	require.NoError(t, err)
	idx := in.GetIndexes()

	redacted := func() []int64 {
		t.Helper()
		var out []int64
		for tok := ""; ; {
			page, err := s.ledger().ListEntries(cpo, &ledgerv1.ListEntriesRequest{Parent: libraryLog, Redacted: true, PageToken: tok})
			require.NoError(t, err)
			for _, e := range page.GetEntries() {
				require.Equal(t, ledgerv1.EntryKind_ENTRY_KIND_ACCESS, e.GetKind(), "only access records are redacted")
				out = append(out, e.GetIndex())
			}
			if tok = page.GetNextPageToken(); tok == "" {
				return out
			}
		}
	}
	want := func(due func(i int) bool) []int64 {
		var out []int64
		for i := range records {
			if due(i) {
				out = append(out, idx[i])
			}
		}
		return out
	}
	sweep := func(id string) *retentionv1.SweepResult {
		t.Helper()
		res, err := s.retention().SweepUnit(cpo, &retentionv1.SweepUnitRequest{Parent: libraryUnit, RequestId: id})
		require.NoError(t, err)
		return res
	}
	verified := func() {
		t.Helper()
		rep, err := verify.Run(t.Context(), &verify.Client{BaseURL: s.URL, Token: s.Token(auth.RoleCPO, libraryUnit)}, libraryLog,
			&verify.State{}, verify.Policy{Full: true})
		require.NoError(t, err)
		require.True(t, rep.OK(), "%+v", rep)
		require.Empty(t, rep.Unchecked, "the redactions are checked too")
	}

	// A sweeper killed after redacting the first due record, before it saved where it stood.
	_, err = s.ledger().RedactEntry(s.As(auth.RoleService, auth.ScopeAll), &ledgerv1.RedactEntryRequest{
		Name: fmt.Sprintf("%s/ledger/entries/%d", libraryLog, idx[0]), Reason: "보유기간 경과 (접속기록, S-8-1)",
		RequestId: fmt.Sprintf("retention/access/%d", idx[0])})
	require.NoError(t, err)

	res := sweep("access-1")
	require.EqualValues(t, 2, res.GetAccessDestroyed(), "the record redacted before is not counted again")
	require.Contains(t, res.GetUnclassifiedSystems(), unnamed)
	require.NotContains(t, res.GetUnclassifiedSystems(), short)
	require.NotContains(t, res.GetUnclassifiedSystems(), long)
	require.Equal(t, want(func(i int) bool { return records[i].due }), redacted())
	verified()
	sweeps, err := s.retention().ListSweeps(cpo, &retentionv1.ListSweepsRequest{Parent: libraryUnit})
	require.NoError(t, err)
	require.EqualValues(t, 2, sweeps.GetSweeps()[0].GetAccessDestroyed(), "recorded with the sweep")

	require.Zero(t, sweep("access-2").GetAccessDestroyed(), "nothing twice")

	// A day later the records a day short of their period are due; the two-year system's
	// record of a year and a day ago is not.
	// The daily job makes the pass this time, and records it as a sweep.
	clock.Pin(t, now.AddDate(0, 0, 1))
	retentiontest.WaitJob(t, s.DB(), retentiontest.Enqueue(t, s.DB(), retention.SweepAccessArgs{Tenant: "jeongeup", Unit: "library"}))
	sweeps, err = s.retention().ListSweeps(cpo, &retentionv1.ListSweepsRequest{Parent: libraryUnit})
	require.NoError(t, err)
	require.EqualValues(t, 3, sweeps.GetSweeps()[0].GetAccessDestroyed())
	require.Equal(t, []string{unnamed}, sweeps.GetSweeps()[0].GetUnclassifiedSystems())
	require.Equal(t, want(func(i int) bool {
		return records[i].due || records[i].at.Equal(now.AddDate(-2, 0, 1)) ||
			records[i].at.Equal(now.AddDate(-1, 0, 1))
	}), redacted())

	// The officer lists the unnamed system in the 12,000-subject file: one year. Its record of a
	// year and a day ago is due now, and it is unclassified no more.
	f, err := s.Registry.GetFile(cpo, &registryv1.GetFileRequest{Name: libraryUnit + "/files/access-0"})
	require.NoError(t, err)
	f.Systems = append(f.Systems, unnamed)
	_, err = s.Registry.UpdateFile(cpo, &registryv1.UpdateFileRequest{File: f, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"systems"}}})
	require.NoError(t, err)
	res = sweep("access-4")
	require.EqualValues(t, 1, res.GetAccessDestroyed())
	require.False(t, slices.Contains(res.GetUnclassifiedSystems(), unnamed))
	got := redacted()
	require.Equal(t, []int64{idx[0], idx[1], idx[2], idx[3], idx[5], idx[6], idx[7]}, got,
		"the two-year system's record of a year and a day ago is kept")
	verified()

	// Nor does a rule's item take an access record: the sweep keeps it for its period.
	rule, err := s.retention().CreateRule(cpo, &retentionv1.CreateRuleRequest{Parent: libraryUnit, RuleId: "ledger-personal", Rule: &retentionv1.Rule{
		DisplayName: "관리대장 개인정보", Target: retentionv1.RuleTarget_RULE_TARGET_LEDGER_ENTRIES, PeriodDays: 3,
		ClockStart: retentionv1.ClockStart_CLOCK_START_COLLECTION, Action: retentionv1.Action_ACTION_PLAN, Method: "개인정보 영구삭제"}})
	require.NoError(t, err)
	_, err = s.retention().CreateItem(cpo, &retentionv1.CreateItemRequest{Parent: libraryUnit, Item: &retentionv1.Item{
		Rule: rule.GetName(), Resource: fmt.Sprintf("%s/ledger/entries/%d", libraryLog, idx[4])}})
	require.Equal(t, "S-8-1", findViolation(t, err, "item.resource").GetReason())

	// S-5: a role's grant is kept three years; a rule that would erase it sooner does not take it.
	grant, err := s.ledger().AppendEntry(s.As(auth.RoleService, auth.ScopeAll), &ledgerv1.AppendEntryRequest{Parent: libraryLog,
		Entry: rolechange.Entry(rolechange.Change{Account: libraryUnit + "/officers/kim", After: rolechange.Set{"handler"},
			Source: "등록부 담당자", By: "admin", At: time.Now()})})
	require.NoError(t, err)
	_, err = s.retention().CreateItem(cpo, &retentionv1.CreateItemRequest{Parent: libraryUnit, Item: &retentionv1.Item{
		Rule: rule.GetName(), Resource: grant.GetName()}})
	require.Equal(t, "S-5", findViolation(t, err, "item.resource").GetReason())
}
