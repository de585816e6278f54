package app

import (
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"connectrpc.com/connect"

	dokkuexecv1 "dokkumcp.dev/gen/dokkumcp/dokkuexec/v1"
)

// TestToolErrorNamesTools checks that a DokkuExec or Tenancy message that
// points at one of their RPCs reaches the model naming the tool or command
// that does the same, since the model cannot call RPCs.
func TestToolErrorNamesTools(t *testing.T) {
	t.Parallel()
	tools := &Tools{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	tests := []struct {
		message string
		want    string
		rpc     string
	}{
		{"deployment d-aaaaaaaaaa not found; list the app's deployments with ListDeployments", "with deploy_list", "ListDeployments"},
		{"app \"shop\" is already being deployed by d-aaaaaaaaaa; watch it with WatchDeployment, or cancel it with CancelDeployment, then deploy again", "watch it with deploy_logs, or cancel it with deploy_cancel", "Deployment"},
		{"host \"main\" rejected the platform's SSH credential; install the trust line from GetHostTrust in the dokku user's authorized_keys", "dokkumcp host add", "GetHostTrust"},
		{"host \"other\" not found for tenant t-aaaaaaaaaa: register it with RegisterHost, or give the name or id of a registered host", "dokkumcp host add", "RegisterHost"},
	}
	for _, tt := range tests {
		err := tools.toolError(t.Context(), "deploy_status", connect.NewError(connect.CodeNotFound, errors.New(tt.message)))
		var toolErr *ToolError
		if !errors.As(err, &toolErr) {
			t.Fatalf("toolError = %v, want a *ToolError", err)
		}
		if !strings.Contains(toolErr.Message, tt.want) || strings.Contains(toolErr.Message, tt.rpc) {
			t.Errorf("toolError(%q) = %q, want it to contain %q and not %q", tt.message, toolErr.Message, tt.want, tt.rpc)
		}
	}
}

// TestDeploymentMessageNamesTools checks the same rewrite for the message
// DokkuExec stores with a failed or cancelled deployment.
func TestDeploymentMessageNamesTools(t *testing.T) {
	t.Parallel()
	d := deploymentResult(&dokkuexecv1.Deployment{Id: "d-aaaaaaaaaa", Message: "the build failed; read the build output with WatchDeployment, fix the cause and deploy again"})
	if !strings.Contains(d.Message, "with deploy_logs") || strings.Contains(d.Message, "WatchDeployment") {
		t.Errorf("message = %q, want it to name deploy_logs instead of WatchDeployment", d.Message)
	}
}
