package pg

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/pipa-kr/pipa/services/retention/lifecycle"

	"github.com/jackc/pgx/v5"

	"github.com/pipa-kr/pipa/pkg/apierr"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	"github.com/pipa-kr/pipa/pkg/names"
	"github.com/pipa-kr/pipa/pkg/pgdb"
	"github.com/pipa-kr/pipa/pkg/seoul"
)

const selectItem = `SELECT i.item_id, i.unit_id, i.rule_id, i.status, i.recording_date, i.description, i.record_count,
	i.resource, i.clock_start_time, i.due_time, i.plan_id, i.destruction_time, i.ledger_index, i.create_time,
	ARRAY(` + heldBy + ` ORDER BY h.hold_id), retention.overdue_time(i.due_time) FROM retention.items i`

func scanItem(row pgx.Row, tenant string) (*lifecycle.Item, error) {
	it := &lifecycle.Item{Tenant: tenant}
	err := row.Scan(&it.ID, &it.Unit, &it.RuleID, &it.Status, &it.RecordingDate, &it.Description, &it.RecordCount,
		&it.Resource, &it.ClockStart, &it.Due, &it.PlanID, &it.Destruction, &it.LedgerIndex, &it.Create, &it.Holds, &it.OverdueTime)
	return it, err
}

func (s *Store) item(ctx context.Context, q querier, tenant, unit string, id int64) (*lifecycle.Item, error) {
	it, err := scanItem(q.QueryRow(ctx, selectItem+` WHERE i.tenant_id = $1 AND i.item_id = $2 AND i.unit_id = $3`,
		tenant, id, unit), tenant)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, apierr.NotFound(names.Items.NameN(tenant, unit, id))
	}
	return it, err
}

// GetItem returns an item of the unit.
func (s *Store) GetItem(ctx context.Context, tenant, unit string, id int64) (*lifecycle.Item, error) {
	return s.item(ctx, s.pool, tenant, unit, id)
}

// CreateItem registers an item. A second item for the same recording day or resource under a
// rule is refused; a replayed request_id returns the first call's item.
func (s *Store) CreateItem(ctx context.Context, tenant, unit string, idem Idem, n lifecycle.NewItem) (out *lifecycle.Item, err error) {
	var spanStart, spanEnd *time.Time
	if d := n.RecordingDate; d != nil {
		start := time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, seoul.Location)
		end := start.AddDate(0, 0, 1)
		spanStart, spanEnd = &start, &end
	}
	err = s.create(ctx, tenant, idem, func(tx pgx.Tx) (string, error) {
		var id int64
		err := tx.QueryRow(ctx, `INSERT INTO retention.items (tenant_id, unit_id, rule_id, status, scope, span_start,
			span_end, recording_date, description, record_count, resource, clock_start_time, due_time, create_time)
			VALUES ($1, $2, $3, 1, $4, $5, $6, $7, $8, $9, $10, $11, retention.due_time($11, $12), $13) RETURNING item_id`,
			tenant, unit, n.RuleID, n.Scope, spanStart, spanEnd, n.RecordingDate, n.Description, n.RecordCount,
			n.Resource, n.ClockStart, n.PeriodDays, s.clock()).Scan(&id)
		if uniqueViolation(err, "items_by_day") || uniqueViolation(err, "items_by_resource") {
			return "", apierr.AlreadyExists("an item of " + names.Rules.Name(tenant, unit, n.RuleID) + " for this day or resource")
		}
		if err != nil {
			return "", err
		}
		out, err = s.item(ctx, tx, tenant, unit, id)
		return names.Items.NameN(tenant, unit, id), err
	}, func(tx pgx.Tx, name string) error {
		id, _ := strconv.ParseInt(names.Last(name), 10, 64)
		out, err = s.item(ctx, tx, tenant, unit, id)
		return err
	})
	return out, err
}

// ItemFilters are the states ListItems can select, as of a time ($3 in the SQL, which every
// filter names so that its type is known). Held items are due items under an active hold; overdue
// ones are not destroyed 5 days after their due time and not held (a hold is a justified reason,
// STD-10-1).
var ItemFilters = map[string]string{
	"":          `$3::timestamptz IS NOT NULL`,
	"retained":  `i.status = 1 AND i.due_time > $3`,
	"due":       `(i.status = 2 OR (i.status = 1 AND i.due_time <= $3 AND NOT EXISTS (` + heldBy + `)))`,
	"held":      `i.status = 1 AND i.due_time <= $3 AND EXISTS (` + heldBy + `)`,
	"planned":   `i.status = 3 AND $3::timestamptz IS NOT NULL`,
	"destroyed": `i.status = 4 AND $3::timestamptz IS NOT NULL`,
	"overdue":   `i.status < 4 AND retention.overdue_time(i.due_time) <= $3 AND NOT EXISTS (` + heldBy + `)`,
}

// ListItems pages through the unit's items by id, those in state (a key of ItemFilters) at now.
func (s *Store) ListItems(ctx context.Context, tenant, unit, state string, now time.Time, size int, after int64) ([]*lifecycle.Item, int64, error) {
	rows, err := s.pool.Query(ctx, selectItem+` WHERE i.tenant_id = $1 AND i.unit_id = $2 AND `+ItemFilters[state]+
		` AND i.item_id > $4 ORDER BY i.item_id LIMIT $5`, tenant, unit, now, after, size+1)
	if err != nil {
		return nil, 0, err
	}
	return page(rows, size, func(r pgx.Rows) (*lifecycle.Item, error) { return scanItem(r, tenant) },
		func(x *lifecycle.Item) int64 { return x.ID })
}

// GenerateDays makes the items of a site rule's recording days from the day after the last one
// made (or its start) through through, each due when its period ends and described by name (the
// site's, with the rule's zone). Concurrent sweepers make each day once.
func (s *Store) GenerateDays(ctx context.Context, r *lifecycle.Rule, through time.Time, name string) (int64, error) {
	// Dates compare as YYYY-MM-DD: PostgreSQL's dates come back at midnight UTC, through is a
	// day in Asia/Seoul.
	from, last := r.StartDate.Format(time.DateOnly), through.Format(time.DateOnly)
	if g := r.GeneratedThrough; g != nil {
		from = g.AddDate(0, 0, 1).Format(time.DateOnly)
	}
	if from > last {
		return 0, nil
	}
	var n int64
	err := pgdb.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO retention.items (tenant_id, unit_id, rule_id, status, scope, span_start,
			span_end, recording_date, description, clock_start_time, due_time, create_time)
			SELECT $1, $2, $3, 1, $4, d::timestamp AT TIME ZONE 'Asia/Seoul', (d + 1)::timestamp AT TIME ZONE 'Asia/Seoul',
				d, $5 || ' ' || to_char(d, 'YYYY-MM-DD') || ' 녹화분', d::timestamp AT TIME ZONE 'Asia/Seoul',
				retention.due_time(d::timestamp AT TIME ZONE 'Asia/Seoul', $6), $7
			FROM generate_series($8::date, $9::date, interval '1 day') AS g(t), LATERAL (SELECT g.t::date AS d) AS day
			ON CONFLICT (tenant_id, unit_id, rule_id, recording_date) WHERE recording_date IS NOT NULL DO NOTHING`,
			r.Tenant, r.Unit, r.ID, r.Doc.GetResource(), name, r.Doc.GetPeriodDays(), s.clock(), from, last)
		if err != nil {
			return err
		}
		n = tag.RowsAffected()
		_, err = tx.Exec(ctx, `UPDATE retention.rules SET generated_through = greatest(generated_through, $4::date)
			WHERE tenant_id = $1 AND unit_id = $2 AND rule_id = $3`, r.Tenant, r.Unit, r.ID, last)
		return err
	})
	return n, err
}

// ClaimBatch takes up to limit of the rule's due, unheld items still kept, oldest due first,
// skipping those another sweeper holds locked, and writes entry(items) to the outbox as the
// DESTRUCTION entry that records them: the items are destroyed once it is delivered. It returns
// the outbox id and how many items it took (0: none left).
func (s *Store) ClaimBatch(ctx context.Context, tenant, unit, rule string, now time.Time, limit int, entry func([]lifecycle.Claimed) *ledgerv1.AppendEntryRequest) (outbox int64, n int, err error) {
	err = pgdb.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockHolds(ctx, tx, tenant, unit, false); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT i.item_id, i.recording_date, i.description FROM retention.items i
			WHERE i.tenant_id = $1 AND i.unit_id = $2 AND i.rule_id = $3 AND i.status = 1 AND i.due_time <= $4
			AND NOT EXISTS (`+heldBy+`)
			ORDER BY i.due_time, i.item_id LIMIT $5 FOR UPDATE OF i SKIP LOCKED`, tenant, unit, rule, now, limit)
		if err != nil {
			return err
		}
		items, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (lifecycle.Claimed, error) {
			var c lifecycle.Claimed
			return c, r.Scan(&c.ID, &c.RecordingDate, &c.Description)
		})
		if err != nil || len(items) == 0 {
			return err
		}
		ids := make([]int64, len(items))
		for i, c := range items {
			ids[i] = c.ID
		}
		if outbox, err = s.queue(ctx, tx, tenant, unit, entry(items), 0); err != nil {
			return err
		}
		n = len(items)
		_, err = tx.Exec(ctx, `UPDATE retention.items SET status = 2, batch_id = $3 WHERE tenant_id = $1 AND item_id = ANY($2)`,
			tenant, ids, outbox)
		return err
	})
	return outbox, n, err
}

// ConfirmDeletion records that the recording system deleted a due, unheld item itself: entry
// (built from the item) goes to the outbox as its DESTRUCTION entry. check refuses what may not
// be confirmed. It returns the outbox id, or 0 when the item was already destroyed or in hand, or
// the call is a retry of one that succeeded (idem).
func (s *Store) ConfirmDeletion(ctx context.Context, tenant, unit string, id int64, idem Idem, check func(*lifecycle.Item) error, entry func(*lifecycle.Item) *ledgerv1.AppendEntryRequest) (int64, error) {
	var outbox int64
	err := s.change(ctx, tenant, idem, func(tx pgx.Tx) (string, error) {
		if err := lockHolds(ctx, tx, tenant, unit, false); err != nil {
			return "", err
		}
		if _, err := tx.Exec(ctx, `SELECT 1 FROM retention.items WHERE tenant_id = $1 AND item_id = $2 AND unit_id = $3 FOR UPDATE`,
			tenant, id, unit); err != nil {
			return "", err
		}
		it, err := s.item(ctx, tx, tenant, unit, id)
		if err != nil {
			return "", err
		}
		if it.Status == lifecycle.Destroying || it.Status == lifecycle.Destroyed {
			return names.Items.NameN(tenant, unit, id), nil
		}
		if err := check(it); err != nil {
			return "", err
		}
		if outbox, err = s.queue(ctx, tx, tenant, unit, entry(it), 0); err != nil {
			return "", err
		}
		_, err = tx.Exec(ctx, `UPDATE retention.items SET status = 2, batch_id = $3 WHERE tenant_id = $1 AND item_id = $2`,
			tenant, id, outbox)
		return names.Items.NameN(tenant, unit, id), err
	}, nil)
	return outbox, err
}

// UnitCounts counts the unit's due items under a hold and its overdue ones at now.
func (s *Store) UnitCounts(ctx context.Context, tenant, unit string, now time.Time) (held, overdue int64, err error) {
	err = s.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE i.status = 1 AND EXISTS (`+heldBy+`)),
		count(*) FILTER (WHERE retention.overdue_time(i.due_time) <= $3 AND NOT EXISTS (`+heldBy+`))
		FROM retention.items i WHERE i.tenant_id = $1 AND i.unit_id = $2 AND i.status < 4 AND i.due_time <= $3`,
		tenant, unit, now).Scan(&held, &overdue)
	return held, overdue, err
}

// Counts are one unit's open items by state, and its overdue plans and copies.
type Counts struct {
	Tenant, Unit                         string
	Retained, Due, Held, Planned         int64
	Overdue, PlansOverdue, CopiesOverdue int64
}

// AllCounts counts every unit's items not yet destroyed, overdue plans and overdue copies at now.
// It is the one query that spans tenants, for the operator's metrics; it returns counts only.
func (s *Store) AllCounts(ctx context.Context, now time.Time) ([]Counts, error) {
	byUnit := map[[2]string]*Counts{}
	var order [][2]string
	at := func(t, u string) *Counts {
		k := [2]string{t, u}
		if c := byUnit[k]; c != nil {
			return c
		}
		c := &Counts{Tenant: t, Unit: u}
		byUnit[k], order = c, append(order, k)
		return c
	}
	rows, err := s.pool.Query(ctx, `SELECT i.tenant_id, i.unit_id,
		count(*) FILTER (WHERE i.status = 1 AND i.due_time > $1),
		count(*) FILTER (WHERE i.status = 2 OR (i.status = 1 AND i.due_time <= $1 AND NOT EXISTS (`+heldBy+`))),
		count(*) FILTER (WHERE i.status = 1 AND i.due_time <= $1 AND EXISTS (`+heldBy+`)),
		count(*) FILTER (WHERE i.status = 3),
		count(*) FILTER (WHERE retention.overdue_time(i.due_time) <= $1 AND NOT EXISTS (`+heldBy+`))
		FROM retention.items i WHERE i.status < 4 GROUP BY 1, 2`, now)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var t, u string
		var c Counts
		if err := rows.Scan(&t, &u, &c.Retained, &c.Due, &c.Held, &c.Planned, &c.Overdue); err != nil {
			rows.Close()
			return nil, err
		}
		p := at(t, u)
		p.Retained, p.Due, p.Held, p.Planned, p.Overdue = c.Retained, c.Due, c.Held, c.Planned, c.Overdue
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, q := range []struct {
		sql string
		set func(*Counts, int64)
	}{
		{`SELECT tenant_id, unit_id, count(*) FROM retention.plans p WHERE state < 3 AND retention.overdue_time(` + planFirstDue + `) <= $1
			AND EXISTS (SELECT 1 FROM retention.items i WHERE i.tenant_id = p.tenant_id AND i.plan_id = p.plan_id) GROUP BY 1, 2`,
			func(c *Counts, n int64) { c.PlansOverdue = n }},
		{`SELECT tenant_id, unit_id, count(*) FROM retention.copies WHERE state = 1
			AND due_date < ($1 AT TIME ZONE 'Asia/Seoul')::date GROUP BY 1, 2`,
			func(c *Counts, n int64) { c.CopiesOverdue = n }},
	} {
		rows, err := s.pool.Query(ctx, q.sql, now)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var t, u string
			var n int64
			if err := rows.Scan(&t, &u, &n); err != nil {
				rows.Close()
				return nil, err
			}
			q.set(at(t, u), n)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	out := make([]Counts, len(order))
	for i, k := range order {
		out[i] = *byUnit[k]
	}
	return out, nil
}

// errNone rolls back a transaction that found nothing to do.
var errNone = fmt.Errorf("retention store: nothing to do")
