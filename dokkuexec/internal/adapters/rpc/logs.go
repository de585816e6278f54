package rpc

import (
	"context"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"dokkumcp.dev/dokkuexec/internal/domain"
	dokkuexecv1 "dokkumcp.dev/gen/dokkumcp/dokkuexec/v1"
)

// GetLogs returns the last lines of an app's runtime logs.
func (h *Handler) GetLogs(ctx context.Context, req *connect.Request[dokkuexecv1.GetLogsRequest]) (*connect.Response[dokkuexecv1.GetLogsResponse], error) {
	tenantID, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	logs, err := h.service.GetLogs(ctx, tenantID, req.Msg.GetHost(), req.Msg.GetApp(), int(req.Msg.GetNum()), req.Msg.GetProcessType())
	if err != nil {
		return nil, toConnect(ctx, h.logger, req.Spec().Procedure, err)
	}
	lines := make([]*dokkuexecv1.LogLine, len(logs.Lines))
	for i, line := range logs.Lines {
		lines[i] = logLineMessage(line)
	}
	return connect.NewResponse(&dokkuexecv1.GetLogsResponse{Lines: lines, Truncated: logs.Truncated}), nil
}

// FollowLogs streams an app's runtime logs until the client cancels.
func (h *Handler) FollowLogs(ctx context.Context, req *connect.Request[dokkuexecv1.FollowLogsRequest], stream *connect.ServerStream[dokkuexecv1.FollowLogsResponse]) error {
	tenantID, err := tenantOf(ctx)
	if err != nil {
		return err
	}
	err = h.service.FollowLogs(ctx, tenantID, req.Msg.GetHost(), req.Msg.GetApp(), int(req.Msg.GetNum()), req.Msg.GetProcessType(), func(line domain.LogLine) error {
		return stream.Send(&dokkuexecv1.FollowLogsResponse{Line: logLineMessage(line)})
	})
	if err != nil {
		return toConnect(ctx, h.logger, req.Spec().Procedure, err)
	}
	return nil
}

func logLineMessage(line domain.LogLine) *dokkuexecv1.LogLine {
	msg := &dokkuexecv1.LogLine{Process: validUTF8(line.Process), Message: validUTF8(line.Message)}
	if !line.Time.IsZero() {
		msg.Time = timestamppb.New(line.Time)
	}
	return msg
}
