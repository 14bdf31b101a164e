package registry

import (
	"context"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	registryv1 "github.com/pipa-kr/pipa/pkg/gen/pipa/registry/v1"
)

// registerMetrics exports the registers' open duties per tenant and state (due, overdue), as the
// tenant's obligations list counts its source "registry", for the alert on overdue ones
// (deploy/monitoring). The registers' only, by choice: the requests, breaches and retention
// export their own gauges from their own databases (pipa_requests_open,
// pipa_requests_breaches_open, pipa_retention_overdue), each with its alert; asking those services
// at every scrape, as the list does per call, would make a scrape as slow as the slowest service
// and count their duties twice. The registry dashboard shows them side by side per tenant.
func registerMetrics(s *Server) error {
	m := otel.Meter("github.com/pipa-kr/pipa/services/registry")
	g, err := m.Int64ObservableGauge("pipa.registry.obligations",
		metric.WithDescription("open duties of the registers per tenant, due or overdue (DEC-34-1, DEC-38-2, PIPA-11의2, PIPA-26-4, DEC-32-2, S-4); not the requests', breaches' or retention's"))
	if err != nil {
		return err
	}
	_, err = m.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		tenants, err := s.store.TenantsWithUnits(ctx)
		if err != nil {
			return err
		}
		for _, t := range tenants {
			os, err := s.obligations(ctx, t, "")
			if err != nil {
				return err
			}
			var due, overdue int64
			for _, ob := range os {
				switch ob.GetState() {
				case registryv1.DeadlineState_DEADLINE_STATE_DUE:
					due++
				case registryv1.DeadlineState_DEADLINE_STATE_OVERDUE:
					overdue++
				}
			}
			o.ObserveInt64(g, due, metric.WithAttributes(attribute.String("tenant", t), attribute.String("state", "due")))
			o.ObserveInt64(g, overdue, metric.WithAttributes(attribute.String("tenant", t), attribute.String("state", "overdue")))
		}
		return nil
	}, g)
	return err
}
