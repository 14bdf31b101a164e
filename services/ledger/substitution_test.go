package ledger_test

import (
	"context"
	"crypto/rand"
	"html"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/pipa-kr/pipa/pkg/auth"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	"github.com/pipa-kr/pipa/pkg/modules"
	"github.com/pipa-kr/pipa/pkg/stacktest"
	"github.com/pipa-kr/pipa/services/ledger/cosign/cosigntest"
	"github.com/pipa-kr/pipa/services/ledger/ledgertest"
	"github.com/pipa-kr/pipa/services/ledger/verify"
)

// The "done when", end to end in one pipa with a witness: the witness cosigns in the
// background and pipa serves the cosigned checkpoint at its public tlog-tiles; the unit's
// published policy page shows the ledger's origin and key. Then someone with write access to
// PostgreSQL but not the data key rewrites an entry, rebuilds the tree, signs it with a key of
// their own and writes that key where pipa keeps keys. The attack fails against a pinned key,
// against the key on the published page, and against the witness (and a restart refuses to
// start, saying why: TestOpen_RefusesStoredKeysThatAreNotTheSigners).
func TestLedger_KeySubstitutionFailsEverywhere(t *testing.T) {
	t.Parallel()
	w := cosigntest.Start(t, "witness.jeongeup.test")
	s := startStack(t, func(c *modules.Config) { c.LedgerWitnesses, c.LedgerWitnessInterval = w.Spec, 100*time.Millisecond })
	s.Load("jeongeup-library.yaml")
	cl := s.ledger()
	staff := s.As(auth.RoleHandler, libraryLog)
	// The log holds the library's published policy (the registry's PUBLICATION, recorded when
	// Load returns) and its officers' role grants, then three provisions.
	base := loaded(t, cl, staff)
	var size int64
	for range 3 {
		e, err := cl.AppendEntry(staff, &ledgerv1.AppendEntryRequest{Parent: libraryLog, Entry: ledgertest.PoliceProvision()})
		require.NoError(t, err)
		size = e.GetIndex() + 1
	}
	require.Equal(t, base+3, size)
	key, err := cl.GetVerifierKey(context.Background(), &ledgerv1.GetVerifierKeyRequest{Tenant: "jeongeup", Unit: "library"})
	require.NoError(t, err)
	require.Equal(t, []*ledgerv1.Witness{{VerifierKey: w.VerifierKey, Url: w.URL}}, key.GetWitnesses())
	w.Know(t, key.GetVerifierKey()) // the witness's operator adds the unit's log

	// The job cosigns, and the public checkpoint is the cosigned one.
	require.Eventually(t, func() bool {
		cp, err := cl.GetCheckpoint(staff, &ledgerv1.GetCheckpointRequest{Parent: libraryLog})
		return err == nil && cp.GetCosigned().GetTreeSize() == size
	}, 20*time.Second, 50*time.Millisecond)
	published := stacktest.Body(t, s.Get(key.GetTilesPath()+"checkpoint"))
	require.True(t, w.Cosigned(published), published)
	pinned := verify.Policy{Witnesses: []string{w.VerifierKey}, Cosignatures: 1}
	st := &verify.State{VerifierKey: key.GetVerifierKey()}
	rep, err := verify.Run(t.Context(), &verify.Client{BaseURL: s.URL, Token: s.Token(auth.RoleAuditor, libraryLog)}, libraryLog, st, pinned)
	require.NoError(t, err)
	require.True(t, rep.OK(), "%+v", rep)
	require.Equal(t, []string{w.Name()}, rep.Witnesses)

	// The published policy page shows the origin and the key.
	page := stacktest.Body(t, s.Get("/p/jeongeup/library/cctv"))
	require.Contains(t, page, "관리대장 검증 정보")
	require.Contains(t, page, "<code>"+key.GetOrigin()+"</code>")
	pageKey := regexp.MustCompile(`서명 검증키 \(note verifier key\)</dt><dd><code>([^<]+)</code>`).FindStringSubmatch(page)
	require.Len(t, pageKey, 2)
	pageKey[1] = html.UnescapeString(pageKey[1]) // as a browser shows it
	require.Equal(t, key.GetVerifierKey(), pageKey[1])

	// The attack.
	forged := substituteKey(t, s.DatabaseURL, key.GetOrigin())
	for name, st := range map[string]*verify.State{"pinned": {VerifierKey: key.GetVerifierKey()}, "from the page": {VerifierKey: pageKey[1]}} {
		for _, token := range []string{"", s.Token(auth.RoleAuditor, libraryLog)} {
			rep, err := verify.Run(t.Context(), &verify.Client{BaseURL: s.URL, Token: token}, libraryLog, st, verify.Policy{})
			require.False(t, err == nil && rep.OK(), "%s: the forged ledger passed: %+v", name, rep)
		}
	}
	// The served key is still the signer's, not the column's.
	again, err := cl.GetVerifierKey(context.Background(), &ledgerv1.GetVerifierKeyRequest{Tenant: "jeongeup", Unit: "library"})
	require.NoError(t, err)
	require.Equal(t, key.GetVerifierKey(), again.GetVerifierKey())
	// The witness refuses the forged checkpoint, not signed by the key it knows for the log (the
	// omniwitness answers 500 for it), and cosigns nothing.
	sigs, _, err := w.Update(t.Context(), uint64(size), []byte(forged), nil)
	require.Error(t, err)
	require.Empty(t, sigs)

	// A restart refuses to start, saying which log and what: TestOpen_RefusesStoredKeysThatAreNotTheSigners.
}

// substituteKey rewrites entry 1 of the library's ledger in PostgreSQL, rebuilds the tree from the
// leaves, signs its checkpoint with a new key and writes that key where pipa keeps keys, and
// returns the forged checkpoint.
func substituteKey(t *testing.T, dbURL, origin string) string {
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, dbURL)
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, `UPDATE ledger.entries SET leaf = replace(convert_from(leaf, 'UTF8'), '정읍경찰서', '정읍시청')::bytea
		WHERE tenant_id = 'jeongeup' AND unit_id = 'library' AND idx = 1`)
	require.NoError(t, err)
	rows, err := conn.Query(ctx, `SELECT leaf FROM ledger.entries WHERE tenant_id = 'jeongeup' AND unit_id = 'library' ORDER BY idx`)
	require.NoError(t, err)
	leaves, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	require.NoError(t, err)
	var hashes []tlog.Hash
	r := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = hashes[x]
		}
		return out, nil
	})
	for i, l := range leaves {
		hs, err := tlog.StoredHashes(int64(i), l, r)
		require.NoError(t, err)
		hashes = append(hashes, hs...)
	}
	n := int64(len(leaves))
	root, err := tlog.TreeHash(n, r)
	require.NoError(t, err)
	skey, vkey, err := note.GenerateKey(rand.Reader, origin)
	require.NoError(t, err)
	signer, err := note.NewSigner(skey)
	require.NoError(t, err)
	cp, err := note.Sign(&note.Note{Text: origin + "\n" + strconv.FormatInt(n, 10) + "\n" + root.String() + "\n"}, signer)
	require.NoError(t, err)
	for i, h := range hashes {
		_, err := conn.Exec(ctx, `UPDATE ledger.hashes SET hash = $2 WHERE tenant_id = 'jeongeup' AND unit_id = 'library' AND storage_idx = $1`, i, h[:])
		require.NoError(t, err)
	}
	for _, q := range []string{
		`UPDATE ledger.logs SET root = $1, checkpoint = $2, verifier_key = $3 WHERE tenant_id = 'jeongeup' AND unit_id = 'library'`,
		`UPDATE ledger.log_keys SET verifier_key = $3 WHERE tenant_id = 'jeongeup' AND unit_id = 'library' AND $1::bytea IS NOT NULL AND $2 <> ''`,
		`UPDATE ledger.cosigned SET note = $2 WHERE tenant_id = 'jeongeup' AND unit_id = 'library' AND $1::bytea IS NOT NULL AND $3 <> ''`,
	} {
		_, err := conn.Exec(ctx, q, root[:], string(cp), vkey)
		require.NoError(t, err)
	}
	return string(cp)
}
