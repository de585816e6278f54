package domain_test

import (
	"strings"
	"testing"

	"dokkumcp.dev/identity/internal/domain"
)

func TestTenantPlanCapPermissions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		readOnly bool
		role     domain.Role
		want     string
	}{
		{"full plan keeps owner", false, domain.RoleOwner, strings.Join(domain.RoleOwner.Permissions(), " ")},
		{"read-only plan caps owner", true, domain.RoleOwner, "apps:read services:read logs:read audit:read"},
		{"read-only plan caps maintainer", true, domain.RoleMaintainer, "apps:read services:read logs:read"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			plan := domain.TenantPlan{TenantID: "t-1", Status: domain.TenantActive, ReadOnly: tt.readOnly}
			if got := strings.Join(plan.CapPermissions(tt.role.Permissions()), " "); got != tt.want {
				t.Errorf("CapPermissions(%s) = %q, want %q", tt.role, got, tt.want)
			}
		})
	}
}

func TestTenantPlanCheckActive(t *testing.T) {
	t.Parallel()
	if err := (domain.TenantPlan{TenantID: "t-1", Status: domain.TenantActive}).CheckActive(); err != nil {
		t.Errorf("CheckActive of an active tenant = %v, want nil", err)
	}
	for _, status := range []domain.TenantStatus{domain.TenantSuspended, domain.TenantDeleted, "unspecified"} {
		err := domain.TenantPlan{TenantID: "t-1", Status: status}.CheckActive()
		if err == nil || !strings.Contains(err.Error(), "tenant t-1 is "+string(status)) {
			t.Errorf("CheckActive of a %s tenant = %v, want an error naming the status", status, err)
		}
	}
}
