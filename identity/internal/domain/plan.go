package domain

import (
	"fmt"
	"slices"
)

// readPermissions are the permissions that only read a tenant's resources.
// A tenant on a read-only plan gets no others, whatever its client's role.
var readPermissions = []string{"apps:read", "services:read", "logs:read", "audit:read"}

// TenantStatus is a tenant's lifecycle state as Tenancy reports it.
type TenantStatus string

// Tenant states. Only active tenants get tokens.
const (
	TenantActive    TenantStatus = "active"
	TenantSuspended TenantStatus = "suspended"
	TenantDeleted   TenantStatus = "deleted"
)

// TenantPlan is the part of a tenant's limits that caps its clients' tokens.
type TenantPlan struct {
	TenantID string
	// Plan is the plan's name, such as free or pro. Only messages use it.
	Plan   string
	Status TenantStatus
	// ReadOnly plans keep only the read permissions.
	ReadOnly bool
}

// CheckActive returns an error naming the tenant's status unless the tenant
// is active.
func (p TenantPlan) CheckActive() error {
	if p.Status == TenantActive {
		return nil
	}
	return fmt.Errorf("tenant %s is %s; ask the platform operator to reactivate it", p.TenantID, p.Status)
}

// CapPermissions returns the permissions of granted the plan allows: all of
// them, or only the read permissions on a read-only plan.
func (p TenantPlan) CapPermissions(granted []string) []string {
	if !p.ReadOnly {
		return slices.Clone(granted)
	}
	var capped []string
	for _, permission := range granted {
		if slices.Contains(readPermissions, permission) {
			capped = append(capped, permission)
		}
	}
	return capped
}
