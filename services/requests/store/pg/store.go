// Package pg is the request-workflow service's PostgreSQL store: requests (request.Request), the
// notices their decisions issued, and, through the service's ledger outbox (pkg/ledgerout), the
// entries their steps append.
//
// A request's personal fields (requester, data subject) and its status secret are sealed with the
// application's data key before they reach the database (ARCHITECTURE.md "Identity and
// tenancy"); only a hash of the secret stays in clear, for the public status check. A transition
// writes the request, its notice, its outbox entry and the jobs that follow it in one transaction
// (Transition), so a crash or a ledger outage can delay a ledger entry but never lose it or the
// request. Every method takes the tenant, and every query is scoped by it.
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
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pipa-kr/pipa/pkg/apierr"
	requestsv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/requests/v1"
	"github.com/pipa-kr/pipa/pkg/idempotency"
	"github.com/pipa-kr/pipa/pkg/ledgerout"
	"github.com/pipa-kr/pipa/pkg/names"
	"github.com/pipa-kr/pipa/pkg/outbound"
	"github.com/pipa-kr/pipa/pkg/outbound/sms"
	"github.com/pipa-kr/pipa/pkg/pgdb"
	"github.com/pipa-kr/pipa/pkg/seal"
	"github.com/pipa-kr/pipa/pkg/seoul"
	"github.com/pipa-kr/pipa/services/requests/request"
)

// Schema is the PostgreSQL schema the request service owns.
const Schema = "requests"

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations are the service's goose SQL migrations, for pgdb.Migrate; its job queue comes from
// jobs.Migrate on the same schema.
var Migrations fs.FS = pgdb.Sub(migrations, "migrations")

// ClosedArgs is the job that registers a closed request's record with the retention service,
// under the unit's rules for closed requests (PIPA-21-1), so that its personal fields are erased
// when their period ends.
type ClosedArgs struct {
	Tenant  string `json:"tenant"`
	Receipt string `json:"receipt"`
}

// Kind names the job in River's tables.
func (ClosedArgs) Kind() string { return "requests.register_closed" }

// InsertOpts: retried until the retention service takes it.
func (ClosedArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: 100_000} }

// CopyArgs is the job that hands a provided copy to the retention service (C-9), inserted when its
// PROVISION entry is in the ledger (the outbox's chain "copy"). Jobs of an earlier version carry a
// seq too, which is not read: the request's first entry is its PROVISION.
type CopyArgs struct {
	Tenant  string `json:"tenant"`
	Receipt string `json:"receipt"`
}

// Kind names the job in River's tables.
func (CopyArgs) Kind() string { return "requests.track_copy" }

// InsertOpts: retried until the retention service takes it.
func (CopyArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: 100_000} }

// ChainCopy is the outbox chain of a PROVISION after which a copy leaves.
const ChainCopy = "copy"

// Store is safe for concurrent use.
type Store struct {
	pool   *pgxpool.Pool
	box    *seal.Box
	jobs   *river.Client[pgx.Tx]
	outbox *ledgerout.Outbox
	// out writes what leaves: the notices' mail to the requester, the requests' events.
	out *outbound.Outbound
	now func() time.Time
	// handOffDelay holds back a hand-off job written with a step, so that the call that made the
	// step usually hands it off first and the job finds nothing left to do.
	handOffDelay time.Duration
	// receiptSeqs caches the receipt sequence of each tenant, prefix and year (receiptSeq).
	receiptSeqs sync.Map
}

// New returns a Store; jobs inserts the hand-off jobs (it need not work them), outbox writes the
// steps' ledger entries, out their mail and events.
func New(pool *pgxpool.Pool, box *seal.Box, jobs *river.Client[pgx.Tx], outbox *ledgerout.Outbox, out *outbound.Outbound) *Store {
	return &Store{pool: pool, box: box, jobs: jobs, outbox: outbox, out: out, now: time.Now, handOffDelay: 10 * time.Second}
}

// Idem identifies a create for idempotency (AIP-155).
type Idem struct {
	RequestID, Method string
	Hash              []byte
}

// Key is the tenant's idempotency key for it.
func (i Idem) Key(tenant string) idempotency.Key {
	return idempotency.Key{TenantID: tenant, RequestID: i.RequestID, Method: i.Method, RequestHash: i.Hash}
}

// Create stores new request r (as request.Intake made it) under the next receipt number of its
// tenant, prefix and year ("R-2026-000123"), setting its name, receipt number and times. A replay
// of the same request_id returns the first request and takes no number.
//
// The number comes from the sequence of its tenant, prefix and year (migration 00004), so
// concurrent intakes do not wait for each other's commit; an intake that rolls back leaves a gap
// (see the migration for why that is acceptable). A cached sequence that no longer exists (its
// schema restored or migrated down and up) is looked up again, once.
func (s *Store) Create(ctx context.Context, r *request.Request, prefix string, receive time.Time, idem Idem) (*request.Request, error) {
	year := receive.In(seoul.Location).Year()
	for retried := false; ; retried = true {
		seq, err := s.receiptSeq(ctx, r.Tenant, prefix, year)
		if err != nil {
			return nil, err
		}
		out, err := s.create(ctx, r, prefix, year, seq, receive, idem)
		var pgErr *pgconn.PgError
		if retried || !errors.As(err, &pgErr) || pgErr.Code != "42P01" { // undefined_table: the sequence
			return out, err
		}
		s.receiptSeqs.Delete(receiptKey(r.Tenant, prefix, year))
	}
}

// create is Create with the receipt number drawn from sequence seq.
func (s *Store) create(ctx context.Context, r *request.Request, prefix string, year int, seq string, receive time.Time,
	idem Idem) (out *request.Request, err error) {
	err = pgdb.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		name, again, err := idempotency.Do(ctx, tx, Schema, idem.Key(r.Tenant), func() (string, error) {
			var n int64
			if err := tx.QueryRow(ctx, `SELECT nextval($1::regclass)`, seq).Scan(&n); err != nil {
				return "", err
			}
			receipt := fmt.Sprintf("%s-%d-%06d", prefix, year, n)
			now := s.clock()
			out = &request.Request{Tenant: r.Tenant, Unit: r.Unit, Doc: proto.CloneOf(r.Doc), Personal: r.Personal,
				Created: now, Revision: 1}
			out.Doc.Name = names.Requests.Name(r.Tenant, r.Unit, receipt)
			out.Doc.ReceiptNumber = receipt
			out.Doc.ReceiveTime = timestamppb.New(receive)
			out.Doc.CreateTime, out.Doc.UpdateTime = timestamppb.New(now), timestamppb.New(now)
			if err := s.insert(ctx, tx, out); err != nil {
				return "", err
			}
			_, err = s.out.Emit(ctx, tx, r.Tenant, outbound.Event{Unit: r.Unit, Type: request.EventReceived,
				Subject: out.Doc.Name, Data: request.EventData(out, nil)})
			return receipt, err
		})
		if errors.Is(err, idempotency.ErrReused) {
			return reused()
		}
		if err != nil {
			return err
		}
		if again {
			out, err = s.get(ctx, tx, r.Tenant, name, false)
		}
		return err
	})
	return out, err
}

// receiptSeq returns the name of the sequence that numbers the receipts of tenant, prefix and
// year, creating it with its requests.receipts row on the first intake. It runs in a transaction
// of its own, so that no intake holds the DDL's locks; a second caller's insert waits for the
// first's commit, and then finds the row and its sequence.
func (s *Store) receiptSeq(ctx context.Context, tenant, prefix string, year int) (string, error) {
	key := receiptKey(tenant, prefix, year)
	if seq, ok := s.receiptSeqs.Load(key); ok {
		return seq.(string), nil
	}
	var seq string
	err := pgdb.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO requests.receipts (tenant_id, prefix, year) VALUES ($1, $2, $3)
			ON CONFLICT DO NOTHING`, tenant, prefix, year)
		if err != nil {
			return err
		}
		var id int64 // read by a statement of its own: it sees the row a concurrent first caller committed
		if err := tx.QueryRow(ctx, `SELECT id FROM requests.receipts WHERE tenant_id = $1 AND prefix = $2 AND year = $3`,
			tenant, prefix, year).Scan(&id); err != nil {
			return err
		}
		seq = "requests.receipt_" + strconv.FormatInt(id, 10)
		_, err = tx.Exec(ctx, `CREATE SEQUENCE IF NOT EXISTS `+seq)
		return err
	})
	if err != nil {
		return "", err
	}
	s.receiptSeqs.Store(key, seq)
	return seq, nil
}

// receiptKey is the key of receiptSeqs.
func receiptKey(tenant, prefix string, year int) string {
	return fmt.Sprintf("%s\x00%s\x00%d", tenant, prefix, year)
}

func (s *Store) insert(ctx context.Context, tx pgx.Tx, rec *request.Request) error {
	doc, personal, err := s.encode(rec)
	if err != nil {
		return err
	}
	sum := sha256.Sum256([]byte(rec.Personal.Secret))
	_, err = tx.Exec(ctx, `INSERT INTO requests.requests (tenant_id, receipt, unit_id, type, state,
		doc, personal, secret_hash, receive_time, due_date, create_time, update_time)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)`,
		rec.Tenant, rec.Doc.ReceiptNumber, rec.Unit, int16(rec.Doc.Type), int16(rec.Doc.State),
		doc, personal, sum[:], rec.Doc.ReceiveTime.AsTime(), dueDate(rec.Doc), rec.Created)
	return err
}

// sealedPersonal is the sealed form of request.Personal.
type sealedPersonal struct {
	Requester json.RawMessage `json:"requester,omitempty"`
	Subject   json.RawMessage `json:"subject,omitempty"`
	Secret    string          `json:"secret"`
}

func (s *Store) encode(rec *request.Request) (doc, personal []byte, err error) {
	d := proto.Clone(rec.Doc).(*requestsv1.Request)
	d.Requester, d.Subject, d.Etag, d.Ledger = nil, nil, "", nil // the ledger records are the outbox's
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

func (s *Store) decode(rec *request.Request, receipt string, doc, personal []byte) error {
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
func (s *Store) Get(ctx context.Context, tenant, unit, receipt string) (*request.Request, error) {
	return s.getUnit(ctx, s.pool, tenant, unit, receipt, false)
}

// getUnit is get for a request of the tenant's unit, NotFound for any other.
func (s *Store) getUnit(ctx context.Context, q querier, tenant, unit, receipt string, lock bool) (*request.Request, error) {
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
func (s *Store) GetAny(ctx context.Context, tenant, receipt string) (*request.Request, error) {
	return s.get(ctx, s.pool, tenant, receipt, false)
}

type querier = ledgerout.Querier

func (s *Store) get(ctx context.Context, q querier, tenant, receipt string, lock bool) (*request.Request, error) {
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
func (s *Store) scan(tenant string, row pgx.Row) (*request.Request, error) {
	rec := &request.Request{Tenant: tenant}
	var receipt string
	var doc, personal []byte
	if err := row.Scan(&receipt, &rec.Unit, &doc, &personal, &rec.Revision, &rec.Created); err != nil {
		return nil, err
	}
	return rec, s.decode(rec, receipt, doc, personal)
}

// Transition changes a request under a row lock: fn gets the current request (after the etag, if
// given, is checked), changes r.Doc in place and returns the step's outcome, whose notice, ledger
// entry (in the outbox) and hand-off job are written in the same transaction. It returns the new
// request and the outbox id of its entry (0 for none).
//
// A step with a request_id (idem) is taken once (AIP-155): its replay changes nothing and returns
// the request as it now stands, with no entry; the same id with another request is refused.
func (s *Store) Transition(ctx context.Context, tenant, unit, receipt, etag string, idem Idem, fn func(r *request.Request) (request.Outcome, error)) (rec *request.Request, entry int64, err error) {
	step := func(tx pgx.Tx) error {
		if rec, err = s.getUnit(ctx, tx, tenant, unit, receipt, true); err != nil {
			return err
		}
		if etag != "" && etag != rec.Full().Etag {
			return apierr.EtagMismatch(rec.Doc.Name)
		}
		out, err := fn(rec)
		if err != nil {
			return err
		}
		now := s.clock()
		rec.Doc.UpdateTime = timestamppb.New(now)
		var sends []outbound.Message // what the step sends, written together
		if n := out.Notice; n != nil {
			var seq int
			if err := tx.QueryRow(ctx, `SELECT count(*) + 1 FROM requests.notices WHERE tenant_id = $1 AND receipt = $2`,
				tenant, receipt).Scan(&seq); err != nil {
				return err
			}
			n.Name = names.Notice(rec.Doc.Name, seq)
			n.IssueTime = timestamppb.New(now)
			if err := s.insertNotice(ctx, tx, tenant, receipt, seq, n); err != nil {
				return err
			}
			rec.Doc.Notices = append(rec.Doc.Notices, n.Name)
			if sends, err = noticeMessages(rec, n, seq, out.Issuer); err != nil {
				return err
			}
		}
		if out.Event != "" {
			if _, err := s.out.EmitWith(ctx, tx, tenant, outbound.Event{Unit: unit, Type: out.Event,
				Subject: rec.Doc.Name, Data: request.EventData(rec, out.Notice)}, sends); err != nil {
				return err
			}
		} else if _, err := s.out.EnqueueAll(ctx, tx, tenant, sends); err != nil {
			return err
		}
		if e := out.Entry; e != nil {
			oe := ledgerout.Entry{Unit: unit, Append: e.Append, Subject: receipt, Label: e.Step}
			if e.Follows && len(rec.Entries) > 0 {
				oe.After, oe.Follows = rec.Entries[0], true
			}
			if e.Copy {
				oe.Chain = ChainCopy
			}
			if entry, err = s.outbox.Enqueue(ctx, tx, tenant, oe); err != nil {
				return err
			}
			rec.Doc.Ledger = append(rec.Doc.Ledger, &requestsv1.LedgerRecord{Step: e.Step, Pending: true})
			rec.Entries = append(rec.Entries, entry)
		}
		if out.Closed {
			if _, err := s.jobs.InsertTx(ctx, tx, ClosedArgs{Tenant: tenant, Receipt: receipt},
				&river.InsertOpts{ScheduledAt: now.Add(s.handOffDelay)}); err != nil {
				return err
			}
		}
		rec.Revision++
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
			tenant, receipt, int16(rec.Doc.State), rec.Revision, doc, personal, dueDate(rec.Doc), now, closed)
		return err
	}
	err = pgdb.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		_, again, err := idempotency.Do(ctx, tx, Schema, idem.Key(tenant), func() (string, error) { return receipt, step(tx) })
		if errors.Is(err, idempotency.ErrReused) {
			return reused()
		}
		if err == nil && again {
			rec, err = s.getUnit(ctx, tx, tenant, unit, receipt, false)
		}
		return err
	})
	return rec, entry, err
}

// reused is the refusal of a request_id already used for another request (AIP-155).
func reused() error {
	return apierr.Invalid(apierr.Violation{Field: "request_id", Rule: "AIP-155",
		Description: "this request_id was already used for a different request; use a new one"})
}

// TargetRequester is the outbound target of what is sent to a request's requester.
const TargetRequester = "requester"

// noticeMessages are what tells the requester of notice n, the seq-th of rec: the notice itself
// (별지 제9호·제10호) mailed as HTML with its text when notices go by e-mail
// (request.MailsNotices), composed when it is sent from the notice as stored (NoticeMail), and a
// text message saying it was issued when they asked for one.
func noticeMessages(rec *request.Request, n *requestsv1.Notice, seq int, issuer string) ([]outbound.Message, error) {
	p := rec.Personal.Requester
	var out []outbound.Message
	if request.MailsNotices(rec) {
		ref, err := json.Marshal(noticeRef{To: p.GetEmail(), Subject: request.NoticeSubject(rec, n, issuer),
			Receipt: rec.Doc.GetReceiptNumber(), Seq: seq})
		if err != nil {
			return nil, err
		}
		out = append(out, outbound.Message{Channel: outbound.Mail, Target: TargetRequester,
			Subject: rec.Doc.GetName(), Label: n.GetName(), Payload: ref, Personal: true, Compose: ComposeNotice})
	}
	if to, ok := sms.Mobile(p.GetPhone()); rec.Doc.GetNoticeByText() && ok {
		payload, err := sms.Message{To: to, Text: request.NoticeText(rec, n, issuer)}.Payload()
		if err != nil {
			return nil, err
		}
		out = append(out, outbound.Message{Channel: outbound.SMS, Target: TargetRequester,
			Subject: rec.Doc.GetName(), Label: n.GetName(), Payload: payload, Personal: true})
	}
	return out, nil
}

// Delivered is the outbox's hook (ledgerout.Hooks): a PROVISION of a copy, once in the ledger,
// hands the copy to the retention service by a job written with its index (C-9).
func (s *Store) Delivered(ctx context.Context, tx pgx.Tx, e ledgerout.Settled) error {
	if e.Chain != ChainCopy {
		return nil
	}
	_, err := s.jobs.InsertTx(ctx, tx, CopyArgs{Tenant: e.Tenant, Receipt: e.Subject},
		&river.InsertOpts{ScheduledAt: s.clock().Add(s.handOffDelay)})
	return err
}

// Refused is the outbox's hook for a refusal: nothing waits on a request's entry but its record,
// which shows the refusal.
func (s *Store) Refused(context.Context, pgx.Tx, []ledgerout.Settled, string) error { return nil }

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

// Notices lists a request's notices// Notices lists a request's notices in issue order; html is included.
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
		n, err := s.openNotice(tenant, receipt, seq, doc)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// openNotice is notice seq of request receipt, stored sealed as doc.
func (s *Store) openNotice(tenant, receipt string, seq int, doc []byte) (*requestsv1.Notice, error) {
	plain, err := s.box.Open(doc, noticeAD(tenant, receipt, seq))
	if err != nil {
		return nil, err
	}
	n := &requestsv1.Notice{}
	if err := protojson.Unmarshal(plain, n); err != nil {
		return nil, err
	}
	return n, nil
}

// withLedger fills the requests' ledger records (Doc.Ledger) and their outbox ids (Entries) from
// the outbox, in one query.
func (s *Store) withLedger(ctx context.Context, q querier, recs ...*request.Request) error {
	if len(recs) == 0 {
		return nil
	}
	receipts := make([]string, len(recs))
	for i, r := range recs {
		receipts[i] = r.Doc.GetReceiptNumber()
	}
	records, err := s.outbox.Records(ctx, q, recs[0].Tenant, receipts)
	if err != nil {
		return err
	}
	for _, r := range recs {
		r.Doc.Ledger, r.Entries = nil, nil
		for _, e := range records[r.Doc.GetReceiptNumber()] {
			lr := &requestsv1.LedgerRecord{Step: e.Label, Pending: e.Pending, Failure: e.Refusal}
			if !e.Pending && e.Refusal == "" {
				lr.Index, lr.Entry = e.Index, names.Entries.NameN(r.Tenant, r.Unit, e.Index)
			}
			r.Doc.Ledger, r.Entries = append(r.Doc.Ledger, lr), append(r.Entries, e.ID)
		}
	}
	return nil
}

// Status finds a request by its receipt number and status secret, for the public status check.
// Receipt numbers repeat across tenants; the secret tells them apart. Any mismatch is NotFound.
func (s *Store) Status(ctx context.Context, receipt, secret string) (*request.Request, error) {
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
	Records          []*request.Request
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

// FailedCopyHandOffs counts the provided copies whose hand-off to the retention service was given
// up (their jobs cancelled: refused, or their PROVISION entry never reached the ledger), across
// tenants, for the operator's metrics. River's cleaner drops such jobs after a day.
func (s *Store) FailedCopyHandOffs(ctx context.Context) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM requests.river_job WHERE kind = $1 AND state IN ('cancelled', 'discarded')`,
		CopyArgs{}.Kind()).Scan(&n)
	return n, err
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

// ErrStepsPending refuses an erasure while a step's ledger entry still waits in the outbox: its
// sealed copy holds the requester's name until the ledger has it.
var ErrStepsPending = apierr.Precondition("LEDGER_PENDING",
	"a step of this request is not yet in the ledger; erase once the outbox has delivered it")

// Erase removes a closed request's personal fields at the end of its retention (PIPA-21-1): the
// requester and subject, the status secret, the rendered notices (they name the recipient) and
// the outbox's sealed copies of its ledger entries; erase checks the request and clears rec.Doc's
// free text (request.Erase). Erasing twice changes nothing. The ledger's own copies are erased by
// its redaction. An erasure that carries a request_id is recorded with it (AIP-155): a retry
// answers the request as it stands.
func (s *Store) Erase(ctx context.Context, tenant, unit, receipt string, idem Idem, erase func(rec *request.Request) error) (*request.Request, error) {
	var rec *request.Request
	change := func(tx pgx.Tx) error {
		var err error
		if rec, err = s.getUnit(ctx, tx, tenant, unit, receipt, true); err != nil {
			return err
		}
		if rec.Doc.GetEraseTime() != nil {
			return nil // erased already: a retried erasure changes nothing
		}
		pending, err := s.outbox.Pending(ctx, tx, tenant, receipt)
		if err != nil {
			return err
		}
		if pending {
			return ErrStepsPending
		}
		if err := erase(rec); err != nil {
			return err
		}
		now := s.clock()
		rec.Personal = request.Personal{}
		rec.Doc.EraseTime, rec.Doc.UpdateTime = timestamppb.New(now), timestamppb.New(now)
		rec.Revision++
		doc, personal, err := s.encode(rec)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE requests.requests SET doc = $3, personal = $4, revision = $5, update_time = $6
			WHERE tenant_id = $1 AND receipt = $2`, tenant, receipt, doc, personal, rec.Revision, now); err != nil {
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
		// The mail and text messages that carried its notices name the requester: they go too.
		if err := s.out.Forget(ctx, tx, tenant, rec.Doc.GetName()); err != nil {
			return err
		}
		// The ledger has the steps' entries (they were all settled); the outbox's copies go.
		return s.outbox.Forget(ctx, tx, tenant, receipt)
	}
	err := pgdb.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		_, again, err := idempotency.Once(ctx, tx, Schema, idem.Key(tenant), func() (string, error) { return receipt, change(tx) })
		if err == nil && again {
			rec, err = s.getUnit(ctx, tx, tenant, unit, receipt, false)
		}
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

// Undecided is a request still to decide (RECEIVED or VERIFIED), for the deadline alerts.
type Undecided struct{ Tenant, Receipt string }

// UndecidedDue pages through the undecided requests of every tenant due on or before dueBy
// (YYYY-MM-DD), in (tenant, receipt) order after after: the service's own background work, which
// then handles each in its tenant.
func (s *Store) UndecidedDue(ctx context.Context, dueBy string, after Undecided, limit int) ([]Undecided, error) {
	rows, err := s.pool.Query(ctx, `SELECT tenant_id, receipt FROM requests.requests
		WHERE state IN (1, 2) AND due_date <= $1::date AND (tenant_id, receipt) > ($2, $3)
		ORDER BY tenant_id, receipt LIMIT $4`, dueBy, after.Tenant, after.Receipt, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[Undecided])
}

// InTx runs fn in a transaction of the store's pool.
func (s *Store) InTx(ctx context.Context, fn func(pgx.Tx) error) error {
	return pgdb.InTx(ctx, s.pool, fn)
}

// Clock is an undecided request's statutory clock, for the obligations list.
type Clock struct {
	Unit, Receipt string
	Type          requestsv1.RequestType
	// Due is the last day, YYYY-MM-DD in Asia/Seoul.
	Due string
}

// Clocks are the running clocks of tenant's undecided requests (received or verified, not
// deferred), or of its unit's (unit != ""), by due date.
func (s *Store) Clocks(ctx context.Context, tenant, unit string) ([]Clock, error) {
	rows, err := s.pool.Query(ctx, `SELECT unit_id, receipt, type, to_char(due_date, 'YYYY-MM-DD') FROM requests.requests
		WHERE tenant_id = $1 AND ($2 = '' OR unit_id = $2) AND state IN (1, 2) AND due_date IS NOT NULL
		ORDER BY due_date, unit_id, receipt`, tenant, unit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Clock, error) {
		var c Clock
		var t int16
		err := r.Scan(&c.Unit, &c.Receipt, &t, &c.Due)
		c.Type = requestsv1.RequestType(t)
		return c, err
	})
}
