package app_test

import (
	"strings"
	"testing"

	"dokkumcp.dev/mcpedge/internal/app"
)

func TestDiagnoseAppPromptFollowsPermissions(t *testing.T) {
	t.Parallel()
	viewer := []string{"apps:read", "logs:read"}
	text := app.DiagnoseAppPrompt(app.PromptArgs{Host: "main", App: "web"}, viewer)
	for _, want := range []string{"apps_report", "ps_report", "logs_get", "domains_report", "host_info",
		`{"host": "main", "app": "web"}`, "dokku://hosts/main/apps/web/logs"} {
		if !strings.Contains(text, want) {
			t.Errorf("diagnose_app for a viewer does not mention %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "config_export") {
		t.Errorf("diagnose_app for a viewer tells it to call config_export, which it may not:\n%s", text)
	}

	owner := append(viewer, "apps:config")
	if text := app.DiagnoseAppPrompt(app.PromptArgs{App: "web"}, owner); !strings.Contains(text, "config_export") ||
		strings.Contains(text, `"host"`) || strings.Contains(text, "dokku://") {
		t.Errorf("diagnose_app without a host for a caller with apps:config:\n%s", text)
	}
}

func TestDeployChecklistPromptNamesNoMissingTool(t *testing.T) {
	t.Parallel()
	deployer := []string{"apps:read", "logs:read", "apps:deploy", "apps:config"}
	text := app.DeployChecklistPrompt(app.PromptArgs{Host: "main", App: "web"}, deployer)
	for _, want := range []string{"apps_report", "ps_report", "config_export", "logs_get", "ps_restart", "deploy_list", "deploy_create", "deploy_status", "deploy_logs"} {
		if !strings.Contains(text, want) {
			t.Errorf("deploy_checklist does not mention %q:\n%s", want, text)
		}
	}
}
