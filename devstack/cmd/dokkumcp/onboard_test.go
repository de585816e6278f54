package main

import (
	"bytes"
	"context"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	"golang.org/x/oauth2/clientcredentials"

	"dokkumcp.dev/devstack/internal/admin"
	"dokkumcp.dev/devstack/internal/stack"
)

// TestOnboardingCommands onboards a tenant with the CLI commands, in the
// order the README gives, against a running stack and a fresh Dokku test
// host, and ends with an MCP client listing that tenant's apps.
func TestOnboardingCommands(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	st, err := stack.Start(ctx, stack.Options{Vault: "off"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Stop()
	host, _, err := st.StartTestHost("", nil)
	if err != nil {
		t.Fatal(err)
	}

	common := []string{
		"--identity-url=" + st.IdentityURL, "--tenancy-url=" + st.TenancyURL, "--secrets-url=" + st.SecretsURL,
		"--dokkuexec-url=" + st.DokkuExecURL, "--mcp-url=" + st.MCPURL, "--operator-secret=" + st.OperatorSecret(),
	}
	runCommand := func(command string, args ...string) string {
		t.Helper()
		var out bytes.Buffer
		if err := onboard(ctx, command, append(common, args...), &out); err != nil {
			t.Fatalf("dokkumcp %s: %v\n%s", command, err, out.String())
		}
		return out.String()
	}
	match := func(output, pattern string) string {
		t.Helper()
		m := regexp.MustCompile(pattern).FindStringSubmatch(output)
		if m == nil {
			t.Fatalf("output lacks %s:\n%s", pattern, output)
		}
		return m[1]
	}

	tenantID := match(runCommand("tenant create", "--slug=onboarded", "--plan=pro"), `Tenant created: (\S+)`)

	added := runCommand("host add", "--tenant="+tenantID, "--name=main", "--address="+host.Addr())
	line := match(added, `authorized_keys:\n  (.+)\n`)
	if !strings.Contains(added, "sshcommand acl-add dokku") {
		t.Errorf("host add printed no sshcommand install command:\n%s", added)
	}
	// Running the printed command as root on a real host adds this line; the
	// test host takes it directly.
	if err := host.AddAuthorizedKey(line); err != nil {
		t.Fatal(err)
	}

	created := runCommand("client create", "--tenant="+tenantID, "--role=owner")
	clientID := match(created, `Client created: (\S+)`)
	secret := match(created, `Client secret \(shown once\): (\S+)`)

	// Without --tenant the verification is shown but not recorded.
	verified := runCommand("host verify", "--client-id="+clientID, "--client-secret="+secret)
	if !strings.Contains(verified, "Host verified: Dokku 0.38.27") || !strings.Contains(verified, "Not recorded: pass --tenant") {
		t.Fatalf("host verify without --tenant printed:\n%s", verified)
	}
	verified = runCommand("host verify", "--tenant="+tenantID, "--client-id="+clientID, "--client-secret="+secret)
	// The recorded line shows the host row as Tenancy stored it.
	if recorded := match(verified, `Recorded on host \S+ \(main\): Dokku (\S+),`); recorded != "0.38.27" {
		t.Fatalf("host verify recorded Dokku %q, want 0.38.27:\n%s", recorded, verified)
	}
	if plugins := match(verified, `, (\d+) plugins, verified at `); plugins == "0" {
		t.Errorf("host verify recorded no plugins:\n%s", verified)
	}

	cfg := clientcredentials.Config{ClientID: clientID, ClientSecret: secret, TokenURL: st.IdentityURL + "/oauth2/token",
		EndpointParams: url.Values{"resource": {st.MCPURL}}}
	token, err := cfg.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.NewStreamableHttpClient(st.MCPURL, transport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + token.AccessToken}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Initialize(ctx, mcp.InitializeRequest{}); err != nil {
		t.Fatal(err)
	}
	req := mcp.CallToolRequest{}
	req.Params.Name = "apps_list"
	result, err := c.CallTool(ctx, req)
	if err != nil || result.IsError {
		t.Fatalf("apps_list for the onboarded tenant: %v %+v", err, result)
	}

	removed := runCommand("host remove", "--tenant="+tenantID, "--host=main", "--force")
	if !strings.Contains(removed, "Host removed: main of tenant "+tenantID) ||
		!strings.Contains(removed, "cert-authority line") {
		t.Fatalf("host remove printed:\n%s\nwant the removal and, for a certificate-mode host, the trust line to remove", removed)
	}
	operator := admin.NewOperator(admin.Endpoints{IdentityURL: st.IdentityURL, TenancyURL: st.TenancyURL}, st.OperatorSecret())
	usage, err := operator.TenantUsage(ctx, tenantID)
	if err != nil {
		t.Fatal(err)
	}
	if usage.GetHosts() != 0 || usage.GetApps() != 0 {
		t.Errorf("after host remove the tenant has %d hosts and %d apps, want none", usage.GetHosts(), usage.GetApps())
	}
	var out bytes.Buffer
	err = onboard(ctx, "host remove", append(common, "--tenant="+tenantID, "--host=main"), &out)
	if err == nil || !strings.Contains(err.Error(), `host "main" not found`) {
		t.Errorf("removing the host twice: %v, want host not found", err)
	}
}

func TestOnboardingNeedsOperatorSecret(t *testing.T) {
	var out bytes.Buffer
	err := onboard(context.Background(), "tenant create", []string{"--slug=x", "--operator-secret="}, &out)
	if err == nil || !strings.Contains(err.Error(), "DOKKUMCP_OPERATOR_SECRET") {
		t.Fatalf("error = %v, want one naming DOKKUMCP_OPERATOR_SECRET", err)
	}
}
