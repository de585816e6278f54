package domain

import "fmt"

// Limits are the limits in force for a tenant: its plan's row from the
// plans table with the tenant's overrides applied. A nil max means
// unlimited.
type Limits struct {
	Tenant             Tenant
	MaxApps            *int
	MaxHosts           *int
	ToolCallsPerMinute *int
	// ReadOnly tenants may read their apps but not change them. Tenancy
	// only reports it.
	// NOTE: DokkuExec and mcpedge must enforce ReadOnly; ReserveApp does not.
	ReadOnly       bool
	DedicatedHosts bool
}

// Overrides replace single limits of a tenant's plan. A nil field keeps the
// plan's value.
type Overrides struct {
	MaxApps            *int
	MaxHosts           *int
	ToolCallsPerMinute *int
}

// ValidatePlan checks that plan is one of the seeded plans.
func ValidatePlan(plan Plan) error {
	switch plan {
	case PlanFree, PlanPro, PlanEnterprise:
		return nil
	}
	return invalid("plan %q is invalid: use free, pro or enterprise", plan)
}

// Validate rejects negative overrides.
func (o Overrides) Validate() error {
	for name, value := range map[string]*int{"max_apps": o.MaxApps, "max_hosts": o.MaxHosts, "tool_calls_per_minute": o.ToolCallsPerMinute} {
		if value != nil && *value < 0 {
			return invalid("override %s = %d is invalid: use 0 or more, or leave it unset for the plan's value", name, *value)
		}
	}
	return nil
}

// AdmitHost returns a ResourceExhausted error when the tenant, which has
// the given number of hosts, may not register another.
func (l *Limits) AdmitHost(hosts int) error {
	if l.MaxHosts != nil && hosts >= *l.MaxHosts {
		return ResourceExhausted("tenant %s on plan %s may have at most %s; remove a host or change plan",
			l.Tenant.Slug, l.Tenant.Plan, countNoun(*l.MaxHosts, "host"))
	}
	return nil
}

// AdmitApp returns a ResourceExhausted error when the tenant, whose apps
// and pending reservations add up to apps, may not reserve another. It
// also rejects tenants that are not active.
func (l *Limits) AdmitApp(apps int) error {
	if err := l.requireActive("create apps"); err != nil {
		return err
	}
	if l.MaxApps != nil && apps >= *l.MaxApps {
		return ResourceExhausted("tenant %s on plan %s may have at most %s; destroy an app or change plan",
			l.Tenant.Slug, l.Tenant.Plan, countNoun(*l.MaxApps, "app"))
	}
	return nil
}

func (l *Limits) requireActive(action string) error {
	switch l.Tenant.Status {
	case TenantActive:
		return nil
	case TenantSuspended:
		return FailedPrecondition("tenant %s is suspended and cannot %s: resume it with ResumeTenant", l.Tenant.ID, action)
	default:
		return FailedPrecondition("tenant %s is %s and cannot %s", l.Tenant.ID, l.Tenant.Status, action)
	}
}

// countNoun formats n with noun in singular or plural, for example "1 host".
func countNoun(n int, noun string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
