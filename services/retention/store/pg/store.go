// Package pg is the retention service's PostgreSQL store: rules, holds, items, destruction plans,
// copies given out, the sweeps' records and the tenants' certificate keys; the ledger entries that
// destructions and copy outcomes must append go to the service's ledger outbox (pkg/ledgerout).
//
// Due times are computed in one place, the SQL function retention.due_time (Asia/Seoul days), and
// overdue times (STD-10-1's 5 days) in another, retention.overdue_time.
// Whether an item is held is never stored: every query that needs it asks the holds table, so a
// hold takes effect, and its release ends, at once. A change that must be recorded in the ledger
// writes its entry to the outbox in the same transaction (a request_id fixed there makes a crash,
// a retry or a second sweeper append it once), and becomes what it records only when the entry
// is in the ledger: the outbox's hooks (Delivered, Refused) settle it in that transaction. Every
// method takes the tenant, and every query is scoped by it.
package pg

import (
	"context"
	"embed"
	"errors"
	"io/fs"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pipa-kr/pipa/pkg/apierr"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	retentionv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/retention/v1"
	"github.com/pipa-kr/pipa/pkg/idempotency"
	"github.com/pipa-kr/pipa/pkg/ledgerout"
	"github.com/pipa-kr/pipa/pkg/names"
	"github.com/pipa-kr/pipa/pkg/outbound"
	"github.com/pipa-kr/pipa/pkg/pgdb"
	"github.com/pipa-kr/pipa/pkg/seal"
	"github.com/pipa-kr/pipa/pkg/seoul"
	"github.com/pipa-kr/pipa/services/retention/lifecycle"
)

// Schema is the PostgreSQL schema the retention service owns.
const Schema = "retention"

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations are the service's goose SQL migrations, for pgdb.Migrate; its job queue comes from
// jobs.Migrate on the same schema.
var Migrations fs.FS = pgdb.Sub(migrations, "migrations")

// Store is safe for concurrent use.
type Store struct {
	pool   *pgxpool.Pool
	box    *seal.Box
	outbox *ledgerout.Outbox
	// out mails the copies' reminders; nil records them only.
	out  *outbound.Outbound
	now  func() time.Time
	keys keyCache
	host string
	// holdInserted, when set (tests), runs after CreateHold's insert and before its commit.
	holdInserted func()
}

// DefaultHost names the certificate keys of a Store without WithHost, as the ledger's default
// origin host names its keys.
const DefaultHost = "pipa.kr"

// WithOutbound mails each copy's reminders to its recipient's address (pkg/outbound).
func WithOutbound(out *outbound.Outbound) Option { return func(s *Store) { s.out = out } }

// Option configures a Store.
type Option func(*Store)

// WithHost sets the host that starts the name of every tenant's certificate key,
// "{host}/tenants/{t}/retention" (DefaultHost when empty): the host of the ledgers' origin lines.
// A key keeps the name it was made with.
func WithHost(host string) Option {
	return func(s *Store) {
		if host != "" {
			s.host = host
		}
	}
}

// New returns a Store; outbox takes the ledger entries (its hooks are the Store's Delivered and
// Refused), box seals the tenants' certificate keys, now is the service's clock.
func New(pool *pgxpool.Pool, box *seal.Box, outbox *ledgerout.Outbox, now func() time.Time, opts ...Option) *Store {
	s := &Store{pool: pool, box: box, outbox: outbox, now: now, host: DefaultHost}
	for _, o := range opts {
		o(s)
	}
	return s
}

// clock is the current time as PostgreSQL stores it (UTC, microseconds).
func (s *Store) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

func etag(create time.Time, revision int64) string {
	return strconv.FormatInt(create.UnixMicro(), 36) + "-" + strconv.FormatInt(revision, 10)
}

// Idem identifies a create for idempotency (AIP-155).
type Idem struct {
	RequestID, Method string
	Hash              []byte
}

type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// create runs insert once per request_id; a replay runs read on the first call's resource.
func (s *Store) create(ctx context.Context, tenant string, idem Idem, insert func(tx pgx.Tx) (string, error), read func(tx pgx.Tx, name string) error) error {
	return pgdb.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		name, again, err := once(ctx, tx, tenant, idem, func() (string, error) { return insert(tx) })
		if err != nil {
			return err
		}
		if again {
			return read(tx, name)
		}
		return nil
	})
}

// once runs change, which creates or changes the resource it names, at most once per request_id
// in tx (idempotency.Once); again says a retry was answered from the record.
func once(ctx context.Context, tx pgx.Tx, tenant string, idem Idem, change func() (string, error)) (name string, again bool, err error) {
	return idempotency.Once(ctx, tx, Schema, idempotency.Key{
		TenantID: tenant, RequestID: idem.RequestID, Method: idem.Method, RequestHash: idem.Hash}, change)
}

// change runs fn, which changes the resource it names, in one transaction at most once per
// request_id (idem); a retry of a call that succeeded runs reread instead (nil: nothing to read).
func (s *Store) change(ctx context.Context, tenant string, idem Idem, fn func(tx pgx.Tx) (string, error), reread func(tx pgx.Tx) error) error {
	return pgdb.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		_, again, err := once(ctx, tx, tenant, idem, func() (string, error) { return fn(tx) })
		if err != nil || !again || reread == nil {
			return err
		}
		return reread(tx)
	})
}

func uniqueViolation(err error, constraint string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == constraint
}

func marshal(m proto.Message) ([]byte, error) { return protojson.Marshal(m) }

func ts(t *time.Time) *timestamppb.Timestamp {
	if t == nil {
		return nil
	}
	return timestamppb.New(*t)
}

const selectRule = `SELECT rule_id, doc, start_date, generated_through, revision, create_time, update_time, delete_time
	FROM retention.rules`

func scanRule(row pgx.Row, tenant, unit string) (*lifecycle.Rule, error) {
	r := &lifecycle.Rule{Tenant: tenant, Unit: unit}
	var doc []byte
	var revision int64
	var create, update time.Time
	if err := row.Scan(&r.ID, &doc, &r.StartDate, &r.GeneratedThrough, &revision, &create, &update, &r.Deleted); err != nil {
		return nil, err
	}
	r.Doc = &retentionv1.Rule{}
	if err := protojson.Unmarshal(doc, r.Doc); err != nil {
		return nil, err
	}
	r.Doc.Name = names.Rules.Name(tenant, unit, r.ID)
	r.Doc.CreateTime, r.Doc.UpdateTime = timestamppb.New(create), timestamppb.New(update)
	r.Doc.Etag = etag(create, revision)
	return r, nil
}

func (s *Store) rule(ctx context.Context, q querier, tenant, unit, id string, lock bool) (*lifecycle.Rule, error) {
	sql := selectRule + ` WHERE tenant_id = $1 AND unit_id = $2 AND rule_id = $3 AND delete_time IS NULL`
	if lock {
		sql += ` FOR UPDATE`
	}
	r, err := scanRule(q.QueryRow(ctx, sql, tenant, unit, id), tenant, unit)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, apierr.NotFound(names.Rules.Name(tenant, unit, id))
	}
	return r, err
}

func ruleDoc(r *retentionv1.Rule) ([]byte, error) {
	d := proto.Clone(r).(*retentionv1.Rule)
	d.Name, d.Etag, d.CreateTime, d.UpdateTime = "", "", nil, nil
	return marshal(d)
}

// CreateRule stores a new rule under id, or under a new id "rule-{n}" when id is empty. A
// replayed request_id returns the first call's rule.
func (s *Store) CreateRule(ctx context.Context, tenant, unit, id string, idem Idem, r *retentionv1.Rule) (out *lifecycle.Rule, err error) {
	err = s.create(ctx, tenant, idem, func(tx pgx.Tx) (string, error) {
		if id == "" {
			var n int64
			if err := tx.QueryRow(ctx, `SELECT nextval('retention.ids')`).Scan(&n); err != nil {
				return "", err
			}
			id = "rule-" + strconv.FormatInt(n, 10)
		}
		doc, err := ruleDoc(r)
		if err != nil {
			return "", err
		}
		now := s.clock()
		// A site's recorder already holds the footage of the period before the rule: those days
		// are items too, so that their deletion is recorded (STD-42-2, STD-10-3).
		start := now.In(seoul.Location)
		if r.GetTarget() == retentionv1.RuleTarget_RULE_TARGET_SITE {
			start = start.AddDate(0, 0, -int(r.GetPeriodDays()))
		}
		tag, err := tx.Exec(ctx, `INSERT INTO retention.rules (tenant_id, unit_id, rule_id, target, resource, zone, action,
			period_days, doc, start_date, create_time, update_time)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) ON CONFLICT (tenant_id, unit_id, rule_id) DO NOTHING`,
			tenant, unit, id, int16(r.GetTarget()), r.GetResource(), r.GetZone(), int16(r.GetAction()), r.GetPeriodDays(), doc,
			start.Format(time.DateOnly), now)
		if uniqueViolation(err, "rules_by_resource") {
			if z := r.GetZone(); z != "" {
				return "", apierr.Invalid(apierr.Violation{Field: "rule.zone", Rule: "unique",
					Description: r.GetResource() + "'s zone " + z + " already has a rule: one rule per zone, so that nothing is destroyed or recorded twice"})
			}
			return "", apierr.Invalid(apierr.Violation{Field: "rule.resource", Rule: "unique",
				Description: r.GetResource() + " already has a rule: one rule per site or file, so that nothing is destroyed or recorded twice"})
		}
		if err != nil {
			return "", err
		}
		if tag.RowsAffected() == 0 {
			return "", apierr.AlreadyExists(names.Rules.Name(tenant, unit, id))
		}
		out, err = s.rule(ctx, tx, tenant, unit, id, false)
		return names.Rules.Name(tenant, unit, id), err
	}, func(tx pgx.Tx, name string) error {
		out, err = s.rule(ctx, tx, tenant, unit, names.Last(name), false)
		return err
	})
	return out, err
}

// GetRule returns a live rule of the unit.
func (s *Store) GetRule(ctx context.Context, tenant, unit, id string) (*lifecycle.Rule, error) {
	return s.rule(ctx, s.pool, tenant, unit, id, false)
}

// ListRules pages through the unit's live rules by id.
func (s *Store) ListRules(ctx context.Context, tenant, unit string, size int, after string) ([]*lifecycle.Rule, string, error) {
	rows, err := s.pool.Query(ctx, selectRule+` WHERE tenant_id = $1 AND unit_id = $2 AND delete_time IS NULL
		AND rule_id > $3 ORDER BY rule_id LIMIT $4`, tenant, unit, after, size+1)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	var out []*lifecycle.Rule
	for rows.Next() {
		r, err := scanRule(rows, tenant, unit)
		if err != nil {
			return nil, "", err
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > size {
		out = out[:size]
		next = out[size-1].ID
	}
	return out, next, nil
}

// UpdateRule changes a live rule under a row lock: fn gets its current document (after the etag,
// if given, is checked) and changes it in place. A new period moves the due times of the items
// still kept under the rule, and of those planned but not yet erased: one no longer due goes
// back to kept.
func (s *Store) UpdateRule(ctx context.Context, tenant, unit, id, tag string, idem Idem, fn func(r *retentionv1.Rule) error) (out *lifecycle.Rule, err error) {
	reread := func(tx pgx.Tx) (err error) {
		out, err = s.rule(ctx, tx, tenant, unit, id, false)
		return err
	}
	err = s.change(ctx, tenant, idem, func(tx pgx.Tx) (string, error) {
		r, err := s.rule(ctx, tx, tenant, unit, id, true)
		if err != nil {
			return "", err
		}
		if tag != "" && tag != r.Doc.GetEtag() {
			return "", apierr.EtagMismatch(r.Doc.GetName())
		}
		period := r.Doc.GetPeriodDays()
		if err := fn(r.Doc); err != nil {
			return "", err
		}
		doc, err := ruleDoc(r.Doc)
		if err != nil {
			return "", err
		}
		if _, err := tx.Exec(ctx, `UPDATE retention.rules SET doc = $4, action = $5, period_days = $6,
			revision = revision + 1, update_time = $7 WHERE tenant_id = $1 AND unit_id = $2 AND rule_id = $3`,
			tenant, unit, id, doc, int16(r.Doc.GetAction()), r.Doc.GetPeriodDays(), s.clock()); err != nil {
			return "", err
		}
		if r.Doc.GetPeriodDays() != period {
			// Planned items not yet erased move too; those no longer due leave their plan (PIPA-21-1
			// keeps them for the new period).
			if _, err := tx.Exec(ctx, `UPDATE retention.items SET due_time = retention.due_time(clock_start_time, $4),
				status = CASE WHEN status = 3 AND retention.due_time(clock_start_time, $4) > $5 THEN 1 ELSE status END,
				plan_id = CASE WHEN status = 3 AND retention.due_time(clock_start_time, $4) > $5 THEN NULL ELSE plan_id END
				WHERE tenant_id = $1 AND unit_id = $2 AND rule_id = $3 AND (status = 1 OR (status = 3 AND erase_claim_time IS NULL))`,
				tenant, unit, id, r.Doc.GetPeriodDays(), s.clock()); err != nil {
				return "", err
			}
		}
		return r.Doc.GetName(), reread(tx)
	}, reread)
	return out, err
}

// DeleteRule marks a live rule deleted: it takes no new items, and what it keeps is still
// destroyed when due (PIPA-21-1).
// A retry of a delete that succeeded (idem) gets the deleted rule as it stands.
func (s *Store) DeleteRule(ctx context.Context, tenant, unit, id, tag string, idem Idem) (*lifecycle.Rule, error) {
	var out *lifecycle.Rule
	reread := func(tx pgx.Tx) (err error) { // the deleted rule, as it stands
		out, err = scanRule(tx.QueryRow(ctx, selectRule+` WHERE tenant_id = $1 AND unit_id = $2 AND rule_id = $3`, tenant, unit, id), tenant, unit)
		return err
	}
	err := s.change(ctx, tenant, idem, func(tx pgx.Tx) (string, error) {
		r, err := s.rule(ctx, tx, tenant, unit, id, true)
		if err != nil {
			return "", err
		}
		if tag != "" && tag != r.Doc.GetEtag() {
			return "", apierr.EtagMismatch(r.Doc.GetName())
		}
		now := s.clock()
		if _, err := tx.Exec(ctx, `UPDATE retention.rules SET delete_time = $4, update_time = $4, revision = revision + 1
			WHERE tenant_id = $1 AND unit_id = $2 AND rule_id = $3`, tenant, unit, id, now); err != nil {
			return "", err
		}
		return r.Doc.GetName(), reread(tx)
	}, reread)
	return out, err
}

// SweepRules are the rules a sweep of the unit works through: the live ones, and deleted ones
// that still keep items.
func (s *Store) SweepRules(ctx context.Context, tenant, unit string) ([]*lifecycle.Rule, error) {
	rows, err := s.pool.Query(ctx, selectRule+` r WHERE tenant_id = $1 AND unit_id = $2 AND (delete_time IS NULL
		OR EXISTS (SELECT 1 FROM retention.items i WHERE i.tenant_id = r.tenant_id AND i.unit_id = r.unit_id
			AND i.rule_id = r.rule_id AND i.status < 4)) ORDER BY rule_id`, tenant, unit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*lifecycle.Rule
	for rows.Next() {
		r, err := scanRule(rows, tenant, unit)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// SweptUnits are the units with rules to sweep, across tenants: what the periodic job visits.
func (s *Store) SweptUnits(ctx context.Context) ([][2]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT tenant_id, unit_id FROM retention.rules r WHERE delete_time IS NULL
		OR EXISTS (SELECT 1 FROM retention.items i WHERE i.tenant_id = r.tenant_id AND i.unit_id = r.unit_id
			AND i.rule_id = r.rule_id AND i.status < 4) ORDER BY 1, 2`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) ([2]string, error) {
		var u [2]string
		return u, r.Scan(&u[0], &u[1])
	})
}

const selectHold = `SELECT hold_id, unit_id, doc, create_time, release_time, released_by, release_reason FROM retention.holds`

func scanHold(row pgx.Row, tenant string) (*lifecycle.Hold, error) {
	h := &lifecycle.Hold{Tenant: tenant}
	var doc []byte
	var create time.Time
	var released *time.Time
	var by, reason *string
	if err := row.Scan(&h.ID, &h.Unit, &doc, &create, &released, &by, &reason); err != nil {
		return nil, err
	}
	h.Doc = &retentionv1.Hold{}
	if err := protojson.Unmarshal(doc, h.Doc); err != nil {
		return nil, err
	}
	h.Doc.Name = names.Holds.NameN(tenant, h.Unit, h.ID)
	h.Doc.CreateTime = timestamppb.New(create)
	if released != nil {
		h.Doc.Released, h.Doc.ReleaseTime = true, timestamppb.New(*released)
		h.Doc.ReleasedBy, h.Doc.ReleaseReason = *by, *reason
	}
	return h, nil
}

func (s *Store) hold(ctx context.Context, q querier, tenant, unit string, id int64, lock bool) (*lifecycle.Hold, error) {
	sql := selectHold + ` WHERE tenant_id = $1 AND hold_id = $2 AND unit_id = $3`
	if lock {
		sql += ` FOR UPDATE`
	}
	h, err := scanHold(q.QueryRow(ctx, sql, tenant, id, unit), tenant)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, apierr.NotFound(names.Holds.NameN(tenant, unit, id))
	}
	return h, err
}

// CreateHold stores a hold on scope (a site, a file, a request or a ledger entry; a site's hold
// covers [start, end)), holding the unit's hold lock exclusively (lockHolds). A replayed
// request_id returns the first call's hold.
func (s *Store) CreateHold(ctx context.Context, tenant, unit string, idem Idem, h *retentionv1.Hold, scope string, start, end *time.Time) (out *lifecycle.Hold, err error) {
	d := proto.Clone(h).(*retentionv1.Hold)
	d.Name, d.CreateTime = "", nil
	d.Released, d.ReleaseTime, d.ReleasedBy, d.ReleaseReason = false, nil, "", ""
	doc, err := marshal(d)
	if err != nil {
		return nil, err
	}
	err = s.create(ctx, tenant, idem, func(tx pgx.Tx) (string, error) {
		if err := lockHolds(ctx, tx, tenant, unit, true); err != nil {
			return "", err
		}
		var id int64
		if err := tx.QueryRow(ctx, `INSERT INTO retention.holds (tenant_id, unit_id, scope, start_time, end_time, doc, create_time)
			VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING hold_id`, tenant, unit, scope, start, end, doc, s.clock()).Scan(&id); err != nil {
			return "", err
		}
		if s.holdInserted != nil {
			s.holdInserted()
		}
		out, err = s.hold(ctx, tx, tenant, unit, id, false)
		return names.Holds.NameN(tenant, unit, id), err
	}, func(tx pgx.Tx, name string) error {
		id, _ := strconv.ParseInt(names.Last(name), 10, 64)
		out, err = s.hold(ctx, tx, tenant, unit, id, false)
		return err
	})
	return out, err
}

// GetHold returns a hold of the unit.
func (s *Store) GetHold(ctx context.Context, tenant, unit string, id int64) (*lifecycle.Hold, error) {
	return s.hold(ctx, s.pool, tenant, unit, id, false)
}

// ListHolds pages through the unit's holds by id; released ones only when asked.
func (s *Store) ListHolds(ctx context.Context, tenant, unit string, released bool, size int, after int64) ([]*lifecycle.Hold, int64, error) {
	rows, err := s.pool.Query(ctx, selectHold+` WHERE tenant_id = $1 AND unit_id = $2 AND hold_id > $3
		AND ($4 OR release_time IS NULL) ORDER BY hold_id LIMIT $5`, tenant, unit, after, released, size+1)
	if err != nil {
		return nil, 0, err
	}
	return page(rows, size, func(r pgx.Rows) (*lifecycle.Hold, error) { return scanHold(r, tenant) },
		func(x *lifecycle.Hold) int64 { return x.ID })
}

// ReleaseHold records who released the hold, when and why. Releasing twice is refused, unless the
// second call is the first's retry (idem): that one gets the hold as it stands.
func (s *Store) ReleaseHold(ctx context.Context, tenant, unit string, id int64, idem Idem, by, reason string) (out *lifecycle.Hold, err error) {
	err = pgdb.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		_, _, err := once(ctx, tx, tenant, idem, func() (string, error) {
			h, err := s.hold(ctx, tx, tenant, unit, id, true)
			if err != nil {
				return "", err
			}
			if h.Doc.GetReleased() {
				return "", apierr.Precondition("HOLD_RELEASED", h.Doc.GetName()+" was already released on "+
					h.Doc.GetReleaseTime().AsTime().In(seoul.Location).Format("2006-01-02 15:04")+" by "+h.Doc.GetReleasedBy())
			}
			_, err = tx.Exec(ctx, `UPDATE retention.holds SET release_time = $3, released_by = $4, release_reason = $5
				WHERE tenant_id = $1 AND hold_id = $2`, tenant, id, s.clock(), by, reason)
			return h.Doc.GetName(), err
		})
		if err != nil {
			return err
		}
		out, err = s.hold(ctx, tx, tenant, unit, id, false)
		return err
	})
	return out, err
}

// ActiveHolds are the ids of the unit's holds not released.
func (s *Store) ActiveHolds(ctx context.Context, tenant, unit string) ([]int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT hold_id FROM retention.holds WHERE tenant_id = $1 AND unit_id = $2
		AND release_time IS NULL ORDER BY hold_id`, tenant, unit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

// heldBy selects the active holds that cover item i: same scope and, for a site, a range that
// overlaps the recording day.
const heldBy = `SELECT h.hold_id FROM retention.holds h WHERE h.tenant_id = i.tenant_id AND h.unit_id = i.unit_id
	AND h.release_time IS NULL AND h.scope = i.scope
	AND (h.start_time IS NULL OR (h.start_time < i.span_end AND h.end_time > i.span_start))`

// RecordSweep records the unit's sweep r, and the request_id of the call that ran it (idem,
// AIP-155), and answers the name of the sweep the call's answer is: r's own, or, when a call
// with the same request_id recorded its sweep meanwhile, that one's (again true; r is recorded
// all the same, as every sweep is). A sweep that destroyed or planned something is told to the
// subscriptions (SweepCompleted), in the same transaction; an hourly sweep that found nothing
// due is not, lest every unit send 24 empty events a day.
func (s *Store) RecordSweep(ctx context.Context, tenant, unit string, idem Idem, r lifecycle.SweepRecord) (answer string, again bool, err error) {
	err = pgdb.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		var id int64
		if err := tx.QueryRow(ctx, `INSERT INTO retention.sweeps (tenant_id, unit_id, sweep_time, destroyed, planned, held,
			overdue, holds_checked, plans, access_destroyed, unclassified_systems) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
			RETURNING sweep_id`,
			tenant, unit, r.Time, r.Destroyed, r.Planned, r.Held, r.Overdue, nonNil(r.HoldsChecked), nonNil(r.Plans),
			r.AccessDestroyed, nonNil(r.UnclassifiedSystems)).Scan(&id); err != nil {
			return err
		}
		name := names.Sweeps.NameN(tenant, unit, id)
		if answer, again, err = once(ctx, tx, tenant, idem, func() (string, error) { return name, nil }); err != nil {
			return err
		}
		if r.Destroyed == 0 && r.Planned == 0 && r.AccessDestroyed == 0 {
			return nil
		}
		return s.relay(ctx, tx, tenant, outbound.Event{Unit: unit, Type: outbound.SweepCompleted, Subject: name,
			Data: map[string]any{"sweep": name, "destroyed": r.Destroyed, "planned": r.Planned, "held": r.Held,
				"overdue": r.Overdue, "plans": nonNil(r.Plans), "access_destroyed": r.AccessDestroyed}})
	})
	return answer, again, err
}

// errNotSwept ends SweptFor's look-up of a request_id no sweep recorded yet.
var errNotSwept = errors.New("no sweep recorded for this request_id")

// SweptFor is the sweep a call with idem's request_id recorded (RecordSweep), nil if none did;
// a request_id recorded for another request is refused (AIP-155).
func (s *Store) SweptFor(ctx context.Context, tenant, unit string, idem Idem) (*retentionv1.Sweep, error) {
	var out *retentionv1.Sweep
	err := pgdb.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		name, _, err := once(ctx, tx, tenant, idem, func() (string, error) { return "", errNotSwept })
		if err != nil {
			return err
		}
		out, err = s.sweep(ctx, tx, name)
		return err
	})
	if errors.Is(err, errNotSwept) {
		return nil, nil
	}
	return out, err
}

// Sweep reads the sweep record called name.
func (s *Store) Sweep(ctx context.Context, name string) (*retentionv1.Sweep, error) {
	return s.sweep(ctx, s.pool, name)
}

func (s *Store) sweep(ctx context.Context, q querier, name string) (*retentionv1.Sweep, error) {
	tenant, unit, id, err := names.Sweeps.ParseN("sweep", name)
	if err != nil {
		return nil, err
	}
	rows, err := q.Query(ctx, selectSweep+` WHERE tenant_id = $1 AND unit_id = $2 AND sweep_id = $3`, tenant, unit, id)
	if err != nil {
		return nil, err
	}
	return pgx.CollectExactlyOneRow(rows, func(r pgx.CollectableRow) (*retentionv1.Sweep, error) {
		w, _, err := scanSweep(r, tenant, unit)
		return w, err
	})
}

const selectSweep = `SELECT sweep_id, sweep_time, destroyed, planned, held, overdue, plans, holds_checked, access_destroyed,
	unclassified_systems FROM retention.sweeps`

func scanSweep(r pgx.Row, tenant, unit string) (*retentionv1.Sweep, int64, error) {
	var id int64
	var at time.Time
	w := &retentionv1.Sweep{}
	if err := r.Scan(&id, &at, &w.Destroyed, &w.Planned, &w.Held, &w.Overdue, &w.Plans, &w.HoldsChecked, &w.AccessDestroyed,
		&w.UnclassifiedSystems); err != nil {
		return nil, 0, err
	}
	w.Name, w.SweepTime = names.Sweeps.NameN(tenant, unit, id), timestamppb.New(at)
	return w, id, nil
}

// ListSweeps pages through the unit's sweep records, newest first, before the sweep id before
// (0: from the newest).
func (s *Store) ListSweeps(ctx context.Context, tenant, unit string, size int, before int64) ([]*retentionv1.Sweep, int64, error) {
	rows, err := s.pool.Query(ctx, selectSweep+` WHERE tenant_id = $1 AND unit_id = $2 AND ($3 = 0 OR sweep_id < $3)
		ORDER BY sweep_id DESC LIMIT $4`, tenant, unit, before, size+1)
	if err != nil {
		return nil, 0, err
	}
	var ids []int64
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*retentionv1.Sweep, error) {
		w, id, err := scanSweep(r, tenant, unit)
		ids = append(ids, id)
		return w, err
	})
	if err != nil {
		return nil, 0, err
	}
	var next int64
	if len(out) > size {
		out, next = out[:size], ids[size-1]
	}
	return out, next, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// queue writes a ledger entry of the unit to the outbox; after, if not 0, is the entry that must be
// appended first (a returned copy's RETURN before its DESTRUCTION).
func (s *Store) queue(ctx context.Context, tx pgx.Tx, tenant, unit string, req *ledgerv1.AppendEntryRequest, after int64) (int64, error) {
	return s.outbox.Enqueue(ctx, tx, tenant, ledgerout.Entry{Unit: unit, Append: req, After: after})
}

// Delivered is the outbox's hook for an entry in the ledger: what it records happens now, in the
// transaction that records its index — the items of its batch become destroyed with its index
// and occur time, a copy's outcome gets its index and, once all its entries are in, changes the
// copy (C-9).
func (s *Store) Delivered(ctx context.Context, tx pgx.Tx, e ledgerout.Settled) error {
	if _, err := tx.Exec(ctx, `UPDATE retention.items SET status = 4, ledger_index = $3, destruction_time = $4
		WHERE tenant_id = $1 AND batch_id = $2 AND status = 2`, e.Tenant, e.ID, e.Index, e.Occur); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `UPDATE retention.copy_outcomes SET
		ledger_index = CASE WHEN outbox_id = $2 THEN $3 ELSE ledger_index END,
		destruction_index = CASE WHEN destruction_outbox_id = $2 THEN $3 ELSE destruction_index END
		WHERE tenant_id = $1 AND (outbox_id = $2 OR destruction_outbox_id = $2)`, e.Tenant, e.ID, e.Index); err != nil {
		return err
	}
	rows, err := tx.Query(ctx, `UPDATE retention.copies c SET state = o.new_state, due_date = coalesce(o.new_due_date, c.due_date),
		revision = c.revision + 1
		FROM retention.copy_outcomes o WHERE o.tenant_id = $1 AND (o.outbox_id = $2 OR o.destruction_outbox_id = $2)
		AND o.ledger_index IS NOT NULL AND (o.destruction_outbox_id IS NULL OR o.destruction_index IS NOT NULL)
		AND c.tenant_id = o.tenant_id AND c.copy_id = o.copy_id
		RETURNING c.unit_id, c.copy_id, c.state, o.ledger_index`, e.Tenant, e.ID)
	if err != nil {
		return err
	}
	type changed struct {
		Unit  string
		Copy  int64
		State int16
		Index int64
	}
	copies, err := pgx.CollectRows(rows, pgx.RowToStructByPos[changed])
	if err != nil {
		return err
	}
	for _, c := range copies {
		if st := retentionv1.CopyState(c.State); st != retentionv1.CopyState_COPY_STATE_OUT {
			// C-9: the copy is destroyed or returned; the event names the ledger entry that says so.
			if err := s.copyEvent(ctx, tx, e.Tenant, c.Unit, c.Copy, outbound.CopyClosed, map[string]any{
				"state": st.String(), "ledgerEntry": names.Entries.NameN(e.Tenant, c.Unit, c.Index)}); err != nil {
				return err
			}
		}
	}
	return nil
}

// Refused is the outbox's hook for entries the ledger refused for good: what waited on them is
// undone — the items of their batches go back to kept (or, in a plan, to planned, for the
// completion to be repeated), and a copy's outcome is removed, so the copy is as it was.
func (s *Store) Refused(ctx context.Context, tx pgx.Tx, refused []ledgerout.Settled, _ string) error {
	ids := make([]int64, len(refused))
	for i, e := range refused {
		ids[i] = e.ID
	}
	if _, err := tx.Exec(ctx, `UPDATE retention.items SET status = CASE WHEN plan_id IS NULL THEN 1 ELSE 3 END, batch_id = NULL
		WHERE tenant_id = $1 AND batch_id = ANY($2) AND status = 2`, refused[0].Tenant, ids); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `DELETE FROM retention.copy_outcomes WHERE tenant_id = $1
		AND (outbox_id = ANY($2) OR destruction_outbox_id = ANY($2))`, refused[0].Tenant, ids)
	return err
}

// page collects up to size rows with scan, and the key after which the next page starts (its
// zero when there is none): the lists ask for size+1 rows.
func page[T any, K comparable](rows pgx.Rows, size int, scan func(pgx.Rows) (T, error), key func(T) K) ([]T, K, error) {
	defer rows.Close()
	var out []T
	var next K
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, next, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, next, err
	}
	if len(out) > size {
		out = out[:size]
		next = key(out[size-1])
	}
	return out, next, nil
}
