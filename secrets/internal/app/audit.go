package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/trace"

	"dokkumcp.dev/platform/auth"
	"dokkumcp.dev/platform/telemetry"
)

// OperationIssueSSHCredential is the audit operation of an issuance.
const OperationIssueSSHCredential = "secrets.IssueSSHCredential"

// AuditEvent is one issuance as Secrets appends it to the tenant's ledger.
type AuditEvent struct {
	TenantID  string
	Time      time.Time
	Subject   string
	ClientID  string
	Actor     string
	Operation string
	// Target is the host id.
	Target string
	// Arguments hold the credential's metadata, never key material.
	Arguments map[string]any
	Result    string
	Latency   time.Duration
	TraceID   string
}

// AuditLog appends events to Tenancy's audit ledger and returns after the
// event is committed.
type AuditLog interface {
	AppendAuditEvent(ctx context.Context, event AuditEvent) error
}

// ErrNotAudited wraps the failure to record an issuance's audit event. The
// credential is then not returned: a credential that the ledger does not
// name must not reach a host.
var ErrNotAudited = errors.New("audit event not recorded")

// auditAppendTimeout bounds one append.
const auditAppendTimeout = 10 * time.Second

// AuditTo makes s append an event for every credential it issues to log,
// and count the appends with metrics. Without it, issuances are recorded
// only in Secrets' own issuance table and log.
func (s *Service) AuditTo(log AuditLog, metrics *telemetry.AuditMetrics) {
	s.audit, s.auditMetrics = log, metrics
}

// auditIssuance appends the event of credential and waits for the commit.
func (s *Service) auditIssuance(ctx context.Context, tenantID, hostID string, credential *Credential, start time.Time) error {
	if s.audit == nil {
		return nil
	}
	event := AuditEvent{
		TenantID:  tenantID,
		Time:      start,
		Operation: OperationIssueSSHCredential,
		Target:    hostID,
		Arguments: map[string]any{
			"host_id":     hostID,
			"mode":        credential.Mode,
			"backend":     credential.Backend,
			"principal":   credential.Principal,
			"serial":      fmt.Sprint(credential.Serial),
			"key_id":      credential.KeyID,
			"expire_time": credential.ExpireTime.UTC().Format(time.RFC3339),
		},
		Result:  "ok",
		Latency: time.Since(start),
	}
	if credential.Mode == ModeManagedKey {
		// A managed key has no certificate: the key version identifies it.
		event.Arguments["key_version"] = fmt.Sprint(credential.KeyVersion)
		delete(event.Arguments, "serial")
		delete(event.Arguments, "principal")
		delete(event.Arguments, "key_id")
	}
	if principal, ok := auth.PrincipalFrom(ctx); ok {
		event.Subject, event.ClientID, event.Actor = principal.Subject, principal.ClientID, principal.Actor
	}
	if sc := trace.SpanContextFromContext(ctx); sc.HasTraceID() {
		event.TraceID = sc.TraceID().String()
	}

	// The append runs even when the caller has gone, so that an issued
	// certificate's record is complete or the failure is logged.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), auditAppendTimeout)
	defer cancel()
	appendStart := time.Now()
	err := s.audit.AppendAuditEvent(ctx, event)
	s.auditMetrics.Appended(ctx, appendStart, err)
	if err != nil {
		return fmt.Errorf("%w for the %s credential of tenant %s host %s: %w", ErrNotAudited, credential.Mode, tenantID, hostID, err)
	}
	return nil
}

// ArgumentsJSON encodes an event's arguments as the ledger stores them.
func ArgumentsJSON(arguments map[string]any) (string, error) {
	data, err := json.Marshal(arguments)
	if err != nil {
		return "", fmt.Errorf("encode audit arguments: %w", err)
	}
	return string(data), nil
}
