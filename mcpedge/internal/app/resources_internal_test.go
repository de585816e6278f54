package app

import (
	"testing"

	"dokkumcp.dev/mcpedge/internal/domain"
)

func TestDeploymentMatchesURI(t *testing.T) {
	t.Parallel()
	deployment := &Deployment{ID: "d-abcdefgh23", Host: "main", App: "web"}
	cases := []struct {
		host, app string
		want      bool
	}{
		{"main", "web", true},
		{"h-abcdefgh23", "web", true},
		{"main", "api", false},
		{"other", "web", false},
		{"h-abcdefgh23", "api", false},
	}
	for _, tc := range cases {
		ref := domain.ResourceRef{Name: domain.ResourceDeploy, Host: tc.host, App: tc.app, DeploymentID: deployment.ID}
		if got := deploymentMatches(deployment, ref); got != tc.want {
			t.Errorf("deploymentMatches(host %q, app %q) = %v, want %v", tc.host, tc.app, got, tc.want)
		}
	}
}
