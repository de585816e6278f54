package domain_test

import (
	"regexp"
	"testing"

	"dokkumcp.dev/mcpedge/internal/domain"
)

func TestPermissionComesFromContract(t *testing.T) {
	t.Parallel()
	want := map[string]string{
		domain.ToolAppsList:   "apps:read",
		domain.ToolAppsReport: "apps:read",
		domain.ToolAppsCreate: "apps:create",
		domain.ToolConfigGet:  "apps:config",
		domain.ToolConfigSet:  "apps:config",

		domain.ToolAppsDestroy:  "apps:destroy",
		domain.ToolAppsRename:   "apps:destroy",
		domain.ToolAppsLock:     "apps:deploy",
		domain.ToolAppsUnlock:   "apps:deploy",
		domain.ToolConfigUnset:  "apps:config",
		domain.ToolConfigExport: "apps:config",

		domain.ToolPsReport:      "apps:read",
		domain.ToolPsScale:       "apps:deploy",
		domain.ToolPsStart:       "apps:deploy",
		domain.ToolPsStop:        "apps:deploy",
		domain.ToolPsRestart:     "apps:deploy",
		domain.ToolDomainsReport: "apps:read",
		domain.ToolDomainsAdd:    "domains:write",
		domain.ToolDomainsRemove: "domains:write",
		domain.ToolDomainsSet:    "domains:write",
		domain.ToolLogsGet:       "logs:read",
		domain.ToolRun:           "apps:deploy",
		domain.ToolHostInfo:      "apps:read",
		domain.ToolAuditLog:      "audit:read",

		domain.ToolServicesCreate:     "services:write",
		domain.ToolServicesInfo:       "services:read",
		domain.ToolServicesLink:       "services:write",
		domain.ToolServicesUnlink:     "services:write",
		domain.ToolServicesDestroy:    "services:write",
		domain.ToolServicesList:       "services:read",
		domain.ToolLetsencryptEnable:  "domains:write",
		domain.ToolLetsencryptDisable: "domains:write",
		domain.ToolLetsencryptReport:  "apps:read",
		domain.ToolDeployCreate:       "apps:deploy",
		domain.ToolDeployStatus:       "apps:deploy",
		domain.ToolDeployList:         "apps:deploy",
		domain.ToolDeployLogs:         "apps:deploy",
		domain.ToolDeployCancel:       "apps:deploy",
	}
	for _, tool := range domain.ToolNames() {
		if got := domain.Permission(tool); got != want[tool] {
			t.Errorf("Permission(%q) = %q, want %q", tool, got, want[tool])
		}
	}
	if len(domain.ToolNames()) != len(want) {
		t.Errorf("ToolNames() = %v, want %d tools", domain.ToolNames(), len(want))
	}
}

func TestAllowedUnknownToolDenied(t *testing.T) {
	t.Parallel()
	if domain.Allowed("apps_destroy_everything", []string{"apps:read", "apps:destroy"}) {
		t.Fatal("an unknown tool was allowed")
	}
}

func TestAllowedNeedsScope(t *testing.T) {
	t.Parallel()
	viewer := []string{"apps:read", "logs:read"}
	if !domain.Allowed(domain.ToolAppsList, viewer) {
		t.Error("a viewer may not list apps")
	}
	if domain.Allowed(domain.ToolConfigSet, viewer) {
		t.Error("a viewer may set config")
	}
}

// TestServicePatterns checks the schema patterns of the service and
// letsencrypt tools against the cases DokkuExec's validators decide.
func TestServicePatterns(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pattern string
		value   string
		want    bool
	}{
		{domain.ServiceNamePattern, "lollipop", true},
		{domain.ServiceNamePattern, "Shop_DB-2", true},
		{domain.ServiceNamePattern, "_db", true},
		{domain.ServiceNamePattern, "-n", false},
		{domain.ServiceNamePattern, "my.db", false},
		{domain.ServiceNamePattern, "a b", false},
		{domain.ServiceNamePattern, "", false},
		{domain.EmailPattern, "ops@example.com", true},
		{domain.EmailPattern, "a.b+tag@sub.example.io", true},
		{domain.EmailPattern, "-e@example.com", false},
		{domain.EmailPattern, "ops@example", false},
		{domain.EmailPattern, "ops@example.com;id", false},
	}
	for _, tt := range tests {
		if got := regexp.MustCompile(tt.pattern).MatchString(tt.value); got != tt.want {
			t.Errorf("%q matches %q = %v, want %v", tt.pattern, tt.value, got, tt.want)
		}
	}
}

func TestDeploymentPatterns(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pattern string
		valid   []string
		invalid []string
	}{
		{domain.GitRepositoryPattern,
			[]string{"https://github.com/acme/shop.git", "git@github.com:acme/shop.git", "ssh://git@example.com:2222/srv/shop.git"},
			[]string{"", "-oProxyCommand=x", "file:///etc/passwd", "https://example.com/a b", "https://example.com/$(id)"}},
		{domain.GitRefPattern,
			[]string{"main", "v1.2.3", "feature/x-1"},
			[]string{"", "-n", ".hidden", "a b", "a~1"}},
		{domain.ImagePattern,
			[]string{"nginx", "nginx:1.27", "ghcr.io/acme/shop:v2", "localhost:5000/a/b"},
			[]string{"", "Nginx", "nginx latest", "-nginx", "a;id"}},
		{domain.DeploymentIDPattern,
			[]string{"d-abcdefgh23"},
			[]string{"", "d-ABCDEFGH23", "d-abcdefgh1", "x-abcdefgh23"}},
	}
	for _, tt := range tests {
		re := regexp.MustCompile(tt.pattern)
		for _, value := range tt.valid {
			if !re.MatchString(value) {
				t.Errorf("pattern %s rejects %q", tt.pattern, value)
			}
		}
		for _, value := range tt.invalid {
			if re.MatchString(value) {
				t.Errorf("pattern %s accepts %q", tt.pattern, value)
			}
		}
	}
}
