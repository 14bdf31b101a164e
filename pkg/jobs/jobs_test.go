package jobs_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"testing"

	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	"github.com/pipa-kr/pipa/pkg/jobs"
	"github.com/pipa-kr/pipa/pkg/pgtest"
)

// Replicas starting together migrate River's tables once, into the service's own schema, and a
// later start finds nothing to do.
func TestMigrateConcurrentlyIntoTheSchema(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t, "widgets", os.DirFS("../pgdb/testdata"))
	ctx := context.Background()
	var g errgroup.Group
	for range 4 {
		g.Go(func() error { return jobs.Migrate(ctx, pool, "widgets") })
	}
	require.NoError(t, g.Wait())
	require.NoError(t, jobs.Migrate(ctx, pool, "widgets"))
	var n int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM information_schema.tables
		WHERE table_schema = 'widgets' AND table_name IN ('river_job', 'river_migration')`).Scan(&n))
	require.Equal(t, 2, n)
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM information_schema.tables
		WHERE table_schema = 'public' AND table_name LIKE 'river%'`).Scan(&n))
	require.Zero(t, n, "nothing of River's outside the service's schema")
	require.Regexp(t, `^river/\d+$`, jobs.Version())
	require.Error(t, jobs.Migrate(ctx, pool, "Bad-Name"))
}

// A failed attempt is logged at Warn with its kind and attempt, where operators see it.
func TestErrorsLogFailedAttempts(t *testing.T) {
	var buf bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn})))
	t.Cleanup(func() { slog.SetDefault(prev) })
	res := jobs.Errors{}.HandleError(context.Background(), &rivertype.JobRow{ID: 7, Kind: "requests.track_copy", Attempt: 3}, errors.New("retention unreachable"))
	require.Nil(t, res, "the retry stays the job's own")
	require.Contains(t, buf.String(), "level=WARN")
	require.Contains(t, buf.String(), "kind=requests.track_copy")
	require.Contains(t, buf.String(), "attempt=3")
	require.Contains(t, buf.String(), "retention unreachable")
}
