package domain

import "slices"

// readPermissions are the permissions a read-only plan (Free) lets its
// tenants' tokens carry. Identity caps every token of such a tenant to
// them, whatever the client's role, so a call that needs another
// permission cannot succeed with any token the tenant can get.
var readPermissions = []string{"apps:read", "services:read", "logs:read", "audit:read"}

// PlanPermits reports whether a tenant's plan lets its tokens carry
// permission: every permission on a plan that is not read-only, only the
// read permissions on one that is.
func PlanPermits(permission string, readOnlyPlan bool) bool {
	return !readOnlyPlan || slices.Contains(readPermissions, permission)
}

// PromptPermissions returns the permissions prompt name needs, one per tool
// its text relies on, without repeats; nil for an unknown prompt.
func PromptPermissions(name string) []string {
	var permissions []string
	for _, tool := range promptTools[name] {
		if p := Permission(tool); p != "" && !slices.Contains(permissions, p) {
			permissions = append(permissions, p)
		}
	}
	return permissions
}

// MissingPermissions returns the permissions of required that scopes lack.
func MissingPermissions(required, scopes []string) []string {
	var missing []string
	for _, p := range required {
		if !slices.Contains(scopes, p) {
			missing = append(missing, p)
		}
	}
	return missing
}
