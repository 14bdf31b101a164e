// Package pgdb opens the PostgreSQL connection pool every pipa service uses and applies a
// service's schema migrations, so that pool settings, tracing and migration rules are the same in
// every service and in every test.
//
// Each service owns one schema (registry, requests, ledger, retention) and ships its migrations as
// embedded, append-only goose SQL files that name the schema in every statement. Migrate records
// them in that schema's own goose_db_version table, so one database can hold all four services
// (monolithic mode) and each still migrates on its own.
//
// Migrations use pressly/goose v3 because its Provider API takes an fs.FS (migrations embedded in
// the binary, no files on the server), a *sql.DB that pgx's stdlib adapter builds from the pool
// (no second driver or pool), a configurable version table (one per service), and a PostgreSQL
// session-level advisory lock, so that replicas starting together migrate exactly once.
package pgdb
