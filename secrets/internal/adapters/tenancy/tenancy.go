// Package tenancy appends Secrets' audit events to Tenancy's ledger over
// Connect.
package tenancy

import (
	"context"
	"fmt"
	"net/http"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	tenancyv1 "dokkumcp.dev/gen/dokkumcp/tenancy/v1"
	"dokkumcp.dev/gen/dokkumcp/tenancy/v1/tenancyv1connect"
	"dokkumcp.dev/platform/auth"
	"dokkumcp.dev/secrets/internal/app"
)

// Ledger implements app.AuditLog with AppendAuditEvent.
type Ledger struct {
	tenancy tenancyv1connect.TenancyServiceClient
}

// New returns a client of the Tenancy service at baseURL that authenticates
// with the tokens of token, and sends opts with every call.
func New(httpClient *http.Client, baseURL string, token auth.TokenFunc, opts ...connect.ClientOption) *Ledger {
	opts = append(opts, connect.WithInterceptors(auth.NewClientInterceptor(token)))
	return &Ledger{tenancy: tenancyv1connect.NewTenancyServiceClient(httpClient, baseURL, opts...)}
}

// AppendAuditEvent appends event to its tenant's ledger and returns after
// Tenancy has committed it.
func (l *Ledger) AppendAuditEvent(ctx context.Context, event app.AuditEvent) error {
	arguments, err := app.ArgumentsJSON(event.Arguments)
	if err != nil {
		return err
	}
	_, err = l.tenancy.AppendAuditEvent(ctx, connect.NewRequest(&tenancyv1.AppendAuditEventRequest{
		TenantId:      event.TenantID,
		Time:          timestamppb.New(event.Time),
		Subject:       event.Subject,
		ClientId:      event.ClientID,
		Actor:         event.Actor,
		Operation:     event.Operation,
		Target:        event.Target,
		ArgumentsJson: arguments,
		Result:        event.Result,
		LatencyMs:     event.Latency.Milliseconds(),
		TraceId:       event.TraceID,
	}))
	if err != nil {
		return fmt.Errorf("append audit event %s of tenant %s: %w", event.Operation, event.TenantID, err)
	}
	return nil
}
