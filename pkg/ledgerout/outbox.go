// Package ledgerout is a service's outbox of ledger entries: what the law says must be recorded
// (API.md: "appends a ledger entry in the same operation") is written in the transaction of the
// change it records, and appended to the unit's ledger after that commits — at once by the call
// that made the change, so that its answer usually carries the entry's index, and otherwise by the
// drain, one River job (pkg/jobs) per service that appends every pending entry in batches, many
// at once, and retries while the ledger is out. Only an entry its call could not deliver enqueues
// the drain; a drain every half minute finds those whose call died first. A crash or an outage
// delays an entry; nothing loses it.
//
//   - One idempotency scheme: each row gets a request_id when it is written,
//     "{schema}/entries/{id}", so that however often it is delivered, the ledger appends it once
//     (it answers a replay with the first entry).
//   - One refusal policy: an entry the ledger refuses (InvalidArgument or FailedPrecondition) can
//     never be appended. It is settled as refused with every entry that waits on it, counted in
//     {prefix}.ledger_refused{tenant, kind}, logged, and never retried. Anything else is retried
//     with jobs.Backoff.
//   - Order: an entry may wait for another (After) and take its index as the one it follows (an
//     AMENDMENT of a PROVISION).
//   - Chaining: the service's Hooks run in the transaction that records a delivery (the items a
//     DESTRUCTION records become destroyed, with its index) or a refusal (what it was to record is
//     undone), so what follows an entry happens exactly when, and once, it is settled.
//
// The table, {schema}.ledger_outbox, lives in the using service's schema with its own migrations
// (Migrate, like pkg/jobs's queue).
package ledgerout

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	"github.com/pipa-kr/pipa/pkg/apierr"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	"github.com/pipa-kr/pipa/pkg/names"
	"github.com/pipa-kr/pipa/pkg/pgdb"
	"github.com/pipa-kr/pipa/pkg/seal"
	"github.com/pipa-kr/pipa/pkg/unitauth"
)

// Config is what an Outbox needs of its service.
type Config struct {
	// Schema is the service's PostgreSQL schema, which holds the table and the job queue.
	Schema string
	Pool   *pgxpool.Pool
	// Box seals the entries at rest; nil stores them as they are.
	Box *seal.Box
	// Ledger appends (nil: the entries wait, the drain sends nothing); Token is the service
	// credential a delivery uses when its context carries none (jobs, and calls that append as
	// the service).
	Ledger ledgerv1.LedgerServiceClient
	Token  func() (string, error)
	// Metrics prefixes the metric names, e.g. "pipa.requests"; empty for no metrics.
	Metrics string
	// Delay is how long the drain leaves a new entry to the call that wrote it: longer than
	// that call's append may take (Timeout), so the two rarely append the same entry.
	Delay time.Duration
	// Timeout bounds one append (10 seconds when 0): a call that delivers at once answers within
	// it, leaving the entry to the job, when the ledger is slow or out.
	Timeout time.Duration
	// Now is the clock of the rows' times; time.Now when nil.
	Now func() time.Time
}

// Outbox is safe for concurrent use.
type Outbox struct {
	cfg      Config
	jobs     *river.Client[pgx.Tx]
	hooks    Hooks
	log      *slog.Logger
	refusals metric.Int64Counter
}

// Entry is an entry to append.
type Entry struct {
	Unit string
	// Append is the request to send; the outbox sets its parent and request_id.
	Append *ledgerv1.AppendEntryRequest
	// Subject and Label are the service's names for the entry (Records finds them by subject);
	// Chain names the follow-up its Hooks run once the entry is delivered.
	Subject, Label, Chain string
	// After is an entry delivered first; the entry is refused if that one is. With Follows, the
	// entry follows it: its follows is that entry's index.
	After   int64
	Follows bool
	// RequestID replaces the outbox's own, for rows carried over from an older outbox.
	RequestID string
}

// Settled is an entry the ledger took or refused, as the Hooks and Deliver's callers see it.
type Settled struct {
	Tenant, Unit          string
	ID                    int64
	Subject, Label, Chain string
	Kind                  ledgerv1.EntryKind
	Occur                 time.Time
	// Index and LeafHash are the ledger's, once it took the entry.
	Index    int64
	LeafHash []byte
}

// Hooks are what the service does when entries settle, in the transaction that records it.
type Hooks interface {
	// Delivered runs once per entry the ledger took.
	Delivered(ctx context.Context, tx pgx.Tx, s Settled) error
	// Refused runs once for an entry the ledger refused, with the entries that waited on it.
	Refused(ctx context.Context, tx pgx.Tx, refused []Settled, reason string) error
}

// ErrWaiting is Deliver's answer for an entry whose predecessor (After) is not in the ledger yet.
var ErrWaiting = errors.New("ledgerout: the entry waits for the one it follows")

// ErrRefused matches every Refusal.
var ErrRefused = errors.New("ledgerout: the ledger refused the entry")

// Refusal is Deliver's error for an entry the ledger refused, now or before: for good.
type Refusal struct {
	ID     int64
	Reason string
}

func (r *Refusal) Error() string {
	return fmt.Sprintf("ledgerout: the ledger refused entry %d: %s", r.ID, r.Reason)
}

// Is makes errors.Is(err, ErrRefused) true for a Refusal.
func (r *Refusal) Is(target error) bool { return target == ErrRefused }

// New returns the outbox of cfg.Schema and registers its metrics. Call AddWorkers before making
// the service's River client, and Use with that client before the first Enqueue.
func New(cfg Config) (*Outbox, error) {
	if err := pgdb.ValidSchema(cfg.Schema); err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	o := &Outbox{cfg: cfg, hooks: noHooks{}, log: slog.Default(), refusals: noop.Int64Counter{}}
	return o, o.registerMetrics()
}

// Use gives the outbox the service's River client, which inserts the delivery jobs, and the
// service's hooks (nil for none).
func (o *Outbox) Use(jobs *river.Client[pgx.Tx], hooks Hooks) {
	o.jobs = jobs
	if hooks != nil {
		o.hooks = hooks
	}
}

type noHooks struct{}

func (noHooks) Delivered(context.Context, pgx.Tx, Settled) error         { return nil }
func (noHooks) Refused(context.Context, pgx.Tx, []Settled, string) error { return nil }

func (o *Outbox) table() string { return o.cfg.Schema + ".ledger_outbox" }

// clock is the current time as PostgreSQL stores it.
func (o *Outbox) clock() time.Time { return o.cfg.Now().UTC().Truncate(time.Microsecond) }

// ad binds a sealed entry to its service, tenant and request_id: a row copied elsewhere does not open.
func (o *Outbox) ad(tenant, requestID string) []byte {
	return []byte("pipa/ledgerout\x00" + o.cfg.Schema + "\x00" + tenant + "\x00" + requestID)
}

// Enqueue writes e for the tenant in tx and returns its id; the caller delivers it once tx
// commits (Deliver), or the drain does. The entry is delivered only if tx commits.
func (o *Outbox) Enqueue(ctx context.Context, tx pgx.Tx, tenant string, e Entry) (int64, error) {
	return o.insert(ctx, tx, tenant, e, Carried{})
}

// Carried is the standing an older outbox gave an entry that Carry writes.
type Carried struct {
	// Index is the ledger's index of the entry, when it has it; Refusal why it refused it.
	Index   *int64
	Refusal string
	// Time is when the entry was first written; zero is now.
	Time time.Time
}

// Carry writes an entry that an older outbox holds, for an upgrade that moves it here: under its
// old request_id (e.RequestID), pending (for the drain), delivered or refused.
// A settled entry's Append may be nil: the ledger has it, or never will.
func (o *Outbox) Carry(ctx context.Context, tx pgx.Tx, tenant string, e Entry, c Carried) (int64, error) {
	return o.insert(ctx, tx, tenant, e, c)
}

func (o *Outbox) insert(ctx context.Context, tx pgx.Tx, tenant string, e Entry, c Carried) (int64, error) {
	var id int64
	if err := tx.QueryRow(ctx, `SELECT nextval('`+o.cfg.Schema+`.ledger_outbox_ids')`).Scan(&id); err != nil {
		return 0, err
	}
	requestID := e.RequestID
	if requestID == "" {
		requestID = o.cfg.Schema + "/entries/" + strconv.FormatInt(id, 10)
	}
	var b []byte
	var kind string
	occur := c.Time
	sealed := o.cfg.Box != nil
	if e.Append != nil {
		req := proto.CloneOf(e.Append)
		req.Parent, req.RequestId = names.Unit(tenant, e.Unit), requestID
		var err error
		if b, err = proto.Marshal(req); err != nil {
			return 0, err
		}
		if sealed {
			if b, err = o.cfg.Box.Seal(b, o.ad(tenant, requestID)); err != nil {
				return 0, err
			}
		}
		kind, occur = kindName(req.GetEntry().GetKind()), req.GetEntry().GetOccurTime().AsTime()
	} else if c.Index == nil && c.Refusal == "" {
		return 0, fmt.Errorf("ledgerout: a pending entry needs what to append")
	}
	var after any
	if e.After != 0 {
		after = e.After
	}
	now := o.clock()
	created := now
	if !c.Time.IsZero() {
		created = c.Time
	}
	var refused any
	if c.Refusal != "" {
		refused = now
	}
	var delivered any
	if c.Index != nil {
		delivered = now
	}
	if _, err := tx.Exec(ctx, `INSERT INTO `+o.table()+` (tenant_id, id, unit_id, request_id, subject, label, chain, kind,
		entry, sealed, occur_time, after_id, follows_after, create_time, ledger_index, deliver_time, refuse_time, refusal)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, nullif($18, ''))`,
		tenant, id, e.Unit, requestID, e.Subject, e.Label, e.Chain, kind, b, sealed, occur, after,
		e.Follows && e.After != 0, created, c.Index, delivered, refused, c.Refusal); err != nil {
		return 0, err
	}
	return id, nil
}

func kindName(k ledgerv1.EntryKind) string {
	if s, ok := ledgerv1.EntryKind_name[int32(k)]; ok {
		return s[len("ENTRY_KIND_"):]
	}
	return strconv.Itoa(int(k))
}

// pending is a row to deliver.
type pending struct {
	Settled
	requestID, refusal       string
	entry                    []byte
	sealed, followsAfter     bool
	delivered, refused       bool
	afterIndex               *int64
	afterPending, afterFails bool
}

// selectPending reads pending rows (o) with the entry each follows (a); the caller adds WHERE.
func (o *Outbox) selectPending() string {
	return `SELECT o.tenant_id, o.id, o.unit_id, o.subject, o.label, o.chain, o.kind, o.occur_time,
	coalesce(o.ledger_index, 0), coalesce(o.leaf_hash, ''), o.request_id, coalesce(o.refusal, ''), o.entry, o.sealed,
	o.follows_after, o.ledger_index IS NOT NULL, o.refuse_time IS NOT NULL,
	a.ledger_index, a.id IS NOT NULL AND a.ledger_index IS NULL AND a.refuse_time IS NULL, a.refuse_time IS NOT NULL
	FROM ` + o.table() + ` o LEFT JOIN ` + o.table() + ` a ON a.tenant_id = o.tenant_id AND a.id = o.after_id `
}

// scanPending scans a row of selectPending.
func scanPending(row pgx.CollectableRow) (*pending, error) {
	p := &pending{}
	var kind string
	err := row.Scan(&p.Tenant, &p.ID, &p.Unit, &p.Subject, &p.Label, &p.Chain, &kind, &p.Occur, &p.Index, &p.LeafHash,
		&p.requestID, &p.refusal, &p.entry, &p.sealed, &p.followsAfter, &p.delivered, &p.refused, &p.afterIndex,
		&p.afterPending, &p.afterFails)
	p.Kind = ledgerv1.EntryKind(ledgerv1.EntryKind_value["ENTRY_KIND_"+kind])
	return p, err
}

func (o *Outbox) read(ctx context.Context, tenant string, id int64) (*pending, error) {
	rows, err := o.cfg.Pool.Query(ctx, o.selectPending()+`WHERE o.tenant_id = $1 AND o.id = $2`, tenant, id)
	if err != nil {
		return nil, err
	}
	p, err := pgx.CollectExactlyOneRow(rows, scanPending)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("ledgerout: no entry %d of tenant %s in %s", id, tenant, o.table())
	}
	return p, err
}

// Deliver appends entry id of the tenant unless the ledger has it, records its index, and runs
// Hooks.Delivered in that transaction; it returns the settled entry. The append carries the
// credential ctx carries on outgoing calls (a caller's own token, unitauth.ForwardToken), or else
// the service credential. ErrWaiting: the entry it follows is not in the ledger yet. A *Refusal:
// the ledger refused it or the entry it follows, now or before. Anything else: try again later.
//
// An entry it could not deliver (anything but a refusal) is handed to the drain job.
func (o *Outbox) Deliver(ctx context.Context, tenant string, id int64) (Settled, error) {
	s, err := o.deliver(ctx, tenant, id)
	if err != nil && !errors.Is(err, ErrRefused) {
		o.kick(ctx)
	}
	return s, err
}

// deliver is Deliver without the hand-over.
func (o *Outbox) deliver(ctx context.Context, tenant string, id int64) (Settled, error) {
	p, err := o.read(ctx, tenant, id)
	if err != nil {
		return Settled{}, err
	}
	s, fresh, err := o.send(ctx, p)
	if err != nil || !fresh {
		return s, err
	}
	return s, o.delivered(ctx, s)
}

// send appends the entry p (as read) unless it is settled; fresh says the ledger took it now, and
// its index is still to be recorded (delivered).
func (o *Outbox) send(ctx context.Context, p *pending) (s Settled, fresh bool, err error) {
	req, s, err := o.request(ctx, p)
	if req == nil || err != nil {
		return s, false, err
	}
	return o.sendOne(ctx, p, req)
}

// request is the request that appends p (as read), or nil when p is settled without the ledger:
// already delivered (s) or refused, or waiting for or refused with the entry it follows (err).
func (o *Outbox) request(ctx context.Context, p *pending) (req *ledgerv1.AppendEntryRequest, s Settled, err error) {
	switch {
	case p.delivered:
		return nil, p.Settled, nil
	case p.refused:
		return nil, Settled{}, &Refusal{ID: p.ID, Reason: p.refusal}
	case p.afterFails:
		return nil, Settled{}, o.refuse(ctx, p.Tenant, p.ID, "it follows an entry the ledger refused")
	case p.afterPending:
		return nil, Settled{}, ErrWaiting
	}
	if req, err = o.open(p.Tenant, p); err != nil {
		return nil, Settled{}, err
	}
	if p.followsAfter && p.afterIndex != nil {
		req.Entry.Follows = p.afterIndex
	}
	return req, Settled{}, nil
}

// sendOne appends p with req (its request) alone.
func (o *Outbox) sendOne(ctx context.Context, p *pending, req *ledgerv1.AppendEntryRequest) (Settled, bool, error) {
	actx, cancel, err := o.appendCtx(ctx)
	if err != nil {
		return Settled{}, false, err
	}
	defer cancel()
	e, err := o.cfg.Ledger.AppendEntry(actx, req)
	return o.took(ctx, p, e, err)
}

// took settles p by the ledger's answer to its append: the entry it took (fresh), a refusal for
// good (InvalidArgument or FailedPrecondition), or an error to try again.
func (o *Outbox) took(ctx context.Context, p *pending, e *ledgerv1.Entry, err error) (Settled, bool, error) {
	if c := apierr.CodeOf(err); c == codes.InvalidArgument || c == codes.FailedPrecondition {
		return Settled{}, false, o.refuse(ctx, p.Tenant, p.ID, apierr.MessageOf(err))
	}
	if err != nil {
		return Settled{}, false, err
	}
	p.Index, p.LeafHash = e.GetIndex(), e.GetLeafHash()
	return p.Settled, true, nil
}

func (o *Outbox) open(tenant string, p *pending) (*ledgerv1.AppendEntryRequest, error) {
	if p.entry == nil {
		return nil, fmt.Errorf("ledgerout: entry %d of tenant %s was forgotten before it was delivered", p.ID, tenant)
	}
	b := p.entry
	if p.sealed {
		if o.cfg.Box == nil {
			return nil, fmt.Errorf("ledgerout: entry %d of tenant %s is sealed and no data key was given", p.ID, tenant)
		}
		var err error
		if b, err = o.cfg.Box.Open(b, o.ad(tenant, p.requestID)); err != nil {
			return nil, fmt.Errorf("ledgerout: open entry %d of tenant %s: %w", p.ID, tenant, err)
		}
	}
	req := &ledgerv1.AppendEntryRequest{}
	return req, proto.Unmarshal(b, req)
}

// appendCtx is ctx, cut from its caller's cancellation and bounded in time, carrying its own
// outgoing credential or the service's.
func (o *Outbox) appendCtx(ctx context.Context) (context.Context, context.CancelFunc, error) {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.cfg.Timeout)
	if md, ok := metadata.FromOutgoingContext(actx); ok && len(md.Get("authorization")) > 0 {
		return actx, cancel, nil
	}
	sctx, err := unitauth.AsService(actx, o.cfg.Token)
	if err != nil {
		cancel()
		return nil, nil, err
	}
	return sctx, cancel, nil
}

// delivered records the index of each of ss and runs the hook, unless another delivery recorded
// it first: one transaction and one UPDATE for them all (the drain's batch).
func (o *Outbox) delivered(ctx context.Context, ss ...Settled) error {
	if len(ss) == 0 {
		return nil
	}
	tenants, ids, indexes, hashes := make([]string, len(ss)), make([]int64, len(ss)), make([]int64, len(ss)), make([][]byte, len(ss))
	for i, s := range ss {
		tenants[i], ids[i], indexes[i], hashes[i] = s.Tenant, s.ID, s.Index, s.LeafHash
	}
	return pgdb.InTx(ctx, o.cfg.Pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `UPDATE `+o.table()+` o SET ledger_index = d.idx, leaf_hash = d.hash, deliver_time = $5
			FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bytea[]) AS d(tenant_id, id, idx, hash)
			WHERE o.tenant_id = d.tenant_id AND o.id = d.id AND o.ledger_index IS NULL AND o.refuse_time IS NULL
			RETURNING o.tenant_id, o.id`, tenants, ids, indexes, hashes, o.clock())
		if err != nil {
			return err
		}
		type key struct {
			tenant string
			id     int64
		}
		recorded := map[key]bool{}
		var k key
		if _, err := pgx.ForEachRow(rows, []any{&k.tenant, &k.id}, func() error {
			recorded[k] = true
			return nil
		}); err != nil {
			return err
		}
		for _, s := range ss { // in the order given
			if !recorded[key{s.Tenant, s.ID}] {
				continue
			}
			if err := o.hooks.Delivered(ctx, tx, s); err != nil {
				return err
			}
		}
		return nil
	})
}

// refuse settles entry id, and every pending entry that waits on it, as refused for good, runs
// the hook, counts and logs them; it returns the Refusal.
func (o *Outbox) refuse(ctx context.Context, tenant string, id int64, reason string) error {
	var refused []Settled
	err := pgdb.InTx(ctx, o.cfg.Pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `WITH RECURSIVE chain AS (
				SELECT id FROM `+o.table()+` WHERE tenant_id = $1 AND id = $2
				UNION SELECT o.id FROM `+o.table()+` o JOIN chain c ON o.tenant_id = $1 AND o.after_id = c.id)
			UPDATE `+o.table()+` o SET refuse_time = $3, refusal = CASE WHEN o.id = $2 THEN $4 ELSE 'it follows an entry the ledger refused' END
			FROM chain WHERE o.tenant_id = $1 AND o.id = chain.id AND o.ledger_index IS NULL AND o.refuse_time IS NULL
			RETURNING o.id, o.unit_id, o.subject, o.label, o.chain, o.kind, o.occur_time`, tenant, id, o.clock(), reason)
		if err != nil {
			return err
		}
		refused, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Settled, error) {
			s := Settled{Tenant: tenant}
			var kind string
			err := r.Scan(&s.ID, &s.Unit, &s.Subject, &s.Label, &s.Chain, &kind, &s.Occur)
			s.Kind = ledgerv1.EntryKind(ledgerv1.EntryKind_value["ENTRY_KIND_"+kind])
			return s, err
		})
		if err != nil || len(refused) == 0 {
			return err
		}
		return o.hooks.Refused(ctx, tx, refused, reason)
	})
	if err != nil {
		return err
	}
	for _, s := range refused {
		o.refusals.Add(ctx, 1, metric.WithAttributes(tenantAttr(s.Tenant), kindAttr(s.Kind)))
		o.log.ErrorContext(ctx, "the ledger refused an entry for good", "outbox", o.table(), "tenant", s.Tenant,
			"id", s.ID, "kind", kindName(s.Kind), "subject", s.Subject, "label", s.Label, "reason", reason)
	}
	return &Refusal{ID: id, Reason: reason}
}
