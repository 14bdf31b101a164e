package ledgerout

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/pipa-kr/pipa/pkg/jobs"
)

// DeliverArgs is the job that delivers one entry. Unique by its args, so that the requeue never
// doubles a job that is still waiting.
type DeliverArgs struct {
	Tenant string `json:"tenant"`
	ID     int64  `json:"id"`
}

// Kind names the job in the service's River tables.
func (DeliverArgs) Kind() string { return "ledgerout.deliver" }

// InsertOpts retry a delivery for about a year at jobs.Backoff's five-minute intervals: an outage
// only delays it.
func (DeliverArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 100_000, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// deliverWorker works DeliverArgs.
type deliverWorker struct {
	river.WorkerDefaults[DeliverArgs]
	o *Outbox
}

// Work delivers the entry with the service credential. A refusal ends the job (it is settled), an
// entry waiting for its predecessor waits a little, anything else is retried.
func (w *deliverWorker) Work(ctx context.Context, job *river.Job[DeliverArgs]) error {
	_, err := w.o.Deliver(ctx, job.Args.Tenant, job.Args.ID)
	switch {
	case errors.Is(err, ErrWaiting):
		return river.JobSnooze(5 * time.Second)
	case errors.Is(err, ErrRefused):
		return river.JobCancel(err)
	}
	return err
}

// NextRetry: see jobs.Backoff.
func (w *deliverWorker) NextRetry(job *river.Job[DeliverArgs]) time.Time {
	return jobs.Backoff(job.Attempt)
}

// RequeueArgs is the periodic job that enqueues the delivery of every pending entry without a job.
type RequeueArgs struct{}

// Kind names the job in the service's River tables.
func (RequeueArgs) Kind() string { return "ledgerout.requeue" }

type requeueWorker struct {
	river.WorkerDefaults[RequeueArgs]
	o *Outbox
}

// Work pages through the pending entries; the jobs are unique, so one still waiting is left be.
func (w *requeueWorker) Work(ctx context.Context, _ *river.Job[RequeueArgs]) error {
	client, err := river.ClientFromContextSafely[pgx.Tx](ctx)
	if err != nil {
		return err
	}
	after := DeliverArgs{}
	for {
		rows, err := w.o.cfg.Pool.Query(ctx, `SELECT tenant_id, id FROM `+w.o.table()+`
			WHERE ledger_index IS NULL AND refuse_time IS NULL AND (tenant_id, id) > ($1, $2)
			ORDER BY tenant_id, id LIMIT 1000`, after.Tenant, after.ID)
		if err != nil {
			return err
		}
		page, err := pgx.CollectRows(rows, pgx.RowToStructByPos[DeliverArgs])
		if err != nil || len(page) == 0 {
			return err
		}
		params := make([]river.InsertManyParams, len(page))
		for i, a := range page {
			params[i] = river.InsertManyParams{Args: a}
		}
		if _, err := client.InsertMany(ctx, params); err != nil {
			return err
		}
		after = page[len(page)-1]
	}
}

// AddWorkers registers the outbox's jobs with the service's River workers.
func (o *Outbox) AddWorkers(workers *river.Workers) {
	river.AddWorker(workers, &deliverWorker{o: o})
	river.AddWorker(workers, &requeueWorker{o: o})
}

// PeriodicJobs are the outbox's periodic jobs, for the service's River client: the hourly requeue,
// also run when a leader starts (after an upgrade that moved pending rows here, at once).
func (o *Outbox) PeriodicJobs() []*river.PeriodicJob {
	return []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(time.Hour),
		func() (river.JobArgs, *river.InsertOpts) { return RequeueArgs{}, nil },
		&river.PeriodicJobOpts{ID: "ledgerout.requeue", RunOnStart: true})}
}
