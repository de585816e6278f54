package main

import (
	"connectrpc.com/connect"

	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"dokkumcp.dev/devstack/internal/admin"
	"dokkumcp.dev/platform/config"
)

// endpointFlags registers the flags that locate a running platform. Each
// reads its DOKKUMCP_* variable, which `dokkumcp run` prints.
func endpointFlags(fs *config.FlagSet) (*admin.Endpoints, *string) {
	e := &admin.Endpoints{}
	fs.StringVar(&e.IdentityURL, "identity-url", "http://127.0.0.1:8081", "Identity's base URL")
	fs.StringVar(&e.TenancyURL, "tenancy-url", "http://127.0.0.1:8082", "Tenancy's base URL")
	fs.StringVar(&e.SecretsURL, "secrets-url", "http://127.0.0.1:8083", "Secrets' base URL")
	fs.StringVar(&e.DokkuExecURL, "dokkuexec-url", "http://127.0.0.1:8084", "DokkuExec's base URL")
	fs.StringVar(&e.MCPURL, "mcp-url", "http://127.0.0.1:8080/mcp", "the MCP endpoint URL, which client tokens are issued for")
	secret := fs.String("operator-secret", "", "the operator client's secret, printed by dokkumcp run")
	return e, secret
}

// onboard runs one onboarding command: tenant create, host add, host
// verify, host remove or client create.
func onboard(ctx context.Context, command string, args []string, out io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()

	fs := config.NewFlagSet("dokkumcp " + command)
	fs.SetOutput(out)
	endpoints, operatorSecret := endpointFlags(fs)
	operator := func() (*admin.Operator, error) {
		if *operatorSecret == "" {
			return nil, fmt.Errorf("missing --operator-secret (%s): copy it from the output of dokkumcp run", config.EnvName("operator-secret"))
		}
		return admin.NewOperator(*endpoints, *operatorSecret), nil
	}

	switch command {
	case "tenant create":
		slug := fs.String("slug", "", "tenant slug: lower-case letters, digits and dashes")
		name := fs.String("display-name", "", "display name; defaults to the slug")
		planName := fs.String("plan", "pro", "plan: free, pro or enterprise")
		if err := fs.Parse(args); err != nil {
			return err
		}
		plan, err := admin.ParsePlan(*planName)
		if err != nil {
			return err
		}
		op, err := operator()
		if err != nil {
			return err
		}
		tenant, err := op.CreateTenant(ctx, *slug, *name, plan)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "Tenant created: %s (slug %s, plan %s)\n\nNext: dokkumcp host add --tenant %s --name main --address HOST:22\n",
			tenant.GetId(), tenant.GetSlug(), *planName, tenant.GetId())
		return nil

	case "host add":
		tenant := fs.String("tenant", "", "tenant id, printed by tenant create")
		name := fs.String("name", "main", "host name within the tenant")
		address := fs.String("address", "", "the Dokku host's SSH address, host:port")
		user := fs.String("ssh-user", "dokku", "SSH user Dokku runs as")
		credentialMode := fs.String("credential-mode", "certificate", "how the host trusts the platform: certificate (the SSH CA) or managed-key (a key pair kept in Vault and rotated; needs Vault)")
		if err := fs.Parse(args); err != nil {
			return err
		}
		if *credentialMode != "certificate" && *credentialMode != "managed-key" {
			return fmt.Errorf("--credential-mode %q is invalid: use certificate or managed-key", *credentialMode)
		}
		op, err := operator()
		if err != nil {
			return err
		}
		added, err := op.AddHost(ctx, *tenant, *name, *address, *user, *credentialMode == "managed-key")
		if err != nil {
			return err
		}
		if *credentialMode == "managed-key" {
			fmt.Fprintln(out, "Managed-key mode: to let Secrets rotate the key, prepare the host's sshd as docs/managed-keys.md describes.")
		}
		fmt.Fprintf(out, "Host registered: %s (%s at %s:%d)\nPinned host key: %s\n"+
			"Compare it with `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on the host.\n\n"+
			"Run this once as root on the host so it trusts this platform for this tenant:\n  %s\n\n"+
			"It adds this line to the dokku user's authorized_keys:\n  %s\n\n"+
			"Next: dokkumcp client create --tenant %s\n",
			added.Host.GetId(), added.Host.GetName(), added.Host.GetAddress(), added.Host.GetPort(),
			added.Host.GetHostKeyFingerprint(), added.Trust.GetInstallCommand(), added.Trust.GetAuthorizedKeysLine(), *tenant)
		return nil

	case "client create":
		tenant := fs.String("tenant", "", "tenant id")
		name := fs.String("name", "agent", "client name")
		role := fs.String("role", "owner", "role: viewer, deployer, maintainer or owner")
		if err := fs.Parse(args); err != nil {
			return err
		}
		op, err := operator()
		if err != nil {
			return err
		}
		created, err := op.CreateClient(ctx, *tenant, *name, *role)
		if err != nil {
			return err
		}
		id, secret := created.GetClient().GetClientId(), created.GetClientSecret()
		fmt.Fprintf(out, "Client created: %s (role %s)\nClient secret (shown once): %s\n\n", id, *role, secret)
		printClientConfig(out, endpoints, id, secret)
		fmt.Fprintf(out, "\nVerify the host: dokkumcp host verify --tenant %s --client-id %s --client-secret '%s'\n", *tenant, id, secret)
		return nil

	case "host verify":
		clientID := fs.String("client-id", "", "a client of the tenant, from client create")
		clientSecret := fs.String("client-secret", "", "that client's secret")
		host := fs.String("host", "", "host name; empty when the tenant has one host")
		tenant := fs.String("tenant", "", "tenant id; when given, the operator records the Dokku version and plugins on the host")
		if err := fs.Parse(args); err != nil {
			return err
		}
		// Check the operator's secret before verifying, so that a missing
		// one fails before the host is contacted.
		var op *admin.Operator
		if *tenant != "" {
			var err error
			if op, err = operator(); err != nil {
				return err
			}
		}
		info, err := admin.VerifyHost(ctx, *endpoints, *clientID, *clientSecret, *host)
		if err != nil {
			return fmt.Errorf("verify host: %w; check that the trust command ran on the host", err)
		}
		var plugins []string
		for _, p := range info.GetPlugins() {
			plugins = append(plugins, p.GetName())
		}
		fmt.Fprintf(out, "Host verified: Dokku %s answered over SSH with the platform's certificate.\nPlugins: %s\n",
			info.GetDokkuVersion(), strings.Join(plugins, ", "))

		if op == nil {
			fmt.Fprintf(out, "Not recorded: pass --tenant (and --operator-secret) to store the Dokku version and plugins on the host.\n")
			return nil
		}
		recorded, err := op.RecordHostVerification(ctx, *tenant, *host, info)
		if err != nil {
			return fmt.Errorf("record the verification of the host: %w", err)
		}
		fmt.Fprintf(out, "Recorded on host %s (%s): Dokku %s, %d plugins, verified at %s\n",
			recorded.GetId(), recorded.GetName(), recorded.GetDokkuVersion(), len(recorded.GetPlugins()),
			recorded.GetVerifyTime().AsTime().Format(time.RFC3339))
		return nil

	case "host remove":
		tenant := fs.String("tenant", "", "tenant id")
		host := fs.String("host", "", "name or id of the host to remove")
		force := fs.Bool("force", false, "remove the host even when apps are recorded on it, with their records")
		if err := fs.Parse(args); err != nil {
			return err
		}
		if *tenant == "" || *host == "" {
			return fmt.Errorf("missing --tenant or --host: name the tenant id and the host to remove")
		}
		op, err := operator()
		if err != nil {
			return err
		}
		removed, err := op.RemoveHost(ctx, *tenant, *host, *force)
		if err != nil {
			return hostRemoveError(err, *force)
		}
		fmt.Fprintf(out, "Host removed: %s of tenant %s, with %d app records and %d pending reservations.\n"+
			"The tenant's audit events stay.\n",
			*host, *tenant, removed.GetAppsRemoved(), removed.GetReservationsRemoved())
		forgotten, err := op.ForgetHost(ctx, *tenant, removed.GetHostId())
		if err != nil {
			return fmt.Errorf("the host is removed, but Secrets could not delete its managed key, if it has one: %w; "+
				"delete dokkumcp/managed-keys/%s/%s from Secrets' KV mount in Vault, or its rotation keeps failing", err, *tenant, removed.GetHostId())
		}
		if !forgotten.GetManagedKeyDeleted() {
			fmt.Fprintln(out, "Remove the platform's cert-authority line from the dokku user's authorized_keys on the host.")
			return nil
		}
		fmt.Fprintln(out, "Its managed key is deleted from Vault and no longer rotated. Remove its lines from the host as root:")
		for _, name := range forgotten.GetKeyNames() {
			fmt.Fprintf(out, "  dokku ssh-keys:remove %s\n", name)
		}
		return nil
	}
	return fmt.Errorf("unknown command %q", command)
}

// hostRemoveError adds the command-line flag to Tenancy's refusal to
// remove a host with recorded apps, which names the RPC's force field.
func hostRemoveError(err error, force bool) error {
	if !force && connect.CodeOf(err) == connect.CodeFailedPrecondition {
		return fmt.Errorf("%w; to remove the host with those records, run the command again with --force", err)
	}
	return err
}

// printClientConfig prints how to fetch a token and connect MCP clients.
func printClientConfig(w io.Writer, e *admin.Endpoints, clientID, secret string) {
	tokenCmd := fmt.Sprintf("curl -s -u '%s:%s' -d grant_type=client_credentials -d resource=%s %s/oauth2/token",
		clientID, secret, e.MCPURL, e.IdentityURL)
	fmt.Fprintf(w, `Fetch an access token (valid 15 minutes):
  TOKEN=$(%s | sed -E 's/.*"access_token":"([^"]+)".*/\1/')

Add it to Claude Code:
  claude mcp add --transport http dokkumcp %s --header "Authorization: Bearer $TOKEN"

Or to .mcp.json:
  {
    "mcpServers": {
      "dokkumcp": {
        "type": "http",
        "url": "%s",
        "headers": { "Authorization": "Bearer ${DOKKUMCP_TOKEN}" }
      }
    }
  }
  (export DOKKUMCP_TOKEN=$TOKEN first)
`, tokenCmd, e.MCPURL, e.MCPURL)
}
