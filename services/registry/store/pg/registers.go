package pg

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/pipa-kr/pipa/pkg/apierr"
	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
	"github.com/pipa-kr/pipa/pkg/ledgerout"
	"github.com/pipa-kr/pipa/pkg/names"
)

// RecordKind is a register of registry.registers (migration 00003).
type RecordKind string

// The registers.
const (
	Registrations RecordKind = "registrations"  // *registryv1.Registration, id "{file}/{n}"
	Assessments   RecordKind = "assessments"    // *registryv1.ImpactAssessment
	Evaluations   RecordKind = "evaluations"    // *registryv1.ProtectionEvaluation, id the year
	Contracts     RecordKind = "contracts"      // *registryv1.ProcessorContract, id the processor's (migration 00004)
	InternalPlans RecordKind = "internal_plans" // *registryv1.InternalPlan (migration 00004)
	Notices       RecordKind = "notices"        // *registryv1.SubjectNotice, id "{processor}/{n}" (migration 00005)
)

// numbered are the registers numbered under a parent record, and their names.
var numbered = map[RecordKind]names.Numbered{Registrations: names.Registrations, Notices: names.Notices}

// RecordName is the resource name of a register's record.
func RecordName(t, u string, k RecordKind, id string) string {
	if c, ok := numbered[k]; ok {
		parent, n, _ := strings.Cut(id, "/")
		num, _ := strconv.ParseInt(n, 10, 64)
		return c.Name(names.Unit(t, u)+"/"+c.ParentPath()+"/"+parent, num)
	}
	if k == InternalPlans {
		return names.InternalPlans.Name(t, u, id)
	}
	return names.Unit(t, u) + "/" + string(k) + "/" + id
}

// ParseRecordName is RecordName backwards.
func ParseRecordName(name string) (t, u string, k RecordKind, id string, ok bool) {
	for k, c := range numbered {
		if t, u, p, n, err := c.Parse("name", name); err == nil {
			return t, u, k, p + "/" + strconv.FormatInt(n, 10), true
		}
	}
	if t, u, id, err := names.Assessments.Parse("name", name); err == nil {
		return t, u, Assessments, id, true
	}
	if t, u, id, err := names.Evaluations.Parse("name", name); err == nil {
		return t, u, Evaluations, id, true
	}
	if t, u, id, err := names.Contracts.Parse("name", name); err == nil {
		return t, u, Contracts, id, true
	}
	if t, u, id, err := names.InternalPlans.Parse("name", name); err == nil {
		return t, u, InternalPlans, id, true
	}
	return "", "", "", "", false
}

// EntryFor makes the REGISTER entry of a change to the record named name.
type EntryFor func(name string) *ledgerv1.AppendEntryRequest

// CreateRecord stores msg in the unit's register kind, under the id prepare returns (it runs in
// the transaction and may check what the record refers to), with its REGISTER entry in the
// outbox; both or neither are written. It returns the record's name and the entry's outbox id (0
// when idem's request was replayed: the first call wrote it).
func (s *TenantStore) CreateRecord(ctx context.Context, unitID string, kind RecordKind, prepare func(ctx context.Context, tx *TenantStore) (string, error),
	msg proto.Message, idem Idem, entry EntryFor) (name string, outboxID int64, err error) {
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		name, _, err = idempotent(ctx, tx, s.tenant, idem, func() (string, error) {
			id, err := prepare(ctx, s.with(tx))
			if err != nil {
				return "", err
			}
			name := RecordName(s.tenant, unitID, kind, id)
			now := clock(s.now)
			setMeta(msg, name, now, now, 1)
			data, err := encode(msg)
			if err != nil {
				return "", err
			}
			tag, err := tx.Exec(ctx, `INSERT INTO registry.registers
				(tenant_id, unit_id, kind, record_id, data, revision, create_time, update_time)
				VALUES ($1, $2, $3, $4, $5, 1, $6, $6) ON CONFLICT DO NOTHING`, s.tenant, unitID, kind, id, data, now)
			if isFKViolation(err) {
				return "", apierr.NotFound(names.Unit(s.tenant, unitID))
			}
			if err != nil {
				return "", fmt.Errorf("pg: create %s: %w", name, err)
			}
			if tag.RowsAffected() == 0 {
				return "", apierr.AlreadyExists(name)
			}
			outboxID, err = s.enqueue(ctx, tx, unitID, name, 1, entry)
			return name, err
		})
		return err
	})
	return name, outboxID, err
}

// UpdateRecord replaces the record's fields with msg's if etag is empty or its current etag, with
// its REGISTER entry in the outbox.
func (s *TenantStore) UpdateRecord(ctx context.Context, unitID string, kind RecordKind, id string, msg proto.Message, etag string, entry EntryFor) (int64, error) {
	name := RecordName(s.tenant, unitID, kind, id)
	var outboxID int64
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		m, err := lockRow(ctx, tx, name, etag, `SELECT revision, create_time FROM registry.registers
			WHERE tenant_id = $1 AND unit_id = $2 AND kind = $3 AND record_id = $4 FOR UPDATE`, s.tenant, unitID, kind, id)
		if err != nil {
			return err
		}
		m.bump(s.now)
		m.set(msg, name)
		data, err := encode(msg)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE registry.registers SET data = $5, revision = $6, update_time = $7
			WHERE tenant_id = $1 AND unit_id = $2 AND kind = $3 AND record_id = $4`,
			s.tenant, unitID, kind, id, data, m.revision, m.update); err != nil {
			return fmt.Errorf("pg: update %s: %w", name, err)
		}
		outboxID, err = s.enqueue(ctx, tx, unitID, name, m.revision, entry)
		return err
	})
	return outboxID, err
}

// enqueue writes the REGISTER entry of the record's revision in tx.
func (s *TenantStore) enqueue(ctx context.Context, tx pgx.Tx, unitID, name string, revision int64, entry EntryFor) (int64, error) {
	if s.outbox == nil {
		return 0, errors.New("pg: the registers need the ledger outbox (WithOutbox)")
	}
	return s.outbox.Enqueue(ctx, tx, s.tenant, ledgerout.Entry{Unit: unitID, Append: entry(name), Subject: name,
		Label: strconv.FormatInt(revision, 10)})
}

// GetRecord reads the record into msg.
func (s *TenantStore) GetRecord(ctx context.Context, unitID string, kind RecordKind, id string, msg proto.Message) error {
	name := RecordName(s.tenant, unitID, kind, id)
	var data []byte
	var m rowMeta
	err := s.db.QueryRow(ctx, `SELECT data, revision, create_time, update_time FROM registry.registers
		WHERE tenant_id = $1 AND unit_id = $2 AND kind = $3 AND record_id = $4`, s.tenant, unitID, kind, id).
		Scan(&data, &m.revision, &m.create, &m.update)
	if errors.Is(err, pgx.ErrNoRows) {
		return apierr.NotFound(name)
	}
	if err != nil {
		return fmt.Errorf("pg: get %s: %w", name, err)
	}
	if err := decode(data, msg); err != nil {
		return err
	}
	m.set(msg, name)
	return s.setLedgerEntries(ctx, []proto.Message{msg})
}

// ListRecords lists the register kind of the unit, or of the whole tenant when unitID is empty,
// by unit and id (registrations by file and number), making each with newMsg.
func (s *TenantStore) ListRecords(ctx context.Context, unitID string, kind RecordKind, newMsg func() proto.Message) ([]proto.Message, error) {
	rows, err := s.db.Query(ctx, `SELECT unit_id, record_id, data, revision, create_time, update_time FROM registry.registers
		WHERE tenant_id = $1 AND kind = $2 AND ($3 = '' OR unit_id = $3)
		ORDER BY unit_id, split_part(record_id, '/', 1), length(record_id), record_id`, s.tenant, kind, unitID)
	if err != nil {
		return nil, fmt.Errorf("pg: list %s: %w", kind, err)
	}
	var out []proto.Message
	err = forEachRow(rows, func(r pgx.Rows) error {
		var u, id string
		var data []byte
		var m rowMeta
		if err := r.Scan(&u, &id, &data, &m.revision, &m.create, &m.update); err != nil {
			return err
		}
		msg := newMsg()
		if err := decode(data, msg); err != nil {
			return err
		}
		m.set(msg, RecordName(s.tenant, u, kind, id))
		out = append(out, msg)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pg: list %s: %w", kind, err)
	}
	return out, s.setLedgerEntries(ctx, out)
}

// setLedgerEntries sets each record's ledger_entry: the ledger's entry of its latest change,
// once appended.
func (s *TenantStore) setLedgerEntries(ctx context.Context, msgs []proto.Message) error {
	if s.outbox == nil || len(msgs) == 0 {
		return nil
	}
	subjects := make([]string, len(msgs))
	for i, m := range msgs {
		subjects[i] = nameOf(m)
	}
	recs, err := s.outbox.Records(ctx, s.db, s.tenant, subjects)
	if err != nil {
		return fmt.Errorf("pg: ledger entries: %w", err)
	}
	for _, m := range msgs {
		rs := recs[nameOf(m)]
		if len(rs) == 0 {
			continue
		}
		last := rs[len(rs)-1]
		if last.Pending || last.Refusal != "" {
			continue
		}
		r := m.ProtoReflect()
		r.Set(r.Descriptor().Fields().ByName("ledger_entry"), protoValue(names.Entries.NameN(s.tenant, last.Unit, last.Index)))
	}
	return nil
}

// NextRegistration is the id of the file's next registration event (nextNumber). The file must
// exist.
func (s *TenantStore) NextRegistration(ctx context.Context, unitID, fileID string) (string, error) {
	tx, ok := s.db.(pgx.Tx)
	if !ok {
		return "", errors.New("pg: NextRegistration runs in a transaction")
	}
	var exists bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM registry.unit_resources
		WHERE tenant_id = $1 AND unit_id = $2 AND kind = 'files' AND id = $3 FOR SHARE)`, s.tenant, unitID, fileID).Scan(&exists); err != nil {
		return "", fmt.Errorf("pg: file: %w", err)
	}
	if !exists {
		return "", apierr.NotFound(names.Files.Name(s.tenant, unitID, fileID))
	}
	return s.nextNumber(ctx, tx, unitID, Registrations, fileID)
}

// NextNotice is the id of the contract's next notice (nextNumber), in a transaction; the caller
// checks the contract.
func (s *TenantStore) NextNotice(ctx context.Context, unitID, processorID string) (string, error) {
	tx, ok := s.db.(pgx.Tx)
	if !ok {
		return "", errors.New("pg: NextNotice runs in a transaction")
	}
	return s.nextNumber(ctx, tx, unitID, Notices, processorID)
}

// nextNumber is the id "{parent}/{n}" of the next record of a numbered register under parent,
// under a lock held until the transaction ends, so that two records never take one number.
func (s *TenantStore) nextNumber(ctx context.Context, tx pgx.Tx, unitID string, kind RecordKind, parent string) (string, error) {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lockKey(string(kind), s.tenant, unitID, parent)); err != nil {
		return "", fmt.Errorf("pg: lock %s: %w", kind, err)
	}
	var n int64
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM registry.registers
		WHERE tenant_id = $1 AND unit_id = $2 AND kind = $3 AND split_part(record_id, '/', 1) = $4`,
		s.tenant, unitID, kind, parent).Scan(&n); err != nil {
		return "", fmt.Errorf("pg: count %s: %w", kind, err)
	}
	return parent + "/" + strconv.FormatInt(n+1, 10), nil
}

// Files are the personal-information files of the unit, or of the whole tenant when unitID is
// empty, by unit and creation.
func (s *TenantStore) Files(ctx context.Context, unitID string) ([]*registryv1.PersonalInformationFile, error) {
	return resources[*registryv1.PersonalInformationFile](ctx, s, Files, unitID)
}

// Officers are the officers of the unit, or of the whole tenant when unitID is empty.
func (s *TenantStore) Officers(ctx context.Context, unitID string) ([]*registryv1.Officer, error) {
	return resources[*registryv1.Officer](ctx, s, Officers, unitID)
}

// Processors are the processors of the unit, or of the whole tenant when unitID is empty, by unit
// and creation.
func (s *TenantStore) Processors(ctx context.Context, unitID string) ([]*registryv1.Processor, error) {
	return resources[*registryv1.Processor](ctx, s, Processors, unitID)
}

func resources[M proto.Message](ctx context.Context, s *TenantStore, kind Kind, unitID string) ([]M, error) {
	rows, err := s.db.Query(ctx, `SELECT unit_id, id, data, revision, create_time, update_time FROM registry.unit_resources
		WHERE tenant_id = $1 AND kind = $2 AND ($3 = '' OR unit_id = $3) ORDER BY unit_id, create_time, id`, s.tenant, kind, unitID)
	if err != nil {
		return nil, fmt.Errorf("pg: %s: %w", kind, err)
	}
	var out []M
	err = forEachRow(rows, func(r pgx.Rows) error {
		var u, id string
		var data []byte
		var m rowMeta
		if err := r.Scan(&u, &id, &data, &m.revision, &m.create, &m.update); err != nil {
			return err
		}
		var zero M
		msg := zero.ProtoReflect().New().Interface().(M)
		if err := decode(data, msg); err != nil {
			return err
		}
		m.set(msg, collections[kind].Name(s.tenant, u, id))
		out = append(out, msg)
		return nil
	})
	return out, err
}

// LockProcessor checks, in a transaction, that the unit's processor exists and keeps it until the
// transaction ends.
func (s *TenantStore) LockProcessor(ctx context.Context, unitID, id string) error {
	var exists bool
	if err := s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM registry.unit_resources
		WHERE tenant_id = $1 AND unit_id = $2 AND kind = 'processors' AND id = $3 FOR SHARE)`, s.tenant, unitID, id).Scan(&exists); err != nil {
		return fmt.Errorf("pg: processor: %w", err)
	}
	if !exists {
		return apierr.NotFound(names.Processors.Name(s.tenant, unitID, id))
	}
	return nil
}

func nameOf(m proto.Message) string {
	r := m.ProtoReflect()
	return r.Get(r.Descriptor().Fields().ByName(fieldName)).String()
}

func protoValue(s string) protoreflect.Value { return protoreflect.ValueOfString(s) }

// TenantsWithUnits are the ids of the tenants that have a unit, for the metrics of every tenant.
func (s *Store) TenantsWithUnits(ctx context.Context) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT tenant_id FROM registry.units ORDER BY tenant_id`)
	if err != nil {
		return nil, fmt.Errorf("pg: tenants: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}
