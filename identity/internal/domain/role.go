// Package domain holds Identity's rules: which permissions each role grants,
// which audiences each role may request tokens for, and how requested scopes
// are narrowed. It does no I/O.
package domain

import (
	"slices"
	"sort"
)

// Role names a permission set. Tenant clients hold one of the tenant roles;
// the platform's own service identities and the operator hold the others.
type Role string

// Tenant roles, from least to most privileged.
const (
	RoleViewer     Role = "viewer"
	RoleDeployer   Role = "deployer"
	RoleMaintainer Role = "maintainer"
	RoleOwner      Role = "owner"
)

// Platform roles, held by clients without a tenant.
const (
	RoleServiceDokkuExec Role = "service:dokkuexec"
	RoleServiceMCPEdge   Role = "service:mcpedge"
	RoleServiceSecrets   Role = "service:secrets"
	RoleOperator         Role = "operator"
)

// Service audiences (RFC 8707 resource indicators) of the platform's Connect
// services.
const (
	AudienceIdentity  = "urn:dokkumcp:identity"
	AudienceTenancy   = "urn:dokkumcp:tenancy"
	AudienceSecrets   = "urn:dokkumcp:secrets"
	AudienceDokkuExec = "urn:dokkumcp:dokkuexec"
)

// ServiceAudiencePrefix starts every service audience. Tenant resources
// without it are MCP endpoint URLs.
const ServiceAudiencePrefix = "urn:dokkumcp:"

// PermissionTokenExchange lets a client exchange another client's token
// (RFC 8693) for one with a different audience.
const PermissionTokenExchange = "token:exchange"

// PermissionTokenIntrospect lets a client ask the introspection endpoint
// (RFC 7662) about another client's token.
const PermissionTokenIntrospect = "token:introspect"

var (
	viewerPermissions     = []string{"apps:read", "services:read", "logs:read"}
	deployerPermissions   = append(slices.Clone(viewerPermissions), "apps:deploy", "apps:config")
	maintainerPermissions = append(slices.Clone(deployerPermissions), "apps:create", "domains:write", "services:write")
	ownerPermissions      = append(slices.Clone(maintainerPermissions), "apps:destroy", "audit:read", "tenant:admin")
)

// roleRule is the permissions and audiences of one role.
type roleRule struct {
	permissions []string
	// tenant roles request the audiences configured as tenant resources and
	// recorded on the client; the fixed audiences below apply to the others.
	tenant    bool
	audiences []string
	// exchangeTargets are the audiences a client with token:exchange may
	// exchange a subject token for.
	exchangeTargets []string
}

var roleRules = map[Role]roleRule{
	RoleViewer:     {permissions: viewerPermissions, tenant: true},
	RoleDeployer:   {permissions: deployerPermissions, tenant: true},
	RoleMaintainer: {permissions: maintainerPermissions, tenant: true},
	RoleOwner:      {permissions: ownerPermissions, tenant: true},

	RoleServiceDokkuExec: {
		permissions: []string{"tenancy:read-hosts", "tenancy:read-limits", "tenancy:reserve-apps", "audit:append",
			"secrets:issue", PermissionTokenIntrospect},
		audiences: []string{AudienceTenancy, AudienceSecrets},
	},
	// mcpedge requests no token for itself: it only exchanges its callers'
	// tokens for tokens addressed to DokkuExec.
	RoleServiceMCPEdge: {
		permissions:     []string{PermissionTokenExchange, PermissionTokenIntrospect, "tenancy:read-limits", "audit:append"},
		audiences:       []string{AudienceTenancy},
		exchangeTargets: []string{AudienceDokkuExec, AudienceTenancy},
	},
	// Secrets only appends the audit events of the credentials it issues.
	RoleServiceSecrets: {
		permissions: []string{"audit:append"},
		audiences:   []string{AudienceTenancy},
	},
	RoleOperator: {
		permissions: []string{"platform:admin", PermissionTokenIntrospect},
		audiences:   []string{AudienceIdentity, AudienceTenancy, AudienceSecrets, AudienceDokkuExec},
	},
}

// Known reports whether r is a role Identity defines.
func (r Role) Known() bool {
	_, ok := roleRules[r]
	return ok
}

// IsTenantRole reports whether r is one of the roles a tenant client holds.
func (r Role) IsTenantRole() bool {
	return roleRules[r].tenant
}

// Permissions returns the permissions r grants, or nil for an unknown role.
func (r Role) Permissions() []string {
	return slices.Clone(roleRules[r].permissions)
}

// HasPermission reports whether r grants permission.
func (r Role) HasPermission(permission string) bool {
	return slices.Contains(roleRules[r].permissions, permission)
}

// ExchangeTargets returns the audiences r may exchange tokens for. It is
// empty unless r grants token:exchange.
func (r Role) ExchangeTargets() []string {
	if !r.HasPermission(PermissionTokenExchange) {
		return nil
	}
	return slices.Clone(roleRules[r].exchangeTargets)
}

// ServiceRole returns the role of the platform client named name: operator
// for "operator", service:<name> otherwise. ok is false when Identity
// defines no such role.
func ServiceRole(name string) (role Role, ok bool) {
	role = Role("service:" + name)
	if name == "operator" {
		role = RoleOperator
	}
	if !role.Known() || role.IsTenantRole() {
		return "", false
	}
	return role, true
}

// ServiceClientNames returns the names --service-clients accepts.
func ServiceClientNames() []string {
	var names []string
	for role := range roleRules {
		switch {
		case role == RoleOperator:
			names = append(names, "operator")
		case !role.IsTenantRole():
			names = append(names, string(role)[len("service:"):])
		}
	}
	sort.Strings(names)
	return names
}

// AllPermissions returns every permission some role grants, sorted; it is
// the scopes_supported list of the server metadata.
func AllPermissions() []string {
	var all []string
	for _, rule := range roleRules {
		for _, p := range rule.permissions {
			if !slices.Contains(all, p) {
				all = append(all, p)
			}
		}
	}
	sort.Strings(all)
	return all
}
