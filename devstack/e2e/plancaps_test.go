package e2e_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"golang.org/x/oauth2/clientcredentials"

	"dokkumcp.dev/devstack/internal/stack"
	tenancyv1 "dokkumcp.dev/gen/dokkumcp/tenancy/v1"
)

// TestPlanCaps checks, against the real Identity and Tenancy, that once a
// tenant moves to the read-only Free plan its owner's new tokens carry only
// read permissions, so mcpedge lists only read tools. It also checks
// mcpedge's response to a call whose permission the token lacks: 403
// insufficient_scope while the plan permits it, so that a token requested
// with a wider scope would help, and a tool-level error once the Free plan
// forbids it; both are audited as denied.
func TestPlanCaps(t *testing.T) {
	t.Parallel()
	logs := &syncBuffer{}
	st := startStack(t, logs)
	ctx := context.Background()

	tenant, err := st.SeedTenant(ctx, stack.TenantOptions{Slug: "plancaps-free"})
	if err != nil {
		t.Fatalf("seed tenant: %v\nlogs:\n%s", err, logs.String())
	}
	tokenConfig := clientcredentials.Config{
		ClientID: tenant.ClientID, ClientSecret: tenant.ClientSecret, TokenURL: st.IdentityURL + "/oauth2/token",
		EndpointParams: url.Values{"resource": {st.MCPURL}},
	}
	pro, err := tokenConfig.Token(ctx)
	if err != nil {
		t.Fatalf("fetch token on the pro plan: %v\nlogs:\n%s", err, logs.String())
	}
	if scope, _ := pro.Extra("scope").(string); !slices.Contains(strings.Fields(scope), "apps:deploy") {
		t.Fatalf("token scope on the pro plan = %q, want the owner's write permissions", scope)
	}

	// Identity narrows a token to the scope the request names.
	narrowConfig := tokenConfig
	narrowConfig.Scopes = []string{"apps:read"}
	narrow, err := narrowConfig.Token(ctx)
	if err != nil {
		t.Fatalf("fetch a token narrowed to apps:read: %v\nlogs:\n%s", err, logs.String())
	}
	if scope, _ := narrow.Extra("scope").(string); scope != "apps:read" {
		t.Fatalf("narrowed token scope = %q, want apps:read", scope)
	}
	status, header, response := postDeniedCall(t, st.MCPURL, narrow.AccessToken)
	wantChallenge := `Bearer error="insufficient_scope", scope="apps:config", resource_metadata="` + st.MCPURL[:strings.LastIndex(st.MCPURL, "/mcp")] + `/.well-known/oauth-protected-resource/mcp"`
	if status != http.StatusForbidden || !strings.HasPrefix(header.Get("WWW-Authenticate"), wantChallenge) {
		t.Fatalf("config_set with an apps:read token on the pro plan: status %d, WWW-Authenticate %q; want 403 starting %q", status, header.Get("WWW-Authenticate"), wantChallenge)
	}
	if response == nil || response.Error == nil || !strings.Contains(response.Error.Message, "request a new token whose scope includes apps:config") {
		t.Fatalf("403 body = %+v, want a JSON-RPC error that says which scope to request", response)
	}

	if err := st.ChangePlan(ctx, tenant.ID, tenancyv1.Plan_PLAN_FREE); err != nil {
		t.Fatal(err)
	}

	// Identity caches each tenant's plan for --tenant-limits-ttl (10 s), so
	// the first token issued after the cached pro plan expires is capped.
	const readScope = "apps:read services:read logs:read audit:read"
	var token, scope string
	deadline := time.Now().Add(30 * time.Second)
	for {
		issued, err := tokenConfig.Token(ctx)
		if err != nil {
			t.Fatalf("fetch token: %v\nlogs:\n%s", err, logs.String())
		}
		token = issued.AccessToken
		scope, _ = issued.Extra("scope").(string)
		if scope == readScope {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("token scope = %q 30 s after the change to free, want %q", scope, readScope)
		}
		waitPollInterval(t)
	}
	for _, write := range []string{"apps:deploy", "apps:create", "apps:destroy", "tenant:admin"} {
		if slices.Contains(strings.Fields(scope), write) {
			t.Errorf("token on the free plan carries %s", write)
		}
	}

	c := newMCPClient(t, st.MCPURL, token)
	tools, err := c.ListTools(ctx, mcp.ListToolsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tool := range tools.Tools {
		names = append(names, tool.Name)
	}
	slices.Sort(names)
	wantTools := []string{"apps_list", "apps_report", "audit_log", "domains_report", "host_info", "letsencrypt_report", "logs_get", "ps_report", "services_info", "services_list"}
	if !slices.Equal(names, wantTools) {
		t.Errorf("tools on the free plan = %v, want the read tools %v", names, wantTools)
	}

	// No token of a Free tenant can carry apps:config, so a step-up would
	// not help: the model gets a tool-level error that explains what to do.
	status, _, response = postDeniedCall(t, st.MCPURL, token)
	if status != http.StatusOK || response == nil || response.Result == nil || !response.Result.IsError ||
		!strings.Contains(rpcResultText(response), "read-only plan") {
		t.Fatalf("config_set on the free plan: status %d, response %+v; want 200 with an isError result naming the read-only plan", status, response)
	}

	events := waitForAudit(t, st, tenant.ID, func(events []auditRow) bool {
		denied := 0
		for _, e := range events {
			if e.operation == "mcpedge.config_set" && e.result == "denied" {
				denied++
			}
		}
		return denied == 2
	})
	for _, e := range events {
		if e.operation == "mcpedge.config_set" && e.result != "denied" {
			t.Errorf("audit event %+v, want every config_set denied", e)
		}
	}
}

// postDeniedCall posts a config_set tools/call over raw HTTP, so that the
// test can check the status and headers a client library would act on.
func postDeniedCall(t *testing.T, mcpURL, token string) (int, http.Header, *rpcResponse) {
	t.Helper()
	body := `{"jsonrpc":"2.0","id":41,"method":"tools/call","params":{"name":"config_set","arguments":{"app":"web","vars":{"MODE":"x"}}}}`
	req, _ := http.NewRequest(http.MethodPost, mcpURL, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("MCP-Protocol-Version", "2025-11-25")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if data, ok := strings.CutPrefix(line, "data: "); ok {
			raw = []byte(data)
			break
		}
	}
	var out rpcResponse
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("decode %q: %v", raw, err)
	}
	return resp.StatusCode, resp.Header, &out
}

// rpcResultText joins the text content of a tool result.
func rpcResultText(r *rpcResponse) string {
	var texts []string
	for _, c := range r.Result.Content {
		texts = append(texts, c.Text)
	}
	return strings.Join(texts, "\n")
}
