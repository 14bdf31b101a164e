package ledgerout

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/pipa-kr/pipa/pkg/apierr"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	"github.com/pipa-kr/pipa/pkg/jobs"
	"github.com/pipa-kr/pipa/pkg/names"
)

const (
	// drainBatch is how many pending entries one pass reads (one query, with the entries they
	// follow); they go to the ledger in batches per unit log (BatchAppendEntries, at most
	// sendBatch entries and about sendBytes each), drainParallel batches at once.
	drainBatch    = 500
	drainParallel = 32
	// sendBatch is the ledger's bound on a batch (ledger.MaxBatchAppend); sendBytes keeps a batch
	// well inside gRPC's default 4 MiB message.
	sendBatch = 500
	sendBytes = 1 << 20
	// drainBudget is how long one run of the drain works before it yields, well inside
	// jobs.Timeout, so that River never times a healthy drain out.
	drainBudget = 12 * time.Second
	// drainEvery is the period of the drain that finds what no call handed over (a crash between
	// the commit and the call's own append): each entry is delivered within about a minute of
	// the service coming back.
	drainEvery = 30 * time.Second
)

// DrainArgs is the job that delivers the pending entries: enqueued by a call that could not
// deliver its own entry (unique while it waits or runs), and periodically (unique within ten
// seconds). A drain whose process died is "running" until River rescues it, up to a minute; the
// periodic drain that a new leader runs at once is not held back by it.
type DrainArgs struct {
	Periodic bool `json:"periodic,omitempty"`
}

// Kind names the job in the service's River tables.
func (DrainArgs) Kind() string { return "ledgerout.drain" }

// KindAliases are the jobs of versions before the drain (one per entry, and an hourly requeue),
// which may still wait in a service's queue after an upgrade: each now runs a drain.
func (DrainArgs) KindAliases() []string { return []string{"ledgerout.deliver", "ledgerout.requeue"} }

// InsertOpts retry a drain for about a year at jobs.Backoff's five-minute intervals: an outage
// only delays it. A drain is unique until it completes, so a burst of failures enqueues one.
func (DrainArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 100_000, UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
		rivertype.JobStateRetryable, rivertype.JobStateScheduled}}}
}

type drainWorker struct {
	river.WorkerDefaults[DrainArgs]
	o *Outbox
}

// Work passes over the pending entries older than Config.Delay (younger ones are still with the
// call that wrote them) in id order, appending many at once, until a pass delivers nothing. It
// completes when nothing is pending, waits for the youngest entries to come of age, yields when
// its time is spent, and fails (to be retried with jobs.Backoff) when the ledger took nothing.
//
// One drain works an outbox at a time, across replicas (a session advisory lock, released with the
// session if the process dies): two would send the same entries, and the ledger answer the second
// with replays. A drain that finds the lock taken looks again in a second, as the one at work may
// be finishing.
//
// Without a ledger (Config.Ledger nil: its address is not set) there is nothing to drain to: the
// entries wait, as the service's module says, until a process with the ledger's address drains
// them.
func (w *drainWorker) Work(ctx context.Context, _ *river.Job[DrainArgs]) error {
	if w.o.cfg.Ledger == nil {
		return nil
	}
	conn, err := w.o.cfg.Pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	key := "pipa/ledgerout/" + w.o.table()
	var mine bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(hashtext($1))`, key).Scan(&mine); err != nil {
		return err
	}
	if !mine {
		return river.JobSnooze(time.Second)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(hashtext($1))`, key) //nolint:errcheck // the session ends with the lock otherwise
	stop := time.Now().Add(drainBudget)
	for {
		delivered, err := w.o.drainPass(ctx, stop)
		switch {
		case time.Now().After(stop):
			return river.JobSnooze(0)
		case delivered == 0 && err != nil:
			return err
		case delivered > 0:
			continue
		}
		next, any, err := w.o.nextDue(ctx)
		if err != nil || !any {
			return err
		}
		return river.JobSnooze(max(time.Until(next), time.Second))
	}
}

// NextRetry: see jobs.Backoff.
func (w *drainWorker) NextRetry(job *river.Job[DrainArgs]) time.Time {
	return jobs.Backoff(job.Attempt)
}

// drainPass delivers each pending entry of age once, in pages, and counts those the ledger took;
// its error is the last failure other than a refusal or a wait. A page's deliveries are recorded
// while the next page is read and sent: recording runs the services' hooks, one entry at a time.
func (o *Outbox) drainPass(ctx context.Context, stop time.Time) (delivered int, err error) {
	var after struct {
		tenant string
		id     int64
	}
	var last error
	var recording chan error // the previous page's record, which delivers took entries
	var took int
	recorded := func() error {
		if recording == nil {
			return nil
		}
		err := <-recording
		recording = nil
		if err == nil {
			delivered += took
		}
		return err // appended, not recorded: the next pass replays them, appended once
	}
	defer func() {
		if rerr := recorded(); err == nil {
			err = rerr
		}
	}()
	for time.Now().Before(stop) {
		rows, qerr := o.cfg.Pool.Query(ctx, o.selectPending()+`WHERE o.ledger_index IS NULL AND o.refuse_time IS NULL
			AND o.create_time <= $3 AND (o.tenant_id, o.id) > ($1, $2)
			ORDER BY o.tenant_id, o.id LIMIT `+strconv.Itoa(drainBatch), after.tenant, after.id, o.clock().Add(-o.cfg.Delay))
		if qerr != nil {
			return delivered, qerr
		}
		batch, qerr := pgx.CollectRows(rows, scanPending)
		if qerr != nil || len(batch) == 0 {
			return delivered, errors.Join(last, qerr)
		}
		sent, fresh, results := o.sendAll(ctx, batch)
		if rerr := recorded(); rerr != nil {
			return delivered, rerr
		}
		var record []Settled
		for i, f := range fresh {
			if f {
				record = append(record, sent[i])
			}
		}
		took = 0
		for _, err := range results {
			switch {
			case err == nil:
				took++
			case errors.Is(err, ErrWaiting), errors.Is(err, ErrRefused):
			default:
				last = err
			}
		}
		ch := make(chan error, 1)
		go func() { ch <- o.delivered(ctx, record...) }()
		recording = ch
		after.tenant, after.id = batch[len(batch)-1].Tenant, batch[len(batch)-1].ID
	}
	return delivered, last
}

// sendAll appends the entries of batch (as read, in id order) unless they are settled, in
// batches per unit log that keep their order, drainParallel batches at once; it gives each
// entry's result as send does.
func (o *Outbox) sendAll(ctx context.Context, batch []*pending) (sent []Settled, fresh []bool, results []error) {
	sent, fresh, results = make([]Settled, len(batch)), make([]bool, len(batch)), make([]error, len(batch))
	type chunk struct {
		log   string
		of    []int // places in batch
		reqs  []*ledgerv1.AppendEntryRequest
		bytes int
	}
	var chunks []*chunk
	last := map[string]*chunk{} // each log's open chunk
	for i, p := range batch {
		req, s, err := o.request(ctx, p)
		if req == nil || err != nil {
			sent[i], results[i] = s, err
			continue
		}
		log, size := names.Unit(p.Tenant, p.Unit), proto.Size(req)
		c := last[log]
		if c == nil || len(c.of) == sendBatch || c.bytes+size > sendBytes {
			c = &chunk{log: log}
			chunks, last[log] = append(chunks, c), c
		}
		c.of, c.reqs, c.bytes = append(c.of, i), append(c.reqs, req), c.bytes+size
	}
	var g errgroup.Group
	g.SetLimit(drainParallel)
	for _, c := range chunks {
		g.Go(func() error {
			one := func() {
				for k, i := range c.of {
					sent[i], fresh[i], results[i] = o.sendOne(ctx, batch[i], c.reqs[k])
				}
			}
			if len(c.of) == 1 {
				one()
				return nil
			}
			actx, cancel, err := o.appendCtx(ctx)
			if err != nil {
				for _, i := range c.of {
					results[i] = err
				}
				return nil
			}
			defer cancel()
			resp, err := o.cfg.Ledger.BatchAppendEntries(actx, &ledgerv1.BatchAppendEntriesRequest{Parent: c.log, Requests: c.reqs})
			switch code := apierr.CodeOf(err); {
			case code == codes.InvalidArgument || code == codes.FailedPrecondition || code == codes.Unimplemented:
				// The batch took nothing: one by one, the entries at fault are refused alone and
				// the others appended (Unimplemented: a ledger older than the batch append).
				one()
			case err == nil && len(resp.GetEntries()) != len(c.of):
				err = fmt.Errorf("ledgerout: the ledger answered a batch of %d with %d entries", len(c.of), len(resp.GetEntries()))
				fallthrough
			case err != nil:
				for _, i := range c.of {
					results[i] = err
				}
			default:
				for k, i := range c.of {
					sent[i], fresh[i], results[i] = o.took(ctx, batch[i], resp.GetEntries()[k], nil)
				}
			}
			return nil
		})
	}
	_ = g.Wait()
	return sent, fresh, results
}

// nextDue is when the oldest pending entry comes of age for the drain; any is false when nothing
// is pending.
func (o *Outbox) nextDue(ctx context.Context) (next time.Time, any bool, err error) {
	var oldest *time.Time
	if err := o.cfg.Pool.QueryRow(ctx, `SELECT min(create_time) FROM `+o.table()+`
		WHERE ledger_index IS NULL AND refuse_time IS NULL`).Scan(&oldest); err != nil || oldest == nil {
		return time.Time{}, false, err
	}
	return time.Now().Add(oldest.Add(o.cfg.Delay).Sub(o.clock())), true, nil
}

// kick enqueues the drain for when an entry a call could not deliver comes of age. A failure is
// only logged: the periodic drain finds the entry too.
func (o *Outbox) kick(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, err := o.jobs.Insert(ctx, DrainArgs{}, &river.InsertOpts{ScheduledAt: time.Now().Add(o.cfg.Delay)}); err != nil {
		o.log.WarnContext(ctx, "ledgerout: the drain is left to its period", "outbox", o.table(), "err", err)
	}
}

// AddWorkers registers the outbox's jobs with the service's River workers.
func (o *Outbox) AddWorkers(workers *river.Workers) {
	river.AddWorker(workers, &drainWorker{o: o})
}

// PeriodicJobs are the outbox's periodic jobs, for the service's River client: the drain every
// half minute, also run when a leader starts (after a crash or an upgrade, at once).
func (o *Outbox) PeriodicJobs() []*river.PeriodicJob {
	return []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(drainEvery),
		func() (river.JobArgs, *river.InsertOpts) {
			opts := DrainArgs{}.InsertOpts()
			opts.UniqueOpts.ByPeriod = 10 * time.Second
			return DrainArgs{Periodic: true}, &opts
		},
		&river.PeriodicJobOpts{ID: "ledgerout.drain", RunOnStart: true})}
}
