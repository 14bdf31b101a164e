package ledgerout_test

import (
	"io/fs"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pipa-kr/pipa/pkg/ledgerout"
)

// The outbox's migrations are the same files for every service, naming its schema: the table, its
// sequence and its indexes land in the service's schema and nowhere else.
func TestMigrationsNameTheSchema(t *testing.T) {
	m, err := ledgerout.Migrations("requests")
	require.NoError(t, err)
	files, err := fs.Glob(m, "*.sql")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		b, err := fs.ReadFile(m, f)
		require.NoError(t, err)
		require.NotContains(t, string(b), "{schema}", f)
		require.Contains(t, string(b), "requests.ledger_outbox", f)
		require.Equal(t, strings.Count(string(b), "CREATE TABLE"), strings.Count(string(b), "CREATE TABLE requests."), f)
	}
	_, err = ledgerout.Migrations("Robert'); DROP TABLE x;--")
	require.Error(t, err, "a schema is a plain identifier")
}
