package ssh

import (
	"context"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// MeterName names the meter of the SSH pool's metrics.
const MeterName = "dokkumcp.dev/dokkuexec/ssh"

// Metric names, in the project's Prometheus form.
const (
	sessionWaitMetric  = "dokkumcp_dokkuexec_ssh_session_wait_seconds"
	breakerHostsMetric = "dokkumcp_dokkuexec_ssh_breaker_hosts"
	connectionsMetric  = "dokkumcp_dokkuexec_ssh_connections"
	sessionsMetric     = "dokkumcp_dokkuexec_ssh_sessions"
)

// metrics records the session wait histogram and observes the breaker
// gauge. Without a Meter it records nothing. Neither metric carries a host
// or tenant label, because the number of hosts has no bound. The logs name
// the host of every breaker change and every wait for a session slot.
type metrics struct {
	wait metric.Float64Histogram
}

func newMetrics(meter metric.Meter, e *Executor, logger *slog.Logger) *metrics {
	m := &metrics{}
	if meter == nil {
		return m
	}

	wait, err := meter.Float64Histogram(sessionWaitMetric,
		metric.WithUnit("s"),
		metric.WithDescription("Time a Dokku command waited for one of its host's SSH session slots (--ssh-max-sessions)."),
		metric.WithExplicitBucketBoundaries(0, 0.001, 0.01, 0.1, 0.5, 1, 5, 15, 60))
	if err != nil {
		logger.Error("ssh metric not registered", "metric", sessionWaitMetric, "error", err)
	} else {
		m.wait = wait
	}
	_, err = meter.Int64ObservableGauge(breakerHostsMetric,
		metric.WithDescription("Hosts whose SSH circuit breaker is open or half open, by state; closed breakers are not counted."),
		metric.WithInt64Callback(func(_ context.Context, observer metric.Int64Observer) error {
			open, halfOpen := breakerCounts(e)
			observer.Observe(open, metric.WithAttributes(attribute.String("state", breakerOpen)))
			observer.Observe(halfOpen, metric.WithAttributes(attribute.String("state", breakerHalfOpen)))
			return nil
		}))
	if err != nil {
		logger.Error("ssh metric not registered", "metric", breakerHostsMetric, "error", err)
	}
	_, err = meter.Int64ObservableGauge(connectionsMetric,
		metric.WithDescription("Open pooled SSH connections, one per host at most."),
		metric.WithInt64Callback(func(_ context.Context, observer metric.Int64Observer) error {
			connections, _ := poolCounts(e)
			observer.Observe(connections)
			return nil
		}))
	if err != nil {
		logger.Error("ssh metric not registered", "metric", connectionsMetric, "error", err)
	}
	_, err = meter.Int64ObservableGauge(sessionsMetric,
		metric.WithDescription("SSH sessions in use across all pooled connections (each holds one of its host's --ssh-max-sessions slots)."),
		metric.WithInt64Callback(func(_ context.Context, observer metric.Int64Observer) error {
			_, sessions := poolCounts(e)
			observer.Observe(sessions)
			return nil
		}))
	if err != nil {
		logger.Error("ssh metric not registered", "metric", sessionsMetric, "error", err)
	}
	return m
}

// poolCounts returns the number of open pooled connections and of session
// slots in use.
func poolCounts(e *Executor) (connections, sessions int64) {
	e.mu.Lock()
	pools := make([]*hostPool, 0, len(e.pools))
	for _, pool := range e.pools {
		pools = append(pools, pool)
	}
	e.mu.Unlock()

	for _, pool := range pools {
		sessions += int64(len(pool.slots))
		pool.mu.Lock()
		if pool.conn != nil {
			connections++
		}
		pool.mu.Unlock()
	}
	return connections, sessions
}

func (m *metrics) recordSessionWait(ctx context.Context, waited time.Duration) {
	if m.wait == nil {
		return
	}
	m.wait.Record(ctx, waited.Seconds())
}

// breakerCounts returns how many hosts' breakers are open and half open.
func breakerCounts(e *Executor) (open, halfOpen int64) {
	e.mu.Lock()
	pools := make([]*hostPool, 0, len(e.pools))
	for _, pool := range e.pools {
		pools = append(pools, pool)
	}
	e.mu.Unlock()

	now := e.opts.Now()
	for _, pool := range pools {
		pool.mu.Lock()
		state := pool.breaker.state(now)
		pool.mu.Unlock()

		switch state {
		case breakerOpen:
			open++
		case breakerHalfOpen:
			halfOpen++
		}
	}
	return open, halfOpen
}
