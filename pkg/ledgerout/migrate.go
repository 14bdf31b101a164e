package ledgerout

import (
	"context"
	"embed"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pipa-kr/pipa/pkg/pgdb"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations are the outbox's goose migrations for schema, which they name where the files say
// {schema}: the same files for every service.
func Migrations(schema string) (fs.FS, error) {
	return pgdb.SchemaFS(migrations, "migrations", schema)
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
