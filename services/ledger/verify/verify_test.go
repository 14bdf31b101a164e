package verify_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pipa-kr/pipa/services/ledger/verify"
	"github.com/pipa-kr/pipa/services/ledger/verify/verifytest"
)

// A checkpoint must be the log's: here the server answers for unit a with unit b's checkpoint, an
// empty tree that would hide a's entries. b's own key signed it, and its origin names b.
func TestRunRefusesAnotherLogsCheckpoint(t *testing.T) {
	l := verifytest.New(t)
	const a, b = "tenants/t/units/a", "tenants/t/units/b"
	l.Append(a)
	l.Append(a)
	l.Checkpoint(b)
	c := verify.Client{BaseURL: l.URL, Token: l.Token}
	rep, err := verify.Run(t.Context(), c, a, &verify.State{})
	require.NoError(t, err)
	require.True(t, rep.OK(), "%+v", rep)

	l.Misroute("/v1/"+a+"/ledger/checkpoint", "/v1/"+b+"/ledger/checkpoint")
	st := &verify.State{}
	rep, err = verify.Run(t.Context(), c, a, st)
	require.NoError(t, err)
	require.False(t, rep.OK())
	require.Contains(t, rep.Problem, "the checkpoint's signature does not verify")
	require.Zero(t, st.TreeSize, "nothing is kept from a failed run")
}

// A leaf names the log and index it belongs at (entry.EncodeLeaf): a leaf signed into the tree
// elsewhere, or served from elsewhere, is bad at the index it was served at, and so is a leaf
// that only starts like one.
func TestRunChecksWhereEachLeafBelongs(t *testing.T) {
	l := verifytest.New(t)
	c := verify.Client{BaseURL: l.URL, Token: l.Token}
	for n, tc := range []struct {
		name   string
		tamper func(log string)
		want   string // {log} is the log's name
	}{
		{"an earlier leaf signed in again", func(log string) {
			l.Forge(log, func(int64) []byte { return l.Leaf(log, 1) })
		}, "is a leaf of {log} at index 1"},
		{"another log's leaf signed in", func(log string) {
			l.Forge(log, func(i int64) []byte { return verifytest.Relabel(l.Leaf(log, 1), "tenants/t/units/other", i) })
		}, "is a leaf of tenants/t/units/other at index 2"},
		{"a leaf with the right header only", func(log string) {
			l.Forge(log, func(i int64) []byte { return append(verifytest.Relabel(l.Leaf(log, 1), log, i), "unknown: x\n"...) })
		}, "is not a canonical leaf"},
		{"an earlier leaf served in its place", func(log string) {
			l.Append(log)
			l.Misroute("/v1/"+log+"/ledger/entries/2:leaf", "/v1/"+log+"/ledger/entries/1:leaf")
		}, "is a leaf of {log} at index 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log := fmt.Sprintf("tenants/t/units/u%d", n)
			l.Append(log)
			l.Append(log)
			tc.tamper(log)
			l.Append(log)
			rep, err := verify.Run(t.Context(), c, log, &verify.State{})
			require.NoError(t, err)
			require.Equal(t, int64(2), rep.FirstBad, "%+v", rep)
			require.Contains(t, rep.Problem, "entry 2 "+strings.ReplaceAll(tc.want, "{log}", log))
		})
	}
}
