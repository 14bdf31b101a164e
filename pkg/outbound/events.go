package outbound

import (
	"context"
	"encoding/json"
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
	var seq int64
	if err := tx.QueryRow(ctx, `SELECT nextval('`+o.cfg.Schema+`.event_seq')`).Scan(&seq); err != nil {
		return "", err
	}
	now := o.clock()
	ev := event.New()
	ev.SetID(o.cfg.Schema + "-" + strconv.FormatInt(seq, 10))
	ev.SetSource(names.Unit(tenant, e.Unit))
	ev.SetType(e.Type)
	ev.SetSubject(e.Subject)
	ev.SetTime(now)
	if err := ev.SetData(event.ApplicationJSON, e.Data); err != nil {
		return "", err
	}
	if err := ev.Validate(); err != nil {
		return "", err
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return "", err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO `+o.cfg.Schema+`.events (tenant_id, seq, id, unit_id, type, body, event_time)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, tenant, seq, ev.ID(), e.Unit, e.Type, body, now); err != nil {
		return "", err
	}
	subs, err := o.wanting(ctx, tx, tenant, e.Unit, e.Type)
	if err != nil {
		return "", err
	}
	for _, sub := range subs {
		if _, err := o.Enqueue(ctx, tx, tenant, Message{Channel: Webhook, Target: sub, Subject: e.Subject,
			Label: e.Type, Key: ev.ID(), Payload: body}); err != nil {
			return "", err
		}
	}
	return ev.ID(), nil
}

// wanting are the enabled subscriptions that want an event of the type in the unit.
func (o *Outbound) wanting(ctx context.Context, tx pgx.Tx, tenant, unit, typ string) ([]string, error) {
	rows, err := tx.Query(ctx, `SELECT id FROM `+o.cfg.Schema+`.subscriptions WHERE tenant_id = $1
		AND disable_time IS NULL AND unit_id IN ('', $2) AND (cardinality(types) = 0 OR $3 = ANY(types))
		ORDER BY id`, tenant, unit, typ)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// Replay writes again, for subscription id, a delivery of every event of the tenant it wants
// that happened in [start, end), under the event's own webhook-id, so that a receiver that has
// it already can tell. It returns how many.
func (o *Outbound) Replay(ctx context.Context, tx pgx.Tx, tenant, id string, start, end time.Time) (int, error) {
	rows, err := tx.Query(ctx, `SELECT e.id, e.unit_id, e.type, e.body, coalesce(convert_from(e.body, 'UTF8')::jsonb->>'subject', '')
		FROM `+o.cfg.Schema+`.events e JOIN `+o.cfg.Schema+`.subscriptions s ON s.tenant_id = e.tenant_id AND s.id = $2
		WHERE e.tenant_id = $1 AND e.event_time >= $3 AND e.event_time < $4 AND s.disable_time IS NULL
		AND s.unit_id IN ('', e.unit_id) AND (cardinality(s.types) = 0 OR e.type = ANY(s.types))
		ORDER BY e.seq`, tenant, id, start, end)
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
	for _, e := range evs {
		if _, err := o.Enqueue(ctx, tx, tenant, Message{Channel: Webhook, Target: id, Subject: e.Subject,
			Label: e.Type, Key: e.ID, Payload: e.Body}); err != nil {
			return 0, err
		}
	}
	return len(evs), nil
}
