package http_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	httpguard "dokkumcp.dev/mcpedge/internal/adapters/http"
	mcpadapter "dokkumcp.dev/mcpedge/internal/adapters/mcp"
	"dokkumcp.dev/mcpedge/internal/app"
	"dokkumcp.dev/platform/auth"
)

// FakePlans reports whether a tenant's plan is read-only, or fails.
type FakePlans struct {
	readOnly bool
	err      error
}

func (p FakePlans) ReadOnlyPlan(context.Context, string) (bool, error) { return p.readOnly, p.err }

// recordingSink keeps the audit events the recorder appends.
type recordingSink struct {
	mu      sync.Mutex
	records []app.CallRecord
}

func (s *recordingSink) AppendCall(_ context.Context, r app.CallRecord) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records = append(s.records, r)
	return nil
}

const metadataURL = "http://mcp.test/.well-known/oauth-protected-resource/mcp"

// TestGuardMissingPermissions checks, through the real MCP server, a request
// whose permission the token lacks. It gets 403 insufficient_scope when the
// plan permits that permission and an error the model can act on when the
// plan forbids it. Both are audited as denied.
func TestGuardMissingPermissions(t *testing.T) {
	t.Parallel()
	readScopes := []string{"apps:read", "services:read", "logs:read", "audit:read"}
	cases := []struct {
		name   string
		scopes []string
		plans  FakePlans
		body   string
		// scope is the challenge's scope for a 403; "" means 200.
		scope string
		// isError is true when the 200 carries a tool result with isError,
		// false when it carries a JSON-RPC error.
		isError bool
		message string
		outcome string
	}{
		{
			name: "write tool on a plan that permits it", scopes: readScopes,
			body:  `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"config_set","arguments":{"app":"web","vars":{"A":"1"}}}}`,
			scope: "apps:config", message: "request a new token whose scope includes apps:config", outcome: app.OutcomeDenied,
		},
		{
			name: "plan unreadable counts as permitting", scopes: readScopes, plans: FakePlans{err: errors.New("tenancy down")},
			body:  `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"deploy_create","arguments":{"app":"web"}}}`,
			scope: "apps:deploy", message: "apps:deploy", outcome: app.OutcomeDenied,
		},
		{
			name: "write tool on a read-only plan", scopes: readScopes, plans: FakePlans{readOnly: true},
			body:    `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"config_set","arguments":{"app":"web","vars":{"A":"1"}}}}`,
			isError: true, message: "read-only plan", outcome: app.OutcomeDenied,
		},
		{
			name: "invalid arguments to a denied tool are still denied", scopes: readScopes, plans: FakePlans{readOnly: true},
			body:    `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"config_set","arguments":{"app":"-bad"}}}`,
			isError: true, outcome: app.OutcomeDenied,
		},
		{
			name: "resource read on a plan that permits it", scopes: []string{"apps:read"},
			body:  `{"jsonrpc":"2.0","id":"r1","method":"resources/read","params":{"uri":"dokku://hosts/main/apps/web/logs"}}`,
			scope: "logs:read", message: "reading dokku://hosts/main/apps/web/logs needs the logs:read permission", outcome: app.OutcomeDenied,
		},
		{
			name: "prompt on a read-only plan", scopes: readScopes, plans: FakePlans{readOnly: true},
			body:    `{"jsonrpc":"2.0","id":3,"method":"prompts/get","params":{"name":"deploy_checklist","arguments":{"app":"web"}}}`,
			message: "prompt deploy_checklist needs the apps:config apps:deploy permission, which the tenant's read-only plan does not allow", outcome: app.OutcomeDenied,
		},
		{
			name: "prompt on a plan that permits it", scopes: readScopes,
			body:  `{"jsonrpc":"2.0","id":3,"method":"prompts/get","params":{"name":"deploy_checklist","arguments":{"app":"web"}}}`,
			scope: "apps:config apps:deploy", outcome: app.OutcomeDenied,
		},
		{
			name: "unknown tool is left to the MCP server", scopes: readScopes,
			body:    `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"no_such_tool","arguments":{}}}`,
			message: "no_such_tool", outcome: app.OutcomeDenied,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			logger := slog.New(slog.DiscardHandler)
			sink := &recordingSink{}
			recorder := app.NewRecorder(sink, logger, 8, nil)
			guard := &httpguard.Guard{
				MetadataURL:   metadataURL,
				TestPrincipal: &auth.Principal{TenantID: "t-1", Subject: "c-1", ClientID: "c-1", Scopes: tc.scopes},
				Calls:         &app.CallGate{Recorder: recorder, Plans: tc.plans, Logger: logger},
				Logger:        logger,
			}
			server := mcpadapter.NewServer(&app.Tools{Logger: logger}, "test", time.Minute, logger)
			handler := guard.Wrap(mcpadapter.NewStreamableHTTPServer(server, "mcp.test", 1<<20, logger))

			req := httptest.NewRequest(http.MethodPost, "http://mcp.test/mcp", strings.NewReader(tc.body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json, text/event-stream")
			req.Header.Set("MCP-Protocol-Version", "2025-11-25")
			rec := httptest.NewRecorder()
			handler.ServeHTTP(rec, req)

			body := rec.Body.String()
			if tc.scope != "" {
				if rec.Code != http.StatusForbidden {
					t.Fatalf("status %d, want 403; body %s", rec.Code, body)
				}
				challenge := rec.Header().Get("WWW-Authenticate")
				for _, want := range []string{`Bearer error="insufficient_scope"`, `scope="` + tc.scope + `"`, `resource_metadata="` + metadataURL + `"`} {
					if !strings.Contains(challenge, want) {
						t.Errorf("WWW-Authenticate = %s, want it to contain %s", challenge, want)
					}
				}
			} else if rec.Code != http.StatusOK {
				t.Fatalf("status %d, want 200; body %s", rec.Code, body)
			}
			if !strings.Contains(body, tc.message) {
				t.Errorf("body = %s, want it to contain %q", body, tc.message)
			}
			if tc.scope == "" {
				var answer struct {
					Result *struct {
						IsError bool `json:"isError"`
					} `json:"result"`
					Error *struct {
						Code int `json:"code"`
					} `json:"error"`
				}
				if err := json.Unmarshal([]byte(jsonPart(body)), &answer); err != nil {
					t.Fatalf("body %s: %v", body, err)
				}
				if tc.isError && (answer.Result == nil || !answer.Result.IsError) {
					t.Errorf("body = %s, want a tool result with isError", body)
				}
				if !tc.isError && answer.Error == nil {
					t.Errorf("body = %s, want a JSON-RPC error", body)
				}
			}

			recorder.Close(context.Background())
			sink.mu.Lock()
			defer sink.mu.Unlock()
			if len(sink.records) != 1 || sink.records[0].Outcome != tc.outcome {
				t.Fatalf("audit events = %+v, want one with outcome %s", sink.records, tc.outcome)
			}
		})
	}
}

// jsonPart returns the JSON of an application/json body or of the data
// line of a text/event-stream body.
func jsonPart(body string) string {
	for _, line := range strings.Split(body, "\n") {
		if data, ok := strings.CutPrefix(line, "data: "); ok {
			return data
		}
	}
	return body
}
