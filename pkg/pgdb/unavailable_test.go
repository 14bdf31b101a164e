package pgdb_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"

	"github.com/pipa-kr/pipa/pkg/apierr"
	"github.com/pipa-kr/pipa/pkg/faultproxy"
	"github.com/pipa-kr/pipa/pkg/pgdb"
	"github.com/pipa-kr/pipa/pkg/pgtest"
)

// A database that cannot be reached is Unavailable (retry later), not Internal, whichever way it
// fails: down before the call (the pool cannot connect), dropped during it, or shutting the
// session down (57P01); a statement the pool's statement_timeout stops is DeadlineExceeded.
func TestOutagesAreUnavailable(t *testing.T) {
	t.Parallel()
	direct := pgtest.NewMulti(t, nil)
	cfg := direct.Config().ConnConfig
	p, err := faultproxy.New(cfg.Host + ":" + strconv.Itoa(int(cfg.Port)))
	require.NoError(t, err)
	t.Cleanup(func() { p.Close() })
	url := strings.Replace(direct.Config().ConnString(), cfg.Host+":"+strconv.Itoa(int(cfg.Port)), p.Addr(), 1)
	ctx := context.Background()
	pool, err := pgdb.Open(ctx, url+"&statement_timeout=300")
	require.NoError(t, err)
	t.Cleanup(pool.Close)

	_, err = pool.Exec(ctx, "SELECT pg_sleep(1)")
	require.Equal(t, codes.DeadlineExceeded, apierr.CodeOf(err), "statement_timeout: %v", err)

	// Dropped during a call, then refused.
	errc := make(chan error, 1)
	go func() { _, err := pool.Exec(ctx, "SELECT pg_sleep(0.2)"); errc <- err }()
	time.Sleep(50 * time.Millisecond)
	p.Down()
	err = <-errc
	require.Equal(t, codes.Unavailable, apierr.CodeOf(err), "dropped: %v", err)
	_, err = pool.Exec(ctx, "SELECT 1")
	require.Equal(t, codes.Unavailable, apierr.CodeOf(err), "refused: %v", err)
	st := apierr.ToStatus(err)
	require.Contains(t, st.Error(), "cannot be reached")

	// Terminated by the server (an administrator, a failover).
	p.Resume()
	conn, err := pool.Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	var pid int
	require.NoError(t, conn.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid))
	_, err = direct.Exec(ctx, "SELECT pg_terminate_backend($1)", pid)
	require.NoError(t, err)
	_, err = conn.Exec(ctx, "SELECT 1")
	require.Equal(t, codes.Unavailable, apierr.CodeOf(err), "terminated: %v", err)

	var timeout string
	plain, err := pgdb.Open(ctx, direct.Config().ConnString())
	require.NoError(t, err)
	defer plain.Close()
	require.NoError(t, plain.QueryRow(ctx, "SHOW statement_timeout").Scan(&timeout))
	require.Equal(t, pgdb.DefaultStatementTimeout, timeout, "every pool bounds its statements")
}
