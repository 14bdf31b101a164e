package pgtest

import (
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"
)

func TestServerConfig(t *testing.T) {
	conf, poolParams, err := serverConfig("postgres://app:p%40ss@db.example:6543/pipa?sslmode=disable&pool_max_conns=3")
	require.NoError(t, err)
	require.Equal(t, "postgres://app:p%40ss@db.example:6543/pipa?sslmode=disable", conf.URL())
	require.Equal(t, "postgres://pgtdbuser:pgtdbpass@db.example:6543/testdb?pool_max_conns=3&sslmode=disable",
		withParams("postgres://pgtdbuser:pgtdbpass@db.example:6543/testdb?sslmode=disable", poolParams))
	require.Equal(t, "postgres://u:p@h:1/db?pool_max_conns=3", withParams("postgres://u:p@h:1/db?", poolParams))

	conf, poolParams, err = serverConfig("postgresql://[::1]/")
	require.NoError(t, err)
	require.Equal(t, "postgres://postgres:@[::1]:5432/postgres?", conf.URL())
	require.Empty(t, poolParams)

	_, _, err = serverConfig("")
	require.ErrorContains(t, err, "deploy/dev/postgres.sh start")
	_, _, err = serverConfig("host=localhost user=secret")
	require.Error(t, err)
	require.NotContains(t, err.Error(), "secret")
}

func TestHashCoversSchemaAndFiles(t *testing.T) {
	hash := func(m migrator) string {
		h, err := m.Hash()
		require.NoError(t, err)
		return h
	}
	files := fstest.MapFS{"00001_a.sql": {Data: []byte("CREATE TABLE s.a ();")}}
	edited := fstest.MapFS{"00001_a.sql": {Data: []byte("CREATE TABLE s.b ();")}}
	base := hash(migrator{{Schema: "s", FS: files}})
	require.Equal(t, base, hash(migrator{{Schema: "s", FS: files}}))
	require.NotEqual(t, base, hash(migrator{{Schema: "t", FS: files}}))
	require.NotEqual(t, base, hash(migrator{{Schema: "s", FS: edited}}))
}
