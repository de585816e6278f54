package e2e_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"dokkumcp.dev/devstack/internal/stack"
)

// readResource reads uri and decodes its JSON text into out.
func readResource(t *testing.T, c *client.Client, uri string, out any) {
	t.Helper()
	req := mcp.ReadResourceRequest{}
	req.Params.URI = uri
	result, err := c.ReadResource(context.Background(), req)
	if err != nil {
		t.Fatalf("read %s: %v", uri, err)
	}
	if len(result.Contents) != 1 {
		t.Fatalf("read %s: %d contents, want 1", uri, len(result.Contents))
	}
	text, ok := mcp.AsTextResourceContents(result.Contents[0])
	if !ok || text.URI != uri || text.MIMEType != "application/json" {
		t.Fatalf("read %s: contents %+v, want JSON text for the same URI", uri, result.Contents[0])
	}
	if err := json.Unmarshal([]byte(text.Text), out); err != nil {
		t.Fatalf("read %s: decode %q: %v", uri, text.Text, err)
	}
}

// readResourceError reads uri and returns the error, failing the test if
// the read succeeded.
func readResourceError(t *testing.T, c *client.Client, uri string) error {
	t.Helper()
	req := mcp.ReadResourceRequest{}
	req.Params.URI = uri
	result, err := c.ReadResource(context.Background(), req)
	if err == nil {
		t.Errorf("read %s succeeded with %+v; want it rejected", uri, result.Contents)
		return errors.New("no error")
	}
	return err
}

func getPrompt(t *testing.T, c *client.Client, name string, args map[string]string) (string, error) {
	t.Helper()
	req := mcp.GetPromptRequest{}
	req.Params.Name = name
	req.Params.Arguments = args
	result, err := c.GetPrompt(context.Background(), req)
	if err != nil {
		return "", err
	}
	var parts []string
	for _, message := range result.Messages {
		if text, ok := mcp.AsTextContent(message.Content); ok {
			parts = append(parts, text.Text)
		}
	}
	return strings.Join(parts, "\n"), nil
}

func templateNames(t *testing.T, c *client.Client) []string {
	t.Helper()
	listed, err := c.ListResourceTemplates(context.Background(), mcp.ListResourceTemplatesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, template := range listed.ResourceTemplates {
		names = append(names, template.Name+" "+template.URITemplate.Raw())
	}
	slices.Sort(names)
	return names
}

func promptNames(t *testing.T, c *client.Client) []string {
	t.Helper()
	listed, err := c.ListPrompts(context.Background(), mcp.ListPromptsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range listed.Prompts {
		names = append(names, p.Name)
	}
	slices.Sort(names)
	return names
}

// TestResourcesAndPrompts lists and reads the resources and gets the
// prompts with mcp-go's client, over Streamable HTTP and legacy SSE,
// against a Dokku test host, and checks that they are filtered per role
// and audited.
func TestResourcesAndPrompts(t *testing.T) {
	logs := &syncBuffer{}
	st := startStack(t, logs)
	ctx := context.Background()

	owner, err := st.SeedTenant(ctx, stack.TenantOptions{Slug: "resources-owner"})
	if err != nil {
		t.Fatalf("seed tenant: %v\nlogs:\n%s", err, logs.String())
	}
	tokenURL := st.IdentityURL + "/oauth2/token"
	token := fetchToken(t, tokenURL, owner.ClientID, owner.ClientSecret, st.MCPURL)
	c := newMCPClient(t, st.MCPURL, token)
	var created struct{ App string }
	call(t, c, "apps_create", map[string]any{"app": "web"}, &created)
	base := "dokku://hosts/" + owner.HostName

	t.Run("templates", func(t *testing.T) {
		want := []string{
			"app_logs dokku://hosts/{host}/apps/{app}/logs",
			"app_report dokku://hosts/{host}/apps/{app}",
			"apps dokku://hosts/{host}/apps",
			"deployment dokku://hosts/{host}/apps/{app}/deployments/{id}",
		}
		if got := templateNames(t, c); !slices.Equal(got, want) {
			t.Fatalf("resource templates = %v, want %v", got, want)
		}
	})

	t.Run("apps and app report", func(t *testing.T) {
		var list struct{ Apps []string }
		readResource(t, c, base+"/apps", &list)
		if !slices.Equal(list.Apps, []string{"web"}) {
			t.Errorf("apps resource = %v, want [web]", list.Apps)
		}
		// The host id names the same host as its name.
		readResource(t, c, "dokku://hosts/"+owner.HostID+"/apps", &list)
		if !slices.Equal(list.Apps, []string{"web"}) {
			t.Errorf("apps resource by host id = %v, want [web]", list.Apps)
		}
		var report struct {
			App    string
			Dir    string
			Locked bool
		}
		readResource(t, c, base+"/apps/web", &report)
		if report.App != "web" || report.Dir != "/home/dokku/web" || report.Locked {
			t.Errorf("app report resource = %+v, want web in /home/dokku/web, unlocked", report)
		}
	})

	t.Run("logs", func(t *testing.T) {
		err := readResourceError(t, c, base+"/apps/web/logs")
		if !strings.Contains(err.Error(), "has not been deployed") {
			t.Errorf("logs of an undeployed app: %v, want Dokku's message", err)
		}
		deployFromImage(t, owner, "web")
		var got struct {
			Lines     []struct{ Message string }
			Truncated bool
			Hint      string
		}
		readResource(t, c, base+"/apps/web/logs", &got)
		if got.Hint == "" {
			t.Errorf("logs resource = %+v, want a hint", got)
		}
	})

	t.Run("deployment", func(t *testing.T) {
		call(t, c, "apps_create", map[string]any{"app": "api"}, &created)
		var deployed struct{ ID, Status string }
		call(t, c, "deploy_create", map[string]any{"app": "api", "source": "image", "image": "nginx:1.27", "wait": true}, &deployed)
		if deployed.Status != "succeeded" {
			t.Fatalf("deploy_create = %+v, want succeeded", deployed)
		}
		var status, read map[string]any
		call(t, c, "deploy_status", map[string]any{"id": deployed.ID}, &status)
		uri := base + "/apps/api/deployments/" + deployed.ID
		readResource(t, c, uri, &read)
		if !reflect.DeepEqual(read, status) {
			t.Errorf("deployment resource = %v, want deploy_status's result %v", read, status)
		}
		// The host id names the same host as its name.
		readResource(t, c, "dokku://hosts/"+owner.HostID+"/apps/api/deployments/"+deployed.ID, &read)
		if read["id"] != deployed.ID {
			t.Errorf("deployment resource by host id = %v, want %s", read, deployed.ID)
		}
		// The id exists, but not for this app.
		err := readResourceError(t, c, base+"/apps/web/deployments/"+deployed.ID)
		if !strings.Contains(err.Error(), "deployment "+deployed.ID+" not found on app web") {
			t.Errorf("deployment of api read as web's: %v, want not found on app web", err)
		}
	})

	t.Run("invalid and unknown URIs", func(t *testing.T) {
		// mcpedge parses every URI with the tools' rules before mcp-go
		// matches it, and rejects one that matches no template with the
		// list of templates.
		cases := map[string]string{
			base + "/apps/missing":                               "missing",
			"dokku://hosts/nosuchhost/apps":                      "nosuchhost",
			"dokku://hosts/Main/apps":                            "is invalid",
			base + "/apps/web%2F..%2Fother":                      "is invalid",
			base + "/apps/" + strings.Repeat("a", 300) + "/logs": "is invalid",
			base + "/apps/web/config":                            "matches no resource",
			base + "/apps/web/deployments/1":                     "is invalid",
			base + "/apps/web/deployments/d-abcdefgh23":          "not found",
			"file:///etc/passwd":                                 "matches no resource",
		}
		for uri, want := range cases {
			if err := readResourceError(t, c, uri); !strings.Contains(err.Error(), want) {
				t.Errorf("read %s: %v, want an error containing %q", uri, err, want)
			}
		}
	})

	t.Run("prompts", func(t *testing.T) {
		if got := promptNames(t, c); !slices.Equal(got, []string{"deploy_checklist", "diagnose_app"}) {
			t.Fatalf("prompts = %v, want deploy_checklist and diagnose_app", got)
		}
		text, err := getPrompt(t, c, "diagnose_app", map[string]string{"host": owner.HostName, "app": "web"})
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"apps_report", "ps_report", "logs_get", "config_export", `"app": "web"`} {
			if !strings.Contains(text, want) {
				t.Errorf("diagnose_app text does not mention %q:\n%s", want, text)
			}
		}
		if text, err = getPrompt(t, c, "deploy_checklist", map[string]string{"app": "web"}); err != nil || !strings.Contains(text, "ps_report") {
			t.Errorf("deploy_checklist = %q, %v", text, err)
		}
		if _, err := getPrompt(t, c, "diagnose_app", map[string]string{"app": "Web; rm -rf /"}); err == nil || !strings.Contains(err.Error(), "app names use") {
			t.Errorf("diagnose_app with an invalid app name: %v, want an error naming the rule", err)
		}
	})

	t.Run("viewer sees the read-only prompt only", func(t *testing.T) {
		viewer, err := st.SeedTenant(ctx, stack.TenantOptions{Slug: "resources-viewer", Role: "viewer"})
		if err != nil {
			t.Fatal(err)
		}
		v := newMCPClient(t, st.MCPURL, fetchToken(t, tokenURL, viewer.ClientID, viewer.ClientSecret, st.MCPURL))
		if got := promptNames(t, v); !slices.Equal(got, []string{"diagnose_app"}) {
			t.Errorf("viewer prompts = %v, want [diagnose_app]", got)
		}
		if _, err := getPrompt(t, v, "deploy_checklist", map[string]string{"app": "web"}); err == nil {
			t.Error("a viewer got deploy_checklist")
		}
		text, err := getPrompt(t, v, "diagnose_app", map[string]string{"app": "web"})
		if err != nil || strings.Contains(text, "config_export") {
			t.Errorf("viewer's diagnose_app = %q, %v; want no config_export step", text, err)
		}
		// A viewer holds apps:read and logs:read but not apps:deploy, so the
		// list holds every template but the deployment's.
		if got := templateNames(t, v); len(got) != 3 || slices.ContainsFunc(got, func(name string) bool { return strings.HasPrefix(name, "deployment ") }) {
			t.Errorf("viewer templates = %v, want the 3 without deployment", got)
		}
		waitForAudit(t, st, viewer.ID, func(events []auditRow) bool {
			return slices.ContainsFunc(events, func(e auditRow) bool {
				return e.operation == "mcpedge.prompt.deploy_checklist" && e.result == "denied"
			})
		})
	})

	t.Run("legacy SSE transport", func(t *testing.T) {
		sseBase := strings.TrimSuffix(st.MCPURL, "/mcp")
		sc, err := client.NewSSEMCPClient(sseBase+"/sse", transport.WithHeaders(map[string]string{"Authorization": "Bearer " + token}))
		if err != nil {
			t.Fatal(err)
		}
		defer sc.Close()
		if err := sc.Start(ctx); err != nil {
			t.Fatalf("open SSE stream: %v", err)
		}
		init := mcp.InitializeRequest{}
		init.Params.ProtocolVersion = "2024-11-05"
		init.Params.ClientInfo = mcp.Implementation{Name: "dokkumcp-e2e-sse", Version: "1.0.0"}
		if _, err := sc.Initialize(ctx, init); err != nil {
			t.Fatalf("initialize over SSE: %v", err)
		}
		var report struct{ App string }
		readResource(t, sc, base+"/apps/web", &report)
		if report.App != "web" {
			t.Errorf("app report over SSE = %+v", report)
		}
		if text, err := getPrompt(t, sc, "diagnose_app", map[string]string{"app": "web"}); err != nil || !strings.Contains(text, "apps_report") {
			t.Errorf("diagnose_app over SSE = %q, %v", text, err)
		}
	})

	t.Run("reads and prompts are audited", func(t *testing.T) {
		events := waitForAudit(t, st, owner.ID, func(events []auditRow) bool {
			has := func(operation, result string) bool {
				return slices.ContainsFunc(events, func(e auditRow) bool { return e.operation == operation && e.result == result })
			}
			return has("mcpedge.resource.apps", "ok") && has("mcpedge.resource.app_report", "ok") &&
				has("mcpedge.resource.app_logs", "ok") && has("mcpedge.resource.app_logs", "is_error") &&
				has("mcpedge.resource.app_report", "is_error") && has("mcpedge.resource", "is_error") &&
				has("mcpedge.prompt.diagnose_app", "ok") && has("mcpedge.prompt.diagnose_app", "is_error") &&
				has("mcpedge.prompt.deploy_checklist", "ok") &&
				has("mcpedge.resource.deployment", "ok") && has("mcpedge.resource.deployment", "is_error")
		})
		for _, e := range events {
			if !strings.HasPrefix(e.operation, "mcpedge.resource") && !strings.HasPrefix(e.operation, "mcpedge.prompt") {
				continue
			}
			if e.clientID != owner.ClientID || !strings.HasPrefix(e.arguments, `{"sha256":"`) {
				t.Errorf("event %s by %q stores arguments %q; want the owner's client and only a digest", e.operation, e.clientID, e.arguments)
			}
		}
	})
}

// checkNodeResourcesAndPrompt checks what a TypeScript client printed after
// listing the resource templates, reading app's report resource on host and
// getting the diagnose_app prompt for it.
func checkNodeResourcesAndPrompt(t *testing.T, clientName, host, app string, templates []string, uri, mimeType, readApp, prompt string) {
	t.Helper()
	wantTemplates := []string{"dokku://hosts/{host}/apps", "dokku://hosts/{host}/apps/{app}", "dokku://hosts/{host}/apps/{app}/deployments/{id}", "dokku://hosts/{host}/apps/{app}/logs"}
	if !slices.Equal(templates, wantTemplates) {
		t.Errorf("%s saw resource templates %v, want %v", clientName, templates, wantTemplates)
	}
	wantURI := "dokku://hosts/" + host + "/apps/" + app
	if uri != wantURI || mimeType != "application/json" || readApp != app {
		t.Errorf("%s read resource %q (%s) with app %q; want %s as application/json with app %s", clientName, uri, mimeType, readApp, wantURI, app)
	}
	if !strings.Contains(prompt, "apps_report") || !strings.Contains(prompt, app) {
		t.Errorf("%s got diagnose_app text %q, want steps naming apps_report and %s", clientName, prompt, app)
	}
}
