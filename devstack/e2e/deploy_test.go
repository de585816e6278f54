package e2e_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"dokkumcp.dev/devstack/internal/stack"
	"dokkumcp.dev/testhost/emulator"
)

// deployment is the part of a deploy tool's result the test reads.
type deployment struct {
	ID         string   `json:"id"`
	App        string   `json:"app"`
	Source     string   `json:"source"`
	Status     string   `json:"status"`
	Message    string   `json:"message"`
	Step       string   `json:"step"`
	OutputTail []string `json:"output_tail"`
	Hint       string   `json:"hint"`
}

// callError calls a tool that must fail and returns its message.
func callError(t *testing.T, c *client.Client, tool string, args map[string]any) string {
	t.Helper()
	req := mcp.CallToolRequest{}
	req.Params.Name = tool
	req.Params.Arguments = args
	result, err := c.CallTool(context.Background(), req)
	if err != nil {
		t.Fatalf("%s: %v", tool, err)
	}
	if !result.IsError {
		t.Fatalf("%s succeeded, want an error result", tool)
	}
	return toolText(result)
}

// waitForDeployStatus polls deploy_status until the deployment has status.
func waitForDeployStatus(t *testing.T, c *client.Client, id, status string) deployment {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var d deployment
		call(t, c, "deploy_status", map[string]any{"id": id}, &d)
		if d.Status == status {
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("deployment %s is %s (%s) after 30 s, want %s", id, d.Status, d.Message, status)
		}
		select {
		case <-time.After(50 * time.Millisecond):
		case <-t.Context().Done():
			t.Fatal("the test ended while polling")
		}
	}
}

// TestDeployTools deploys through mcpedge with mcp-go's client against the
// Dokku test host, whose builds wait at a gate the test opens.
func TestDeployTools(t *testing.T) {
	t.Parallel()
	logs := &syncBuffer{}
	st := startStack(t, logs)
	ctx := context.Background()
	tenant, err := st.SeedTenant(ctx, stack.TenantOptions{Slug: "deployer"})
	if err != nil {
		t.Fatalf("seed tenant: %v\nlogs:\n%s", err, logs.String())
	}
	gate := emulator.NewDeployGate()
	tenant.Host.Emulator().SetDeployGate(gate)
	token := fetchToken(t, st.IdentityURL+"/oauth2/token", tenant.ClientID, tenant.ClientSecret, st.MCPURL)
	c := newMCPClient(t, st.MCPURL, token)

	var progressMu sync.Mutex
	var progress []map[string]any
	c.OnNotification(func(n mcp.JSONRPCNotification) {
		if n.Method != string(mcp.MethodNotificationProgress) {
			return
		}
		progressMu.Lock()
		defer progressMu.Unlock()
		progress = append(progress, n.Params.AdditionalFields)
	})
	progressFor := func(token string) []map[string]any {
		progressMu.Lock()
		defer progressMu.Unlock()
		var out []map[string]any
		for _, p := range progress {
			if p["progressToken"] == token {
				out = append(out, p)
			}
		}
		return out
	}

	var created struct{ App string }
	call(t, c, "apps_create", map[string]any{"app": "shop"}, &created)

	t.Run("without wait", func(t *testing.T) {
		var d deployment
		call(t, c, "deploy_create", map[string]any{"app": "shop", "source": "image", "image": "nginx:1.27"}, &d)
		if d.ID == "" || d.Status != "queued" || !strings.Contains(d.Hint, "deploy_status") {
			t.Fatalf("deploy_create = %+v, want a queued deployment with a hint", d)
		}
		<-gate.Waiting()
		waitForDeployStatus(t, c, d.ID, "running")

		message := callError(t, c, "deploy_create", map[string]any{"app": "shop", "source": "rebuild"})
		if !strings.Contains(message, "already being deployed by deployment "+d.ID) {
			t.Errorf("second deploy_create = %q, want it to name %s", message, d.ID)
		}

		gate.Finish(0)
		waitForDeployStatus(t, c, d.ID, "succeeded")

		var page struct {
			Lines []struct {
				Number int64  `json:"number"`
				Text   string `json:"text"`
			} `json:"lines"`
			NextAfterLine int64  `json:"next_after_line"`
			More          bool   `json:"more"`
			Hint          string `json:"hint"`
		}
		call(t, c, "deploy_logs", map[string]any{"id": d.ID, "max_lines": 2}, &page)
		if len(page.Lines) != 2 || !page.More || page.NextAfterLine != 2 || !strings.Contains(page.Hint, "after_line=2") {
			t.Fatalf("deploy_logs page 1 = %+v, want 2 lines and a hint to continue after line 2", page)
		}
		call(t, c, "deploy_logs", map[string]any{"id": d.ID, "after_line": 2}, &page)
		if page.More || len(page.Lines) == 0 || page.Lines[0].Number != 3 {
			t.Fatalf("deploy_logs page 2 = %+v, want the rest from line 3", page)
		}
		var all []string
		for _, line := range page.Lines {
			all = append(all, line.Text)
		}
		if !strings.Contains(strings.Join(all, "\n"), "Application deployed") {
			t.Errorf("deploy_logs lines = %q, want the deploy's end", all)
		}
	})

	t.Run("wait with progress", func(t *testing.T) {
		type outcome struct {
			d   deployment
			err error
		}
		done := make(chan outcome, 1)
		go func() {
			req := mcp.CallToolRequest{}
			req.Params.Name = "deploy_create"
			req.Params.Arguments = map[string]any{"app": "shop", "source": "rebuild", "wait": true}
			req.Params.Meta = &mcp.Meta{ProgressToken: "deploy-1"}
			result, err := c.CallTool(ctx, req)
			var d deployment
			if err == nil {
				if result.IsError {
					t.Errorf("deploy_create with wait: %s", toolText(result))
				}
				raw, _ := json.Marshal(result.StructuredContent)
				err = json.Unmarshal(raw, &d)
			}
			done <- outcome{d, err}
		}()

		select {
		case <-gate.Waiting():
		case got := <-done:
			t.Fatalf("deploy_create with wait returned before its build started: %+v, %v", got.d, got.err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for len(progressFor("deploy-1")) == 0 {
			if time.Now().After(deadline) {
				t.Fatal("no progress notification while the build waits")
			}
			select {
			case <-time.After(20 * time.Millisecond):
			case <-t.Context().Done():
				t.Fatal("the test ended while polling")
			}
		}
		gate.Finish(0)

		got := <-done
		if got.err != nil {
			t.Fatalf("deploy_create with wait: %v", got.err)
		}
		if got.d.Status != "succeeded" || len(got.d.OutputTail) == 0 {
			t.Fatalf("deploy_create with wait = %+v, want succeeded with output", got.d)
		}
		notes := progressFor("deploy-1")
		if len(notes) < 2 {
			t.Fatalf("progress notifications = %v, want several", notes)
		}
		last := 0.0
		for _, n := range notes {
			value, _ := n["progress"].(float64)
			if value <= last {
				t.Errorf("progress %v does not increase after %v", value, last)
			}
			last = value
		}
		if message, _ := notes[len(notes)-1]["message"].(string); !strings.Contains(message, got.d.ID) {
			t.Errorf("last progress message = %q, want it to name %s", message, got.d.ID)
		}
	})

	t.Run("client gone and cancel", func(t *testing.T) {
		// A waiting call whose client goes away stops waiting; the
		// deployment goes on.
		callCtx, cancelCall := context.WithCancel(ctx)
		returned := make(chan string, 1)
		go func() {
			req := mcp.CallToolRequest{}
			req.Params.Name = "deploy_create"
			req.Params.Arguments = map[string]any{"app": "shop", "source": "image", "image": "nginx:1.28", "wait": true}
			result, err := c.CallTool(callCtx, req)
			switch {
			case err != nil:
				returned <- err.Error()
			case result.IsError:
				returned <- toolText(result)
			default:
				returned <- "no error"
			}
		}()
		select {
		case <-gate.Waiting():
		case outcome := <-returned:
			t.Fatalf("deploy_create returned before its build started: %s", outcome)
		}
		cancelCall()
		<-returned

		var list struct{ Deployments []deployment }
		call(t, c, "deploy_list", map[string]any{"app": "shop"}, &list)
		if len(list.Deployments) != 3 || list.Deployments[0].Status != "running" {
			t.Fatalf("deploy_list = %+v, want 3 with the newest running", list.Deployments)
		}
		running := list.Deployments[0]

		message := callError(t, c, "deploy_cancel", map[string]any{"id": running.ID, "app": "shop", "confirm": "other"})
		if !strings.Contains(message, "does not match") {
			t.Errorf("deploy_cancel with a wrong confirm = %q", message)
		}
		var cancelled deployment
		call(t, c, "deploy_cancel", map[string]any{"id": running.ID, "app": "shop", "confirm": "shop"}, &cancelled)
		if cancelled.Status != "cancelled" {
			t.Fatalf("deploy_cancel = %+v, want cancelled", cancelled)
		}
	})
}
