package app_test

import (
	"context"
	"log/slog"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"dokkumcp.dev/mcpedge/internal/app"
	"dokkumcp.dev/platform/auth"
)

// counterSums returns the sums of the int64 counter name by the values of
// labels, joined with "/".
func counterSums(t *testing.T, reader *sdkmetric.ManualReader, name string, labels ...attribute.Key) map[string]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			for _, point := range m.Data.(metricdata.Sum[int64]).DataPoints {
				key := ""
				for i, label := range labels {
					value, _ := point.Attributes.Value(label)
					if i > 0 {
						key += "/"
					}
					key += value.AsString()
				}
				out[key] += point.Value
			}
		}
	}
	return out
}

func TestCallMetricsByToolAndOutcome(t *testing.T) {
	t.Parallel()
	reader := sdkmetric.NewManualReader()
	metrics, err := app.NewCallMetrics(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)).Meter("test"), false)
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.DiscardHandler)
	gate := &app.CallGate{
		Limiter: &app.Limiter{Source: &fakeLimits{perMinute: map[string]int{"t-1": 1}}, Logger: logger},
		Metrics: metrics,
		Logger:  logger,
	}
	principal := &auth.Principal{TenantID: "t-1", Subject: "c-1", ClientID: "c-1"}

	call, ok, _ := gate.Admit(context.Background(), principal, "apps_list", nil, "")
	if !ok {
		t.Fatal("the first call was refused")
	}
	call.Finish(context.Background(), app.OutcomeOK)
	if _, ok, _ := gate.Admit(context.Background(), principal, "apps_list", nil, ""); ok {
		t.Fatal("the second call at 1 a minute was admitted")
	}
	// A name outside the catalogue is caller input and must not become a
	// label value.
	other, _, _ := gate.Admit(context.Background(), &auth.Principal{TenantID: "t-2"}, "no_such_tool_f00", nil, "")
	other.Finish(context.Background(), app.OutcomeDenied)

	calls := counterSums(t, reader, "dokkumcp_mcpedge_tool_calls", "tool", "outcome")
	want := map[string]int64{"apps_list/ok": 1, "apps_list/rate_limited": 1, "_other/denied": 1}
	for key, n := range want {
		if calls[key] != n {
			t.Errorf("tool calls %s = %d, want %d (all: %v)", key, calls[key], n, calls)
		}
	}
	if len(calls) != len(want) {
		t.Errorf("tool call series = %v, want exactly %v", calls, want)
	}
	if limited := counterSums(t, reader, "dokkumcp_mcpedge_rate_limited", "limit", "tool"); limited["tenant/apps_list"] != 1 {
		t.Errorf("rate limited = %v, want tenant/apps_list 1", limited)
	}
}

func TestCallMetricsTenantLabel(t *testing.T) {
	t.Parallel()
	for _, on := range []bool{false, true} {
		reader := sdkmetric.NewManualReader()
		metrics, err := app.NewCallMetrics(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)).Meter("test"), on)
		if err != nil {
			t.Fatal(err)
		}
		gate := &app.CallGate{Metrics: metrics, Logger: slog.New(slog.DiscardHandler)}
		call, _, _ := gate.Admit(context.Background(), &auth.Principal{TenantID: "t-1"}, "apps_list", nil, "")
		call.Finish(context.Background(), app.OutcomeOK)

		want := map[bool]string{false: "", true: "t-1"}[on]
		calls := counterSums(t, reader, "dokkumcp_mcpedge_tool_calls", "tenant_id")
		if calls[want] != 1 || len(calls) != 1 {
			t.Errorf("tenant label %t: tool calls by tenant_id = %v, want only %q", on, calls, want)
		}
	}
}
