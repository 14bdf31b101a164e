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

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
	"golang.org/x/sync/errgroup"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pipa-kr/pipa/pkg/auth"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/pkg/stacktest"
	"github.com/pipa-kr/pipa/services/ledger/entry"
	"github.com/pipa-kr/pipa/services/ledger/ledgertest"
	"github.com/pipa-kr/pipa/services/ledger/store/pg"
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

// bigLog is the size of the 1M benchmarks' log before its last append through the API.
const bigLog = 1_000_000

// buildBigLog makes unit's log hold bigLog ACCESS entries, appended through the ledger's store
// (group commit, 128 appenders, the stack's data key), then one PROVISION through the API, so that
// the server signs the checkpoint of 1,000,001 entries. It returns the record hashes and the
// signed tree.
func buildBigLog(b *testing.B, s *stack, unit string) (records []tlog.Hash, size int64, root tlog.Hash) {
	log := "tenants/jeongeup/units/" + unit
	createBenchUnit(b, s, unit)
	box, err := s.Box()
	require.NoError(b, err)
	pool, err := pgxpool.New(b.Context(), s.DatabaseURL)
	require.NoError(b, err)
	defer pool.Close()
	store := pg.New(pool, box)
	start := time.Now()
	records = make([]tlog.Hash, bigLog+1)
	occur := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	var next atomic.Int64
	var g errgroup.Group
	for range 128 {
		g.Go(func() error {
			for i := next.Add(1) - 1; i < bigLog; i = next.Add(1) - 1 {
				e := &ledgerv1.Entry{Kind: ledgerv1.EntryKind_ENTRY_KIND_ACCESS, Actor: "song.sh", RemoteAddr: "10.20.30.40",
					Action: "GetRequest", OccurTime: timestamppb.New(occur.Add(time.Duration(i) * time.Second)),
					Subject: "tenants/jeongeup/units/library/requests/R-2026-" + strconv.FormatInt(i, 10), RecordedBy: "pipa-service"}
				_, err := store.Append(b.Context(), "jeongeup", unit, pg.AppendRequest{Kind: "ACCESS", OccurTime: e.GetOccurTime().AsTime(),
					Build: func(index int64) ([]byte, []byte, error) {
						leaf, _, err := entry.EncodeLeaf(log, index, e, nil)
						records[index] = tlog.RecordHash(leaf)
						return leaf, nil, err
					}})
				if err != nil {
					return err
				}
			}
			return nil
		})
	}
	require.NoError(b, g.Wait())
	_, err = pool.Exec(b.Context(), `ANALYZE ledger.entries; ANALYZE ledger.hashes`)
	require.NoError(b, err)
	cl := s.ledger()
	staff := s.As(auth.RoleHandler, log)
	last, err := cl.AppendEntry(staff, &ledgerv1.AppendEntryRequest{Parent: log, Entry: ledgertest.PoliceProvision(), RequestId: "after-1m"})
	require.NoError(b, err)
	require.Equal(b, int64(bigLog), last.GetIndex())
	leafMsg, err := cl.GetLeaf(staff, &ledgerv1.GetLeafRequest{Name: last.GetName()})
	require.NoError(b, err)
	records[bigLog] = tlog.RecordHash(leafMsg.GetData())

	// The signed checkpoint, opened with the public verifier key.
	key, err := cl.GetVerifierKey(b.Context(), &ledgerv1.GetVerifierKeyRequest{Tenant: "jeongeup", Unit: unit})
	require.NoError(b, err)
	v, err := note.NewVerifier(key.GetVerifierKey())
	require.NoError(b, err)
	cp, err := cl.GetCheckpoint(staff, &ledgerv1.GetCheckpointRequest{Parent: log})
	require.NoError(b, err)
	signed, err := note.Open([]byte(cp.GetNote()), note.VerifierList(v))
	require.NoError(b, err)
	_, size, root, err = verify.ParseCheckpoint(signed.Text)
	require.NoError(b, err)
	require.Equal(b, int64(bigLog+1), size)
	b.Logf("built a log of %d entries in %s", size, time.Since(start).Round(time.Second))
	return records, size, root
}

// BenchmarkInclusionProof1M: GetInclusionProof over gRPC on a log of 1,000,001 entries (see
// buildBigLog), for random indexes, from one client (latency) and from 64 (throughput). Every 16th
// proof is verified with tlog.CheckRecord against the signed checkpoint.
func BenchmarkInclusionProof1M(b *testing.B) {
	s := startStack(b, stacktest.WithPoolSize(stacktest.BenchPool))
	s.Load("jeongeup-library.yaml")
	cls := ledgerClients(b, s)
	const log = "tenants/jeongeup/units/bench-proofs"
	ctx := s.As(auth.RoleAuditor, "tenants/jeongeup")
	bg := context.Background()
	records, size, cpRoot := buildBigLog(b, s, "bench-proofs")

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

// BenchmarkVerify1M: `pipa ledger verify` (package verify) of a log of 1,000,001 entries (see
// buildBigLog) over HTTP, from nothing (every leaf read from the entry bundles and hashed, the
// tree recomputed), and then from the state of that run after one more entry. It reports the
// requests made.
//
//	cd services/ledger && go test -run '^$' -bench BenchmarkVerify1M -benchtime 1x -v .
func BenchmarkVerify1M(b *testing.B) {
	s := startStack(b, stacktest.WithPoolSize(stacktest.BenchPool))
	s.Load("jeongeup-library.yaml")
	const log = "tenants/jeongeup/units/bench-verify"
	_, size, _ := buildBigLog(b, s, "bench-verify")
	auditor := s.Token(auth.RoleAuditor, "tenants/jeongeup")
	var st *verify.State
	b.Run("full", func(b *testing.B) {
		for range b.N {
			c := &verify.Client{BaseURL: s.URL, Token: auditor}
			st = &verify.State{}
			t0 := time.Now()
			rep, err := verify.Run(b.Context(), c, log, st, verify.Policy{})
			require.NoError(b, err)
			require.True(b, rep.OK(), "%+v", rep)
			require.Equal(b, size, rep.Read)
			b.ReportMetric(float64(c.Requests.Load()), "requests")
			b.ReportMetric(time.Since(t0).Seconds(), "s/verify")
		}
	})
	_, err := s.ledger().AppendEntry(s.As(auth.RoleHandler, log), &ledgerv1.AppendEntryRequest{Parent: log, Entry: ledgertest.PoliceProvision()})
	require.NoError(b, err)
	b.Run("incremental", func(b *testing.B) {
		for range b.N {
			c := &verify.Client{BaseURL: s.URL, Token: auditor}
			again := *st
			t0 := time.Now()
			rep, err := verify.Run(b.Context(), c, log, &again, verify.Policy{})
			require.NoError(b, err)
			require.True(b, rep.OK(), "%+v", rep)
			b.ReportMetric(float64(c.Requests.Load()), "requests")
			b.ReportMetric(time.Since(t0).Seconds(), "s/verify")
		}
	})
}
