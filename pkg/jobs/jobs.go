// Package jobs gives a service a durable job queue in its own PostgreSQL schema, for the work that
// must happen after a request has been answered and must not be lost: delivering ledger entries
// from an outbox, retention sweeps, reminders.
//
// It is River (riverqueue/river): jobs are rows inserted in the same transaction as the change
// that needs them (so they exist exactly when the change committed), worked by any replica with
// SKIP LOCKED, retried with backoff, and visible in SQL. Each service's queue lives in its schema
// (River's Schema option), so services stay independent as ARCHITECTURE.md asks.
package jobs

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"slices"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"github.com/pipa-kr/pipa/pkg/pgdb"
)

// Migrate creates or upgrades River's tables in schema, which must exist (pgdb.Migrate creates
// it). Replicas starting together serialize on an advisory lock, so each migration runs once.
func Migrate(ctx context.Context, pool *pgxpool.Pool, schema string) error {
	if err := pgdb.ValidSchema(schema); err != nil {
		return err
	}
	m, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Schema: schema})
	if err != nil {
		return fmt.Errorf("jobs: %w", err)
	}
	// River's migrations each run in their own transaction (one adds an enum value, which
	// PostgreSQL refuses to use in the transaction that added it), so the lock is per session.
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("jobs: %w", err)
	}
	defer conn.Release()
	h := fnv.New64a()
	h.Write([]byte("pipa/jobs.Migrate:" + schema))
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", int64(h.Sum64())); err != nil {
		return fmt.Errorf("jobs: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", int64(h.Sum64())) //nolint:errcheck // the session ends with the lock otherwise
	_, err = m.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return fmt.Errorf("jobs: migrate %s: %w", schema, err)
	}
	return nil
}

// Version names River's schema as Migrate builds it, for test templates keyed by what they hold.
func Version() string {
	m, err := rivermigrate.New(riverpgxv5.New(nil), nil)
	if err != nil {
		panic(err) // the driver's migrations are compiled in
	}
	all := m.AllVersions()
	return fmt.Sprintf("river/%d", all[len(all)-1].Version)
}

const (
	// Timeout bounds one run of a job: a job that hangs (on a frozen database, a ledger that does
	// not answer) is cancelled and retried, never left holding its worker.
	Timeout = 20 * time.Second
	// RescueAfter is when a job still running is taken for dead (its process killed) and run
	// again: River's rescuer looks every 30 seconds, so within a minute. It must exceed Timeout,
	// or a live job would be run twice.
	RescueAfter = 25 * time.Second
)

// Config is the River configuration of a service's queue in schema: maxWorkers at once, the
// periodic jobs given, every job bounded by Timeout and rescued after RescueAfter (River's
// defaults are no timeout and an hour), failures logged by Errors.
func Config(schema string, workers *river.Workers, maxWorkers int, periodic ...*river.PeriodicJob) *river.Config {
	return &river.Config{
		Schema:               schema,
		Queues:               map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: maxWorkers}},
		Workers:              workers,
		ErrorHandler:         Errors{},
		PeriodicJobs:         periodic,
		JobTimeout:           Timeout,
		RescueStuckJobsAfter: RescueAfter,
	}
}

// Backoff is when to retry a job after its attempt-th failure: doubling from a second to at most
// five minutes, so that work waiting on a service back from a long outage resumes within minutes,
// not days (River's default grows with the fourth power of the attempts).
func Backoff(attempt int) time.Time {
	return time.Now().Add(min(time.Duration(1<<min(attempt, 9))*time.Second, 5*time.Minute))
}

// Errors is the error handler a service's River client gets: it logs every failed attempt at
// Warn with the job's kind and attempt. River itself reports them at Info only, below what its
// logger prints, and a job retrying in silence is work stalled unseen.
type Errors struct{}

// HandleError logs the attempt and leaves the retry to the job's own policy.
func (Errors) HandleError(ctx context.Context, job *rivertype.JobRow, err error) *river.ErrorHandlerResult {
	slog.WarnContext(ctx, "job attempt failed", "kind", job.Kind, "id", job.ID, "attempt", job.Attempt, "err", err)
	return nil
}

// HandlePanic logs the panic; River records it and retries as for an error.
func (Errors) HandlePanic(ctx context.Context, job *rivertype.JobRow, v any, trace string) *river.ErrorHandlerResult {
	slog.ErrorContext(ctx, "job panicked", "kind", job.Kind, "id", job.ID, "attempt", job.Attempt, "panic", v, "trace", trace)
	return nil
}

// Runner is background work a service starts and stops with its process (modules.Deps.Run): its
// River client, its outbound's dispatcher.
type Runner interface {
	Start(context.Context) error
	Stop(context.Context) error
}

// Together is rs as one Runner: started in order (a failure stops those started) and stopped in
// the reverse order.
func Together(rs ...Runner) Runner { return together(rs) }

type together []Runner

func (t together) Start(ctx context.Context) error {
	for i, r := range t {
		if err := r.Start(ctx); err != nil {
			return errors.Join(err, t[:i].Stop(ctx))
		}
	}
	return nil
}

func (t together) Stop(ctx context.Context) error {
	var errs []error
	for _, r := range slices.Backward(t) {
		errs = append(errs, r.Stop(ctx))
	}
	return errors.Join(errs...)
}
