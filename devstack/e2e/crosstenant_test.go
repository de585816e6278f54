package e2e_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"dokkumcp.dev/devstack/internal/stack"
)

// victimApp is the app of tenant B that tenant A tries to reach.
const victimApp = "b-app"

// victimService is the postgres service of tenant B, linked to victimApp,
// that tenant A tries to reach.
const victimService = "b-db"

// tenantState is what tenant B can see of its own app; the matrix compares
// it before and after tenant A's attempts.
type tenantState struct {
	Apps    []string
	Config  map[string]string
	Domains []string
	Locked  bool
	// Services lists B's postgres services, and Links the apps linked
	// to victimService.
	Services []string
	Links    []string
	// TLSEmail is victimApp's Let's Encrypt address.
	TLSEmail string
}

func readTenantState(t *testing.T, c *client.Client) tenantState {
	t.Helper()
	var list struct{ Apps []string }
	call(t, c, "apps_list", map[string]any{}, &list)
	var export struct{ Vars map[string]string }
	call(t, c, "config_export", map[string]any{"app": victimApp, "reveal": true}, &export)
	var domains struct{ Domains []string }
	call(t, c, "domains_report", map[string]any{"app": victimApp}, &domains)
	var report struct{ Locked bool }
	call(t, c, "apps_report", map[string]any{"app": victimApp}, &report)
	var services struct{ Names []string }
	call(t, c, "services_list", map[string]any{"kind": "postgres"}, &services)
	var info struct{ Links []string }
	call(t, c, "services_info", map[string]any{"kind": "postgres", "name": victimService}, &info)
	var tls struct{ Email string }
	call(t, c, "letsencrypt_report", map[string]any{"app": victimApp}, &tls)
	return tenantState{Apps: list.Apps, Config: export.Vars, Domains: domains.Domains, Locked: report.Locked,
		Services: services.Names, Links: info.Links, TLSEmail: tls.Email}
}

// attackArgs returns the arguments of a call of tool that would change or
// read victimApp if it reached the app: every required argument filled,
// confirmations given.
func attackArgs(tool string) map[string]any {
	args := map[string]any{"app": victimApp}
	switch tool {
	case "apps_list", "host_info":
		delete(args, "app")
	case "apps_destroy":
		args["confirm"] = victimApp
	case "apps_rename":
		args["new_name"] = "stolen"
		args["confirm"] = victimApp
	case "config_get":
		args["key"] = "B_SECRET"
	case "config_set":
		args["vars"] = map[string]any{"B_SECRET": "overwritten-by-a"}
		args["no_restart"] = true
	case "config_unset":
		args["keys"] = []string{"B_SECRET"}
		args["confirm"] = victimApp
		args["no_restart"] = true
	case "config_export":
		args["reveal"] = true
	case "ps_scale":
		args["counts"] = map[string]any{"web": 3}
		args["skip_deploy"] = true
	case "domains_add":
		args["domains"] = []string{"evil.example.com"}
	case "domains_set":
		args["domains"] = []string{"evil.example.com"}
		args["confirm"] = victimApp
	case "domains_remove":
		args["domains"] = []string{"b.example.com"}
		args["confirm"] = victimApp
	case "run":
		args["args"] = []string{"echo", "pwned"}
	case "services_list":
		delete(args, "app")
		args["kind"] = "postgres"
	case "services_create", "services_info", "services_destroy":
		delete(args, "app")
		args["kind"] = "postgres"
		args["name"] = victimService
		if tool == "services_destroy" {
			args["confirm"] = victimService
		}
	case "services_link", "services_unlink":
		args["kind"] = "postgres"
		args["name"] = victimService
		args["no_restart"] = true
		if tool == "services_unlink" {
			args["confirm"] = victimService
		}
	case "letsencrypt_enable":
		args["email"] = "attacker@example.com"
	case "letsencrypt_disable":
		args["confirm"] = victimApp
	case "deploy_create":
		args["source"] = "image"
		args["image"] = "evil/image:1"
	case "deploy_cancel":
		args["confirm"] = victimApp
	case "deploy_logs", "deploy_status":
		delete(args, "app")
	}
	return args
}

// deploymentTools take a deployment id and no host: the matrix aims them at
// tenant B's deployment by its id.
var deploymentTools = []string{"deploy_cancel", "deploy_logs", "deploy_status"}

// attempt calls a tool and returns the error text, or fails the test if the
// call succeeded.
func attempt(t *testing.T, c *client.Client, tool string, args map[string]any) string {
	t.Helper()
	req := mcp.CallToolRequest{}
	req.Params.Name = tool
	req.Params.Arguments = args
	result, err := c.CallTool(context.Background(), req)
	if err != nil {
		return err.Error()
	}
	if !result.IsError {
		t.Errorf("%s with %v succeeded: %s; want it rejected", tool, args, toolText(result))
		return ""
	}
	return toolText(result)
}

// TestCrossTenantMatrix calls, as tenant A, every tool that takes an app or
// a host, and reads every resource, aimed at tenant B's app and host. Each
// call and read must fail and leave B's app unchanged, and the attempts must
// be in A's audit ledger, not B's.
func TestCrossTenantMatrix(t *testing.T) {
	logs := &syncBuffer{}
	st := startStack(t, logs)
	ctx := context.Background()

	tenantA, err := st.SeedTenant(ctx, stack.TenantOptions{Slug: "matrix-a"})
	if err != nil {
		t.Fatalf("seed tenant a: %v\nlogs:\n%s", err, logs.String())
	}
	tenantB, err := st.SeedTenant(ctx, stack.TenantOptions{Slug: "matrix-b"})
	if err != nil {
		t.Fatalf("seed tenant b: %v", err)
	}
	tokenURL := st.IdentityURL + "/oauth2/token"
	a := newMCPClient(t, st.MCPURL, fetchToken(t, tokenURL, tenantA.ClientID, tenantA.ClientSecret, st.MCPURL))
	b := newMCPClient(t, st.MCPURL, fetchToken(t, tokenURL, tenantB.ClientID, tenantB.ClientSecret, st.MCPURL))

	var created struct{ App string }
	call(t, b, "apps_create", map[string]any{"app": victimApp}, &created)
	var set struct{ Keys []string }
	call(t, b, "config_set", map[string]any{"app": victimApp, "vars": map[string]any{"B_SECRET": "value-of-tenant-b"}, "no_restart": true}, &set)
	var domains struct{ Domains []string }
	call(t, b, "domains_add", map[string]any{"app": victimApp, "domains": []string{"b.example.com"}}, &domains)
	var service struct{ Info struct{ Name string } }
	call(t, b, "services_create", map[string]any{"kind": "postgres", "name": victimService}, &service)
	var link struct {
		ConfigKey string `json:"config_key"`
	}
	call(t, b, "services_link", map[string]any{"kind": "postgres", "name": victimService, "app": victimApp, "no_restart": true}, &link)
	var tls struct{ Changed bool }
	call(t, b, "letsencrypt_enable", map[string]any{"app": victimApp, "email": "ops@b.example.com"}, &tls)
	before := readTenantState(t, b)
	if before.Config["B_SECRET"] != "value-of-tenant-b" || !slices.Contains(before.Domains, "b.example.com") ||
		!slices.Equal(before.Links, []string{victimApp}) || before.TLSEmail != "ops@b.example.com" {
		t.Fatalf("tenant b's setup did not take: %+v", before)
	}
	var deployed struct{ ID, Status string }
	call(t, b, "deploy_create", map[string]any{"app": victimApp, "source": "image", "image": "nginx:1.27", "wait": true}, &deployed)
	if deployed.Status != "succeeded" {
		t.Fatalf("tenant b's deployment = %+v, want succeeded", deployed)
	}
	// Tenant A has an app of its own, so that its host is not empty.
	call(t, a, "apps_create", map[string]any{"app": "a-app"}, &created)

	// Every tool whose schema names an app or a host is in the matrix.
	listed, err := a.ListTools(ctx, mcp.ListToolsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var targeted, byID []mcp.Tool
	var untargeted []string
	for _, tool := range listed.Tools {
		_, hasApp := tool.InputSchema.Properties["app"]
		_, hasHost := tool.InputSchema.Properties["host"]
		switch {
		case slices.Contains(deploymentTools, tool.Name):
			byID = append(byID, tool)
		case hasApp || hasHost:
			targeted = append(targeted, tool)
		default:
			untargeted = append(untargeted, tool.Name)
		}
	}
	if !slices.Equal(untargeted, []string{"audit_log"}) || len(byID) != len(deploymentTools) {
		t.Fatalf("tools outside the matrix = %v and %d deployment tools; want only audit_log and %v", untargeted, len(byID), deploymentTools)
	}
	for _, tool := range append(slices.Clone(targeted), byID...) {
		args := attackArgs(tool.Name)
		if slices.Contains(deploymentTools, tool.Name) {
			args["id"] = deployed.ID
		} else {
			args["host"] = "main"
		}
		for _, name := range tool.InputSchema.Required {
			if _, ok := args[name]; !ok {
				t.Fatalf("the matrix gives %s no %q; add it to attackArgs, or the call fails validation and proves nothing", tool.Name, name)
			}
		}
		for name := range args {
			if _, ok := tool.InputSchema.Properties[name]; !ok {
				t.Fatalf("the matrix gives %s %q, which its schema does not allow; the call would fail validation and prove nothing", tool.Name, name)
			}
		}
	}

	leaks := []string{tenantB.ID, tenantB.HostAddr, "value-of-tenant-b", "b.example.com"}
	checkNoLeak := func(t *testing.T, tool, text string) {
		t.Helper()
		for _, leak := range leaks {
			if strings.Contains(text, leak) {
				t.Errorf("%s's error %q names tenant b's %q", tool, text, leak)
			}
		}
	}

	// Tenant B's host id is unknown to tenant A: the host lookup fails with
	// not found, before any command reaches a host.
	t.Run("by tenant b's host id", func(t *testing.T) {
		for _, tool := range targeted {
			args := attackArgs(tool.Name)
			args["host"] = tenantB.HostID
			text := attempt(t, a, tool.Name, args)
			if !strings.Contains(text, "not found") || !strings.Contains(text, tenantB.HostID) {
				t.Errorf("%s naming tenant b's host id failed with %q; want host %s not found", tool.Name, text, tenantB.HostID)
			}
			checkNoLeak(t, tool.Name, text)
		}
	})

	// Tenant B's host is called main, as tenant A's is: the name resolves
	// within the caller's tenant, so these calls reach A's host, where
	// b-app does not exist. apps_create, apps_list and host_info would act
	// on A's own host, which is allowed, so they are left out, and so are
	// services_create and services_list. So is deploy_list, which lists A's
	// own deployments of an app of that name: none, without asking the
	// host. The errors name the app, or for the tools that check the
	// service first, the service.
	t.Run("by tenant b's host name and app name", func(t *testing.T) {
		for _, tool := range targeted {
			if slices.Contains([]string{"apps_create", "apps_list", "host_info", "services_create", "services_list", "deploy_list"}, tool.Name) {
				continue
			}
			for _, host := range []string{tenantB.HostName, ""} {
				args := attackArgs(tool.Name)
				if host != "" {
					args["host"] = host
				}
				text := attempt(t, a, tool.Name, args)
				if !strings.Contains(text, victimApp) && !strings.Contains(text, `"`+victimService+`" not found`) {
					t.Errorf("%s on host %q failed with %q; want an error naming %s or %s", tool.Name, host, text, victimApp, victimService)
				}
				checkNoLeak(t, tool.Name, text)
			}
		}
	})

	// The resources read through the same RPCs as the tools, so a URI
	// naming tenant b's host id finds no host, and one naming b's host name
	// and app reaches a's own host, where b-app does not exist.
	resourceURIs := func(host string) map[string]string {
		return map[string]string{
			"resource.apps":       "dokku://hosts/" + host + "/apps",
			"resource.app_report": "dokku://hosts/" + host + "/apps/" + victimApp,
			"resource.app_logs":   "dokku://hosts/" + host + "/apps/" + victimApp + "/logs",
		}
	}
	t.Run("resources by tenant b's host id", func(t *testing.T) {
		for name, uri := range resourceURIs(tenantB.HostID) {
			err := readResourceError(t, a, uri)
			if !strings.Contains(err.Error(), "not found") || !strings.Contains(err.Error(), tenantB.HostID) {
				t.Errorf("%s: reading %s failed with %q; want host %s not found", name, uri, err, tenantB.HostID)
			}
			checkNoLeak(t, name, err.Error())
		}
	})
	t.Run("resources by tenant b's host name and app name", func(t *testing.T) {
		for name, uri := range resourceURIs(tenantB.HostName) {
			if name == "resource.apps" {
				// This is a's own host; the list must not show b's app.
				var list struct{ Apps []string }
				readResource(t, a, uri, &list)
				if slices.Contains(list.Apps, victimApp) || !slices.Contains(list.Apps, "a-app") {
					t.Errorf("reading %s as tenant a = %v; want a-app and not %s", uri, list.Apps, victimApp)
				}
				continue
			}
			err := readResourceError(t, a, uri)
			if !strings.Contains(err.Error(), victimApp) {
				t.Errorf("%s: reading %s failed with %q; want an error naming %s", name, uri, err, victimApp)
			}
			checkNoLeak(t, name, err.Error())
		}
	})

	// Deployment ids are looked up within the caller's tenant: tenant B's
	// deployment is not found for tenant A.
	t.Run("by tenant b's deployment id", func(t *testing.T) {
		for _, tool := range byID {
			args := attackArgs(tool.Name)
			args["id"] = deployed.ID
			text := attempt(t, a, tool.Name, args)
			if !strings.Contains(text, "deployment "+deployed.ID+" not found") {
				t.Errorf("%s with tenant b's deployment id failed with %q; want deployment %s not found", tool.Name, text, deployed.ID)
			}
			checkNoLeak(t, tool.Name, text)
		}
		for _, host := range []string{tenantB.HostID, tenantB.HostName} {
			uri := "dokku://hosts/" + host + "/apps/" + victimApp + "/deployments/" + deployed.ID
			err := readResourceError(t, a, uri)
			if !strings.Contains(err.Error(), "deployment "+deployed.ID+" not found") {
				t.Errorf("reading %s failed with %q; want deployment %s not found", uri, err, deployed.ID)
			}
			checkNoLeak(t, "resource.deployment", err.Error())
		}
	})

	t.Run("tenant b's app is unchanged", func(t *testing.T) {
		after := readTenantState(t, b)
		if !slices.Equal(after.Apps, before.Apps) || !maps.Equal(after.Config, before.Config) ||
			!slices.Equal(after.Domains, before.Domains) || after.Locked != before.Locked ||
			!slices.Equal(after.Services, before.Services) || !slices.Equal(after.Links, before.Links) || after.TLSEmail != before.TLSEmail {
			t.Fatalf("tenant b's state changed: before %+v, after %+v", before, after)
		}
	})

	// The operator holds no permission that reads the ledger, so the test
	// reads Tenancy's table (see waitForAudit).
	t.Run("attempts are in a's ledger only", func(t *testing.T) {
		events := waitForAudit(t, st, tenantA.ID, func(events []auditRow) bool {
			operations := []string{"mcpedge.resource.apps", "mcpedge.resource.app_report", "mcpedge.resource.app_logs", "mcpedge.resource.deployment"}
			for _, tool := range append(slices.Clone(targeted), byID...) {
				operations = append(operations, "mcpedge."+tool.Name)
			}
			for _, operation := range operations {
				rejected := slices.ContainsFunc(events, func(e auditRow) bool {
					return e.operation == operation && e.result != "ok"
				})
				if !rejected {
					return false
				}
			}
			return true
		})
		for _, e := range events {
			if strings.HasPrefix(e.operation, "mcpedge.") && e.clientID != tenantA.ClientID {
				t.Errorf("tenant a's ledger contains %s by client %q", e.operation, e.clientID)
			}
		}
		// A's events are written; any of them misfiled in B's ledger would
		// be there by now.
		eventsB := waitForAudit(t, st, tenantB.ID, func([]auditRow) bool { return true })
		for _, e := range eventsB {
			if e.subject == tenantA.ClientID || e.clientID == tenantA.ClientID {
				t.Errorf("tenant b's ledger contains tenant a's %s (%s)", e.operation, e.result)
			}
		}
		if len(eventsB) == 0 {
			t.Error("tenant b's ledger is empty; its own calls should be there, or the check above proves nothing")
		}
	})
}

// rpcResponse is a JSON-RPC response from mcpedge.
type rpcResponse struct {
	ID     json.RawMessage `json:"id"`
	Result *struct {
		IsError bool `json:"isError"`
		Content []struct {
			Text string `json:"text"`
		} `json:"content"`
		StructuredContent struct {
			ExitCode int    `json:"exit_code"`
			Stdout   string `json:"stdout"`
		} `json:"structuredContent"`
	} `json:"result"`
	Error *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// postRPC posts one JSON-RPC message over raw HTTP and returns the status
// and the response, read from a JSON body or the first SSE data line.
func postRPC(ctx context.Context, mcpURL, token, body string) (int, *rpcResponse, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, mcpURL, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}

	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("MCP-Protocol-Version", "2025-11-25")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()

	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, nil, err
	}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		scanner := bufio.NewScanner(bytes.NewReader(raw))
		scanner.Buffer(nil, 1<<20)
		raw = nil
		for scanner.Scan() {
			if data, ok := strings.CutPrefix(scanner.Text(), "data: "); ok {
				raw = []byte(data)
				break
			}
		}
	}

	if len(bytes.TrimSpace(raw)) == 0 {
		return resp.StatusCode, nil, nil
	}
	var out rpcResponse
	if err := json.Unmarshal(raw, &out); err != nil {
		return resp.StatusCode, nil, fmt.Errorf("decode %q: %w", raw, err)
	}
	return resp.StatusCode, &out, nil
}

// TestCancelledNotificationIsolation has tenants A and B run a command with
// the same JSON-RPC request id while A cancels that id again and again; B's
// call must finish normally.
//
// mcpedge's Streamable HTTP transport is stateless: each POST is its own
// request with no session, and a notifications/cancelled is matched only
// against requests in flight within the same HTTP request. A cancellation
// therefore names a request id only within its sender's own request, so A
// can never cancel B's call, even with B's id. The test proves this over raw
// HTTP, where nothing in a client library keeps the two apart.
//
// mcp-go v1.6.0 keys in-flight requests by session id and request id, and on
// a stateless server the session id is empty, so without mcpedge's guard a
// cancellation from tenant A ended tenant B's call with the same id.
func TestCancelledNotificationIsolation(t *testing.T) {
	logs := &syncBuffer{}
	st := startStack(t, logs)
	ctx := context.Background()

	tenants := make([]*stack.Tenant, 2)
	tokens := make([]string, 2)
	for i, slug := range []string{"cancel-a", "cancel-b"} {
		tenant, err := st.SeedTenant(ctx, stack.TenantOptions{Slug: slug})
		if err != nil {
			t.Fatalf("seed %s: %v\nlogs:\n%s", slug, err, logs.String())
		}
		tenants[i] = tenant
		tokens[i] = fetchToken(t, st.IdentityURL+"/oauth2/token", tenant.ClientID, tenant.ClientSecret, st.MCPURL)
		c := newMCPClient(t, st.MCPURL, tokens[i])
		var created struct{ App string }
		call(t, c, "apps_create", map[string]any{"app": "worker"}, &created)
		deployFromImage(t, tenant, "worker")
	}
	tokenA, tokenB := tokens[0], tokens[1]

	const lines = 5000
	runBody := fmt.Sprintf(`{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"run","arguments":{"app":"worker","args":["seq","%d"]}}}`, lines)
	cancelBody := `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":7,"reason":"tenant a cancels"}}`

	callCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	type outcome struct {
		status int
		resp   *rpcResponse
		err    error
	}
	results := make([]outcome, 2)
	var wg sync.WaitGroup
	done := make(chan struct{})
	for i, token := range []string{tokenA, tokenB} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, resp, err := postRPC(callCtx, st.MCPURL, token, runBody)
			results[i] = outcome{status, resp, err}
		}()
	}
	go func() { wg.Wait(); close(done) }()

	// Tenant A cancels id 7 until both calls are over.
	cancels := 0
	for finished := false; !finished; {
		status, _, err := postRPC(callCtx, st.MCPURL, tokenA, cancelBody)
		if err != nil {
			t.Fatalf("post notifications/cancelled: %v", err)
		}
		if status != http.StatusAccepted {
			t.Fatalf("notifications/cancelled got status %d, want 202", status)
		}
		cancels++
		select {
		case <-done:
			finished = true
		default:
		}
	}
	t.Logf("tenant a sent %d cancellations while the calls ran", cancels)

	b := results[1]
	if b.err != nil || b.status != http.StatusOK || b.resp == nil {
		t.Fatalf("tenant b's call: status %d, response %+v, error %v", b.status, b.resp, b.err)
	}
	if string(b.resp.ID) != "7" || b.resp.Error != nil || b.resp.Result == nil || b.resp.Result.IsError {
		t.Fatalf("tenant b's call did not complete normally: id %s, error %+v, result %+v", b.resp.ID, b.resp.Error, b.resp.Result)
	}
	got := b.resp.Result.StructuredContent
	if got.ExitCode != 0 || strings.Count(got.Stdout, "\n") != lines || !strings.HasSuffix(got.Stdout, fmt.Sprintf("\n%d\n", lines)) {
		t.Fatalf("tenant b's run: exit %d and %d lines, want exit 0 and %d lines", got.ExitCode, strings.Count(got.Stdout, "\n"), lines)
	}
	if a := results[0]; a.err != nil || a.status != http.StatusOK {
		t.Fatalf("tenant a's call: status %d, error %v", a.status, a.err)
	}
}

// TestModernTypeScriptClient runs the MCP TypeScript client 2.x, pinned to
// the 2026-07-28 protocol, against mcpedge.
func TestModernTypeScriptClient(t *testing.T) {
	dir := "node-modern"
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@modelcontextprotocol", "client")); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("the TypeScript client is not installed: run `npm ci` in devstack/e2e/%s (%v)", dir, err)
		}
		t.Skipf("the TypeScript client is not installed; run `npm ci` in devstack/e2e/%s", dir)
	}
	logs := &syncBuffer{}
	st := startStack(t, logs)
	tenant, err := st.SeedTenant(context.Background(), stack.TenantOptions{Slug: "modern"})
	if err != nil {
		t.Fatalf("seed tenant: %v\nlogs:\n%s", err, logs.String())
	}

	cmd := exec.Command("node", filepath.Join(dir, "e2e.mjs"))
	cmd.Env = append(os.Environ(),
		"MCP_URL="+st.MCPURL, "TOKEN_URL="+st.IdentityURL+"/oauth2/token",
		"CLIENT_ID="+tenant.ClientID, "CLIENT_SECRET="+tenant.ClientSecret,
		"APP=modern", "HOST="+tenant.HostName, "CONFIG_VALUE="+hostileValue)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node %s/e2e.mjs: %v\nstderr:\n%s", dir, err, stderr.String())
	}
	var out struct {
		ProtocolVersion string
		Methods         []string
		Tools           []string
		Created         string
		Value           string
		Apps            []string
		Templates       []string
		Resource        struct{ URI, MIMEType, App string }
		Prompt          string
		Families        nodeFamilies
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("decode node output %q: %v", stdout.String(), err)
	}
	checkNodeFamilies(t, "the modern client", "modern", out.Families)
	checkNodeResourcesAndPrompt(t, "the modern client", tenant.HostName, "modern", out.Templates, out.Resource.URI, out.Resource.MIMEType, out.Resource.App, out.Prompt)
	if out.ProtocolVersion != "2026-07-28" {
		t.Errorf("negotiated protocol %q, want 2026-07-28", out.ProtocolVersion)
	}
	if slices.Contains(out.Methods, "initialize") {
		t.Errorf("the modern client sent initialize; methods %v", out.Methods)
	}
	if len(out.Tools) != 38 {
		t.Errorf("the modern client saw tools %v, want 38", out.Tools)
	}
	if out.Created != "modern" {
		t.Errorf("the modern client created %q, want modern", out.Created)
	}
	if out.Value != hostileValue {
		t.Errorf("the modern client read %q, want %q", out.Value, hostileValue)
	}
	if !slices.Contains(out.Apps, "modern") {
		t.Errorf("the modern client's apps = %v, want modern among them", out.Apps)
	}
}
