// Package rpc serves IdentityService over Connect.
package rpc

import (
	"context"
	"errors"
	"log/slog"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	identityv1 "dokkumcp.dev/gen/dokkumcp/identity/v1"
	"dokkumcp.dev/gen/dokkumcp/identity/v1/identityv1connect"
	"dokkumcp.dev/identity/internal/app"
	"dokkumcp.dev/identity/internal/domain"
)

// ClientManager holds the client use cases the handler calls.
type ClientManager interface {
	CreateClient(ctx context.Context, req app.NewClientRequest) (domain.Client, string, error)
	ListClients(ctx context.Context, tenantID string) ([]domain.Client, error)
	SetClientDisabled(ctx context.Context, clientID string, disabled bool) (domain.Client, error)
}

// KeyRotator creates signing keys.
type KeyRotator interface {
	Rotate(ctx context.Context) (key app.SealedSigningKey, created bool, err error)
}

// Handler implements identityv1connect.IdentityServiceHandler. The auth
// interceptor has checked the platform:admin permission before a method runs.
type Handler struct {
	clients ClientManager
	keys    KeyRotator
	logger  *slog.Logger
}

var _ identityv1connect.IdentityServiceHandler = (*Handler)(nil)

// NewHandler returns the IdentityService handler.
func NewHandler(clients ClientManager, keys KeyRotator, logger *slog.Logger) *Handler {
	return &Handler{clients: clients, keys: keys, logger: logger}
}

// CreateClient registers a tenant client and returns its secret once.
func (h *Handler) CreateClient(ctx context.Context, req *connect.Request[identityv1.CreateClientRequest]) (*connect.Response[identityv1.CreateClientResponse], error) {
	msg := req.Msg
	client, secret, err := h.clients.CreateClient(ctx, app.NewClientRequest{
		TenantID:     msg.GetTenantId(),
		Name:         msg.GetName(),
		Role:         domain.Role(msg.GetRole()),
		Resources:    msg.GetResources(),
		PublicKeyJWK: msg.GetPublicKeyJwk(),
		PublicKey:    msg.GetPublicKey(),
	})
	if err != nil {
		return nil, h.toConnectError(ctx, "create client failed", err, "tenant_id", msg.GetTenantId())
	}
	return connect.NewResponse(&identityv1.CreateClientResponse{Client: toProto(client), ClientSecret: secret}), nil
}

// ListClients lists one tenant's clients.
func (h *Handler) ListClients(ctx context.Context, req *connect.Request[identityv1.ListClientsRequest]) (*connect.Response[identityv1.ListClientsResponse], error) {
	clients, err := h.clients.ListClients(ctx, req.Msg.GetTenantId())
	if err != nil {
		return nil, h.toConnectError(ctx, "list clients failed", err, "tenant_id", req.Msg.GetTenantId())
	}
	resp := &identityv1.ListClientsResponse{}
	for _, c := range clients {
		resp.Clients = append(resp.Clients, toProto(c))
	}
	return connect.NewResponse(resp), nil
}

// DisableClient disables a client.
func (h *Handler) DisableClient(ctx context.Context, req *connect.Request[identityv1.DisableClientRequest]) (*connect.Response[identityv1.DisableClientResponse], error) {
	client, err := h.clients.SetClientDisabled(ctx, req.Msg.GetClientId(), true)
	if err != nil {
		return nil, h.toConnectError(ctx, "disable client failed", err, "client_id", req.Msg.GetClientId())
	}
	return connect.NewResponse(&identityv1.DisableClientResponse{Client: toProto(client)}), nil
}

// EnableClient enables a disabled client.
func (h *Handler) EnableClient(ctx context.Context, req *connect.Request[identityv1.EnableClientRequest]) (*connect.Response[identityv1.EnableClientResponse], error) {
	client, err := h.clients.SetClientDisabled(ctx, req.Msg.GetClientId(), false)
	if err != nil {
		return nil, h.toConnectError(ctx, "enable client failed", err, "client_id", req.Msg.GetClientId())
	}
	return connect.NewResponse(&identityv1.EnableClientResponse{Client: toProto(client)}), nil
}

// RotateSigningKey creates the next signing key.
func (h *Handler) RotateSigningKey(ctx context.Context, _ *connect.Request[identityv1.RotateSigningKeyRequest]) (*connect.Response[identityv1.RotateSigningKeyResponse], error) {
	key, created, err := h.keys.Rotate(ctx)
	if err != nil {
		return nil, h.toConnectError(ctx, "rotate signing key failed", err)
	}
	return connect.NewResponse(&identityv1.RotateSigningKeyResponse{
		Kid:      key.KeyID,
		SignTime: timestamppb.New(key.NotBefore),
		Created:  created,
	}), nil
}

// toConnectError returns validation errors as InvalidArgument, unknown
// names as NotFound and unaudited changes as Unavailable with their text, and hides every other error behind Internal, logging its detail.
func (h *Handler) toConnectError(ctx context.Context, message string, err error, attrs ...any) error {
	var invalid *app.InvalidArgumentError
	if errors.As(err, &invalid) {
		return connect.NewError(connect.CodeInvalidArgument, invalid.Err)
	}
	var notFound *app.NotFoundError
	if errors.As(err, &notFound) {
		return connect.NewError(connect.CodeNotFound, notFound.Err)
	}
	var unavailable *app.UnavailableError
	if errors.As(err, &unavailable) {
		return connect.NewError(connect.CodeUnavailable, unavailable.Err)
	}
	h.logger.ErrorContext(ctx, message, append(attrs, "error", err)...)
	return connect.NewError(connect.CodeInternal, errors.New("the identity store failed; retry later"))
}

func toProto(c domain.Client) *identityv1.Client {
	return &identityv1.Client{
		ClientId:            c.ID,
		TenantId:            c.TenantID,
		Name:                c.Name,
		Role:                string(c.Role),
		Resources:           c.Resources,
		CreateTime:          timestamppb.New(c.CreateTime),
		Disabled:            c.Disabled,
		PublicKeyThumbprint: publicKeyThumbprint(c),
	}
}

func publicKeyThumbprint(c domain.Client) string {
	if c.PublicKey == nil {
		return ""
	}
	return app.Thumbprint(c.PublicKey)
}
