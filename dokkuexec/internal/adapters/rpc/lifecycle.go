package rpc

import (
	"context"
	"errors"

	"connectrpc.com/connect"

	dokkuexecv1 "dokkumcp.dev/gen/dokkumcp/dokkuexec/v1"
	"dokkumcp.dev/platform/auth"
)

// revealConfigPermission is the permission that ExportConfig's reveal needs.
//
// NOTE: this is the permission ExportConfig itself requires, so every caller
// of ExportConfig may reveal values. A dedicated reveal permission is
// planned; Identity's role table has none yet.
const revealConfigPermission = "apps:config"

// DestroyApp destroys an app.
func (h *Handler) DestroyApp(ctx context.Context, req *connect.Request[dokkuexecv1.DestroyAppRequest]) (*connect.Response[dokkuexecv1.DestroyAppResponse], error) {
	tenantID, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	change, err := h.service.DestroyApp(ctx, tenantID, req.Msg.GetHost(), req.Msg.GetApp(), req.Msg.GetConfirm())
	if err != nil {
		return nil, toConnect(ctx, h.logger, req.Spec().Procedure, err)
	}
	return connect.NewResponse(&dokkuexecv1.DestroyAppResponse{App: change.App, Warnings: change.Warnings}), nil
}

// RenameApp renames an app.
func (h *Handler) RenameApp(ctx context.Context, req *connect.Request[dokkuexecv1.RenameAppRequest]) (*connect.Response[dokkuexecv1.RenameAppResponse], error) {
	tenantID, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	change, err := h.service.RenameApp(ctx, tenantID, req.Msg.GetHost(), req.Msg.GetApp(), req.Msg.GetNewName())
	if err != nil {
		return nil, toConnect(ctx, h.logger, req.Spec().Procedure, err)
	}
	return connect.NewResponse(&dokkuexecv1.RenameAppResponse{App: change.App, Warnings: change.Warnings}), nil
}

// LockApp places an app's deploy lock.
func (h *Handler) LockApp(ctx context.Context, req *connect.Request[dokkuexecv1.LockAppRequest]) (*connect.Response[dokkuexecv1.LockAppResponse], error) {
	tenantID, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	change, err := h.service.LockApp(ctx, tenantID, req.Msg.GetHost(), req.Msg.GetApp())
	if err != nil {
		return nil, toConnect(ctx, h.logger, req.Spec().Procedure, err)
	}
	return connect.NewResponse(&dokkuexecv1.LockAppResponse{App: change.App, Warnings: change.Warnings}), nil
}

// UnlockApp removes an app's deploy lock.
func (h *Handler) UnlockApp(ctx context.Context, req *connect.Request[dokkuexecv1.UnlockAppRequest]) (*connect.Response[dokkuexecv1.UnlockAppResponse], error) {
	tenantID, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	change, err := h.service.UnlockApp(ctx, tenantID, req.Msg.GetHost(), req.Msg.GetApp())
	if err != nil {
		return nil, toConnect(ctx, h.logger, req.Spec().Procedure, err)
	}
	return connect.NewResponse(&dokkuexecv1.UnlockAppResponse{App: change.App, Changed: change.Changed, Warnings: change.Warnings}), nil
}

// UnsetConfig removes config vars.
func (h *Handler) UnsetConfig(ctx context.Context, req *connect.Request[dokkuexecv1.UnsetConfigRequest]) (*connect.Response[dokkuexecv1.UnsetConfigResponse], error) {
	tenantID, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	outcome, err := h.service.UnsetConfig(ctx, tenantID, req.Msg.GetHost(), req.Msg.GetApp(), req.Msg.GetKeys(), req.Msg.GetNoRestart())
	if err != nil {
		return nil, toConnect(ctx, h.logger, req.Spec().Procedure, err)
	}
	return connect.NewResponse(&dokkuexecv1.UnsetConfigResponse{UnsetKeys: outcome.Unset, SkippedKeys: outcome.Skipped}), nil
}

// ExportConfig returns an app's config vars, redacted unless the request
// sets reveal and the caller holds the permission to reveal them.
func (h *Handler) ExportConfig(ctx context.Context, req *connect.Request[dokkuexecv1.ExportConfigRequest]) (*connect.Response[dokkuexecv1.ExportConfigResponse], error) {
	tenantID, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	if req.Msg.GetReveal() {
		// tenantOf has found the principal.
		principal, _ := auth.PrincipalFrom(ctx)
		if !principal.HasScope(revealConfigPermission) {
			return nil, connect.NewError(connect.CodePermissionDenied, errors.New(`permission "`+revealConfigPermission+`" is required to reveal config values; call without reveal to list the keys`))
		}
	}
	export, err := h.service.ExportConfig(ctx, tenantID, req.Msg.GetHost(), req.Msg.GetApp(), req.Msg.GetReveal())
	if err != nil {
		return nil, toConnect(ctx, h.logger, req.Spec().Procedure, err)
	}
	return connect.NewResponse(&dokkuexecv1.ExportConfigResponse{Vars: export.Vars, Redacted: export.Redacted}), nil
}
