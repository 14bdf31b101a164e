package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/pipa-kr/pipa/pkg/auth"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/pkg/modules"
	"github.com/pipa-kr/pipa/pkg/unitauth"
)

// spooled counts the access records stored and not yet in a ledger.
func spooled(t *testing.T, db *pgxpool.Pool) int {
	t.Helper()
	var n int
	require.NoError(t, db.QueryRow(context.Background(), "SELECT count(*) FROM accesslog.spool").Scan(&n))
	return n
}

// When the recorder cannot keep up — its spool locked, so no record can be stored — reads wait
// (past the buffer, which is 8 here) instead of being answered unrecorded, and once it can store
// again every read is answered and every record reaches the ledger: none lost, none doubled (S-2-3).
func TestAccessLogCallerWaitsWhenFull(t *testing.T) {
	t.Parallel()
	s := startStack(t, withSettings(t, &config{accessLog: true}), func(c *modules.Config) { c.AccessLogBuffer = 8 })
	s.Load("jeongeup-library.yaml")
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, s.DatabaseURL)
	require.NoError(t, err)
	defer conn.Close(ctx)
	tx, err := conn.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, "LOCK TABLE accesslog.spool IN ACCESS EXCLUSIVE MODE")
	require.NoError(t, err)

	tok, err := auth.Mint(s.Key, auth.Principal{Subject: "full-auditor", Grants: []auth.Grant{{Role: auth.RoleAuditor, Scope: libraryLog}}}, time.Hour)
	require.NoError(t, err)
	reader := unitauth.WithToken(ctx, tok)
	const reads = 64 // eight times the buffer
	var answered atomic.Int64
	errs := make(chan error, reads)
	var wg sync.WaitGroup
	for range reads {
		wg.Go(func() {
			_, err := s.Registry.ListOfficers(reader, &registryv1.ListOfficersRequest{Parent: libraryLog})
			answered.Add(1)
			errs <- err
		})
	}
	require.Never(t, func() bool { return answered.Load() > 0 }, time.Second, 20*time.Millisecond,
		"no read is answered before its record is stored")
	require.NoError(t, tx.Rollback(ctx)) // the recorder keeps up again
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	cl, cpo := s.ledger(), s.As(auth.RoleCPO, libraryLog)
	require.Eventually(t, func() bool {
		return countBy(accessEntries(cl, cpo, libraryLog), "full-auditor", registryv1.RegistryService_ListOfficers_FullMethodName) >= reads
	}, 30*time.Second, 50*time.Millisecond)
	require.Equal(t, reads, countBy(accessEntries(cl, cpo, libraryLog), "full-auditor", registryv1.RegistryService_ListOfficers_FullMethodName))
	require.Eventually(t, func() bool { return spooled(t, s.DB()) == 0 }, 10*time.Second, 50*time.Millisecond)
}

// pipa is killed (SIGKILL, a real child process) in the middle of a stream of reads: every read
// it answered has its ACCESS entry once pipa is back, though the ledger had not taken it yet
// when it died (S-2-3, S-8-3). At most the reads in flight, answered to nobody, add an entry.
func TestAccessLogSurvivesKill(t *testing.T) {
	t.Parallel()
	pool, key, grpcAddr, args, d := startKillable(t, true)
	pipa := startChild(t, grpcAddr, args...)
	d.load(t, "jeongeup-library.yaml")
	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })

	mint := func(subject string, role auth.Role) context.Context {
		tok, err := auth.Mint(key, auth.Principal{Subject: subject, Grants: []auth.Grant{{Role: role, Scope: libraryLog}}}, time.Hour)
		require.NoError(t, err)
		return unitauth.WithToken(context.Background(), tok)
	}
	reader := mint("kill-auditor", auth.RoleAuditor)
	reg := registryv1.NewRegistryServiceClient(conn)
	// The reader's first call waits for its roles' record, a ROLE_CHANGE entry of the tenant's
	// log (S-5): made before the ledger stops taking entries, with its read's own record.
	_, err = reg.ListOfficers(reader, &registryv1.ListOfficersRequest{Parent: libraryLog})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return spooled(t, pool) == 0 }, 30*time.Second, 50*time.Millisecond)

	// The ledger takes nothing while the reads run (its entries table locked), so that every
	// answered read's record is still on its way when pipa dies.
	ctx := context.Background()
	holder, err := pgx.Connect(ctx, pool.Config().ConnString())
	require.NoError(t, err)
	defer holder.Close(ctx)
	tx, err := holder.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, "LOCK TABLE ledger.entries IN ACCESS EXCLUSIVE MODE")
	require.NoError(t, err)

	const clients = 8
	var acked atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := reg.ListOfficers(reader, &registryv1.ListOfficersRequest{Parent: libraryLog}); err != nil {
					return // pipa died
				}
				acked.Add(1)
			}
		})
	}
	require.Eventually(t, func() bool { return acked.Load() >= 100 }, 60*time.Second, 5*time.Millisecond)
	pipa.kill()
	close(stop)
	wg.Wait()
	answered := int(acked.Load())
	require.GreaterOrEqual(t, spooled(t, pool), answered, "the answered reads' records outlived the process")
	require.NoError(t, tx.Rollback(ctx))

	// Back up, pipa appends what its spool holds.
	startChild(t, grpcAddr, args...)
	cl, cpo := ledgerv1.NewLedgerServiceClient(conn), mint("kill-cpo", auth.RoleCPO)
	method := registryv1.RegistryService_ListOfficers_FullMethodName
	require.Eventually(t, func() bool {
		return countBy(accessEntries(cl, cpo, libraryLog), "kill-auditor", method) >= 1+answered && spooled(t, pool) == 0
	}, 60*time.Second, 100*time.Millisecond, fmt.Sprintf("every one of the %d answered reads is recorded", answered))
	got := countBy(accessEntries(cl, cpo, libraryLog), "kill-auditor", method)
	require.LessOrEqual(t, got, 1+answered+clients, "the first read, and the reads in flight when pipa died, may add one")
}
