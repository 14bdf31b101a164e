package outbound

import (
	"context"
	"errors"
	"time"

	"github.com/riverqueue/river"

	"github.com/pipa-kr/pipa/pkg/jobs"
)

// waitForSender is how long a message of a channel without a sender waits before it looks again.
const waitForSender = 5 * time.Minute

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
	if _, ok := w.o.cfg.Senders[d.Channel]; !ok {
		// Not configured here (no PIPA_SMTP_ADDR, no PIPA_SMS_PROVIDER): the message waits, its
		// attempts unspent, until a process that can send it takes the job.
		_, err := w.o.cfg.Pool.Exec(ctx, `UPDATE `+w.o.table()+` SET answer = $3 WHERE tenant_id = $1 AND id = $2`,
			d.Tenant, d.ID, "waiting: no "+d.Channel+" sender is configured")
		if err != nil {
			return err
		}
		return river.JobSnooze(waitForSender)
	}
	return w.o.attempt(ctx, d, job.Attempt >= job.MaxAttempts)
}

// NextRetry: see jobs.Backoff.
func (w *deliverWorker) NextRetry(job *river.Job[DeliverArgs]) time.Time {
	return jobs.Backoff(job.Attempt)
}

// AddWorkers registers the outbound's job with the service's River workers.
func (o *Outbound) AddWorkers(workers *river.Workers) {
	river.AddWorker(workers, &deliverWorker{o: o})
}
