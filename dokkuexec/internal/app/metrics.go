package app

import (
	"context"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

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
//   - dokkumcp_audit_append_duration_seconds and
//     dokkumcp_audit_append_failures_total (see telemetry.AuditMetrics)
//
// A nil *Metrics records nothing.
type Metrics struct {
	lookups         metric.Int64Counter
	renewalFailures metric.Int64Counter
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

func (i measuredIssuer) IssueSSHCredential(ctx context.Context, tenantID, hostID string) (Credential, error) {
	if issued, ok := ctx.Value(issuedKey{}).(*bool); ok {
		*issued = true
	}
	credential, err := i.next.IssueSSHCredential(ctx, tenantID, hostID)
	if err != nil {
		i.metrics.renewalFailures.Add(ctx, 1)
	}
	return credential, err
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
