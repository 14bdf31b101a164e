package pgdb_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	"github.com/pipa-kr/pipa/pkg/pgdb"
	"github.com/pipa-kr/pipa/pkg/pgtest"
)

var widgets = os.DirFS("testdata")

func TestMigrateRunsEachMigrationOnceUnderConcurrency(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewMulti(t, nil) // an empty database

	// Replicas starting together.
	var g errgroup.Group
	for range 4 {
		g.Go(func() error { return pgdb.Migrate(ctx, pool, "widgets", widgets) })
	}
	require.NoError(t, g.Wait())
	// And a restart.
	require.NoError(t, pgdb.Migrate(ctx, pool, "widgets", widgets))

	rows, err := pool.Query(ctx, "SELECT version_id FROM widgets.goose_db_version WHERE version_id > 0 ORDER BY id")
	require.NoError(t, err)
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	require.NoError(t, err)
	require.Equal(t, []int64{1, 2}, versions)

	var color string
	require.NoError(t, pool.QueryRow(ctx,
		"INSERT INTO widgets.widgets (tenant_id, id) VALUES ('t1', 'w1') RETURNING color").Scan(&color))
	require.Equal(t, "red", color)
}

func TestMigrateRejectsUnsafeSchemaName(t *testing.T) {
	err := pgdb.Migrate(context.Background(), nil, `widgets; DROP SCHEMA public`, widgets)
	require.ErrorContains(t, err, "invalid schema name")
}

func TestInTxCommitsOnNilAndRollsBackOnError(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.New(t, "widgets", widgets)
	insert := func(id string, fail error) error {
		return pgdb.InTx(ctx, pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "INSERT INTO widgets.widgets (tenant_id, id) VALUES ('t1', $1)", id); err != nil {
				return err
			}
			return fail
		})
	}
	errBoom := errors.New("boom")

	require.NoError(t, insert("kept", nil))
	require.ErrorIs(t, insert("dropped", errBoom), errBoom)
	require.Panics(t, func() {
		_ = pgdb.InTx(ctx, pool, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, "INSERT INTO widgets.widgets (tenant_id, id) VALUES ('t1', 'panicked')")
			require.NoError(t, err)
			panic("boom")
		})
	})

	rows, err := pool.Query(ctx, "SELECT id FROM widgets.widgets ORDER BY id")
	require.NoError(t, err)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Equal(t, []string{"kept"}, ids)
}

func TestOpenPoolSize(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// Not pool.Config().ConnString(): DATABASE_URL may set pool_max_conns.
	cc := pgtest.NewMulti(t, nil).Config().ConnConfig
	url := fmt.Sprintf("postgres://%s:%s@%s/%s?sslmode=disable",
		cc.User, cc.Password, net.JoinHostPort(cc.Host, strconv.Itoa(int(cc.Port))), cc.Database)

	p, err := pgdb.Open(ctx, url)
	require.NoError(t, err)
	require.Equal(t, int32(10), p.Config().MaxConns)
	p.Close()

	p, err = pgdb.Open(ctx, url+"&pool_max_conns=3")
	require.NoError(t, err)
	require.Equal(t, int32(3), p.Config().MaxConns)
	p.Close()
}

func TestOpenFailsFastWithoutLeakingThePassword(t *testing.T) {
	_, err := pgdb.Open(context.Background(), "postgres://u:hunter2@127.0.0.1:notaport/db")
	require.Error(t, err)
	require.NotContains(t, err.Error(), "hunter2")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = pgdb.Open(ctx, "postgres://u:hunter2@127.0.0.1:1/db?connect_timeout=1")
	require.Error(t, err)
	require.NotContains(t, err.Error(), "hunter2")
}
