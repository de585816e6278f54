package stack

import (
	"context"
	"fmt"

	"connectrpc.com/connect"

	tenancyv1 "dokkumcp.dev/gen/dokkumcp/tenancy/v1"
)

// SetToolCallsPerMinute overrides a seeded tenant's tool-call rate as the
// operator would, keeping the plan SeedTenant gives it (pro).
func (st *Stack) SetToolCallsPerMinute(ctx context.Context, tenantID string, perMinute int32) error {
	_, tenancy, _ := st.operatorClients()
	_, err := tenancy.ChangePlan(ctx, connect.NewRequest(&tenancyv1.ChangePlanRequest{
		TenantId: tenantID, Plan: tenancyv1.Plan_PLAN_PRO,
		Overrides: &tenancyv1.LimitOverrides{ToolCallsPerMinute: &perMinute},
	}))
	if err != nil {
		return fmt.Errorf("change plan of tenant %s: %w", tenantID, err)
	}
	return nil
}

// ChangePlan moves a seeded tenant to plan as the operator would.
func (st *Stack) ChangePlan(ctx context.Context, tenantID string, plan tenancyv1.Plan) error {
	_, tenancy, _ := st.operatorClients()
	if _, err := tenancy.ChangePlan(ctx, connect.NewRequest(&tenancyv1.ChangePlanRequest{TenantId: tenantID, Plan: plan})); err != nil {
		return fmt.Errorf("change plan of tenant %s to %s: %w", tenantID, plan, err)
	}
	return nil
}
