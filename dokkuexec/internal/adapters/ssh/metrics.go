package ssh

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// MeterName names the meter of the SSH pool's metrics.
const MeterName = "dokkumcp.dev/dokkuexec/ssh"

// maxHostSeries bounds the host.id values the metrics carry, so that a
// pool of thousands of hosts cannot create thousands of series: the first
// maxHostSeries hosts seen get their own value, and later ones share
// host.id="other".
const maxHostSeries = 100

// otherHosts is the host.id value of the hosts beyond maxHostSeries.
const otherHosts = "other"

// Breaker state values of the dokkuexec.ssh.breaker.state gauge.
const (
	breakerClosed   = 0
	breakerHalfOpen = 1
	breakerOpen     = 2
)

// metrics records the session wait histogram and observes the breaker
// state gauge. Without a Meter it records nothing.
type metrics struct {
	wait metric.Float64Histogram

	mu     sync.Mutex
	labels map[string]bool
}

func newMetrics(meter metric.Meter, e *Executor, logger *slog.Logger) *metrics {
	m := &metrics{labels: map[string]bool{}}
	if meter == nil {
		return m
	}

	wait, err := meter.Float64Histogram("dokkuexec.ssh.session.wait",
		metric.WithUnit("s"),
		metric.WithDescription("Time a Dokku command waited for a free SSH session on its host, by host.id"),
		metric.WithExplicitBucketBoundaries(0, 0.001, 0.01, 0.1, 0.5, 1, 5, 15, 60))
	if err != nil {
		logger.Error("ssh metric not registered", "metric", "dokkuexec.ssh.session.wait", "error", err)
	} else {
		m.wait = wait
	}
	_, err = meter.Int64ObservableGauge("dokkuexec.ssh.breaker.state",
		metric.WithDescription("SSH circuit breaker state by host.id: 1 half open, 2 open; closed breakers are not reported"),
		metric.WithInt64Callback(func(_ context.Context, observer metric.Int64Observer) error {
			for label, state := range m.breakerStates(e) {
				observer.Observe(state, metric.WithAttributes(attribute.String("host.id", label)))
			}
			return nil
		}))
	if err != nil {
		logger.Error("ssh metric not registered", "metric", "dokkuexec.ssh.breaker.state", "error", err)
	}
	return m
}

// label returns the host.id value for hostID.
func (m *metrics) label(hostID string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.labels[hostID] {
		return hostID
	}
	if len(m.labels) >= maxHostSeries {
		return otherHosts
	}
	m.labels[hostID] = true
	return hostID
}

func (m *metrics) recordSessionWait(ctx context.Context, hostID string, waited time.Duration) {
	if m.wait == nil {
		return
	}
	m.wait.Record(ctx, waited.Seconds(), metric.WithAttributes(attribute.String("host.id", m.label(hostID))))
}

// breakerStates returns the state of every breaker that is not closed, by
// host.id value. Hosts that share "other" report the worst state among them.
func (m *metrics) breakerStates(e *Executor) map[string]int64 {
	e.mu.Lock()
	pools := make([]*hostPool, 0, len(e.pools))
	for _, pool := range e.pools {
		pools = append(pools, pool)
	}
	e.mu.Unlock()

	now := e.opts.Now()
	states := map[string]int64{}
	for _, pool := range pools {
		pool.mu.Lock()
		state := pool.breaker.state(now)
		pool.mu.Unlock()

		value := int64(breakerClosed)
		switch state {
		case "open":
			value = breakerOpen
		case "half_open":
			value = breakerHalfOpen
		}
		if value == breakerClosed {
			continue
		}
		label := m.label(pool.hostID)
		states[label] = max(states[label], value)
	}
	return states
}
