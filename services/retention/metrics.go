package retention

import (
	"context"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// registerMetrics publishes, at each scrape, every unit's items not yet destroyed by state
// (pipa.retention.items{tenant, unit, state=retained|due|held|planned}), what is past STD-10-1's
// 5 days (pipa.retention.overdue{tenant, unit, kind=items|plans|copies}, copies being those past
// their destruction due date, C-9), and the outbox's backlog (pipa.retention.ledger_pending),
// which grows while the ledger is out; and it gives srv the counter of the entries the ledger
// refused for good (pipa.retention.ledger_refused{tenant, kind}), whose changes were undone.
func registerMetrics(srv *Server) error {
	store, now := srv.store, srv.now
	m := otel.Meter("github.com/pipa-kr/pipa/services/retention")
	refusals, err := m.Int64Counter("pipa.retention.ledger_refused",
		metric.WithDescription("ledger entries refused for good (invalid): the destruction or copy outcome they recorded was undone"))
	if err != nil {
		return err
	}
	srv.refusals = refusals
	items, err := m.Int64ObservableGauge("pipa.retention.items",
		metric.WithDescription("items not yet destroyed per unit: retained, due, held, planned"))
	if err != nil {
		return err
	}
	overdue, err := m.Int64ObservableGauge("pipa.retention.overdue",
		metric.WithDescription("items and plans not destroyed 5 days after their due time (STD-10-1), and copies out past their destruction due date (C-9)"))
	if err != nil {
		return err
	}
	pending, err := m.Int64ObservableGauge("pipa.retention.ledger_pending",
		metric.WithDescription("destructions and copy outcomes whose ledger entry is not yet appended (outbox backlog)"))
	if err != nil {
		return err
	}
	_, err = m.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		counts, err := store.AllCounts(ctx, now())
		if err != nil {
			return err
		}
		for _, c := range counts {
			at := func(k, v string) metric.ObserveOption {
				return metric.WithAttributes(attribute.String("tenant", c.Tenant), attribute.String("unit", c.Unit), attribute.String(k, v))
			}
			o.ObserveInt64(items, c.Retained, at("state", "retained"))
			o.ObserveInt64(items, c.Due, at("state", "due"))
			o.ObserveInt64(items, c.Held, at("state", "held"))
			o.ObserveInt64(items, c.Planned, at("state", "planned"))
			o.ObserveInt64(overdue, c.Overdue, at("kind", "items"))
			o.ObserveInt64(overdue, c.PlansOverdue, at("kind", "plans"))
			o.ObserveInt64(overdue, c.CopiesOverdue, at("kind", "copies"))
		}
		n, err := store.PendingEntries(ctx)
		if err != nil {
			return err
		}
		o.ObserveInt64(pending, n)
		return nil
	}, items, overdue, pending)
	return err
}
