package ledger_test

import (
	"context"
	"math"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/mod/sumdb/tlog"
	"google.golang.org/grpc/codes"

	"github.com/pipa-kr/pipa/pkg/auth"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	"github.com/pipa-kr/pipa/services/ledger/store/pg"
)

// probe is the tree size of the issue: between 2^62 and 2^63, where tlog's proof computation
// loops for ever on an overflowed shift.
const probe = 4611686018427387905

// Bounds first: a tree size or index the log does not have is refused (400) before any proof
// work, over gRPC and REST, for inclusion and consistency proofs; an auditor of one unit pinned a
// core for ever with the probe before. The context's deadline only stops a test that would hang:
// BenchmarkProofProbe measures the answer.
func TestProofs_BoundsCheckedFirst(t *testing.T) {
	t.Parallel()
	s := newTilesStack(t)
	s.appendN(t, "iksan", "cctv", 3)
	auditor := s.token(t, iksanLog)
	ctx, cancel := context.WithTimeout(as(t, s, "auditor", auth.RoleAuditor, iksanLog), 10*time.Second)
	defer cancel()

	for _, size := range []int64{probe, math.MaxInt64, 1 << 62, 4, -1} {
		_, err := s.client.GetInclusionProof(ctx, &ledgerv1.GetInclusionProofRequest{Name: iksanLog + "/ledger/entries/0", TreeSize: size})
		requireViolation(t, err, "tree_size", "range")
		_, err = s.client.GetConsistencyProof(ctx, &ledgerv1.GetConsistencyProofRequest{Parent: iksanLog, From: 1, To: size})
		if size < 1 {
			requireViolation(t, err, "from", "range")
		} else {
			requireViolation(t, err, "to", "range")
		}
		_, err = s.client.GetConsistencyProof(ctx, &ledgerv1.GetConsistencyProofRequest{Parent: iksanLog, From: size, To: size})
		if size > 0 {
			requireViolation(t, err, "to", "range")
		}
		n := strconv.FormatInt(size, 10)
		for _, path := range []string{
			"/v1/" + iksanLog + "/ledger/entries/0:prove?treeSize=" + n,
			"/v1/" + iksanLog + "/ledger:consistency?from=1&to=" + n,
			"/v1/" + iksanLog + "/ledger:consistency?from=" + n + "&to=" + n,
		} {
			code, _, body := s.do(t, http.MethodGet, path, "", auditor)
			require.Equal(t, http.StatusBadRequest, code, "%s: %s", path, body)
		}
	}
	for _, index := range []string{"3", strconv.FormatInt(probe, 10), "9223372036854775807"} {
		code, _, body := s.do(t, http.MethodGet, "/v1/"+iksanLog+"/ledger/entries/"+index+":prove", "", auditor)
		require.Equal(t, http.StatusNotFound, code, "entry %s: %s", index, body)
	}
	// Before any work: no authorization round trip, no read of the log. A reader of another
	// tenant gets the 400 for what no log has, and 403 only for what a log could have.
	stranger := as(t, s, "auditor", auth.RoleAuditor, "tenants/seongnam")
	_, err := s.client.GetInclusionProof(stranger, &ledgerv1.GetInclusionProofRequest{Name: iksanLog + "/ledger/entries/0", TreeSize: probe})
	requireViolation(t, err, "tree_size", "range")
	_, err = s.client.GetConsistencyProof(stranger, &ledgerv1.GetConsistencyProofRequest{Parent: iksanLog, From: 1, To: probe})
	requireViolation(t, err, "to", "range")
	_, err = s.client.GetInclusionProof(stranger, &ledgerv1.GetInclusionProofRequest{Name: iksanLog + "/ledger/entries/0", TreeSize: 2})
	requireStatus(t, err, codes.PermissionDenied)
	_, err = s.client.GetConsistencyProof(stranger, &ledgerv1.GetConsistencyProofRequest{Parent: iksanLog, From: 1, To: 2})
	requireStatus(t, err, codes.PermissionDenied)
	// A list's filter is checked too: a kind that does not exist is refused, not an empty page.
	_, err = s.client.ListEntries(ctx, &ledgerv1.ListEntriesRequest{Parent: iksanLog, Kind: 999})
	requireViolation(t, err, "kind", "enum")
	code, _, body := s.do(t, http.MethodGet, "/v1/"+iksanLog+"/ledger/entries?kind=999", "", auditor)
	require.Equal(t, http.StatusBadRequest, code, body)

	// What is in bounds still proves.
	p, err := s.client.GetInclusionProof(ctx, &ledgerv1.GetInclusionProofRequest{Name: iksanLog + "/ledger/entries/2", TreeSize: 3})
	require.NoError(t, err)
	require.Equal(t, int64(3), p.GetTreeSize())
	p, err = s.client.GetInclusionProof(ctx, &ledgerv1.GetInclusionProofRequest{Name: iksanLog + "/ledger/entries/0"})
	require.NoError(t, err)
	require.Equal(t, int64(3), p.GetTreeSize(), "the latest tree when tree_size is 0")
}

// countingReader is a tlog.HashReader that counts the hashes asked for.
type countingReader struct{ n int }

func (c *countingReader) ReadHashes(idx []int64) ([]tlog.Hash, error) {
	c.n += len(idx)
	return make([]tlog.Hash, len(idx)), nil
}

// Whatever numbers a caller sends, what the bounds let through is a proof tlog computes in bounded
// work, and what they refuse is outside the log. (A value they let through that made tlog loop
// would hang this fuzz test.)
func FuzzProofBounds(f *testing.F) {
	f.Add(int64(0), int64(probe), int64(3), int64(1), int64(probe))
	f.Add(int64(probe), int64(probe), int64(probe), int64(probe), int64(probe))
	f.Add(int64(-1), int64(math.MaxInt64), int64(math.MaxInt64), int64(math.MinInt64), int64(math.MaxInt64))
	f.Add(int64(2), int64(3), int64(3), int64(1), int64(3))
	f.Fuzz(func(t *testing.T, index, treeSize, size, from, to int64) {
		size = min(size, pg.MaxTreeSize) // as the store bounds what it read
		if field, _ := pg.ProofBounds(index, treeSize, size); field == "" {
			require.True(t, 0 <= index && index < treeSize && treeSize <= size)
			var r countingReader
			_, err := tlog.ProveRecord(treeSize, index, &r)
			require.NoError(t, err)
			require.LessOrEqual(t, r.n, 2*64)
		}
		if field, _ := pg.ConsistencyBounds(from, to, size); field == "" {
			require.True(t, 1 <= from && from <= to && to <= size)
			var r countingReader
			_, err := tlog.ProveTree(to, from, &r)
			require.NoError(t, err)
			require.LessOrEqual(t, r.n, 2*64)
		}
	})
}

// BenchmarkProofProbe is the probe over REST, and its consistency-proof sibling: one 400
// per iteration, through the gateway, the token check and the handler. "floor" is a 400 the
// gateway answers itself (a tree size that is not a number), without a gRPC call: the cost of any
// request on this machine, for comparison.
//
//	go test -run '^$' -bench ProofProbe -benchtime 2000x ./
func BenchmarkProofProbe(b *testing.B) {
	s := newTilesStack(b)
	s.appendN(b, "iksan", "cctv", 3)
	auditor := s.token(b, iksanLog)
	n := strconv.FormatInt(probe, 10)
	for name, path := range map[string]string{
		"prove":       "/v1/" + iksanLog + "/ledger/entries/0:prove?treeSize=" + n,
		"consistency": "/v1/" + iksanLog + "/ledger:consistency?from=1&to=" + n,
		"floor":       "/v1/" + iksanLog + "/ledger/entries/0:prove?treeSize=x",
	} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if code, _, body := s.do(b, http.MethodGet, path, "", auditor); code != http.StatusBadRequest {
					b.Fatalf("%d %s", code, body)
				}
			}
		})
	}
}
