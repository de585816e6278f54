package rpc

import (
	"context"
	"errors"

	"connectrpc.com/connect"

	"dokkumcp.dev/dokkuexec/internal/app"
	secretsv1 "dokkumcp.dev/gen/dokkumcp/secrets/v1"
	"dokkumcp.dev/gen/dokkumcp/secrets/v1/secretsv1connect"
	tenancyv1 "dokkumcp.dev/gen/dokkumcp/tenancy/v1"
	"dokkumcp.dev/gen/dokkumcp/tenancy/v1/tenancyv1connect"
)

// TenancyHosts implements app.HostResolver with Tenancy's GetHost.
type TenancyHosts struct {
	Client tenancyv1connect.TenancyServiceClient
}

// GetHost returns the tenant's host named or identified by host.
func (t TenancyHosts) GetHost(ctx context.Context, tenantID, host string) (app.Host, error) {
	resp, err := t.Client.GetHost(ctx, connect.NewRequest(&tenancyv1.GetHostRequest{TenantId: tenantID, Host: host}))
	if err != nil {
		return app.Host{}, fromConnect("tenancy", err)
	}
	h := resp.Msg.GetHost()
	if h == nil || h.GetId() == "" {
		return app.Host{}, &app.Error{Kind: app.KindInternal, Message: "the tenancy service returned no host", Err: errors.New("GetHost response has no host")}
	}
	return app.Host{
		ID:       h.GetId(),
		TenantID: h.GetTenantId(),
		Name:     h.GetName(),
		Address:  h.GetAddress(),
		Port:     h.GetPort(),
		SSHUser:  h.GetSshUser(),
		HostKey:  h.GetHostKey(),
	}, nil
}

// SecretsCredentials implements app.CredentialIssuer with Secrets'
// IssueSSHCredential.
type SecretsCredentials struct {
	Client secretsv1connect.SecretsServiceClient
}

// IssueSSHCredential returns a fresh certificate and key for the host.
func (s SecretsCredentials) IssueSSHCredential(ctx context.Context, tenantID, hostID string) (app.Credential, error) {
	resp, err := s.Client.IssueSSHCredential(ctx, connect.NewRequest(&secretsv1.IssueSSHCredentialRequest{TenantId: tenantID, HostId: hostID}))
	if err != nil {
		return app.Credential{}, fromConnect("secrets", err)
	}
	c := resp.Msg.GetCredential()
	if c == nil || len(c.GetPrivateKey()) == 0 || c.GetCertificate() == "" || c.GetExpireTime() == nil {
		return app.Credential{}, &app.Error{Kind: app.KindUnavailable, Message: "the secrets service returned an incomplete SSH credential; retry later", Err: errors.New("IssueSSHCredential response lacks key, certificate or expire time")}
	}
	return app.Credential{
		PrivateKey:  c.GetPrivateKey(),
		Certificate: c.GetCertificate(),
		ExpireTime:  c.GetExpireTime().AsTime(),
	}, nil
}
