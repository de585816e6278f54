package ssh_test

import (
	"context"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	sshadapter "dokkumcp.dev/dokkuexec/internal/adapters/ssh"
	"dokkumcp.dev/dokkuexec/internal/domain"
	"dokkumcp.dev/dokkuexec/internal/sshtest"
	"dokkumcp.dev/testhost/emulator"
	"dokkumcp.dev/testhost/sshd"
)

// collect returns the metric named name from reader, or false.
func collect(t *testing.T, reader *sdkmetric.ManualReader, name string) (metricdata.Metrics, bool) {
	t.Helper()
	var data metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &data); err != nil {
		t.Fatalf("collect metrics: %v", err)
	}
	for _, scope := range data.ScopeMetrics {
		for _, m := range scope.Metrics {
			if m.Name == name {
				return m, true
			}
		}
	}
	return metricdata.Metrics{}, false
}

// breakerHosts returns the breaker gauge's value for state.
func breakerHosts(t *testing.T, reader *sdkmetric.ManualReader, state string) int64 {
	t.Helper()
	m, ok := collect(t, reader, "dokkumcp_dokkuexec_ssh_breaker_hosts")
	if !ok {
		t.Fatal("no dokkumcp_dokkuexec_ssh_breaker_hosts metric")
	}
	for _, point := range m.Data.(metricdata.Gauge[int64]).DataPoints {
		if value, _ := point.Attributes.Value("state"); value.AsString() == state {
			return point.Value
		}
	}
	t.Fatalf("no breaker gauge point for state %q", state)
	return 0
}

func TestMetricsBreakerHostsAndSessionWait(t *testing.T) {
	t.Parallel()
	host := sshtest.Start(t, emulator.Options{})
	host.Server.SetConnFault(sshd.ConnFaultRefuse)
	reader := sdkmetric.NewManualReader()
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = provider.Shutdown(context.Background()) })
	now := &clock{now: time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)}
	executor, _ := newExecutor(t, func(o *sshadapter.Options) {
		o.BreakerThreshold = 1
		o.BreakerCooldown = time.Minute
		o.Now = now.Now
		o.Meter = provider.Meter(sshadapter.MeterName)
	})

	if _, err := executor.Run(t.Context(), host.Target(), domain.VersionCommand()); err == nil {
		t.Fatal("Run against a host that closes every connection succeeded")
	}
	if got := breakerHosts(t, reader, "open"); got != 1 {
		t.Errorf("open breakers = %d, want 1", got)
	}
	if got := breakerHosts(t, reader, "half_open"); got != 0 {
		t.Errorf("half-open breakers = %d, want 0", got)
	}

	now.Advance(time.Minute)
	if got := breakerHosts(t, reader, "half_open"); got != 1 {
		t.Errorf("half-open breakers after the cool-down = %d, want 1", got)
	}
	host.Server.SetConnFault(sshd.ConnFaultNone)
	runVersion(t, executor, host.Target())
	if got := breakerHosts(t, reader, "open") + breakerHosts(t, reader, "half_open"); got != 0 {
		t.Errorf("open and half-open breakers after recovery = %d, want 0", got)
	}

	wait, ok := collect(t, reader, "dokkumcp_dokkuexec_ssh_session_wait_seconds")
	if !ok {
		t.Fatal("no dokkumcp_dokkuexec_ssh_session_wait_seconds metric")
	}
	points := wait.Data.(metricdata.Histogram[float64]).DataPoints
	if len(points) != 1 {
		t.Fatalf("session wait points = %d, want 1", len(points))
	}
	if got := points[0].Attributes.Len(); got != 0 {
		t.Errorf("session wait attributes = %d, want none", got)
	}
	if points[0].Count != 2 {
		t.Errorf("session waits recorded = %d, want 2, one per Run", points[0].Count)
	}
}

// gaugeValue returns the single point of the int64 gauge named name.
func gaugeValue(t *testing.T, reader *sdkmetric.ManualReader, name string) int64 {
	t.Helper()
	m, ok := collect(t, reader, name)
	if !ok {
		t.Fatalf("no %s metric", name)
	}
	points := m.Data.(metricdata.Gauge[int64]).DataPoints
	if len(points) != 1 {
		t.Fatalf("%s has %d points, want 1", name, len(points))
	}
	return points[0].Value
}

func TestMetricsConnectionsAndSessions(t *testing.T) {
	t.Parallel()
	host := sshtest.Start(t, emulator.Options{})
	reader := sdkmetric.NewManualReader()
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = provider.Shutdown(context.Background()) })
	executor, _ := newExecutor(t, func(o *sshadapter.Options) {
		o.Meter = provider.Meter(sshadapter.MeterName)
	})

	if got := gaugeValue(t, reader, "dokkumcp_dokkuexec_ssh_connections"); got != 0 {
		t.Errorf("connections before any command = %d, want 0", got)
	}
	if _, err := executor.Run(t.Context(), host.Target(), domain.VersionCommand()); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := gaugeValue(t, reader, "dokkumcp_dokkuexec_ssh_connections"); got != 1 {
		t.Errorf("connections after a command = %d, want 1", got)
	}
	if got := gaugeValue(t, reader, "dokkumcp_dokkuexec_ssh_sessions"); got != 0 {
		t.Errorf("sessions after the command ended = %d, want 0", got)
	}
	if err := executor.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := gaugeValue(t, reader, "dokkumcp_dokkuexec_ssh_connections"); got != 0 {
		t.Errorf("connections after Close = %d, want 0", got)
	}
}
