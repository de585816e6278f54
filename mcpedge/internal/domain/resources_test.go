package domain_test

import (
	"errors"
	"strings"
	"testing"

	"dokkumcp.dev/mcpedge/internal/domain"
)

func TestParseResourceURI(t *testing.T) {
	t.Parallel()
	cases := []struct {
		uri  string
		want domain.ResourceRef
	}{
		{"dokku://hosts/main/apps", domain.ResourceRef{Name: domain.ResourceApps, Host: "main"}},
		{"dokku://hosts/h-p4w2ndr6ta/apps", domain.ResourceRef{Name: domain.ResourceApps, Host: "h-p4w2ndr6ta"}},
		{"dokku://hosts/main/apps/web", domain.ResourceRef{Name: domain.ResourceAppReport, Host: "main", App: "web"}},
		{"dokku://hosts/main/apps/old_app.v2", domain.ResourceRef{Name: domain.ResourceAppReport, Host: "main", App: "old_app.v2"}},
		{"dokku://hosts/main/apps/web/logs", domain.ResourceRef{Name: domain.ResourceAppLogs, Host: "main", App: "web"}},
		{"dokku://hosts/main/apps/web/deployments/d-abcdefgh23", domain.ResourceRef{Name: domain.ResourceDeploy, Host: "main", App: "web", DeploymentID: "d-abcdefgh23"}},
	}
	for _, tc := range cases {
		got, err := domain.ParseResourceURI(tc.uri)
		if err != nil {
			t.Errorf("ParseResourceURI(%q): %v", tc.uri, err)
			continue
		}
		if got != tc.want {
			t.Errorf("ParseResourceURI(%q) = %+v, want %+v", tc.uri, got, tc.want)
		}
	}
}

func TestParseResourceURIRejects(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"other scheme":           "https://hosts/main/apps",
		"no apps segment":        "dokku://hosts/main",
		"unknown sub-resource":   "dokku://hosts/main/apps/web/config",
		"invalid deployment id":  "dokku://hosts/main/apps/web/deployments/1",
		"deployments without id": "dokku://hosts/main/apps/web/deployments",
		"upper-case deployment":  "dokku://hosts/main/apps/web/deployments/d-ABCDEFGHIJ",
		"deployment sub-path":    "dokku://hosts/main/apps/web/deployments/d-abcdefghij/logs",
		"other collection":       "dokku://hosts/main/apps/web/builds/d-abcdefghij",
		"empty host":             "dokku://hosts//apps",
		"upper-case host":        "dokku://hosts/Main/apps",
		"empty app":              "dokku://hosts/main/apps/",
		"trailing slash":         "dokku://hosts/main/apps/web/logs/",
		"path traversal":         "dokku://hosts/main/apps/..",
		"percent-encoded slash":  "dokku://hosts/main/apps/a%2Fb",
		"query":                  "dokku://hosts/main/apps/web?x=1",
		"fragment":               "dokku://hosts/main/apps#x",
		"shell characters":       "dokku://hosts/main/apps/web;rm",
		"app name too long":      "dokku://hosts/main/apps/" + strings.Repeat("a", 256),
		"uri longer than limit":  "dokku://hosts/main/apps/" + strings.Repeat("a", 600),
		"host with a dot":        "dokku://hosts/main.example/apps",
		"capitalised apps":       "dokku://hosts/main/Apps",
		"app starting with dash": "dokku://hosts/main/apps/-web",
	}
	for name, uri := range cases {
		_, err := domain.ParseResourceURI(uri)
		var uriErr *domain.ResourceURIError
		if !errors.As(err, &uriErr) {
			t.Errorf("%s: ParseResourceURI(%q) error = %v, want a ResourceURIError", name, uri, err)
		}
	}
}

func TestResourcePermissionFollowsTools(t *testing.T) {
	t.Parallel()
	want := map[string]string{
		domain.ResourceApps:      "apps:read",
		domain.ResourceAppReport: "apps:read",
		domain.ResourceAppLogs:   "logs:read",
		domain.ResourceDeploy:    "apps:deploy",
	}
	for _, name := range domain.ResourceNames() {
		if got := domain.ResourcePermission(name); got != want[name] {
			t.Errorf("ResourcePermission(%q) = %q, want %q", name, got, want[name])
		}
	}
	if len(domain.ResourceNames()) != len(want) {
		t.Errorf("ResourceNames() = %v, want %d resources", domain.ResourceNames(), len(want))
	}
	if domain.ResourceAllowed(domain.ResourceAppLogs, []string{"apps:read"}) {
		t.Error("a caller without logs:read may read the logs resource")
	}
	if domain.ResourceAllowed("build", []string{"apps:read", "logs:read", "apps:deploy"}) {
		t.Error("an unknown resource was allowed")
	}
}

func TestPromptAllowedNeedsEveryTool(t *testing.T) {
	t.Parallel()
	viewer := []string{"apps:read", "logs:read"}
	deployer := append(viewer, "apps:deploy", "apps:config")
	cases := []struct {
		prompt string
		scopes []string
		want   bool
	}{
		{domain.PromptDiagnoseApp, viewer, true},
		{domain.PromptDiagnoseApp, []string{"apps:read"}, false},
		{domain.PromptDeployChecklist, viewer, false},
		{domain.PromptDeployChecklist, deployer, true},
		{"unknown_prompt", deployer, false},
	}
	for _, tc := range cases {
		if got := domain.PromptAllowed(tc.prompt, tc.scopes); got != tc.want {
			t.Errorf("PromptAllowed(%q, %v) = %v, want %v", tc.prompt, tc.scopes, got, tc.want)
		}
	}
}
