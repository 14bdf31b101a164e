package pg_test

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
	"google.golang.org/grpc/codes"

	"github.com/pipa-kr/pipa/pkg/apierr"
	"github.com/pipa-kr/pipa/pkg/pgtest"
	"github.com/pipa-kr/pipa/services/ledger/store/pg"
)

// gcmSealer is AES-256-GCM with a random nonce in front of the ciphertext, standing in for the
// service's envelope encryption.
type gcmSealer struct{ aead cipher.AEAD }

func newSealer(t testing.TB) *gcmSealer {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	block, err := aes.NewCipher(key)
	require.NoError(t, err)
	aead, err := cipher.NewGCM(block)
	require.NoError(t, err)
	return &gcmSealer{aead}
}

func (s *gcmSealer) Seal(plaintext, ad []byte) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize())
	_, _ = rand.Read(nonce)
	return s.aead.Seal(nonce, nonce, plaintext, ad), nil
}

func (s *gcmSealer) Open(sealed, ad []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return nil, errors.New("sealed value too short")
	}
	return s.aead.Open(nil, sealed[:n], sealed[n:], ad)
}

// newStore returns a store on a fresh database, and the database's pool.
func newStore(t testing.TB, opts ...pg.Option) (*pg.Store, *pgxpool.Pool) {
	t.Helper()
	pool := pgtest.New(t, pg.Schema, pg.Migrations)
	return pg.New(pool, newSealer(t), opts...), pool
}

var occur = time.Date(2026, 5, 2, 14, 0, 0, 0, time.UTC)

// leafOf is a stand-in for the service's canonical entry: it commits to the log and the index, as
// a real leaf does.
func leafOf(tenant, unit string, index int64, kind, body string) []byte {
	return []byte("pipa-ledger-entry/v1\nlog: tenants/" + tenant + "/units/" + unit + "\nindex: " +
		strconv.FormatInt(index, 10) + "\nkind: " + kind + "\nnote: " + body + "\n")
}

// req is an append request whose Build makes leafOf(…, body) and seals "personal:"+body.
func req(tenant, unit, kind, body string) pg.AppendRequest {
	return pg.AppendRequest{Kind: kind, OccurTime: occur, Build: func(i int64) ([]byte, []byte, error) {
		return leafOf(tenant, unit, i, kind, body), []byte("personal:" + body), nil
	}}
}

func requireCode(t testing.TB, err error, code codes.Code) *apierr.Error {
	t.Helper()
	var e *apierr.Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, code, apierr.CodeOf(e), "%v", err)
	return e
}

func requireField(t testing.TB, err error, field, rule string) {
	t.Helper()
	e := requireCode(t, err, codes.InvalidArgument)
	require.Len(t, e.Violations, 1, "%v", err)
	require.Equal(t, field, e.Violations[0].Field)
	if rule != "" {
		require.Equal(t, rule, e.Violations[0].Rule)
	}
}

func requireNotFound(t testing.TB, err error, name string) {
	t.Helper()
	e := requireCode(t, err, codes.NotFound)
	require.Equal(t, name, e.Metadata["resource"])
}

// memTree recomputes a tree from leaves in memory, independently of the store's hashes table.
type memTree struct{ hashes []tlog.Hash }

func (m *memTree) ReadHashes(idx []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(idx))
	for i, x := range idx {
		out[i] = m.hashes[x]
	}
	return out, nil
}

func newMemTree(t testing.TB, leaves [][]byte) *memTree {
	m := &memTree{}
	for i, l := range leaves {
		hs, err := tlog.StoredHashes(int64(i), l, m)
		require.NoError(t, err)
		m.hashes = append(m.hashes, hs...)
	}
	return m
}

func (m *memTree) root(t testing.TB, n int64) tlog.Hash {
	h, err := tlog.TreeHash(n, m)
	require.NoError(t, err)
	return h
}

// openCheckpoint verifies a checkpoint note with the log's verifier key and parses its C2SP body.
func openCheckpoint(t testing.TB, s *pg.Store, tenant, unit, msg string) (size int64, root tlog.Hash) {
	t.Helper()
	key, err := s.VerifierKey(t.Context(), tenant, unit)
	require.NoError(t, err)
	origin := key.Origin
	v, err := note.NewVerifier(key.VerifierKey)
	require.NoError(t, err)
	n, err := note.Open([]byte(msg), note.VerifierList(v))
	require.NoError(t, err)
	lines := strings.Split(n.Text, "\n")
	require.Len(t, lines, 4, "origin, size, root and a final newline: %q", n.Text)
	require.Equal(t, origin, lines[0])
	require.Equal(t, "", lines[3])
	size, err = strconv.ParseInt(lines[1], 10, 64)
	require.NoError(t, err)
	root, err = tlog.ParseHash(lines[2])
	require.NoError(t, err)
	return size, root
}

// checkLog asserts that the log is whole: a checkpoint of size want that verifies and matches the
// head, entries exactly 0..want-1, exactly the stored hashes of that size, a root equal to one
// recomputed from the leaves, and (when proofs) an inclusion proof of every entry that verifies.
// It returns the in-memory tree.
func checkLog(t testing.TB, s *pg.Store, pool *pgxpool.Pool, tenant, unit string, want int64, proofs bool) *memTree {
	t.Helper()
	ctx := t.Context()
	head, err := s.Checkpoint(ctx, tenant, unit, false)
	require.NoError(t, err)
	require.Equal(t, want, head.Size)
	nsize, nroot := openCheckpoint(t, s, tenant, unit, head.Checkpoint)
	require.Equal(t, head.Size, nsize)
	require.Equal(t, head.Root, nroot)

	var count, maxIdx, hashes, maxStorage int64
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*), coalesce(max(idx), -1) FROM ledger.entries
		WHERE tenant_id = $1 AND unit_id = $2`, tenant, unit).Scan(&count, &maxIdx))
	require.Equal(t, want, count, "entries")
	require.Equal(t, want-1, maxIdx, "no gap: indexes are 0..size-1")
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*), coalesce(max(storage_idx), -1) FROM ledger.hashes
		WHERE tenant_id = $1 AND unit_id = $2`, tenant, unit).Scan(&hashes, &maxStorage))
	require.Equal(t, tlog.StoredHashCount(want), hashes, "stored hashes")
	require.Equal(t, tlog.StoredHashCount(want)-1, maxStorage, "no orphan hashes")

	var leaves [][]byte
	for after := int64(-1); ; {
		page, err := s.Entries(ctx, tenant, unit, pg.Filter{}, after, pg.MaxEntries)
		require.NoError(t, err)
		if len(page) == 0 {
			break
		}
		for _, e := range page {
			require.Equal(t, int64(len(leaves)), e.Index)
			h := tlog.RecordHash(e.Leaf)
			require.Equal(t, h[:], e.LeafHash)
			require.Contains(t, string(e.Leaf), fmt.Sprintf("\nindex: %d\n", e.Index), "Build got the right index")
			require.Greater(t, e.TreeSize, e.Index)
			require.LessOrEqual(t, e.TreeSize, want)
			leaves = append(leaves, e.Leaf)
		}
		after = page[len(page)-1].Index
	}
	m := newMemTree(t, leaves)
	require.Equal(t, m.root(t, want), nroot, "root recomputed from the leaves")

	if proofs {
		for i := range want {
			p, _, err := s.InclusionProof(ctx, tenant, unit, i, want)
			require.NoError(t, err)
			require.NoError(t, tlog.CheckRecord(toHashes(p), want, nroot, i, tlog.RecordHash(leaves[i])), "entry %d", i)
		}
	}
	return m
}

func toHashes(p [][]byte) []tlog.Hash {
	out := make([]tlog.Hash, len(p))
	for i, b := range p {
		copy(out[i][:], b)
	}
	return out
}

const (
	testWait = 10 * time.Second
	testTick = 5 * time.Millisecond
)
