package rpc

import (
	"context"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	tenancyv1 "dokkumcp.dev/gen/dokkumcp/tenancy/v1"
)

func (h *Handler) ReserveApp(ctx context.Context, req *connect.Request[tenancyv1.ReserveAppRequest]) (*connect.Response[tenancyv1.ReserveAppResponse], error) {
	if err := requireServiceIdentity(ctx); err != nil {
		return nil, err
	}
	reservation, err := h.service.ReserveApp(ctx, req.Msg.GetTenantId(), req.Msg.GetHostId(), req.Msg.GetApp())
	if err != nil {
		return nil, h.connectError(ctx, "ReserveApp", err)
	}
	return connect.NewResponse(&tenancyv1.ReserveAppResponse{
		ReservationId: reservation.ID,
		ExpireTime:    timestamppb.New(reservation.ExpireTime),
	}), nil
}

func (h *Handler) CommitAppReservation(ctx context.Context, req *connect.Request[tenancyv1.CommitAppReservationRequest]) (*connect.Response[tenancyv1.CommitAppReservationResponse], error) {
	if err := requireServiceIdentity(ctx); err != nil {
		return nil, err
	}
	if err := h.service.CommitAppReservation(ctx, req.Msg.GetTenantId(), req.Msg.GetReservationId()); err != nil {
		return nil, h.connectError(ctx, "CommitAppReservation", err)
	}
	return connect.NewResponse(&tenancyv1.CommitAppReservationResponse{}), nil
}

func (h *Handler) ReleaseAppReservation(ctx context.Context, req *connect.Request[tenancyv1.ReleaseAppReservationRequest]) (*connect.Response[tenancyv1.ReleaseAppReservationResponse], error) {
	if err := requireServiceIdentity(ctx); err != nil {
		return nil, err
	}
	if err := h.service.ReleaseAppReservation(ctx, req.Msg.GetTenantId(), req.Msg.GetReservationId()); err != nil {
		return nil, h.connectError(ctx, "ReleaseAppReservation", err)
	}
	return connect.NewResponse(&tenancyv1.ReleaseAppReservationResponse{}), nil
}

func (h *Handler) RecordAppRemoved(ctx context.Context, req *connect.Request[tenancyv1.RecordAppRemovedRequest]) (*connect.Response[tenancyv1.RecordAppRemovedResponse], error) {
	if err := requireServiceIdentity(ctx); err != nil {
		return nil, err
	}
	if err := h.service.RecordAppRemoved(ctx, req.Msg.GetTenantId(), req.Msg.GetHostId(), req.Msg.GetApp()); err != nil {
		return nil, h.connectError(ctx, "RecordAppRemoved", err)
	}
	return connect.NewResponse(&tenancyv1.RecordAppRemovedResponse{}), nil
}
