package auth_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"dokkumcp.dev/platform/auth"
)

// verificationsByResult reads dokkumcp_auth_token_verifications_total.
func verificationsByResult(t *testing.T, reader *sdkmetric.ManualReader) map[string]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != "dokkumcp_auth_token_verifications" {
				continue
			}
			for _, point := range m.Data.(metricdata.Sum[int64]).DataPoints {
				result, _ := point.Attributes.Value("result")
				out[result.AsString()] += point.Value
			}
		}
	}
	return out
}

func TestVerifyCountsResults(t *testing.T) {
	t.Parallel()
	reader := sdkmetric.NewManualReader()
	id := newIdentity(t)
	rs := newRevocationServer(t)
	v := id.verifier(func(cfg *auth.VerifierConfig) {
		cfg.RevocationURL = rs.server.URL
		cfg.RevocationRefresh = 10 * time.Millisecond
		cfg.Meter = sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)).Meter("test")
	})
	raw := id.sign(t, "k1", validClaims())

	if _, err := v.Verify(context.Background(), raw); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if _, err := v.Verify(context.Background(), "not-a-token"); err == nil {
		t.Fatal("Verify accepted a malformed token")
	}
	rs.set(auth.RevocationList{Version: 1, Revoked: []auth.RevokedToken{{JTI: "token-1", Exp: time.Now().Add(time.Hour).Unix()}}}, http.StatusOK)
	verifyEventually(t, v, raw, true)

	got := verificationsByResult(t, reader)
	if got["ok"] < 1 || got["invalid"] != 1 || got["revoked"] != 1 {
		t.Errorf("verifications by result = %v, want ok >= 1, invalid 1, revoked 1", got)
	}
}
