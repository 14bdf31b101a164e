package outbound

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// Record is a message's delivery record, as staff see it: never its payload.
type Record struct {
	ID                      int64
	Channel, Target         string
	Subject, Label, Key     string
	CreateTime, AttemptTime time.Time
	Attempts                int
	Answer                  string
	DeliverTime, FailTime   time.Time
}

// Filter selects records of a tenant: of a channel and target, or about a subject (empty: any).
type Filter struct {
	Channel, Target, Subject string
	// After is the id to start after; Limit at most how many.
	After int64
	Limit int
}

// Records are the tenant's delivery records the filter selects, by id.
func (o *Outbound) Records(ctx context.Context, tenant string, f Filter) ([]Record, error) {
	rows, err := o.cfg.Pool.Query(ctx, `SELECT id, channel, target, subject, label, idempotency_key, create_time,
		coalesce(attempt_time, 'epoch'), attempts, answer, coalesce(deliver_time, 'epoch'), coalesce(fail_time, 'epoch')
		FROM `+o.table()+` WHERE tenant_id = $1 AND ($2 = '' OR channel = $2) AND ($3 = '' OR target = $3)
		AND ($4 = '' OR subject = $4) AND id > $5 ORDER BY id LIMIT $6`,
		tenant, f.Channel, f.Target, f.Subject, f.After, f.Limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Record, error) {
		var rec Record
		err := r.Scan(&rec.ID, &rec.Channel, &rec.Target, &rec.Subject, &rec.Label, &rec.Key, &rec.CreateTime,
			&rec.AttemptTime, &rec.Attempts, &rec.Answer, &rec.DeliverTime, &rec.FailTime)
		for _, t := range []*time.Time{&rec.AttemptTime, &rec.DeliverTime, &rec.FailTime} {
			if t.Equal(time.Unix(0, 0)) {
				*t = time.Time{}
			}
		}
		return rec, err
	})
}
