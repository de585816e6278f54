package rpc

import (
	"context"

	"connectrpc.com/connect"

	"dokkumcp.dev/dokkuexec/internal/app"
	dokkuexecv1 "dokkumcp.dev/gen/dokkumcp/dokkuexec/v1"
)

// GetDomainsReport returns an app's domains.
func (h *Handler) GetDomainsReport(ctx context.Context, req *connect.Request[dokkuexecv1.GetDomainsReportRequest]) (*connect.Response[dokkuexecv1.GetDomainsReportResponse], error) {
	tenantID, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	report, err := h.service.GetDomainsReport(ctx, tenantID, req.Msg.GetHost(), req.Msg.GetApp())
	if err != nil {
		return nil, toConnect(ctx, h.logger, req.Spec().Procedure, err)
	}
	return connect.NewResponse(&dokkuexecv1.GetDomainsReportResponse{Report: &dokkuexecv1.DomainsReport{
		App:           report.App,
		Enabled:       report.Enabled,
		Domains:       report.Domains,
		GlobalEnabled: report.GlobalEnabled,
		GlobalDomains: report.GlobalDomains,
		Fields:        report.Fields,
	}}), nil
}

// AddDomains adds domains to an app.
func (h *Handler) AddDomains(ctx context.Context, req *connect.Request[dokkuexecv1.AddDomainsRequest]) (*connect.Response[dokkuexecv1.AddDomainsResponse], error) {
	change, err := h.changeDomains(ctx, req.Spec().Procedure, req.Msg.GetHost(), req.Msg.GetApp(), req.Msg.GetDomains(), h.service.AddDomains)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&dokkuexecv1.AddDomainsResponse{App: change.App, Domains: change.Domains, Changed: change.Changed, Warnings: change.Warnings}), nil
}

// RemoveDomains removes domains from an app.
func (h *Handler) RemoveDomains(ctx context.Context, req *connect.Request[dokkuexecv1.RemoveDomainsRequest]) (*connect.Response[dokkuexecv1.RemoveDomainsResponse], error) {
	change, err := h.changeDomains(ctx, req.Spec().Procedure, req.Msg.GetHost(), req.Msg.GetApp(), req.Msg.GetDomains(), h.service.RemoveDomains)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&dokkuexecv1.RemoveDomainsResponse{App: change.App, Domains: change.Domains, Changed: change.Changed, Warnings: change.Warnings}), nil
}

// SetDomains replaces an app's domains.
func (h *Handler) SetDomains(ctx context.Context, req *connect.Request[dokkuexecv1.SetDomainsRequest]) (*connect.Response[dokkuexecv1.SetDomainsResponse], error) {
	change, err := h.changeDomains(ctx, req.Spec().Procedure, req.Msg.GetHost(), req.Msg.GetApp(), req.Msg.GetDomains(), h.service.SetDomains)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&dokkuexecv1.SetDomainsResponse{App: change.App, Domains: change.Domains, Changed: change.Changed, Warnings: change.Warnings}), nil
}

func (h *Handler) changeDomains(ctx context.Context, procedure, host, appName string, domains []string,
	change func(ctx context.Context, tenantID, hostRef, appName string, domains []string) (app.DomainsChange, error),
) (app.DomainsChange, error) {
	tenantID, err := tenantOf(ctx)
	if err != nil {
		return app.DomainsChange{}, err
	}
	result, err := change(ctx, tenantID, host, appName, domains)
	if err != nil {
		return app.DomainsChange{}, toConnect(ctx, h.logger, procedure, err)
	}
	return result, nil
}
