package ssh

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"dokkumcp.dev/dokkuexec/internal/domain"
)

// metrics are the executor's instruments. They carry the Dokku subcommand
// (a fixed set) but no host, tenant or app: the number of hosts grows
// without bound, and each command's span carries its host id instead.
//   - dokkumcp_dokkuexec_ssh_connections: open pooled SSH connections
//   - dokkumcp_dokkuexec_ssh_session_wait_seconds (dialed: true when a new
//     connection had to be dialed): from the command's start until its
//     session is open
//   - dokkumcp_dokkuexec_ssh_command_duration_seconds (command; outcome:
//     ok, exit_nonzero or error): from the command's start until its exit
//     status
type metrics struct {
	connections     metric.Int64UpDownCounter
	sessionWait     metric.Float64Histogram
	commandDuration metric.Float64Histogram
}

// Measure makes e record its metrics on meter.
func (e *Executor) Measure(meter metric.Meter) error {
	connections, err := meter.Int64UpDownCounter("dokkumcp_dokkuexec_ssh_connections",
		metric.WithDescription("Open pooled SSH connections to Dokku hosts."))
	if err != nil {
		return err
	}
	sessionWait, err := meter.Float64Histogram("dokkumcp_dokkuexec_ssh_session_wait_seconds",
		metric.WithUnit("s"),
		metric.WithDescription("Time from a Dokku command's start until its SSH session is open, by whether a connection was dialed."),
		metric.WithExplicitBucketBoundaries(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
	if err != nil {
		return err
	}
	commandDuration, err := meter.Float64Histogram("dokkumcp_dokkuexec_ssh_command_duration_seconds",
		metric.WithUnit("s"),
		metric.WithDescription("Duration of Dokku commands over SSH, by subcommand and outcome (ok, exit_nonzero, error)."),
		metric.WithExplicitBucketBoundaries(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300))
	if err != nil {
		return err
	}
	e.metrics = &metrics{connections: connections, sessionWait: sessionWait, commandDuration: commandDuration}
	return nil
}

func (m *metrics) connectionsChanged(delta int64) {
	if m == nil {
		return
	}
	m.connections.Add(context.Background(), delta)
}

func (m *metrics) sessionOpened(ctx context.Context, start time.Time, dialed bool) {
	if m == nil {
		return
	}
	m.sessionWait.Record(ctx, time.Since(start).Seconds(), metric.WithAttributes(attribute.Bool("dialed", dialed)))
}

func (m *metrics) commandEnded(ctx context.Context, cmd domain.Command, start time.Time, result domain.Result, err error) {
	if m == nil {
		return
	}
	outcome := "ok"
	switch {
	case err != nil:
		outcome = "error"
	case result.ExitStatus != 0:
		outcome = "exit_nonzero"
	}
	m.commandDuration.Record(context.WithoutCancel(ctx), time.Since(start).Seconds(), metric.WithAttributes(
		attribute.String("command", cmd.Name()), attribute.String("outcome", outcome)))
}
