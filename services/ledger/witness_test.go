package ledger_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pipa-kr/pipa/pkg/auth"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	"github.com/pipa-kr/pipa/services/ledger"
	"github.com/pipa-kr/pipa/services/ledger/cosign"
	"github.com/pipa-kr/pipa/services/ledger/cosign/cosigntest"
	"github.com/pipa-kr/pipa/services/ledger/store/pg"
	"github.com/pipa-kr/pipa/services/ledger/verify"
)

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
	t.Parallel()
	w := cosigntest.Start(t, "witness.iksan.test")
	s := newTilesStack(t, w.Witness)
	staff := as(t, s, "song.sh", auth.RoleHandler, iksanLog)
	appendUse := func() {
		t.Helper()
		_, err := s.client.AppendEntry(staff, &ledgerv1.AppendEntryRequest{Parent: iksanLog, Entry: use()})
		require.NoError(t, err)
	}
	appendUse()
	w.Know(t, s.verifierKey(t).GetVerifierKey())
	// `pipa ledger verify` requiring a cosignature refuses the log while no witness cosigned it.
	inspector := &verify.Client{BaseURL: s.url, Token: s.token(t, iksanLog)}
	one := verify.Policy{Witnesses: []string{w.VerifierKey}, Cosignatures: 1}
	rep, err := verify.Run(t.Context(), inspector, iksanLog, &verify.State{}, one)
	require.NoError(t, err)
	require.False(t, rep.OK())
	require.Contains(t, rep.Problem, "0 of the 1 witness cosignatures required")
	c := cosign.New(s.store, []*cosign.Witness{w.Witness})
	log := pg.Log{Tenant: "iksan", Unit: "cctv"}

	// Cosigned, and served cosigned.
	for range 2 {
		appendUse()
	}
	require.NoError(t, c.Log(t.Context(), log))
	cp, err := s.client.GetCheckpoint(staff, &ledgerv1.GetCheckpointRequest{Parent: iksanLog})
	require.NoError(t, err)
	require.Equal(t, int64(3), cp.GetCosigned().GetTreeSize())
	require.Equal(t, []string{w.Name()}, cp.GetCosigned().GetWitnesses())
	require.True(t, w.Cosigned(cp.GetNote()), "the latest checkpoint, cosigned")
	require.True(t, opens(t, cp.GetNote(), cp.GetVerifierKey()))
	// Now it passes with one cosignature, and fails requiring two of two witnesses.
	rep, err = verify.Run(t.Context(), inspector, iksanLog, &verify.State{}, one)
	require.NoError(t, err)
	require.True(t, rep.OK(), "%+v", rep)
	require.Equal(t, []string{w.Name()}, rep.Witnesses)
	other := cosigntest.Start(t, "witness.other.test")
	rep, err = verify.Run(t.Context(), inspector, iksanLog, &verify.State{},
		verify.Policy{Witnesses: []string{w.VerifierKey, other.VerifierKey}, Cosignatures: 2})
	require.NoError(t, err)
	require.False(t, rep.OK())
	require.Contains(t, rep.Problem, "1 of the 2 witness cosignatures required")
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
	w.Stop()
	appendUse()
	err = c.Log(t.Context(), log)
	require.ErrorContains(t, err, "unreachable")
	st, err := s.store.WitnessState(t.Context(), "iksan", "cctv", w.Name())
	require.NoError(t, err)
	require.Contains(t, st.LastError, "unreachable")
	require.Equal(t, int64(5), st.Size)

	// A rollback: the database restored from the backup at size 3 (its genuine checkpoint, its
	// records of the witness) and pipa restarted. The witness, back, refuses it.
	w.Start(t)
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
	require.False(t, w.Cosigned(cp.GetNote()))
	require.NotEqual(t, witnessed5, cp.GetNote())
	require.Equal(t, int64(3), cp.GetCosigned().GetTreeSize(), "the restored cosigned checkpoint: the witness refused the rest")
}

// GetCheckpoint answers from the signed notes, the cosigned one's included: its tree size and its
// witnesses are read from the note, whose signatures are checked (the log's key, the announced
// witnesses'), never from the columns beside it; a note the log's key did not sign is not served
// as cosigned, and a verifier requiring a cosignature then refuses the log.
func TestWitness_CosignedCheckpointFromTheNote(t *testing.T) {
	t.Parallel()
	w := cosigntest.Start(t, "witness.iksan.test")
	s := newTilesStack(t, w.Witness)
	staff := as(t, s, "song.sh", auth.RoleHandler, iksanLog)
	for range 2 {
		_, err := s.client.AppendEntry(staff, &ledgerv1.AppendEntryRequest{Parent: iksanLog, Entry: use()})
		require.NoError(t, err)
	}
	w.Know(t, s.verifierKey(t).GetVerifierKey())
	require.NoError(t, cosign.New(s.store, []*cosign.Witness{w.Witness}).Log(t.Context(), pg.Log{Tenant: "iksan", Unit: "cctv"}))
	_, err := s.client.AppendEntry(staff, &ledgerv1.AppendEntryRequest{Parent: iksanLog, Entry: use()})
	require.NoError(t, err)

	// The columns say another size and another witness: what is served is the note's.
	_, err = s.pool.Exec(t.Context(), `UPDATE ledger.cosigned SET size = 3, witnesses = '{witness.forged.test}'`)
	require.NoError(t, err)
	cp, err := s.client.GetCheckpoint(staff, &ledgerv1.GetCheckpointRequest{Parent: iksanLog})
	require.NoError(t, err)
	require.Equal(t, int64(3), cp.GetTreeSize())
	require.Equal(t, int64(2), cp.GetCosigned().GetTreeSize())
	require.Equal(t, []string{w.Name()}, cp.GetCosigned().GetWitnesses())

	// A note rewritten in the database (another tree under the genuine signature lines) is not
	// served as cosigned, over gRPC nor at the public tiles.
	_, err = s.pool.Exec(t.Context(), `UPDATE ledger.cosigned SET note = replace(note, E'\n2\n', E'\n3\n')`)
	require.NoError(t, err)
	cp, err = s.client.GetCheckpoint(staff, &ledgerv1.GetCheckpointRequest{Parent: iksanLog})
	require.NoError(t, err)
	require.Nil(t, cp.GetCosigned())
	code, _, body := s.do(t, "GET", ledger.PublicTilesPath("iksan", "cctv")+"checkpoint", "", "")
	require.Equal(t, 200, code, body)
	require.Equal(t, cp.GetNote(), body, "the log's latest signed checkpoint, not the rewritten note")
	rep, err := verify.Run(t.Context(), &verify.Client{BaseURL: s.url}, iksanLog, &verify.State{},
		verify.Policy{Witnesses: []string{w.VerifierKey}, Cosignatures: 1})
	require.NoError(t, err)
	require.False(t, rep.OK())
	require.Contains(t, rep.Problem, "0 of the 1 witness cosignatures required")
}
