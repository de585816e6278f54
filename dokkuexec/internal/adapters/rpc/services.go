package rpc

import (
	"context"
	"errors"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"dokkumcp.dev/dokkuexec/internal/domain"
	dokkuexecv1 "dokkumcp.dev/gen/dokkumcp/dokkuexec/v1"
	"dokkumcp.dev/platform/auth"
)

// serviceKinds maps the contract's ServiceKind to the plugin name.
var serviceKinds = map[dokkuexecv1.ServiceKind]domain.ServiceKind{
	dokkuexecv1.ServiceKind_SERVICE_KIND_POSTGRES: domain.ServicePostgres,
	dokkuexecv1.ServiceKind_SERVICE_KIND_REDIS:    domain.ServiceRedis,
}

// serviceKind returns the plugin name of kind, or an InvalidArgument error.
func serviceKind(kind dokkuexecv1.ServiceKind) (string, error) {
	if k, ok := serviceKinds[kind]; ok {
		return string(k), nil
	}
	return "", connect.NewError(connect.CodeInvalidArgument, errors.New("invalid service kind "+kind.String()+": use SERVICE_KIND_POSTGRES or SERVICE_KIND_REDIS"))
}

func serviceKindMessage(kind domain.ServiceKind) dokkuexecv1.ServiceKind {
	for message, k := range serviceKinds {
		if k == kind {
			return message
		}
	}
	return dokkuexecv1.ServiceKind_SERVICE_KIND_UNSPECIFIED
}

func serviceInfoMessage(info domain.ServiceInfo, redacted bool) *dokkuexecv1.ServiceInfo {
	return &dokkuexecv1.ServiceInfo{
		Kind:         serviceKindMessage(info.Kind),
		Name:         info.Name,
		Status:       info.Status,
		Version:      info.Version,
		Dsn:          info.DSN,
		DsnRedacted:  redacted,
		Links:        info.Links,
		ExposedPorts: info.ExposedPorts,
		Fields:       info.Fields,
	}
}

// CreateService creates a service.
func (h *Handler) CreateService(ctx context.Context, req *connect.Request[dokkuexecv1.CreateServiceRequest]) (*connect.Response[dokkuexecv1.CreateServiceResponse], error) {
	tenantID, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	kind, err := serviceKind(req.Msg.GetKind())
	if err != nil {
		return nil, err
	}
	result, err := h.service.CreateService(ctx, tenantID, req.Msg.GetHost(), kind, req.Msg.GetName())
	if err != nil {
		return nil, toConnect(ctx, h.logger, req.Spec().Procedure, err)
	}
	return connect.NewResponse(&dokkuexecv1.CreateServiceResponse{Info: serviceInfoMessage(result.Info, true), Warnings: result.Warnings}), nil
}

// GetServiceInfo returns a service's report, with the DSN's password
// redacted unless the request sets reveal and the caller may reveal config
// values.
func (h *Handler) GetServiceInfo(ctx context.Context, req *connect.Request[dokkuexecv1.GetServiceInfoRequest]) (*connect.Response[dokkuexecv1.GetServiceInfoResponse], error) {
	tenantID, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	kind, err := serviceKind(req.Msg.GetKind())
	if err != nil {
		return nil, err
	}
	reveal := req.Msg.GetReveal()
	if reveal {
		// tenantOf has found the principal.
		principal, _ := auth.PrincipalFrom(ctx)
		if !principal.HasScope(revealConfigPermission) {
			return nil, connect.NewError(connect.CodePermissionDenied, errors.New(`permission "`+revealConfigPermission+`" is required to reveal a service's DSN; call without reveal to get it with the password redacted`))
		}
	}
	info, err := h.service.GetServiceInfo(ctx, tenantID, req.Msg.GetHost(), kind, req.Msg.GetName(), reveal)
	if err != nil {
		return nil, toConnect(ctx, h.logger, req.Spec().Procedure, err)
	}
	return connect.NewResponse(&dokkuexecv1.GetServiceInfoResponse{Info: serviceInfoMessage(info, !reveal)}), nil
}

// ListServices lists the services of one kind.
func (h *Handler) ListServices(ctx context.Context, req *connect.Request[dokkuexecv1.ListServicesRequest]) (*connect.Response[dokkuexecv1.ListServicesResponse], error) {
	tenantID, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	kind, err := serviceKind(req.Msg.GetKind())
	if err != nil {
		return nil, err
	}
	names, err := h.service.ListServices(ctx, tenantID, req.Msg.GetHost(), kind)
	if err != nil {
		return nil, toConnect(ctx, h.logger, req.Spec().Procedure, err)
	}
	return connect.NewResponse(&dokkuexecv1.ListServicesResponse{Kind: req.Msg.GetKind(), Names: names}), nil
}

// LinkService links a service to an app.
func (h *Handler) LinkService(ctx context.Context, req *connect.Request[dokkuexecv1.LinkServiceRequest]) (*connect.Response[dokkuexecv1.LinkServiceResponse], error) {
	tenantID, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	kind, err := serviceKind(req.Msg.GetKind())
	if err != nil {
		return nil, err
	}
	link, err := h.service.LinkService(ctx, tenantID, req.Msg.GetHost(), kind, req.Msg.GetName(), req.Msg.GetApp(), req.Msg.GetNoRestart())
	if err != nil {
		return nil, toConnect(ctx, h.logger, req.Spec().Procedure, err)
	}
	return connect.NewResponse(&dokkuexecv1.LinkServiceResponse{App: link.App, ConfigKey: link.ConfigKey, Warnings: link.Warnings}), nil
}

// UnlinkService unlinks a service from an app.
func (h *Handler) UnlinkService(ctx context.Context, req *connect.Request[dokkuexecv1.UnlinkServiceRequest]) (*connect.Response[dokkuexecv1.UnlinkServiceResponse], error) {
	tenantID, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	kind, err := serviceKind(req.Msg.GetKind())
	if err != nil {
		return nil, err
	}
	unlink, err := h.service.UnlinkService(ctx, tenantID, req.Msg.GetHost(), kind, req.Msg.GetName(), req.Msg.GetApp(), req.Msg.GetConfirm(), req.Msg.GetNoRestart())
	if err != nil {
		return nil, toConnect(ctx, h.logger, req.Spec().Procedure, err)
	}
	return connect.NewResponse(&dokkuexecv1.UnlinkServiceResponse{App: unlink.App, UnsetKeys: unlink.UnsetKeys, Warnings: unlink.Warnings}), nil
}

// DestroyService deletes a service.
func (h *Handler) DestroyService(ctx context.Context, req *connect.Request[dokkuexecv1.DestroyServiceRequest]) (*connect.Response[dokkuexecv1.DestroyServiceResponse], error) {
	tenantID, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	kind, err := serviceKind(req.Msg.GetKind())
	if err != nil {
		return nil, err
	}
	warnings, err := h.service.DestroyService(ctx, tenantID, req.Msg.GetHost(), kind, req.Msg.GetName(), req.Msg.GetConfirm())
	if err != nil {
		return nil, toConnect(ctx, h.logger, req.Spec().Procedure, err)
	}
	return connect.NewResponse(&dokkuexecv1.DestroyServiceResponse{Name: req.Msg.GetName(), Warnings: warnings}), nil
}

func letsencryptReportMessage(report domain.LetsencryptReport) *dokkuexecv1.LetsencryptReport {
	msg := &dokkuexecv1.LetsencryptReport{
		App:       report.App,
		Active:    report.Active,
		Autorenew: report.Autorenew,
		Email:     report.Email,
		Server:    report.Server,
		Fields:    report.Fields,
	}
	if !report.ExpireTime.IsZero() {
		msg.ExpireTime = timestamppb.New(report.ExpireTime)
	}
	return msg
}

// EnableLetsencrypt requests or renews an app's certificate.
func (h *Handler) EnableLetsencrypt(ctx context.Context, req *connect.Request[dokkuexecv1.EnableLetsencryptRequest]) (*connect.Response[dokkuexecv1.EnableLetsencryptResponse], error) {
	tenantID, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	change, err := h.service.EnableLetsencrypt(ctx, tenantID, req.Msg.GetHost(), req.Msg.GetApp(), req.Msg.GetEmail())
	if err != nil {
		return nil, toConnect(ctx, h.logger, req.Spec().Procedure, err)
	}
	return connect.NewResponse(&dokkuexecv1.EnableLetsencryptResponse{
		App:      change.App,
		Changed:  change.Changed,
		Report:   letsencryptReportMessage(change.Report),
		Warnings: change.Warnings,
	}), nil
}

// DisableLetsencrypt removes an app's certificate.
func (h *Handler) DisableLetsencrypt(ctx context.Context, req *connect.Request[dokkuexecv1.DisableLetsencryptRequest]) (*connect.Response[dokkuexecv1.DisableLetsencryptResponse], error) {
	tenantID, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	warnings, err := h.service.DisableLetsencrypt(ctx, tenantID, req.Msg.GetHost(), req.Msg.GetApp())
	if err != nil {
		return nil, toConnect(ctx, h.logger, req.Spec().Procedure, err)
	}
	return connect.NewResponse(&dokkuexecv1.DisableLetsencryptResponse{App: req.Msg.GetApp(), Warnings: warnings}), nil
}

// GetLetsencryptReport returns an app's Let's Encrypt report.
func (h *Handler) GetLetsencryptReport(ctx context.Context, req *connect.Request[dokkuexecv1.GetLetsencryptReportRequest]) (*connect.Response[dokkuexecv1.GetLetsencryptReportResponse], error) {
	tenantID, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	report, err := h.service.GetLetsencryptReport(ctx, tenantID, req.Msg.GetHost(), req.Msg.GetApp())
	if err != nil {
		return nil, toConnect(ctx, h.logger, req.Spec().Procedure, err)
	}
	return connect.NewResponse(&dokkuexecv1.GetLetsencryptReportResponse{Report: letsencryptReportMessage(report)}), nil
}
