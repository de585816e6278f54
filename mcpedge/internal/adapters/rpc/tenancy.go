package rpc

import (
	"context"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	tenancyv1 "dokkumcp.dev/gen/dokkumcp/tenancy/v1"
	"dokkumcp.dev/gen/dokkumcp/tenancy/v1/tenancyv1connect"
	"dokkumcp.dev/mcpedge/internal/app"
)

// Tenancy reads tenants' limits and appends tool-call events to their audit
// ledgers. Its client carries mcpedge's own service token (audience
// urn:dokkumcp:tenancy), not a caller's.
type Tenancy struct {
	Client tenancyv1connect.TenancyServiceClient
}

// ToolCallsPerMinute implements app.LimitsSource.
func (t *Tenancy) ToolCallsPerMinute(ctx context.Context, tenantID string) (int, bool, error) {
	resp, err := t.Client.GetTenantLimits(ctx, connect.NewRequest(&tenancyv1.GetTenantLimitsRequest{TenantId: tenantID}))
	if err != nil {
		return 0, false, err
	}
	limits := resp.Msg.GetLimits()
	if limits.ToolCallsPerMinute == nil {
		return 0, false, nil
	}
	return int(limits.GetToolCallsPerMinute()), true, nil
}

// ReadOnlyPlan implements app.PlanSource.
func (t *Tenancy) ReadOnlyPlan(ctx context.Context, tenantID string) (bool, error) {
	resp, err := t.Client.GetTenantLimits(ctx, connect.NewRequest(&tenancyv1.GetTenantLimitsRequest{TenantId: tenantID}))
	if err != nil {
		return false, err
	}
	return resp.Msg.GetLimits().GetReadOnly(), nil
}

// AppendCall implements app.AuditSink.
func (t *Tenancy) AppendCall(ctx context.Context, record app.CallRecord) error {
	_, err := t.Client.AppendAuditEvent(ctx, connect.NewRequest(&tenancyv1.AppendAuditEventRequest{
		TenantId: record.TenantID, Time: timestamppb.New(record.Time), Subject: record.Subject, ClientId: record.ClientID,
		Actor: record.Actor, Operation: record.Operation(), Target: record.Target, ArgumentsJson: record.ArgumentsJSON(),
		Result: record.Outcome, LatencyMs: record.Latency.Milliseconds(), TraceId: record.TraceID,
	}))
	return err
}
