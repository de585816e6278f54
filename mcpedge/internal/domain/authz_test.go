package domain_test

import (
	"slices"
	"testing"

	"dokkumcp.dev/mcpedge/internal/domain"
)

func TestPlanPermits(t *testing.T) {
	t.Parallel()
	cases := []struct {
		permission string
		readOnly   bool
		want       bool
	}{
		{"apps:read", true, true},
		{"logs:read", true, true},
		{"apps:deploy", true, false},
		{"apps:config", true, false},
		{"apps:deploy", false, true},
		{"tenant:admin", false, true},
	}
	for _, tc := range cases {
		if got := domain.PlanPermits(tc.permission, tc.readOnly); got != tc.want {
			t.Errorf("PlanPermits(%q, read-only %v) = %v, want %v", tc.permission, tc.readOnly, got, tc.want)
		}
	}
}

func TestPromptPermissions(t *testing.T) {
	t.Parallel()
	if got, want := domain.PromptPermissions(domain.PromptDiagnoseApp), []string{"apps:read", "logs:read"}; !slices.Equal(got, want) {
		t.Errorf("PromptPermissions(diagnose_app) = %v, want %v", got, want)
	}
	if got := domain.PromptPermissions("no_such_prompt"); got != nil {
		t.Errorf("PromptPermissions of an unknown prompt = %v, want nil", got)
	}
	if got, want := domain.MissingPermissions([]string{"apps:read", "apps:config"}, []string{"apps:read"}), []string{"apps:config"}; !slices.Equal(got, want) {
		t.Errorf("MissingPermissions = %v, want %v", got, want)
	}
}
