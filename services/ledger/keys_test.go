package ledger_test

import (
	"crypto/rand"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	logfmt "github.com/transparency-dev/formats/log"
	"golang.org/x/mod/sumdb/note"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/pipa-kr/pipa/pkg/auth"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	"github.com/pipa-kr/pipa/services/ledger"
	"github.com/pipa-kr/pipa/services/ledger/entry"
	"github.com/pipa-kr/pipa/services/ledger/store/pg"
)

// restart opens the ledger again on the stack's database, as a restarted process does.
func (s *tilesStack) restart(t *testing.T) error {
	_, err := ledger.Open(t.Context(), pg.New(s.pool, s.box), s.box, nil)
	return err
}

func (s *tilesStack) verifierKey(t *testing.T) *ledgerv1.VerifierKey {
	t.Helper()
	k, err := s.client.GetVerifierKey(t.Context(), &ledgerv1.GetVerifierKeyRequest{Tenant: "iksan", Unit: "cctv"})
	require.NoError(t, err)
	return k
}

// opens reports whether note msg verifies with vkey.
func opens(t *testing.T, msg, vkey string) bool {
	t.Helper()
	v, err := note.NewVerifier(vkey)
	require.NoError(t, err)
	_, err = note.Open([]byte(msg), note.VerifierList(v))
	return err == nil
}

// C2SP tlog-checkpoint: each unit's log has a key of its own, named by the log's origin, and the
// key served is the signer's.
func TestVerifierKey_OwnKeyNamedByOrigin(t *testing.T) {
	t.Parallel()
	s := newTilesStack(t)
	staff := as(t, s, "song.sh", auth.RoleHandler, "tenants/iksan")
	_, err := s.client.AppendEntry(staff, &ledgerv1.AppendEntryRequest{Parent: iksanLog, Entry: use()})
	require.NoError(t, err)
	_, err = s.client.AppendEntry(staff, &ledgerv1.AppendEntryRequest{Parent: "tenants/iksan/units/parking", Entry: use()})
	require.NoError(t, err)

	k := s.verifierKey(t)
	require.Equal(t, "pipa.kr/"+iksanLog, k.GetOrigin())
	require.True(t, strings.HasPrefix(k.GetVerifierKey(), "pipa.kr/"+iksanLog+"+"), k.GetVerifierKey())
	require.Equal(t, "/v1/public/"+iksanLog+"/ledger/tiles/", k.GetTilesPath())
	require.Empty(t, k.GetHandovers())
	other, err := s.client.GetVerifierKey(t.Context(), &ledgerv1.GetVerifierKeyRequest{Tenant: "iksan", Unit: "parking"})
	require.NoError(t, err)
	require.NotEqual(t, k.GetVerifierKey(), other.GetVerifierKey(), "one key per log")

	cp, err := s.client.GetCheckpoint(staff, &ledgerv1.GetCheckpointRequest{Parent: iksanLog})
	require.NoError(t, err)
	require.Equal(t, k.GetVerifierKey(), cp.GetVerifierKey())
	require.True(t, opens(t, cp.GetNote(), k.GetVerifierKey()))
	require.False(t, opens(t, cp.GetNote(), other.GetVerifierKey()))
	// The JSON's size and root are the signed note's.
	parsed, _, _, err := logfmt.ParseCheckpoint([]byte(cp.GetNote()), k.GetOrigin(), mustVerifier(t, k.GetVerifierKey()))
	require.NoError(t, err)
	require.Equal(t, uint64(cp.GetTreeSize()), parsed.Size)
	require.Equal(t, parsed.Hash, cp.GetRootHash())
}

func mustVerifier(t *testing.T, vkey string) note.Verifier {
	t.Helper()
	v, err := note.NewVerifier(vkey)
	require.NoError(t, err)
	return v
}

// RotateKey: the LEDGER_KEY entry names the new key, the checkpoint that includes it is signed by
// the old key and the new one, and only the new key signs after it (S-8-3). Only the CPO or the
// tenant's admin rotates, with a reason; a retry returns the first rotation.
func TestRotateKey_HandsOverWithBothSignatures(t *testing.T) {
	t.Parallel()
	s := newTilesStack(t)
	staff := as(t, s, "song.sh", auth.RoleHandler, iksanLog)
	cpo := as(t, s, "cpo", auth.RoleCPO, "tenants/iksan")
	for range 3 {
		_, err := s.client.AppendEntry(staff, &ledgerv1.AppendEntryRequest{Parent: iksanLog, Entry: use()})
		require.NoError(t, err)
	}
	old := s.verifierKey(t).GetVerifierKey()

	_, err := s.client.RotateKey(staff, &ledgerv1.RotateKeyRequest{Parent: iksanLog, Reason: "정기 교체"})
	requireStatus(t, err, codes.PermissionDenied)
	_, err = s.client.RotateKey(cpo, &ledgerv1.RotateKeyRequest{Parent: iksanLog})
	requireViolation(t, err, "reason", "required")

	rec, err := s.client.RotateKey(cpo, &ledgerv1.RotateKeyRequest{Parent: iksanLog, Reason: "정기 교체", RequestId: "rot-1"})
	require.NoError(t, err)
	require.Equal(t, ledgerv1.EntryKind_ENTRY_KIND_LEDGER_KEY, rec.GetKind())
	require.Equal(t, int64(3), rec.GetIndex())
	require.Equal(t, "cpo", rec.GetRecordedBy())
	again, err := s.client.RotateKey(cpo, &ledgerv1.RotateKeyRequest{Parent: iksanLog, Reason: "정기 교체", RequestId: "rot-1"})
	require.NoError(t, err)
	require.True(t, proto.Equal(rec, again), "a retry returns the first rotation")

	k := s.verifierKey(t)
	require.Equal(t, rec.GetVerifierKey(), k.GetVerifierKey())
	require.NotEqual(t, old, k.GetVerifierKey())
	require.True(t, strings.HasPrefix(k.GetVerifierKey(), "pipa.kr/"+iksanLog+"+"))
	require.Len(t, k.GetHandovers(), 1)
	h := k.GetHandovers()[0]
	require.Equal(t, old, h.GetPreviousKey())
	require.Equal(t, k.GetVerifierKey(), h.GetVerifierKey())
	require.Equal(t, int64(3), h.GetEntryIndex())
	require.True(t, opens(t, h.GetCheckpoint(), old), "the old key signs the handover")
	require.True(t, opens(t, h.GetCheckpoint(), k.GetVerifierKey()))
	require.True(t, strings.HasPrefix(h.GetCheckpoint(), "pipa.kr/"+iksanLog+"\n4\n"))

	// The leaf names the new key, so the tree itself records the change.
	leaf, err := s.client.GetLeaf(staff, &ledgerv1.GetLeafRequest{Name: rec.GetName()})
	require.NoError(t, err)
	d, err := entry.DecodeLeaf(leaf.GetData())
	require.NoError(t, err)
	require.Equal(t, k.GetVerifierKey(), d.Entry.GetVerifierKey())
	require.True(t, strings.HasSuffix(string(leaf.GetData()), "\nverifier-key: "+k.GetVerifierKey()+"\n"))

	_, err = s.client.AppendEntry(staff, &ledgerv1.AppendEntryRequest{Parent: iksanLog, Entry: use()})
	require.NoError(t, err)
	cp, err := s.client.GetCheckpoint(staff, &ledgerv1.GetCheckpointRequest{Parent: iksanLog})
	require.NoError(t, err)
	require.Equal(t, int64(5), cp.GetTreeSize())
	require.True(t, opens(t, cp.GetNote(), k.GetVerifierKey()))
	require.False(t, opens(t, cp.GetNote(), old), "the old key signs nothing after the handover")

	// Over REST too, and a restart accepts the chain.
	code, _, body := s.do(t, http.MethodPost, "/v1/"+iksanLog+"/ledger:rotateKey", `{"reason":"키 유출 의심"}`,
		s.tokenAs(t, "admin", auth.RoleTenantAdmin, "tenants/iksan"))
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, `"kind":"ENTRY_KIND_LEDGER_KEY"`)
	require.Len(t, s.verifierKey(t).GetHandovers(), 2)
	require.NoError(t, s.restart(t))
}

// The key-substitution attack, by someone who can write to the database but has no data key: a
// verifier key written where pipa keeps keys, a checkpoint signed with a key of their own, or a
// sealed key copied from another log. pipa serves the signer's key and refuses to start or to
// serve, saying which log and what disagrees.
func TestOpen_RefusesStoredKeysThatAreNotTheSigners(t *testing.T) {
	t.Parallel()
	skey, attackerKey, err := note.GenerateKey(rand.Reader, "pipa.kr/"+iksanLog)
	require.NoError(t, err)
	attacker, err := note.NewSigner(skey)
	require.NoError(t, err)
	for _, tc := range []struct {
		name, sql, want string
	}{
		{"the verifier key column", `UPDATE ledger.log_keys SET verifier_key = $1 WHERE unit_id = 'cctv' AND $2 <> ''`,
			"is not the signing key's"},
		{"the head's verifier key", `UPDATE ledger.logs SET verifier_key = $1 WHERE unit_id = 'cctv' AND $2 <> ''`,
			"its head names the verifier key"},
		{"a checkpoint signed by another key", `UPDATE ledger.logs SET checkpoint = $2 WHERE unit_id = 'cctv' AND $1 <> ''`,
			"its checkpoint does not verify with its key"},
		{"another log's sealed key", `UPDATE ledger.log_keys SET signer_skey = (SELECT signer_skey FROM ledger.log_keys WHERE unit_id = 'parking')
			WHERE unit_id = 'cctv' AND $1 <> $2`, "does not open with the data key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newTilesStack(t)
			staff := as(t, s, "song.sh", auth.RoleHandler, "tenants/iksan")
			for _, log := range []string{iksanLog, "tenants/iksan/units/parking"} {
				_, err := s.client.AppendEntry(staff, &ledgerv1.AppendEntryRequest{Parent: log, Entry: use()})
				require.NoError(t, err)
			}
			genuine := s.verifierKey(t).GetVerifierKey()
			cp, err := s.client.GetCheckpoint(staff, &ledgerv1.GetCheckpointRequest{Parent: iksanLog})
			require.NoError(t, err)
			n, err := note.Open([]byte(cp.GetNote()), note.VerifierList(mustVerifier(t, genuine)))
			require.NoError(t, err)
			forged, err := note.Sign(&note.Note{Text: n.Text}, attacker)
			require.NoError(t, err)

			_, err = s.pool.Exec(t.Context(), tc.sql, attackerKey, string(forged))
			require.NoError(t, err)

			err = s.restart(t)
			require.ErrorContains(t, err, "refusing to start")
			require.ErrorContains(t, err, iksanLog)
			require.ErrorContains(t, err, tc.want)
			// The running process serves the signer's key, never a stored column, and refuses
			// the head it cannot verify.
			k, err := s.client.GetVerifierKey(t.Context(), &ledgerv1.GetVerifierKeyRequest{Tenant: "iksan", Unit: "cctv"})
			if err == nil {
				require.Equal(t, genuine, k.GetVerifierKey())
			}
			_, err = s.client.GetCheckpoint(staff, &ledgerv1.GetCheckpointRequest{Parent: iksanLog})
			if strings.Contains(tc.sql, "ledger.logs") { // what the key columns say is never read
				requireStatus(t, err, codes.DataLoss)
			}
		})
	}
}

// A log made before logs had keys of their own is signed by its tenant's key. At start-up it is
// handed over to a key of its own: a LEDGER_KEY entry, in a checkpoint the tenant's key signs
// too, so that a verifier that trusted the tenant's key follows it. Once, however many replicas
// start.
func TestOpen_HandsLegacyLogsOverToTheirOwnKey(t *testing.T) {
	t.Parallel()
	s := newTilesStack(t)
	staff := as(t, s, "song.sh", auth.RoleHandler, iksanLog)
	for range 2 {
		_, err := s.client.AppendEntry(staff, &ledgerv1.AppendEntryRequest{Parent: iksanLog, Entry: use()})
		require.NoError(t, err)
	}
	tenantKey := makeLegacy(t, s, "iksan", "cctv")

	require.NoError(t, s.restart(t))
	require.NoError(t, s.restart(t), "a second replica hands over nothing more")
	fresh, err := ledger.Open(t.Context(), pg.New(s.pool, s.box), s.box, nil)
	require.NoError(t, err)
	k, err := fresh.GetVerifierKey(t.Context(), &ledgerv1.GetVerifierKeyRequest{Tenant: "iksan", Unit: "cctv"})
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(k.GetVerifierKey(), "pipa.kr/"+iksanLog+"+"))
	require.Len(t, k.GetHandovers(), 1)
	h := k.GetHandovers()[0]
	require.Equal(t, tenantKey, h.GetPreviousKey())
	require.Equal(t, int64(2), h.GetEntryIndex())
	require.True(t, opens(t, h.GetCheckpoint(), tenantKey))
	require.True(t, opens(t, h.GetCheckpoint(), k.GetVerifierKey()))
	var n int
	require.NoError(t, s.pool.QueryRow(t.Context(), `SELECT count(*) FROM ledger.entries WHERE kind = 'LEDGER_KEY'`).Scan(&n))
	require.Equal(t, 1, n)
}

// makeLegacy turns the log into one made before logs had keys of their own: signed by a key of
// its tenant (ledger.keys, named "pipa.kr/tenants/{t}"), with no key of its own. It returns the
// tenant's verifier key.
func makeLegacy(t *testing.T, s *tilesStack, tenant, unit string) string {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, "pipa.kr/tenants/"+tenant)
	require.NoError(t, err)
	signer, err := note.NewSigner(skey)
	require.NoError(t, err)
	sealed, err := s.box.Seal([]byte(skey), []byte("pipa/ledger/signer-key/v1:"+tenant))
	require.NoError(t, err)
	var msg string
	require.NoError(t, s.pool.QueryRow(t.Context(), `SELECT checkpoint FROM ledger.logs WHERE tenant_id = $1 AND unit_id = $2`,
		tenant, unit).Scan(&msg))
	text, _, _ := strings.Cut(msg, "\n\n")
	cp, err := note.Sign(&note.Note{Text: text + "\n"}, signer)
	require.NoError(t, err)
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO ledger.keys (tenant_id, signer_skey, verifier_key, origin) VALUES ($1, $2, $3, 'pipa.kr/tenants/' || $1)`,
			[]any{tenant, sealed, vkey}},
		{`DELETE FROM ledger.log_keys WHERE tenant_id = $1 AND unit_id = $2`, []any{tenant, unit}},
		{`UPDATE ledger.logs SET checkpoint = $3, verifier_key = $4 WHERE tenant_id = $1 AND unit_id = $2`,
			[]any{tenant, unit, string(cp), vkey}},
	} {
		_, err := s.pool.Exec(t.Context(), q.sql, q.args...)
		require.NoError(t, err)
	}
	return vkey
}

// The published JSON of the key (public, no token) carries what a verifier and a policy page
// need: the key, the origin, the handovers and the tiles' path.
func TestVerifierKey_PublicJSON(t *testing.T) {
	t.Parallel()
	s := newTilesStack(t)
	staff := as(t, s, "song.sh", auth.RoleHandler, iksanLog)
	_, err := s.client.AppendEntry(staff, &ledgerv1.AppendEntryRequest{Parent: iksanLog, Entry: use()})
	require.NoError(t, err)
	code, h, body := s.do(t, http.MethodGet, "/v1/public/tenants/iksan/units/cctv/ledger/key", "", "")
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, h.Get("Content-Type"), "application/json")
	var k struct{ VerifierKey, Origin, TilesPath string }
	require.NoError(t, json.Unmarshal([]byte(body), &k))
	require.Equal(t, s.verifierKey(t).GetVerifierKey(), k.VerifierKey)
	require.Equal(t, "pipa.kr/"+iksanLog, k.Origin)
	require.Equal(t, "/v1/public/"+iksanLog+"/ledger/tiles/", k.TilesPath)
	code, _, _ = s.do(t, http.MethodGet, "/v1/public/tenants/iksan/units/nowhere/ledger/key", "", "")
	require.Equal(t, http.StatusNotFound, code)
}
