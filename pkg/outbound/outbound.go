// Package outbound is what leaves a service: notices mailed to requesters, alerts to officers,
// reminders to other bodies, text messages and CloudEvents posted to webhook subscribers. It is
// one delivery machinery, modelled on pkg/ledgerout:
//
//   - A message is written in the transaction of the change that causes it ({schema}.outbound),
//     one row, so that it exists exactly when the change committed. The workflow never sends: a
//     receiver that is down or slow delays its messages, never a step.
//   - The outbound's dispatcher (Start, dispatch.go) sends it at least once, with an idempotency
//     key the receiver can use (the mail's Message-ID, the webhook-id), retried with
//     jobs.Backoff. It claims the messages that are due in batches and sends many at once, apart
//     from the service's River jobs, so that slow receivers never hold up the service's other
//     work. A message is not a River job of its own: that job's insert, fetch and completion cost
//     the step and the delivery more than the message's row (issue 17).
//   - Each attempt is recorded: when, how many, the receiver's answer; and when it was delivered
//     or given up. A message given up (a permanent refusal, or its retries spent) runs the
//     service's Hooks, which disable a webhook subscription and raise an alert.
//
// A message naming a person (a requester's address) is sealed with the data key at rest. The
// channels are Senders: mail (SMTP through github.com/wneessen/go-mail), sms (a provider
// interface), webhook (CloudEvents through github.com/cloudevents/sdk-go, signed per Standard
// Webhooks through its reference library).
package outbound

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/pipa-kr/pipa/pkg/pgdb"
	"github.com/pipa-kr/pipa/pkg/seal"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations are the tables' goose migrations for schema.
func Migrations(schema string) (fs.FS, error) { return pgdb.SchemaFS(migrations, "migrations", schema) }

// Migrate creates or upgrades the tables in schema, versioned in schema.outbound_db_version.
func Migrate(ctx context.Context, pool *pgxpool.Pool, schema string) error {
	m, err := Migrations(schema)
	if err != nil {
		return err
	}
	if err := pgdb.MigrateAs(ctx, pool, schema, "outbound_db_version", m); err != nil {
		return fmt.Errorf("outbound: %w", err)
	}
	return nil
}

// Channels.
const (
	Mail    = "mail"
	SMS     = "sms"
	Webhook = "webhook"
	// Relayed is an event another service relays to the request service (Relay), whose
	// subscriptions it goes to; its target is EventTarget.
	Relayed = "event"
)

// EventTarget is the target of the messages of channel Relayed: the request service's PublishEvent.
const EventTarget = "requests"

// Config is what an Outbound needs of its service.
type Config struct {
	Schema string
	Pool   *pgxpool.Pool
	// Box seals the messages that name a person.
	Box *seal.Box
	// Senders send each channel's messages; a channel without one keeps its messages waiting.
	// Webhook has its own unless one is given.
	Senders map[string]Sender
	// Composers make the payloads of the messages that name one (Message.Compose) when they are
	// sent.
	Composers map[string]Composer
	// Hooks run when a message is given up; nil for none.
	Hooks Hooks
	// Attempts is how many times a message is tried before it is given up (15 when 0: about
	// 40 minutes of jobs.Backoff).
	Attempts int
	// Timeout bounds one attempt (10 seconds when 0), within jobs.Timeout, which bounds its job.
	Timeout time.Duration
	// Guard is where webhooks may go; the zero Guard: https at public addresses only.
	Guard Guard
	// Metrics prefixes the metric names, e.g. "pipa.requests"; empty for none.
	Metrics string
	Now     func() time.Time
}

// Message is a message to send.
type Message struct {
	Channel, Target string
	Subject, Label  string
	// Key is the receiver's idempotency key; empty: the outbound's own, "{schema}-{id}".
	Key     string
	Payload []byte
	// Personal: the payload names a person, and is sealed.
	Personal bool
	// Compose names the Composer that makes the payload when the message is sent, from Payload
	// as written (a reference to what the service stores already); empty: Payload is sent.
	Compose string
}

// Composer makes a message's payload at send time from the reference its change wrote: the
// change then writes a few bytes, not a second copy of what it stores anyway (a notice's mail is
// the stored notice). The dispatcher hands it a claimed batch's references at once, so that it
// reads what they refer to in one query, and its Sender gets what it made as a value
// (Delivery.Content), not encoded for the Sender to decode again.
type Composer interface {
	// Compose returns what it made of each of refs, in order. An error wrapped by Permanent gives
	// its message up (what it refers to was erased); any other is retried.
	Compose(ctx context.Context, refs []Ref) []Composed
}

// Ref is a message's reference as its change wrote it (opened when sealed), for a Composer.
type Ref struct {
	Tenant string
	Ref    []byte
}

// Composed is what a Composer made of a Ref: the Content its channel's Sender takes (for mail, a
// mail.Message), or why it could not.
type Composed struct {
	Content any
	Err     error
}

// Delivery is a message as its Sender gets it, opened.
type Delivery struct {
	Tenant string
	ID     int64
	Message
	// Attempt counts from 1.
	Attempt int
	// Content is what the message's Composer made, which its Sender sends; nil when Payload is
	// the message.
	Content any
	// sub is a webhook's subscription, read with the message; nil when it was deleted. subErr:
	// its secret did not open (the data key), which the send reports as a failure to retry.
	sub    *Subscription
	subErr error
}

// Sender sends one channel's messages. Its answer is what the receiver said (an SMTP reply, an
// HTTP status), recorded with the attempt. An error wrapped by Permanent is not retried.
type Sender interface {
	Send(ctx context.Context, d Delivery) (answer string, err error)
}

// Hooks are what the service does when a message is given up, in the transaction recording it.
type Hooks interface {
	GaveUp(ctx context.Context, tx pgx.Tx, d Delivery, answer string) error
}

type permanent struct{ error }

func (p permanent) Unwrap() error { return p.error }

// Permanent marks err as a refusal that retrying cannot change.
func Permanent(err error) error { return permanent{err} }

// IsPermanent reports whether err was marked Permanent.
func IsPermanent(err error) bool { return errors.As(err, new(permanent)) }

// Outbound is safe for concurrent use.
type Outbound struct {
	cfg    Config
	log    *slog.Logger
	sent   metric.Int64Counter
	gaveUp metric.Int64Counter
	// channels are those it has a Sender for: the ones its dispatcher claims.
	channels []string
	d        dispatcher
}

// New returns the outbound of cfg.Schema. Messages are written at once; Start its dispatcher to
// send them.
func New(cfg Config) (*Outbound, error) {
	if err := pgdb.ValidSchema(cfg.Schema); err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Attempts == 0 {
		cfg.Attempts = 15
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	o := &Outbound{cfg: cfg, log: slog.Default()}
	senders := map[string]Sender{Webhook: webhookSender{o: o, client: webhookClient(cfg.Guard)}}
	for ch, s := range cfg.Senders {
		senders[ch] = s
	}
	o.cfg.Senders = senders
	for ch := range senders {
		o.channels = append(o.channels, ch)
	}
	slices.Sort(o.channels)
	o.d.kick = make(chan struct{}, 1)
	m := otel.Meter("github.com/pipa-kr/pipa/pkg/outbound")
	prefix := cfg.Metrics
	if prefix == "" {
		prefix = "pipa"
	}
	var err error
	if o.sent, err = m.Int64Counter(prefix+".outbound_delivered", metric.WithDescription("messages delivered, by channel")); err != nil {
		return nil, err
	}
	if o.gaveUp, err = m.Int64Counter(prefix+".outbound_given_up",
		metric.WithDescription("messages given up after a permanent refusal or their retries, by channel: each is an alert")); err != nil {
		return nil, err
	}
	// Every channel's counters start at 0, so that a query of them (an alert on messages given
	// up) finds its series before the first message.
	for ch := range senders {
		attr := metric.WithAttributes(attribute.String("channel", ch))
		o.sent.Add(context.Background(), 0, attr)
		o.gaveUp.Add(context.Background(), 0, attr)
	}
	if err := o.registerPending(m, prefix); err != nil {
		return nil, err
	}
	return o, nil
}

// registerPending publishes {prefix}.outbound_pending{channel}: the messages neither delivered
// nor given up, which grows while a receiver is down or a channel has no sender. Every channel
// the outbound sends is observed, 0 included.
func (o *Outbound) registerPending(m metric.Meter, prefix string) error {
	pending, err := m.Int64ObservableGauge(prefix+".outbound_pending",
		metric.WithDescription("messages neither delivered nor given up, by channel (the outbound's backlog)"))
	if err != nil {
		return err
	}
	_, err = m.RegisterCallback(func(ctx context.Context, obs metric.Observer) error {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		rows, err := o.cfg.Pool.Query(ctx, `SELECT channel, count(*) FROM `+o.table()+`
			WHERE deliver_time IS NULL AND fail_time IS NULL GROUP BY channel`)
		if err != nil {
			return err
		}
		counts := map[string]int64{}
		for ch := range o.cfg.Senders {
			counts[ch] = 0
		}
		var ch string
		var n int64
		if _, err := pgx.ForEachRow(rows, []any{&ch, &n}, func() error { counts[ch] = n; return nil }); err != nil {
			return err
		}
		for ch, n := range counts {
			obs.ObserveInt64(pending, n, metric.WithAttributes(attribute.String("channel", ch)))
		}
		return nil
	}, pending)
	return err
}

func (o *Outbound) table() string { return o.cfg.Schema + ".outbound" }

func (o *Outbound) clock() time.Time { return o.cfg.Now().UTC().Truncate(time.Microsecond) }

func (o *Outbound) ad(tenant string, id int64) []byte {
	return []byte("pipa/outbound\x00" + o.cfg.Schema + "\x00" + tenant + "\x00" + strconv.FormatInt(id, 10))
}

// Enqueue writes m for the tenant in tx, with the job that sends it, and returns its id. It is
// sent only if tx commits.
func (o *Outbound) Enqueue(ctx context.Context, tx pgx.Tx, tenant string, m Message) (int64, error) {
	ids, err := o.EnqueueAll(ctx, tx, tenant, []Message{m})
	if err != nil {
		return 0, err
	}
	return ids[0], nil
}

// EnqueueAll is Enqueue of every message of ms, in two statements however many there are (their
// ids, their rows): a change that sends several keeps its transaction short. It returns their
// ids, in order.
func (o *Outbound) EnqueueAll(ctx context.Context, tx pgx.Tx, tenant string, ms []Message) ([]int64, error) {
	if len(ms) == 0 {
		return nil, nil
	}
	var ids []int64
	if err := tx.QueryRow(ctx, `SELECT array(SELECT nextval('`+o.cfg.Schema+`.outbound_ids') FROM generate_series(1, $1))`,
		len(ms)).Scan(&ids); err != nil {
		return nil, err
	}
	r, err := o.rows(tenant, ids, ms)
	if err != nil {
		return nil, err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO `+o.table()+` (`+outboundColumns+`)
		SELECT $1, $2, $3, * FROM `+unnestRows(4), append([]any{tenant, o.clock(), dueNow()}, r.args()...)...); err != nil {
		return nil, err
	}
	o.d.wake()
	return ids, nil
}

// outboundColumns are the columns a message is written with: the tenant, its create and due
// times, then those of unnestRows.
const outboundColumns = `tenant_id, create_time, next_time, id, channel, target, subject, label, idempotency_key, payload,
	sealed, compose, answer`

// unnestRows is the table of messageRows.args as parameters from $first on.
func unnestRows(first int) string {
	types := []string{"bigint", "text", "text", "text", "text", "text", "bytea", "boolean", "text", "text"}
	for i, t := range types {
		types[i] = fmt.Sprintf("$%d::%s[]", first+i, t)
	}
	return "unnest(" + strings.Join(types, ", ") + ")"
}

// messageRows are messages as the arrays of unnestRows.
type messageRows struct {
	ids                                       []int64
	channels, targets, subjects, labels, keys []string
	payloads                                  [][]byte
	sealed                                    []bool
	composes, answers                         []string
}

func (r messageRows) args() []any {
	return []any{r.ids, r.channels, r.targets, r.subjects, r.labels, r.keys, r.payloads, r.sealed, r.composes, r.answers}
}

// rows are ms of the tenant as they are written under ids: each with its key, its payload sealed
// when it names a person, and the answer of a channel no process here sends.
func (o *Outbound) rows(tenant string, ids []int64, ms []Message) (messageRows, error) {
	n := len(ms)
	r := messageRows{ids: ids, channels: make([]string, n), targets: make([]string, n), subjects: make([]string, n),
		labels: make([]string, n), keys: make([]string, n), payloads: make([][]byte, n), sealed: make([]bool, n),
		composes: make([]string, n), answers: make([]string, n)}
	for i, m := range ms {
		r.channels[i], r.targets[i], r.subjects[i], r.labels[i], r.keys[i], r.payloads[i], r.sealed[i], r.composes[i] =
			m.Channel, m.Target, m.Subject, m.Label, m.Key, m.Payload, m.Personal, m.Compose
		if r.keys[i] == "" {
			r.keys[i] = o.cfg.Schema + "-" + strconv.FormatInt(ids[i], 10)
		}
		if _, ok := o.cfg.Senders[m.Channel]; !ok {
			// Not configured here (no PIPA_SMTP_ADDR, no PIPA_SMS_PROVIDER): the message waits
			// until a process that can send it claims it.
			r.answers[i] = "waiting: no " + m.Channel + " sender is configured"
		}
		if m.Personal {
			if o.cfg.Box == nil {
				return r, fmt.Errorf("outbound: a message naming a person needs the data key")
			}
			var err error
			if r.payloads[i], err = o.cfg.Box.Seal(m.Payload, o.ad(tenant, ids[i])); err != nil {
				return r, err
			}
		}
	}
	return r, nil
}

// Once records key for the tenant in tx and reports whether it is new: what a periodic job sends
// for a deadline (an alert) is sent once, however often the job finds it.
func (o *Outbound) Once(ctx context.Context, tx pgx.Tx, tenant, key string) (bool, error) {
	tag, err := tx.Exec(ctx, `INSERT INTO `+o.cfg.Schema+`.outbound_once (tenant_id, key, create_time) VALUES ($1, $2, $3)
		ON CONFLICT DO NOTHING`, tenant, key, o.clock())
	return tag.RowsAffected() == 1, err
}

// Forget erases, in tx, the payloads that name a person of the tenant's messages about subject
// (PIPA-21-1: at the end of their retention), and their receivers' answers, which a refusal may
// word with the address: what was sent keeps its delivery record, what was not yet sent is given
// up.
func (o *Outbound) Forget(ctx context.Context, tx pgx.Tx, tenant, subject string) error {
	_, err := tx.Exec(ctx, `UPDATE `+o.table()+` SET payload = '',
		answer = CASE WHEN deliver_time IS NULL AND fail_time IS NULL THEN 'erased before it was sent' ELSE '' END,
		fail_time = CASE WHEN deliver_time IS NULL THEN coalesce(fail_time, $3) END
		WHERE tenant_id = $1 AND subject = $2 AND sealed`, tenant, subject, o.clock())
	return err
}

// Sends reports whether this outbound has a sender for channel: without one its messages wait
// for a process that has (PIPA_SMTP_ADDR, PIPA_SMS_PROVIDER).
func (o *Outbound) Sends(channel string) bool {
	_, ok := o.cfg.Senders[channel]
	return ok
}

// Pending counts, in tx, the tenant's messages about subject to a target starting with prefix
// that are neither delivered nor given up: a step that would Forget them asks first.
func (o *Outbound) Pending(ctx context.Context, tx pgx.Tx, tenant, subject, prefix string) (int64, error) {
	var n int64
	err := tx.QueryRow(ctx, `SELECT count(*) FROM `+o.table()+` WHERE tenant_id = $1 AND subject = $2
		AND starts_with(target, $3) AND deliver_time IS NULL AND fail_time IS NULL`, tenant, subject, prefix).Scan(&n)
	return n, err
}
