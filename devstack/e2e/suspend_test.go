package e2e_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
	"golang.org/x/oauth2/clientcredentials"

	"dokkumcp.dev/devstack/internal/stack"
	tenancyv1 "dokkumcp.dev/gen/dokkumcp/tenancy/v1"
	"dokkumcp.dev/gen/dokkumcp/tenancy/v1/tenancyv1connect"
)

// suspendWindow bounds how long a suspension or a resumption may take to
// reach every service: DokkuExec caches a tenant's status for 10 s and
// Identity its plan for 10 s, well inside the verifiers' 60 s window.
const suspendWindow = 60 * time.Second

// TestSuspendTenant suspends a tenant with the operator's client and checks
// that its existing token stops working and that it gets no new token,
// with errors that name the suspension, then resumes it and checks that the
// same token works again.
func TestSuspendTenant(t *testing.T) {
	logs := &syncBuffer{}
	st := startStack(t, logs)
	ctx := context.Background()
	tenant, err := st.SeedTenant(ctx, stack.TenantOptions{Slug: "tenant-suspend"})
	if err != nil {
		t.Fatalf("seed tenant: %v", err)
	}
	tokenURL := st.IdentityURL + "/oauth2/token"
	token := fetchToken(t, tokenURL, tenant.ClientID, tenant.ClientSecret, st.MCPURL)
	c := newMCPClient(t, st.MCPURL, token)
	var listed map[string]any
	call(t, c, "apps_list", map[string]any{}, &listed)
	var events map[string]any
	call(t, c, "audit_log", map[string]any{}, &events)

	operator := tenancyv1connect.NewTenancyServiceClient(bearerClient(st.OperatorToken(t, "urn:dokkumcp:tenancy")), st.TenancyURL)
	if _, err := operator.SuspendTenant(ctx, connect.NewRequest(&tenancyv1.SuspendTenantRequest{TenantId: tenant.ID})); err != nil {
		t.Fatalf("SuspendTenant: %v", err)
	}

	t.Run("calls fail while suspended", func(t *testing.T) {
		text := pollTool(t, c, func(isError bool, text string) bool { return isError })
		t.Logf("apps_list while suspended: %s", text)
		if !strings.Contains(text, "suspended") {
			t.Errorf("apps_list while suspended failed with %q, want a message naming the suspension", text)
		}

		// audit_log reads Tenancy with a token mcpedge exchanged and cached
		// before the suspension, so Tenancy itself must refuse it.
		req := mcp.CallToolRequest{}
		req.Params.Name = "audit_log"
		req.Params.Arguments = map[string]any{}
		result, err := c.CallTool(ctx, req)
		switch {
		case err != nil:
			t.Fatalf("audit_log: %v", err)
		case !result.IsError || !strings.Contains(toolText(result), "suspended"):
			t.Errorf("audit_log while suspended = error %t %q, want an error naming the suspension", result.IsError, toolText(result))
		}
	})
	cfg := clientcredentials.Config{ClientID: tenant.ClientID, ClientSecret: tenant.ClientSecret, TokenURL: tokenURL,
		EndpointParams: url.Values{"resource": {st.MCPURL}}}
	t.Run("no new token while suspended", func(t *testing.T) {
		err := pollToken(t, cfg, func(err error) bool { return err != nil })
		if !strings.Contains(err.Error(), "unauthorized_client") || !strings.Contains(err.Error(), "suspended") {
			t.Errorf("token while suspended: %v, want unauthorized_client naming the suspension", err)
		}
	})

	if _, err := operator.ResumeTenant(ctx, connect.NewRequest(&tenancyv1.ResumeTenantRequest{TenantId: tenant.ID})); err != nil {
		t.Fatalf("ResumeTenant: %v", err)
	}
	t.Run("calls work after resuming", func(t *testing.T) {
		pollTool(t, c, func(isError bool, text string) bool { return !isError })
		pollToken(t, cfg, func(err error) bool { return err == nil })
		call(t, c, "audit_log", map[string]any{}, &events)
	})
}

// pollToken requests a token until done accepts the outcome, within
// suspendWindow, and returns the last error.
func pollToken(t *testing.T, cfg clientcredentials.Config, done func(error) bool) error {
	t.Helper()
	deadline := time.Now().Add(suspendWindow)
	for {
		_, err := cfg.Token(context.Background())
		if done(err) {
			return err
		}
		if time.Now().After(deadline) {
			t.Fatalf("token request did not change within %s; last error: %v", suspendWindow, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// pollTool calls apps_list until done accepts the result, within
// suspendWindow, and returns the result's text.
func pollTool(t *testing.T, c *client.Client, done func(isError bool, text string) bool) string {
	t.Helper()
	deadline := time.Now().Add(suspendWindow)
	for {
		req := mcp.CallToolRequest{}
		req.Params.Name = "apps_list"
		req.Params.Arguments = map[string]any{}
		result, err := c.CallTool(context.Background(), req)
		var isError bool
		var text string
		switch {
		case err != nil:
			isError, text = true, err.Error()
		default:
			isError, text = result.IsError, toolText(result)
		}
		if done(isError, text) {
			return text
		}
		if time.Now().After(deadline) {
			t.Fatalf("apps_list did not change within %s; last result: error=%t %q", suspendWindow, isError, text)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
