package rpc

import (
	"context"
	"errors"
	"strings"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

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

		CredentialMode: credentialMode(h.GetCredentialMode()),
	}, nil
}

// credentialMode maps Tenancy's credential mode to the app's; an
// unspecified mode leaves the choice to Secrets.
func credentialMode(mode tenancyv1.CredentialMode) string {
	switch mode {
	case tenancyv1.CredentialMode_CREDENTIAL_MODE_CERTIFICATE:
		return app.CredentialModeCertificate
	case tenancyv1.CredentialMode_CREDENTIAL_MODE_MANAGED_KEY:
		return app.CredentialModeManagedKey
	}
	return ""
}

// secretsMode maps the app's credential mode to Secrets' enum.
func secretsMode(mode string) secretsv1.CredentialMode {
	switch mode {
	case app.CredentialModeCertificate:
		return secretsv1.CredentialMode_CREDENTIAL_MODE_CERTIFICATE
	case app.CredentialModeManagedKey:
		return secretsv1.CredentialMode_CREDENTIAL_MODE_MANAGED_KEY
	}
	return secretsv1.CredentialMode_CREDENTIAL_MODE_UNSPECIFIED
}

// SecretsCredentials implements app.CredentialIssuer with Secrets'
// IssueSSHCredential.
type SecretsCredentials struct {
	Client secretsv1connect.SecretsServiceClient
}

// IssueSSHCredential returns a fresh certificate and key for the host, or
// the host's managed key, as mode requests. Without a mode, Secrets returns
// the managed key when it has one.
func (s SecretsCredentials) IssueSSHCredential(ctx context.Context, tenantID, hostID, mode string) (app.Credential, error) {
	resp, err := s.Client.IssueSSHCredential(ctx, connect.NewRequest(&secretsv1.IssueSSHCredentialRequest{TenantId: tenantID, HostId: hostID, CredentialMode: secretsMode(mode)}))
	if err != nil {
		return app.Credential{}, fromConnect("secrets", err)
	}
	c := resp.Msg.GetCredential()
	managed := c.GetCredentialMode() == secretsv1.CredentialMode_CREDENTIAL_MODE_MANAGED_KEY
	if c == nil || len(c.GetPrivateKey()) == 0 || (c.GetCertificate() == "" && !managed) || c.GetExpireTime() == nil {
		return app.Credential{}, &app.Error{Kind: app.KindUnavailable, Message: "the secrets service returned an incomplete SSH credential; retry later", Err: errors.New("IssueSSHCredential response lacks key, certificate or expire time")}
	}
	return app.Credential{
		PrivateKey:  c.GetPrivateKey(),
		Certificate: c.GetCertificate(),
		ExpireTime:  c.GetExpireTime().AsTime(),
		KeyVersion:  c.GetKeyVersion(),
	}, nil
}

// TenancyPlans implements app.Tenancy and app.AuditLog with Tenancy's limit,
// app slot and audit RPCs.
type TenancyPlans struct {
	Client tenancyv1connect.TenancyServiceClient
}

// GetTenantLimits returns the limits in force for the tenant.
func (t TenancyPlans) GetTenantLimits(ctx context.Context, tenantID string) (app.TenantLimits, error) {
	resp, err := t.Client.GetTenantLimits(ctx, connect.NewRequest(&tenancyv1.GetTenantLimitsRequest{TenantId: tenantID}))
	if err != nil {
		return app.TenantLimits{}, fromConnect("tenancy", err)
	}
	l := resp.Msg.GetLimits()
	if l == nil {
		return app.TenantLimits{}, &app.Error{Kind: app.KindUnavailable, Message: "the tenancy service returned no limits; retry later", Err: errors.New("GetTenantLimits response has no limits")}
	}
	return app.TenantLimits{
		Plan:     enumName(l.GetPlan().String(), "PLAN_"),
		Status:   enumName(l.GetStatus().String(), "TENANT_STATUS_"),
		ReadOnly: l.GetReadOnly(),
	}, nil
}

// ReserveApp reserves an app slot and returns the reservation's id.
func (t TenancyPlans) ReserveApp(ctx context.Context, tenantID, hostID, appName string) (string, error) {
	resp, err := t.Client.ReserveApp(ctx, connect.NewRequest(&tenancyv1.ReserveAppRequest{TenantId: tenantID, HostId: hostID, App: appName}))
	if err != nil {
		return "", fromConnect("tenancy", err)
	}
	if resp.Msg.GetReservationId() == "" {
		return "", &app.Error{Kind: app.KindUnavailable, Message: "the tenancy service returned no app reservation; retry later", Err: errors.New("ReserveApp response has no reservation id")}
	}
	return resp.Msg.GetReservationId(), nil
}

// CommitAppReservation records the reserved app as created.
func (t TenancyPlans) CommitAppReservation(ctx context.Context, tenantID, reservationID string) error {
	_, err := t.Client.CommitAppReservation(ctx, connect.NewRequest(&tenancyv1.CommitAppReservationRequest{TenantId: tenantID, ReservationId: reservationID}))
	if err != nil {
		return fromConnect("tenancy", err)
	}
	return nil
}

// ReleaseAppReservation frees a reservation whose app was not created.
func (t TenancyPlans) ReleaseAppReservation(ctx context.Context, tenantID, reservationID string) error {
	_, err := t.Client.ReleaseAppReservation(ctx, connect.NewRequest(&tenancyv1.ReleaseAppReservationRequest{TenantId: tenantID, ReservationId: reservationID}))
	if err != nil {
		return fromConnect("tenancy", err)
	}
	return nil
}

// RecordAppRemoved frees the slot of a removed app.
func (t TenancyPlans) RecordAppRemoved(ctx context.Context, tenantID, hostID, appName string) error {
	_, err := t.Client.RecordAppRemoved(ctx, connect.NewRequest(&tenancyv1.RecordAppRemovedRequest{TenantId: tenantID, HostId: hostID, App: appName}))
	if err != nil {
		return fromConnect("tenancy", err)
	}
	return nil
}

// AppendAuditEvent appends event to the tenant's ledger.
func (t TenancyPlans) AppendAuditEvent(ctx context.Context, event app.AuditEvent) error {
	_, err := t.Client.AppendAuditEvent(ctx, connect.NewRequest(&tenancyv1.AppendAuditEventRequest{
		TenantId:      event.TenantID,
		Time:          timestamppb.New(event.Time),
		Subject:       event.Subject,
		ClientId:      event.ClientID,
		Actor:         event.Actor,
		Operation:     event.Operation,
		Target:        event.Target,
		ArgumentsJson: event.ArgumentsJSON,
		Result:        event.Result,
		LatencyMs:     event.LatencyMS,
		TraceId:       event.TraceID,
	}))
	if err != nil {
		return fromConnect("tenancy", err)
	}
	return nil
}

// enumName turns a protobuf enum value's name, such as PLAN_FREE, into its
// lower-case name without prefix, such as free.
func enumName(name, prefix string) string {
	return strings.ToLower(strings.TrimPrefix(name, prefix))
}
