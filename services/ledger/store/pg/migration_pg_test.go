package pg_test

import (
	"io/fs"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pipa-kr/pipa/services/ledger/store/pg"
)

// upStatements are the statements of a NO TRANSACTION migration's Up section, as goose runs them
// (one per line ending in ";", or one StatementBegin … StatementEnd block).
func upStatements(t *testing.T, name string) []string {
	t.Helper()
	b, err := fs.ReadFile(pg.Migrations, name)
	require.NoError(t, err)
	up, _, ok := strings.Cut(string(b), "-- +goose Down")
	require.True(t, ok)
	_, up, ok = strings.Cut(up, "-- +goose Up")
	require.True(t, ok)
	var out []string
	var cur strings.Builder
	block := false
	for line := range strings.Lines(up) {
		switch trimmed := strings.TrimSpace(line); {
		case trimmed == "-- +goose StatementBegin":
			block = true
		case trimmed == "-- +goose StatementEnd":
			block = false
			out, cur = append(out, cur.String()), strings.Builder{}
		case strings.HasPrefix(trimmed, "--") || trimmed == "":
		default:
			cur.WriteString(line)
			if !block && strings.HasSuffix(trimmed, ";") {
				out, cur = append(out, cur.String()), strings.Builder{}
			}
		}
	}
	return out
}

// Migration 00009 run again after its concurrent index build failed (which leaves the index
// INVALID) builds the index anew, rather than keeping the invalid one and dropping the full
// index anyway.
func TestPGMigration00009AgainAfterAFailedBuild(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, pool := newStore(t)
	for i := range 2 {
		_, err := s.Append(ctx, "iksan", "u", req("iksan", "u", "USE", strings.Repeat("x", i+1)))
		require.NoError(t, err)
	}
	// As before 00009, then a build that fails midway (two USE entries of one log).
	_, err := pool.Exec(ctx, `DROP INDEX ledger.entries_kind_not_access`)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `CREATE INDEX entries_kind ON ledger.entries (tenant_id, unit_id, kind, idx)`)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `CREATE UNIQUE INDEX CONCURRENTLY entries_kind_not_access ON ledger.entries (tenant_id, unit_id, kind)
		WHERE kind <> 'ACCESS'`)
	require.Error(t, err)

	for _, q := range upStatements(t, "00009_access_records_lighter.sql") {
		_, err := pool.Exec(ctx, q)
		require.NoError(t, err, q)
	}
	var valid, unique bool
	require.NoError(t, pool.QueryRow(ctx, `SELECT indisvalid, indisunique FROM pg_index
		WHERE indexrelid = 'ledger.entries_kind_not_access'::regclass`).Scan(&valid, &unique))
	require.True(t, valid, "entries_kind_not_access is valid")
	require.False(t, unique, "and the migration's")
	var old int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM pg_class WHERE relname = 'entries_kind'`).Scan(&old))
	require.Zero(t, old)
}
