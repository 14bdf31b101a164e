package pgtest_test

import (
	"context"
	"os"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/pipa-kr/pipa/pkg/pgtest"
)

var (
	alpha = os.DirFS("testdata/alpha")
	beta  = os.DirFS("testdata/beta")
)

func TestNewGivesEachTestItsOwnMigratedDatabase(t *testing.T) {
	databases := make([]string, 2)
	t.Run("parallel", func(t *testing.T) {
		for i := range databases {
			t.Run("", func(t *testing.T) {
				t.Parallel()
				ctx := context.Background()
				pool := pgtest.New(t, "alpha", alpha)

				require.NoError(t, pool.QueryRow(ctx, "SELECT current_database()").Scan(&databases[i]))
				require.Equal(t, int64(2), schemaVersion(t, pool, "alpha"))
				// Both tests insert the same key: it would collide in a shared database.
				_, err := pool.Exec(ctx, "INSERT INTO alpha.things (tenant_id, id, name) VALUES ('t1', 'x', 'one')")
				require.NoError(t, err)
				var n int
				require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM alpha.things").Scan(&n))
				require.Equal(t, 1, n)
			})
		}
	})
	require.NotEmpty(t, databases[0])
	require.NotEqual(t, databases[0], databases[1])
}

func TestNewMultiMigratesEverySchemaWithItsOwnVersionTable(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewMulti(t, []pgtest.Migration{{Schema: "alpha", FS: alpha}, {Schema: "beta", FS: beta}})
	require.Equal(t, int64(2), schemaVersion(t, pool, "alpha"))
	require.Equal(t, int64(1), schemaVersion(t, pool, "beta"))
	_, err := pool.Exec(context.Background(), "INSERT INTO beta.gadgets (tenant_id, id) VALUES ('t1', 'g')")
	require.NoError(t, err)
}

func schemaVersion(t *testing.T, pool *pgxpool.Pool, schema string) int64 {
	t.Helper()
	var v int64
	err := pool.QueryRow(context.Background(), "SELECT max(version_id) FROM "+schema+".goose_db_version").Scan(&v)
	require.NoError(t, err)
	return v
}
