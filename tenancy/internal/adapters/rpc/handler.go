// Package rpc serves TenancyService over Connect. It maps requests to the
// use cases in app and domain errors to Connect codes.
package rpc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"connectrpc.com/connect"

	tenancyv1 "dokkumcp.dev/gen/dokkumcp/tenancy/v1"
	"dokkumcp.dev/gen/dokkumcp/tenancy/v1/tenancyv1connect"
	"dokkumcp.dev/platform/auth"
	"dokkumcp.dev/tenancy/internal/app"
	"dokkumcp.dev/tenancy/internal/domain"
)

// Handler implements tenancyv1connect.TenancyServiceHandler. The auth
// interceptor has already checked the permission each method declares.
type Handler struct {
	service *app.Service
	logger  *slog.Logger
}

var _ tenancyv1connect.TenancyServiceHandler = (*Handler)(nil)

// NewHandler returns a Handler that runs service.
func NewHandler(service *app.Service, logger *slog.Logger) *Handler {
	return &Handler{service: service, logger: logger}
}

func (h *Handler) CreateTenant(ctx context.Context, req *connect.Request[tenancyv1.CreateTenantRequest]) (*connect.Response[tenancyv1.CreateTenantResponse], error) {
	if err := requireServiceIdentity(ctx); err != nil {
		return nil, err
	}
	plan, err := planFromProto(req.Msg.GetPlan())
	if err != nil {
		return nil, err
	}

	tenant, err := h.service.CreateTenant(ctx, req.Msg.GetSlug(), req.Msg.GetDisplayName(), plan)
	if err != nil {
		return nil, h.connectError(ctx, "CreateTenant", err)
	}
	return connect.NewResponse(&tenancyv1.CreateTenantResponse{Tenant: tenantToProto(tenant)}), nil
}

func (h *Handler) GetTenant(ctx context.Context, req *connect.Request[tenancyv1.GetTenantRequest]) (*connect.Response[tenancyv1.GetTenantResponse], error) {
	if err := requireServiceIdentity(ctx); err != nil {
		return nil, err
	}

	tenant, err := h.service.GetTenant(ctx, req.Msg.GetTenantId())
	if err != nil {
		return nil, h.connectError(ctx, "GetTenant", err)
	}
	return connect.NewResponse(&tenancyv1.GetTenantResponse{Tenant: tenantToProto(tenant)}), nil
}

func (h *Handler) RegisterHost(ctx context.Context, req *connect.Request[tenancyv1.RegisterHostRequest]) (*connect.Response[tenancyv1.RegisterHostResponse], error) {
	if err := requireServiceIdentity(ctx); err != nil {
		return nil, err
	}
	mode, err := credentialModeFromProto(req.Msg.GetCredentialMode())
	if err != nil {
		return nil, err
	}

	host, err := h.service.RegisterHost(ctx, domain.HostRegistration{
		TenantID:       req.Msg.GetTenantId(),
		Name:           req.Msg.GetName(),
		Address:        req.Msg.GetAddress(),
		Port:           req.Msg.GetPort(),
		SSHUser:        req.Msg.GetSshUser(),
		HostKey:        req.Msg.GetHostKey(),
		CredentialMode: mode,
	})
	if err != nil {
		return nil, h.connectError(ctx, "RegisterHost", err)
	}
	return connect.NewResponse(&tenancyv1.RegisterHostResponse{Host: hostToProto(host)}), nil
}

func (h *Handler) GetHost(ctx context.Context, req *connect.Request[tenancyv1.GetHostRequest]) (*connect.Response[tenancyv1.GetHostResponse], error) {
	if err := requireServiceIdentity(ctx); err != nil {
		return nil, err
	}

	host, err := h.service.GetHost(ctx, req.Msg.GetTenantId(), req.Msg.GetHost())
	if err != nil {
		return nil, h.connectError(ctx, "GetHost", err)
	}
	return connect.NewResponse(&tenancyv1.GetHostResponse{Host: hostToProto(host)}), nil
}

// requireServiceIdentity rejects callers whose token is scoped to a tenant.
// TenancyService requests name the tenant they apply to, which only
// platform service identities (tokens without tenant_id) may do: a tenant's
// own tenant comes from its token, never from a request field. The audit
// reads are the exception, and resolve the tenant with auditTenant.
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

// connectError maps a use-case error to a Connect error. Domain errors carry
// caller-safe messages; any other error is logged and returned with a
// generic message so that SQL and internal detail stay in the log.
func (h *Handler) connectError(ctx context.Context, method string, err error) error {
	var domainErr *domain.Error
	if errors.As(err, &domainErr) {
		return connect.NewError(codeOf(domainErr.Kind), domainErr)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return connect.NewError(connect.CodeCanceled, errors.New("request canceled"))
	}
	h.logger.ErrorContext(ctx, "request failed", "method", method, "error", err)
	return connect.NewError(connect.CodeInternal, fmt.Errorf("%s failed on an internal error; retry, and report it if it persists", method))
}

func codeOf(kind domain.Kind) connect.Code {
	switch kind {
	case domain.KindInvalid:
		return connect.CodeInvalidArgument
	case domain.KindNotFound:
		return connect.CodeNotFound
	case domain.KindAlreadyExists:
		return connect.CodeAlreadyExists
	case domain.KindFailedPrecondition:
		return connect.CodeFailedPrecondition
	case domain.KindResourceExhausted:
		return connect.CodeResourceExhausted
	default:
		return connect.CodeInternal
	}
}
