package pg

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/mod/sumdb/note"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pipa-kr/pipa/pkg/apierr"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	retentionv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/retention/v1"
	"github.com/pipa-kr/pipa/pkg/names"
	"github.com/pipa-kr/pipa/pkg/outbound"
	"github.com/pipa-kr/pipa/pkg/outbound/mail"
	"github.com/pipa-kr/pipa/pkg/pgdb"
	"github.com/pipa-kr/pipa/services/retention/lifecycle"
)

const selectCopy = `SELECT c.copy_id, c.unit_id, c.state, c.due_date, c.doc, c.reminders, c.last_reminder_time, c.revision, c.create_time,
	ARRAY(SELECT o.doc FROM retention.copy_outcomes o WHERE o.tenant_id = c.tenant_id AND o.copy_id = c.copy_id ORDER BY o.seq),
	ARRAY(SELECT coalesce(o.ledger_index, 0) FROM retention.copy_outcomes o WHERE o.tenant_id = c.tenant_id AND o.copy_id = c.copy_id ORDER BY o.seq),
	ARRAY(SELECT coalesce(o.destruction_index, 0) FROM retention.copy_outcomes o WHERE o.tenant_id = c.tenant_id AND o.copy_id = c.copy_id ORDER BY o.seq),
	EXISTS (SELECT 1 FROM retention.copy_outcomes o WHERE o.tenant_id = c.tenant_id AND o.copy_id = c.copy_id
		AND (o.ledger_index IS NULL OR (o.destruction_outbox_id IS NOT NULL AND o.destruction_index IS NULL)))
	FROM retention.copies c`

func scanCopy(row pgx.Row, tenant string) (*lifecycle.Copy, error) {
	c := &lifecycle.Copy{Tenant: tenant}
	var state int16
	var due time.Time
	var doc []byte
	var reminders int32
	var last *time.Time
	var revision int64
	var create time.Time
	var outcomes [][]byte
	var indexes, destructions []int64
	var pending bool
	if err := row.Scan(&c.ID, &c.Unit, &state, &due, &doc, &reminders, &last, &revision, &create, &outcomes, &indexes,
		&destructions, &pending); err != nil {
		return nil, err
	}
	c.Doc = &retentionv1.Copy{}
	if err := protojson.Unmarshal(doc, c.Doc); err != nil {
		return nil, err
	}
	c.Doc.Name = names.Copies.NameN(tenant, c.Unit, c.ID)
	c.Doc.State, c.Doc.DestructionDueDate = retentionv1.CopyState(state), due.Format(time.DateOnly)
	c.Doc.Reminders, c.Doc.LastReminderTime, c.Doc.OutcomePending = reminders, ts(last), pending
	c.Doc.CreateTime, c.Doc.Etag = timestamppb.New(create), etag(create, revision)
	for i, b := range outcomes {
		o := &retentionv1.CopyOutcome{}
		if err := protojson.Unmarshal(b, o); err != nil {
			return nil, err
		}
		o.LedgerIndex, o.DestructionLedgerIndex = indexes[i], destructions[i]
		c.Doc.Outcomes = append(c.Doc.Outcomes, o)
	}
	return c, nil
}

func (s *Store) copyOf(ctx context.Context, q querier, tenant, unit string, id int64, lock bool) (*lifecycle.Copy, error) {
	sql := selectCopy + ` WHERE c.tenant_id = $1 AND c.copy_id = $2 AND c.unit_id = $3`
	if lock {
		sql += ` FOR UPDATE OF c`
	}
	c, err := scanCopy(q.QueryRow(ctx, sql, tenant, id, unit), tenant)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, apierr.NotFound(names.Copies.NameN(tenant, unit, id))
	}
	return c, err
}

func copyDoc(c *retentionv1.Copy) ([]byte, error) {
	d := proto.Clone(c).(*retentionv1.Copy)
	d.Name, d.Etag, d.CreateTime, d.Outcomes, d.Reminders, d.LastReminderTime, d.Overdue = "", "", nil, nil, 0, nil, false
	d.State, d.DestructionDueDate, d.OutcomePending = 0, "", false
	return marshal(d)
}

// CreateCopy stores a copy given out under its PROVISION entry; one copy per entry. A replayed
// request_id returns the first call's copy, and so does a retry after the request_id was
// forgotten, when the copy found is of the same request.
func (s *Store) CreateCopy(ctx context.Context, tenant, unit string, idem Idem, c *retentionv1.Copy) (out *lifecycle.Copy, err error) {
	doc, err := copyDoc(c)
	if err != nil {
		return nil, err
	}
	err = s.create(ctx, tenant, idem, func(tx pgx.Tx) (string, error) {
		var id int64
		err := tx.QueryRow(ctx, `INSERT INTO retention.copies (tenant_id, unit_id, provision_index, state, due_date,
			public_recipient, doc, create_time) VALUES ($1, $2, $3, 1, $4, $5, $6, $7)
			ON CONFLICT (tenant_id, unit_id, provision_index) DO NOTHING RETURNING copy_id`,
			tenant, unit, c.GetProvisionIndex(), c.GetDestructionDueDate(), c.GetPublicRecipient(), doc, s.clock()).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			var request string
			if err := tx.QueryRow(ctx, `SELECT copy_id, coalesce(doc->>'request', '') FROM retention.copies
				WHERE tenant_id = $1 AND unit_id = $2 AND provision_index = $3`, tenant, unit, c.GetProvisionIndex()).Scan(&id, &request); err != nil {
				return "", err
			}
			if request != c.GetRequest() {
				return "", apierr.AlreadyExists(fmt.Sprintf("a copy of ledger entry %d of tenants/%s/units/%s", c.GetProvisionIndex(), tenant, unit))
			}
		} else if err != nil {
			return "", err
		}
		out, err = s.copyOf(ctx, tx, tenant, unit, id, false)
		return names.Copies.NameN(tenant, unit, id), err
	}, func(tx pgx.Tx, name string) error {
		id, _ := strconv.ParseInt(names.Last(name), 10, 64)
		out, err = s.copyOf(ctx, tx, tenant, unit, id, false)
		return err
	})
	return out, err
}

// GetCopy returns a copy of the unit.
func (s *Store) GetCopy(ctx context.Context, tenant, unit string, id int64) (*lifecycle.Copy, error) {
	return s.copyOf(ctx, s.pool, tenant, unit, id, false)
}

// CopyFilters are the states ListCopies can select, as of a date ($3, YYYY-MM-DD in Asia/Seoul,
// which every filter names so that its type is known).
var CopyFilters = map[string]string{
	"":          `$3::date IS NOT NULL`,
	"out":       `c.state = 1 AND $3::date IS NOT NULL`,
	"overdue":   `c.state = 1 AND c.due_date < $3::date`,
	"destroyed": `c.state = 2 AND $3::date IS NOT NULL`,
	"returned":  `c.state = 3 AND $3::date IS NOT NULL`,
}

// ListCopies pages through the unit's copies by id, those in state (a key of CopyFilters) on
// today.
func (s *Store) ListCopies(ctx context.Context, tenant, unit, state, today string, size int, after int64) ([]*lifecycle.Copy, int64, error) {
	rows, err := s.pool.Query(ctx, selectCopy+` WHERE c.tenant_id = $1 AND c.unit_id = $2 AND `+CopyFilters[state]+
		` AND c.copy_id > $4 ORDER BY c.copy_id LIMIT $5`, tenant, unit, today, after, size+1)
	if err != nil {
		return nil, 0, err
	}
	return page(rows, size, func(r pgx.Rows) (*lifecycle.Copy, error) { return scanCopy(r, tenant) },
		func(x *lifecycle.Copy) int64 { return x.ID })
}

// RecordOutcome adds an outcome to a copy under a row lock: fn gets the copy (after the etag, if
// given, is checked) and returns the outcome, whose entries go to the outbox with it, in order.
// The copy changes when they are delivered (Delivered), never before. It returns the copy and
// the outbox ids; a retry of a call that succeeded (idem) returns the copy and no ids.
func (s *Store) RecordOutcome(ctx context.Context, tenant, unit string, id int64, tag string, idem Idem, fn func(c *lifecycle.Copy) (*lifecycle.Outcome, error)) (out *lifecycle.Copy, outbox []int64, err error) {
	reread := func(tx pgx.Tx) (err error) {
		out, err = s.copyOf(ctx, tx, tenant, unit, id, false)
		return err
	}
	err = s.change(ctx, tenant, idem, func(tx pgx.Tx) (string, error) {
		c, err := s.copyOf(ctx, tx, tenant, unit, id, true)
		if err != nil {
			return "", err
		}
		if tag != "" && tag != c.Doc.GetEtag() {
			return "", apierr.EtagMismatch(c.Doc.GetName())
		}
		o, err := fn(c)
		if err != nil {
			return "", err
		}
		amendment, err := s.queue(ctx, tx, tenant, unit, o.Amendment, 0)
		if err != nil {
			return "", err
		}
		outbox = []int64{amendment}
		var destruction *int64
		if o.Destruction != nil {
			d, err := s.queue(ctx, tx, tenant, unit, o.Destruction, amendment)
			if err != nil {
				return "", err
			}
			destruction, outbox = &d, append(outbox, d)
		}
		od := proto.Clone(o.Doc).(*retentionv1.CopyOutcome)
		od.LedgerIndex, od.DestructionLedgerIndex = 0, 0
		odoc, err := marshal(od)
		if err != nil {
			return "", err
		}
		var due *string
		if o.DueDate != "" {
			due = &o.DueDate
		}
		if _, err := tx.Exec(ctx, `INSERT INTO retention.copy_outcomes (tenant_id, copy_id, seq, doc, new_state, new_due_date,
			outbox_id, destruction_outbox_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			tenant, id, len(c.Doc.GetOutcomes())+1, odoc, int16(o.State), due, amendment, destruction); err != nil {
			return "", err
		}
		if _, err := tx.Exec(ctx, `UPDATE retention.copies SET revision = revision + 1 WHERE tenant_id = $1 AND copy_id = $2`,
			tenant, id); err != nil {
			return "", err
		}
		return c.Doc.GetName(), reread(tx)
	}, reread)
	return out, outbox, err
}

// RemindOverdue records a reminder, at most one a day, for every copy out past its due date
// (today, YYYY-MM-DD in Asia/Seoul), and, with an outbound, writes in the same transaction the
// mail that sends it to the recipient's address (C-9), once per reminder. It returns how many.
func (s *Store) RemindOverdue(ctx context.Context, today string) (int64, error) {
	now := s.clock()
	var total int64
	for {
		var n int64
		err := pgdb.InTx(ctx, s.pool, func(tx pgx.Tx) error {
			rows, err := tx.Query(ctx, `UPDATE retention.copies SET reminders = reminders + 1, last_reminder_time = $2
				WHERE (tenant_id, copy_id) IN (SELECT tenant_id, copy_id FROM retention.copies WHERE state = 1
					AND due_date < $1::date AND (last_reminder_time IS NULL
						OR (last_reminder_time AT TIME ZONE 'Asia/Seoul')::date < $1::date)
					LIMIT 1000 FOR UPDATE SKIP LOCKED)
				RETURNING tenant_id, unit_id, copy_id, reminders, due_date::text, coalesce(doc->>'recipient', ''),
					coalesce(doc->>'recipientEmail', ''), coalesce(doc->>'description', '')`, today, now)
			if err != nil {
				return err
			}
			due, err := pgx.CollectRows(rows, pgx.RowToStructByPos[lifecycle.Reminder])
			if err != nil {
				return err
			}
			n = int64(len(due))
			if s.out == nil {
				return nil
			}
			for _, r := range due {
				// The copy fell overdue: told once per due date (an extension sets another).
				first, err := s.out.Once(ctx, tx, r.Tenant, "copy-overdue/"+names.Copies.NameN(r.Tenant, r.Unit, r.Copy)+"/"+r.DueDate)
				if err != nil {
					return err
				}
				if first {
					if err := s.copyEvent(ctx, tx, r.Tenant, r.Unit, r.Copy, outbound.CopyOverdue, map[string]any{
						"dueDate": r.DueDate, "reminders": r.Count}); err != nil {
						return err
					}
				}
				if r.Email == "" {
					continue
				}
				payload, err := mail.Message{To: r.Email, Subject: r.Subject(), Text: r.Text()}.Payload()
				if err != nil {
					return err
				}
				if _, err := s.out.Enqueue(ctx, tx, r.Tenant, outbound.Message{Channel: outbound.Mail, Target: "copy-recipient",
					Subject: names.Copies.NameN(r.Tenant, r.Unit, r.Copy), Label: fmt.Sprintf("reminder/%d", r.Count),
					Payload: payload, Personal: true}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return total, err
		}
		total += n
		if n == 0 {
			return total, nil
		}
	}
}

// Queued names an outbox entry to deliver.
type Queued struct {
	Tenant string
	ID     int64
}

// CheckPublicCopies records the quarter's check of public recipients' replies (C-9) for every
// unit that gave copies to public bodies: the copies still out and how many are overdue; and
// queues entry(copy), its AMENDMENT, for each copy still out. A quarter is recorded once per
// unit, with its entries, in one transaction, so each copy is stated once a quarter. today is
// the date in Asia/Seoul. It returns the entries queued.
func (s *Store) CheckPublicCopies(ctx context.Context, quarter, today string, entry func(*lifecycle.Copy) *ledgerv1.AppendEntryRequest) ([]Queued, error) {
	var queued []Queued
	err := pgdb.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `INSERT INTO retention.copy_checks (tenant_id, unit_id, quarter, check_time, copies_out, overdue)
			SELECT tenant_id, unit_id, $1, $3,
				coalesce(array_agg('tenants/' || tenant_id || '/units/' || unit_id || '/copies/' || copy_id ORDER BY copy_id)
					FILTER (WHERE state = 1), '{}'),
				count(*) FILTER (WHERE state = 1 AND due_date < $2::date)
			FROM retention.copies WHERE public_recipient GROUP BY tenant_id, unit_id
			ON CONFLICT (tenant_id, unit_id, quarter) DO NOTHING RETURNING tenant_id, unit_id`, quarter, today, s.clock())
		if err != nil {
			return err
		}
		units, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) ([2]string, error) {
			var u [2]string
			return u, r.Scan(&u[0], &u[1])
		})
		if err != nil {
			return err
		}
		for _, u := range units {
			rows, err := tx.Query(ctx, selectCopy+` WHERE c.tenant_id = $1 AND c.unit_id = $2 AND c.public_recipient AND c.state = 1
				ORDER BY c.copy_id`, u[0], u[1])
			if err != nil {
				return err
			}
			copies, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*lifecycle.Copy, error) { return scanCopy(r, u[0]) })
			if err != nil {
				return err
			}
			for _, c := range copies {
				id, err := s.queue(ctx, tx, u[0], u[1], entry(c), 0)
				if err != nil {
					return err
				}
				queued = append(queued, Queued{Tenant: u[0], ID: id})
			}
		}
		return nil
	})
	return queued, err
}

// keyCache keeps the tenants' opened signer keys.
type keyCache struct {
	mu   sync.Mutex
	keys map[string]*lifecycle.TenantKey
}

// keyAD binds a sealed signer key to its tenant, so that a key row copied to another tenant does
// not open.
func keyAD(tenant string) []byte { return []byte("pipa/retention/signer-key/v1:" + tenant) }

// Key returns the tenant's certificate key, generating and storing it (sealed) on first use. Two
// replicas racing to create it both end up with the one inserted first.
func (s *Store) Key(ctx context.Context, tenant string) (*lifecycle.TenantKey, error) {
	s.keys.mu.Lock()
	k := s.keys.keys[tenant]
	s.keys.mu.Unlock()
	if k != nil {
		return k, nil
	}
	const sel = `SELECT signer_skey, verifier_key FROM retention.keys WHERE tenant_id = $1`
	var sealed []byte
	var vkey string
	err := s.pool.QueryRow(ctx, sel, tenant).Scan(&sealed, &vkey)
	if errors.Is(err, pgx.ErrNoRows) {
		if err := s.newKey(ctx, tenant); err != nil {
			return nil, err
		}
		err = s.pool.QueryRow(ctx, sel, tenant).Scan(&sealed, &vkey)
	}
	if err != nil {
		return nil, fmt.Errorf("retention store: read key for tenant %s: %w", tenant, err)
	}
	skey, err := s.box.Open(sealed, keyAD(tenant))
	if err != nil {
		return nil, fmt.Errorf("retention store: open key for tenant %s: %w", tenant, err)
	}
	signer, err := note.NewSigner(string(skey))
	if err != nil {
		return nil, err
	}
	k = &lifecycle.TenantKey{Signer: signer, Verifier: vkey}
	s.keys.mu.Lock()
	if s.keys.keys == nil {
		s.keys.keys = map[string]*lifecycle.TenantKey{}
	}
	s.keys.keys[tenant] = k
	s.keys.mu.Unlock()
	return k, nil
}

// VerifierKey returns the verifier key of the tenant's certificates; NotFound until the tenant's
// first certificate made it.
func (s *Store) VerifierKey(ctx context.Context, tenant string) (string, error) {
	var vkey string
	err := s.pool.QueryRow(ctx, `SELECT verifier_key FROM retention.keys WHERE tenant_id = $1`, tenant).Scan(&vkey)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", apierr.NotFound(names.TenantResource(tenant, "retention/key"))
	}
	return vkey, err
}

// newKey generates the tenant's key and stores it sealed, unless another replica did first.
func (s *Store) newKey(ctx context.Context, tenant string) error {
	skey, vkey, err := note.GenerateKey(rand.Reader, s.host+"/"+names.TenantResource(tenant, "retention"))
	if err != nil {
		return fmt.Errorf("retention store: generate key for tenant %s: %w", tenant, err)
	}
	sealed, err := s.box.Seal([]byte(skey), keyAD(tenant))
	if err != nil {
		return err
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO retention.keys (tenant_id, signer_skey, verifier_key) VALUES ($1, $2, $3)
		ON CONFLICT (tenant_id) DO NOTHING`, tenant, sealed, vkey)
	return err
}
