package domain_test

import (
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

		domain.ToolDeployCreate: "apps:deploy",
		domain.ToolDeployStatus: "apps:deploy",
		domain.ToolDeployList:   "apps:deploy",
		domain.ToolDeployLogs:   "apps:deploy",
		domain.ToolDeployCancel: "apps:deploy",
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
