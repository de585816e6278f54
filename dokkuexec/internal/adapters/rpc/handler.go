// Package rpc connects DokkuExec to Connect: the DokkuExecService handler
// and the clients of the Tenancy and Secrets services.
package rpc

import (
	"context"
	"errors"
	"log/slog"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"dokkumcp.dev/dokkuexec/internal/app"
	dokkuexecv1 "dokkumcp.dev/gen/dokkumcp/dokkuexec/v1"
	"dokkumcp.dev/gen/dokkumcp/dokkuexec/v1/dokkuexecv1connect"
	"dokkumcp.dev/platform/auth"
)

// Handler implements DokkuExecService. The auth interceptor has already
// checked the token and the method's permission; the handler takes the
// tenant from the verified principal only.
type Handler struct {
	service *app.Service
	logger  *slog.Logger
}

var _ dokkuexecv1connect.DokkuExecServiceHandler = (*Handler)(nil)

// NewHandler returns the handler for service.
func NewHandler(service *app.Service, logger *slog.Logger) *Handler {
	return &Handler{service: service, logger: logger}
}

// ListApps lists the apps on the host.
func (h *Handler) ListApps(ctx context.Context, req *connect.Request[dokkuexecv1.ListAppsRequest]) (*connect.Response[dokkuexecv1.ListAppsResponse], error) {
	tenantID, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	apps, err := h.service.ListApps(ctx, tenantID, req.Msg.GetHost())
	if err != nil {
		return nil, toConnect(ctx, h.logger, req.Spec().Procedure, err)
	}
	return connect.NewResponse(&dokkuexecv1.ListAppsResponse{Apps: apps}), nil
}

// CreateApp creates an app.
func (h *Handler) CreateApp(ctx context.Context, req *connect.Request[dokkuexecv1.CreateAppRequest]) (*connect.Response[dokkuexecv1.CreateAppResponse], error) {
	tenantID, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	result, err := h.service.CreateApp(ctx, tenantID, req.Msg.GetHost(), req.Msg.GetApp())
	if err != nil {
		return nil, toConnect(ctx, h.logger, req.Spec().Procedure, err)
	}
	return connect.NewResponse(&dokkuexecv1.CreateAppResponse{App: result.App, Warnings: result.Warnings}), nil
}

// GetAppReport returns an app's report.
func (h *Handler) GetAppReport(ctx context.Context, req *connect.Request[dokkuexecv1.GetAppReportRequest]) (*connect.Response[dokkuexecv1.GetAppReportResponse], error) {
	tenantID, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	report, err := h.service.GetAppReport(ctx, tenantID, req.Msg.GetHost(), req.Msg.GetApp())
	if err != nil {
		return nil, toConnect(ctx, h.logger, req.Spec().Procedure, err)
	}

	msg := &dokkuexecv1.AppReport{
		App:          report.App,
		DeploySource: report.DeploySource,
		Dir:          report.Dir,
		Locked:       report.Locked,
		Fields:       report.Fields,
	}
	if !report.CreateTime.IsZero() {
		msg.CreateTime = timestamppb.New(report.CreateTime)
	}
	return connect.NewResponse(&dokkuexecv1.GetAppReportResponse{Report: msg}), nil
}

// SetConfig sets config vars.
func (h *Handler) SetConfig(ctx context.Context, req *connect.Request[dokkuexecv1.SetConfigRequest]) (*connect.Response[dokkuexecv1.SetConfigResponse], error) {
	tenantID, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	keys, err := h.service.SetConfig(ctx, tenantID, req.Msg.GetHost(), req.Msg.GetApp(), req.Msg.GetVars(), req.Msg.GetNoRestart())
	if err != nil {
		return nil, toConnect(ctx, h.logger, req.Spec().Procedure, err)
	}
	return connect.NewResponse(&dokkuexecv1.SetConfigResponse{Keys: keys}), nil
}

// GetConfig returns one config var.
func (h *Handler) GetConfig(ctx context.Context, req *connect.Request[dokkuexecv1.GetConfigRequest]) (*connect.Response[dokkuexecv1.GetConfigResponse], error) {
	tenantID, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	value, err := h.service.GetConfig(ctx, tenantID, req.Msg.GetHost(), req.Msg.GetApp(), req.Msg.GetKey())
	if err != nil {
		return nil, toConnect(ctx, h.logger, req.Spec().Procedure, err)
	}
	return connect.NewResponse(&dokkuexecv1.GetConfigResponse{Key: req.Msg.GetKey(), Value: value}), nil
}

// tenantOf returns the tenant of the verified principal. Tokens without a
// tenant, such as service identities' tokens, act on no tenant's hosts.
func tenantOf(ctx context.Context) (string, error) {
	principal, ok := auth.PrincipalFrom(ctx)
	if !ok {
		return "", connect.NewError(connect.CodeUnauthenticated, errors.New("missing verified caller: send an Identity access token in the Authorization header"))
	}
	if principal.TenantID == "" {
		return "", connect.NewError(connect.CodePermissionDenied, errors.New("the access token names no tenant; DokkuExec acts only for a tenant's users"))
	}
	return principal.TenantID, nil
}
