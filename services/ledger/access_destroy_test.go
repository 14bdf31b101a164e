package ledger_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pipa-kr/pipa/pkg/auth"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	"github.com/pipa-kr/pipa/services/ledger/entry"
	"github.com/pipa-kr/pipa/services/ledger/store/pg"
	"github.com/pipa-kr/pipa/services/ledger/verify"
)

// accessRecord is an access record two years old, of the kind another system hands in.
func accessRecord(account, subject string) *ledgerv1.Entry {
	return &ledgerv1.Entry{Kind: ledgerv1.EntryKind_ENTRY_KIND_ACCESS, OccurTime: timestamppb.New(time.Now().AddDate(-2, 0, 0)),
		FileName: "새올행정시스템", Actor: account, RemoteAddr: "198.51.100.7", Subject: subject, Action: "다운로드", Purpose: "정보공개청구 처리"}
}

// S-8-1, S-8-3: an access record's leaf commits to its S-2-3 fields; the values are served from
// the sealed blob only while they match the leaf, and a record destroyed by the service leaves
// only its kind, time and system readable, while the log verifies as before. A blob swapped with
// another record's, replaced by other values or deleted without a REDACTION, and a leaf changed,
// are all detected.
func TestAccessRecord_DestroyedLeavesOnlyCommitments_S_8_1(t *testing.T) {
	t.Parallel()
	s := newTilesStack(t)
	ctx := t.Context()
	svc := as(t, s, "pipa-service", auth.RoleService, auth.ScopeAll)
	auditor := as(t, s, "auditor", auth.RoleAuditor, iksanLog)
	var recs []*ledgerv1.Entry
	for i, account := range []string{"clerk-a", "clerk-b"} {
		e, err := s.client.AppendEntry(svc, &ledgerv1.AppendEntryRequest{Parent: iksanLog,
			Entry: accessRecord(account, fmt.Sprintf("민원 2024-00000%d", i))})
		require.NoError(t, err)
		recs = append(recs, e)
	}
	a, b := recs[0], recs[1]
	secrets := []string{"clerk-a", "198.51.100.7", "민원 2024-000000", "다운로드", "정보공개청구"}
	leafOf := func(name string) []byte {
		l, err := s.client.GetLeaf(auditor, &ledgerv1.GetLeafRequest{Name: name})
		require.NoError(t, err)
		return l.GetData()
	}
	leaf := leafOf(a.GetName())
	for _, v := range secrets {
		require.NotContains(t, string(leaf), v, "the leaf commits to the record, never shows it")
	}
	require.Contains(t, string(leaf), "\nfile-name: 새올행정시스템\n", "the system stays: the period is computed from it")

	got, err := s.client.GetEntry(auditor, &ledgerv1.GetEntryRequest{Name: a.GetName()})
	require.NoError(t, err)
	require.Equal(t, "clerk-a", got.GetActor())
	require.Equal(t, "정보공개청구 처리", got.GetPurpose())
	require.Len(t, got.GetSalts(), 5)
	for f, v := range map[string]string{"actor": got.GetActor(), "remote_addr": got.GetRemoteAddr(), "subject": got.GetSubject(),
		"action": got.GetAction(), "purpose": got.GetPurpose()} {
		require.True(t, entry.Verify(leaf, f, v, got.GetSalts()[f]), f)
	}

	// Tampering behind the API: each read of the record fails as DataLoss, never serves values.
	blobOf := func(idx int64) []byte {
		var blob []byte
		require.NoError(t, s.pool.QueryRow(ctx, `SELECT sealed FROM ledger.entries WHERE unit_id = 'cctv' AND idx = $1`, idx).Scan(&blob))
		return blob
	}
	setBlob := func(idx int64, blob []byte) {
		_, err := s.pool.Exec(ctx, `UPDATE ledger.entries SET sealed = $2 WHERE unit_id = 'cctv' AND idx = $1`, idx, blob)
		require.NoError(t, err)
	}
	own := blobOf(a.GetIndex())
	other := &entry.Sealed{}
	for _, f := range entry.Personal(ledgerv1.EntryKind_ENTRY_KIND_ACCESS) {
		if salt, ok := got.GetSalts()[f]; ok {
			other.Fields = append(other.Fields, entry.SealedField{Field: f, Value: "clerk-z", Salt: salt})
		}
	}
	forged, err := s.box.Seal(other.Marshal(), []byte(a.GetName()))
	require.NoError(t, err)
	for name, blob := range map[string][]byte{"another record's": blobOf(b.GetIndex()), "other values": forged, "deleted": nil} {
		setBlob(a.GetIndex(), blob)
		_, err = s.client.GetEntry(auditor, &ledgerv1.GetEntryRequest{Name: a.GetName()})
		requireStatus(t, err, codes.DataLoss)
		// The list goes on past it, naming it, with only what its leaf states in clear.
		list, err := s.client.ListEntries(auditor, &ledgerv1.ListEntriesRequest{Parent: iksanLog, Kind: ledgerv1.EntryKind_ENTRY_KIND_ACCESS})
		require.NoError(t, err)
		require.Equal(t, []string{a.GetName()}, list.GetUnreadable())
		require.Len(t, list.GetEntries(), 2)
		require.Empty(t, list.GetEntries()[0].GetActor()+list.GetEntries()[0].GetSubject())
		require.Equal(t, "새올행정시스템", list.GetEntries()[0].GetFileName())
		require.Equal(t, "clerk-b", list.GetEntries()[1].GetActor())
		t.Log(name, "detected")
	}
	setBlob(a.GetIndex(), own)

	// Destroyed by the service (the retention sweep's call): the blob is gone, the leaf stays.
	_, err = s.client.RedactEntry(svc, &ledgerv1.RedactEntryRequest{Name: a.GetName(), Reason: "보유기간 경과 (접속기록, S-8-1)",
		RequestId: "retention/access/0"})
	require.NoError(t, err)
	require.Nil(t, blobOf(a.GetIndex()))
	require.Equal(t, leaf, leafOf(a.GetName()))
	got, err = s.client.GetEntry(auditor, &ledgerv1.GetEntryRequest{Name: a.GetName()})
	require.NoError(t, err)
	require.True(t, got.GetRedacted())
	require.Equal(t, "새올행정시스템", got.GetFileName())
	require.True(t, got.GetOccurTime().AsTime().Equal(a.GetOccurTime().AsTime()))
	require.Empty(t, got.GetActor()+got.GetRemoteAddr()+got.GetSubject()+got.GetAction()+got.GetPurpose())
	require.Empty(t, got.GetSalts())
	inspector := &verify.Client{BaseURL: s.url, Token: s.token(t, iksanLog)}
	rep, err := verify.Run(ctx, inspector, iksanLog, &verify.State{}, verify.Policy{Full: true})
	require.NoError(t, err)
	require.True(t, rep.OK(), "%+v", rep)
	require.Empty(t, rep.Unchecked, "the erasure is checked too")

	// The other record's leaf altered (its account's commitment): the verifier names it, and its
	// values, no longer those the leaf commits to, are not served.
	tag, err := s.pool.Exec(ctx, `UPDATE ledger.entries SET leaf = convert_to(regexp_replace(convert_from(leaf, 'UTF8'),
		'actor-commitment: [^\n]*', 'actor-commitment: '||encode(sha256('x'), 'base64')), 'UTF8') WHERE unit_id = 'cctv' AND idx = $1`, b.GetIndex())
	require.NoError(t, err)
	require.EqualValues(t, 1, tag.RowsAffected())
	rep, err = verify.Run(ctx, inspector, iksanLog, &verify.State{}, verify.Policy{Full: true})
	require.NoError(t, err)
	require.Equal(t, b.GetIndex(), rep.FirstBad, "%+v", rep)
	_, err = s.client.GetEntry(auditor, &ledgerv1.GetEntryRequest{Name: b.GetName()})
	requireStatus(t, err, codes.DataLoss)
}

// Leaves written before the access record's fields were committed stay valid: such a leaf,
// with its fields in clear, verifies, reads back, and once destroyed is served without them (its
// leaf, which every proof needs, keeps them: see the report of issue 15).
func TestAccessRecord_EarlierLeafInClear_S_8_1(t *testing.T) {
	t.Parallel()
	s := newTilesStack(t)
	ctx := t.Context()
	at := time.Now().AddDate(-2, 0, 0).UTC().Truncate(time.Second)
	res, err := s.store.Append(ctx, "iksan", "cctv", pg.AppendRequest{Kind: "ACCESS", OccurTime: at,
		Build: func(index int64) ([]byte, []byte, error) {
			return fmt.Appendf(nil, "pipa-ledger-entry/v1\nlog: %s\nindex: %d\nkind: ACCESS\noccur-time: %s\n"+
				"actor: song.sh\nremote-addr: 10.20.30.40\nsubject: %s/requests/R-2024-000001\naction: GetRequest\nrecorded-by: pipa-service\n",
				iksanLog, index, at.Format(time.RFC3339Nano), iksanLog), nil, nil
		}})
	require.NoError(t, err)
	auditor := as(t, s, "auditor", auth.RoleAuditor, iksanLog)
	name := fmt.Sprintf("%s/ledger/entries/%d", iksanLog, res.Index)
	got, err := s.client.GetEntry(auditor, &ledgerv1.GetEntryRequest{Name: name})
	require.NoError(t, err)
	require.Equal(t, "song.sh", got.GetActor())
	require.Empty(t, got.GetSalts(), "nothing committed to")

	_, err = s.client.RedactEntry(as(t, s, "pipa-service", auth.RoleService, auth.ScopeAll),
		&ledgerv1.RedactEntryRequest{Name: name, Reason: "보유기간 경과 (접속기록, S-8-1)"})
	require.NoError(t, err)
	list, err := s.client.ListEntries(auditor, &ledgerv1.ListEntriesRequest{Parent: iksanLog, Kind: ledgerv1.EntryKind_ENTRY_KIND_ACCESS})
	require.NoError(t, err)
	require.Len(t, list.GetEntries(), 1)
	got = list.GetEntries()[0]
	require.True(t, got.GetRedacted())
	require.Empty(t, got.GetActor()+got.GetRemoteAddr()+got.GetSubject()+got.GetAction())
	rep, err := verify.Run(ctx, &verify.Client{BaseURL: s.url, Token: s.token(t, iksanLog)}, iksanLog, &verify.State{}, verify.Policy{Full: true})
	require.NoError(t, err)
	require.True(t, rep.OK(), "%+v", rep)
	leaf, err := s.client.GetLeaf(auditor, &ledgerv1.GetLeafRequest{Name: name})
	require.NoError(t, err)
	require.Contains(t, string(leaf.GetData()), "\nactor: song.sh\n", "the leaf is as it was written")
}
