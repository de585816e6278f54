package app

import (
	"context"
	"fmt"
	"time"

	"dokkumcp.dev/identity/internal/domain"
	"dokkumcp.dev/platform/auth"
)

// Audit operations of the client admin RPCs.
const (
	OperationCreateClient  = "identity.CreateClient"
	OperationDisableClient = "identity.DisableClient"
	OperationEnableClient  = "identity.EnableClient"
)

// AuditTo makes c record every change to a tenant client in the tenant's
// audit ledger with auditor, and wait for the append before it returns.
func (c *Clients) AuditTo(auditor *Auditor) {
	c.auditor = auditor
}

// auditChange appends the event of a change to client made by the caller
// in ctx. Platform clients have no tenant and therefore no ledger; their
// changes are only logged. The change has been stored when this runs, so a
// failed append returns an UnavailableError stating that, because the caller
// must not take the change as done without its event, nor as not done.
func (c *Clients) auditChange(ctx context.Context, operation string, client domain.Client, start time.Time, arguments map[string]any) error {
	if client.TenantID == "" {
		return nil
	}
	event := AuditEvent{
		TenantID:  client.TenantID,
		Operation: operation,
		Target:    client.ID,
		Arguments: arguments,
		Result:    "ok",
		Latency:   time.Since(start),
	}
	if principal, ok := auth.PrincipalFrom(ctx); ok {
		event.Subject, event.ClientID, event.Actor = principal.Subject, principal.ClientID, principal.Actor
	}
	if err := c.auditor.RecordSync(ctx, event); err != nil {
		c.logger.ErrorContext(ctx, "audit event not recorded", "operation", operation, "tenant_id", client.TenantID,
			"client_id", client.ID, "error", err)
		return &UnavailableError{Err: fmt.Errorf("%s of client %q was stored, but its audit event could not be recorded because the tenancy service is unavailable; check the client with ListClients before retrying", operation, client.ID)}
	}
	return nil
}
