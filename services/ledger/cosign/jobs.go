package cosign

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/pipa-kr/pipa/pkg/jobs"
	"github.com/pipa-kr/pipa/services/ledger/store/pg"
)

// AllArgs is the periodic job that enqueues a LogArgs job for every log whose latest checkpoint
// is not yet cosigned.
type AllArgs struct{}

func (AllArgs) Kind() string { return "ledger.cosign_all" }

// LogArgs asks the witnesses to cosign one log's latest checkpoint.
type LogArgs struct {
	Tenant string `json:"tenant"`
	Unit   string `json:"unit"`
}

func (LogArgs) Kind() string { return "ledger.cosign_log" }

// InsertOpts: one job per log waits or runs at a time; a finished one does not stop the next.
func (LogArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRetryable,
		rivertype.JobStateRunning, rivertype.JobStateScheduled}}}
}

type allWorker struct {
	river.WorkerDefaults[AllArgs]
	c *Cosigner
}

func (w *allWorker) Work(ctx context.Context, _ *river.Job[AllArgs]) error {
	logs, err := w.c.store.Unwitnessed(ctx)
	if err != nil || len(logs) == 0 {
		return err
	}
	params := make([]river.InsertManyParams, len(logs))
	for i, l := range logs {
		params[i] = river.InsertManyParams{Args: LogArgs{Tenant: l.Tenant, Unit: l.Unit}}
	}
	_, err = river.ClientFromContext[pgx.Tx](ctx).InsertMany(ctx, params)
	return err
}

type logWorker struct {
	river.WorkerDefaults[LogArgs]
	c *Cosigner
}

// NextRetry: a witness that is down is asked again within minutes of coming back (jobs.Backoff).
func (w *logWorker) NextRetry(job *river.Job[LogArgs]) time.Time { return jobs.Backoff(job.Attempt) }

func (w *logWorker) Work(ctx context.Context, job *river.Job[LogArgs]) error {
	return w.c.Log(ctx, pg.Log{Tenant: job.Args.Tenant, Unit: job.Args.Unit})
}

// Add registers c's workers, and returns the periodic job that runs it every interval (elected
// once among the replicas), for the ledger's River client.
func Add(workers *river.Workers, c *Cosigner, interval time.Duration) *river.PeriodicJob {
	river.AddWorker(workers, &allWorker{c: c})
	river.AddWorker(workers, &logWorker{c: c})
	return river.NewPeriodicJob(river.PeriodicInterval(interval),
		func() (river.JobArgs, *river.InsertOpts) { return AllArgs{}, nil },
		&river.PeriodicJobOpts{ID: "ledger.cosign_all", RunOnStart: true})
}
