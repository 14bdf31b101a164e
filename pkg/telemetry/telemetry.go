// Package telemetry sets up OpenTelemetry for a pipa process, configured by the standard OTEL_*
// variables so that any collector and backend works: the resource (OTEL_SERVICE_NAME, default
// pipa-{target}; OTEL_RESOURCE_ATTRIBUTES), traces exported when OTEL_TRACES_EXPORTER or an OTLP
// endpoint is set (OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT, _PROTOCOL, _HEADERS; through
// contrib's autoexport, which reads them as the specification says), the sampler
// (OTEL_TRACES_SAMPLER), the propagators (OTEL_PROPAGATORS, default W3C trace context and
// baggage, through autoprop), and metrics exposed as Prometheus text for /metrics, and pushed as
// well when OTEL_METRICS_EXPORTER names an exporter such as otlp. One journey is one trace across
// the gateway, the services and PostgreSQL (otelpgx).
//
// The server side of the edge (HTTP, GRPCServer) is this package's own rather than otelhttp's
// handler and otelgrpc's server stats handler, whose per-call work options cannot turn off cost
// 5–13 % of an append (services/ledger/BENCHMARKS.md, issue 18); calls to other processes keep
// otelgrpc's client handler.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/contrib/propagators/autoprop"
	"go.opentelemetry.io/otel"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
)

// Telemetry holds the providers of one process.
type Telemetry struct {
	// Metrics serves the Prometheus text format.
	Metrics http.Handler
	// Tracer is the process's tracer provider, which its instrumentation is given explicitly: it
	// is not installed globally, so that several processes in one test binary (pkg/stacktest)
	// keep their traces apart. The meter provider is global: a test that reads /metrics does not
	// run in parallel with another.
	Tracer   trace.TracerProvider
	shutdown []func(context.Context) error
}

// Setup makes the tracer provider and installs the global meter provider and propagator, for a
// process named service unless OTEL_SERVICE_NAME names it. Spans go to the exporter the OTEL_*
// variables configure, if any, and to the given processors (tests record them in memory).
func Setup(ctx context.Context, service string, processors ...sdktrace.SpanProcessor) (*Telemetry, error) {
	// Later sources win: the environment's service name and attributes over pipa's default.
	res, err := resource.New(ctx, resource.WithAttributes(semconv.ServiceName(service)),
		resource.WithTelemetrySDK(), resource.WithFromEnv())
	if err != nil {
		return nil, fmt.Errorf("telemetry: OTEL_RESOURCE_ATTRIBUTES or OTEL_SERVICE_NAME: %w", err)
	}

	tpOpts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	for _, p := range processors {
		tpOpts = append(tpOpts, sdktrace.WithSpanProcessor(p))
	}
	exporting := false
	if os.Getenv("OTEL_TRACES_EXPORTER") != "" || os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "" {
		exp, err := autoexport.NewSpanExporter(ctx)
		if err != nil {
			return nil, fmt.Errorf("telemetry: %w", err)
		}
		if exporting = !autoexport.IsNoneSpanExporter(exp); exporting {
			tpOpts = append(tpOpts, sdktrace.WithBatcher(exp))
		}
	}
	if !exporting && len(processors) == 0 {
		// Nothing would receive the spans: keep trace ids (logs and propagation carry them) but
		// record nothing, which costs about a tenth of a busy process's CPU otherwise.
		tpOpts = append(tpOpts, sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.NeverSample())))
	}
	tp := sdktrace.NewTracerProvider(tpOpts...)

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	exp, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return nil, err
	}
	mpOpts := []sdkmetric.Option{sdkmetric.WithResource(res), sdkmetric.WithReader(exp)}
	// /metrics is always served; OTEL_METRICS_EXPORTER=otlp (or console) pushes as well.
	if v := os.Getenv("OTEL_METRICS_EXPORTER"); v != "" && v != "none" && v != "prometheus" {
		r, err := autoexport.NewMetricReader(ctx)
		if err != nil {
			return nil, fmt.Errorf("telemetry: %w", err)
		}
		mpOpts = append(mpOpts, sdkmetric.WithReader(r))
	}
	mp := sdkmetric.NewMeterProvider(mpOpts...)

	otel.SetMeterProvider(mp)
	otel.SetTextMapPropagator(autoprop.NewTextMapPropagator())
	return &Telemetry{
		Metrics:  promhttp.HandlerFor(reg, promhttp.HandlerOpts{}),
		Tracer:   tp,
		shutdown: []func(context.Context) error{tp.Shutdown, mp.Shutdown},
	}, nil
}

// Shutdown flushes and stops the providers.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	var errs []error
	for _, f := range t.shutdown {
		errs = append(errs, f(ctx))
	}
	return errors.Join(errs...)
}
