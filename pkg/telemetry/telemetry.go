// Package telemetry sets up OpenTelemetry for a pipa process: traces exported by OTLP when
// OTEL_EXPORTER_OTLP_ENDPOINT is set (the standard variable, so any collector works), and metrics
// exposed as Prometheus text for /metrics. W3C trace context is propagated so that one journey
// is one trace across the gateway, the services and PostgreSQL (otelpgx).
package telemetry

import (
	"context"
	"errors"
	"net/http"
	"os"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/propagation"
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

// Setup makes the tracer provider and installs the global meter provider, named after service. Spans go to the OTLP
// exporter when one is configured and to the given processors (tests record them in memory).
func Setup(ctx context.Context, service string, processors ...sdktrace.SpanProcessor) (*Telemetry, error) {
	res := resource.NewSchemaless(semconv.ServiceName(service))

	tpOpts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	for _, p := range processors {
		tpOpts = append(tpOpts, sdktrace.WithSpanProcessor(p))
	}
	if os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "" {
		exp, err := otlptracegrpc.New(ctx)
		if err != nil {
			return nil, err
		}
		tpOpts = append(tpOpts, sdktrace.WithBatcher(exp))
	} else if len(processors) == 0 {
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
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithResource(res), sdkmetric.WithReader(exp))

	otel.SetMeterProvider(mp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
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
