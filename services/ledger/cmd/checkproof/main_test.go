package main

import (
	"crypto/rand"
	"go/build"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/mod/sumdb/note"

	"github.com/pipa-kr/pipa/services/ledger/verify/verifytest"
)

// checkproof trusts nothing the server says about where things belong: the key can be pinned,
// the checkpoint must be the asked log's (signed by its own key, and naming it: a log made before
// logs had keys of their own shares its tenant's key), and the leaf must name the asked log and
// index even when the tree holds it.
func TestCheck(t *testing.T) {
	t.Parallel()
	l := verifytest.New(t)
	const a, b, c = "tenants/t/units/a", "tenants/t/units/b", "tenants/t/units/c"
	for _, log := range []string{a, b, c} {
		l.Append(log)
		l.Append(log)
	}
	key := l.VerifierKey(a)

	ok, err := check(l.URL, a, 1, l.Token, "")
	require.NoError(t, err)
	require.Equal(t, "ok: entry 1 is in the tree of size 2 signed by pipa.kr/"+a+" (origin pipa.kr/"+a+")", ok)

	// A pinned key is used, not the one the server gives; another key is refused.
	l.Misroute("/v1/public/tenants/t/", "/v1/public/tenants/elsewhere/")
	_, err = check(l.URL, a, 1, l.Token, "")
	require.ErrorContains(t, err, "404")
	_, err = check(l.URL, a, 1, l.Token, key)
	require.NoError(t, err)
	_, other, err := note.GenerateKey(rand.Reader, "pipa.kr/tenants/t")
	require.NoError(t, err)
	_, err = check(l.URL, a, 1, l.Token, other)
	require.ErrorContains(t, err, "checkpoint signature")

	// The server answers for log a with log b, signed by b's key.
	l.Misroute("/v1/"+a+"/", "/v1/"+b+"/")
	_, err = check(l.URL, a, 1, l.Token, key)
	require.ErrorContains(t, err, "checkpoint signature")

	// Entry 1's leaf signed into log c again at index 2.
	l.Forge(c, func(int64) []byte { return l.Leaf(c, 1) })
	_, err = check(l.URL, c, 2, l.Token, l.VerifierKey(c))
	require.ErrorContains(t, err, `entry 2's leaf does not start "pipa-ledger-entry/v1\nlog: `+c+`\nindex: 2\n"`)
	_, err = check(l.URL, c, 1, l.Token, l.VerifierKey(c))
	require.NoError(t, err)
}

// The command stays a check any verifier could write: the standard library, tlog and note.
func TestImportsOnlyTlogAndNote(t *testing.T) {
	t.Parallel()
	pkg, err := build.ImportDir(".", 0)
	require.NoError(t, err)
	for _, imp := range pkg.Imports {
		first, _, _ := strings.Cut(imp, "/")
		if !strings.Contains(first, ".") {
			continue // the standard library
		}
		require.Contains(t, []string{"golang.org/x/mod/sumdb/note", "golang.org/x/mod/sumdb/tlog"}, imp)
	}
}
