// Package telemetry sets up OpenTelemetry tracing and metrics for a service:
// traces go to an OTLP endpoint when one is configured, metrics are served
// for Prometheus at /metrics.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"connectrpc.com/connect"
	"connectrpc.com/otelconnect"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	promexporter "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
)

// Telemetry holds one service's tracer and meter providers. Each service
// gets its own, even when several run in one process, so that spans and
// series name the right service.
type Telemetry struct {
	TracerProvider *sdktrace.TracerProvider
	MeterProvider  *sdkmetric.MeterProvider
	Propagator     propagation.TextMapPropagator
	registry       *prometheus.Registry
}

// Options configures Setup.
type Options struct {
	Service string
	// OTLPEndpoint, when set, receives traces over OTLP/HTTP.
	OTLPEndpoint string
	// SpanExporter, when set, receives traces too; tests use an in-memory one.
	SpanExporter sdktrace.SpanExporter
}

// Setup builds the providers for one service.
func Setup(ctx context.Context, opts Options) (*Telemetry, error) {
	res := resource.NewSchemaless(semconv.ServiceName(opts.Service))

	traceOpts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	if opts.OTLPEndpoint != "" {
		exporter, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(opts.OTLPEndpoint+"/v1/traces"))
		if err != nil {
			return nil, fmt.Errorf("create OTLP exporter for %q: %w", opts.OTLPEndpoint, err)
		}
		traceOpts = append(traceOpts, sdktrace.WithBatcher(exporter))
	}
	if opts.SpanExporter != nil {
		traceOpts = append(traceOpts, sdktrace.WithSyncer(opts.SpanExporter))
	}

	registry := prometheus.NewRegistry()
	exporter, err := promexporter.New(promexporter.WithRegisterer(registry))
	if err != nil {
		return nil, fmt.Errorf("create Prometheus exporter: %w", err)
	}

	return &Telemetry{
		TracerProvider: sdktrace.NewTracerProvider(traceOpts...),
		MeterProvider:  sdkmetric.NewMeterProvider(sdkmetric.WithResource(res), sdkmetric.WithReader(exporter)),
		Propagator:     propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
		registry:       registry,
	}, nil
}

// Tracer returns a named tracer from this service's provider.
func (t *Telemetry) Tracer(name string) trace.Tracer { return t.TracerProvider.Tracer(name) }

// TracerFrom returns a named tracer from the provider that started the span
// in ctx. Adapters use it to record child spans with their service's own
// provider without having it passed in: every traced call enters a service
// through the Connect interceptor or the MCP guard, which start that span.
// Without a span in ctx the tracer records nothing, because the work is not
// part of a traced call.
func TracerFrom(ctx context.Context, name string) trace.Tracer {
	return trace.SpanFromContext(ctx).TracerProvider().Tracer(name)
}

// Meter returns a named meter from this service's provider.
func (t *Telemetry) Meter(name string) metric.Meter { return t.MeterProvider.Meter(name) }

// MetricsHandler serves this service's metrics in the Prometheus text format.
func (t *Telemetry) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(t.registry, promhttp.HandlerOpts{})
}

// Interceptor returns the Connect interceptor that records a span and RPC
// metrics for every call, as a server and as a client. A server span is a
// child of the caller's span, so that one tool call makes one trace across
// the services. Callers can therefore choose the trace id of their calls,
// which are authenticated anyway.
func (t *Telemetry) Interceptor() (connect.Interceptor, error) {
	return otelconnect.NewInterceptor(
		otelconnect.WithTrustRemote(),
		otelconnect.WithTracerProvider(t.TracerProvider),
		otelconnect.WithMeterProvider(t.MeterProvider),
		otelconnect.WithPropagator(t.Propagator),
	)
}

// Shutdown flushes and stops both providers.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	return errors.Join(t.TracerProvider.Shutdown(ctx), t.MeterProvider.Shutdown(ctx))
}
