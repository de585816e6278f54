package rpc

import (
	"context"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	dokkuexecv1 "dokkumcp.dev/gen/dokkumcp/dokkuexec/v1"
)

// GetHostInfo returns the host's Dokku version and plugins.
func (h *Handler) GetHostInfo(ctx context.Context, req *connect.Request[dokkuexecv1.GetHostInfoRequest]) (*connect.Response[dokkuexecv1.GetHostInfoResponse], error) {
	tenantID, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	info, err := h.service.GetHostInfo(ctx, tenantID, req.Msg.GetHost())
	if err != nil {
		return nil, toConnect(ctx, h.logger, req.Spec().Procedure, err)
	}
	plugins := make([]*dokkuexecv1.Plugin, len(info.Plugins))
	for i, p := range info.Plugins {
		plugins[i] = &dokkuexecv1.Plugin{Name: p.Name, Version: p.Version, Enabled: p.Enabled, Core: p.Core, Description: p.Description}
	}
	return connect.NewResponse(&dokkuexecv1.GetHostInfoResponse{
		DokkuVersion: info.Version.String(),
		Plugins:      plugins,
		FetchTime:    timestamppb.New(info.FetchTime),
	}), nil
}
