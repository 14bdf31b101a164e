package auth

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
)

func newDevKey(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	return key
}

var officer = Principal{
	Issuer:  DevIssuer, // Mint's; Verify reads it back
	Subject: "officer-17",
	Name:    "김민지",
	Grants:  []Grant{{RoleHandler, "tenants/iksan/units/civil-safety"}},
}

func TestDevMintVerify(t *testing.T) {
	key := newDevKey(t)
	tok, err := Mint(key, officer, time.Hour)
	require.NoError(t, err)

	p, err := NewDevVerifier(key.Public().(ed25519.PublicKey)).Verify(context.Background(), tok)
	require.NoError(t, err)
	require.Equal(t, officer, *p)
}

func TestMintRefusesWhatVerifyWouldReject(t *testing.T) {
	key := newDevKey(t)
	_, err := Mint(key, Principal{Subject: "x", Grants: []Grant{{"root", "*"}}}, time.Hour)
	require.ErrorContains(t, err, "unknown role")
	_, err = Mint(key, Principal{Subject: "x", Grants: []Grant{{RoleCPO, "iksan"}}}, time.Hour)
	require.ErrorContains(t, err, "malformed scope")
	_, err = Mint(key, Principal{Grants: []Grant{{RoleCPO, "*"}}}, time.Hour)
	require.ErrorContains(t, err, "subject")
	_, err = Mint(key, officer, 0)
	require.Error(t, err)
}

// signDev signs arbitrary claims, for tokens Mint would refuse to make.
func signDev(t *testing.T, key ed25519.PrivateKey, c claims) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c).SignedString(key)
	require.NoError(t, err)
	return tok
}

func TestDevVerifierRejects(t *testing.T) {
	key := newDevKey(t)
	v := NewDevVerifier(key.Public().(ed25519.PublicKey))
	now := time.Now()
	valid := func() claims {
		return claims{
			RegisteredClaims: jwt.RegisteredClaims{
				Issuer: DevIssuer, Subject: "u1", Audience: jwt.ClaimStrings{DevAudience},
				IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)),
			},
			Roles: []byte(`[{"role":"cpo","scope":"tenants/iksan"}]`),
		}
	}
	_, err := v.Verify(context.Background(), signDev(t, key, valid()))
	require.NoError(t, err, "the baseline must pass, or the cases below prove nothing")

	t.Run("expired", func(t *testing.T) {
		c := valid()
		c.IssuedAt = jwt.NewNumericDate(now.Add(-2 * time.Hour))
		c.ExpiresAt = jwt.NewNumericDate(now.Add(-time.Minute))
		_, err := v.Verify(context.Background(), signDev(t, key, c))
		require.ErrorIs(t, err, ErrTokenExpired)
	})
	t.Run("expired within leeway is accepted", func(t *testing.T) {
		c := valid()
		c.ExpiresAt = jwt.NewNumericDate(now.Add(-10 * time.Second))
		_, err := v.Verify(context.Background(), signDev(t, key, c))
		require.NoError(t, err)
	})
	t.Run("wrong key", func(t *testing.T) {
		_, err := v.Verify(context.Background(), signDev(t, newDevKey(t), valid()))
		require.ErrorIs(t, err, jwt.ErrTokenSignatureInvalid)
	})
	t.Run("HMAC with the public key as secret", func(t *testing.T) {
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, valid()).SignedString([]byte(key.Public().(ed25519.PublicKey)))
		require.NoError(t, err)
		_, err = v.Verify(context.Background(), tok)
		require.ErrorIs(t, err, jwt.ErrTokenSignatureInvalid)
	})
	for name, mutate := range map[string]func(*claims){
		"wrong issuer":    func(c *claims) { c.Issuer = "someone-else" },
		"wrong audience":  func(c *claims) { c.Audience = jwt.ClaimStrings{"registry"} },
		"no expiry":       func(c *claims) { c.ExpiresAt = nil },
		"issued later":    func(c *claims) { c.IssuedAt = jwt.NewNumericDate(now.Add(time.Hour)) },
		"unknown role":    func(c *claims) { c.Roles = []byte(`[{"role":"superuser","scope":"*"}]`) },
		"malformed scope": func(c *claims) { c.Roles = []byte(`[{"role":"cpo","scope":"tenant/iksan"}]`) },
		"roles a number":  func(c *claims) { c.Roles = []byte(`7`) },
		"no subject":      func(c *claims) { c.Subject = "" },
	} {
		t.Run(name, func(t *testing.T) {
			c := valid()
			mutate(&c)
			_, err := v.Verify(context.Background(), signDev(t, key, c))
			require.Error(t, err)
			require.NotErrorIs(t, err, ErrTokenExpired)
		})
	}
	t.Run("garbage", func(t *testing.T) {
		_, err := v.Verify(context.Background(), "not.a.jwt")
		require.Error(t, err)
	})
}

func TestLoadOrCreateDevKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secrets", "dev", "signing.pem")

	// Services started together race to create the key; all must end up with the same one.
	keys := make([]ed25519.PrivateKey, 8)
	errs := make([]error, len(keys))
	var wg sync.WaitGroup
	for i := range keys {
		wg.Go(func() { keys[i], errs[i] = LoadOrCreateDevKey(path) })
	}
	wg.Wait()
	for i := range keys {
		require.NoError(t, errs[i])
		require.True(t, keys[0].Equal(keys[i]))
	}

	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	entries, err := os.ReadDir(filepath.Dir(path))
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temporary files left behind")

	again, err := LoadOrCreateDevKey(path)
	require.NoError(t, err)
	require.True(t, keys[0].Equal(again))

	require.NoError(t, os.WriteFile(path, []byte("not a key"), 0o600))
	_, err = LoadOrCreateDevKey(path)
	require.ErrorContains(t, err, "PEM")
}

func TestDevServiceTokenRefreshes(t *testing.T) {
	key := newDevKey(t)
	v := NewDevVerifier(key.Public().(ed25519.PublicKey))
	now := time.Now().Add(-31 * time.Minute) // so that every token minted below is valid now
	src := &serviceToken{key: key, ttl: time.Hour, now: func() time.Time { return now }}

	first, err := src.get()
	require.NoError(t, err)
	p, err := v.Verify(context.Background(), first)
	require.NoError(t, err)
	require.True(t, p.Allows("any-tenant", nil, RoleService))

	now = now.Add(29 * time.Minute)
	again, err := src.get()
	require.NoError(t, err)
	require.Equal(t, first, again, "reused while more than half its life remains")

	now = now.Add(2 * time.Minute)
	fresh, err := src.get()
	require.NoError(t, err)
	require.NotEqual(t, first, fresh, "re-minted past half its life")
	_, err = v.Verify(context.Background(), fresh)
	require.NoError(t, err)
}
