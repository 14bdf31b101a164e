package outbound_test

import (
	"io/fs"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pipa-kr/pipa/pkg/outbound"
)

// The tables land in the using service's schema and nowhere else.
func TestMigrationsNameTheSchema(t *testing.T) {
	m, err := outbound.Migrations("requests")
	require.NoError(t, err)
	files, err := fs.Glob(m, "*.sql")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		b, err := fs.ReadFile(m, f)
		require.NoError(t, err)
		require.NotContains(t, string(b), "{schema}", f)
		sql := strings.ReplaceAll(string(b), "CREATE TABLE IF NOT EXISTS", "CREATE TABLE")
		require.Equal(t, strings.Count(sql, "CREATE TABLE"), strings.Count(sql, "CREATE TABLE requests."), f)
	}
	_, err = outbound.Migrations("x; DROP TABLE y")
	require.Error(t, err)
}
