package telemetry

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Reasons an audit event is lost, the values of the reason label of
// dokkumcp_audit_append_failures_total.
const (
	// AuditDropAppendFailed: Tenancy's AppendAuditEvent returned an error.
	AuditDropAppendFailed = "append_failed"
	// AuditDropQueueFull: an asynchronous appender's queue was full.
	AuditDropQueueFull = "queue_full"
	// AuditDropShutdown: the service stopped before the event was appended.
	AuditDropShutdown = "shutdown"
	// AuditDropRateLimited: an appender limits the events one key may cause,
	// and the key was over its limit.
	AuditDropRateLimited = "rate_limited"
)

// AuditMetrics records a service's appends to the audit ledger, under names
// that every appending service shares so that one alert covers them all:
//   - dokkumcp_audit_append_duration_seconds (histogram; result ok or error)
//   - dokkumcp_audit_append_failures_total (counter; reason, one of the
//     AuditDrop constants)
//
// Both have at most a handful of series per pod: neither carries a tenant.
// A nil *AuditMetrics records nothing.
type AuditMetrics struct {
	duration metric.Float64Histogram
	failures metric.Int64Counter
}

// NewAuditMetrics creates the audit instruments on meter.
func NewAuditMetrics(meter metric.Meter) (*AuditMetrics, error) {
	duration, err := meter.Float64Histogram("dokkumcp_audit_append_duration_seconds",
		metric.WithUnit("s"),
		metric.WithDescription("Duration of AppendAuditEvent calls to Tenancy, by result (ok, error)."),
		metric.WithExplicitBucketBoundaries(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10))
	if err != nil {
		return nil, err
	}
	failures, err := meter.Int64Counter("dokkumcp_audit_append_failures",
		metric.WithDescription("Audit events that were not appended, by reason (append_failed, queue_full, shutdown, rate_limited)."))
	if err != nil {
		return nil, err
	}
	// Every reason starts at zero, so that the series exist and rate()
	// counts the first failure.
	for _, reason := range []string{AuditDropAppendFailed, AuditDropQueueFull, AuditDropShutdown, AuditDropRateLimited} {
		failures.Add(context.Background(), 0, metric.WithAttributes(attribute.String("reason", reason)))
	}
	return &AuditMetrics{duration: duration, failures: failures}, nil
}

// Appended records one AppendAuditEvent call that started at start and
// ended with err. A failed call also counts as an append_failed failure.
func (m *AuditMetrics) Appended(ctx context.Context, start time.Time, err error) {
	if m == nil {
		return
	}
	result := "ok"
	if err != nil {
		result = "error"
		m.Dropped(ctx, AuditDropAppendFailed)
	}
	m.duration.Record(ctx, time.Since(start).Seconds(), metric.WithAttributes(attribute.String("result", result)))
}

// Dropped counts one event lost for reason.
func (m *AuditMetrics) Dropped(ctx context.Context, reason string) {
	if m == nil {
		return
	}
	m.failures.Add(ctx, 1, metric.WithAttributes(attribute.String("reason", reason)))
}
