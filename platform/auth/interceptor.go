package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	authzv1 "dokkumcp.dev/gen/dokkumcp/authz/v1"
	"dokkumcp.dev/platform/logging"
)

// RequiredPermission returns the permission a method declares with the
// dokkumcp.authz.v1.permission option, or "" when it declares none.
func RequiredPermission(method protoreflect.MethodDescriptor) string {
	if method == nil {
		return ""
	}
	permission, _ := proto.GetExtension(method.Options(), authzv1.E_Permission).(string)
	return permission
}

// BearerToken returns the token of an "Authorization: Bearer" header.
func BearerToken(h http.Header) (string, bool) {
	value := h.Get("Authorization")
	scheme, token, ok := strings.Cut(value, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return "", false
	}
	return strings.TrimSpace(token), true
}

// NewServerInterceptor returns the Connect interceptor that authenticates
// every unary and streaming call with a bearer token and checks the
// permission the method declares. Methods that declare none are rejected,
// so a new RPC is closed until its contract names a permission.
func NewServerInterceptor(verifier *Verifier, logger *slog.Logger) connect.Interceptor {
	return &serverInterceptor{verifier: verifier, logger: logger}
}

type serverInterceptor struct {
	verifier *Verifier
	logger   *slog.Logger
}

func (i *serverInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if req.Spec().IsClient {
			return next(ctx, req)
		}
		ctx, err := i.authorize(ctx, req.Spec(), req.Header())
		if err != nil {
			return nil, err
		}
		return next(ctx, req)
	}
}

func (i *serverInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (i *serverInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		ctx, err := i.authorize(ctx, conn.Spec(), conn.RequestHeader())
		if err != nil {
			return err
		}
		return next(ctx, conn)
	}
}

func (i *serverInterceptor) authorize(ctx context.Context, spec connect.Spec, header http.Header) (context.Context, error) {
	method, _ := spec.Schema.(protoreflect.MethodDescriptor)
	permission := RequiredPermission(method)
	if permission == "" {
		i.logger.ErrorContext(ctx, "method declares no permission", "procedure", spec.Procedure)
		return ctx, connect.NewError(connect.CodePermissionDenied, fmt.Errorf("%s declares no permission and is closed to every caller", spec.Procedure))
	}

	raw, ok := BearerToken(header)
	if !ok {
		return ctx, connect.NewError(connect.CodeUnauthenticated, errors.New("missing bearer token: send an Identity access token in the Authorization header"))
	}
	principal, err := i.verifier.Verify(ctx, raw)
	if err != nil {
		i.logger.InfoContext(ctx, "access token rejected", "procedure", spec.Procedure, "error", err)
		return ctx, connect.NewError(connect.CodeUnauthenticated, errors.New("invalid access token: fetch a new token from Identity for this service's audience"))
	}
	if principal.TenantID != "" {
		ctx = logging.WithTenantID(ctx, principal.TenantID)
	}
	if !principal.HasScope(permission) {
		i.logger.InfoContext(ctx, "permission denied", "procedure", spec.Procedure, "permission", permission, "subject", principal.Subject)
		return ctx, connect.NewError(connect.CodePermissionDenied, fmt.Errorf("permission %q is required for %s", permission, spec.Procedure))
	}
	return WithPrincipal(ctx, principal), nil
}

// TokenFunc returns the bearer token for an outgoing call.
type TokenFunc func(ctx context.Context) (string, error)

// NewClientInterceptor returns a Connect interceptor that puts the token
// from tokenFunc into every outgoing call's Authorization header.
func NewClientInterceptor(tokenFunc TokenFunc) connect.Interceptor {
	return &clientInterceptor{token: tokenFunc}
}

type clientInterceptor struct {
	token TokenFunc
}

func (i *clientInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if !req.Spec().IsClient {
			return next(ctx, req)
		}
		token, err := i.token(ctx)
		if err != nil {
			return nil, connect.NewError(connect.CodeUnavailable, fmt.Errorf("get access token for %s: %w", req.Spec().Procedure, err))
		}
		req.Header().Set("Authorization", "Bearer "+token)
		return next(ctx, req)
	}
}

func (i *clientInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		if token, err := i.token(ctx); err == nil {
			conn.RequestHeader().Set("Authorization", "Bearer "+token)
		}
		return conn
	}
}

func (i *clientInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}
