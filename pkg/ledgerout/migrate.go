package ledgerout

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"strings"
	"testing/fstest"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pipa-kr/pipa/pkg/pgdb"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations are the outbox's goose migrations for schema, which they name where the files say
// {schema}: the same files for every service.
func Migrations(schema string) (fs.FS, error) {
	if err := pgdb.ValidSchema(schema); err != nil {
		return nil, err
	}
	files, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	out := fstest.MapFS{}
	for _, f := range files {
		b, err := fs.ReadFile(migrations, f)
		if err != nil {
			return nil, err
		}
		out[strings.TrimPrefix(f, "migrations/")] = &fstest.MapFile{Data: []byte(strings.ReplaceAll(string(b), "{schema}", schema))}
	}
	return out, nil
}

// Migrate creates or upgrades the outbox's table in schema (creating the schema if it is
// missing), versioned in schema.ledgerout_db_version apart from the service's own migrations. It
// runs before them, so that a service migration may move rows of an older outbox into it.
func Migrate(ctx context.Context, pool *pgxpool.Pool, schema string) error {
	m, err := Migrations(schema)
	if err != nil {
		return err
	}
	if err := pgdb.MigrateAs(ctx, pool, schema, "ledgerout_db_version", m); err != nil {
		return fmt.Errorf("ledgerout: %w", err)
	}
	return nil
}
