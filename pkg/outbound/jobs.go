package outbound

import (
	"context"
	"errors"
	"time"

	"github.com/riverqueue/river"

	"github.com/pipa-kr/pipa/pkg/jobs"
)

// DeliverArgs is the job that sends one message.
type DeliverArgs struct {
	Tenant string `json:"tenant"`
	ID     int64  `json:"id"`
}

// Kind names the job in the service's River tables.
func (DeliverArgs) Kind() string { return "outbound.deliver" }

type deliverWorker struct {
	river.WorkerDefaults[DeliverArgs]
	o *Outbound
}

// Work makes one attempt; its last attempt (or a permanent refusal) gives the message up.
func (w *deliverWorker) Work(ctx context.Context, job *river.Job[DeliverArgs]) error {
	d, err := w.o.read(ctx, job.Args.Tenant, job.Args.ID)
	if errors.Is(err, errSettled) {
		return nil
	}
	if err != nil {
		return err
	}
	d.Attempt = job.Attempt
	return w.o.attempt(ctx, d, job.Attempt >= job.MaxAttempts)
}

// NextRetry: see jobs.Backoff.
func (w *deliverWorker) NextRetry(job *river.Job[DeliverArgs]) time.Time { return jobs.Backoff(job.Attempt) }

// Timeout leaves room for the attempt's own bound and its record.
func (w *deliverWorker) Timeout(*river.Job[DeliverArgs]) time.Duration { return w.o.cfg.Timeout + 30*time.Second }

// AddWorkers registers the outbound's job with the service's River workers.
func (o *Outbound) AddWorkers(workers *river.Workers) {
	river.AddWorker(workers, &deliverWorker{o: o})
}
