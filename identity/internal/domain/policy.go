package domain

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// Policy decides which audiences a client may request and which scopes a
// token carries. It combines the fixed role rules with the tenant resources
// the deployment configures.
type Policy struct {
	tenantResources []string
}

// NewPolicy returns the policy for a deployment whose tenant clients may
// request tokens for tenantResources. Each resource is an absolute URI
// without a fragment, as RFC 8707 section 2 requires of resource indicators.
func NewPolicy(tenantResources []string) (*Policy, error) {
	if len(tenantResources) == 0 {
		return nil, errors.New("no tenant resources: configure at least one audience, for example urn:dokkumcp:dokkuexec")
	}
	var resources []string
	for _, r := range tenantResources {
		if err := ValidateResource(r); err != nil {
			return nil, err
		}
		if !slices.Contains(resources, r) {
			resources = append(resources, r)
		}
	}
	return &Policy{tenantResources: resources}, nil
}

// ValidateResource checks that r is an absolute URI without a fragment.
func ValidateResource(r string) error {
	u, err := url.Parse(r)
	if err != nil || !u.IsAbs() || u.Fragment != "" || strings.ContainsAny(r, " \t\r\n") {
		return fmt.Errorf("invalid resource %q: use an absolute URI without a fragment, such as urn:dokkumcp:dokkuexec or http://127.0.0.1:8080/mcp", r)
	}
	return nil
}

// TenantResources returns the audiences tenant clients may request.
func (p *Policy) TenantResources() []string {
	return slices.Clone(p.tenantResources)
}

// TenantClientResources checks the resources requested for a new tenant
// client and returns the ones to record: all tenant resources when none are
// requested.
func (p *Policy) TenantClientResources(requested []string) ([]string, error) {
	if len(requested) == 0 {
		return p.TenantResources(), nil
	}
	var resources []string
	for _, r := range requested {
		if !slices.Contains(p.tenantResources, r) {
			return nil, fmt.Errorf("resource %q is not a tenant resource; use one of %s", r, strings.Join(p.tenantResources, ", "))
		}
		if !slices.Contains(resources, r) {
			resources = append(resources, r)
		}
	}
	return resources, nil
}

// ServiceClientResources returns the resources to record for a platform
// client of role. For a role that exchanges tokens they are the audiences of
// the subject tokens it accepts: the MCP endpoints among the tenant
// resources. For the others they are the audiences the role may request.
func (p *Policy) ServiceClientResources(role Role) []string {
	if role.HasPermission(PermissionTokenExchange) {
		var endpoints []string
		for _, r := range p.tenantResources {
			if !strings.HasPrefix(r, ServiceAudiencePrefix) {
				endpoints = append(endpoints, r)
			}
		}
		return endpoints
	}
	return slices.Clone(roleRules[role].audiences)
}

// MayRequest reports whether client may obtain a client-credentials token
// for resource. A tenant client needs resource on its own list and still
// configured as a tenant resource. A platform client needs it among its
// role's fixed audiences.
func (p *Policy) MayRequest(client Client, resource string) bool {
	if client.Role.IsTenantRole() {
		return slices.Contains(client.Resources, resource) && slices.Contains(p.tenantResources, resource)
	}
	return slices.Contains(roleRules[client.Role].audiences, resource)
}

// MayExchangeSubject reports whether actor may exchange a subject token
// whose audiences are subjectAudiences: one of them must be a resource
// recorded for the actor.
func (p *Policy) MayExchangeSubject(actor Client, subjectAudiences []string) bool {
	if !actor.Role.HasPermission(PermissionTokenExchange) {
		return false
	}
	for _, aud := range subjectAudiences {
		if slices.Contains(actor.Resources, aud) {
			return true
		}
	}
	return false
}

// MayExchangeFor reports whether actor may exchange tokens for target.
func (p *Policy) MayExchangeFor(actor Client, target string) bool {
	return slices.Contains(actor.Role.ExchangeTargets(), target)
}

// ErrNoScopeGranted means every requested scope was dropped.
var ErrNoScopeGranted = errors.New("none of the requested scopes is granted")

// NarrowScopes returns the scopes a token carries when a client may hold
// granted and asked for requested (space separated, RFC 6749 section 3.3).
// Requested scopes outside granted are dropped; an empty request yields all
// of granted. The result keeps the order of granted.
func NarrowScopes(granted []string, requested string) ([]string, error) {
	requestedScopes := strings.Fields(requested)
	if len(requestedScopes) == 0 {
		return slices.Clone(granted), nil
	}
	var scopes []string
	for _, g := range granted {
		if slices.Contains(requestedScopes, g) {
			scopes = append(scopes, g)
		}
	}
	if len(scopes) == 0 {
		return nil, ErrNoScopeGranted
	}
	return scopes, nil
}
