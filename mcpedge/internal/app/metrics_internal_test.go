package app

import (
	"strings"
	"testing"
)

func TestToolLabel(t *testing.T) {
	tests := map[string]string{
		"apps_list":                  "apps_list",
		"resource.app_report":        "resource.app_report",
		"prompt.diagnose_app":        "prompt.diagnose_app",
		"resource":                   otherTool,
		"resource.no_such_resource":  otherTool,
		"prompt.no_such_prompt":      otherTool,
		"apps_list\u0000":            otherTool,
		strings.Repeat("x", 100_000): otherTool,
	}
	for tool, want := range tests {
		if got := toolLabel(tool); got != want {
			t.Errorf("toolLabel(%.40q) = %q, want %q", tool, got, want)
		}
	}
}
