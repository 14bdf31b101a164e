// Package pgtest gives each test its own PostgreSQL database, already migrated, so that tests run
// in parallel against a real server without seeing each other's rows.
//
// The first call for a set of migrations creates and migrates a template database (once per set,
// even across test binaries running at once); every call then clones it, which takes tens of
// milliseconds. This is github.com/peterldowns/pgtestdb with a Migrator that runs pgdb.Migrate, so
// tests apply migrations exactly as the services do. A clone is dropped when its test passes and
// kept for inspection when it fails (its URL is in the test log).
//
// The server comes from DATABASE_URL; `make test` sets it, or run
//
//	export DATABASE_URL=$(deploy/dev/postgres.sh start)
//
// from the repository root. The tests connect as a non-superuser role that owns its database, as a
// service does in production, so a migration that needs more privileges fails in tests too.
package pgtest

import (
	"cmp"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io/fs"
	"maps"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver that pgtestdb uses
	"github.com/peterldowns/pgtestdb"
	"github.com/pipa-kr/pipa/pkg/jobs"
	"github.com/pipa-kr/pipa/pkg/ledgerout"
	"github.com/pipa-kr/pipa/pkg/outbound"
	"github.com/pipa-kr/pipa/pkg/pgdb"
)

// Migration is one service's schema and its goose migrations, as passed to pgdb.Migrate.
type Migration struct {
	Schema string
	FS     fs.FS
	// Jobs adds the service's job queue (jobs.Migrate) to the schema.
	Jobs bool
	// Outbox adds the service's ledger outbox (ledgerout.Migrate) to the schema, before FS.
	Outbox bool
	// Outbound adds the service's outbound tables (outbound.Migrate), after FS.
	Outbound bool
}

// New returns a pool on a fresh database holding schema, migrated with migrations. The pool is
// closed when the test ends.
func New(t testing.TB, schema string, migrations fs.FS) *pgxpool.Pool {
	t.Helper()
	return NewMulti(t, []Migration{{Schema: schema, FS: migrations}})
}

// NewMulti is New for tests that need several services' schemas in one database, as pipa's
// monolithic mode has. Migrations are applied in the order given.
func NewMulti(t testing.TB, migrations []Migration) *pgxpool.Pool {
	t.Helper()
	conf, poolParams, err := serverConfig(os.Getenv("DATABASE_URL"))
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	instance := pgtestdb.Custom(t, conf, migrator(migrations))
	pool, err := pgdb.Open(context.Background(), withParams(instance.URL(), poolParams))
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	// Registered after pgtestdb's cleanup, so it runs first: the database cannot be dropped while
	// the pool holds connections to it.
	t.Cleanup(pool.Close)
	return pool
}

// serverConfig turns DATABASE_URL into pgtestdb's Config. pgxpool's pool_* parameters are split
// off into poolParams, because pgtestdb also connects through database/sql, to which they would
// be unknown server settings.
func serverConfig(databaseURL string) (conf pgtestdb.Config, poolParams url.Values, err error) {
	if databaseURL == "" {
		return conf, nil, errors.New("DATABASE_URL is not set: run `make test`, or " +
			"`export DATABASE_URL=$(deploy/dev/postgres.sh start)` from the repository root")
	}
	u, err := url.Parse(databaseURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Hostname() == "" {
		// The URL is not echoed: it may hold a password.
		return conf, nil, errors.New("DATABASE_URL must be a postgres://user[:password]@host[:port]/database URL")
	}
	// pgtestdb splices these into a URL unescaped, so they are kept in their escaped form.
	user, password, _ := strings.Cut(u.User.String(), ":")
	host := u.Hostname()
	if strings.Contains(host, ":") {
		host = "[" + host + "]" // IPv6
	}
	conf = pgtestdb.Config{
		DriverName: "pgx",
		Host:       host,
		Port:       cmp.Or(u.Port(), "5432"),
		User:       cmp.Or(user, "postgres"),
		Password:   password,
		Database:   cmp.Or(strings.TrimPrefix(u.Path, "/"), "postgres"),
	}
	options, poolParams := url.Values{}, url.Values{}
	for k, v := range u.Query() {
		if strings.HasPrefix(k, "pool_") {
			poolParams[k] = v
		} else {
			options[k] = v
		}
	}
	conf.Options = options.Encode()
	return conf, poolParams, nil
}

// withParams adds params to the query of rawURL, a URL built by pgtestdb.
func withParams(rawURL string, params url.Values) string {
	u, err := url.Parse(rawURL)
	if err != nil || len(params) == 0 {
		return rawURL
	}
	q := u.Query()
	maps.Copy(q, params)
	u.RawQuery = q.Encode()
	return u.String()
}

// migrator makes pgtestdb build its template with pgdb.Migrate.
type migrator []Migration

// Hash names the template: it covers every schema name and the name and bytes of every file that
// goose could read, so that any change to a migration builds a new template.
func (m migrator) Hash() (string, error) {
	h := sha256.New()
	writeField(h, "pipa/pgtest v1") // bump when pgdb.Migrate changes what it builds
	for _, mig := range m {
		writeField(h, mig.Schema)
		if mig.Jobs {
			writeField(h, jobs.Version())
		}
		if mig.Outbox {
			outbox, err := ledgerout.Migrations(mig.Schema)
			if err != nil {
				return "", err
			}
			if err := hashFS(h, "ledgerout", outbox); err != nil {
				return "", err
			}
		}
		if err := hashFS(h, mig.Schema, mig.FS); err != nil {
			return "", err
		}
		if mig.Outbound {
			ob, err := outbound.Migrations(mig.Schema)
			if err != nil {
				return "", err
			}
			if err := hashFS(h, "outbound", ob); err != nil {
				return "", err
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// hashFS writes the name and bytes of every file of migrations that goose could read.
func hashFS(h hash.Hash, what string, migrations fs.FS) error {
	entries, err := fs.ReadDir(migrations, ".")
	if err != nil {
		return fmt.Errorf("pgtest: migrations for %s: %w", what, err)
	}
	for _, e := range entries { // sorted by name
		if !e.Type().IsRegular() {
			continue
		}
		b, err := fs.ReadFile(migrations, e.Name())
		if err != nil {
			return fmt.Errorf("pgtest: migrations for %s: %w", what, err)
		}
		writeField(h, e.Name())
		writeField(h, string(b))
	}
	return nil
}

// writeField writes s length-prefixed, so that no two sequences of fields hash alike.
func writeField(h hash.Hash, s string) {
	h.Write(binary.BigEndian.AppendUint64(nil, uint64(len(s))))
	h.Write([]byte(s))
}

// Migrate migrates the new template database. pgtestdb's *sql.DB is not used: pgdb.Migrate works
// on a pgx pool, as in the services.
func (m migrator) Migrate(ctx context.Context, _ *sql.DB, conf pgtestdb.Config) error {
	pool, err := pgdb.Open(ctx, conf.URL())
	if err != nil {
		return err
	}
	defer pool.Close()
	for _, mig := range m {
		if mig.Outbox {
			if err := ledgerout.Migrate(ctx, pool, mig.Schema); err != nil {
				return err
			}
		}
		if err := pgdb.Migrate(ctx, pool, mig.Schema, mig.FS); err != nil {
			return err
		}
		if mig.Jobs {
			if err := jobs.Migrate(ctx, pool, mig.Schema); err != nil {
				return err
			}
		}
		if mig.Outbound {
			if err := outbound.Migrate(ctx, pool, mig.Schema); err != nil {
				return err
			}
		}
	}
	return nil
}
