package retention

import (
	"context"
	"time"

	"github.com/pipa-kr/pipa/services/retention/store/pg"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// registerMetrics publishes, at each scrape, every unit's items not yet destroyed by state
// (pipa.retention.items{tenant, unit, state=retained|due|held|planned}) and what is past
// STD-10-1's 5 days (pipa.retention.overdue{tenant, unit, kind=items|plans|copies}, copies being
// those past their destruction due date, C-9). The outbox publishes its own
// (pipa.retention.ledger_pending, _failed and _refused{tenant, kind}, pkg/ledgerout).
func registerMetrics(store *pg.Store, now func() time.Time) error {
	m := otel.Meter("github.com/pipa-kr/pipa/services/retention")
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
		return nil
	}, items, overdue)
	return err
}
