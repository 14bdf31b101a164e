package ledgerout

import (
	"context"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	ledgerv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/ledger/v1"
)

func tenantAttr(t string) attribute.KeyValue           { return attribute.String("tenant", t) }
func kindAttr(k ledgerv1.EntryKind) attribute.KeyValue { return attribute.String("kind", kindName(k)) }

// registerMetrics publishes, with the service's prefix, the entries written but not yet in the
// ledger ({prefix}.ledger_pending, which grows while the ledger is out), those refused for good
// ({prefix}.ledger_failed, which should stay 0: each needs an operator), and counts each refusal
// as it happens ({prefix}.ledger_refused{tenant, kind}).
func (o *Outbox) registerMetrics() error {
	if o.cfg.Metrics == "" {
		return nil
	}
	m := otel.Meter("github.com/pipa-kr/pipa/pkg/ledgerout")
	var err error
	if o.refusals, err = m.Int64Counter(o.cfg.Metrics+".ledger_refused",
		metric.WithDescription("ledger entries refused for good (InvalidArgument or FailedPrecondition), each with the entries that waited on it")); err != nil {
		return err
	}
	pending, err := m.Int64ObservableGauge(o.cfg.Metrics+".ledger_pending",
		metric.WithDescription("ledger entries written but not yet appended (the outbox's backlog)"))
	if err != nil {
		return err
	}
	failed, err := m.Int64ObservableGauge(o.cfg.Metrics+".ledger_failed",
		metric.WithDescription("ledger entries the ledger refused for good: each needs an operator"))
	if err != nil {
		return err
	}
	_, err = m.RegisterCallback(func(ctx context.Context, obs metric.Observer) error {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		var p, f int64
		if err := o.cfg.Pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE refuse_time IS NULL), count(*) FILTER (WHERE refuse_time IS NOT NULL)
			FROM `+o.table()+` WHERE ledger_index IS NULL`).Scan(&p, &f); err != nil {
			return err
		}
		obs.ObserveInt64(pending, p)
		obs.ObserveInt64(failed, f)
		return nil
	}, pending, failed)
	return err
}
