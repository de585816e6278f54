package stack

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"

	"connectrpc.com/connect"
	"golang.org/x/crypto/ssh"

	"dokkumcp.dev/devstack/internal/admin"
	identityv1 "dokkumcp.dev/gen/dokkumcp/identity/v1"
	"dokkumcp.dev/gen/dokkumcp/identity/v1/identityv1connect"
	secretsv1 "dokkumcp.dev/gen/dokkumcp/secrets/v1"
	"dokkumcp.dev/gen/dokkumcp/secrets/v1/secretsv1connect"
	tenancyv1 "dokkumcp.dev/gen/dokkumcp/tenancy/v1"
	"dokkumcp.dev/gen/dokkumcp/tenancy/v1/tenancyv1connect"
	"dokkumcp.dev/platform/auth"
	"dokkumcp.dev/testhost/sshd"
)

// Tenant is a seeded tenant with one host and one API client.
type Tenant struct {
	ID           string
	Slug         string
	HostID       string
	HostName     string
	ClientID     string
	ClientSecret string
	// Host is the tenant's Dokku test host; nil for an external host.
	Host *sshd.Server
	// HostAddr is the host's SSH address.
	HostAddr string
	// HostKeyFingerprint is the pinned host key's SHA256 fingerprint.
	HostKeyFingerprint string
	// TrustCommand is the root command that makes the host trust the
	// platform's SSH CA for this tenant; it is already installed on a test
	// host.
	TrustCommand string
}

// TenantOptions configures SeedTenant.
type TenantOptions struct {
	Slug string
	// HostAddr is the test host's listen address; "" picks a free port.
	HostAddr string
	// Role is the API client's role; default owner.
	Role string
	// ExternalHost, when set, is the host:port of a real Dokku host to
	// register instead of starting a test host. Its host key is read and
	// pinned, and the caller must run Tenant.TrustCommand on it as root.
	ExternalHost string
	// Resources are audiences the API client may request besides the MCP
	// endpoint, such as urn:dokkumcp:dokkuexec for a benchmark that calls
	// DokkuExec directly.
	Resources []string
	// ManagedKey registers the host in managed-key mode instead of
	// certificate mode; it needs Vault.
	ManagedKey bool
}

// operatorClients returns Connect clients that act as the platform operator.
func (st *Stack) operatorClients() (identityv1connect.IdentityServiceClient, tenancyv1connect.TenancyServiceClient, secretsv1connect.SecretsServiceClient) {
	token := func(resource string) connect.Option {
		return connect.WithInterceptors(auth.NewClientInterceptor(auth.NewServiceTokenFunc(auth.ServiceCredentials{
			TokenURL: st.IdentityURL + "/oauth2/token", ClientID: "operator", ClientSecret: st.operatorSecret, Resource: resource,
		}, nil)))
	}
	return identityv1connect.NewIdentityServiceClient(http.DefaultClient, st.IdentityURL, token("urn:dokkumcp:identity")),
		tenancyv1connect.NewTenancyServiceClient(http.DefaultClient, st.TenancyURL, token("urn:dokkumcp:tenancy")),
		secretsv1connect.NewSecretsServiceClient(http.DefaultClient, st.SecretsURL, token("urn:dokkumcp:secrets"))
}

// SeedTenant onboards a tenant the way an operator would: create the
// tenant, start its Dokku test host, register the host with its pinned host
// key, install the trust line that Secrets prints, and create an API client
// for the MCP endpoint.
func (st *Stack) SeedTenant(ctx context.Context, opts TenantOptions) (*Tenant, error) {
	identity, tenancy, secrets := st.operatorClients()
	if opts.Role == "" {
		opts.Role = "owner"
	}

	tenant, err := tenancy.CreateTenant(ctx, connect.NewRequest(&tenancyv1.CreateTenantRequest{
		Slug: opts.Slug, DisplayName: opts.Slug, Plan: tenancyv1.Plan_PLAN_PRO,
	}))
	if err != nil {
		return nil, fmt.Errorf("create tenant %q: %w", opts.Slug, err)
	}
	tenantID := tenant.Msg.GetTenant().GetId()

	var host *sshd.Server
	var hostKey ssh.PublicKey
	hostAddr := opts.ExternalHost
	if hostAddr == "" {
		if host, hostKey, err = st.StartTestHost(opts.HostAddr, nil); err != nil {
			return nil, err
		}
		hostAddr = host.Addr()
	} else if hostKey, err = admin.ProbeHostKey(hostAddr); err != nil {
		return nil, err
	}
	address, portText, err := net.SplitHostPort(hostAddr)
	if err != nil {
		return nil, fmt.Errorf("invalid host address %q: use host:port", hostAddr)
	}
	port, _ := strconv.Atoi(portText)
	mode, secretsMode := tenancyv1.CredentialMode_CREDENTIAL_MODE_CERTIFICATE, secretsv1.CredentialMode_CREDENTIAL_MODE_CERTIFICATE
	if opts.ManagedKey {
		mode, secretsMode = tenancyv1.CredentialMode_CREDENTIAL_MODE_MANAGED_KEY, secretsv1.CredentialMode_CREDENTIAL_MODE_MANAGED_KEY
	}
	pinned := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(hostKey)))
	registered, err := tenancy.RegisterHost(ctx, connect.NewRequest(&tenancyv1.RegisterHostRequest{
		TenantId: tenantID, Name: "main", Address: address, Port: uint32(port), SshUser: "dokku",
		HostKey: pinned, CredentialMode: mode,
	}))
	if err != nil {
		return nil, fmt.Errorf("register host of tenant %q: %w", opts.Slug, err)
	}
	hostID := registered.Msg.GetHost().GetId()

	trustRequest := &secretsv1.GetHostTrustRequest{TenantId: tenantID, HostId: hostID, CredentialMode: secretsMode}
	if opts.ManagedKey {
		// The rotation logs in to the host with Tenancy's address and key.
		trustRequest.Address, trustRequest.Port, trustRequest.HostKey = address, uint32(port), pinned
	}
	trust, err := secrets.GetHostTrust(ctx, connect.NewRequest(trustRequest))
	if err != nil {
		return nil, fmt.Errorf("get trust line for host %s: %w", hostID, err)
	}
	if host != nil {
		if err := host.AddAuthorizedKey(trust.Msg.GetAuthorizedKeysLine()); err != nil {
			return nil, err
		}
	}

	client, err := identity.CreateClient(ctx, connect.NewRequest(&identityv1.CreateClientRequest{
		TenantId: tenantID, Name: opts.Slug + "-agent", Role: opts.Role, Resources: append([]string{st.MCPURL}, opts.Resources...),
	}))
	if err != nil {
		return nil, fmt.Errorf("create API client for tenant %q: %w", opts.Slug, err)
	}

	return &Tenant{
		ID: tenantID, Slug: opts.Slug, HostID: hostID, HostName: "main",
		ClientID: client.Msg.GetClient().GetClientId(), ClientSecret: client.Msg.GetClientSecret(),
		Host: host, HostAddr: hostAddr, HostKeyFingerprint: ssh.FingerprintSHA256(hostKey),
		TrustCommand: trust.Msg.GetInstallCommand(),
	}, nil
}

// OperatorToken returns an operator access token for resource; tests use it
// as a token issued for another audience.
func (st *Stack) OperatorToken(t interface{ Fatal(...any) }, resource string) string {
	token, err := auth.NewServiceTokenFunc(auth.ServiceCredentials{
		TokenURL: st.IdentityURL + "/oauth2/token", ClientID: "operator", ClientSecret: st.operatorSecret, Resource: resource,
	}, nil)(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return token
}
