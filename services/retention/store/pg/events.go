package pg

import (
	"context"

	"github.com/jackc/pgx/v5"

	retentionv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/retention/v1"
	"github.com/pipa-kr/pipa/pkg/names"
	"github.com/pipa-kr/pipa/pkg/outbound"
	"github.com/pipa-kr/pipa/services/retention/lifecycle"
)

// relay writes e in tx for the request service's subscriptions (outbound.Relay), when the store
// has an outbound: an event exists exactly when the change it tells of committed.
func (s *Store) relay(ctx context.Context, tx pgx.Tx, tenant string, e outbound.Event) error {
	if s.out == nil {
		return nil
	}
	_, err := s.out.Relay(ctx, tx, tenant, e)
	return err
}

// planEvents are the events of a plan's states.
var planEvents = map[retentionv1.PlanState]string{
	retentionv1.PlanState_PLAN_STATE_APPROVED:  outbound.PlanApproved,
	retentionv1.PlanState_PLAN_STATE_COMPLETED: outbound.PlanCompleted,
}

// planEvent relays the event of p's new state, if it has one and p came to it from another.
func (s *Store) planEvent(ctx context.Context, tx pgx.Tx, p *lifecycle.Plan, from retentionv1.PlanState) error {
	d := p.Doc
	typ, ok := planEvents[d.GetState()]
	if !ok || from == d.GetState() {
		return nil
	}
	return s.relay(ctx, tx, p.Tenant, outbound.Event{Unit: p.Unit, Type: typ, Subject: d.GetName(),
		Data: map[string]any{"plan": d.GetName(), "state": d.GetState().String(), "items": d.GetItemCount()}})
}

// copyEvent relays the event of a copy given to another body.
func (s *Store) copyEvent(ctx context.Context, tx pgx.Tx, tenant, unit string, copy int64, typ string, data map[string]any) error {
	name := names.Copies.NameN(tenant, unit, copy)
	data["copy"] = name
	return s.relay(ctx, tx, tenant, outbound.Event{Unit: unit, Type: typ, Subject: name, Data: data})
}
