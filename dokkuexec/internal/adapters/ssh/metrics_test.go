package ssh_test

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
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

func TestMetricsBreakerStateAndSessionWait(t *testing.T) {
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
	hostID := attribute.String("host.id", sshtest.HostID)

	if _, err := executor.Run(t.Context(), host.Target(), domain.VersionCommand()); err == nil {
		t.Fatal("Run against a host that closes every connection succeeded")
	}
	state, ok := collect(t, reader, "dokkuexec.ssh.breaker.state")
	if !ok {
		t.Fatal("no dokkuexec.ssh.breaker.state metric")
	}
	points := state.Data.(metricdata.Gauge[int64]).DataPoints
	if len(points) != 1 || points[0].Value != 2 || !points[0].Attributes.HasValue(hostID.Key) {
		t.Errorf("breaker state points = %+v, want one point of 2 (open) for %s", points, sshtest.HostID)
	}

	host.Server.SetConnFault(sshd.ConnFaultNone)
	now.Advance(time.Minute)
	runVersion(t, executor, host.Target())
	// A gauge without observations may be left out or have no data.
	if state, ok := collect(t, reader, "dokkuexec.ssh.breaker.state"); ok && state.Data != nil {
		if points := state.Data.(metricdata.Gauge[int64]).DataPoints; len(points) != 0 {
			t.Errorf("breaker state points after recovery = %+v, want none", points)
		}
	}

	wait, ok := collect(t, reader, "dokkuexec.ssh.session.wait")
	if !ok {
		t.Fatal("no dokkuexec.ssh.session.wait metric")
	}
	histogram := wait.Data.(metricdata.Histogram[float64]).DataPoints
	if len(histogram) != 1 {
		t.Fatalf("session wait points = %d, want 1", len(histogram))
	}
	if got, _ := histogram[0].Attributes.Value(hostID.Key); got.AsString() != sshtest.HostID {
		t.Errorf("session wait host.id = %q, want %q", got.AsString(), sshtest.HostID)
	}
	if histogram[0].Count != 2 {
		t.Errorf("session waits recorded = %d, want 2, one per Run", histogram[0].Count)
	}
}
