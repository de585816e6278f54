// Package admin carries out onboarding against a running platform as the
// operator: create a tenant, add a host with its SSH key pinned and its
// trust line, create an API client, and verify the host through DokkuExec
// with that client's credentials.
package admin

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"
	"golang.org/x/crypto/ssh"

	dokkuexecv1 "dokkumcp.dev/gen/dokkumcp/dokkuexec/v1"
	"dokkumcp.dev/gen/dokkumcp/dokkuexec/v1/dokkuexecv1connect"
	identityv1 "dokkumcp.dev/gen/dokkumcp/identity/v1"
	"dokkumcp.dev/gen/dokkumcp/identity/v1/identityv1connect"
	secretsv1 "dokkumcp.dev/gen/dokkumcp/secrets/v1"
	"dokkumcp.dev/gen/dokkumcp/secrets/v1/secretsv1connect"
	tenancyv1 "dokkumcp.dev/gen/dokkumcp/tenancy/v1"
	"dokkumcp.dev/gen/dokkumcp/tenancy/v1/tenancyv1connect"
	"dokkumcp.dev/platform/auth"
)

// Endpoints are the base URLs of a running platform.
type Endpoints struct {
	IdentityURL  string
	TenancyURL   string
	SecretsURL   string
	DokkuExecURL string
	MCPURL       string
}

// Operator calls the admin RPCs with the operator client's tokens.
type Operator struct {
	endpoints Endpoints
	identity  identityv1connect.IdentityServiceClient
	tenancy   tenancyv1connect.TenancyServiceClient
	secrets   secretsv1connect.SecretsServiceClient
}

// NewOperator returns an Operator that authenticates as client "operator".
func NewOperator(endpoints Endpoints, operatorSecret string) *Operator {
	token := func(resource string) connect.Option {
		return connect.WithInterceptors(auth.NewClientInterceptor(auth.NewServiceTokenFunc(auth.ServiceCredentials{
			TokenURL: endpoints.IdentityURL + "/oauth2/token", ClientID: "operator", ClientSecret: operatorSecret, Resource: resource,
		}, nil)))
	}
	return &Operator{
		endpoints: endpoints,
		identity:  identityv1connect.NewIdentityServiceClient(http.DefaultClient, endpoints.IdentityURL, token("urn:dokkumcp:identity")),
		tenancy:   tenancyv1connect.NewTenancyServiceClient(http.DefaultClient, endpoints.TenancyURL, token("urn:dokkumcp:tenancy")),
		secrets:   secretsv1connect.NewSecretsServiceClient(http.DefaultClient, endpoints.SecretsURL, token("urn:dokkumcp:secrets")),
	}
}

// ParsePlan turns "free", "pro" or "enterprise" into a plan.
func ParsePlan(name string) (tenancyv1.Plan, error) {
	switch strings.ToLower(name) {
	case "free":
		return tenancyv1.Plan_PLAN_FREE, nil
	case "pro":
		return tenancyv1.Plan_PLAN_PRO, nil
	case "enterprise":
		return tenancyv1.Plan_PLAN_ENTERPRISE, nil
	}
	return 0, fmt.Errorf("invalid plan %q: use free, pro or enterprise", name)
}

// CreateTenant registers a tenant.
func (o *Operator) CreateTenant(ctx context.Context, slug, displayName string, plan tenancyv1.Plan) (*tenancyv1.Tenant, error) {
	resp, err := o.tenancy.CreateTenant(ctx, connect.NewRequest(&tenancyv1.CreateTenantRequest{Slug: slug, DisplayName: displayName, Plan: plan}))
	if err != nil {
		return nil, err
	}
	return resp.Msg.GetTenant(), nil
}

// AddedHost is a registered host with what its owner must install on it.
type AddedHost struct {
	Host  *tenancyv1.Host
	Trust *secretsv1.GetHostTrustResponse
}

// AddHost reads the host's SSH key, pins it in Tenancy and returns the
// trust line and the root command that installs it. With managedKey the
// host is registered in managed-key mode, and Secrets generates its key
// and records its address for the key rotation.
func (o *Operator) AddHost(ctx context.Context, tenantID, name, addr, sshUser string, managedKey bool) (*AddedHost, error) {
	address, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("invalid host address %q: use host:port, for example dokku.example.com:22", addr)
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return nil, fmt.Errorf("invalid port in host address %q", addr)
	}
	key, err := ProbeHostKey(addr)
	if err != nil {
		return nil, err
	}

	mode, secretsMode := tenancyv1.CredentialMode_CREDENTIAL_MODE_CERTIFICATE, secretsv1.CredentialMode_CREDENTIAL_MODE_CERTIFICATE
	if managedKey {
		mode, secretsMode = tenancyv1.CredentialMode_CREDENTIAL_MODE_MANAGED_KEY, secretsv1.CredentialMode_CREDENTIAL_MODE_MANAGED_KEY
	}
	pinned := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key)))
	registered, err := o.tenancy.RegisterHost(ctx, connect.NewRequest(&tenancyv1.RegisterHostRequest{
		TenantId: tenantID, Name: name, Address: address, Port: uint32(port), SshUser: sshUser,
		HostKey: pinned, CredentialMode: mode,
	}))
	if err != nil {
		return nil, err
	}
	host := registered.Msg.GetHost()

	trustRequest := &secretsv1.GetHostTrustRequest{TenantId: tenantID, HostId: host.GetId(), CredentialMode: secretsMode}
	if managedKey {
		trustRequest.Address, trustRequest.Port, trustRequest.HostKey = address, uint32(port), pinned
	}
	trust, err := o.secrets.GetHostTrust(ctx, connect.NewRequest(trustRequest))
	if err != nil {
		return nil, err
	}
	return &AddedHost{Host: host, Trust: trust.Msg}, nil
}

// RecordHostVerification stores on the tenant's host (a name, an id, or ""
// for the tenant's only host) the Dokku version and plugin names that a
// successful verification found.
func (o *Operator) RecordHostVerification(ctx context.Context, tenantID, host string, info *dokkuexecv1.GetHostInfoResponse) (*tenancyv1.Host, error) {
	plugins := make([]string, 0, len(info.GetPlugins()))
	for _, p := range info.GetPlugins() {
		plugins = append(plugins, p.GetName())
	}
	resp, err := o.tenancy.RecordHostVerification(ctx, connect.NewRequest(&tenancyv1.RecordHostVerificationRequest{
		TenantId: tenantID, Host: host, DokkuVersion: info.GetDokkuVersion(), Plugins: plugins,
	}))
	if err != nil {
		return nil, err
	}
	return resp.Msg.GetHost(), nil
}

// RemoveHost deletes the tenant's host (a name or an id) with its app
// records and pending reservations. Without force Tenancy rejects the
// removal while apps are recorded on the host.
func (o *Operator) RemoveHost(ctx context.Context, tenantID, host string, force bool) (*tenancyv1.RemoveHostResponse, error) {
	resp, err := o.tenancy.RemoveHost(ctx, connect.NewRequest(&tenancyv1.RemoveHostRequest{TenantId: tenantID, Host: host, Force: force}))
	if err != nil {
		return nil, err
	}
	return resp.Msg, nil
}

// ForgetHost deletes what Secrets keeps for a removed host: its managed
// key record, which also ends the key's rotation.
func (o *Operator) ForgetHost(ctx context.Context, tenantID, hostID string) (*secretsv1.ForgetHostResponse, error) {
	resp, err := o.secrets.ForgetHost(ctx, connect.NewRequest(&secretsv1.ForgetHostRequest{TenantId: tenantID, HostId: hostID}))
	if err != nil {
		return nil, err
	}
	return resp.Msg, nil
}

// TenantUsage counts the tenant's apps, hosts, pending reservations and
// audit events.
func (o *Operator) TenantUsage(ctx context.Context, tenantID string) (*tenancyv1.TenantUsage, error) {
	resp, err := o.tenancy.GetTenantUsage(ctx, connect.NewRequest(&tenancyv1.GetTenantUsageRequest{TenantId: tenantID}))
	if err != nil {
		return nil, err
	}
	return resp.Msg.GetUsage(), nil
}

// CreateClient creates an API client for the tenant. It may request tokens
// for the MCP endpoint and for DokkuExec, which host verification calls.
func (o *Operator) CreateClient(ctx context.Context, tenantID, name, role string) (*identityv1.CreateClientResponse, error) {
	resp, err := o.identity.CreateClient(ctx, connect.NewRequest(&identityv1.CreateClientRequest{
		TenantId: tenantID, Name: name, Role: role,
		Resources: []string{o.endpoints.MCPURL, "urn:dokkumcp:dokkuexec"},
	}))
	if err != nil {
		return nil, err
	}
	return resp.Msg, nil
}

// VerifyHost logs in to the host through DokkuExec with a tenant client's
// credentials and returns what it reports: the Dokku version and plugins.
func VerifyHost(ctx context.Context, endpoints Endpoints, clientID, clientSecret, host string) (*dokkuexecv1.GetHostInfoResponse, error) {
	token := auth.NewServiceTokenFunc(auth.ServiceCredentials{
		TokenURL: endpoints.IdentityURL + "/oauth2/token", ClientID: clientID, ClientSecret: clientSecret, Resource: "urn:dokkumcp:dokkuexec",
	}, nil)
	client := dokkuexecv1connect.NewDokkuExecServiceClient(http.DefaultClient, endpoints.DokkuExecURL,
		connect.WithInterceptors(auth.NewClientInterceptor(token)))
	resp, err := client.GetHostInfo(ctx, connect.NewRequest(&dokkuexecv1.GetHostInfoRequest{Host: host}))
	if err != nil {
		return nil, err
	}
	return resp.Msg, nil
}

// ProbeHostKey connects to an SSH server only far enough to read its host
// key, like ssh-keyscan. The caller shows the fingerprint to the user, who
// confirms it out of band before trusting the host.
func ProbeHostKey(addr string) (ssh.PublicKey, error) {
	var captured ssh.PublicKey
	cfg := &ssh.ClientConfig{
		User: "dokku",
		HostKeyCallback: func(_ string, _ net.Addr, key ssh.PublicKey) error {
			captured = key
			return errKeyCaptured
		},
		HostKeyAlgorithms: []string{ssh.KeyAlgoED25519, ssh.KeyAlgoECDSA256, ssh.KeyAlgoRSASHA256},
		Timeout:           10 * time.Second,
	}
	conn, err := ssh.Dial("tcp", addr, cfg)
	if conn != nil {
		conn.Close()
	}
	if captured == nil {
		return nil, fmt.Errorf("read the SSH host key of %s: %w", addr, err)
	}
	return captured, nil
}

var errKeyCaptured = errors.New("host key captured")
