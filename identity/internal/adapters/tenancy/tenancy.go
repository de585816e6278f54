// Package tenancy reads tenants' plans from Tenancy and appends to its audit
// ledger over Connect.
package tenancy

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	tenancyv1 "dokkumcp.dev/gen/dokkumcp/tenancy/v1"
	"dokkumcp.dev/gen/dokkumcp/tenancy/v1/tenancyv1connect"
	"dokkumcp.dev/identity/internal/app"
	"dokkumcp.dev/identity/internal/domain"
	"dokkumcp.dev/platform/auth"
)

// Client implements app.TenantPlanSource with GetTenantLimits and
// app.AuditLog with AppendAuditEvent.
type Client struct {
	tenancy tenancyv1connect.TenancyServiceClient
}

// New returns a client of the Tenancy service at baseURL that authenticates
// with the tokens of token, and sends opts with every call.
func New(httpClient *http.Client, baseURL string, token auth.TokenFunc, opts ...connect.ClientOption) *Client {
	opts = append(opts, connect.WithInterceptors(auth.NewClientInterceptor(token)))
	return &Client{tenancy: tenancyv1connect.NewTenancyServiceClient(httpClient, baseURL, opts...)}
}

// TenantPlan returns the plan of tenantID, or app.ErrTenantNotFound when
// Tenancy has no such tenant.
func (c *Client) TenantPlan(ctx context.Context, tenantID string) (domain.TenantPlan, error) {
	resp, err := c.tenancy.GetTenantLimits(ctx, connect.NewRequest(&tenancyv1.GetTenantLimitsRequest{TenantId: tenantID}))
	if connect.CodeOf(err) == connect.CodeNotFound {
		return domain.TenantPlan{}, fmt.Errorf("%w: %s", app.ErrTenantNotFound, tenantID)
	}
	if err != nil {
		return domain.TenantPlan{}, fmt.Errorf("get limits of tenant %s: %w", tenantID, err)
	}
	limits := resp.Msg.GetLimits()
	return domain.TenantPlan{
		TenantID: tenantID,
		Plan:     strings.ToLower(strings.TrimPrefix(limits.GetPlan().String(), "PLAN_")),
		Status:   status(limits.GetStatus()),
		ReadOnly: limits.GetReadOnly(),
	}, nil
}

// status maps Tenancy's status. An unknown status is not active.
func status(s tenancyv1.TenantStatus) domain.TenantStatus {
	switch s {
	case tenancyv1.TenantStatus_TENANT_STATUS_ACTIVE:
		return domain.TenantActive
	case tenancyv1.TenantStatus_TENANT_STATUS_SUSPENDED:
		return domain.TenantSuspended
	case tenancyv1.TenantStatus_TENANT_STATUS_DELETED:
		return domain.TenantDeleted
	default:
		return domain.TenantStatus(strings.ToLower(strings.TrimPrefix(s.String(), "TENANT_STATUS_")))
	}
}

// AppendAuditEvent appends event to its tenant's ledger and returns after
// Tenancy has committed it.
func (c *Client) AppendAuditEvent(ctx context.Context, event app.AuditEvent) error {
	_, err := c.tenancy.AppendAuditEvent(ctx, connect.NewRequest(&tenancyv1.AppendAuditEventRequest{
		TenantId:      event.TenantID,
		Time:          timestamppb.New(event.Time),
		Subject:       event.Subject,
		ClientId:      event.ClientID,
		Actor:         event.Actor,
		Operation:     event.Operation,
		Target:        event.Target,
		ArgumentsJson: event.ArgumentsJSON(),
		Result:        event.Result,
		LatencyMs:     event.Latency.Milliseconds(),
		TraceId:       event.TraceID,
	}))
	if err != nil {
		return fmt.Errorf("append audit event %s of tenant %s: %w", event.Operation, event.TenantID, err)
	}
	return nil
}
