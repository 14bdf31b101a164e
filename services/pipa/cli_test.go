package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pipa-kr/pipa/pkg/auth"
)

// pipa runs the command line in-process: its exit status, stdout and stderr.
func pipa(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// -h and --help exit 0 on every command and list that command's flags, and only them.
func TestHelp(t *testing.T) {
	for _, c := range []struct {
		args        []string
		has, hasNot []string
	}{
		{[]string{"serve"}, []string{"-target", "-http-addr", "-metrics-addr", "-oidc-role-map", "-database-url"}, []string{"-examples", "-role "}},
		{[]string{"dev"}, []string{"-examples", "-http-addr", "-dev-key"}, []string{"-target", "-role "}},
		{[]string{"migrate"}, []string{"-database-url"}, []string{"-target", "-http-addr", "-dev-key"}},
		{[]string{"token"}, []string{"-role", "-scope", "-ttl", "-dev-key"}, []string{"-target", "-http-addr", "-database-url", "-oidc"}},
		{[]string{"import"}, []string{"-addr", "-token", "-dev-key"}, []string{"-target", "-http-addr", "-database-url"}},
		{[]string{"ledger", "verify"}, []string{"-log", "-key", "-witness", "-state"}, []string{"-target", "-database-url"}},
		{[]string{"ledger"}, []string{"ledger verify"}, []string{"-target"}},
		{[]string{"targets"}, []string{"targets"}, []string{"flags"}},
	} {
		for _, h := range []string{"-h", "--help"} {
			name := strings.Join(append(c.args, h), " ")
			code, out, errOut := pipa(t, append(c.args, h)...)
			require.Equal(t, 0, code, "%s: %s", name, errOut)
			require.True(t, strings.HasPrefix(out, "usage: pipa "+c.args[0]), "%s: %s", name, out)
			for _, s := range c.has {
				require.Contains(t, out, s, name)
			}
			for _, s := range c.hasNot {
				require.NotContains(t, out, s, name)
			}
			// A flag's usage is not read as naming its argument (Go's flag takes `quoted` words so).
			require.NotRegexp(t, `-dev-key pipa`, out, name)
		}
	}
	code, out, _ := pipa(t, "--help")
	require.Equal(t, 0, code)
	require.Contains(t, out, "pipa serve")

	code, _, errOut := pipa(t, "token", "-grpc-addr", ":1")
	require.Equal(t, 2, code, "a flag of another command is a usage error")
	require.Contains(t, errOut, "flag provided but not defined: -grpc-addr")
}

// pipa token mints with the key pipa dev made, found from any directory below the repository's
// .data, and never makes one of its own.
func TestTokenFindsTheDevKey(t *testing.T) {
	t.Setenv("PIPA_DEV_KEY", "")
	os.Unsetenv("PIPA_DEV_KEY")
	root := t.TempDir()
	key, err := auth.LoadOrCreateDevKey(filepath.Join(root, ".data", "dev-key.pem"))
	require.NoError(t, err)
	deep := filepath.Join(root, "services", "pipa")
	require.NoError(t, os.MkdirAll(deep, 0o755))
	t.Chdir(deep)

	code, out, errOut := pipa(t, "token", "-role", "handler", "-scope", "tenants/jeongeup/units/library")
	require.Equal(t, 0, code, errOut)
	p, err := auth.NewDevVerifier(key.Public().(ed25519.PublicKey)).Verify(context.Background(), strings.TrimSpace(out))
	require.NoError(t, err, "the server's key verifies it")
	require.Equal(t, []auth.Grant{{Role: auth.RoleHandler, Scope: "tenants/jeongeup/units/library"}}, p.Grants)

	// Elsewhere, it says where it looked and makes nothing.
	elsewhere := t.TempDir()
	t.Chdir(elsewhere)
	code, _, errOut = pipa(t, "token")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "no development key")
	require.Contains(t, errOut, elsewhere)
	require.NoDirExists(t, filepath.Join(elsewhere, ".data"))

	// A key named that does not exist is refused too, naming it.
	code, _, errOut = pipa(t, "token", "-dev-key", filepath.Join(elsewhere, "k.pem"))
	require.Equal(t, 1, code)
	require.Contains(t, errOut, filepath.Join(elsewhere, "k.pem"))
	require.NoFileExists(t, filepath.Join(elsewhere, "k.pem"))
}

// A port in use names the listener and its setting.
func TestBusyPortNamesTheListener(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()
	t.Setenv("PIPA_GRPC_ADDR", "127.0.0.1:0")
	t.Setenv("PIPA_METRICS_ADDR", "127.0.0.1:0")
	t.Setenv("PIPA_HTTP_ADDR", busy.Addr().String())
	code, _, errOut := pipa(t, "serve")
	require.Equal(t, 1, code)
	require.Equal(t, "pipa: http listener: PIPA_HTTP_ADDR="+busy.Addr().String()+": address already in use\n", errOut)

	t.Setenv("PIPA_HTTP_ADDR", "127.0.0.1:0")
	t.Setenv("PIPA_METRICS_ADDR", busy.Addr().String())
	code, _, errOut = pipa(t, "serve")
	require.Equal(t, 1, code)
	require.Equal(t, "pipa: metrics listener: PIPA_METRICS_ADDR="+busy.Addr().String()+": address already in use\n", errOut)
}

// pipa dev listens on loopback unless an address is set; pipa serve on every interface.
func TestDevListensOnLoopback(t *testing.T) {
	for _, v := range []string{"PIPA_GRPC_ADDR", "PIPA_HTTP_ADDR", "PIPA_METRICS_ADDR"} {
		t.Setenv(v, "")
		os.Unsetenv(v)
	}
	_, out, _ := pipa(t, "dev", "-h")
	for _, want := range []string{`(default "127.0.0.1:9090")`, `(default "127.0.0.1:8080")`, `(default "127.0.0.1:9464")`} {
		require.Contains(t, out, want)
	}
	_, out, _ = pipa(t, "serve", "-h")
	require.Contains(t, out, `(default ":8080")`)

	t.Setenv("PIPA_HTTP_ADDR", "0.0.0.0:8080")
	_, out, _ = pipa(t, "dev", "-h")
	require.Contains(t, out, `(default "0.0.0.0:8080")`, "told otherwise")
}
