package rpc

import (
	"context"

	"connectrpc.com/connect"

	tenancyv1 "dokkumcp.dev/gen/dokkumcp/tenancy/v1"
	"dokkumcp.dev/tenancy/internal/domain"
)

func (h *Handler) RecordHostVerification(ctx context.Context, req *connect.Request[tenancyv1.RecordHostVerificationRequest]) (*connect.Response[tenancyv1.RecordHostVerificationResponse], error) {
	if err := requireServiceIdentity(ctx); err != nil {
		return nil, err
	}
	host, err := h.service.RecordHostVerification(ctx, req.Msg.GetTenantId(), req.Msg.GetHost(), domain.Verification{
		DokkuVersion: req.Msg.GetDokkuVersion(),
		Plugins:      req.Msg.GetPlugins(),
	})
	if err != nil {
		return nil, h.connectError(ctx, "RecordHostVerification", err)
	}
	return connect.NewResponse(&tenancyv1.RecordHostVerificationResponse{Host: hostToProto(host)}), nil
}

func (h *Handler) RemoveHost(ctx context.Context, req *connect.Request[tenancyv1.RemoveHostRequest]) (*connect.Response[tenancyv1.RemoveHostResponse], error) {
	if err := requireServiceIdentity(ctx); err != nil {
		return nil, err
	}
	removed, err := h.service.RemoveHost(ctx, req.Msg.GetTenantId(), req.Msg.GetHost(), req.Msg.GetForce())
	if err != nil {
		return nil, h.connectError(ctx, "RemoveHost", err)
	}
	return connect.NewResponse(&tenancyv1.RemoveHostResponse{
		AppsRemoved:         int32(removed.Apps),
		ReservationsRemoved: int32(removed.Reservations),
		HostId:              removed.HostID,
	}), nil
}

func (h *Handler) GetTenantUsage(ctx context.Context, req *connect.Request[tenancyv1.GetTenantUsageRequest]) (*connect.Response[tenancyv1.GetTenantUsageResponse], error) {
	if err := requireServiceIdentity(ctx); err != nil {
		return nil, err
	}
	usage, err := h.service.GetTenantUsage(ctx, req.Msg.GetTenantId())
	if err != nil {
		return nil, h.connectError(ctx, "GetTenantUsage", err)
	}
	return connect.NewResponse(&tenancyv1.GetTenantUsageResponse{Usage: &tenancyv1.TenantUsage{
		TenantId:            usage.TenantID,
		Apps:                int32(usage.Apps),
		Hosts:               int32(usage.Hosts),
		PendingReservations: int32(usage.PendingReservations),
		AuditEvents:         usage.AuditEvents,
		LastEventTime:       optionalTimestamp(usage.LastEventTime),
	}}), nil
}
