package ledger_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pipa-kr/pipa/pkg/auth"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/pkg/stacktest"
	"github.com/pipa-kr/pipa/services/ledger/entry"
	"github.com/pipa-kr/pipa/services/ledger/ledgertest"
	"github.com/pipa-kr/pipa/services/ledger/verify"
)

// The ledger's load benchmarks (issue 3), through the whole stack: real gRPC on loopback, token
// checks, the registry asked about each unit (then cached), the group-committing store, and
// PostgreSQL with its defaults (synchronous_commit on: every commit waits for its WAL fsync).
// 64 concurrent clients (GOMAXPROCS × 32 goroutines) share 8 grpc.ClientConns, the server's pool
// has 64 connections (pkg/stacktest's benchmark settings); every append carries a unique
// request_id, as real callers' do. They are not part of `make test`:
//
//	cd services/ledger && go test -run '^$' -bench 'BenchmarkLedger|BenchmarkInclusionProof1M' -benchtime 20000x .

// ledgerClients are one LedgerServiceClient on each of the stack's benchmark connections.
func ledgerClients(b *testing.B, s *stack) []ledgerv1.LedgerServiceClient {
	var out []ledgerv1.LedgerServiceClient
	for _, conn := range s.Conns(b) {
		out = append(out, ledgerv1.NewLedgerServiceClient(conn))
	}
	return out
}

// BenchmarkLedgerAppend: appends/s and latency to one log and across 16 logs, and the bare
// one-row INSERT-per-commit rate of the same database in the same run (the baseline).
func BenchmarkLedgerAppend(b *testing.B) {
	s := startStack(b, stacktest.WithPoolSize(stacktest.BenchPool))
	s.Load("jeongeup-library.yaml")
	cls := ledgerClients(b, s)
	ctx := s.As(auth.RoleHandler, "tenants/jeongeup")

	// Units of their own (the access log appends ACCESS entries to library's log as the tenant
	// file is loaded, which would disturb the count below).
	units := []string{createBenchUnit(b, s, "bench-one")}
	var many []string
	for i := range 16 {
		many = append(many, createBenchUnit(b, s, fmt.Sprintf("bench-%02d", i)))
	}
	prov := ledgertest.PoliceProvision()
	appendTo := func(units []string) func(context.Context, int) error {
		return func(_ context.Context, w int) error {
			u := units[w%len(units)]
			_, err := cls[w%len(cls)].AppendEntry(ctx, &ledgerv1.AppendEntryRequest{
				Parent: "tenants/jeongeup/units/" + u, Entry: prov,
				RequestId: "bench-" + strconv.FormatInt(stacktest.RequestIDs.Add(1), 10)})
			return err
		}
	}
	// Every append got exactly one index: the logs' sizes add up to the appends made.
	appended := func(units []string) int64 {
		var n int64
		for _, u := range units {
			cp, err := cls[0].GetCheckpoint(ctx, &ledgerv1.GetCheckpointRequest{Parent: "tenants/jeongeup/units/" + u})
			require.NoError(b, err)
			n += cp.GetTreeSize()
		}
		return n
	}
	runLogs := func(units []string) func(b *testing.B) {
		return func(b *testing.B) {
			before := appended(units)
			stacktest.RunClients(b, "appends", appendTo(units))
			if got := appended(units) - before; got != int64(b.N) {
				b.Fatalf("the logs grew by %d entries for %d appends", got, b.N)
			}
		}
	}
	b.Run("one-log", runLogs(units))
	b.Run("16-logs", runLogs(many))

	// The baseline: 64 goroutines on 64 connections, one-row INSERT per commit (autocommit) into
	// a plain table of the same database, as pgbench -c 64 would.
	b.Run("bare-insert", func(b *testing.B) {
		pool, err := pgxpool.New(context.Background(), stacktest.WithMaxConns(s.DatabaseURL, stacktest.BenchClients))
		require.NoError(b, err)
		defer pool.Close()
		_, err = pool.Exec(context.Background(), `CREATE TABLE IF NOT EXISTS public.bench_bare (tenant_id text NOT NULL,
			id bigint GENERATED ALWAYS AS IDENTITY, payload bytea NOT NULL, PRIMARY KEY (tenant_id, id))`)
		require.NoError(b, err)
		// About the size of a leaf of policeProvision.
		payload := []byte(strings.Repeat("field: 중앙도서관 주차장 CH03 2026-05-02 14:00-15:00\n", 8))
		stacktest.RunClients(b, "inserts", func(ctx context.Context, _ int) error {
			_, err := pool.Exec(ctx, `INSERT INTO public.bench_bare (tenant_id, payload) VALUES ('jeongeup', $1)`, payload)
			return err
		})
	})
}

// createBenchUnit creates unit id under tenant jeongeup through the registry API.
func createBenchUnit(b *testing.B, s *stack, id string) string {
	_, err := s.Registry.CreateUnit(s.Admin(), &registryv1.CreateUnitRequest{Parent: "tenants/jeongeup", UnitId: id,
		Unit: &registryv1.Unit{DisplayName: "벤치마크 " + id}})
	require.NoError(b, err)
	return id
}

// proofLog is the size of BenchmarkInclusionProof1M's log before its last, real append.
const proofLog = 1_000_000

// BenchmarkInclusionProof1M: GetInclusionProof over gRPC on a log of 1,000,001 entries, for
// random indexes, from one client (latency) and from 64 (throughput). The first million leaves,
// their tree hashes and the head are computed here and COPYed into PostgreSQL; entry 1,000,000
// is appended through the API, so the server's store checks the stored hashes against the root
// and signs the checkpoint the proofs are checked against. Every 16th proof is verified with
// tlog.CheckRecord.
func BenchmarkInclusionProof1M(b *testing.B) {
	s := startStack(b, stacktest.WithPoolSize(stacktest.BenchPool))
	s.Load("jeongeup-library.yaml")
	cls := ledgerClients(b, s)
	const unit = "bench-proofs"
	const log = "tenants/jeongeup/units/" + unit
	createBenchUnit(b, s, unit)
	ctx := s.As(auth.RoleAuditor, "tenants/jeongeup")
	staff := s.As(auth.RoleHandler, log)
	bg := context.Background()

	start := time.Now()
	// The empty log's head row and the tenant's key, made by the server.
	_, err := cls[0].GetCheckpoint(staff, &ledgerv1.GetCheckpointRequest{Parent: log})
	require.NoError(b, err)

	records := make([]tlog.Hash, proofLog+1) // record hashes, for checking proofs
	stored := make([]tlog.Hash, 0, tlog.StoredHashIndex(0, proofLog))
	hr := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = stored[x]
		}
		return out, nil
	})
	e := &ledgerv1.Entry{Kind: ledgerv1.EntryKind_ENTRY_KIND_ACCESS, Actor: "song.sh", RemoteAddr: "10.20.30.40",
		Action: "GetRequest"}
	occur := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	conn, err := pgxpool.New(bg, s.DatabaseURL) // s.DatabaseURL sets pool_max_conns, which only a pool parses
	require.NoError(b, err)
	defer conn.Close()
	var i int64
	var leaf []byte
	var leafHash tlog.Hash
	n, err := conn.CopyFrom(bg, pgx.Identifier{"ledger", "entries"},
		[]string{"tenant_id", "unit_id", "idx", "leaf", "leaf_hash", "kind", "occur_time", "tree_size"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if i == proofLog {
				return nil, nil
			}
			at := occur.Add(time.Duration(i) * time.Second)
			e.OccurTime = timestamppb.New(at)
			e.Subject = "tenants/jeongeup/units/library/requests/R-2026-" + strconv.FormatInt(i, 10)
			leaf, _, err = entry.EncodeLeaf(log, i, e, nil)
			if err != nil {
				return nil, err
			}
			leafHash = tlog.RecordHash(leaf)
			records[i] = leafHash
			hs, err := tlog.StoredHashesForRecordHash(i, leafHash, hr)
			if err != nil {
				return nil, err
			}
			stored = append(stored, hs...)
			row := []any{"jeongeup", unit, i, leaf, leafHash[:], "ACCESS", at, int64(proofLog)}
			i++
			return row, nil
		}))
	require.NoError(b, err)
	require.Equal(b, int64(proofLog), n)
	var k int
	n, err = conn.CopyFrom(bg, pgx.Identifier{"ledger", "hashes"}, []string{"tenant_id", "unit_id", "storage_idx", "hash"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if k == len(stored) {
				return nil, nil
			}
			k++
			return []any{"jeongeup", unit, int64(k - 1), stored[k-1][:]}, nil
		}))
	require.NoError(b, err)
	require.Equal(b, int64(len(stored)), n)
	root, err := tlog.TreeHash(proofLog, hr)
	require.NoError(b, err)
	// The head now says size 10⁶ with its root; its checkpoint is still the empty tree's, until
	// the append below signs the new one.
	_, err = conn.Exec(bg, `UPDATE ledger.logs SET size = $1, root = $2 WHERE tenant_id = 'jeongeup' AND unit_id = $3`,
		int64(proofLog), root[:], unit)
	require.NoError(b, err)
	_, err = conn.Exec(bg, `ANALYZE ledger.entries; ANALYZE ledger.hashes`)
	require.NoError(b, err)
	last, err := cls[0].AppendEntry(staff, &ledgerv1.AppendEntryRequest{Parent: log, Entry: ledgertest.PoliceProvision(), RequestId: "after-1m"})
	require.NoError(b, err)
	require.Equal(b, int64(proofLog), last.GetIndex())
	leafMsg, err := cls[0].GetLeaf(staff, &ledgerv1.GetLeafRequest{Name: log + "/ledger/entries/" + strconv.Itoa(proofLog)})
	require.NoError(b, err)
	records[proofLog] = tlog.RecordHash(leafMsg.GetData())

	// The signed checkpoint, opened with the public verifier key.
	key, err := cls[0].GetVerifierKey(bg, &ledgerv1.GetVerifierKeyRequest{Tenant: "jeongeup", Unit: unit})
	require.NoError(b, err)
	v, err := note.NewVerifier(key.GetVerifierKey())
	require.NoError(b, err)
	cp, err := cls[0].GetCheckpoint(ctx, &ledgerv1.GetCheckpointRequest{Parent: log})
	require.NoError(b, err)
	signed, err := note.Open([]byte(cp.GetNote()), note.VerifierList(v))
	require.NoError(b, err)
	_, size, cpRoot, err := verify.ParseCheckpoint(signed.Text)
	require.NoError(b, err)
	require.Equal(b, int64(proofLog+1), size)
	b.Logf("built a log of %d entries (%d stored hashes) in %s", size, len(stored)+2, time.Since(start).Round(time.Second))

	var checked atomic.Int64
	prove := func(_ context.Context, w int) error {
		idx := rand.Int64N(size)
		p, err := cls[w%len(cls)].GetInclusionProof(ctx, &ledgerv1.GetInclusionProofRequest{
			Name: log + "/ledger/entries/" + strconv.FormatInt(idx, 10)})
		if err != nil {
			return err
		}
		if p.GetTreeSize() != size {
			return fmt.Errorf("proof for tree size %d, want %d", p.GetTreeSize(), size)
		}
		if idx%16 == 0 {
			if err := tlog.CheckRecord(toHashes(p.GetHashes()), size, cpRoot, idx, records[idx]); err != nil {
				return fmt.Errorf("entry %d: %w", idx, err)
			}
			checked.Add(1)
		}
		return nil
	}
	b.Run("1-client", func(b *testing.B) {
		var d []time.Duration
		b.ResetTimer()
		for range b.N {
			t0 := time.Now()
			if err := prove(bg, 0); err != nil {
				b.Fatal(err)
			}
			d = append(d, time.Since(t0))
		}
		b.StopTimer()
		stacktest.ReportLatencies(b, "proofs", d)
	})
	b.Run("64-clients", func(b *testing.B) { stacktest.RunClients(b, "proofs", prove) })
	if checked.Load() == 0 {
		b.Fatal("no proof was checked")
	}
}
