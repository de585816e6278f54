package http_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	httpguard "dokkumcp.dev/mcpedge/internal/adapters/http"
	"dokkumcp.dev/mcpedge/internal/app"
	"dokkumcp.dev/platform/auth"
)

type onePerMinute struct{}

func (onePerMinute) ToolCallsPerMinute(context.Context, string) (int, bool, error) {
	return 1, true, nil
}

func TestGuardRateLimitsToolCalls(t *testing.T) {
	t.Parallel()
	logger := slog.New(slog.DiscardHandler)
	guard := &httpguard.Guard{
		TestPrincipal: &auth.Principal{TenantID: "t-1", Subject: "c-1", ClientID: "c-1", Scopes: allScopes},
		Calls:         &app.CallGate{Limiter: &app.Limiter{Source: onePerMinute{}, Logger: logger}, Logger: logger},
		Logger:        logger,
	}
	var sawCall bool
	handler := guard.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sawCall = app.CallFrom(r.Context()) != nil
	}))
	post := func(body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "http://mcp.test/mcp", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		return rec
	}
	call := `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"apps_list","arguments":{}}}`

	if rec := post(call); rec.Code != http.StatusOK || !sawCall {
		t.Fatalf("first call: status %d, call in context %v; want 200 with a call", rec.Code, sawCall)
	}
	rec := post(call)
	if rec.Code != http.StatusTooManyRequests {
		t.Fatalf("second call: status %d, want 429", rec.Code)
	}
	if seconds, err := strconv.Atoi(rec.Header().Get("Retry-After")); err != nil || seconds < 1 || seconds > 60 {
		t.Fatalf("Retry-After = %q, want 1 to 60", rec.Header().Get("Retry-After"))
	}
	var answer struct {
		ID    int `json:"id"`
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &answer); err != nil || answer.ID != 7 || !strings.Contains(answer.Error.Message, "retry after") ||
		!strings.Contains(answer.Error.Message, "this tenant's plan") {
		t.Fatalf("body = %s, want a JSON-RPC error for id 7 naming the plan's limit and saying when to retry", rec.Body.String())
	}
	// The tenant limit's message does not echo the name the caller sent.
	long := strings.Repeat("x", 5000)
	rec = post(`{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"` + long + `","arguments":{}}}`)
	if rec.Code != http.StatusTooManyRequests || strings.Contains(rec.Body.String(), "xxxxxxxx") {
		t.Fatalf("unknown tool over the limit: status %d, body %.200s; want 429 without the name", rec.Code, rec.Body.String())
	}
	// Other methods are not limited.
	if rec := post(`{"jsonrpc":"2.0","id":8,"method":"tools/list"}`); rec.Code != http.StatusOK {
		t.Fatalf("tools/list: status %d, want 200", rec.Code)
	}
}

func TestGuardAdmitsResourceReadsAndPrompts(t *testing.T) {
	t.Parallel()
	logger := slog.New(slog.DiscardHandler)
	guard := &httpguard.Guard{
		TestPrincipal: &auth.Principal{TenantID: "t-1", Subject: "c-1", ClientID: "c-1", Scopes: allScopes},
		Calls:         &app.CallGate{Limiter: &app.Limiter{Source: onePerMinute{}, Logger: logger}, Logger: logger},
		Logger:        logger,
	}
	var operation string
	handler := guard.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		operation = ""
		if call := app.CallFrom(r.Context()); call != nil {
			operation = call.Tool()
		}
	}))
	post := func(body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "http://mcp.test/mcp", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		return rec
	}

	cases := []struct {
		name, body, operation string
	}{
		{"templates list is not gated", `{"jsonrpc":"2.0","id":1,"method":"resources/templates/list"}`, ""},
		{"resource read", `{"jsonrpc":"2.0","id":2,"method":"resources/read","params":{"uri":"dokku://hosts/main/apps/web"}}`, "resource.app_report"},
		{"unknown resource", `{"jsonrpc":"2.0","id":3,"method":"resources/read","params":{"uri":"file:///etc/passwd"}}`, "resource"},
		{"prompt", `{"jsonrpc":"2.0","id":4,"method":"prompts/get","params":{"name":"diagnose_app","arguments":{"app":"web"}}}`, "prompt.diagnose_app"},
	}
	// The tenant may make one gated request a minute, so only the first
	// gated request passes.
	for i, tc := range cases {
		rec := post(tc.body)
		switch {
		case tc.operation == "":
			if rec.Code != http.StatusOK || operation != "" {
				t.Errorf("%s: status %d, operation %q; want 200 without a call", tc.name, rec.Code, operation)
			}
		case i == 1:
			if rec.Code != http.StatusOK || operation != tc.operation {
				t.Errorf("%s: status %d, operation %q; want 200 with operation %q", tc.name, rec.Code, operation, tc.operation)
			}
		default:
			if rec.Code != http.StatusTooManyRequests {
				t.Errorf("%s: status %d, want 429 because it shares the tenant's limit with the earlier read", tc.name, rec.Code)
			}
		}
	}
}

// allScopes are the permissions of a tenant owner, so that no request in
// these tests is denied.
var allScopes = []string{"apps:read", "apps:create", "apps:config", "apps:deploy", "apps:destroy", "domains:write",
	"services:read", "services:write", "logs:read", "audit:read", "tenant:admin"}

func TestGuardAnswersUnknownResourceURIs(t *testing.T) {
	t.Parallel()
	guard := &httpguard.Guard{
		TestPrincipal:          &auth.Principal{TenantID: "t-1", Subject: "c-1", ClientID: "c-1", Scopes: allScopes},
		AnswerUnknownResources: true,
		Logger:                 slog.New(slog.DiscardHandler),
	}
	var reached bool
	handler := guard.Wrap(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached = true }))
	read := func(uri, version string) (int, string, int) {
		t.Helper()
		reached = false
		body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 5, "method": "resources/read", "params": map[string]string{"uri": uri}})
		req := httptest.NewRequest(http.MethodPost, "http://mcp.test/mcp", strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		if version != "" {
			req.Header.Set("MCP-Protocol-Version", version)
		}
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		var answer struct {
			Error struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		_ = json.Unmarshal(rec.Body.Bytes(), &answer)
		return rec.Code, answer.Error.Message, answer.Error.Code
	}

	status, message, code := read("dokku://hosts/main/apps?x=1\x00", "2025-11-25")
	if status != http.StatusOK || reached || code != -32002 {
		t.Fatalf("unknown URI: status %d, code %d, reached %v; want 200 with -32002 before the MCP server", status, code, reached)
	}
	if !strings.Contains(message, "dokku://hosts/{host}/apps") || strings.Contains(message, "\x00") {
		t.Errorf("message %q should list the templates and escape the NUL byte", message)
	}
	if _, _, code := read("file:///etc/passwd", "2026-07-28"); code != -32602 {
		t.Errorf("unknown URI in the 2026-07-28 era: code %d, want -32602", code)
	}
	if read("dokku://hosts/main/apps/web", ""); !reached {
		t.Error("a URI that matches a template did not reach the MCP server")
	}
}
