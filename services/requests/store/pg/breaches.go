package pg

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pipa-kr/pipa/pkg/apierr"
	requestsv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/requests/v1"
	"github.com/pipa-kr/pipa/pkg/idempotency"
	"github.com/pipa-kr/pipa/pkg/ledgerout"
	"github.com/pipa-kr/pipa/pkg/names"
	"github.com/pipa-kr/pipa/pkg/outbound"
	"github.com/pipa-kr/pipa/pkg/outbound/mail"
	"github.com/pipa-kr/pipa/pkg/outbound/sms"
	"github.com/pipa-kr/pipa/pkg/pgdb"
	"github.com/pipa-kr/pipa/services/requests/breach"
)

// Breach is a stored breach: the document as stored (outputs computed by breach.View) and its
// revision, for the etag.
type Breach struct {
	Tenant, Unit string
	Number       int64
	Doc          *requestsv1.Breach
	Revision     int64
}

// BreachEntry makes the ledger entry of a step of breach b (kind BREACH).
type BreachEntry func(b *requestsv1.Breach, o breach.Outcome) ledgerout.Entry

// Etag is AIP-154's etag of the breach's revision.
func (b *Breach) Etag() string {
	return strconv.FormatInt(b.Doc.GetCreateTime().AsTime().UnixMicro(), 36) + "-" + strconv.FormatInt(b.Revision, 10)
}

// breachSubject is the outbox subject of a breach's entries, unique in its tenant.
func breachSubject(unit string, n int64) string {
	return "breach/" + unit + "/" + strconv.FormatInt(n, 10)
}

// CreateBreach stores new breach doc (as breach.Intake made it) under the unit's next number, with
// the ledger entry of its registration, in one transaction; it returns the breach and the
// outbox's id of the entry (0 on a replay of the same request_id, which returns the first breach).
func (s *Store) CreateBreach(ctx context.Context, tenant, unit string, doc *requestsv1.Breach, idem Idem, entry BreachEntry) (out *Breach, id int64, err error) {
	err = pgdb.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		name, again, err := idempotency.Do(ctx, tx, Schema, idem.Key(tenant), func() (string, error) {
			var n int64
			if err := tx.QueryRow(ctx, `INSERT INTO requests.breach_numbers (tenant_id, unit_id, last) VALUES ($1, $2, 1)
				ON CONFLICT (tenant_id, unit_id) DO UPDATE SET last = breach_numbers.last + 1 RETURNING last`,
				tenant, unit).Scan(&n); err != nil {
				return "", err
			}
			now := s.clock()
			doc.Name = names.Breaches.NameN(tenant, unit, n)
			doc.CreateTime, doc.UpdateTime = timestamppb.New(now), timestamppb.New(now)
			out = &Breach{Tenant: tenant, Unit: unit, Number: n, Doc: doc, Revision: 1}
			raw, err := storedBreach(doc)
			if err != nil {
				return "", err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO requests.breaches (tenant_id, unit_id, number, state, doc, known_time,
				create_time, update_time) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)`,
				tenant, unit, n, int16(doc.GetState()), raw, doc.GetKnownTime().AsTime(), now); err != nil {
				return "", err
			}
			id, err = s.enqueueBreach(ctx, tx, tenant, unit, n, entry(doc, breach.Registered(doc)))
			return doc.Name, err
		})
		if errors.Is(err, idempotency.ErrReused) {
			return apierr.Invalid(apierr.Violation{Field: "request_id", Rule: "AIP-155",
				Description: "this request_id was already used for a different request; use a new one"})
		}
		if err != nil || !again {
			return err
		}
		_, _, n, err := names.Breaches.ParseN("name", name)
		if err != nil {
			return err
		}
		out, err = s.getBreach(ctx, tx, tenant, unit, n, false)
		return err
	})
	return out, id, err
}

// StepBreach takes a step of the unit's breach n under its row lock: fn decides (breach.Apply),
// and the breach and its ledger entry are written in one transaction. etag, when given, must be
// the breach's. A replay of request_id answers with the breach as it is, writing nothing.
func (s *Store) StepBreach(ctx context.Context, tenant, unit string, n int64, etag string, idem Idem,
	fn func(b *requestsv1.Breach) (breach.Outcome, error), entry BreachEntry) (out *Breach, id int64, err error) {
	err = pgdb.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		if out, err = s.getBreach(ctx, tx, tenant, unit, n, true); err != nil {
			return err
		}
		_, again, err := idempotency.Do(ctx, tx, Schema, idem.Key(tenant), func() (string, error) {
			if etag != "" && etag != out.Etag() {
				return "", apierr.EtagMismatch(out.Doc.GetName())
			}
			o, err := fn(out.Doc)
			if err != nil {
				return "", err
			}
			if err := s.saveBreach(ctx, tx, out); err != nil {
				return "", err
			}
			if id, err = s.enqueueBreach(ctx, tx, tenant, unit, n, entry(out.Doc, o)); err != nil {
				return "", err
			}
			if err := s.mailNotice(ctx, tx, tenant, out.Doc.GetName(), o.Mail); err != nil {
				return "", err
			}
			if out.Doc.GetState() == requestsv1.BreachState_BREACH_STATE_CLOSED {
				// The subjects' addresses and numbers served the notices only: closed, they go.
				// A notice mail or text message still on its way would go with them, unsent,
				// while the record says the subjects were told (PIPA-34-1): the close waits for
				// every one to be delivered or given up (and one given up owes the posting,
				// DEC-39-3, which breach.Close asked for already).
				pending, err := s.out.Pending(ctx, tx, tenant, out.Doc.GetName(), breachSubjects)
				if err != nil {
					return "", err
				}
				if pending > 0 {
					return "", apierr.Precondition("NOTICE_MAIL_PENDING", fmt.Sprintf(
						"%d notice mail(s) or text message(s) to the subjects are neither delivered nor given up yet: close once they are (see the notices' deliveries)", pending),
						apierr.Violation{Field: "name", Rule: "PIPA-34-1", Description: "the subjects are notified once their notice is sent"})
				}
				if err := s.out.Forget(ctx, tx, tenant, out.Doc.GetName()); err != nil {
					return "", err
				}
			}
			return out.Doc.GetName(), nil
		})
		if errors.Is(err, idempotency.ErrReused) {
			return apierr.Invalid(apierr.Violation{Field: "request_id", Rule: "AIP-155",
				Description: "this request_id was already used for a different request; use a new one"})
		}
		if again {
			id = 0
		}
		return err
	})
	return out, id, err
}

// saveBreach writes b, changed under its row lock, as its next revision.
func (s *Store) saveBreach(ctx context.Context, tx pgx.Tx, b *Breach) error {
	b.Revision++
	raw, err := storedBreach(b.Doc)
	if err != nil {
		return err
	}
	var postingEnd any
	if p := b.Doc.GetPosting(); p != nil {
		postingEnd = p.GetEndTime().AsTime()
	}
	_, err = tx.Exec(ctx, `UPDATE requests.breaches SET state = $4, revision = $5, doc = $6, posting_end = $7,
		update_time = $8 WHERE tenant_id = $1 AND unit_id = $2 AND number = $3`,
		b.Tenant, b.Unit, b.Number, int16(b.Doc.GetState()), b.Revision, raw, postingEnd, s.clock())
	return err
}

// NoticeHooks are the request service's outbound Hooks, set once the store is made.
type NoticeHooks struct{ Store *Store }

// GaveUp: a breach notice's mail or text message given up (refused for good, or out of attempts)
// did not reach its subject, which the breach records in the same transaction
// (breach.Undelivered), so that its posting is owed (DEC-39-3). Other messages need nothing. A
// delivery that names no open breach's notice is logged and let go: an error would roll back the
// give-up, and the dispatcher would send the notice to the subject again, and again. Only the
// database's errors are returned.
func (h *NoticeHooks) GaveUp(ctx context.Context, tx pgx.Tx, d outbound.Delivery, _ string) error {
	if !IsBreachSubject(d.Target) {
		return nil
	}
	skip := func(why string) error {
		slog.WarnContext(ctx, "requests: a breach notice given up is not recorded on a breach", "tenant", d.Tenant, "delivery", d.ID, "label", d.Label, "why", why)
		return nil
	}
	tenant, unit, n, err := names.Breaches.ParseN("subject", d.Subject)
	i, ierr := strconv.Atoi(strings.TrimPrefix(d.Label, breachNotices))
	if err != nil || ierr != nil || !strings.HasPrefix(d.Label, breachNotices) || tenant != d.Tenant {
		return skip("not a breach notice's delivery")
	}
	b, err := h.Store.getBreach(ctx, tx, tenant, unit, n, true)
	if apierr.CodeOf(err) == codes.NotFound {
		return skip("no such breach")
	}
	if err != nil {
		return err
	}
	if b.Doc.GetState() != requestsv1.BreachState_BREACH_STATE_OPEN {
		return skip("the breach is not open")
	}
	if err := breach.Undelivered(b.Doc, i, h.Store.clock()); err != nil {
		return skip("the breach has no such notice")
	}
	return h.Store.saveBreach(ctx, tx, b)
}

// BreachNoticeLabel is the outbound label of the mail of a breach's notice i (from 1).
func BreachNoticeLabel(i int) string { return breachNotices + strconv.Itoa(i) }

// BreachSubjectTarget is the outbound target of a notice's mail or text message to the step's
// i-th address or number (from 1): the address or number itself is only in the sealed payload.
func BreachSubjectTarget(i int) string { return breachSubjects + strconv.Itoa(i) }

// IsBreachSubject: target is a data subject's (BreachSubjectTarget), not an officer's alert.
func IsBreachSubject(target string) bool { return strings.HasPrefix(target, breachSubjects) }

const (
	breachSubjects = "subject:"
	breachNotices  = "notice/"
)

// mailNotice queues m's mail or text messages, one sealed message to each address or number,
// about breach name.
func (s *Store) mailNotice(ctx context.Context, tx pgx.Tx, tenant, name string, m *breach.Mailing) error {
	if m == nil {
		return nil
	}
	msgs := make([]outbound.Message, len(m.To))
	for i, to := range m.To {
		msg := outbound.Message{Channel: outbound.Mail, Target: BreachSubjectTarget(i + 1), Subject: name,
			Label: BreachNoticeLabel(m.Notice), Personal: true}
		var err error
		if m.ByText {
			msg.Channel = outbound.SMS
			msg.Payload, err = sms.Message{To: to, Text: m.Text}.Payload()
		} else {
			msg.Payload, err = mail.Message{To: to, Subject: m.Subject, Text: m.Text}.Payload()
		}
		if err != nil {
			return err
		}
		msgs[i] = msg
	}
	_, err := s.out.EnqueueAll(ctx, tx, tenant, msgs)
	return err
}

// storedBreach is the document as stored: without what breach.View and the store compute.
func storedBreach(doc *requestsv1.Breach) ([]byte, error) {
	d := proto.CloneOf(doc)
	d.Steps, d.Duties, d.NotApplicable, d.ReportTriggers, d.Etag = nil, nil, nil, nil, ""
	return protojson.Marshal(d)
}

func (s *Store) enqueueBreach(ctx context.Context, tx pgx.Tx, tenant, unit string, n int64, e ledgerout.Entry) (int64, error) {
	e.Unit, e.Subject = unit, breachSubject(unit, n)
	return s.outbox.Enqueue(ctx, tx, tenant, e)
}

// GetBreach reads the unit's breach n with its steps as the ledger records them.
func (s *Store) GetBreach(ctx context.Context, tenant, unit string, n int64) (*Breach, error) {
	return s.getBreach(ctx, s.pool, tenant, unit, n, false)
}

func (s *Store) getBreach(ctx context.Context, q ledgerout.Querier, tenant, unit string, n int64, lock bool) (*Breach, error) {
	sql := `SELECT doc, revision FROM requests.breaches WHERE tenant_id = $1 AND unit_id = $2 AND number = $3`
	if lock {
		sql += " FOR UPDATE"
	}
	var raw []byte
	b := &Breach{Tenant: tenant, Unit: unit, Number: n, Doc: &requestsv1.Breach{}}
	err := q.QueryRow(ctx, sql, tenant, unit, n).Scan(&raw, &b.Revision)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, apierr.NotFound(names.Breaches.NameN(tenant, unit, n))
	}
	if err != nil {
		return nil, err
	}
	if err := protojson.Unmarshal(raw, b.Doc); err != nil {
		return nil, err
	}
	return b, s.breachSteps(ctx, q, tenant, []*Breach{b})
}

// breachSteps fills in each breach's steps as its outbox entries stand.
func (s *Store) breachSteps(ctx context.Context, q ledgerout.Querier, tenant string, bs []*Breach) error {
	subjects := make([]string, len(bs))
	for i, b := range bs {
		subjects[i] = breachSubject(b.Unit, b.Number)
	}
	recs, err := s.outbox.Records(ctx, q, tenant, subjects)
	if err != nil {
		return err
	}
	for i, b := range bs {
		b.Doc.Steps = nil
		for _, r := range recs[subjects[i]] {
			st := &requestsv1.BreachStep{Label: r.Label}
			if !r.Pending && r.Refusal == "" {
				st.LedgerIndex = &r.Index
			}
			b.Doc.Steps = append(b.Doc.Steps, st)
		}
	}
	return nil
}

// BreachPage is a page of a unit's breaches, newest first, with the unit's open breaches' standing.
type BreachPage struct {
	Breaches         []*Breach
	Next             int64
	Overdue, DueSoon int32
}

// ListBreaches lists the unit's breaches below number after (0: from the newest); open and
// overdue filter, overdue judged at now.
func (s *Store) ListBreaches(ctx context.Context, tenant, unit string, open, overdue bool, size int, after int64, now time.Time) (*BreachPage, error) {
	rows, err := s.pool.Query(ctx, `SELECT number, doc, revision FROM requests.breaches
		WHERE tenant_id = $1 AND unit_id = $2 AND ($3 = 0 OR number < $3) AND (NOT $4 OR state = 1)
		ORDER BY number DESC`, tenant, unit, after, open || overdue)
	if err != nil {
		return nil, err
	}
	all, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*Breach, error) {
		var raw []byte
		b := &Breach{Tenant: tenant, Unit: unit, Doc: &requestsv1.Breach{}}
		if err := r.Scan(&b.Number, &raw, &b.Revision); err != nil {
			return nil, err
		}
		return b, protojson.Unmarshal(raw, b.Doc)
	})
	if err != nil {
		return nil, err
	}
	page := &BreachPage{}
	for _, b := range all {
		if overdue {
			if o, _ := breach.Standing(b.Doc, now); !o {
				continue
			}
		}
		if len(page.Breaches) == size {
			page.Next = page.Breaches[size-1].Number
			break
		}
		page.Breaches = append(page.Breaches, b)
	}
	counts, err := s.BreachCounts(ctx, tenant, now)
	if err != nil {
		return nil, err
	}
	for _, c := range counts {
		if c.Unit == unit {
			page.Overdue, page.DueSoon = int32(c.Overdue), int32(c.DueSoon)
		}
	}
	return page, s.breachSteps(ctx, s.pool, tenant, page.Breaches)
}

// BreachCount is how a unit's open breaches stand on their clocks, and how many of their
// subjects a notice did not reach while no posting stands for it (DEC-39-3).
type BreachCount struct {
	Tenant, Unit             string
	Overdue, DueSoon, OnTime int64
	Unreached                int64
}

// BreachCounts are the open breaches' standing at now by unit, of tenant ("" for every tenant,
// the metrics' view).
func (s *Store) BreachCounts(ctx context.Context, tenant string, now time.Time) ([]BreachCount, error) {
	rows, err := s.pool.Query(ctx, `SELECT tenant_id, unit_id, doc FROM requests.breaches
		WHERE state = 1 AND ($1 = '' OR tenant_id = $1) ORDER BY tenant_id, unit_id`, tenant)
	if err != nil {
		return nil, err
	}
	var out []BreachCount
	_, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (struct{}, error) {
		var t, u string
		var raw []byte
		if err := r.Scan(&t, &u, &raw); err != nil {
			return struct{}{}, err
		}
		var b requestsv1.Breach
		if err := protojson.Unmarshal(raw, &b); err != nil {
			return struct{}{}, err
		}
		if len(out) == 0 || out[len(out)-1].Tenant != t || out[len(out)-1].Unit != u {
			out = append(out, BreachCount{Tenant: t, Unit: u})
		}
		c := &out[len(out)-1]
		c.Unreached += breach.UnreachedOwed(&b, now)
		switch overdue, soon := breach.Standing(&b, now); {
		case overdue:
			c.Overdue++
		case soon:
			c.DueSoon++
		default:
			c.OnTime++
		}
		return struct{}{}, nil
	})
	return out, err
}

// Posting is the unit's breach n's posting while it is up at now (DEC-39-3), else NotFound.
func (s *Store) Posting(ctx context.Context, tenant, unit string, n int64, now time.Time) (*requestsv1.BreachPosting, error) {
	var raw []byte
	err := s.pool.QueryRow(ctx, `SELECT doc FROM requests.breaches WHERE tenant_id = $1 AND unit_id = $2 AND number = $3
		AND posting_end > $4`, tenant, unit, n, now).Scan(&raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, apierr.NotFound(names.Breaches.NameN(tenant, unit, n) + "/posting")
	}
	if err != nil {
		return nil, err
	}
	return postingOf(raw)
}

// postingOf is the posting of the breach stored as doc.
func postingOf(doc []byte) (*requestsv1.BreachPosting, error) {
	var b requestsv1.Breach
	if err := protojson.Unmarshal(doc, &b); err != nil {
		return nil, err
	}
	return b.GetPosting(), nil
}

// Postings are the unit's postings up at now (DEC-39-3), newest first, at most 100.
func (s *Store) Postings(ctx context.Context, tenant, unit string, now time.Time) ([]*requestsv1.BreachPosting, error) {
	rows, err := s.pool.Query(ctx, `SELECT doc FROM requests.breaches WHERE tenant_id = $1 AND unit_id = $2
		AND posting_end > $3 ORDER BY number DESC LIMIT 100`, tenant, unit, now)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (*requestsv1.BreachPosting, error) {
		var raw []byte
		if err := r.Scan(&raw); err != nil {
			return nil, err
		}
		return postingOf(raw)
	})
}

// BreachKey orders the open breaches of every tenant for OpenBreaches' pages.
type BreachKey struct {
	Tenant, Unit string
	Number       int64
}

// OpenBreaches are up to limit open breaches of every tenant after key after, in key order: the
// breach clocks' alerts (the job's view, not a tenant's).
func (s *Store) OpenBreaches(ctx context.Context, after BreachKey, limit int) ([]*Breach, error) {
	return s.openBreaches(ctx, `WHERE state = 1 AND (tenant_id, unit_id, number) > ($1, $2, $3)
		ORDER BY tenant_id, unit_id, number LIMIT $4`, after.Tenant, after.Unit, after.Number, limit)
}

// OpenBreachesOf are the open breaches of tenant, or of its unit (unit != ""), for the obligations
// list: their duties are computed by the caller (breach.Duties).
func (s *Store) OpenBreachesOf(ctx context.Context, tenant, unit string) ([]*Breach, error) {
	return s.openBreaches(ctx, `WHERE tenant_id = $1 AND ($2 = '' OR unit_id = $2) AND state = 1 ORDER BY unit_id, number`, tenant, unit)
}

func (s *Store) openBreaches(ctx context.Context, where string, args ...any) ([]*Breach, error) {
	rows, err := s.pool.Query(ctx, `SELECT tenant_id, unit_id, number, doc, revision FROM requests.breaches `+where, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (*Breach, error) {
		var raw []byte
		b := &Breach{Doc: &requestsv1.Breach{}}
		if err := r.Scan(&b.Tenant, &b.Unit, &b.Number, &raw, &b.Revision); err != nil {
			return nil, err
		}
		return b, protojson.Unmarshal(raw, b.Doc)
	})
}
