package pg

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"

	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
	"github.com/pipa-kr/pipa/pkg/ledgerout"
)

// Changes is the ledger entry that the store writes, through the outbox and in the transaction
// of the change, when a child of one kind is created, updated or deleted (S-5: an officer's roles
// granted, changed or revoked), so that no change is made without its record.
type Changes struct {
	Kind Kind
	// New returns an empty message of Kind, to read the child as it was.
	New func() proto.Message
	// Entry is the entry of the change to the child name from before to after (nil when created
	// or deleted); nil when the change records nothing.
	Entry func(ctx context.Context, name string, before, after proto.Message) *ledgerv1.AppendEntryRequest
	// Deliver appends the outbox's entry id after the commit, when it can.
	Deliver func(ctx context.Context, tenant string, id int64)
}

// WithChanges records the changes c describes, one Changes per kind; it needs WithOutbox.
func WithChanges(cs ...Changes) Option {
	return func(s *Store) {
		s.changes = map[Kind]*Changes{}
		for _, c := range cs {
			s.changes[c.Kind] = &c
		}
	}
}

// lockedChild reads, for Changes, the child as it is in tx (which holds its row lock); nil when
// changes of kind are not recorded.
func (s *TenantStore) lockedChild(ctx context.Context, tx pgx.Tx, kind Kind, unitID, id string) (proto.Message, error) {
	c := s.changes[kind]
	if c == nil {
		return nil, nil
	}
	var data []byte
	if err := tx.QueryRow(ctx, `SELECT data FROM registry.unit_resources
		WHERE tenant_id = $1 AND unit_id = $2 AND kind = $3 AND id = $4`, s.tenant, unitID, kind, id).Scan(&data); err != nil {
		return nil, fmt.Errorf("pg: read %s/%s: %w", kind, id, err)
	}
	m := c.New()
	return m, decode(data, m)
}

// recordChange writes the entry of a change from before to after to the outbox in tx, and returns
// its id (0 when the change records nothing).
func (s *TenantStore) recordChange(ctx context.Context, tx pgx.Tx, kind Kind, unitID, name string, before, after proto.Message) (int64, error) {
	c := s.changes[kind]
	if c == nil {
		return 0, nil
	}
	req := c.Entry(ctx, name, before, after)
	if req == nil {
		return 0, nil
	}
	if s.outbox == nil {
		return 0, errors.New("pg: recording changes needs the ledger outbox (WithOutbox)")
	}
	return s.outbox.Enqueue(ctx, tx, s.tenant, ledgerout.Entry{Unit: unitID, Append: req, Subject: name})
}

// deliverChange delivers the entry recordChange wrote, after its transaction committed; in a
// caller's transaction (InTx), which has not, the outbox's drain delivers it.
func (s *TenantStore) deliverChange(ctx context.Context, kind Kind, id int64) {
	if _, inTx := s.db.(pgx.Tx); inTx {
		return
	}
	if c := s.changes[kind]; id != 0 && c != nil && c.Deliver != nil {
		c.Deliver(ctx, s.tenant, id)
	}
}
