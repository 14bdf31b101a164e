package outbound

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/jackc/pgx/v5"

	"github.com/pipa-kr/pipa/pkg/names"
)

// Event is something that happened in a unit, for integrations: names and codes, never personal
// data (a request's name and type, a policy's version, a count).
type Event struct {
	Unit string
	// Type is the CloudEvents type, "kr.pipa.{resource}.{what}" (e.g. kr.pipa.request.received).
	Type string
	// Subject is the resource's name.
	Subject string
	Data    map[string]any
}

// Emit records e as a CloudEvents 1.0 event of the tenant, and writes in tx one webhook delivery
// of it to every enabled subscription of the tenant or e's unit that wants its type: it is
// delivered only if tx commits, to the subscriptions that existed then. It returns the event's id.
func (o *Outbound) Emit(ctx context.Context, tx pgx.Tx, tenant string, e Event) (string, error) {
	return o.EmitWith(ctx, tx, tenant, e, nil)
}

// EmitWith is Emit that also writes ms, the other messages of the change (a notice's mail), in
// two statements whoever wants e: one draws e's number and ms's ids, the other stores e and writes
// ms and e's deliveries. A change that mails and emits thus costs its transaction no more round
// trips than one that only emits.
func (o *Outbound) EmitWith(ctx context.Context, tx pgx.Tx, tenant string, e Event, ms []Message) (string, error) {
	var seq int64
	var ids []int64
	if err := tx.QueryRow(ctx, `SELECT nextval('`+o.cfg.Schema+`.event_seq'),
		array(SELECT nextval('`+o.cfg.Schema+`.outbound_ids') FROM generate_series(1, $1))`, len(ms)).Scan(&seq, &ids); err != nil {
		return "", err
	}
	id, at := o.eventName(seq), o.clock()
	body, err := cloudEvent(tenant, id, at, e)
	if err != nil {
		return "", err
	}
	r, err := o.rows(tenant, ids, ms)
	if err != nil {
		return "", err
	}
	var n int
	if err := tx.QueryRow(ctx, `WITH stored AS (INSERT INTO `+o.cfg.Schema+`.events (tenant_id, seq, id, unit_id, type, body, event_time)
			VALUES ($1, $8, $2, $3, $4, $5, $6) RETURNING 1),
		written AS (INSERT INTO `+o.table()+` (`+outboundColumns+`)
			SELECT $1::text, $6::timestamptz, $9::timestamptz, * FROM `+unnestRows(11)+`
			UNION ALL
			SELECT $1, $6, $9, nextval('`+o.cfg.Schema+`.outbound_ids'), '`+Webhook+`', s.id, $10::text, $4, $2::text, $5::bytea,
				false, '', ''
			FROM `+o.cfg.Schema+`.subscriptions s, (SELECT $4::text AS type) e
			WHERE EXISTS (SELECT FROM stored) AND s.tenant_id = $1 AND s.disable_time IS NULL AND s.unit_id IN ('', $3)
			AND `+wants("$7")+`
			RETURNING 1)
		SELECT count(*) FROM written`,
		append([]any{tenant, id, e.Unit, e.Type, body, at, OptIn, seq, dueNow(), e.Subject}, r.args()...)...).Scan(&n); err != nil {
		return "", err
	}
	if n > 0 {
		o.d.wake()
	}
	return id, nil
}

// Publish is Emit of an event another service made (Relay), under its id and time: a second
// publication of the id records nothing and delivers nothing (duplicate). n is how many
// deliveries it was queued for.
func (o *Outbound) Publish(ctx context.Context, tx pgx.Tx, tenant, id string, at time.Time, e Event) (n int, duplicate bool, err error) {
	body, err := cloudEvent(tenant, id, at, e)
	if err != nil {
		return 0, false, err
	}
	deliveries, duplicate, err := o.record(ctx, tx, tenant, id, e, at, body)
	if err == nil {
		_, err = o.EnqueueAll(ctx, tx, tenant, deliveries)
	}
	return len(deliveries), duplicate, err
}

// Relay writes in tx e as a CloudEvents 1.0 event of the tenant for the request service, which
// keeps the subscriptions: a message of channel Relayed whose sender (pkg/outbound/relay) hands it
// to PublishEvent, retried until it is taken, under the event's id, which PublishEvent records
// once. It returns the event's id.
func (o *Outbound) Relay(ctx context.Context, tx pgx.Tx, tenant string, e Event) (string, error) {
	var seq int64
	if err := tx.QueryRow(ctx, `SELECT nextval('`+o.cfg.Schema+`.event_seq')`).Scan(&seq); err != nil {
		return "", err
	}
	id := o.eventName(seq)
	body, err := cloudEvent(tenant, id, o.clock(), e)
	if err != nil {
		return "", err
	}
	_, err = o.Enqueue(ctx, tx, tenant, Message{Channel: Relayed, Target: EventTarget, Subject: e.Subject, Label: e.Type, Key: id, Payload: body})
	return id, err
}

// eventName is the id of the event numbered seq (from event_seq), "{schema}-{seq}": unique among
// every service's events. An event emitted here is stored under the same seq: it draws one
// number, not two.
func (o *Outbound) eventName(seq int64) string {
	return o.cfg.Schema + "-" + strconv.FormatInt(seq, 10)
}

// cloudEvent is e as the JSON of a valid CloudEvents 1.0 event of the tenant.
func cloudEvent(tenant, id string, at time.Time, e Event) ([]byte, error) {
	ev := event.New()
	ev.SetID(id)
	ev.SetSource(names.Unit(tenant, e.Unit))
	ev.SetType(e.Type)
	ev.SetSubject(e.Subject)
	ev.SetTime(at)
	if err := ev.SetData(event.ApplicationJSON, e.Data); err != nil {
		return nil, err
	}
	if err := ev.Validate(); err != nil {
		return nil, err
	}
	return json.Marshal(ev)
}

// record stores the event, unless its id is stored already (duplicate), and returns its
// deliveries to the enabled subscriptions of the tenant or e's unit that want its type; one
// statement.
func (o *Outbound) record(ctx context.Context, tx pgx.Tx, tenant, id string, e Event, at time.Time, body []byte) ([]Message, bool, error) {
	var stored bool
	var subs []string
	err := tx.QueryRow(ctx, `WITH stored AS (INSERT INTO `+o.cfg.Schema+`.events (tenant_id, seq, id, unit_id, type, body, event_time)
		VALUES ($1, nextval('`+o.cfg.Schema+`.event_seq'), $2, $3, $4, $5, $6) ON CONFLICT (tenant_id, id) DO NOTHING RETURNING 1)
		SELECT EXISTS (SELECT FROM stored), array(SELECT s.id FROM `+o.cfg.Schema+`.subscriptions s, (SELECT $4::text AS type) e
		WHERE EXISTS (SELECT FROM stored) AND s.tenant_id = $1 AND s.disable_time IS NULL AND s.unit_id IN ('', $3)
		AND `+wants("$7")+` ORDER BY s.id)`,
		tenant, id, e.Unit, e.Type, body, at, OptIn).Scan(&stored, &subs)
	if err != nil || !stored {
		return nil, err == nil, err
	}
	deliveries := make([]Message, len(subs))
	for i, sub := range subs {
		deliveries[i] = Message{Channel: Webhook, Target: sub, Subject: e.Subject, Label: e.Type, Key: id, Payload: body}
	}
	return deliveries, false, nil
}

// wantsType is the condition that a subscription s wants events of type e.type: those it names,
// or, when it names none, every type but the opt-in ones ($opt).
const wantsType = `(s.types @> ARRAY[e.type] OR (cardinality(s.types) = 0 AND NOT e.type = ANY(%s)))`

func wants(optIn string) string { return fmt.Sprintf(wantsType, optIn) }

// Replay writes again, for subscription id, a delivery of every event of the tenant it wants
// that happened in [start, end), under the event's own webhook-id, so that a receiver that has
// it already can tell. It returns how many.
func (o *Outbound) Replay(ctx context.Context, tx pgx.Tx, tenant, id string, start, end time.Time) (int, error) {
	rows, err := tx.Query(ctx, `SELECT e.id, e.unit_id, e.type, e.body, coalesce(convert_from(e.body, 'UTF8')::jsonb->>'subject', '')
		FROM `+o.cfg.Schema+`.events e JOIN `+o.cfg.Schema+`.subscriptions s ON s.tenant_id = e.tenant_id AND s.id = $2
		WHERE e.tenant_id = $1 AND e.event_time >= $3 AND e.event_time < $4 AND s.disable_time IS NULL
		AND s.unit_id IN ('', e.unit_id) AND `+wants("$5")+`
		ORDER BY e.seq`, tenant, id, start, end, OptIn)
	if err != nil {
		return 0, err
	}
	type ev struct {
		ID, Unit, Type string
		Body           []byte
		Subject        string
	}
	evs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[ev])
	if err != nil {
		return 0, err
	}
	deliveries := make([]Message, len(evs))
	for i, e := range evs {
		deliveries[i] = Message{Channel: Webhook, Target: id, Subject: e.Subject, Label: e.Type, Key: e.ID, Payload: e.Body}
	}
	_, err = o.EnqueueAll(ctx, tx, tenant, deliveries)
	return len(evs), err
}
