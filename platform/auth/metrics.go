package auth

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// errRevoked marks a token rejected by the revocation list.
var errRevoked = errors.New("revoked")

// verifierMetrics count verifications by result: ok, invalid, or revoked.
type verifierMetrics struct {
	verifications metric.Int64Counter
	duration      metric.Float64Histogram
}

// newVerifierMetrics returns nil without a meter, or when the instruments
// cannot be created, which it logs: verification does not depend on them.
func newVerifierMetrics(meter metric.Meter, logger *slog.Logger) *verifierMetrics {
	if meter == nil {
		return nil
	}
	verifications, err := meter.Int64Counter("dokkumcp_auth_token_verifications",
		metric.WithDescription("Access token verifications by result (ok, invalid, revoked)."))
	if err == nil {
		var duration metric.Float64Histogram
		duration, err = meter.Float64Histogram("dokkumcp_auth_token_verification_duration_seconds",
			metric.WithUnit("s"),
			metric.WithDescription("Duration of access token verifications, key set and revocation list fetches included."),
			metric.WithExplicitBucketBoundaries(0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.005, 0.025, 0.1, 0.5, 2.5))
		if err == nil {
			return &verifierMetrics{verifications: verifications, duration: duration}
		}
	}
	if logger != nil {
		logger.Error("token verification metrics not created", "error", err)
	}
	return nil
}

func (m *verifierMetrics) verified(ctx context.Context, start time.Time, err error) {
	result := "ok"
	switch {
	case errors.Is(err, errRevoked):
		result = "revoked"
	case err != nil:
		result = "invalid"
	}
	attrs := metric.WithAttributes(attribute.String("result", result))
	m.verifications.Add(ctx, 1, attrs)
	m.duration.Record(ctx, time.Since(start).Seconds(), attrs)
}
