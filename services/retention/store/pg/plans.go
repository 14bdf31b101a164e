package pg

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pipa-kr/pipa/pkg/apierr"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	retentionv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/retention/v1"
	"github.com/pipa-kr/pipa/pkg/names"
	"github.com/pipa-kr/pipa/pkg/pgdb"
	"github.com/pipa-kr/pipa/services/retention/lifecycle"
)

// planFirstDue is the earliest due time of a plan's items, derived rather than stored, so that
// it follows items leaving the plan (a longer period, a hold excluded).
const planFirstDue = `coalesce((SELECT min(i.due_time) FROM retention.items i WHERE i.tenant_id = p.tenant_id AND i.plan_id = p.plan_id), p.create_time)`

const selectPlan = `SELECT plan_id, unit_id, doc, ` + planFirstDue + `, retention.overdue_time(` + planFirstDue + `), revision, create_time,
	(SELECT count(*) FROM retention.items i WHERE i.tenant_id = p.tenant_id AND i.plan_id = p.plan_id)
	FROM retention.plans p`

func scanPlan(row pgx.Row, tenant string) (*lifecycle.Plan, error) {
	p := &lifecycle.Plan{Tenant: tenant}
	var doc []byte
	var revision, count int64
	var create time.Time
	if err := row.Scan(&p.ID, &p.Unit, &doc, &p.FirstDue, &p.OverdueTime, &revision, &create, &count); err != nil {
		return nil, err
	}
	p.Doc = &retentionv1.Plan{}
	if err := protojson.Unmarshal(doc, p.Doc); err != nil {
		return nil, err
	}
	p.Doc.Name = names.Plans.NameN(tenant, p.Unit, p.ID)
	p.Doc.Etag = etag(create, revision)
	p.Doc.ItemCount = int32(count)
	return p, nil
}

func (s *Store) plan(ctx context.Context, q querier, tenant, unit string, id int64, lock bool) (*lifecycle.Plan, error) {
	sql := selectPlan + ` WHERE p.tenant_id = $1 AND p.plan_id = $2 AND p.unit_id = $3`
	if lock {
		sql += ` FOR UPDATE OF p`
	}
	p, err := scanPlan(q.QueryRow(ctx, sql, tenant, id, unit), tenant)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, apierr.NotFound(names.Plans.NameN(tenant, unit, id))
	}
	return p, err
}

// GetPlan returns a plan of the unit with the names of its items.
func (s *Store) GetPlan(ctx context.Context, tenant, unit string, id int64) (*lifecycle.Plan, error) {
	p, err := s.plan(ctx, s.pool, tenant, unit, id, false)
	if err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT item_id FROM retention.items WHERE tenant_id = $1 AND plan_id = $2 ORDER BY item_id`, tenant, id)
	if err != nil {
		return nil, err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	for _, i := range ids {
		p.Doc.Items = append(p.Doc.Items, names.Items.NameN(tenant, unit, i))
	}
	return p, err
}

// ListPlans pages through the unit's plans by id, in state when given; items are left out (a
// plan's items are read with GetPlan).
func (s *Store) ListPlans(ctx context.Context, tenant, unit string, state retentionv1.PlanState, size int, after int64) ([]*lifecycle.Plan, int64, error) {
	rows, err := s.pool.Query(ctx, selectPlan+` WHERE p.tenant_id = $1 AND p.unit_id = $2 AND ($3 = 0 OR p.state = $3)
		AND p.plan_id > $4 ORDER BY p.plan_id LIMIT $5`, tenant, unit, int16(state), after, size+1)
	if err != nil {
		return nil, 0, err
	}
	return page(rows, size, func(r pgx.Rows) (*lifecycle.Plan, error) { return scanPlan(r, tenant) },
		func(x *lifecycle.Plan) int64 { return x.ID })
}

// unitLock is the key of a unit's advisory lock for purpose.
func unitLock(purpose, tenant, unit string) int64 {
	h := fnv.New64a()
	h.Write([]byte("pipa/retention " + purpose + "\x00" + tenant + "\x00" + unit))
	return int64(h.Sum64())
}

// lockHolds serialises a unit's holds against its destructions (PIPA-21-1): CreateHold takes
// the lock exclusively, and whatever destroys (a sweep's batch, a confirmed deletion, a plan's
// proposal and completion) takes it shared before it reads the holds, so that it either sees a
// hold or commits before the hold exists. It is held until the transaction ends.
func lockHolds(ctx context.Context, tx pgx.Tx, tenant, unit string, exclusive bool) error {
	lock := "pg_advisory_xact_lock_shared"
	if exclusive {
		lock = "pg_advisory_xact_lock"
	}
	_, err := tx.Exec(ctx, "SELECT "+lock+"($1)", unitLock("holds", tenant, unit))
	return err
}

// ProposePlan puts up to limit of the unit's due, unheld items kept under rules that need
// approval into a new PROPOSED plan, oldest due first. It returns the plan, or nil when no item
// was waiting.
func (s *Store) ProposePlan(ctx context.Context, tenant, unit string, now time.Time, limit int, reason string) (*lifecycle.Plan, error) {
	var out *lifecycle.Plan
	err := pgdb.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		// One planner at a time per unit, so that concurrent sweeps make one plan.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, unitLock("plan", tenant, unit)); err != nil {
			return err
		}
		if err := lockHolds(ctx, tx, tenant, unit, false); err != nil {
			return err
		}
		doc, err := marshal(&retentionv1.Plan{State: retentionv1.PlanState_PLAN_STATE_PROPOSED, Reason: reason,
			CreateTime: timestamppb.New(s.clock())})
		if err != nil {
			return err
		}
		var id int64
		if err := tx.QueryRow(ctx, `INSERT INTO retention.plans (tenant_id, unit_id, state, doc, create_time)
			VALUES ($1, $2, 1, $3, $4) RETURNING plan_id`, tenant, unit, doc, s.clock()).Scan(&id); err != nil {
			return err
		}
		moved, err := tx.Exec(ctx, `UPDATE retention.items SET status = 3, plan_id = $3
			WHERE tenant_id = $1 AND item_id IN (SELECT i.item_id FROM retention.items i
				WHERE i.tenant_id = $1 AND i.unit_id = $2 AND i.status = 1 AND i.due_time <= $4
				AND i.rule_id IN (SELECT rule_id FROM retention.rules WHERE tenant_id = $1 AND unit_id = $2 AND action = 2)
				AND NOT EXISTS (`+heldBy+`)
				ORDER BY i.due_time, i.item_id LIMIT $5 FOR UPDATE OF i SKIP LOCKED)`, tenant, unit, id, now, limit)
		if err != nil {
			return err
		}
		if moved.RowsAffected() == 0 {
			return errNone
		}
		out, err = s.plan(ctx, tx, tenant, unit, id, false)
		return err
	})
	if errors.Is(err, errNone) {
		return nil, nil
	}
	return out, err
}

// UpdatePlan changes a plan under a row lock: fn gets the current plan (after the etag, if
// given, is checked) and changes its document in place; an unchanged document is not written.
// A retry of a call with a request_id (idem) changes nothing and gets the plan as it stands.
func (s *Store) UpdatePlan(ctx context.Context, tenant, unit string, id int64, idem Idem, tag string, fn func(p *lifecycle.Plan) error) (*lifecycle.Plan, error) {
	return s.updatePlan(ctx, tenant, unit, id, idem, tag, fn, nil)
}

// StartCompletion records the values of a plan's completion (fn checks and sets them, and checks
// the etag) under the plan's row lock and the unit's hold lock. Unless the plan is completed,
// items that a hold now covers and whose personal fields are not yet erased are refused
// (ITEMS_HELD, PIPA-21-1) or, with exclude, taken out of the plan back to kept; a plan left
// without items is refused. A completion's request_id (idem) is recorded with this, its first
// transaction (AIP-155): a retry does not run fn again and gets the plan as it stands.
func (s *Store) StartCompletion(ctx context.Context, tenant, unit string, id int64, idem Idem, exclude bool, fn func(p *lifecycle.Plan) error) (*lifecycle.Plan, error) {
	return s.updatePlan(ctx, tenant, unit, id, idem, "", fn, func(tx pgx.Tx, p *lifecycle.Plan) error {
		if p.Doc.GetState() == retentionv1.PlanState_PLAN_STATE_COMPLETED {
			return nil
		}
		if err := lockHolds(ctx, tx, tenant, unit, false); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT i.item_id, ARRAY(`+heldBy+` ORDER BY h.hold_id) AS holds FROM retention.items i
			WHERE i.tenant_id = $1 AND i.plan_id = $2 AND i.status = 3 AND i.erase_claim_time IS NULL AND EXISTS (`+heldBy+`)
			ORDER BY i.item_id FOR UPDATE OF i`, tenant, id)
		if err != nil {
			return err
		}
		held, err := pgx.CollectRows(rows, pgx.RowToStructByPos[heldItem])
		if err != nil {
			return err
		}
		if err := settleHeld(ctx, tx, tenant, unit, held, exclude); err != nil {
			return err
		}
		return checkNotEmpty(ctx, tx, p)
	})
}

// checkNotEmpty refuses to complete a plan with no items: it would certify nothing (STD-55).
func checkNotEmpty(ctx context.Context, tx pgx.Tx, p *lifecycle.Plan) error {
	var n int64
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM retention.items WHERE tenant_id = $1 AND plan_id = $2`,
		p.Tenant, p.ID).Scan(&n); err != nil || n > 0 {
		return err
	}
	return apierr.Precondition("PLAN_EMPTY", p.Doc.GetName()+" has no items left to destroy (STD-55)")
}

// heldItem is a plan item and the active holds that cover it.
type heldItem struct {
	ID    int64
	Holds []int64
}

// settleHeld refuses to destroy the plan items a hold covers (PIPA-21-1), naming them and their
// holds, or, with exclude, takes them out of the plan back to kept, where they wait for the
// release and a later plan.
func settleHeld(ctx context.Context, tx pgx.Tx, tenant, unit string, held []heldItem, exclude bool) error {
	if len(held) == 0 {
		return nil
	}
	ids, described := make([]int64, len(held)), make([]string, len(held))
	for i, h := range held {
		ids[i] = h.ID
		holds := make([]string, len(h.Holds))
		for j, id := range h.Holds {
			holds[j] = names.Holds.NameN(tenant, unit, id)
		}
		described[i] = names.Items.NameN(tenant, unit, h.ID) + " (" + strings.Join(holds, ", ") + ")"
	}
	if !exclude {
		e := apierr.Precondition("ITEMS_HELD", fmt.Sprintf("%d items of the plan are under a legal hold and must not be "+
			"destroyed (PIPA-21-1): %s; complete it once the holds are released, or with exclude_held_items to take these "+
			"items out of the plan", len(held), strings.Join(described, "; ")))
		e.Metadata = map[string]string{"rule": "PIPA-21-1", "items": strings.Join(described, "; ")}
		return e
	}
	_, err := tx.Exec(ctx, `UPDATE retention.items SET status = 1, plan_id = NULL WHERE tenant_id = $1 AND item_id = ANY($2)`,
		tenant, ids)
	return err
}

func (s *Store) updatePlan(ctx context.Context, tenant, unit string, id int64, idem Idem, tag string, fn func(p *lifecycle.Plan) error, check func(pgx.Tx, *lifecycle.Plan) error) (*lifecycle.Plan, error) {
	var out *lifecycle.Plan
	err := pgdb.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		_, _, err := once(ctx, tx, tenant, idem, func() (string, error) {
			p, err := s.plan(ctx, tx, tenant, unit, id, true)
			if err != nil {
				return "", err
			}
			if tag != "" && tag != p.Doc.GetEtag() {
				return "", apierr.EtagMismatch(p.Doc.GetName())
			}
			before := proto.Clone(p.Doc)
			if err := fn(p); err != nil {
				return "", err
			}
			if check != nil {
				if err := check(tx, p); err != nil {
					return "", err
				}
			}
			if !proto.Equal(before, p.Doc) {
				if err := s.writePlan(ctx, tx, p); err != nil {
					return "", err
				}
				if err := s.planEvent(ctx, tx, p, before.(*retentionv1.Plan).GetState()); err != nil {
					return "", err
				}
			}
			return p.Doc.GetName(), nil
		})
		if err != nil {
			return err
		}
		out, err = s.plan(ctx, tx, tenant, unit, id, false)
		return err
	})
	return out, err
}

func (s *Store) writePlan(ctx context.Context, tx pgx.Tx, p *lifecycle.Plan) error {
	d := proto.Clone(p.Doc).(*retentionv1.Plan)
	d.Name, d.Etag, d.Items, d.ItemCount, d.Overdue = "", "", nil, 0, false
	doc, err := marshal(d)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `UPDATE retention.plans SET state = $3, doc = $4, revision = revision + 1
		WHERE tenant_id = $1 AND plan_id = $2`, p.Tenant, p.ID, int16(p.Doc.GetState()), doc)
	return err
}

// ClaimErasures claims, under the unit's hold lock, the erasure of the plan's items of requests
// and ledger entries among the next limit not yet erased after item id after, and returns them
// with those claimed before, and the last item id it read (0: none left). An item a hold covers
// is refused (ITEMS_HELD, PIPA-21-1) or, with exclude, taken out of the plan. A claimed item
// counts as destroyed in fact, whatever hold comes after: the caller erases it after this
// commits, idempotently, and marks it Erased.
func (s *Store) ClaimErasures(ctx context.Context, tenant, unit string, plan int64, exclude bool, after int64, limit int) (out []lifecycle.Erasure, last int64, err error) {
	err = pgdb.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockHolds(ctx, tx, tenant, unit, false); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT i.item_id, r.target, i.resource, i.erase_claim_time IS NOT NULL,
			ARRAY(`+heldBy+` ORDER BY h.hold_id) FROM retention.items i
			JOIN retention.rules r ON r.tenant_id = i.tenant_id AND r.unit_id = i.unit_id AND r.rule_id = i.rule_id
			WHERE i.tenant_id = $1 AND i.plan_id = $2 AND i.status = 3 AND i.erase_time IS NULL AND r.target IN (3, 4)
			AND i.item_id > $3 ORDER BY i.item_id LIMIT $4 FOR UPDATE OF i`, tenant, plan, after, limit)
		if err != nil {
			return err
		}
		var held []heldItem
		var claim []int64
		_, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (struct{}, error) {
			var e lifecycle.Erasure
			var target int16
			var claimed bool
			var holds []int64
			if err := r.Scan(&e.ItemID, &target, &e.Resource, &claimed, &holds); err != nil {
				return struct{}{}, err
			}
			last = e.ItemID
			e.Target = retentionv1.RuleTarget(target)
			switch {
			case !claimed && len(holds) > 0:
				held = append(held, heldItem{ID: e.ItemID, Holds: holds})
				return struct{}{}, nil
			case !claimed:
				claim = append(claim, e.ItemID)
			}
			out = append(out, e)
			return struct{}{}, nil
		})
		if err != nil {
			return err
		}
		if err := settleHeld(ctx, tx, tenant, unit, held, exclude); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE retention.items SET erase_claim_time = $3 WHERE tenant_id = $1 AND item_id = ANY($2)`,
			tenant, claim, s.clock())
		return err
	})
	return out, last, err
}

// Erased records that an item's claimed erasure was made.
func (s *Store) Erased(ctx context.Context, tenant string, item int64) error {
	_, err := s.pool.Exec(ctx, `UPDATE retention.items SET erase_time = $3 WHERE tenant_id = $1 AND item_id = $2
		AND erase_claim_time IS NOT NULL AND erase_time IS NULL`, tenant, item, s.clock())
	return err
}

// QueuePlanEntries writes to the outbox one DESTRUCTION entry per rule of the plan's items not
// yet queued, built by entry, and returns every outbox id of the plan still to deliver. It
// locks the plan's row first, so that concurrent completions queue each entry once, and each
// item with the unit's holds locked: a held item whose personal fields are not yet erased is
// refused or, with exclude, taken out of the plan (settleHeld, PIPA-21-1); one not yet due at
// the destruction time, at, goes back to kept (its period was lengthened).
func (s *Store) QueuePlanEntries(ctx context.Context, tenant, unit string, plan int64, at time.Time, exclude bool, entry func(lifecycle.RuleGroup) *ledgerv1.AppendEntryRequest) ([]int64, error) {
	var pending []int64
	err := pgdb.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		p, err := s.plan(ctx, tx, tenant, unit, plan, true)
		if err != nil {
			return err
		}
		if err := lockHolds(ctx, tx, tenant, unit, false); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT i.item_id, i.rule_id, i.recording_date, i.erase_claim_time IS NOT NULL, i.due_time <= $3,
			ARRAY(`+heldBy+` ORDER BY h.hold_id)
			FROM retention.items i WHERE i.tenant_id = $1 AND i.plan_id = $2 AND i.status = 3
			ORDER BY i.rule_id, i.item_id FOR UPDATE OF i`, tenant, plan, at)
		if err != nil {
			return err
		}
		type row struct {
			id          int64
			rule        string
			day         *time.Time
			erased, due bool
			holds       []int64
		}
		items, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
			var it row
			return it, r.Scan(&it.id, &it.rule, &it.day, &it.erased, &it.due, &it.holds)
		})
		if err != nil {
			return err
		}
		// Erased items are destroyed in fact, whatever came since: they are recorded.
		var held []heldItem
		var notDue []int64
		type group struct {
			g   lifecycle.RuleGroup
			ids []int64
		}
		var groups []*group
		for _, it := range items {
			switch {
			case !it.erased && len(it.holds) > 0:
				held = append(held, heldItem{ID: it.id, Holds: it.holds})
				continue
			case !it.erased && !it.due:
				notDue = append(notDue, it.id)
				continue
			}
			if len(groups) == 0 || groups[len(groups)-1].g.Rule.ID != it.rule {
				rule, err := scanRule(tx.QueryRow(ctx, selectRule+` WHERE tenant_id = $1 AND unit_id = $2 AND rule_id = $3`,
					tenant, unit, it.rule), tenant, unit)
				if err != nil {
					return err
				}
				groups = append(groups, &group{g: lifecycle.RuleGroup{Rule: rule}})
			}
			g := groups[len(groups)-1]
			g.ids, g.g.Count = append(g.ids, it.id), g.g.Count+1
			if d := it.day; d != nil {
				if g.g.FirstDay == nil || d.Before(*g.g.FirstDay) {
					g.g.FirstDay = d
				}
				if g.g.LastDay == nil || d.After(*g.g.LastDay) {
					g.g.LastDay = d
				}
			}
		}
		if err := settleHeld(ctx, tx, tenant, unit, held, exclude); err != nil {
			return err
		}
		if len(notDue) > 0 {
			if _, err := tx.Exec(ctx, `UPDATE retention.items SET status = 1, plan_id = NULL WHERE tenant_id = $1 AND item_id = ANY($2)`,
				tenant, notDue); err != nil {
				return err
			}
		}
		for _, g := range groups {
			id, err := s.queue(ctx, tx, tenant, unit, entry(g.g), 0)
			if err != nil {
				return err
			}
			tag, err := tx.Exec(ctx, `UPDATE retention.items SET status = 2, batch_id = $3
				WHERE tenant_id = $1 AND item_id = ANY($2) AND status = 3`, tenant, g.ids, id)
			if err != nil {
				return err
			}
			if tag.RowsAffected() != int64(len(g.ids)) {
				return fmt.Errorf("retention store: %s changed during its completion: %d of %d items of %s queued",
					p.Doc.GetName(), tag.RowsAffected(), len(g.ids), g.g.Rule.ID)
			}
		}
		if err := checkNotEmpty(ctx, tx, p); err != nil {
			return err
		}
		rows, err = tx.Query(ctx, `SELECT DISTINCT batch_id FROM retention.items WHERE tenant_id = $1 AND plan_id = $2
			AND status = 2 ORDER BY batch_id`, tenant, plan)
		if err != nil {
			return err
		}
		pending, err = pgx.CollectRows(rows, pgx.RowTo[int64])
		return err
	})
	return pending, err
}

// FinishPlan completes a plan once every item is destroyed: finish gets the plan, its items and
// their rules (deleted ones too) and sets the document (state, certificate, records). A plan
// already completed is returned as it is.
func (s *Store) FinishPlan(ctx context.Context, tenant, unit string, id int64, finish func(p *lifecycle.Plan, items []lifecycle.PlanItem, rules map[string]*lifecycle.Rule) error) (*lifecycle.Plan, error) {
	err := pgdb.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		p, err := s.plan(ctx, tx, tenant, unit, id, true)
		if err != nil {
			return err
		}
		if p.Doc.GetState() == retentionv1.PlanState_PLAN_STATE_COMPLETED {
			return nil
		}
		var open int64
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM retention.items WHERE tenant_id = $1 AND plan_id = $2 AND status <> 4`,
			tenant, id).Scan(&open); err != nil {
			return err
		}
		if open > 0 {
			return apierr.Precondition("LEDGER_PENDING", "the destruction of this plan is not yet recorded in the ledger; retry shortly")
		}
		rows, err := tx.Query(ctx, `SELECT item_id, rule_id, description, clock_start_time, ledger_index, batch_id
			FROM retention.items WHERE tenant_id = $1 AND plan_id = $2 ORDER BY item_id`, tenant, id)
		if err != nil {
			return err
		}
		var batches []int64
		items, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (lifecycle.PlanItem, error) {
			var it lifecycle.PlanItem
			var batch int64
			err := r.Scan(&it.ID, &it.RuleID, &it.Description, &it.ClockStart, &it.LedgerIndex, &batch)
			batches = append(batches, batch)
			return it, err
		})
		if err != nil {
			return err
		}
		entries, err := s.outbox.Delivered(ctx, tx, tenant, batches)
		if err != nil {
			return err
		}
		rules := map[string]*lifecycle.Rule{}
		for i, it := range items {
			items[i].LeafHash = entries[batches[i]].LeafHash
			if rules[it.RuleID] == nil {
				r, err := scanRule(tx.QueryRow(ctx, selectRule+` WHERE tenant_id = $1 AND unit_id = $2 AND rule_id = $3`,
					tenant, unit, it.RuleID), tenant, unit)
				if err != nil {
					return err
				}
				rules[it.RuleID] = r
			}
		}
		from := p.Doc.GetState()
		if err := finish(p, items, rules); err != nil {
			return err
		}
		if err := s.writePlan(ctx, tx, p); err != nil {
			return err
		}
		return s.planEvent(ctx, tx, p, from)
	})
	if err != nil {
		return nil, err
	}
	return s.GetPlan(ctx, tenant, unit, id)
}

// lifecycle.Rule returns any rule of the unit, deleted ones included (a plan may outlive its rule).
func (s *Store) Rule(ctx context.Context, tenant, unit, id string) (*lifecycle.Rule, error) {
	r, err := scanRule(s.pool.QueryRow(ctx, selectRule+` WHERE tenant_id = $1 AND unit_id = $2 AND rule_id = $3`,
		tenant, unit, id), tenant, unit)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, apierr.NotFound(names.Rules.Name(tenant, unit, id))
	}
	return r, err
}

// OpenPlans are the plans of tenant, or of its unit (unit != ""), awaiting approval or execution,
// without their items, for the obligations list.
func (s *Store) OpenPlans(ctx context.Context, tenant, unit string) ([]*lifecycle.Plan, error) {
	rows, err := s.pool.Query(ctx, selectPlan+` WHERE p.tenant_id = $1 AND ($2 = '' OR p.unit_id = $2) AND p.state < 3
		ORDER BY p.unit_id, p.plan_id`, tenant, unit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (*lifecycle.Plan, error) { return scanPlan(r, tenant) })
}
