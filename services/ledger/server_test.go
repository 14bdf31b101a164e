package ledger_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pipa-kr/pipa/pkg/auth"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	"github.com/pipa-kr/pipa/pkg/idempotency"
	"github.com/pipa-kr/pipa/pkg/rolechange"
	"github.com/pipa-kr/pipa/pkg/stacktest"
	"github.com/pipa-kr/pipa/services/ledger/entry"
)

const iksanLog = "tenants/iksan/units/cctv"

// as is a context calling as subject, holding role on scope.
func as(t *testing.T, s *tilesStack, subject string, role auth.Role, scope string) context.Context {
	tok, err := auth.Mint(s.key, auth.Principal{Subject: subject, Grants: []auth.Grant{{Role: role, Scope: scope}}}, time.Hour)
	require.NoError(t, err)
	return metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer "+tok)
}

// requireStatus asserts err's code and returns its ErrorInfo metadata and field violations.
func requireStatus(t *testing.T, err error, code codes.Code) (map[string]string, []*errdetails.BadRequest_FieldViolation) {
	t.Helper()
	st := status.Convert(err)
	require.Equal(t, code, st.Code(), "%v", err)
	var info map[string]string
	var vs []*errdetails.BadRequest_FieldViolation
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			info = d.GetMetadata()
		case *errdetails.BadRequest:
			vs = d.GetFieldViolations()
		}
	}
	return info, vs
}

func requireViolation(t *testing.T, err error, field, rule string) {
	t.Helper()
	_, vs := requireStatus(t, err, codes.InvalidArgument)
	require.Len(t, vs, 1, "%v", err)
	require.Equal(t, field, vs[0].GetField())
	require.Equal(t, rule, vs[0].GetReason())
}

func viewing() *ledgerv1.Entry {
	return &ledgerv1.Entry{Kind: ledgerv1.EntryKind_ENTRY_KIND_VIEWING, OccurTime: timestamppb.New(time.Now().Add(-time.Hour)),
		FileName: "열람실 CH01", Purpose: "분실물 확인", Handler: "주무관 소영휴",
		RequesterName: "김민수", RequesterContact: "010-1234-5678"}
}

func use() *ledgerv1.Entry {
	return &ledgerv1.Entry{Kind: ledgerv1.EntryKind_ENTRY_KIND_USE, OccurTime: timestamppb.New(time.Now().Add(-time.Hour)),
		FileName: "시청 주차장 CH01", Handler: "주무관 김민수", Purpose: "시설물 파손 경위 확인", Counterparty: "안전총괄과",
		LegalBasis: "개인정보 보호법 제18조 제2항 제2호", Form: "내부 열람", Items: []string{"영상(차량번호)"}}
}

func provision() *ledgerv1.Entry {
	return &ledgerv1.Entry{Kind: ledgerv1.EntryKind_ENTRY_KIND_PROVISION, OccurTime: timestamppb.New(time.Now().Add(-time.Hour)),
		FileName: "시청 주차장 CH01", Handler: "주무관 김민수", Purpose: "사건 수사", Counterparty: "익산경찰서",
		LegalBasis: "개인정보 보호법 제18조 제2항 제7호", Form: "현장 열람", Items: []string{"영상(얼굴)"},
		SafetyRequests: "수사 목적 외 이용 금지"}
}

// S-8-1, S-8-3: the access log is kept. Staff never redact an ACCESS entry (it records their own
// accesses); the retention service (the service role on "*") does, once a year has passed since
// the access and not a minute before, and redacts nothing else. The redaction deletes the sealed
// account, address, resource and method; the leaf, which holds only their commitments, and every
// proof, stay as they were.
func TestRedactEntry_S_8_1_AccessIsKept(t *testing.T) {
	s := newTilesStack(t)
	svc := as(t, s, "pipa-service", auth.RoleService, auth.ScopeAll)
	cpo := as(t, s, "cpo", auth.RoleCPO, iksanLog)
	appendAccess := func(at time.Time) *ledgerv1.Entry {
		got, err := s.client.AppendEntry(svc, &ledgerv1.AppendEntryRequest{Parent: iksanLog, Entry: &ledgerv1.Entry{
			Kind: ledgerv1.EntryKind_ENTRY_KIND_ACCESS, OccurTime: timestamppb.New(at),
			Actor: "song.sh", RemoteAddr: "10.0.0.1", Subject: iksanLog + "/ledger/entries/0", Action: "GetEntry"}})
		require.NoError(t, err)
		return got
	}
	redact := func(ctx context.Context, name string) (*ledgerv1.Entry, error) {
		return s.client.RedactEntry(ctx, &ledgerv1.RedactEntryRequest{Name: name, Reason: "보유기간 경과"})
	}
	old := appendAccess(time.Now().AddDate(-1, 0, 0).Add(-time.Minute))
	young := appendAccess(time.Now().AddDate(-1, 0, 0).Add(time.Minute))

	_, err := redact(cpo, old.GetName())
	info, _ := requireStatus(t, err, codes.PermissionDenied)
	require.Equal(t, "S-8-3", info["rule"])
	_, err = redact(svc, young.GetName())
	info, _ = requireStatus(t, err, codes.FailedPrecondition)
	require.Equal(t, "S-8-1", info["rule"])
	v, err := s.client.AppendEntry(cpo, &ledgerv1.AppendEntryRequest{Parent: iksanLog, Entry: viewing()})
	require.NoError(t, err)
	_, err = redact(svc, v.GetName())
	info, _ = requireStatus(t, err, codes.PermissionDenied)
	require.Equal(t, "S-8-1", info["rule"])

	_, err = redact(svc, old.GetName())
	require.NoError(t, err)
	after, err := s.client.GetEntry(cpo, &ledgerv1.GetEntryRequest{Name: old.GetName()})
	require.NoError(t, err)
	require.True(t, after.GetRedacted())
	require.Equal(t, old.GetLeafHash(), after.GetLeafHash())
	require.Empty(t, after.GetActor()+after.GetRemoteAddr()+after.GetSubject()+after.GetAction())
	leaf, err := s.client.GetLeaf(cpo, &ledgerv1.GetLeafRequest{Name: old.GetName()})
	require.NoError(t, err)
	for _, v := range []string{"song.sh", "10.0.0.1", "GetEntry"} {
		require.NotContains(t, string(leaf.GetData()), v, "nor in the leaf itself")
	}
}

// S-5: a ROLE_CHANGE entry is written by pipa alone (the service role), and kept three years:
// the CPO's redaction of one is refused until then, and allowed after.
func TestRoleChange_S_5_ServiceOnlyKeptThreeYears(t *testing.T) {
	t.Parallel()
	s := newTilesStack(t)
	svc := as(t, s, "pipa-service", auth.RoleService, auth.ScopeAll)
	cpo := as(t, s, "cpo", auth.RoleCPO, iksanLog)
	change := func(at time.Time) *ledgerv1.Entry {
		return rolechange.Entry(rolechange.Change{Account: iksanLog + "/officers/kim", After: rolechange.Set{"handler"},
			Source: "등록부 담당자", By: "admin", At: at})
	}
	_, err := s.client.AppendEntry(cpo, &ledgerv1.AppendEntryRequest{Parent: iksanLog, Entry: change(time.Now())})
	info, _ := requireStatus(t, err, codes.PermissionDenied)
	require.Equal(t, "S-5", info["rule"])

	young, err := s.client.AppendEntry(svc, &ledgerv1.AppendEntryRequest{Parent: iksanLog, Entry: change(time.Now().AddDate(-3, 0, 0).Add(time.Hour))})
	require.NoError(t, err)
	old, err := s.client.AppendEntry(svc, &ledgerv1.AppendEntryRequest{Parent: iksanLog, Entry: change(time.Now().AddDate(-3, 0, 0).Add(-time.Hour))})
	require.NoError(t, err)
	_, err = s.client.RedactEntry(cpo, &ledgerv1.RedactEntryRequest{Name: young.GetName(), Reason: "보유기간 경과"})
	info, _ = requireStatus(t, err, codes.FailedPrecondition)
	require.Equal(t, "S-5", info["rule"])
	got, err := s.client.RedactEntry(cpo, &ledgerv1.RedactEntryRequest{Name: old.GetName(), Reason: "보유기간 경과"})
	require.NoError(t, err)
	require.Equal(t, ledgerv1.EntryKind_ENTRY_KIND_REDACTION, got.GetKind())
}

// STD-58: a REGISTER entry records a change the registry made to its registers: only the
// service appends it, naming the record and what changed.
func TestAppendEntry_STD_58_RegisterIsServiceOnly(t *testing.T) {
	t.Parallel()
	s := newTilesStack(t)
	reg := &ledgerv1.Entry{Kind: ledgerv1.EntryKind_ENTRY_KIND_REGISTER, OccurTime: timestamppb.Now(),
		FileName: iksanLog + "/files/members/registrations/1", Purpose: "개인정보파일 등록 사유 발생 (운용 개시)"}
	_, err := s.client.AppendEntry(as(t, s, "kim.cpo", auth.RoleCPO, "tenants/iksan"), &ledgerv1.AppendEntryRequest{Parent: iksanLog, Entry: reg})
	info, _ := requireStatus(t, err, codes.PermissionDenied)
	require.Equal(t, "STD-58", info["rule"])

	svc := as(t, s, "pipa-service", auth.RoleService, auth.ScopeAll)
	got, err := s.client.AppendEntry(svc, &ledgerv1.AppendEntryRequest{Parent: iksanLog, Entry: reg})
	require.NoError(t, err)
	require.Equal(t, ledgerv1.EntryKind_ENTRY_KIND_REGISTER, got.GetKind())

	noPurpose := proto.CloneOf(reg)
	noPurpose.Purpose = ""
	_, err = s.client.AppendEntry(svc, &ledgerv1.AppendEntryRequest{Parent: iksanLog, Entry: noPurpose})
	requireStatus(t, err, codes.InvalidArgument)
	require.Equal(t, "STD-58", stacktest.Violation(t, err).GetReason())
}

// S-8-3: only pipa's access log (the service role on "*") appends ACCESS entries, and every
// leaf records who appended it, from the token.
func TestAppendEntry_S_8_3_AccessIsServerOnly(t *testing.T) {
	t.Parallel()
	s := newTilesStack(t)
	access := &ledgerv1.Entry{Kind: ledgerv1.EntryKind_ENTRY_KIND_ACCESS, OccurTime: timestamppb.Now(),
		Actor: "someone-else", RemoteAddr: "10.0.0.1", Subject: iksanLog + "/ledger/entries/0", Action: "GetEntry"}
	for _, ctx := range []context.Context{
		as(t, s, "song.sh", auth.RoleHandler, iksanLog),
		as(t, s, "tenant-service", auth.RoleService, "tenants/iksan"),
	} {
		_, err := s.client.AppendEntry(ctx, &ledgerv1.AppendEntryRequest{Parent: iksanLog, Entry: access})
		info, _ := requireStatus(t, err, codes.PermissionDenied)
		require.Equal(t, "S-8-3", info["rule"])
		require.Contains(t, err.Error(), "S-8-3")
	}

	got, err := s.client.AppendEntry(as(t, s, "pipa-service", auth.RoleService, auth.ScopeAll),
		&ledgerv1.AppendEntryRequest{Parent: iksanLog, Entry: access})
	require.NoError(t, err)
	require.Equal(t, "pipa-service", got.GetRecordedBy())

	// A tenant's own log takes only the service's ACCESS entries, not a CPO's and not another kind.
	for _, c := range []struct {
		ctx context.Context
		e   *ledgerv1.Entry
	}{
		{as(t, s, "cpo", auth.RoleCPO, "tenants/iksan"), access},
		{as(t, s, "tenant-service", auth.RoleService, "tenants/iksan"), access},
		{as(t, s, "pipa-service", auth.RoleService, auth.ScopeAll), use()},
	} {
		_, err := s.client.AppendEntry(c.ctx, &ledgerv1.AppendEntryRequest{Parent: "tenants/iksan/units/-", Entry: c.e})
		info, _ := requireStatus(t, err, codes.PermissionDenied)
		require.Equal(t, "S-8-3", info["rule"])
	}

	// A client's recorded_by is ignored: the leaf names the caller.
	forged := use()
	forged.RecordedBy = "pipa-service"
	got, err = s.client.AppendEntry(as(t, s, "song.sh", auth.RoleHandler, iksanLog),
		&ledgerv1.AppendEntryRequest{Parent: iksanLog, Entry: forged})
	require.NoError(t, err)
	require.Equal(t, "song.sh", got.GetRecordedBy())
	leaf, err := s.client.GetLeaf(as(t, s, "auditor", auth.RoleAuditor, iksanLog), &ledgerv1.GetLeafRequest{Name: got.GetName()})
	require.NoError(t, err)
	require.True(t, strings.HasSuffix(string(leaf.GetData()), "\nrecorded-by: song.sh\n"), "%s", leaf.GetData())
	d, err := entry.DecodeLeaf(leaf.GetData())
	require.NoError(t, err)
	require.Equal(t, "song.sh", d.Entry.GetRecordedBy())
}

// Personal values are served only when they match the leaf's commitments, with their salts so
// that the reader can check them too.
func TestRead_SealedValuesMatchTheLeaf(t *testing.T) {
	t.Parallel()
	s := newTilesStack(t)
	staff := as(t, s, "song.sh", auth.RoleHandler, iksanLog)
	appended, err := s.client.AppendEntry(staff, &ledgerv1.AppendEntryRequest{Parent: iksanLog, Entry: viewing()})
	require.NoError(t, err)
	require.Len(t, appended.GetSalts(), 2)

	got, err := s.client.GetEntry(staff, &ledgerv1.GetEntryRequest{Name: appended.GetName()})
	require.NoError(t, err)
	require.Equal(t, appended.GetSalts(), got.GetSalts())
	leaf, err := s.client.GetLeaf(staff, &ledgerv1.GetLeafRequest{Name: got.GetName()})
	require.NoError(t, err)
	require.True(t, entry.Verify(leaf.GetData(), "requester_name", got.GetRequesterName(), got.GetSalts()["requester_name"]))
	require.True(t, entry.Verify(leaf.GetData(), "requester_contact", got.GetRequesterContact(), got.GetSalts()["requester_contact"]))

	// Someone with the data key puts other values beside the leaf: a read of the entry fails
	// loudly; the list names it and shows none of its values.
	other := &entry.Sealed{Fields: []entry.SealedField{
		{Field: "requester_name", Value: "홍길동", Salt: got.GetSalts()["requester_name"]},
		{Field: "requester_contact", Value: got.GetRequesterContact(), Salt: got.GetSalts()["requester_contact"]},
	}}
	blob, err := s.box.Seal(other.Marshal(), []byte(appended.GetName()))
	require.NoError(t, err)
	for _, sealed := range [][]byte{blob, nil} {
		_, err = s.pool.Exec(t.Context(), `UPDATE ledger.entries SET sealed = $1 WHERE tenant_id = 'iksan' AND unit_id = 'cctv' AND idx = 0`, sealed)
		require.NoError(t, err)
		_, err = s.client.GetEntry(staff, &ledgerv1.GetEntryRequest{Name: appended.GetName()})
		requireStatus(t, err, codes.DataLoss)
		list, err := s.client.ListEntries(staff, &ledgerv1.ListEntriesRequest{Parent: iksanLog})
		require.NoError(t, err)
		require.Equal(t, []string{appended.GetName()}, list.GetUnreadable())
		require.Empty(t, list.GetEntries()[0].GetRequesterName()+list.GetEntries()[0].GetRequesterContact())
		require.Empty(t, list.GetEntries()[0].GetSalts())
	}
}

// The REDACTION entry and the erasure commit together or not at all; a redacted entry is not
// redacted again, but a retry of the same request gets its first answer.
func TestRedactEntry_OneTransaction(t *testing.T) {
	t.Parallel()
	s := newTilesStack(t)
	ctx := t.Context()
	staff := as(t, s, "song.sh", auth.RoleHandler, iksanLog)
	cpo := as(t, s, "cpo", auth.RoleCPO, "tenants/iksan")
	target, err := s.client.AppendEntry(staff, &ledgerv1.AppendEntryRequest{Parent: iksanLog, Entry: viewing()})
	require.NoError(t, err)
	redact := func(requestID string) (*ledgerv1.Entry, error) {
		return s.client.RedactEntry(cpo, &ledgerv1.RedactEntryRequest{Name: target.GetName(), Reason: "보유기간 경과", RequestId: requestID})
	}

	// The erasure fails: no REDACTION entry is left without it.
	_, err = s.pool.Exec(ctx, `CREATE FUNCTION ledger.refuse_erasure() RETURNS trigger LANGUAGE plpgsql
		AS $$ BEGIN RAISE EXCEPTION 'erasure refused'; END $$;
		CREATE TRIGGER refuse_erasure BEFORE UPDATE OF sealed ON ledger.entries
		FOR EACH ROW EXECUTE FUNCTION ledger.refuse_erasure()`)
	require.NoError(t, err)
	_, err = redact("r-1")
	require.Error(t, err)
	head, err := s.store.Checkpoint(ctx, "iksan", "cctv", false)
	size := head.Size
	require.NoError(t, err)
	require.Equal(t, int64(1), size, "the REDACTION entry rolled back with the erasure")
	_, err = s.pool.Exec(ctx, `DROP TRIGGER refuse_erasure ON ledger.entries`)
	require.NoError(t, err)

	rec, err := redact("r-1")
	require.NoError(t, err)
	require.Equal(t, ledgerv1.EntryKind_ENTRY_KIND_REDACTION, rec.GetKind())
	require.Equal(t, "cpo", rec.GetRecordedBy())
	got, err := s.client.GetEntry(staff, &ledgerv1.GetEntryRequest{Name: target.GetName()})
	require.NoError(t, err)
	require.True(t, got.GetRedacted())
	require.Empty(t, got.GetRequesterName())
	require.Empty(t, got.GetSalts())

	_, err = redact("r-2")
	requireStatus(t, err, codes.FailedPrecondition)
	require.Contains(t, err.Error(), "already redacted")
	again, err := redact("r-1")
	require.NoError(t, err)
	require.True(t, proto.Equal(rec, again), "a retry gets the first REDACTION entry")
	head, err = s.store.Checkpoint(ctx, "iksan", "cctv", false)
	size = head.Size
	require.NoError(t, err)
	require.Equal(t, int64(2), size)
}

// AppendEntry answers with the commit_time stored, as GetEntry reads it later.
func TestAppendEntry_CommitTimeIsStored(t *testing.T) {
	t.Parallel()
	s := newTilesStack(t)
	staff := as(t, s, "song.sh", auth.RoleHandler, iksanLog)
	appended, err := s.client.AppendEntry(staff, &ledgerv1.AppendEntryRequest{Parent: iksanLog, Entry: use()})
	require.NoError(t, err)
	row, err := s.store.Entry(t.Context(), "iksan", "cctv", appended.GetIndex())
	require.NoError(t, err)
	require.True(t, row.CommitTime.Equal(appended.GetCommitTime().AsTime()), "stored %v, answered %v", row.CommitTime, appended.GetCommitTime().AsTime())
	got, err := s.client.GetEntry(staff, &ledgerv1.GetEntryRequest{Name: appended.GetName()})
	require.NoError(t, err)
	require.True(t, proto.Equal(appended, got), "answered %v\nread %v", appended, got)
}

// C-9: follows and amendment_kind belong to amendments, and an amendment fits the kind of the
// entry it follows.
func TestAppendEntry_C_9_AmendmentFitsItsEntry(t *testing.T) {
	t.Parallel()
	s := newTilesStack(t)
	staff := as(t, s, "song.sh", auth.RoleHandler, iksanLog)
	for _, e := range []*ledgerv1.Entry{use(), viewing(), provision()} { // 0, 1, 2
		_, err := s.client.AppendEntry(staff, &ledgerv1.AppendEntryRequest{Parent: iksanLog, Entry: e})
		require.NoError(t, err)
	}
	amend := func(kind ledgerv1.AmendmentKind, follows int64) error {
		_, err := s.client.AppendEntry(staff, &ledgerv1.AppendEntryRequest{Parent: iksanLog, Entry: &ledgerv1.Entry{
			Kind: ledgerv1.EntryKind_ENTRY_KIND_AMENDMENT, OccurTime: timestamppb.Now(), Follows: &follows,
			AmendmentKind: kind, Note: "통보받음", Period: "2026-06-02 ~ 2026-07-02"}})
		return err
	}
	requireViolation(t, amend(ledgerv1.AmendmentKind_AMENDMENT_KIND_DESTRUCTION_REPLY, 0), "entry.follows", "C-9")
	requireViolation(t, amend(ledgerv1.AmendmentKind_AMENDMENT_KIND_EXTENSION, 1), "entry.follows", "C-9")
	requireViolation(t, amend(ledgerv1.AmendmentKind_AMENDMENT_KIND_RETURN, 99), "entry.follows", "STD-45")
	require.NoError(t, amend(ledgerv1.AmendmentKind_AMENDMENT_KIND_EXTENSION, 0))
	require.NoError(t, amend(ledgerv1.AmendmentKind_AMENDMENT_KIND_DESTRUCTION_REPLY, 2))

	e := use()
	e.Follows = proto.Int64(0)
	_, err := s.client.AppendEntry(staff, &ledgerv1.AppendEntryRequest{Parent: iksanLog, Entry: e})
	requireViolation(t, err, "entry.follows", "C-9")
	head, err := s.store.Checkpoint(t.Context(), "iksan", "cctv", false)
	size := head.Size
	require.NoError(t, err)
	require.Equal(t, int64(5), size)
}

// A request_id over idempotency.MaxRequestID bytes is refused by both writes, as by every pipa
// service, and nothing is appended.
func TestWrites_RequestIDBounded(t *testing.T) {
	t.Parallel()
	s := newTilesStack(t)
	staff := as(t, s, "song.sh", auth.RoleHandler, iksanLog)
	cpo := as(t, s, "cpo", auth.RoleCPO, "tenants/iksan")
	target, err := s.client.AppendEntry(staff, &ledgerv1.AppendEntryRequest{Parent: iksanLog, Entry: viewing()})
	require.NoError(t, err)
	long := strings.Repeat("r", idempotency.MaxRequestID+1)
	_, err = s.client.AppendEntry(staff, &ledgerv1.AppendEntryRequest{Parent: iksanLog, Entry: use(), RequestId: long})
	requireViolation(t, err, "request_id", "range")
	_, err = s.client.RedactEntry(cpo, &ledgerv1.RedactEntryRequest{Name: target.GetName(), Reason: "보유기간 경과", RequestId: long})
	requireViolation(t, err, "request_id", "range")
	head, err := s.store.Checkpoint(t.Context(), "iksan", "cctv", false)
	size := head.Size
	require.NoError(t, err)
	require.Equal(t, int64(1), size)
}

// An entry whose leaf is too large for a tile's entry bundle (2-byte lengths) is refused whole and
// takes no index; the next append gets the index it would have had.
func TestAppendEntry_LeafTooLargeTakesNoIndex(t *testing.T) {
	t.Parallel()
	s := newTilesStack(t)
	staff := as(t, s, "song.sh", auth.RoleHandler, iksanLog)
	huge := use()
	huge.Items = nil
	for range 100 {
		huge.Items = append(huge.Items, strings.Repeat("가", 1300))
	}
	_, err := s.client.AppendEntry(staff, &ledgerv1.AppendEntryRequest{Parent: iksanLog, Entry: huge})
	requireViolation(t, err, "entry", "range")
	got, err := s.client.AppendEntry(staff, &ledgerv1.AppendEntryRequest{Parent: iksanLog, Entry: use()})
	require.NoError(t, err)
	require.Equal(t, int64(0), got.GetIndex())
}

// An entry names only its own unit's requests and plans, never another tenant's or unit's
// (ARCHITECTURE.md "Identity and tenancy"), over gRPC and REST; nothing is appended.
func TestAppendEntry_LinksAreTheUnitsOwn(t *testing.T) {
	t.Parallel()
	s := newTilesStack(t)
	staff := as(t, s, "song.sh", auth.RoleHandler, iksanLog)
	for _, tc := range []struct{ field, value string }{
		{"request", "tenants/seongnam/units/cctv/requests/R-2026-000001"},
		{"request", "tenants/iksan/units/parking/requests/R-2026-000001"},
		{"request", iksanLog + "/requests/"},
		{"request", iksanLog + "/requests/R-1/notices/1"},
		{"request", "R-2026-000001"},
		{"plan", "tenants/seongnam/units/cctv/plans/p1"},
		{"plan", iksanLog + "/requests/R-1"},
	} {
		e := use()
		if tc.field == "request" {
			e.Request = tc.value
		} else {
			e.Plan = tc.value
		}
		_, err := s.client.AppendEntry(staff, &ledgerv1.AppendEntryRequest{Parent: iksanLog, Entry: e})
		requireViolation(t, err, "entry."+tc.field, "tenancy")
		code, _, body := s.do(t, http.MethodPost, "/v1/"+iksanLog+"/ledger/entries", `{"kind":"ENTRY_KIND_USE",
			"occurTime":"`+time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)+`","fileName":"시청 주차장 CH01",
			"handler":"주무관 김민수","purpose":"확인","counterparty":"안전총괄과","legalBasis":"법 제18조 제2항 제2호",
			"form":"내부 열람","items":["영상"],"`+tc.field+`":"`+tc.value+`"}`, s.tokenAs(t, "song.sh", auth.RoleHandler, iksanLog))
		require.Equal(t, http.StatusBadRequest, code, body)
		require.Contains(t, body, `"entry.`+tc.field+`"`)
	}
	// The same in a batch: another tenant's request anywhere refuses the whole batch.
	foreign := use()
	foreign.Request = "tenants/seongnam/units/cctv/requests/R-2026-000001"
	_, err := s.client.BatchAppendEntries(staff, &ledgerv1.BatchAppendEntriesRequest{Parent: iksanLog,
		Requests: []*ledgerv1.AppendEntryRequest{{Entry: use()}, {Entry: foreign}}})
	requireViolation(t, err, "requests[1].entry.request", "tenancy")
	e := use()
	e.Request, e.Plan = iksanLog+"/requests/R-2026-000001", iksanLog+"/plans/p1"
	got, err := s.client.AppendEntry(staff, &ledgerv1.AppendEntryRequest{Parent: iksanLog, Entry: e})
	require.NoError(t, err)
	require.Equal(t, int64(0), got.GetIndex(), "nothing was appended before")
}

// Erasure that shows: an entry marked redacted is served only when the REDACTION entry that
// erased it follows it, as that entry's leaf says; a row marked redacted in the database without
// one is refused (DataLoss). ListEntries lists the redacted entries for a verifier.
func TestRead_RedactedOnlyWithItsRedaction(t *testing.T) {
	t.Parallel()
	s := newTilesStack(t)
	staff := as(t, s, "song.sh", auth.RoleHandler, iksanLog)
	cpo := as(t, s, "cpo", auth.RoleCPO, "tenants/iksan")
	for range 3 {
		_, err := s.client.AppendEntry(staff, &ledgerv1.AppendEntryRequest{Parent: iksanLog, Entry: viewing()})
		require.NoError(t, err)
	}
	red, err := s.client.RedactEntry(cpo, &ledgerv1.RedactEntryRequest{Name: iksanLog + "/ledger/entries/0", Reason: "보유기간 경과"})
	require.NoError(t, err)
	got, err := s.client.GetEntry(staff, &ledgerv1.GetEntryRequest{Name: iksanLog + "/ledger/entries/0"})
	require.NoError(t, err)
	require.True(t, got.GetRedacted())
	list, err := s.client.ListEntries(staff, &ledgerv1.ListEntriesRequest{Parent: iksanLog, Redacted: true})
	require.NoError(t, err)
	require.Len(t, list.GetEntries(), 1)
	require.Equal(t, int64(0), list.GetEntries()[0].GetIndex())

	for _, tamper := range []string{
		`UPDATE ledger.entries SET sealed = NULL, redacted = true WHERE unit_id = 'cctv' AND idx = 1`,
		`UPDATE ledger.entries SET sealed = NULL, redacted = true, redacted_by = 2 WHERE unit_id = 'cctv' AND idx = 1`,
		`UPDATE ledger.entries SET sealed = NULL, redacted = true, redacted_by = ` + strconv.FormatInt(red.GetIndex(), 10) + ` WHERE unit_id = 'cctv' AND idx = 1`,
	} {
		_, err := s.pool.Exec(t.Context(), tamper)
		require.NoError(t, err)
		_, err = s.client.GetEntry(staff, &ledgerv1.GetEntryRequest{Name: iksanLog + "/ledger/entries/1"})
		requireStatus(t, err, codes.DataLoss)
		require.Equal(t, "REDACTION_MISSING", reasonOf(err))
		_, err = s.client.ListEntries(staff, &ledgerv1.ListEntriesRequest{Parent: iksanLog, Redacted: true})
		requireStatus(t, err, codes.DataLoss)
	}

	// The same for entries of the later kinds and for batch-appended ones: a REGISTER entry
	// appended in a batch by the service, erased by its REDACTION, then its REDACTION unlinked.
	reg := &ledgerv1.Entry{Kind: ledgerv1.EntryKind_ENTRY_KIND_REGISTER, OccurTime: timestamppb.Now(),
		FileName: iksanLog + "/files/members/registrations/1", Purpose: "개인정보파일 등록 사유 발생 (운용 개시)"}
	batch, err := s.client.BatchAppendEntries(as(t, s, "pipa-service", auth.RoleService, auth.ScopeAll), &ledgerv1.BatchAppendEntriesRequest{
		Parent: iksanLog, Requests: []*ledgerv1.AppendEntryRequest{{Entry: reg}, {Entry: viewing()}}})
	require.NoError(t, err)
	for _, e := range batch.GetEntries() {
		_, err := s.client.RedactEntry(cpo, &ledgerv1.RedactEntryRequest{Name: e.GetName(), Reason: "보유기간 경과"})
		require.NoError(t, err)
		got, err := s.client.GetEntry(staff, &ledgerv1.GetEntryRequest{Name: e.GetName()})
		require.NoError(t, err)
		require.True(t, got.GetRedacted())
		_, err = s.pool.Exec(t.Context(), `UPDATE ledger.entries SET redacted_by = NULL WHERE unit_id = 'cctv' AND idx = $1`, e.GetIndex())
		require.NoError(t, err)
		_, err = s.client.GetEntry(staff, &ledgerv1.GetEntryRequest{Name: e.GetName()})
		requireStatus(t, err, codes.DataLoss)
	}
}

// reasonOf is the ErrorInfo reason of err.
func reasonOf(err error) string {
	for _, d := range status.Convert(err).Details() {
		if i, ok := d.(*errdetails.ErrorInfo); ok {
			return i.GetReason()
		}
	}
	return ""
}
