package ledger_test

import (
	"context"
	"crypto/rand"
	"net"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	f_note "github.com/transparency-dev/formats/note"
	"github.com/transparency-dev/witness/config"
	"github.com/transparency-dev/witness/omniwitness"
	"github.com/transparency-dev/witness/persistence/inmemory"
	"golang.org/x/mod/sumdb/note"

	"github.com/pipa-kr/pipa/pkg/auth"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	"github.com/pipa-kr/pipa/services/ledger/cosign"
	"github.com/pipa-kr/pipa/services/ledger/store/pg"
)

// testWitness is transparency-dev/witness's omniwitness (the witness a city would run) on a
// loopback port, keeping its state in memory, until the test ends or stop.
type testWitness struct {
	*cosign.Witness
	signer   note.Signer
	cosigKey string
	logs     *inmemory.Persistence
	stop     func()
}

// startWitness starts a witness named name that knows the logs by their verifier keys.
func startWitness(t *testing.T, name string, vkeys ...string) *testWitness {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, name)
	require.NoError(t, err)
	w := &testWitness{logs: inmemory.New()}
	w.signer, err = f_note.NewSignerForCosignatureV1(skey)
	require.NoError(t, err)
	w.cosigKey, err = f_note.VKeyToCosignatureV1(vkey)
	require.NoError(t, err)
	for _, k := range vkeys {
		w.know(t, k)
	}
	w.start(t)
	return w
}

// start serves the witness, with the state it has, on a new port.
func (w *testWitness) start(t *testing.T) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- omniwitness.Main(ctx, omniwitness.OperatorConfig{WitnessKeys: []note.Signer{w.signer},
			WitnessVerifier: w.signer.(f_note.Signer).Verifier(), Logs: w.logs}, w.logs, lis, http.DefaultClient)
	}()
	w.stop = sync.OnceFunc(func() { cancel(); <-done })
	t.Cleanup(w.stop)
	w.Witness, err = cosign.NewWitness(w.cosigKey, "http://"+lis.Addr().String()+"/", nil)
	require.NoError(t, err)
}

// know configures the witness with a log's verifier key (its name is the log's origin).
func (w *testWitness) know(t *testing.T, vkey string) {
	v := mustVerifier(t, vkey)
	require.NoError(t, w.logs.AddLogs(t.Context(), []config.Log{{VKey: vkey, Verifier: v, Origin: v.Name()}}))
}

// cosignedBy reports whether the note carries a valid cosignature of w.
func cosignedBy(t *testing.T, msg string, w *testWitness) bool {
	v, err := f_note.NewVerifierForCosignatureV1(w.VerifierKey)
	require.NoError(t, err)
	_, err = note.Open([]byte(msg), note.VerifierList(v))
	return err == nil
}

// snapshot copies the ledger's tables aside, and restore puts them back: a database backup and
// its restore.
func (s *tilesStack) snapshot(t *testing.T, name string) {
	for _, tb := range []string{"logs", "entries", "hashes", "witness_state", "cosigned"} {
		_, err := s.pool.Exec(t.Context(), `CREATE TABLE ledger.`+name+`_`+tb+` AS TABLE ledger.`+tb)
		require.NoError(t, err)
	}
}

func (s *tilesStack) restore(t *testing.T, name string) {
	_, err := s.pool.Exec(t.Context(), `DELETE FROM ledger.entries; DELETE FROM ledger.hashes; DELETE FROM ledger.logs;
		DELETE FROM ledger.witness_state; DELETE FROM ledger.cosigned`)
	require.NoError(t, err)
	for _, tb := range []string{"logs", "entries", "hashes", "witness_state", "cosigned"} {
		_, err := s.pool.Exec(t.Context(), `INSERT INTO ledger.`+tb+` SELECT * FROM ledger.`+name+`_`+tb)
		require.NoError(t, err)
	}
}

// A witness speaking C2SP tlog-witness (transparency-dev's omniwitness) cosigns the log's
// checkpoints, and pipa serves them cosigned. It refuses a rollback to an older genuine state
// (a restored backup) and a split view (another tree of a size it cosigned); pipa records why
// and keeps serving the last cosigned checkpoint. A witness that is down never stops an append.
func TestWitness_CosignsAndRefusesRollbackAndSplitView(t *testing.T) {
	s := newTilesStack(t)
	staff := as(t, s, "song.sh", auth.RoleHandler, iksanLog)
	appendUse := func() {
		t.Helper()
		_, err := s.client.AppendEntry(staff, &ledgerv1.AppendEntryRequest{Parent: iksanLog, Entry: use()})
		require.NoError(t, err)
	}
	appendUse()
	w := startWitness(t, "witness.iksan.test", s.verifierKey(t).GetVerifierKey())
	c := cosign.New(s.store, []*cosign.Witness{w.Witness})
	log := pg.Log{Tenant: "iksan", Unit: "cctv"}

	// Cosigned, and served cosigned: by the API and at the tiles' checkpoint.
	for range 2 {
		appendUse()
	}
	require.NoError(t, c.Log(t.Context(), log))
	cp, err := s.client.GetCheckpoint(staff, &ledgerv1.GetCheckpointRequest{Parent: iksanLog})
	require.NoError(t, err)
	require.Equal(t, int64(3), cp.GetCosigned().GetTreeSize())
	require.Equal(t, []string{w.Name()}, cp.GetCosigned().GetWitnesses())
	require.True(t, cosignedBy(t, cp.GetNote(), w), "the latest checkpoint, cosigned")
	require.True(t, opens(t, cp.GetNote(), cp.GetVerifierKey()))
	s.snapshot(t, "at3")

	for range 2 {
		appendUse()
	}
	require.NoError(t, c.Log(t.Context(), log))
	cp, err = s.client.GetCheckpoint(staff, &ledgerv1.GetCheckpointRequest{Parent: iksanLog})
	require.NoError(t, err)
	require.Equal(t, int64(5), cp.GetCosigned().GetTreeSize())
	witnessed5 := cp.GetCosigned().GetNote()

	// A witness that is down: appends go on, the failure is recorded, and it cosigns once back.
	w.stop()
	appendUse()
	err = c.Log(t.Context(), log)
	require.ErrorContains(t, err, "unreachable")
	st, err := s.store.WitnessState(t.Context(), "iksan", "cctv", w.Name())
	require.NoError(t, err)
	require.Contains(t, st.LastError, "unreachable")
	require.Equal(t, int64(5), st.Size)

	// A rollback: the database restored from the backup at size 3 (its genuine checkpoint, its
	// records of the witness) and pipa restarted. The witness, back, refuses it.
	w.start(t)
	c = cosign.New(s.store, []*cosign.Witness{w.Witness})
	s.restore(t, "at3")
	require.NoError(t, s.restart(t), "the restored state is genuine: pipa starts")
	_, err = s.client.AppendEntry(staff, &ledgerv1.AppendEntryRequest{Parent: iksanLog, Entry: provision()})
	require.NoError(t, err)
	err = c.Log(t.Context(), log)
	var refused *cosign.RefusedError
	require.ErrorAs(t, err, &refused)
	require.Contains(t, refused.Why, "rolled back")

	// A split view: another entry makes another tree of size 5 than the one the witness
	// cosigned. It refuses, and pipa keeps serving as cosigned what the witness cosigned.
	_, err = s.client.AppendEntry(staff, &ledgerv1.AppendEntryRequest{Parent: iksanLog, Entry: provision()})
	require.NoError(t, err)
	err = c.Log(t.Context(), log)
	require.ErrorAs(t, err, &refused)
	require.Contains(t, refused.Why, "two histories")
	cp, err = s.client.GetCheckpoint(staff, &ledgerv1.GetCheckpointRequest{Parent: iksanLog})
	require.NoError(t, err)
	require.Equal(t, int64(5), cp.GetTreeSize())
	require.False(t, cosignedBy(t, cp.GetNote(), w))
	require.NotEqual(t, witnessed5, cp.GetNote())
	require.Equal(t, int64(3), cp.GetCosigned().GetTreeSize(), "the restored cosigned checkpoint: the witness refused the rest")
}
