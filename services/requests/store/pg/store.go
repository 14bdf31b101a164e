// Package pg is the request-workflow service's PostgreSQL store: requests, the notices their
// decisions issued, and the outbox of ledger entries their steps must append.
//
// A request's personal fields (requester, data subject) and its status secret are sealed with the
// application's data key before they reach the database (ARCHITECTURE.md "Identity and
// tenancy"); only a hash of the secret stays in clear, for the public status check. A transition
// writes the request, its notice, its outbox rows and the jobs that deliver them in one
// transaction (Transition), so a crash or a ledger outage can delay a ledger entry but never lose
// it or the request. Every method takes the tenant, and every query is scoped by it.
package pg

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pipa-kr/pipa/pkg/apierr"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	requestsv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/requests/v1"
	"github.com/pipa-kr/pipa/pkg/idempotency"
	"github.com/pipa-kr/pipa/pkg/names"
	"github.com/pipa-kr/pipa/pkg/pgdb"
	"github.com/pipa-kr/pipa/pkg/seal"
	"github.com/pipa-kr/pipa/pkg/seoul"
)

// Schema is the PostgreSQL schema the request service owns.
const Schema = "requests"

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations are the service's goose SQL migrations, for pgdb.Migrate; its job queue comes from
// jobs.Migrate on the same schema.
var Migrations fs.FS = pgdb.Sub(migrations, "migrations")

// Personal are a request's sealed fields.
type Personal struct {
	Requester *requestsv1.Person
	Subject   *requestsv1.Person
	// Secret opens the public status page; kept so that a retried submission gets it again.
	Secret string
}

// Record is a stored request. Req carries everything but the personal fields, which are in
// Personal; Req() joins them.
type Record struct {
	Tenant, Unit string
	Doc          *requestsv1.Request
	Personal     Personal
	revision     int64
	create       time.Time
}

// Request is the whole request, personal fields included.
func (r *Record) Request() *requestsv1.Request {
	out := proto.Clone(r.Doc).(*requestsv1.Request)
	out.Requester = r.Personal.Requester
	out.Subject = r.Personal.Subject
	out.Etag = strconv.FormatInt(r.create.UnixMicro(), 36) + "-" + strconv.FormatInt(r.revision, 10)
	return out
}

// Step is a ledger entry a transition must append: the outbox row.
type Step struct {
	Name  string
	Entry *ledgerv1.AppendEntryRequest
	// Follows is the seq of the step whose entry this AMENDMENT follows, 0 for none.
	Follows int
}

// Change is what a transition writes besides the request itself.
type Change struct {
	Notice *requestsv1.Notice
	Steps  []Step
	// TrackCopy: the first step's entry is a PROVISION of a copy, which the retention service
	// must track once the entry is in the ledger (CopyArgs).
	TrackCopy bool
	// Closed: the request closed; its record is handed to the retention service (ClosedArgs).
	Closed bool
}

// ClosedArgs is the job that registers a closed request's record with the retention service,
// under the unit's rules for closed requests (PIPA-21-1), so that its personal fields are erased
// when their period ends.
type ClosedArgs struct {
	Tenant  string `json:"tenant"`
	Receipt string `json:"receipt"`
}

// Kind names the job in River's tables.
func (ClosedArgs) Kind() string { return "requests.register_closed" }

// InsertOpts: as DeliverArgs, retried until the retention service takes it.
func (ClosedArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: 100_000} }

// CopyArgs is the job that hands a provided copy to the retention service, once the PROVISION
// entry it amends later is in the ledger.
type CopyArgs struct {
	Tenant  string `json:"tenant"`
	Receipt string `json:"receipt"`
	Seq     int    `json:"seq"`
}

// Kind names the job in River's tables.
func (CopyArgs) Kind() string { return "requests.track_copy" }

// InsertOpts: as DeliverArgs, retried until the retention service takes it.
func (CopyArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: 100_000} }

// DeliverArgs is the job that appends one step's entry to the ledger (the outbox's delivery).
type DeliverArgs struct {
	Tenant  string `json:"tenant"`
	Receipt string `json:"receipt"`
	Seq     int    `json:"seq"`
}

// Kind names the job in River's tables.
func (DeliverArgs) Kind() string { return "requests.deliver_ledger_entry" }

// InsertOpts keep retrying a delivery for about a year at five-minute intervals (Worker.NextRetry):
// a ledger outage only delays it.
func (DeliverArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 100_000}
}

// Store is safe for concurrent use.
type Store struct {
	pool *pgxpool.Pool
	box  *seal.Box
	jobs *river.Client[pgx.Tx]
	now  func() time.Time
	// deliverDelay holds a new delivery job back, so that the answer to the call that made the
	// step usually delivers it first and the job finds nothing left to do.
	deliverDelay time.Duration
}

// New returns a Store; jobs inserts the delivery jobs (it need not work them).
func New(pool *pgxpool.Pool, box *seal.Box, jobs *river.Client[pgx.Tx]) *Store {
	return &Store{pool: pool, box: box, jobs: jobs, now: time.Now, deliverDelay: 10 * time.Second}
}

// Idem identifies a create for idempotency (AIP-155).
type Idem struct {
	RequestID, Method string
	Hash              []byte
}

// Create stores a new request under the next receipt number of its tenant, prefix and year
// ("R-2026-000123"). build gets
// the receipt number and returns the record to store (Doc.Name, ReceiptNumber and the times are
// set by Create). A replay of the same request_id returns the first record.
func (s *Store) Create(ctx context.Context, tenant, unit, prefix string, receive time.Time, idem Idem, build func(receipt string) (*Record, error)) (rec *Record, err error) {
	err = pgdb.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		name, again, err := idempotency.Do(ctx, tx, Schema, idempotency.Key{
			TenantID: tenant, RequestID: idem.RequestID, Method: idem.Method, RequestHash: idem.Hash,
		}, func() (string, error) {
			receipt, err := nextReceipt(ctx, tx, tenant, prefix, receive.In(seoul.Location).Year())
			if err != nil {
				return "", err
			}
			if rec, err = build(receipt); err != nil {
				return "", err
			}
			now := s.clock()
			rec.Tenant, rec.Unit, rec.create, rec.revision = tenant, unit, now, 1
			rec.Doc.Name = names.Requests.Name(tenant, unit, receipt)
			rec.Doc.ReceiptNumber = receipt
			rec.Doc.ReceiveTime = timestamppb.New(receive)
			rec.Doc.CreateTime, rec.Doc.UpdateTime = timestamppb.New(now), timestamppb.New(now)
			return receipt, s.insert(ctx, tx, rec)
		})
		if errors.Is(err, idempotency.ErrReused) {
			return apierr.Invalid(apierr.Violation{Field: "request_id", Rule: "AIP-155",
				Description: "this request_id was already used for a different request; use a new one"})
		}
		if err != nil {
			return err
		}
		if again {
			rec, err = s.get(ctx, tx, tenant, name, false)
		}
		return err
	})
	return rec, err
}

func nextReceipt(ctx context.Context, tx pgx.Tx, tenant, prefix string, year int) (string, error) {
	var n int64
	err := tx.QueryRow(ctx, `INSERT INTO requests.receipts (tenant_id, prefix, year, last) VALUES ($1, $2, $3, 1)
		ON CONFLICT (tenant_id, prefix, year) DO UPDATE SET last = receipts.last + 1 RETURNING last`,
		tenant, prefix, year).Scan(&n)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s-%d-%06d", prefix, year, n), nil
}

func (s *Store) insert(ctx context.Context, tx pgx.Tx, rec *Record) error {
	doc, personal, err := s.encode(rec)
	if err != nil {
		return err
	}
	sum := sha256.Sum256([]byte(rec.Personal.Secret))
	_, err = tx.Exec(ctx, `INSERT INTO requests.requests (tenant_id, receipt, unit_id, type, state,
		doc, personal, secret_hash, receive_time, due_date, create_time, update_time)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)`,
		rec.Tenant, rec.Doc.ReceiptNumber, rec.Unit, int16(rec.Doc.Type), int16(rec.Doc.State),
		doc, personal, sum[:], rec.Doc.ReceiveTime.AsTime(), dueDate(rec.Doc), rec.create)
	return err
}

// sealedPersonal is the sealed form of Personal.
type sealedPersonal struct {
	Requester json.RawMessage `json:"requester,omitempty"`
	Subject   json.RawMessage `json:"subject,omitempty"`
	Secret    string          `json:"secret"`
}

func (s *Store) encode(rec *Record) (doc, personal []byte, err error) {
	d := proto.Clone(rec.Doc).(*requestsv1.Request)
	d.Requester, d.Subject, d.Etag, d.Ledger = nil, nil, "", nil // the ledger records are the steps'
	plainDoc, err := protojson.Marshal(d)
	if err != nil {
		return nil, nil, err
	}
	if doc, err = s.box.Seal(plainDoc, docAD(rec.Tenant, rec.Doc.ReceiptNumber)); err != nil {
		return nil, nil, err
	}
	sp := sealedPersonal{Secret: rec.Personal.Secret}
	if rec.Personal.Requester != nil {
		if sp.Requester, err = protojson.Marshal(rec.Personal.Requester); err != nil {
			return nil, nil, err
		}
	}
	if rec.Personal.Subject != nil {
		if sp.Subject, err = protojson.Marshal(rec.Personal.Subject); err != nil {
			return nil, nil, err
		}
	}
	plain, err := json.Marshal(sp)
	if err != nil {
		return nil, nil, err
	}
	personal, err = s.box.Seal(plain, personalAD(rec.Tenant, rec.Doc.ReceiptNumber))
	return doc, personal, err
}

func personalAD(tenant, receipt string) []byte {
	return []byte("pipa/requests personal\x00" + tenant + "\x00" + receipt)
}

func docAD(tenant, receipt string) []byte {
	return []byte("pipa/requests doc\x00" + tenant + "\x00" + receipt)
}

func (s *Store) decode(rec *Record, receipt string, doc, personal []byte) error {
	plainDoc, err := s.box.Open(doc, docAD(rec.Tenant, receipt))
	if err != nil {
		return fmt.Errorf("requests: open %s: %w", receipt, err)
	}
	rec.Doc = &requestsv1.Request{}
	if err := protojson.Unmarshal(plainDoc, rec.Doc); err != nil {
		return err
	}
	plain, err := s.box.Open(personal, personalAD(rec.Tenant, receipt))
	if err != nil {
		return fmt.Errorf("requests: open personal fields of %s: %w", rec.Doc.Name, err)
	}
	var sp sealedPersonal
	if err := json.Unmarshal(plain, &sp); err != nil {
		return err
	}
	rec.Personal.Secret = sp.Secret
	if sp.Requester != nil {
		rec.Personal.Requester = &requestsv1.Person{}
		if err := protojson.Unmarshal(sp.Requester, rec.Personal.Requester); err != nil {
			return err
		}
	}
	if sp.Subject != nil {
		rec.Personal.Subject = &requestsv1.Person{}
		if err := protojson.Unmarshal(sp.Subject, rec.Personal.Subject); err != nil {
			return err
		}
	}
	return nil
}

func dueDate(r *requestsv1.Request) any {
	if r.DueDate == "" {
		return nil
	}
	return r.DueDate
}

const selectRequest = `SELECT receipt, unit_id, doc, personal, revision, create_time FROM requests.requests`

// Get returns a request of the tenant's unit, NotFound for any other.
func (s *Store) Get(ctx context.Context, tenant, unit, receipt string) (*Record, error) {
	return s.getUnit(ctx, s.pool, tenant, unit, receipt, false)
}

// getUnit is get for a request of the tenant's unit, NotFound for any other.
func (s *Store) getUnit(ctx context.Context, q querier, tenant, unit, receipt string, lock bool) (*Record, error) {
	rec, err := s.get(ctx, q, tenant, receipt, lock)
	if err != nil {
		return nil, err
	}
	if rec.Unit != unit {
		return nil, apierr.NotFound(names.Requests.Name(tenant, unit, receipt))
	}
	return rec, nil
}

// GetAny returns a request of the tenant, whatever its unit, for the service's own background work.
func (s *Store) GetAny(ctx context.Context, tenant, receipt string) (*Record, error) {
	return s.get(ctx, s.pool, tenant, receipt, false)
}

type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func (s *Store) get(ctx context.Context, q querier, tenant, receipt string, lock bool) (*Record, error) {
	sql := selectRequest + ` WHERE tenant_id = $1 AND receipt = $2`
	if lock {
		sql += ` FOR UPDATE`
	}
	rec, err := s.scan(tenant, q.QueryRow(ctx, sql, tenant, receipt))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, apierr.NotFound("requests/" + receipt)
	}
	if err != nil {
		return nil, err
	}
	return rec, s.withLedger(ctx, q, rec)
}

// scan reads a row of selectRequest.
func (s *Store) scan(tenant string, row pgx.Row) (*Record, error) {
	rec := &Record{Tenant: tenant}
	var receipt string
	var doc, personal []byte
	if err := row.Scan(&receipt, &rec.Unit, &doc, &personal, &rec.revision, &rec.create); err != nil {
		return nil, err
	}
	return rec, s.decode(rec, receipt, doc, personal)
}

// Transition changes a request under a row lock: fn gets the current record (after the etag, if
// given, is checked) and changes rec.Doc in place, returning the notice and the ledger steps to
// write with it. The steps' delivery jobs are inserted in the same transaction. It returns the
// new record and the seqs of the steps written.
func (s *Store) Transition(ctx context.Context, tenant, unit, receipt, etag string, fn func(rec *Record) (*Change, error)) (rec *Record, seqs []int, err error) {
	err = pgdb.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		if rec, err = s.getUnit(ctx, tx, tenant, unit, receipt, true); err != nil {
			return err
		}
		if etag != "" && etag != rec.Request().Etag {
			return apierr.EtagMismatch(rec.Doc.Name)
		}
		ch, err := fn(rec)
		if err != nil {
			return err
		}
		now := s.clock()
		rec.Doc.UpdateTime = timestamppb.New(now)
		if ch.Notice != nil {
			var n int
			if err := tx.QueryRow(ctx, `SELECT count(*) + 1 FROM requests.notices WHERE tenant_id = $1 AND receipt = $2`,
				tenant, receipt).Scan(&n); err != nil {
				return err
			}
			ch.Notice.Name = names.Notice(rec.Doc.Name, n)
			ch.Notice.IssueTime = timestamppb.New(now)
			if err := s.insertNotice(ctx, tx, tenant, receipt, n, ch.Notice); err != nil {
				return err
			}
			rec.Doc.Notices = append(rec.Doc.Notices, ch.Notice.Name)
		}
		if len(ch.Steps) > 0 {
			var last int
			if err := tx.QueryRow(ctx, `SELECT coalesce(max(seq), 0) FROM requests.steps WHERE tenant_id = $1 AND receipt = $2`,
				tenant, receipt).Scan(&last); err != nil {
				return err
			}
			for i, st := range ch.Steps {
				seq := last + 1 + i
				if err := s.insertStep(ctx, tx, tenant, receipt, seq, st, now); err != nil {
					return err
				}
				rec.Doc.Ledger = append(rec.Doc.Ledger, &requestsv1.LedgerRecord{Step: st.Name, Pending: true})
				seqs = append(seqs, seq)
			}
			if ch.TrackCopy {
				if _, err := s.jobs.InsertTx(ctx, tx, CopyArgs{Tenant: tenant, Receipt: receipt, Seq: last + 1},
					&river.InsertOpts{ScheduledAt: now.Add(s.deliverDelay)}); err != nil {
					return err
				}
			}
		}
		if ch.Closed {
			if _, err := s.jobs.InsertTx(ctx, tx, ClosedArgs{Tenant: tenant, Receipt: receipt},
				&river.InsertOpts{ScheduledAt: now.Add(s.deliverDelay)}); err != nil {
				return err
			}
		}
		rec.revision++
		doc, personal, err := s.encode(rec)
		if err != nil {
			return err
		}
		var closed any
		if rec.Doc.CloseTime != nil {
			closed = rec.Doc.CloseTime.AsTime()
		}
		_, err = tx.Exec(ctx, `UPDATE requests.requests SET state = $3, revision = $4, doc = $5,
			personal = $6, due_date = $7, update_time = $8, close_time = $9
			WHERE tenant_id = $1 AND receipt = $2`,
			tenant, receipt, int16(rec.Doc.State), rec.revision, doc, personal, dueDate(rec.Doc), now, closed)
		return err
	})
	return rec, seqs, err
}

func (s *Store) insertNotice(ctx context.Context, tx pgx.Tx, tenant, receipt string, seq int, n *requestsv1.Notice) error {
	doc, err := s.sealNotice(tenant, receipt, seq, n)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO requests.notices (tenant_id, receipt, seq, doc, issue_time)
		VALUES ($1, $2, $3, $4, $5)`, tenant, receipt, seq, doc, n.IssueTime.AsTime())
	return err
}

func (s *Store) sealNotice(tenant, receipt string, seq int, n *requestsv1.Notice) ([]byte, error) {
	plain, err := protojson.Marshal(n)
	if err != nil {
		return nil, err
	}
	return s.box.Seal(plain, noticeAD(tenant, receipt, seq))
}

func noticeAD(tenant, receipt string, seq int) []byte {
	return []byte("pipa/requests notice\x00" + tenant + "\x00" + receipt + "\x00" + strconv.Itoa(seq))
}

func stepAD(tenant, receipt string, seq int) []byte {
	return []byte("pipa/requests step\x00" + tenant + "\x00" + receipt + "\x00" + strconv.Itoa(seq))
}

func (s *Store) insertStep(ctx context.Context, tx pgx.Tx, tenant, receipt string, seq int, st Step, now time.Time) error {
	b, err := proto.Marshal(st.Entry)
	if err != nil {
		return err
	}
	sealed, err := s.box.Seal(b, stepAD(tenant, receipt, seq))
	if err != nil {
		return err
	}
	var follows any
	if st.Follows > 0 {
		follows = st.Follows
	}
	if _, err := tx.Exec(ctx, `INSERT INTO requests.steps (tenant_id, receipt, seq, step, entry, follows_seq, create_time)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, tenant, receipt, seq, st.Name, sealed, follows, now); err != nil {
		return err
	}
	_, err = s.jobs.InsertTx(ctx, tx, DeliverArgs{Tenant: tenant, Receipt: receipt, Seq: seq},
		&river.InsertOpts{ScheduledAt: now.Add(s.deliverDelay)})
	return err
}

// Notices lists a request's notices in issue order; html is included.
func (s *Store) Notices(ctx context.Context, tenant, receipt string) ([]*requestsv1.Notice, error) {
	return s.notices(ctx, s.pool, tenant, receipt)
}

func (s *Store) notices(ctx context.Context, q querier, tenant, receipt string) ([]*requestsv1.Notice, error) {
	rows, err := q.Query(ctx, `SELECT seq, doc FROM requests.notices
		WHERE tenant_id = $1 AND receipt = $2 ORDER BY seq`, tenant, receipt)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*requestsv1.Notice
	for rows.Next() {
		var seq int
		var doc []byte
		if err := rows.Scan(&seq, &doc); err != nil {
			return nil, err
		}
		plain, err := s.box.Open(doc, noticeAD(tenant, receipt, seq))
		if err != nil {
			return nil, err
		}
		n := &requestsv1.Notice{}
		if err := protojson.Unmarshal(plain, n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// PendingStep is an outbox row to deliver.
type PendingStep struct {
	Entry *ledgerv1.AppendEntryRequest
	// FollowsIndex is the ledger index of the followed step's entry, when the step follows one.
	FollowsIndex *int64
	// Delivered is the step's ledger index when it was already delivered.
	Delivered *int64
	// Failed is why the ledger refused it, when it did.
	Failed string
}

var (
	// ErrFollowedPending means the step follows one whose entry is not in the ledger yet.
	ErrFollowedPending = errors.New("requests: the step this one follows is not delivered yet")
	// ErrFollowedFailed means the step follows one the ledger refused: it cannot follow it.
	ErrFollowedFailed = errors.New("requests: the step this one follows was refused by the ledger")
)

// Step reads an outbox row for delivery.
func (s *Store) Step(ctx context.Context, tenant, receipt string, seq int) (*PendingStep, error) {
	var sealed []byte
	var followsSeq *int
	var failed, followedFailed *string
	p := &PendingStep{}
	err := s.pool.QueryRow(ctx, `SELECT s.entry, s.follows_seq, s.ledger_index, s.fail_reason, f.ledger_index, f.fail_reason
		FROM requests.steps s LEFT JOIN requests.steps f
		  ON f.tenant_id = s.tenant_id AND f.receipt = s.receipt AND f.seq = s.follows_seq
		WHERE s.tenant_id = $1 AND s.receipt = $2 AND s.seq = $3`, tenant, receipt, seq).
		Scan(&sealed, &followsSeq, &p.Delivered, &failed, &p.FollowsIndex, &followedFailed)
	switch {
	case err != nil:
		return nil, err
	case p.Delivered != nil:
		return p, nil
	case failed != nil:
		p.Failed = *failed
		return p, nil
	case followedFailed != nil:
		return nil, ErrFollowedFailed
	case followsSeq != nil && p.FollowsIndex == nil:
		return nil, ErrFollowedPending
	}
	plain, err := s.box.Open(sealed, stepAD(tenant, receipt, seq))
	if err != nil {
		return nil, err
	}
	p.Entry = &ledgerv1.AppendEntryRequest{}
	return p, proto.Unmarshal(plain, p.Entry)
}

// Delivered records the ledger index a step's entry got. Recording it twice (the answer and the
// job both delivered) is harmless: the ledger gave both the same index.
func (s *Store) Delivered(ctx context.Context, tenant, receipt string, seq int, index int64) error {
	return s.settle(ctx, tenant, receipt, seq, `ledger_index = $4`, index)
}

// Failed records that the ledger refused a step's entry, and why; it is not retried.
func (s *Store) Failed(ctx context.Context, tenant, receipt string, seq int, reason string) error {
	return s.settle(ctx, tenant, receipt, seq, `fail_reason = $4`, reason)
}

// settle sets a pending step's outcome (set, with $4 = value).
func (s *Store) settle(ctx context.Context, tenant, receipt string, seq int, set string, value any) error {
	_, err := s.pool.Exec(ctx, `UPDATE requests.steps SET `+set+`, deliver_time = $5
		WHERE tenant_id = $1 AND receipt = $2 AND seq = $3 AND ledger_index IS NULL AND fail_reason IS NULL`,
		tenant, receipt, seq, value, s.clock())
	return err
}

// withLedger fills the requests' ledger records from their steps, in one query.
func (s *Store) withLedger(ctx context.Context, q querier, recs ...*Record) error {
	if len(recs) == 0 {
		return nil
	}
	byReceipt := map[string]*Record{}
	receipts := make([]string, len(recs))
	for i, r := range recs {
		byReceipt[r.Doc.GetReceiptNumber()], receipts[i] = r, r.Doc.GetReceiptNumber()
		r.Doc.Ledger = nil
	}
	rows, err := q.Query(ctx, `SELECT receipt, step, ledger_index, fail_reason FROM requests.steps
		WHERE tenant_id = $1 AND receipt = ANY($2) ORDER BY receipt, seq`, recs[0].Tenant, receipts)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var receipt, step string
		var index *int64
		var failed *string
		if err := rows.Scan(&receipt, &step, &index, &failed); err != nil {
			return err
		}
		r := byReceipt[receipt]
		lr := &requestsv1.LedgerRecord{Step: step, Pending: index == nil && failed == nil}
		if index != nil {
			lr.Index = *index
			lr.Entry = names.Entries.NameN(r.Tenant, r.Unit, *index)
		}
		if failed != nil {
			lr.Failure = *failed
		}
		r.Doc.Ledger = append(r.Doc.Ledger, lr)
	}
	return rows.Err()
}

// Status finds a request by its receipt number and status secret, for the public status check.
// Receipt numbers repeat across tenants; the secret tells them apart. Any mismatch is NotFound.
func (s *Store) Status(ctx context.Context, receipt, secret string) (*Record, error) {
	notFound := apierr.NotFound("requests/" + receipt)
	sum := sha256.Sum256([]byte(secret))
	rows, err := s.pool.Query(ctx, `SELECT tenant_id, secret_hash FROM requests.requests WHERE receipt = $1`, receipt)
	if err != nil {
		return nil, err
	}
	tenant := ""
	for rows.Next() {
		var t string
		var h []byte
		if err := rows.Scan(&t, &h); err != nil {
			rows.Close()
			return nil, err
		}
		if subtle.ConstantTimeCompare(h, sum[:]) == 1 {
			tenant = t
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if tenant == "" {
		return nil, notFound
	}
	return s.get(ctx, s.pool, tenant, receipt, false)
}

// Filter narrows List.
type Filter struct {
	State   requestsv1.RequestState
	Type    requestsv1.RequestType
	Overdue bool
	// DueBefore, YYYY-MM-DD: only undecided requests due on or before it.
	DueBefore string
	// Today is the current date in Asia/Seoul, YYYY-MM-DD, for Overdue and the counts.
	Today string
}

// Page is one page of List.
type Page struct {
	Records          []*Record
	Next             string
	Overdue, DueSoon int32
}

// List pages through a unit's requests by receipt number, last first (P- receipts, then R-). The
// counts cover all the unit's undecided requests, whatever the filter: overdue (due before today)
// and due within three days.
func (s *Store) List(ctx context.Context, tenant, unit string, f Filter, size int, after string) (*Page, error) {
	args := []any{tenant, unit}
	where := `tenant_id = $1 AND unit_id = $2`
	add := func(cond string, v any) {
		args = append(args, v)
		where += fmt.Sprintf(" AND "+cond, len(args))
	}
	if f.State != 0 {
		add("state = $%d", int16(f.State))
	}
	if f.Type != 0 {
		add("type = $%d", int16(f.Type))
	}
	if f.Overdue {
		add("state IN (1, 2) AND due_date < $%d::date", f.Today)
	}
	if f.DueBefore != "" {
		add("state IN (1, 2) AND due_date <= $%d::date", f.DueBefore)
	}
	if after != "" {
		add("receipt < $%d", after) // receipts of one tenant sort as they were issued within a year
	}
	args = append(args, size+1)
	rows, err := s.pool.Query(ctx, selectRequest+` WHERE `+where+
		fmt.Sprintf(` ORDER BY receipt DESC LIMIT $%d`, len(args)), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	page := &Page{}
	for rows.Next() {
		rec, err := s.scan(tenant, rows)
		if err != nil {
			return nil, err
		}
		page.Records = append(page.Records, rec)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(page.Records) > size {
		page.Records = page.Records[:size]
		page.Next = page.Records[size-1].Doc.ReceiptNumber
	}
	if err := s.withLedger(ctx, s.pool, page.Records...); err != nil {
		return nil, err
	}
	err = s.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE due_date < $3::date),
		count(*) FILTER (WHERE due_date >= $3::date AND due_date <= $3::date + 3)
		FROM requests.requests WHERE tenant_id = $1 AND unit_id = $2 AND state IN (1, 2)`,
		tenant, unit, f.Today).Scan(&page.Overdue, &page.DueSoon)
	return page, err
}

// clock is the current time as PostgreSQL stores it (UTC, microseconds).
func (s *Store) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// UnitCounts are one unit's undecided requests by where they stand on the clock.
type UnitCounts struct {
	Tenant, Unit            string
	Overdue, DueSoon, Other int64
}

// OpenCounts counts every unit's undecided requests (received or verified): past due, due within
// three days of today (YYYY-MM-DD, Asia/Seoul), and the rest. It is the one query that spans
// tenants, for the operator's metrics; it returns counts only.
func (s *Store) OpenCounts(ctx context.Context, today string) ([]UnitCounts, error) {
	rows, err := s.pool.Query(ctx, `SELECT tenant_id, unit_id,
		count(*) FILTER (WHERE due_date < $1::date),
		count(*) FILTER (WHERE due_date >= $1::date AND due_date <= $1::date + 3),
		count(*) FILTER (WHERE due_date IS NULL OR due_date > $1::date + 3)
		FROM requests.requests WHERE state IN (1, 2) GROUP BY tenant_id, unit_id`, today)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (UnitCounts, error) {
		var c UnitCounts
		return c, r.Scan(&c.Tenant, &c.Unit, &c.Overdue, &c.DueSoon, &c.Other)
	})
}

// OutboxCounts are the ledger entries written but not yet in the ledger (the outbox's backlog)
// and those the ledger refused.
func (s *Store) OutboxCounts(ctx context.Context) (pending, failed int64, err error) {
	err = s.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE fail_reason IS NULL), count(*) FILTER (WHERE fail_reason IS NOT NULL)
		FROM requests.steps WHERE ledger_index IS NULL`).Scan(&pending, &failed)
	return pending, failed, err
}

// ErrStepsPending refuses an erasure while a step's ledger entry still waits in the outbox: its
// sealed copy holds the requester's name until the ledger has it.
var ErrStepsPending = apierr.Precondition("LEDGER_PENDING",
	"a step of this request is not yet in the ledger; erase once the outbox has delivered it")

// Erase removes a closed request's personal fields at the end of its retention (PIPA-21-1): the
// requester and subject, the status secret, the rendered notices (they name the recipient) and
// the outbox's sealed copies of its ledger entries; erase checks the request and clears rec.Doc's
// free text. Erasing twice changes nothing. The ledger's own copies are erased by its redaction.
func (s *Store) Erase(ctx context.Context, tenant, unit, receipt string, erase func(rec *Record) error) (*Record, error) {
	var rec *Record
	err := pgdb.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		if rec, err = s.getUnit(ctx, tx, tenant, unit, receipt, true); err != nil {
			return err
		}
		if rec.Doc.GetEraseTime() != nil {
			return nil // erased already: a retried erasure changes nothing
		}
		var pending bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM requests.steps
			WHERE tenant_id = $1 AND receipt = $2 AND ledger_index IS NULL AND fail_reason IS NULL)`, tenant, receipt).Scan(&pending); err != nil {
			return err
		}
		if pending {
			return ErrStepsPending
		}
		if err := erase(rec); err != nil {
			return err
		}
		now := s.clock()
		rec.Personal = Personal{}
		rec.Doc.EraseTime, rec.Doc.UpdateTime = timestamppb.New(now), timestamppb.New(now)
		rec.revision++
		doc, personal, err := s.encode(rec)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE requests.requests SET doc = $3, personal = $4, revision = $5, update_time = $6
			WHERE tenant_id = $1 AND receipt = $2`, tenant, receipt, doc, personal, rec.revision, now); err != nil {
			return err
		}
		notices, err := s.notices(ctx, tx, tenant, receipt)
		if err != nil {
			return err
		}
		for i, n := range notices {
			// The notice as data stays; its rendering names the recipient, and reasons and
			// grants are free text.
			n.Html = ""
			if n.Grant != nil {
				n.Grant.Content = ""
			}
			if n.Reason != nil {
				n.Reason.Text = ""
			}
			doc, err := s.sealNotice(tenant, receipt, i+1, n)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE requests.notices SET doc = $4 WHERE tenant_id = $1 AND receipt = $2 AND seq = $3`,
				tenant, receipt, i+1, doc); err != nil {
				return err
			}
		}
		// The ledger has the steps' entries (they were all settled); the outbox's copies go.
		empty, err := s.box.Seal(nil, []byte("pipa/requests erased"))
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE requests.steps SET entry = $3 WHERE tenant_id = $1 AND receipt = $2`, tenant, receipt, empty)
		return err
	})
	return rec, err
}

// CopyTracked records the retention service's name of a provided copy on its request.
func (s *Store) CopyTracked(ctx context.Context, tenant, receipt, copyName string) error {
	return pgdb.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		rec, err := s.get(ctx, tx, tenant, receipt, true)
		if err != nil || rec.Doc.GetCopy() != "" {
			return err
		}
		rec.Doc.Copy = copyName
		doc, _, err := s.encode(rec)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE requests.requests SET doc = $3 WHERE tenant_id = $1 AND receipt = $2`, tenant, receipt, doc)
		return err
	})
}
