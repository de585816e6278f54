package domain_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"dokkumcp.dev/identity/internal/domain"
)

const mcpURL = "http://127.0.0.1:8080/mcp"

func newPolicy(t *testing.T) *domain.Policy {
	t.Helper()
	policy, err := domain.NewPolicy([]string{domain.AudienceDokkuExec, mcpURL})
	if err != nil {
		t.Fatal(err)
	}
	return policy
}

func TestRolePermissions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		role domain.Role
		want string
	}{
		{domain.RoleViewer, "apps:read services:read logs:read"},
		{domain.RoleDeployer, "apps:read services:read logs:read apps:deploy apps:config"},
		{domain.RoleMaintainer, "apps:read services:read logs:read apps:deploy apps:config apps:create domains:write services:write"},
		{domain.RoleOwner, "apps:read services:read logs:read apps:deploy apps:config apps:create domains:write services:write apps:destroy audit:read tenant:admin"},
		{domain.RoleServiceDokkuExec, "tenancy:read-hosts tenancy:read-limits tenancy:reserve-apps audit:append secrets:issue token:introspect"},
		{domain.RoleServiceMCPEdge, "token:exchange token:introspect tenancy:read-limits audit:append"},
		{domain.RoleOperator, "platform:admin token:introspect"},
		{domain.Role("admin"), ""},
	}
	for _, tt := range tests {
		t.Run(string(tt.role), func(t *testing.T) {
			t.Parallel()
			if got := strings.Join(tt.role.Permissions(), " "); got != tt.want {
				t.Errorf("permissions of %s = %q, want %q", tt.role, got, tt.want)
			}
		})
	}
}

func TestServiceRole(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		want   domain.Role
		wantOK bool
	}{
		{"dokkuexec", domain.RoleServiceDokkuExec, true},
		{"mcpedge", domain.RoleServiceMCPEdge, true},
		{"operator", domain.RoleOperator, true},
		{"viewer", "", false},
		{"tenancy", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := domain.ServiceRole(tt.name)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("ServiceRole(%q) = %q, %v; want %q, %v", tt.name, got, ok, tt.want, tt.wantOK)
			}
		})
	}
	if got := strings.Join(domain.ServiceClientNames(), ","); got != "dokkuexec,mcpedge,operator,secrets" {
		t.Errorf("ServiceClientNames() = %q", got)
	}
}

func TestPolicyMayRequest(t *testing.T) {
	t.Parallel()
	policy := newPolicy(t)
	tenant := domain.Client{ID: "c-1", TenantID: "t-1", Role: domain.RoleDeployer, Resources: []string{mcpURL}}
	dokkuexec := domain.Client{ID: "dokkuexec", Role: domain.RoleServiceDokkuExec}
	mcpedge := domain.Client{ID: "mcpedge", Role: domain.RoleServiceMCPEdge, Resources: policy.ServiceClientResources(domain.RoleServiceMCPEdge)}
	operator := domain.Client{ID: "operator", Role: domain.RoleOperator}
	// A client recorded with a resource that the deployment no longer offers.
	stale := domain.Client{ID: "c-2", TenantID: "t-1", Role: domain.RoleOwner, Resources: []string{"https://old.example/mcp"}}

	tests := []struct {
		name     string
		client   domain.Client
		resource string
		want     bool
	}{
		{"tenant own resource", tenant, mcpURL, true},
		{"tenant resource not on client", tenant, domain.AudienceDokkuExec, false},
		{"tenant service audience", tenant, domain.AudienceTenancy, false},
		{"tenant resource no longer configured", stale, "https://old.example/mcp", false},
		{"dokkuexec tenancy", dokkuexec, domain.AudienceTenancy, true},
		{"dokkuexec secrets", dokkuexec, domain.AudienceSecrets, true},
		{"dokkuexec identity", dokkuexec, domain.AudienceIdentity, false},
		{"dokkuexec mcp", dokkuexec, mcpURL, false},
		{"mcpedge dokkuexec", mcpedge, domain.AudienceDokkuExec, false},
		{"mcpedge mcp", mcpedge, mcpURL, false},
		{"operator identity", operator, domain.AudienceIdentity, true},
		{"operator tenancy", operator, domain.AudienceTenancy, true},
		{"operator secrets", operator, domain.AudienceSecrets, true},
		{"operator dokkuexec", operator, domain.AudienceDokkuExec, true},
		{"operator mcp", operator, mcpURL, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := policy.MayRequest(tt.client, tt.resource); got != tt.want {
				t.Errorf("MayRequest(%s, %q) = %v, want %v", tt.client.ID, tt.resource, got, tt.want)
			}
		})
	}
}

func TestPolicyExchange(t *testing.T) {
	t.Parallel()
	policy := newPolicy(t)
	mcpedge := domain.Client{ID: "mcpedge", Role: domain.RoleServiceMCPEdge, Resources: policy.ServiceClientResources(domain.RoleServiceMCPEdge)}
	operator := domain.Client{ID: "operator", Role: domain.RoleOperator, Resources: policy.ServiceClientResources(domain.RoleOperator)}

	if !slices.Equal(mcpedge.Resources, []string{mcpURL}) {
		t.Fatalf("mcpedge resources = %v, want only the MCP endpoint", mcpedge.Resources)
	}

	subjectTests := []struct {
		name      string
		actor     domain.Client
		audiences []string
		want      bool
	}{
		{"mcpedge mcp subject", mcpedge, []string{mcpURL}, true},
		{"mcpedge subject among several audiences", mcpedge, []string{"urn:other", mcpURL}, true},
		{"mcpedge dokkuexec subject", mcpedge, []string{domain.AudienceDokkuExec}, false},
		{"mcpedge no audience", mcpedge, nil, false},
		{"operator lacks token:exchange", operator, []string{domain.AudienceDokkuExec}, false},
	}
	for _, tt := range subjectTests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := policy.MayExchangeSubject(tt.actor, tt.audiences); got != tt.want {
				t.Errorf("MayExchangeSubject(%s, %v) = %v, want %v", tt.actor.ID, tt.audiences, got, tt.want)
			}
		})
	}

	targetTests := []struct {
		name   string
		actor  domain.Client
		target string
		want   bool
	}{
		{"mcpedge to dokkuexec", mcpedge, domain.AudienceDokkuExec, true},
		{"mcpedge to tenancy", mcpedge, domain.AudienceTenancy, true},
		{"mcpedge to secrets", mcpedge, domain.AudienceSecrets, false},
		{"mcpedge to mcp", mcpedge, mcpURL, false},
		{"operator to dokkuexec", operator, domain.AudienceDokkuExec, false},
	}
	for _, tt := range targetTests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := policy.MayExchangeFor(tt.actor, tt.target); got != tt.want {
				t.Errorf("MayExchangeFor(%s, %q) = %v, want %v", tt.actor.ID, tt.target, got, tt.want)
			}
		})
	}
}

func TestNarrowScopes(t *testing.T) {
	t.Parallel()
	granted := domain.RoleDeployer.Permissions()
	tests := []struct {
		name      string
		requested string
		want      string
		wantErr   error
	}{
		{"no request grants all", "", "apps:read services:read logs:read apps:deploy apps:config", nil},
		{"blank request grants all", "  ", "apps:read services:read logs:read apps:deploy apps:config", nil},
		{"subset in granted order", "apps:deploy apps:read", "apps:read apps:deploy", nil},
		{"unknown scope dropped", "apps:read made:up", "apps:read", nil},
		{"disallowed scope dropped", "apps:read apps:destroy", "apps:read", nil},
		{"duplicates collapse", "apps:read apps:read", "apps:read", nil},
		{"nothing left", "apps:destroy tenant:admin", "", domain.ErrNoScopeGranted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := domain.NarrowScopes(granted, tt.requested)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("NarrowScopes(%q) error = %v, want %v", tt.requested, err, tt.wantErr)
			}
			if strings.Join(got, " ") != tt.want {
				t.Errorf("NarrowScopes(%q) = %q, want %q", tt.requested, strings.Join(got, " "), tt.want)
			}
		})
	}
}

func TestNewTenantClient(t *testing.T) {
	t.Parallel()
	policy := newPolicy(t)
	tests := []struct {
		name          string
		tenantID      string
		clientName    string
		role          domain.Role
		resources     []string
		wantResources []string
		wantErr       string
	}{
		{"all resources by default", "t-1", "ci", domain.RoleDeployer, nil, []string{domain.AudienceDokkuExec, mcpURL}, ""},
		{"chosen resource", "t-1", "ci", domain.RoleViewer, []string{mcpURL, mcpURL}, []string{mcpURL}, ""},
		{"missing tenant", "", "ci", domain.RoleViewer, nil, nil, "missing tenant_id"},
		{"tenant with space", "t 1", "ci", domain.RoleViewer, nil, nil, "invalid tenant_id"},
		{"missing name", "t-1", " ", domain.RoleViewer, nil, nil, "missing name"},
		{"platform role", "t-1", "ci", domain.RoleOperator, nil, nil, `invalid role "operator"`},
		{"unknown role", "t-1", "ci", domain.Role("admin"), nil, nil, `invalid role "admin"`},
		{"resource not offered", "t-1", "ci", domain.RoleOwner, []string{domain.AudienceTenancy}, nil, `resource "urn:dokkumcp:tenancy" is not a tenant resource`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			client, err := domain.NewTenantClient(policy, tt.tenantID, tt.clientName, tt.role, tt.resources)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(client.Resources, tt.wantResources) {
				t.Errorf("resources = %v, want %v", client.Resources, tt.wantResources)
			}
		})
	}
}

func TestNewPolicyRejectsInvalidResource(t *testing.T) {
	t.Parallel()
	for _, resources := range [][]string{nil, {"relative/path"}, {"http://127.0.0.1/mcp#frag"}} {
		if _, err := domain.NewPolicy(resources); err == nil {
			t.Errorf("NewPolicy(%q) succeeded, want an error", resources)
		}
	}
}
