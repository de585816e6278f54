package server_test

import (
	"context"
	"strconv"
	"testing"

	"connectrpc.com/connect"

	tenancyv1 "dokkumcp.dev/gen/dokkumcp/tenancy/v1"
)

func intPtr(n int32) *int32 { return &n }

func limitText(v *int32) string {
	if v == nil {
		return "unlimited"
	}
	return strconv.Itoa(int(*v))
}

func TestPlanLimits(t *testing.T) {
	t.Parallel()
	s := startTenancy(t)
	ctx := context.Background()
	operator, dokkuexec := s.operator(t), s.dokkuexec(t)

	resp, err := operator.CreateTenant(ctx, connect.NewRequest(&tenancyv1.CreateTenantRequest{Slug: "acme"}))
	if err != nil {
		t.Fatal(err)
	}
	tenantID := resp.Msg.GetTenant().GetId()

	tests := []struct {
		name       string
		plan       tenancyv1.Plan
		overrides  *tenancyv1.LimitOverrides
		maxApps    *int32
		maxHosts   *int32
		toolCalls  *int32
		readOnly   bool
		dedicated  bool
		skipChange bool
	}{
		{name: "free by default", skipChange: true, maxApps: intPtr(3), maxHosts: intPtr(1), toolCalls: intPtr(60), readOnly: true},
		{name: "pro", plan: tenancyv1.Plan_PLAN_PRO, maxApps: intPtr(10), maxHosts: intPtr(3), toolCalls: intPtr(600)},
		{name: "enterprise", plan: tenancyv1.Plan_PLAN_ENTERPRISE, toolCalls: intPtr(6000), dedicated: true},
		{name: "enterprise with overrides", plan: tenancyv1.Plan_PLAN_ENTERPRISE,
			overrides: &tenancyv1.LimitOverrides{MaxApps: intPtr(200), ToolCallsPerMinute: intPtr(9000)},
			maxApps:   intPtr(200), toolCalls: intPtr(9000), dedicated: true},
		{name: "pro clears overrides", plan: tenancyv1.Plan_PLAN_PRO, maxApps: intPtr(10), maxHosts: intPtr(3), toolCalls: intPtr(600)},
	}
	for _, tt := range tests {
		// Subtests run in order because each changes the same tenant.
		t.Run(tt.name, func(t *testing.T) {
			if !tt.skipChange {
				changed, err := operator.ChangePlan(ctx, connect.NewRequest(&tenancyv1.ChangePlanRequest{TenantId: tenantID, Plan: tt.plan, Overrides: tt.overrides}))
				if err != nil {
					t.Fatal(err)
				}
				if got := changed.Msg.GetTenant().GetPlan(); got != tt.plan {
					t.Errorf("ChangePlan tenant plan = %v, want %v", got, tt.plan)
				}
			}
			got, err := dokkuexec.GetTenantLimits(ctx, connect.NewRequest(&tenancyv1.GetTenantLimitsRequest{TenantId: tenantID}))
			if err != nil {
				t.Fatal(err)
			}
			limits := got.Msg.GetLimits()
			if limitText(limits.MaxApps) != limitText(tt.maxApps) {
				t.Errorf("max_apps = %s, want %s", limitText(limits.MaxApps), limitText(tt.maxApps))
			}
			if limitText(limits.MaxHosts) != limitText(tt.maxHosts) {
				t.Errorf("max_hosts = %s, want %s", limitText(limits.MaxHosts), limitText(tt.maxHosts))
			}
			if limitText(limits.ToolCallsPerMinute) != limitText(tt.toolCalls) {
				t.Errorf("tool_calls_per_minute = %s, want %s", limitText(limits.ToolCallsPerMinute), limitText(tt.toolCalls))
			}
			if limits.GetReadOnly() != tt.readOnly {
				t.Errorf("read_only = %v, want %v", limits.GetReadOnly(), tt.readOnly)
			}
			if limits.GetDedicatedHosts() != tt.dedicated {
				t.Errorf("dedicated_hosts = %v, want %v", limits.GetDedicatedHosts(), tt.dedicated)
			}
			if limits.GetStatus() != tenancyv1.TenantStatus_TENANT_STATUS_ACTIVE {
				t.Errorf("status = %v, want active", limits.GetStatus())
			}
		})
	}

	_, err = operator.ChangePlan(ctx, connect.NewRequest(&tenancyv1.ChangePlanRequest{TenantId: tenantID}))
	wantCode(t, err, connect.CodeInvalidArgument, "plan is missing")
	_, err = operator.ChangePlan(ctx, connect.NewRequest(&tenancyv1.ChangePlanRequest{TenantId: tenantID, Plan: tenancyv1.Plan_PLAN_PRO,
		Overrides: &tenancyv1.LimitOverrides{MaxHosts: intPtr(-1)}}))
	wantCode(t, err, connect.CodeInvalidArgument, "override max_hosts = -1 is invalid")
	_, err = operator.ChangePlan(ctx, connect.NewRequest(&tenancyv1.ChangePlanRequest{TenantId: "t-aaaaaaaaaa", Plan: tenancyv1.Plan_PLAN_PRO}))
	wantCode(t, err, connect.CodeNotFound, "tenant t-aaaaaaaaaa not found")
	_, err = dokkuexec.ChangePlan(ctx, connect.NewRequest(&tenancyv1.ChangePlanRequest{TenantId: tenantID, Plan: tenancyv1.Plan_PLAN_ENTERPRISE}))
	wantCode(t, err, connect.CodePermissionDenied, `permission "platform:admin" is required`)
}

func TestTenantSuspendResume(t *testing.T) {
	t.Parallel()
	s := startTenancy(t)
	ctx := context.Background()
	operator, dokkuexec := s.operator(t), s.dokkuexec(t)
	tenant := createTenant(t, operator, "acme")
	registerHost(t, operator, tenant.GetId(), "prod")
	getHost := func() error {
		_, err := dokkuexec.GetHost(ctx, connect.NewRequest(&tenancyv1.GetHostRequest{TenantId: tenant.GetId(), Host: "prod"}))
		return err
	}

	suspended, err := operator.SuspendTenant(ctx, connect.NewRequest(&tenancyv1.SuspendTenantRequest{TenantId: tenant.GetId()}))
	if err != nil {
		t.Fatal(err)
	}
	if got := suspended.Msg.GetTenant().GetStatus(); got != tenancyv1.TenantStatus_TENANT_STATUS_SUSPENDED {
		t.Errorf("SuspendTenant status = %v, want suspended", got)
	}
	wantCode(t, getHost(), connect.CodeFailedPrecondition, "is suspended")
	limits, err := dokkuexec.GetTenantLimits(ctx, connect.NewRequest(&tenancyv1.GetTenantLimitsRequest{TenantId: tenant.GetId()}))
	if err != nil {
		t.Fatal(err)
	}
	if got := limits.Msg.GetLimits().GetStatus(); got != tenancyv1.TenantStatus_TENANT_STATUS_SUSPENDED {
		t.Errorf("GetTenantLimits status = %v, want suspended", got)
	}

	resumed, err := operator.ResumeTenant(ctx, connect.NewRequest(&tenancyv1.ResumeTenantRequest{TenantId: tenant.GetId()}))
	if err != nil {
		t.Fatal(err)
	}
	if got := resumed.Msg.GetTenant().GetStatus(); got != tenancyv1.TenantStatus_TENANT_STATUS_ACTIVE {
		t.Errorf("ResumeTenant status = %v, want active", got)
	}
	if err := getHost(); err != nil {
		t.Errorf("GetHost after ResumeTenant: %v", err)
	}

	_, err = operator.SuspendTenant(ctx, connect.NewRequest(&tenancyv1.SuspendTenantRequest{TenantId: "t-aaaaaaaaaa"}))
	wantCode(t, err, connect.CodeNotFound, "tenant t-aaaaaaaaaa not found")
	_, err = dokkuexec.SuspendTenant(ctx, connect.NewRequest(&tenancyv1.SuspendTenantRequest{TenantId: tenant.GetId()}))
	wantCode(t, err, connect.CodePermissionDenied, `permission "platform:admin" is required`)
}

func TestRegisterHostMaxHosts(t *testing.T) {
	t.Parallel()
	s := startTenancy(t)
	ctx := context.Background()
	operator := s.operator(t)
	resp, err := operator.CreateTenant(ctx, connect.NewRequest(&tenancyv1.CreateTenantRequest{Slug: "small-shop", Plan: tenancyv1.Plan_PLAN_FREE}))
	if err != nil {
		t.Fatal(err)
	}
	tenantID := resp.Msg.GetTenant().GetId()
	registerHost(t, operator, tenantID, "prod")

	key, _ := hostKey(t)
	second := func() error {
		_, err := operator.RegisterHost(ctx, connect.NewRequest(&tenancyv1.RegisterHostRequest{
			TenantId: tenantID, Name: "staging", Address: "staging.example.com", HostKey: key,
		}))
		return err
	}
	wantCode(t, second(), connect.CodeResourceExhausted, "tenant small-shop on plan free may have at most 1 host; remove a host or change plan")

	if _, err := operator.ChangePlan(ctx, connect.NewRequest(&tenancyv1.ChangePlanRequest{TenantId: tenantID, Plan: tenancyv1.Plan_PLAN_PRO})); err != nil {
		t.Fatal(err)
	}
	if err := second(); err != nil {
		t.Errorf("RegisterHost after ChangePlan to pro: %v", err)
	}
}
