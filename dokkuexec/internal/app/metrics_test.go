package app

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// collect returns the sums of the int64 counters and the values of the
// float64 gauges that reader holds, by metric name and the value of label.
func collect(t *testing.T, reader *sdkmetric.ManualReader, label string) map[string]float64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch data := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, point := range data.DataPoints {
					value, _ := point.Attributes.Value(attribute.Key(label))
					out[m.Name+"/"+value.AsString()] += float64(point.Value)
				}
			case metricdata.Gauge[float64]:
				for _, point := range data.DataPoints {
					out[m.Name] = point.Value
				}
			}
		}
	}
	return out
}

func TestMetricsCredentialLookups(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := start
	clock := func() time.Time { return now }
	reader := sdkmetric.NewManualReader()
	metrics, err := NewMetrics(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)).Meter("test"))
	if err != nil {
		t.Fatal(err)
	}
	metrics.now = clock
	issuer := &fakeIssuer{now: &now, ttl: 30 * time.Minute}
	s := &Service{
		credentials: newCredentialCache(measuredIssuer{next: issuer, metrics: metrics}, clock, slog.New(slog.DiscardHandler)),
		metrics:     metrics,
	}
	host := Host{ID: "h-1", Name: "prod"}

	if _, err := s.credential(t.Context(), "t-1", host); err != nil {
		t.Fatalf("first lookup: %v", err)
	}
	now = start.Add(5 * time.Minute)
	if _, err := s.credential(t.Context(), "t-1", host); err != nil {
		t.Fatalf("second lookup: %v", err)
	}
	got := collect(t, reader, "result")
	if got["dokkumcp_dokkuexec_credential_cache_lookups/miss"] != 1 || got["dokkumcp_dokkuexec_credential_cache_lookups/hit"] != 1 {
		t.Errorf("lookups = miss %v, hit %v; want 1 and 1", got["dokkumcp_dokkuexec_credential_cache_lookups/miss"], got["dokkumcp_dokkuexec_credential_cache_lookups/hit"])
	}
	if remaining := got["dokkumcp_dokkuexec_ssh_credential_remaining_seconds"]; remaining != (25 * time.Minute).Seconds() {
		t.Errorf("remaining seconds = %v, want %v", remaining, (25 * time.Minute).Seconds())
	}

	// After two thirds of the lifetime, renewal fails and the cached
	// credential is still handed out.
	now = start.Add(21 * time.Minute)
	issuer.mu.Lock()
	issuer.err = errors.New("secrets unavailable")
	issuer.mu.Unlock()
	if _, err := s.credential(t.Context(), "t-1", host); err != nil {
		t.Fatalf("lookup while renewal fails: %v", err)
	}
	got = collect(t, reader, "")
	if failures := got["dokkumcp_dokkuexec_ssh_credential_renewal_failures/"]; failures != 1 {
		t.Errorf("renewal failures = %v, want 1", failures)
	}
	if remaining := got["dokkumcp_dokkuexec_ssh_credential_remaining_seconds"]; remaining != (9 * time.Minute).Seconds() {
		t.Errorf("remaining seconds while renewal fails = %v, want %v", remaining, (9 * time.Minute).Seconds())
	}

	// A credential not handed out for longer than the in-use window no
	// longer counts.
	now = start.Add(21*time.Minute + credentialInUseWindow + time.Second)
	if _, ok := collect(t, reader, "")["dokkumcp_dokkuexec_ssh_credential_remaining_seconds"]; ok {
		t.Error("remaining seconds still reported for a credential not used for longer than the in-use window")
	}
}
