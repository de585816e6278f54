package mcp

import (
	"encoding/json"
	"strings"
	"testing"

	"dokkumcp.dev/mcpedge/internal/app"
)

// TestArgumentsErrorHidesGoTypes checks the message of arguments that pass
// the input schema but do not fit the Go type they bind to, such as 1.0
// for an integer, which JSON Schema accepts, or a number beyond int64.
func TestArgumentsErrorHidesGoTypes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		arguments string
		want      string
	}{
		{`{"app":"shop","page_size":1.0}`, "page_size"},
		{`{"id":"d-aaaaaaaaaa","after_line":100000000000000000000}`, "after_line"},
	}
	for _, tt := range tests {
		var deployList app.DeployListArgs
		var deployLogs app.DeployLogsArgs
		err := json.Unmarshal([]byte(tt.arguments), &deployList)
		if strings.Contains(tt.arguments, "after_line") {
			err = json.Unmarshal([]byte(tt.arguments), &deployLogs)
		}
		if err == nil {
			t.Fatalf("binding %s succeeded, want an error", tt.arguments)
		}
		message := argumentsError("deploy_list", err)
		if !strings.Contains(message, tt.want) || !strings.Contains(message, "whole number") {
			t.Errorf("argumentsError(%s) = %q, want it to name %s and ask for a whole number", tt.arguments, message, tt.want)
		}
		for _, internal := range []string{"Go struct", "int64", "int32", "Args."} {
			if strings.Contains(message, internal) {
				t.Errorf("argumentsError(%s) = %q, which names the Go type detail %q", tt.arguments, message, internal)
			}
		}
	}
}
