package e2e_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"dokkumcp.dev/devstack/internal/stack"
	identityv1 "dokkumcp.dev/gen/dokkumcp/identity/v1"
	"dokkumcp.dev/gen/dokkumcp/identity/v1/identityv1connect"
)

// TestAuditIdentityAndSecrets checks that the real Identity and Secrets
// record their events in the tenant's ledger in Tenancy: a failed client
// authentication, a client change, and the issuance of the SSH credential
// that a tool call needs.
func TestAuditIdentityAndSecrets(t *testing.T) {
	logs := &syncBuffer{}
	st := startStack(t, logs)
	tenant, err := st.SeedTenant(context.Background(), stack.TenantOptions{Slug: "tenant-audit"})
	if err != nil {
		t.Fatalf("seed tenant: %v", err)
	}

	// A wrong secret for a known client.
	form := url.Values{"grant_type": {"client_credentials"}, "resource": {st.MCPURL}}
	req, _ := http.NewRequest(http.MethodPost, st.IdentityURL+"/oauth2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(tenant.ClientID, "not-the-secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("token with a wrong secret = %d, want 401", resp.StatusCode)
	}

	// A tool call that opens SSH, so Secrets issues a credential.
	token := fetchToken(t, st.IdentityURL+"/oauth2/token", tenant.ClientID, tenant.ClientSecret, st.MCPURL)
	c := newMCPClient(t, st.MCPURL, token)
	var listed map[string]any
	call(t, c, "apps_list", map[string]any{}, &listed)

	identity := identityv1connect.NewIdentityServiceClient(bearerClient(st.OperatorToken(t, "urn:dokkumcp:identity")), st.IdentityURL)
	if _, err := identity.DisableClient(context.Background(), connect.NewRequest(&identityv1.DisableClientRequest{ClientId: tenant.ClientID})); err != nil {
		t.Fatalf("DisableClient: %v", err)
	}

	has := func(events []auditRow, operation string) bool {
		return slices.ContainsFunc(events, func(e auditRow) bool { return e.operation == operation })
	}
	events := waitForAudit(t, st, tenant.ID, func(events []auditRow) bool {
		return has(events, "identity.CreateClient") && has(events, "identity.token") &&
			has(events, "secrets.IssueSSHCredential") && has(events, "identity.DisableClient")
	})

	for _, e := range events {
		var arguments map[string]any
		if err := json.Unmarshal([]byte(e.arguments), &arguments); err != nil {
			t.Errorf("%s arguments %q: %v", e.operation, e.arguments, err)
			continue
		}
		switch e.operation {
		case "identity.token":
			if e.result != "invalid_client" || arguments["reason"] != "wrong_secret" || e.clientID != tenant.ClientID {
				t.Errorf("identity.token event = %+v, want invalid_client, reason wrong_secret, client %s", e, tenant.ClientID)
			}
		case "identity.CreateClient", "identity.DisableClient":
			if e.result != "ok" || e.subject != "operator" {
				t.Errorf("%s event = %+v, want ok by operator", e.operation, e)
			}
		case "secrets.IssueSSHCredential":
			expire, _ := arguments["expire_time"].(string)
			expireTime, err := time.Parse(time.RFC3339, expire)
			if e.result != "ok" || e.subject != "dokkuexec" || arguments["host_id"] != tenant.HostID ||
				arguments["mode"] != "certificate" || arguments["serial"] == "" || err != nil || time.Until(expireTime) <= 0 {
				t.Errorf("secrets.IssueSSHCredential event = %+v, want ok by dokkuexec for host %s with mode, serial and a future expire_time", e, tenant.HostID)
			}
		}
		if strings.Contains(e.arguments, "not-the-secret") || strings.Contains(e.arguments, "PRIVATE KEY") {
			t.Errorf("%s arguments carry a secret: %s", e.operation, e.arguments)
		}
	}
}
