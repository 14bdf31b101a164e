package ledger_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pipa-kr/pipa/pkg/auth"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	"github.com/pipa-kr/pipa/services/ledger/cosign"
	"github.com/pipa-kr/pipa/services/ledger/cosign/cosigntest"
	"github.com/pipa-kr/pipa/services/ledger/store/pg"
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
	s := newTilesStack(t)
	staff := as(t, s, "song.sh", auth.RoleHandler, iksanLog)
	appendUse := func() {
		t.Helper()
		_, err := s.client.AppendEntry(staff, &ledgerv1.AppendEntryRequest{Parent: iksanLog, Entry: use()})
		require.NoError(t, err)
	}
	appendUse()
	w := cosigntest.Start(t, "witness.iksan.test")
	w.Know(t, s.verifierKey(t).GetVerifierKey())
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
