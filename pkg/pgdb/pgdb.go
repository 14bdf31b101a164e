package pgdb

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"regexp"
	"strings"
	"testing/fstest"

	"github.com/exaring/otelpgx"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// defaultMaxConns bounds a pool whose URL does not set pool_max_conns. The limit that matters is
// the server's, not the client's CPU count (pgx's default): four services in one process with
// ten connections each stay well inside PostgreSQL's default max_connections of 100.
const defaultMaxConns = 10

// DefaultStatementTimeout is the statement_timeout of a pool whose URL does not set one: no
// statement outlives the longest request deadline (server.DefaultLimits), even one whose
// context nobody cancels (a job's, a frozen client's).
const DefaultStatementTimeout = "30s"

// Open connects a pool to url (a postgres:// URL or key=value DSN; pgxpool's pool_* parameters,
// such as pool_max_conns, override the defaults), traces every query with OpenTelemetry (opts name
// the tracer provider; the global one by default), bounds every statement (statement_timeout,
// DefaultStatementTimeout unless the URL sets it: ?statement_timeout=0 for none), and pings the server so that a bad URL fails at
// start-up rather than on the first request.
func Open(ctx context.Context, url string, opts ...otelpgx.Option) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// Not wrapped: pgx's parse errors quote the URL, and its password redaction is best effort.
		return nil, errors.New("pgdb: invalid database URL: check its syntax and pool_* parameters")
	}
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = defaultMaxConns
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["statement_timeout"]; !ok {
		cfg.ConnConfig.RuntimeParams["statement_timeout"] = DefaultStatementTimeout
	}
	cfg.ConnConfig.Tracer = otelpgx.NewTracer(opts...)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgdb: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("pgdb: connect to %s:%d/%s: %w",
			cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database, err)
	}
	return pool, nil
}

// schemaName is what Migrate and pipa's other SQL accept as a schema: a plain lower-case
// identifier, so it can be spliced into SQL unquoted and unescaped.
var schemaName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// ValidSchema reports an error unless schema is a plain lower-case PostgreSQL identifier, the only
// kind pipa splices into SQL text.
func ValidSchema(schema string) error {
	if !schemaName.MatchString(schema) {
		return fmt.Errorf("pgdb: invalid schema name %q: want a lower-case identifier", schema)
	}
	return nil
}

// Migrate creates schema if it is missing and applies every pending goose migration in the root
// of migrations (*.sql files, e.g. an embed.FS), recording them in <schema>.goose_db_version.
// Concurrent callers on one database (replicas starting together) serialize on an advisory lock
// per schema, so each migration runs once and services do not wait for one another.
func Migrate(ctx context.Context, pool *pgxpool.Pool, schema string, migrations fs.FS) error {
	return MigrateAs(ctx, pool, schema, goose.DefaultTablename, migrations)
}

// MigrateAs is Migrate for a set of migrations that keeps its own version table, <schema>.<table>:
// the DDL of a library that lives in the using service's schema beside the service's own
// (pkg/ledgerout's outbox), versioned apart from it.
func MigrateAs(ctx context.Context, pool *pgxpool.Pool, schema, table string, migrations fs.FS) error {
	if err := ValidSchema(schema); err != nil {
		return err
	}
	lockID := migrationLockID(schema)
	// CREATE SCHEMA IF NOT EXISTS is not safe against a concurrent twin (it can fail on
	// pg_namespace's unique index), so it takes the same lock as goose, for this transaction only.
	err := InTx(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", lockID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+schema)
		return err
	})
	if err != nil {
		return fmt.Errorf("pgdb: create schema %s: %w", schema, err)
	}

	// Retry every second (goose's default is every 5s) for up to 5 minutes: a replica that lost
	// the race should start soon after the winner finishes.
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(lockID), lock.WithLockTimeout(1, 300))
	if err != nil {
		return fmt.Errorf("pgdb: %w", err)
	}
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	provider, err := goose.NewProvider(goose.DialectPostgres, db, migrations,
		goose.WithTableName(schema+"."+table),
		goose.WithSessionLocker(locker),
		// Services register no Go migrations; ignore any registered globally by a dependency.
		goose.WithDisableGlobalRegistry(true),
	)
	if err != nil {
		return fmt.Errorf("pgdb: migrations for %s: %w", schema, err)
	}
	if _, err := provider.Up(ctx); err != nil {
		return fmt.Errorf("pgdb: migrate %s: %w", schema, err)
	}
	return nil
}

// migrationLockID derives the advisory lock key from the schema, so that different services'
// migrations never wait for each other.
func migrationLockID(schema string) int64 {
	h := fnv.New64a()
	h.Write([]byte("pipa/pgdb.Migrate:" + schema))
	return int64(h.Sum64())
}

// InTx runs fn in a READ COMMITTED transaction on pool, committing if fn returns nil and rolling
// back if it returns an error or panics. fn must do all its work through tx.
func InTx(ctx context.Context, pool *pgxpool.Pool, fn func(pgx.Tx) error) error {
	return pgx.BeginTxFunc(ctx, pool, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, fn)
}

// SchemaFS is the *.sql files of dir in embedded with every "{schema}" replaced by schema: the
// migrations of a library that lives in the using service's schema (pkg/ledgerout, pkg/outbound),
// the same files for every service.
func SchemaFS(embedded fs.FS, dir, schema string) (fs.FS, error) {
	if err := ValidSchema(schema); err != nil {
		return nil, err
	}
	files, err := fs.Glob(embedded, dir+"/*.sql")
	if err != nil {
		return nil, err
	}
	out := fstest.MapFS{}
	for _, f := range files {
		b, err := fs.ReadFile(embedded, f)
		if err != nil {
			return nil, err
		}
		out[strings.TrimPrefix(f, dir+"/")] = &fstest.MapFile{Data: []byte(strings.ReplaceAll(string(b), "{schema}", schema))}
	}
	return out, nil
}

// Sub returns the migrations directory dir of an embedded FS, for Migrate. Embedded paths are
// fixed at build time, so a wrong dir is a programming error and panics.
func Sub(embedded fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(embedded, dir)
	if err != nil {
		panic(err)
	}
	return sub
}
