package outbound

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/pipa-kr/pipa/pkg/jobs"
	"github.com/pipa-kr/pipa/pkg/pgdb"
)

// Parallel is the most messages an outbound sends at once.
const Parallel = 32

// The dispatcher sends what is due: it claims a batch of due messages of the channels it can send
// in one statement (with each webhook's subscription), sends up to Parallel of them at once, and
// records their answers in batches. A claimed message is leased: its next_time moves past the
// attempt's end, so that if the process dies mid-send another dispatcher (another replica, or
// this one restarted) sends it again when the lease ends; a message is sent at least once, under
// its idempotency key. Replicas claim apart (FOR UPDATE SKIP LOCKED).
const (
	// claimBatch is the most messages one claim takes.
	claimBatch = 64
	// pollIdle is how often a dispatcher looks for due messages when nothing happened here
	// lately (messages written by another replica, retries coming due); pollBusy how often
	// while messages are being written or sent here, busyFor after the last.
	pollIdle = time.Second
	pollBusy = 50 * time.Millisecond
	busyFor  = 2 * time.Second
	// leaseMargin is how long a claimed message stays leased beyond its attempt's timeout.
	leaseMargin = time.Minute
	// recordTimeout bounds the recording of a batch of answers, which outlives Stop's context.
	recordTimeout = 30 * time.Second
)

// dispatcher is an Outbound's sending state.
type dispatcher struct {
	// kick wakes the loop when a message was written here; last is when (unix ns).
	kick chan struct{}
	last atomic.Int64

	mu          sync.Mutex
	stop        context.CancelFunc // the claim loop's
	cancelSends context.CancelFunc
	done        chan struct{} // closed when the loop, its sends and their records are over
}

// wake tells the loop that a message was written: it looks within pollBusy, once the writing
// transaction has had time to commit, and keeps looking that often for busyFor.
func (d *dispatcher) wake() {
	d.last.Store(time.Now().UnixNano())
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// Start runs the dispatcher until Stop. Every service that writes messages starts its outbound
// with its other background work (modules.Deps.Run); a process without a sender for a channel
// leaves that channel's messages to one that has.
func (o *Outbound) Start(context.Context) error {
	o.d.mu.Lock()
	defer o.d.mu.Unlock()
	if o.d.stop != nil {
		return errors.New("outbound: the dispatcher runs already")
	}
	loop, stop := context.WithCancel(context.Background())
	sends, cancelSends := context.WithCancel(context.Background())
	o.d.stop, o.d.cancelSends, o.d.done = stop, cancelSends, make(chan struct{})
	go o.loop(loop, sends)
	return nil
}

// Stop stops claiming and waits for the sends under way and their records; when ctx ends first,
// it cancels them (their messages are sent again when their lease ends).
func (o *Outbound) Stop(ctx context.Context) error {
	o.d.mu.Lock()
	stop, cancelSends, done := o.d.stop, o.d.cancelSends, o.d.done
	o.d.stop = nil
	o.d.mu.Unlock()
	if stop == nil {
		return nil
	}
	stop()
	defer cancelSends()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		cancelSends() // the deferred call then does nothing
		<-done
		return ctx.Err()
	}
}

// result is an attempt's outcome.
type result struct {
	d      Delivery
	answer string
	err    error
	at     time.Time
}

func (o *Outbound) loop(ctx, sendCtx context.Context) {
	results := make(chan result, Parallel)
	recorded := make(chan struct{})
	go func() {
		defer close(recorded)
		o.recorder(results)
	}()
	var inflight sync.WaitGroup
	var busy atomic.Int64 // sends under way
	defer func() {
		inflight.Wait()
		close(results)
		<-recorded
		close(o.d.done)
	}()
	timer := time.NewTimer(0)
	defer timer.Stop()
	due := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-o.d.kick:
			if soon := time.Now().Add(pollBusy); soon.Before(due) {
				due = soon
				timer.Reset(pollBusy)
			}
			continue
		case <-timer.C:
		}
		free := Parallel - int(busy.Load())
		batch, err := o.claim(ctx, min(free, claimBatch))
		if err != nil && ctx.Err() == nil {
			o.log.WarnContext(ctx, "outbound: claiming due messages", "outbound", o.table(), "err", err)
		}
		failed := o.prepare(sendCtx, batch)
		for i, d := range batch {
			busy.Add(1)
			inflight.Add(1)
			go func() {
				defer inflight.Done()
				results <- o.send(sendCtx, d, failed[i])
				busy.Add(-1) // once the recorder has it: a slow recorder slows the claims
			}()
		}
		now := time.Now()
		switch {
		case free > 0 && len(batch) == min(free, claimBatch): // more may be due
			due = now
		case len(batch) > 0 || now.Sub(time.Unix(0, o.d.last.Load())) < busyFor || free == 0:
			due = now.Add(pollBusy)
		default:
			due = now.Add(pollIdle)
		}
		timer.Reset(time.Until(due))
	}
}

// dueNow is the time next_time is compared with: the machine's, not Config.Now, which is the
// service's clock of record (a test's moves), as River's schedule was.
func dueNow() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// claim leases up to n due messages of the channels the outbound can send, oldest due first, and
// returns them opened, each webhook's with its subscription.
func (o *Outbound) claim(ctx context.Context, n int) ([]Delivery, error) {
	if n <= 0 {
		return nil, nil
	}
	now := dueNow()
	rows, err := o.cfg.Pool.Query(ctx, `WITH due AS (
			SELECT tenant_id, id FROM `+o.table()+` WHERE channel = ANY($1) AND next_time <= $2
			AND deliver_time IS NULL AND fail_time IS NULL ORDER BY next_time LIMIT $3 FOR UPDATE SKIP LOCKED),
		claimed AS (UPDATE `+o.table()+` m SET attempts = m.attempts + 1, next_time = $4 FROM due
			WHERE m.tenant_id = due.tenant_id AND m.id = due.id
			RETURNING m.tenant_id, m.id, m.channel, m.target, m.subject, m.label, m.idempotency_key, m.payload, m.sealed,
			m.compose, m.attempts)
		SELECT c.*, s.id IS NOT NULL, coalesce(s.url, ''), coalesce(s.secret, ''), s.disable_time
		FROM claimed c LEFT JOIN `+o.cfg.Schema+`.subscriptions s
			ON c.channel = '`+Webhook+`' AND s.tenant_id = c.tenant_id AND s.id = c.target`,
		o.channels, now, n, now.Add(o.cfg.Timeout+leaseMargin))
	if err != nil {
		return nil, err
	}
	var out []Delivery
	var d Delivery
	var sealed, hasSub bool
	var disabled *time.Time
	var compose, url string
	var secret []byte
	_, err = pgx.ForEachRow(rows, []any{&d.Tenant, &d.ID, &d.Channel, &d.Target, &d.Subject, &d.Label, &d.Key, &d.Payload,
		&sealed, &compose, &d.Attempt, &hasSub, &url, &secret, &disabled}, func() error {
		m := d
		m.Personal, m.Compose = sealed, compose
		if hasSub {
			m.sub = &Subscription{ID: m.Target, URL: url}
			if disabled != nil {
				m.sub.DisableTime = *disabled
			}
			var err error
			if m.sub.Secret, err = o.openSecret(m.Tenant, m.Target, secret); err != nil {
				m.subErr = fmt.Errorf("outbound: the subscription's secret does not open: %w", err)
			}
		}
		out = append(out, m)
		return nil
	})
	return out, err
}

// send makes one attempt at d: hands it to its channel's Sender, within Config.Timeout, unless
// preparing it failed already (failed.err).
func (o *Outbound) send(ctx context.Context, d Delivery, failed result) result {
	answer, err := failed.answer, failed.err
	if err == nil {
		ctx, cancel := context.WithTimeout(ctx, o.cfg.Timeout)
		defer cancel()
		answer, err = o.cfg.Senders[d.Channel].Send(ctx, d)
	}
	if err != nil && answer == "" {
		answer = err.Error()
	}
	return result{d: d, answer: answer, err: err, at: o.clock()}
}

// prepare opens the sealed payloads of batch in place and composes those that name a Composer,
// each Composer's at once (within Config.Timeout); it returns, by index, the answer and error of
// each message it could not prepare (a failure to open is permanent).
func (o *Outbound) prepare(ctx context.Context, batch []Delivery) []result {
	failed := make([]result, len(batch))
	composing := map[string][]int{} // the messages of each Composer, by index
	for i := range batch {
		d := &batch[i]
		if d.Personal {
			if o.cfg.Box == nil {
				failed[i].err = Permanent(fmt.Errorf("outbound: message %d of tenant %s is sealed and no data key was given", d.ID, d.Tenant))
				continue
			}
			plain, err := o.cfg.Box.Open(d.Payload, o.ad(d.Tenant, d.ID))
			if err != nil {
				failed[i].err = Permanent(err)
				continue
			}
			d.Payload = plain
		}
		switch {
		case d.Compose == "":
		case o.cfg.Composers[d.Compose] == nil:
			failed[i].err = fmt.Errorf("outbound: no composer %q in this process", d.Compose)
		case len(d.Payload) == 0:
			failed[i] = result{answer: "erased before it was sent", err: Permanent(errors.New("outbound: the message's reference was erased"))}
		default:
			composing[d.Compose] = append(composing[d.Compose], i)
		}
	}
	if len(composing) == 0 {
		return failed
	}
	ctx, cancel := context.WithTimeout(ctx, o.cfg.Timeout)
	defer cancel()
	for name, idx := range composing {
		refs := make([]Ref, len(idx))
		for j, i := range idx {
			refs[j] = Ref{Tenant: batch[i].Tenant, Ref: batch[i].Payload}
		}
		made := o.cfg.Composers[name].Compose(ctx, refs)
		for j, i := range idx {
			switch {
			case j >= len(made):
				failed[i].err = fmt.Errorf("outbound: composer %q made %d of %d messages", name, len(made), len(idx))
			case made[j].Err != nil:
				failed[i].err = made[j].Err
			default:
				batch[i].Content = made[j].Content
			}
		}
	}
	return failed
}

// recorder records the results as they come, those that arrive together in one statement; a
// message given up is recorded alone, with its hooks.
func (o *Outbound) recorder(results <-chan result) {
	batch := make([]result, 0, claimBatch)
	for r := range results {
		batch = append(batch[:0], r)
	more:
		for len(batch) < claimBatch {
			select {
			case r, ok := <-results:
				if !ok {
					break more
				}
				batch = append(batch, r)
			default:
				break more
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), recordTimeout)
		o.recordAnswers(ctx, batch)
		cancel()
	}
}

// recordAnswers writes the answers of batch: delivered, or due again after jobs.Backoff; it gives up
// the messages refused for good or out of attempts. A record that fails leaves its messages
// leased: they are sent again when the lease ends.
func (o *Outbound) recordAnswers(ctx context.Context, batch []result) {
	n := len(batch)
	tenants, answers := make([]string, 0, n), make([]string, 0, n)
	ids, oks, ats, nexts := make([]int64, 0, n), make([]bool, 0, n), make([]time.Time, 0, n), make([]time.Time, 0, n)
	attempts := make([]int64, 0, n)
	for _, r := range batch {
		if r.err != nil && (IsPermanent(r.err) || r.d.Attempt >= o.cfg.Attempts) {
			o.giveUp(ctx, r)
			continue
		}
		if r.err != nil {
			o.log.WarnContext(ctx, "outbound attempt failed", "outbound", o.table(), "tenant", r.d.Tenant, "id", r.d.ID,
				"channel", r.d.Channel, "target", r.d.Target, "attempt", r.d.Attempt)
		}
		tenants, ids, answers = append(tenants, r.d.Tenant), append(ids, r.d.ID), append(answers, r.answer)
		oks, ats, attempts = append(oks, r.err == nil), append(ats, r.at), append(attempts, int64(r.d.Attempt))
		nexts = append(nexts, jobs.Backoff(r.d.Attempt).UTC().Truncate(time.Microsecond)) // on dueNow's clock
	}
	if len(ids) == 0 {
		return
	}
	// A message Forget erased while it was being sent is recorded as delivered if it was, its
	// answer left empty as Forget left it.
	rows, err := o.cfg.Pool.Query(ctx, `UPDATE `+o.table()+` m SET attempt_time = u.at,
		answer = CASE WHEN m.fail_time IS NULL THEN u.answer ELSE '' END,
		deliver_time = CASE WHEN u.ok THEN u.at END, next_time = CASE WHEN NOT u.ok THEN u.next END,
		fail_time = CASE WHEN NOT u.ok THEN m.fail_time END
		FROM unnest($1::text[], $2::bigint[], $3::text[], $4::boolean[], $5::timestamptz[], $6::timestamptz[], $7::bigint[])
			u(tenant, id, answer, ok, at, next, attempt)
		WHERE m.tenant_id = u.tenant AND m.id = u.id AND m.deliver_time IS NULL
			AND (m.fail_time IS NULL OR u.ok AND m.sealed AND m.payload = '')
			AND (u.ok OR m.attempts = u.attempt) -- a failure of an attempt since superseded (its lease ran out) is not the message's state
		RETURNING m.channel, u.ok`, tenants, ids, answers, oks, ats, nexts, attempts)
	if err == nil {
		var ch string
		var ok bool
		_, err = pgx.ForEachRow(rows, []any{&ch, &ok}, func() error {
			if ok {
				o.sent.Add(ctx, 1, metric.WithAttributes(attribute.String("channel", ch)))
			}
			return nil
		})
	}
	if err != nil {
		o.log.ErrorContext(ctx, "outbound: recording answers; the messages are sent again when their lease ends",
			"outbound", o.table(), "messages", len(ids), "err", err)
	}
}

// giveUp records r's message as given up: a webhook's subscription is disabled and the
// service's hooks run, in one transaction, and it is counted and logged as an alert.
func (o *Outbound) giveUp(ctx context.Context, r result) {
	d := r.d
	err := pgdb.InTx(ctx, o.cfg.Pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE `+o.table()+` SET attempt_time = $3, answer = $4, fail_time = $3, next_time = NULL
			WHERE tenant_id = $1 AND id = $2 AND fail_time IS NULL AND deliver_time IS NULL AND attempts = $5`, d.Tenant, d.ID, r.at, r.answer, d.Attempt)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		if d.Channel == Webhook { // a receiver failing for good stops getting events
			if err := o.disable(ctx, tx, d.Tenant, d.Target, r.answer); err != nil {
				return err
			}
		}
		if o.cfg.Hooks == nil {
			return nil
		}
		return o.cfg.Hooks.GaveUp(ctx, tx, d, r.answer)
	})
	if err != nil {
		o.log.ErrorContext(ctx, "outbound: recording a message given up; it is tried again when its lease ends",
			"outbound", o.table(), "tenant", d.Tenant, "id", d.ID, "err", err)
		return
	}
	o.gaveUp.Add(ctx, 1, metric.WithAttributes(attribute.String("channel", d.Channel)))
	o.log.ErrorContext(ctx, "outbound message given up", "outbound", o.table(), "tenant", d.Tenant, "id", d.ID,
		"channel", d.Channel, "target", d.Target, "label", d.Label, "attempts", d.Attempt, "answer", r.answer)
}
