package app

import (
	"context"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"dokkumcp.dev/dokkuexec/internal/domain"
	"dokkumcp.dev/platform/telemetry"
)

// credentialInUseWindow is how long after it was last handed out a cached
// credential counts toward dokkumcp_dokkuexec_ssh_credential_remaining_seconds.
// The cache renews a credential only when a connection needs it, so the
// credential of an idle host runs out without harm and must not count.
const credentialInUseWindow = 5 * time.Minute

// Metrics are DokkuExec's own metrics besides the RPC ones. None carries a
// tenant, host or app, so each has a fixed handful of series per pod:
//   - dokkumcp_dokkuexec_credential_cache_lookups_total (result: hit, miss)
//   - dokkumcp_dokkuexec_ssh_credential_renewal_failures_total: failed
//     requests to Secrets, whether or not a cached credential covered them
//   - dokkumcp_dokkuexec_ssh_credential_remaining_seconds: seconds until
//     the soonest expiry among the credentials handed out in the last
//     credentialInUseWindow. Renewal keeps it above a third of the
//     certificate lifetime.
//   - dokkumcp_dokkuexec_ssh_command_duration_seconds (command: the Dokku
//     subcommand; outcome: ok, exit_nonzero or error): the time from the
//     start of the Executor call until the exit status. It includes the
//     wait for a connection and a session.
//   - dokkumcp_audit_append_duration_seconds and
//     dokkumcp_audit_append_failures_total (see telemetry.AuditMetrics)
//
// A nil *Metrics records nothing.
type Metrics struct {
	lookups         metric.Int64Counter
	renewalFailures metric.Int64Counter
	commandDuration metric.Float64Histogram
	audit           *telemetry.AuditMetrics
	now             func() time.Time

	mu sync.Mutex
	// inUse maps tenant/host to the credential last handed out for it.
	inUse map[string]usedCredential
}

type usedCredential struct {
	expireTime time.Time
	lastUsed   time.Time
}

// NewMetrics creates DokkuExec's instruments on meter.
func NewMetrics(meter metric.Meter) (*Metrics, error) {
	m := &Metrics{now: time.Now, inUse: map[string]usedCredential{}}
	var err error
	if m.lookups, err = meter.Int64Counter("dokkumcp_dokkuexec_credential_cache_lookups",
		metric.WithDescription("Lookups of cached SSH credentials by result: hit (cached and not due for renewal) or miss (Secrets was asked).")); err != nil {
		return nil, err
	}

	if m.renewalFailures, err = meter.Int64Counter("dokkumcp_dokkuexec_ssh_credential_renewal_failures",
		metric.WithDescription("Failed requests for an SSH credential to Secrets, including those a still-valid cached credential covered.")); err != nil {
		return nil, err
	}
	// The series exists from the start, so that rate() counts the first failure.
	m.renewalFailures.Add(context.Background(), 0)

	remaining, err := meter.Float64ObservableGauge("dokkumcp_dokkuexec_ssh_credential_remaining_seconds",
		metric.WithUnit("s"),
		metric.WithDescription("Seconds until the soonest expiry among the SSH credentials handed out in the last 5 minutes; absent when none was."))
	if err != nil {
		return nil, err
	}
	if _, err := meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		if seconds, ok := m.soonestExpiry(); ok {
			o.ObserveFloat64(remaining, seconds)
		}
		return nil
	}, remaining); err != nil {
		return nil, err
	}

	if m.commandDuration, err = meter.Float64Histogram("dokkumcp_dokkuexec_ssh_command_duration_seconds",
		metric.WithUnit("s"),
		metric.WithDescription("Duration of Dokku commands over SSH, by subcommand and outcome (ok, exit_nonzero, error)."),
		metric.WithExplicitBucketBoundaries(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)); err != nil {
		return nil, err
	}

	if m.audit, err = telemetry.NewAuditMetrics(meter); err != nil {
		return nil, err
	}
	return m, nil
}

// soonestExpiry returns the seconds left of the credential in use that
// expires first, and drops credentials no longer in use.
func (m *Metrics) soonestExpiry() (float64, bool) {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	var soonest time.Time
	for key, c := range m.inUse {
		if now.Sub(c.lastUsed) > credentialInUseWindow {
			delete(m.inUse, key)
			continue
		}
		if soonest.IsZero() || c.expireTime.Before(soonest) {
			soonest = c.expireTime
		}
	}
	if soonest.IsZero() {
		return 0, false
	}
	return soonest.Sub(now).Seconds(), true
}

// issuedKey carries, in the context of one credential lookup, the flag
// that measuredIssuer sets when the lookup requests a credential from
// Secrets.
type issuedKey struct{}

// credential returns the host's credential from the cache and records the
// lookup.
func (s *Service) credential(ctx context.Context, tenantID string, host Host) (Credential, error) {
	if s.metrics == nil {
		return s.credentials.Get(ctx, tenantID, host)
	}
	issued := new(bool)
	credential, err := s.credentials.Get(context.WithValue(ctx, issuedKey{}, issued), tenantID, host)
	result := "hit"
	if *issued {
		result = "miss"
	}
	s.metrics.lookups.Add(ctx, 1, metric.WithAttributes(attribute.String("result", result)))
	if err == nil {
		s.metrics.mu.Lock()
		s.metrics.inUse[tenantID+"/"+host.ID] = usedCredential{expireTime: credential.ExpireTime, lastUsed: s.metrics.now()}
		s.metrics.mu.Unlock()
	}
	return credential, err
}

// measuredIssuer counts the requests to Secrets that fail.
type measuredIssuer struct {
	next    CredentialIssuer
	metrics *Metrics
}

func (i measuredIssuer) IssueSSHCredential(ctx context.Context, tenantID, hostID, mode string) (Credential, error) {
	if issued, ok := ctx.Value(issuedKey{}).(*bool); ok {
		*issued = true
	}
	credential, err := i.next.IssueSSHCredential(ctx, tenantID, hostID, mode)
	if err != nil {
		i.metrics.renewalFailures.Add(ctx, 1)
	}
	return credential, err
}

// measuredExecutor records the duration of each Dokku command by
// subcommand, which is a fixed set. Host and app are left out because their
// number has no bound. Each command's span carries them instead.
type measuredExecutor struct {
	next    Executor
	metrics *Metrics
}

func (e measuredExecutor) Run(ctx context.Context, target Target, cmd domain.Command) (domain.Result, error) {
	start := time.Now()
	result, err := e.next.Run(ctx, target, cmd)
	e.metrics.commandEnded(ctx, cmd, start, result, err)
	return result, err
}

// measuredStreamer is measuredExecutor for streamed commands.
type measuredStreamer struct {
	next    LineStreamer
	metrics *Metrics
}

func (s measuredStreamer) Stream(ctx context.Context, target Target, cmd domain.Command, onLine func(line string) error) (domain.Result, error) {
	start := time.Now()
	result, err := s.next.Stream(ctx, target, cmd, onLine)
	s.metrics.commandEnded(ctx, cmd, start, result, err)
	return result, err
}

func (m *Metrics) commandEnded(ctx context.Context, cmd domain.Command, start time.Time, result domain.Result, err error) {
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

// measuredAuditLog records the duration and failures of appends.
type measuredAuditLog struct {
	next    AuditLog
	metrics *telemetry.AuditMetrics
}

func (l measuredAuditLog) AppendAuditEvent(ctx context.Context, event AuditEvent) error {
	start := time.Now()
	err := l.next.AppendAuditEvent(ctx, event)
	l.metrics.Appended(ctx, start, err)
	return err
}
