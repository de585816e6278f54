package e2e_test

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/mark3labs/mcp-go/mcp"

	"dokkumcp.dev/devstack/internal/stack"
	dokkuexecv1 "dokkumcp.dev/gen/dokkumcp/dokkuexec/v1"
	"dokkumcp.dev/gen/dokkumcp/dokkuexec/v1/dokkuexecv1connect"
	identityv1 "dokkumcp.dev/gen/dokkumcp/identity/v1"
	"dokkumcp.dev/gen/dokkumcp/identity/v1/identityv1connect"
	"dokkumcp.dev/platform/vaulttest"
)

// outageCertTTL is the shortest certificate lifetime Secrets accepts, so the
// cached certificate expires within the test.
const outageCertTTL = time.Minute

// bearerTransport adds a fixed bearer token to every request.
type bearerTransport struct{ token string }

func (b bearerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Set("Authorization", "Bearer "+b.token)
	return http.DefaultTransport.RoundTrip(req)
}

func bearerClient(token string) *http.Client {
	return &http.Client{Transport: bearerTransport{token: token}, Timeout: 30 * time.Second}
}

// TestVaultOutage checks that calls keep working on DokkuExec's cached SSH
// certificate while Vault is unreachable, fail as Unavailable with a message
// that names the credential service once it has expired, and work again
// after Vault returns, without restarting any service.
func TestVaultOutage(t *testing.T) {
	t.Parallel()
	if _, err := vaulttest.Binary(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("the Vault binary is required in CI: %v", err)
		}
		t.Skipf("the outage test needs the Vault dev server: %v", err)
	}

	logs := &syncBuffer{}
	var vaultProxy *faultProxy
	startCtx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	st, err := stack.Start(startCtx, stack.Options{
		Vault:   "dev",
		Logs:    logs,
		CertTTL: outageCertTTL,
		VaultProxy: func(vaultURL string) string {
			u, err := url.Parse(vaultURL)
			if err != nil {
				t.Fatalf("parse Vault URL %q: %v", vaultURL, err)
			}
			vaultProxy = newFaultProxy(t, u.Host)
			return "http://" + vaultProxy.Addr()
		},
	})
	if err != nil {
		t.Fatalf("start stack: %v\nlogs:\n%s", err, logs.String())
	}
	t.Cleanup(st.Stop)
	if st.CABackend != "vault" || vaultProxy == nil {
		t.Fatalf("SSH CA backend = %q (proxy set: %v), want vault behind the fault proxy", st.CABackend, vaultProxy != nil)
	}

	ctx := context.Background()
	tenant, err := st.SeedTenant(ctx, stack.TenantOptions{Slug: "tenant-outage"})
	if err != nil {
		t.Fatalf("seed tenant: %v\nlogs:\n%s", err, logs.String())
	}
	tokenURL := st.IdentityURL + "/oauth2/token"
	mcpClient := newMCPClient(t, st.MCPURL, fetchToken(t, tokenURL, tenant.ClientID, tenant.ClientSecret, st.MCPURL))
	dokkuexec := dokkuexecv1connect.NewDokkuExecServiceClient(
		bearerClient(dokkuexecToken(t, st, tenant.ID, tokenURL)), st.DokkuExecURL)
	listApps := func() error {
		_, err := dokkuexec.ListApps(ctx, connect.NewRequest(&dokkuexecv1.ListAppsRequest{}))
		return err
	}

	// The first call makes DokkuExec fetch a certificate from Secrets, which
	// Vault signs. It expires outageCertTTL after Vault signed it, in whole
	// seconds.
	issueStart := time.Now()
	if err := listApps(); err != nil {
		t.Fatalf("ListApps with Vault up: %v\nlogs:\n%s", err, logs.String())
	}
	issueEnd := time.Now()
	// DokkuExec stops handing out a cached certificate 5 s before it
	// expires, so that the SSH handshake still sees it valid.
	earliestExpiry := issueStart.Add(outageCertTTL - time.Second - 5*time.Second)
	latestExpiry := issueEnd.Add(outageCertTTL + time.Second)

	vaultProxy.Cut()

	// With the pooled SSH connection gone, DokkuExec must log in again with
	// the cached certificate.
	tenant.Host.DropConnections()
	if err := listApps(); err != nil {
		t.Fatalf("ListApps on a new SSH connection while Vault is down: %v", err)
	}
	var apps struct{ Apps []string }
	call(t, mcpClient, "apps_list", map[string]any{}, &apps)

	// Poll on new connections until the certificate has expired. Calls
	// after two thirds of its lifetime also try to renew it and fail.
	var expiredErr error
	deadline := latestExpiry.Add(20 * time.Second)
	for expiredErr == nil {
		if time.Now().After(deadline) {
			t.Fatalf("ListApps still succeeds at %s, after the certificate expired (by %s)",
				time.Now().Format(time.RFC3339), latestExpiry.Format(time.RFC3339))
		}
		tenant.Host.DropConnections()
		err := listApps()
		now := time.Now()
		switch {
		case err == nil:
		case now.Before(earliestExpiry):
			t.Fatalf("ListApps failed at %s, before the cached certificate expired (not before %s): %v",
				now.Format(time.RFC3339), earliestExpiry.Format(time.RFC3339), err)
		case connect.CodeOf(err) == connect.CodeUnavailable && strings.Contains(err.Error(), "Secrets"):
			expiredErr = err
		default:
			t.Fatalf("ListApps after expiry = %v, want Unavailable naming the credential service (Secrets)", err)
		}
		if expiredErr == nil {
			waitPollInterval(t)
		}
	}
	t.Logf("after expiry ListApps returns: %v", expiredErr)
	if !strings.Contains(logs.String(), `"msg":"ssh credential renewal failed; using the cached credential"`) {
		t.Error("DokkuExec never logged that it kept the cached credential after a failed renewal")
	}

	req := mcp.CallToolRequest{}
	req.Params.Name = "apps_list"
	req.Params.Arguments = map[string]any{}
	result, err := mcpClient.CallTool(ctx, req)
	if err != nil {
		t.Fatalf("apps_list after expiry: %v", err)
	}
	if !result.IsError || !strings.Contains(toolText(result), "could not reach") {
		t.Fatalf("apps_list after expiry = (isError %v, %q), want an error result that says it could not reach a service",
			result.IsError, toolText(result))
	}

	vaultProxy.Restore()

	restoreDeadline := time.Now().Add(30 * time.Second)
	for {
		err := listApps()
		if err == nil {
			break
		}
		if time.Now().After(restoreDeadline) {
			t.Fatalf("ListApps still fails 30s after Vault returned: %v\nlogs:\n%s", err, logs.String())
		}
		waitPollInterval(t)
	}
	call(t, mcpClient, "apps_list", map[string]any{}, &apps)
	t.Logf("outage test took %s after the stack started", time.Since(issueStart).Round(time.Second))
}

// dokkuexecToken creates a viewer client of the tenant for DokkuExec's
// audience and returns an access token from it, so the test checks
// DokkuExec's own error code and message rather than mcpedge's tool error.
func dokkuexecToken(t *testing.T, st *stack.Stack, tenantID, tokenURL string) string {
	t.Helper()
	identity := identityv1connect.NewIdentityServiceClient(
		bearerClient(st.OperatorToken(t, "urn:dokkumcp:identity")), st.IdentityURL)
	created, err := identity.CreateClient(context.Background(), connect.NewRequest(&identityv1.CreateClientRequest{
		TenantId: tenantID, Name: "outage-probe", Role: "viewer", Resources: []string{"urn:dokkumcp:dokkuexec"},
	}))
	if err != nil {
		t.Fatalf("create a DokkuExec client: %v", err)
	}
	return fetchToken(t, tokenURL, created.Msg.GetClient().GetClientId(), created.Msg.GetClientSecret(), "urn:dokkumcp:dokkuexec")
}

// waitPollInterval waits between two polls of a condition that the
// caller bounds with a deadline.
func waitPollInterval(t *testing.T) {
	select {
	case <-time.After(time.Second):
	case <-t.Context().Done():
		t.Fatal("the test ended while polling")
	}
}
