package mcp_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	mcpadapter "dokkumcp.dev/mcpedge/internal/adapters/mcp"
	"dokkumcp.dev/mcpedge/internal/app"
	"dokkumcp.dev/platform/auth"
)

// handle sends one JSON-RPC message to a server with no DokkuExec client,
// as a caller holding scopes, and returns the response as JSON. Only
// requests rejected before reaching DokkuExec can succeed here.
func handle(t *testing.T, scopes []string, message string) map[string]any {
	t.Helper()
	logger := slog.New(slog.DiscardHandler)
	s := mcpadapter.NewServer(&app.Tools{Logger: logger}, "test", time.Minute, logger)
	ctx := auth.WithPrincipal(context.Background(), &auth.Principal{TenantID: "t-1", Subject: "c-1", ClientID: "c-1", Scopes: scopes})
	raw, err := json.Marshal(s.HandleMessage(ctx, json.RawMessage(message)))
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestResourceTemplatesFilteredByPermission(t *testing.T) {
	t.Parallel()
	list := `{"jsonrpc":"2.0","id":1,"method":"resources/templates/list"}`
	names := func(scopes []string) []string {
		var result struct {
			ResourceTemplates []mcp.ResourceTemplate `json:"resourceTemplates"`
		}
		raw, _ := json.Marshal(handle(t, scopes, list)["result"])
		if err := json.Unmarshal(raw, &result); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, template := range result.ResourceTemplates {
			out = append(out, template.Name)
		}
		slices.Sort(out)
		return out
	}
	if got := names([]string{"apps:read"}); !slices.Equal(got, []string{"app_report", "apps"}) {
		t.Errorf("templates for apps:read = %v, want [app_report apps]", got)
	}
	if got := names([]string{"apps:read", "logs:read"}); len(got) != 3 {
		t.Errorf("templates for apps:read and logs:read = %v, want all 3", got)
	}
	if got := names([]string{"apps:read", "logs:read", "apps:deploy"}); !slices.Contains(got, "deployment") || len(got) != 4 {
		t.Errorf("templates for a deployer = %v, want all 4 with deployment", got)
	}
	if got := names(nil); len(got) != 0 {
		t.Errorf("templates without scopes = %v, want none", got)
	}
}

func TestResourceReadDeniedWithoutPermission(t *testing.T) {
	t.Parallel()
	out := handle(t, []string{"apps:read"},
		`{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"dokku://hosts/main/apps/web/logs"}}`)
	rpcErr, _ := out["error"].(map[string]any)
	message, _ := rpcErr["message"].(string)
	if rpcErr == nil || !strings.Contains(message, "logs:read") {
		t.Fatalf("reading logs with apps:read only = %v, want an error naming logs:read", out)
	}
	if code, _ := rpcErr["code"].(float64); code != mcp.INVALID_PARAMS {
		t.Errorf("error code = %v, want %d", rpcErr["code"], mcp.INVALID_PARAMS)
	}
}

func TestPromptsFilteredByPermission(t *testing.T) {
	t.Parallel()
	out := handle(t, []string{"apps:read", "logs:read"},
		`{"jsonrpc":"2.0","id":1,"method":"prompts/get","params":{"name":"deploy_checklist","arguments":{"app":"web"}}}`)
	if out["error"] == nil {
		t.Errorf("a viewer got deploy_checklist: %v", out)
	}
	out = handle(t, []string{"apps:read", "logs:read"},
		`{"jsonrpc":"2.0","id":2,"method":"prompts/get","params":{"name":"diagnose_app","arguments":{"app":"web","extra":"x"}}}`)
	rpcErr, _ := out["error"].(map[string]any)
	if message, _ := rpcErr["message"].(string); !strings.Contains(message, `"extra"`) {
		t.Errorf("diagnose_app with an unknown argument = %v, want an error naming it", out)
	}
}
