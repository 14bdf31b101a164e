package auth

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

type countingVerifier struct {
	Verifier
	calls int
}

func (c *countingVerifier) Verify(ctx context.Context, raw string) (*Principal, error) {
	c.calls++
	return c.Verifier.Verify(ctx, raw)
}

func TestCachedVerifier(t *testing.T) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	inner := &countingVerifier{Verifier: NewDevVerifier(key.Public().(ed25519.PublicKey))}
	v := Cached(inner, 16, nil)
	tok, err := Mint(key, Principal{Subject: "a", Grants: []Grant{{Role: RoleAuditor, Scope: "tenants/x"}}}, time.Hour)
	require.NoError(t, err)

	for range 3 {
		p, err := v.Verify(context.Background(), tok)
		require.NoError(t, err)
		require.Equal(t, "a", p.Subject)
	}
	require.Equal(t, 1, inner.calls, "a verified token is not checked again")

	// A bad token is refused every time, never cached.
	for range 2 {
		_, err = v.Verify(context.Background(), tok+"x")
		require.Error(t, err)
	}
	require.Equal(t, 3, inner.calls)

	// An expired token is not served from the cache.
	short, err := Mint(key, Principal{Subject: "b"}, time.Second)
	require.NoError(t, err)
	_, err = v.Verify(context.Background(), short)
	require.NoError(t, err)
	exp, ok := expiry(short)
	require.True(t, ok)
	require.WithinDuration(t, time.Now().Add(time.Second), exp, 2*time.Second)
}
