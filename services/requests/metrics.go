package requests

import (
	"context"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/pipa-kr/pipa/pkg/seoul"
	"github.com/pipa-kr/pipa/services/requests/store/pg"
)

// registerMetrics publishes, at each scrape, the undecided requests of every unit by where they
// stand on the statutory clock (pipa.requests.open{tenant, unit, clock=overdue|due_soon|on_time},
// the D-3 and overdue views as metrics), and the open breaches by where their 72-hour clocks stand
// (pipa.requests.breaches_open, due_soon: within 24 hours) and their subjects a notice did not
// reach, not posted for (pipa.requests.breach_subjects_unreached, DEC-39-3). The outbox publishes its own (pipa.requests.ledger_*,
// pkg/ledgerout), and the provided copies given up on their way to the retention service
// (pipa.requests.copy_handoffs_failed, which should stay 0: each copy is untracked until an
// operator registers it).
func registerMetrics(store *pg.Store, now func() time.Time) error {
	m := otel.Meter("github.com/pipa-kr/pipa/services/requests")
	open, err := m.Int64ObservableGauge("pipa.requests.open",
		metric.WithDescription("undecided requests per unit: overdue, due within 3 days (D-3), or on time"))
	if err != nil {
		return err
	}
	breaches, err := m.Int64ObservableGauge("pipa.requests.breaches_open",
		metric.WithDescription("open breaches per unit (PIPA 34): a notice or report overdue, one due within 24 hours, or on time"))
	if err != nil {
		return err
	}
	unreached, err := m.Int64ObservableGauge("pipa.requests.breach_subjects_unreached",
		metric.WithDescription("subjects of open breaches whom a notice pipa sent did not reach (given up), less those reached another way, while the breach is not posted (DEC-39-3)"))
	if err != nil {
		return err
	}
	handOffs, err := m.Int64ObservableGauge("pipa.requests.copy_handoffs_failed",
		metric.WithDescription("provided copies never handed to the retention service (C-9): refused, or their PROVISION entry never reached the ledger"))
	if err != nil {
		return err
	}
	_, err = m.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		failed, err := store.FailedCopyHandOffs(ctx)
		if err != nil {
			return err
		}
		o.ObserveInt64(handOffs, failed)
		bcounts, err := store.BreachCounts(ctx, "", now())
		if err != nil {
			return err
		}
		for _, c := range bcounts {
			at := func(clock string) metric.ObserveOption {
				return metric.WithAttributes(attribute.String("tenant", c.Tenant), attribute.String("unit", c.Unit), attribute.String("clock", clock))
			}
			o.ObserveInt64(breaches, c.Overdue, at("overdue"))
			o.ObserveInt64(breaches, c.DueSoon, at("due_soon"))
			o.ObserveInt64(breaches, c.OnTime, at("on_time"))
			o.ObserveInt64(unreached, c.Unreached, metric.WithAttributes(attribute.String("tenant", c.Tenant), attribute.String("unit", c.Unit)))
		}
		counts, err := store.OpenCounts(ctx, seoul.Date(now()))
		if err != nil {
			return err
		}
		for _, c := range counts {
			at := func(clock string) metric.ObserveOption {
				return metric.WithAttributes(attribute.String("tenant", c.Tenant), attribute.String("unit", c.Unit), attribute.String("clock", clock))
			}
			o.ObserveInt64(open, c.Overdue, at("overdue"))
			o.ObserveInt64(open, c.DueSoon, at("due_soon"))
			o.ObserveInt64(open, c.Other, at("on_time"))
		}
		return nil
	}, open, breaches, unreached, handOffs)
	return err
}
