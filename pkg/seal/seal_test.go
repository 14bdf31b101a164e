package seal

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func key(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

func spec(id string, k []byte) string { return id + ":" + base64.StdEncoding.EncodeToString(k) }

func TestSealOpen_RoundTrip(t *testing.T) {
	b, err := New(map[string][]byte{"k1": key(1)}, "k1")
	require.NoError(t, err)
	ad := []byte("tenants/t/units/u/ledger/entries/7")

	sealed, err := b.Seal([]byte("경위 홍길동"), ad)
	require.NoError(t, err)
	require.True(t, bytes.HasPrefix(sealed, []byte("k1\x00")), "the key id leads the sealed bytes")
	require.NotContains(t, string(sealed), "홍길동")

	got, err := b.Open(sealed, ad)
	require.NoError(t, err)
	require.Equal(t, "경위 홍길동", string(got))

	again, err := b.Seal([]byte("경위 홍길동"), ad)
	require.NoError(t, err)
	require.NotEqual(t, sealed, again, "a fresh nonce each time")

	empty, err := b.Seal(nil, ad)
	require.NoError(t, err)
	got, err = b.Open(empty, ad)
	require.NoError(t, err)
	require.Empty(t, got)
}

func TestOpen_WrongAssociatedDataFails(t *testing.T) {
	b, err := New(map[string][]byte{"k1": key(1)}, "k1")
	require.NoError(t, err)
	sealed, err := b.Seal([]byte("010-1234-5678"), []byte("entries/7/requester_contact"))
	require.NoError(t, err)

	_, err = b.Open(sealed, []byte("entries/8/requester_contact"))
	require.ErrorIs(t, err, ErrOpen)
	require.NotContains(t, err.Error(), "010")
}

func TestRotation(t *testing.T) {
	old, err := New(map[string][]byte{"2025": key(1)}, "2025")
	require.NoError(t, err)
	sealedOld, err := old.Seal([]byte("old value"), nil)
	require.NoError(t, err)

	// Rotating = adding a key as current and keeping the old one.
	rotated, err := Parse(spec("2026", key(2)) + "," + spec("2025", key(1)))
	require.NoError(t, err)
	require.Equal(t, "2026", rotated.Current())

	got, err := rotated.Open(sealedOld, nil)
	require.NoError(t, err, "the old key still opens")
	require.Equal(t, "old value", string(got))

	sealedNew, err := rotated.Seal([]byte("new value"), nil)
	require.NoError(t, err)
	id, err := KeyID(sealedNew)
	require.NoError(t, err)
	require.Equal(t, "2026", id, "the new key seals")

	_, err = old.Open(sealedNew, nil)
	require.ErrorIs(t, err, ErrUnknownKey)
}

func TestOpen_TamperingFails(t *testing.T) {
	b, err := New(map[string][]byte{"k1": key(1), "k2": key(2)}, "k1")
	require.NoError(t, err)
	sealed, err := b.Seal([]byte("secret"), []byte("ad"))
	require.NoError(t, err)

	for i := range sealed {
		c := bytes.Clone(sealed)
		c[i] ^= 0x01
		_, err := b.Open(c, []byte("ad"))
		require.Error(t, err, "byte %d flipped", i)
	}
	// Swapping the key id for another held key must not open either.
	swapped := append([]byte("k2"), sealed[2:]...)
	_, err = b.Open(swapped, []byte("ad"))
	require.ErrorIs(t, err, ErrOpen)

	for _, bad := range [][]byte{nil, []byte("k1"), []byte("\x00abc"), []byte("k1\x00short")} {
		_, err := b.Open(bad, []byte("ad"))
		require.Error(t, err)
	}
	_, err = b.Open(sealed[:len(sealed)-1], []byte("ad"))
	require.ErrorIs(t, err, ErrOpen)
}

func TestParse_MalformedRejected(t *testing.T) {
	secret := base64.StdEncoding.EncodeToString(key(9))
	for name, s := range map[string]string{
		"empty":          "",
		"no id":          secret,
		"bad base64":     "k1:not*base64",
		"short key":      "k1:" + base64.StdEncoding.EncodeToString(key(9)[:16]),
		"bad id":         "k 1:" + secret,
		"duplicate id":   "k1:" + secret + ",k1:" + secret,
		"empty id":       ":" + secret,
		"only separator": ",,",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse(s)
			require.Error(t, err)
			require.NotContains(t, err.Error(), secret, "errors never carry key material")
		})
	}
}

func TestFromEnv(t *testing.T) {
	t.Run("neither", func(t *testing.T) {
		t.Setenv("PIPA_DATA_KEY", "")
		t.Setenv("PIPA_DATA_KEY_FILE", "")
		_, err := FromEnv()
		require.ErrorIs(t, err, ErrNoKey)
	})
	t.Run("inline, first is current", func(t *testing.T) {
		t.Setenv("PIPA_DATA_KEY", spec("a", key(1))+", "+spec("b", key(2)))
		t.Setenv("PIPA_DATA_KEY_FILE", "")
		b, err := FromEnv()
		require.NoError(t, err)
		require.Equal(t, "a", b.Current())
	})
	t.Run("file", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "key")
		require.NoError(t, os.WriteFile(p, []byte(spec("f1", key(3))+"\n"+spec("f0", key(4))+"\n"), 0o600))
		t.Setenv("PIPA_DATA_KEY", "")
		t.Setenv("PIPA_DATA_KEY_FILE", p)
		b, err := FromEnv()
		require.NoError(t, err)
		require.Equal(t, "f1", b.Current())
	})
	t.Run("malformed", func(t *testing.T) {
		t.Setenv("PIPA_DATA_KEY", "k1:AAAA")
		t.Setenv("PIPA_DATA_KEY_FILE", "")
		_, err := FromEnv()
		require.ErrorContains(t, err, "PIPA_DATA_KEY")
	})
	t.Run("both", func(t *testing.T) {
		t.Setenv("PIPA_DATA_KEY", spec("a", key(1)))
		t.Setenv("PIPA_DATA_KEY_FILE", "/nonexistent")
		_, err := FromEnv()
		require.Error(t, err)
	})
}

func TestLoadOrCreateDevKey(t *testing.T) {
	p := filepath.Join(t.TempDir(), "data.key")
	b1, err := LoadOrCreateDevKey(p)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(b1.Current(), "dev-"))

	st, err := os.Stat(p)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())

	sealed, err := b1.Seal([]byte("v"), nil)
	require.NoError(t, err)
	b2, err := LoadOrCreateDevKey(p)
	require.NoError(t, err, "the second call reads the same file")
	require.Equal(t, b1.Current(), b2.Current())
	got, err := b2.Open(sealed, nil)
	require.NoError(t, err)
	require.Equal(t, "v", string(got))
}

func TestNew_Rejects(t *testing.T) {
	_, err := New(nil, "k")
	require.Error(t, err)
	_, err = New(map[string][]byte{"k": key(1)}, "other")
	require.Error(t, err)
	_, err = New(map[string][]byte{"k": key(1)[:16]}, "k")
	require.Error(t, err, "AES-128 keys are refused")
}

// A tag is the same for the same key, purpose and value, differs for any of them, and is still
// found (among Tags) once the current key has changed.
func TestTags(t *testing.T) {
	old, err := New(map[string][]byte{"k1": key(1)}, "k1")
	require.NoError(t, err)
	both, err := New(map[string][]byte{"k1": key(1), "k2": key(2)}, "k2")
	require.NoError(t, err)
	v := []byte("https://sso.iksan.go.kr\x00kim")
	stored := old.Tags("account", v)
	require.Len(t, stored, 1)
	require.Len(t, stored[0], 32)
	require.Equal(t, stored, old.Tags("account", v))
	require.NotEqual(t, stored[0], old.Tags("other", v)[0], "bound to the purpose")
	require.NotEqual(t, stored[0], old.Tags("account", []byte("https://sso.iksan.go.kr\x00lee"))[0])
	now := both.Tags("account", v)
	require.Len(t, now, 2)
	require.NotEqual(t, stored[0], now[0], "the current key's first")
	require.Equal(t, stored[0], now[1], "found after the current key changed")
}
