// Package rpc serves SecretsService over Connect. It maps requests to the
// use cases in app and errors to Connect codes.
package rpc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	secretsv1 "dokkumcp.dev/gen/dokkumcp/secrets/v1"
	"dokkumcp.dev/gen/dokkumcp/secrets/v1/secretsv1connect"
	"dokkumcp.dev/platform/auth"
	"dokkumcp.dev/secrets/internal/app"
	"dokkumcp.dev/secrets/internal/domain"
)

// Handler implements secretsv1connect.SecretsServiceHandler. The auth
// interceptor has already checked the permission each method declares.
type Handler struct {
	service *app.Service
	logger  *slog.Logger
}

var _ secretsv1connect.SecretsServiceHandler = (*Handler)(nil)

// NewHandler returns a Handler that runs service.
func NewHandler(service *app.Service, logger *slog.Logger) *Handler {
	return &Handler{service: service, logger: logger}
}

func (h *Handler) IssueSSHCredential(ctx context.Context, req *connect.Request[secretsv1.IssueSSHCredentialRequest]) (*connect.Response[secretsv1.IssueSSHCredentialResponse], error) {
	if err := requireServiceIdentity(ctx); err != nil {
		return nil, err
	}

	mode, err := modeFromProto(req.Msg.GetCredentialMode())
	if err != nil {
		return nil, err
	}
	credential, err := h.service.IssueSSHCredential(ctx, req.Msg.GetTenantId(), req.Msg.GetHostId(), mode)
	if err != nil {
		return nil, h.connectError(ctx, "IssueSSHCredential", req.Msg, err)
	}
	return connect.NewResponse(&secretsv1.IssueSSHCredentialResponse{Credential: &secretsv1.SSHCredential{
		PrivateKey:     credential.PrivateKeyPEM,
		Certificate:    credential.Certificate,
		Principal:      credential.Principal,
		Serial:         credential.Serial,
		KeyId:          credential.KeyID,
		ExpireTime:     timestamppb.New(credential.ExpireTime),
		Backend:        credential.Backend,
		CredentialMode: modeToProto(credential.Mode),
		KeyVersion:     credential.KeyVersion,
	}}), nil
}

func (h *Handler) GetHostTrust(ctx context.Context, req *connect.Request[secretsv1.GetHostTrustRequest]) (*connect.Response[secretsv1.GetHostTrustResponse], error) {
	if err := requireServiceIdentity(ctx); err != nil {
		return nil, err
	}

	mode, err := modeFromProto(req.Msg.GetCredentialMode())
	if err != nil {
		return nil, err
	}
	var access *app.HostAccess
	if req.Msg.GetAddress() != "" || req.Msg.GetPort() != 0 || req.Msg.GetHostKey() != "" {
		access = &app.HostAccess{Address: req.Msg.GetAddress(), Port: req.Msg.GetPort(), HostKey: req.Msg.GetHostKey()}
	}
	trust, err := h.service.GetHostTrust(ctx, req.Msg.GetTenantId(), req.Msg.GetHostId(), mode, access)
	if err != nil {
		return nil, h.connectError(ctx, "GetHostTrust", req.Msg, err)
	}
	return connect.NewResponse(&secretsv1.GetHostTrustResponse{
		Principal:          trust.Principal,
		AuthorizedKeysLine: trust.AuthorizedKeysLine,
		InstallCommand:     trust.InstallCommand,
		CaPublicKey:        trust.CAPublicKey,
		CredentialMode:     trustMode(trust),
		ManagedPublicKey:   trust.ManagedPublicKey,
		KeyName:            trust.KeyName,
	}), nil
}

// ForgetHost deletes what Secrets keeps for a removed host.
func (h *Handler) ForgetHost(ctx context.Context, req *connect.Request[secretsv1.ForgetHostRequest]) (*connect.Response[secretsv1.ForgetHostResponse], error) {
	if err := requireServiceIdentity(ctx); err != nil {
		return nil, err
	}
	deleted, names, err := h.service.ForgetHost(ctx, req.Msg.GetTenantId(), req.Msg.GetHostId())
	if errors.Is(err, app.ErrNotAudited) {
		h.logger.ErrorContext(ctx, "request failed", "method", "ForgetHost", "tenant_id", req.Msg.GetTenantId(), "host_id", req.Msg.GetHostId(), "error", err)
		return nil, connect.NewError(connect.CodeUnavailable, errors.New("the managed key record was deleted, but recording its audit event in the tenancy service failed; do not retry, because the deletion is done"))
	}
	if err != nil {
		return nil, h.connectError(ctx, "ForgetHost", req.Msg, err)
	}
	return connect.NewResponse(&secretsv1.ForgetHostResponse{ManagedKeyDeleted: deleted, KeyNames: names}), nil
}

// modeFromProto maps a request's credential mode to app's.
func modeFromProto(mode secretsv1.CredentialMode) (string, error) {
	switch mode {
	case secretsv1.CredentialMode_CREDENTIAL_MODE_UNSPECIFIED:
		return app.ModeAuto, nil
	case secretsv1.CredentialMode_CREDENTIAL_MODE_CERTIFICATE:
		return app.ModeCertificate, nil
	case secretsv1.CredentialMode_CREDENTIAL_MODE_MANAGED_KEY:
		return app.ModeManagedKey, nil
	}
	return "", connect.NewError(connect.CodeInvalidArgument, fmt.Errorf(
		"credential_mode %d is invalid: use CREDENTIAL_MODE_CERTIFICATE or CREDENTIAL_MODE_MANAGED_KEY, as Tenancy records for the host", mode))
}

func modeToProto(mode string) secretsv1.CredentialMode {
	if mode == app.ModeManagedKey {
		return secretsv1.CredentialMode_CREDENTIAL_MODE_MANAGED_KEY
	}
	return secretsv1.CredentialMode_CREDENTIAL_MODE_CERTIFICATE
}

func trustMode(trust *domain.Trust) secretsv1.CredentialMode {
	if trust.KeyName != "" {
		return secretsv1.CredentialMode_CREDENTIAL_MODE_MANAGED_KEY
	}
	return secretsv1.CredentialMode_CREDENTIAL_MODE_CERTIFICATE
}

// requireServiceIdentity rejects callers whose token is scoped to a tenant.
// Both methods take the tenant from the request, which only platform
// service identities (tokens without tenant_id) may do.
func requireServiceIdentity(ctx context.Context) error {
	principal, ok := auth.PrincipalFrom(ctx)
	if !ok {
		return connect.NewError(connect.CodeUnauthenticated, errors.New("no verified caller: send an Identity access token in the Authorization header"))
	}
	if principal.TenantID != "" {
		return connect.NewError(connect.CodePermissionDenied, fmt.Errorf(
			"the token is scoped to tenant %s, but this method takes the tenant from the request and is open only to platform service identities", principal.TenantID))
	}
	return nil
}

// target is implemented by both request messages.
type target interface {
	GetTenantId() string
	GetHostId() string
}

// connectError maps a use-case error to a Connect error. Validation errors
// carry caller-safe messages; CA and storage failures are logged with their
// detail and returned with a generic message, so Vault addresses, paths and
// SQL stay in the log.
func (h *Handler) connectError(ctx context.Context, method string, req target, err error) error {
	var invalid *domain.InvalidError
	if errors.As(err, &invalid) {
		return connect.NewError(connect.CodeInvalidArgument, invalid)
	}
	var precondition *app.PreconditionError
	if errors.As(err, &precondition) {
		return connect.NewError(connect.CodeFailedPrecondition, precondition)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return connect.NewError(connect.CodeCanceled, errors.New("request canceled"))
	}

	h.logger.ErrorContext(ctx, "request failed", "method", method,
		"tenant_id", req.GetTenantId(), "host_id", req.GetHostId(), "error", err)
	var caConfig *app.CAConfigError
	if errors.As(err, &caConfig) {
		return connect.NewError(connect.CodeFailedPrecondition, errors.New(caConfig.Message))
	}
	if errors.Is(err, app.ErrNotAudited) {
		return connect.NewError(connect.CodeUnavailable, errors.New("the SSH credential was not issued because its audit event could not be recorded in the tenancy service: retry shortly"))
	}
	if errors.Is(err, app.ErrCAUnavailable) {
		return connect.NewError(connect.CodeUnavailable, errors.New("the SSH CA is unavailable: retry shortly"))
	}
	return connect.NewError(connect.CodeInternal, fmt.Errorf("%s failed on an internal error; retry, and report it if it persists", method))
}
