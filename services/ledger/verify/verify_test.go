package verify_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pipa-kr/pipa/services/ledger/verify"
	"github.com/pipa-kr/pipa/services/ledger/verify/verifytest"
)

// tiles is the public tlog-tiles prefix of log.
func tiles(log string) string { return "/v1/public/" + log + "/ledger/tiles/" }

// A checkpoint must be the log's: here the server answers for unit a with unit b's checkpoint, an
// empty tree that would hide a's entries. b's own key signed it, and its origin names b.
func TestRunRefusesAnotherLogsCheckpoint(t *testing.T) {
	t.Parallel()
	l := verifytest.New(t)
	const a, b = "tenants/t/units/a", "tenants/t/units/b"
	l.Append(a)
	l.Append(a)
	l.Checkpoint(b)
	c := &verify.Client{BaseURL: l.URL, Token: l.Token}
	rep, err := verify.Run(t.Context(), c, a, &verify.State{}, verify.Policy{})
	require.NoError(t, err)
	require.True(t, rep.OK(), "%+v", rep)

	l.Misroute(tiles(a)+"checkpoint", tiles(b)+"checkpoint")
	st := &verify.State{}
	rep, err = verify.Run(t.Context(), c, a, st, verify.Policy{})
	require.NoError(t, err)
	require.False(t, rep.OK())
	require.Contains(t, rep.Problem, "the checkpoint's signature does not verify")
	require.Zero(t, st.TreeSize, "nothing is kept from a failed run")
}

// A leaf names the log and index it belongs at (entry.EncodeLeaf): a leaf signed into the tree
// elsewhere, or served from elsewhere, is bad at the index it was served at, and so is a leaf
// that only starts like one.
func TestRunChecksWhereEachLeafBelongs(t *testing.T) {
	t.Parallel()
	l := verifytest.New(t)
	c := &verify.Client{BaseURL: l.URL, Token: l.Token}
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
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			log := fmt.Sprintf("tenants/t/units/u%d", n)
			l.Append(log)
			l.Append(log)
			tc.tamper(log)
			l.Append(log)
			rep, err := verify.Run(t.Context(), c, log, &verify.State{}, verify.Policy{})
			require.NoError(t, err)
			require.Equal(t, int64(2), rep.FirstBad, "%+v", rep)
			require.Contains(t, rep.Problem, "entry 2 "+strings.ReplaceAll(tc.want, "{log}", log))
		})
	}
}

// verify reads tiles: a later run reads only the new entries, from the tree's edge kept in the
// state, and a log that was rewritten below what the state saw is refused.
func TestRunReadsOnlyNewEntries(t *testing.T) {
	t.Parallel()
	l := verifytest.New(t)
	const log = "tenants/t/units/a"
	for range 300 {
		l.Append(log)
	}
	c := &verify.Client{BaseURL: l.URL, Token: l.Token}
	st := &verify.State{}
	rep, err := verify.Run(t.Context(), c, log, st, verify.Policy{})
	require.NoError(t, err)
	require.True(t, rep.OK(), "%+v", rep)
	require.Equal(t, int64(300), rep.Read)
	// The key, the checkpoint, two bundles, the redacted entries.
	require.Equal(t, int64(5), c.Requests.Load())
	require.NotEmpty(t, st.Edge)

	for range 5 {
		l.Append(log)
	}
	c.Requests.Store(0)
	rep, err = verify.Run(t.Context(), c, log, st, verify.Policy{})
	require.NoError(t, err)
	require.True(t, rep.OK(), "%+v", rep)
	require.Equal(t, int64(5), rep.Read)
	require.Equal(t, int64(4), c.Requests.Load(), "the key, the checkpoint, one bundle, the redacted entries")
}

// Erasure that shows: every entry served as redacted has a REDACTION entry following it in the
// tree, and every entry a REDACTION entry erased is served as redacted.
func TestRunChecksRedactions(t *testing.T) {
	t.Parallel()
	l := verifytest.New(t)
	c := &verify.Client{BaseURL: l.URL, Token: l.Token}
	const a, b = "tenants/t/units/a", "tenants/t/units/b"
	for _, log := range []string{a, b} {
		l.Append(log)
		l.Append(log)
		l.Redact(log, 0)
		rep, err := verify.Run(t.Context(), c, log, &verify.State{}, verify.Policy{})
		require.NoError(t, err)
		require.True(t, rep.OK(), "%+v", rep)
	}

	// Values put back beside an entry that a REDACTION entry erased.
	l.Exec(`UPDATE ledger.entries SET redacted = false, redacted_by = NULL WHERE unit_id = 'a' AND idx = 0`)
	rep, err := verify.Run(t.Context(), c, a, &verify.State{}, verify.Policy{})
	require.NoError(t, err)
	require.Equal(t, int64(0), rep.FirstBad)
	require.Contains(t, rep.Problem, "entry 0 was erased by a REDACTION entry, but is not served as redacted")

	// An entry erased in the database without a REDACTION entry: the server refuses to list it.
	l.Exec(`UPDATE ledger.entries SET sealed = NULL, redacted = true WHERE unit_id = 'b' AND idx = 1`)
	rep, err = verify.Run(t.Context(), c, b, &verify.State{}, verify.Policy{})
	require.False(t, err == nil && rep.OK(), "%+v", rep)
	if err != nil {
		require.ErrorContains(t, err, "REDACTION")
	}

	// Without a token nothing past the checkpoint is read: the tenant did not publish its leaves.
	_, err = verify.Run(t.Context(), &verify.Client{BaseURL: l.URL}, a, &verify.State{}, verify.Policy{})
	require.ErrorContains(t, err, "401")
}
