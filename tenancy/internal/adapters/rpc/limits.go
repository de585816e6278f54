package rpc

import (
	"context"

	"connectrpc.com/connect"

	tenancyv1 "dokkumcp.dev/gen/dokkumcp/tenancy/v1"
	"dokkumcp.dev/tenancy/internal/domain"
)

func (h *Handler) ChangePlan(ctx context.Context, req *connect.Request[tenancyv1.ChangePlanRequest]) (*connect.Response[tenancyv1.ChangePlanResponse], error) {
	if err := requireServiceIdentity(ctx); err != nil {
		return nil, err
	}
	plan, err := planFromProto(req.Msg.GetPlan())
	if err != nil {
		return nil, err
	}
	if plan == "" {
		return nil, invalidArgument("plan is missing: use PLAN_FREE, PLAN_PRO or PLAN_ENTERPRISE")
	}
	var overrides domain.Overrides
	if o := req.Msg.GetOverrides(); o != nil {
		overrides = domain.Overrides{
			MaxApps:            optionalInt(o.MaxApps),
			MaxHosts:           optionalInt(o.MaxHosts),
			ToolCallsPerMinute: optionalInt(o.ToolCallsPerMinute),
		}
	}

	limits, err := h.service.ChangePlan(ctx, req.Msg.GetTenantId(), plan, overrides)
	if err != nil {
		return nil, h.connectError(ctx, "ChangePlan", err)
	}
	return connect.NewResponse(&tenancyv1.ChangePlanResponse{Tenant: tenantToProto(&limits.Tenant), Limits: limitsToProto(limits)}), nil
}

func (h *Handler) SuspendTenant(ctx context.Context, req *connect.Request[tenancyv1.SuspendTenantRequest]) (*connect.Response[tenancyv1.SuspendTenantResponse], error) {
	tenant, err := h.setStatus(ctx, "SuspendTenant", req.Msg.GetTenantId(), domain.TenantSuspended)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&tenancyv1.SuspendTenantResponse{Tenant: tenant}), nil
}

func (h *Handler) ResumeTenant(ctx context.Context, req *connect.Request[tenancyv1.ResumeTenantRequest]) (*connect.Response[tenancyv1.ResumeTenantResponse], error) {
	tenant, err := h.setStatus(ctx, "ResumeTenant", req.Msg.GetTenantId(), domain.TenantActive)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&tenancyv1.ResumeTenantResponse{Tenant: tenant}), nil
}

func (h *Handler) setStatus(ctx context.Context, method, tenantID string, status domain.TenantStatus) (*tenancyv1.Tenant, error) {
	if err := requireServiceIdentity(ctx); err != nil {
		return nil, err
	}
	tenant, err := h.service.SetTenantStatus(ctx, tenantID, status)
	if err != nil {
		return nil, h.connectError(ctx, method, err)
	}
	return tenantToProto(tenant), nil
}

func (h *Handler) GetTenantLimits(ctx context.Context, req *connect.Request[tenancyv1.GetTenantLimitsRequest]) (*connect.Response[tenancyv1.GetTenantLimitsResponse], error) {
	if err := requireServiceIdentity(ctx); err != nil {
		return nil, err
	}
	limits, err := h.service.GetTenantLimits(ctx, req.Msg.GetTenantId())
	if err != nil {
		return nil, h.connectError(ctx, "GetTenantLimits", err)
	}
	return connect.NewResponse(&tenancyv1.GetTenantLimitsResponse{Limits: limitsToProto(limits)}), nil
}

func optionalInt(v *int32) *int {
	if v == nil {
		return nil
	}
	n := int(*v)
	return &n
}

func optionalInt32(v *int) *int32 {
	if v == nil {
		return nil
	}
	n := int32(*v)
	return &n
}

func limitsToProto(l *domain.Limits) *tenancyv1.TenantLimits {
	return &tenancyv1.TenantLimits{
		TenantId:           l.Tenant.ID,
		Plan:               planToProto[l.Tenant.Plan],
		Status:             statusToProto[l.Tenant.Status],
		MaxApps:            optionalInt32(l.MaxApps),
		MaxHosts:           optionalInt32(l.MaxHosts),
		ToolCallsPerMinute: optionalInt32(l.ToolCallsPerMinute),
		ReadOnly:           l.ReadOnly,
		DedicatedHosts:     l.DedicatedHosts,
	}
}
