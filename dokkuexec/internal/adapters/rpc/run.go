package rpc

import (
	"context"

	"connectrpc.com/connect"

	dokkuexecv1 "dokkumcp.dev/gen/dokkumcp/dokkuexec/v1"
)

// RunCommand runs a one-off command in an app's container.
func (h *Handler) RunCommand(ctx context.Context, req *connect.Request[dokkuexecv1.RunCommandRequest]) (*connect.Response[dokkuexecv1.RunCommandResponse], error) {
	tenantID, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	result, err := h.service.RunCommand(ctx, tenantID, req.Msg.GetHost(), req.Msg.GetApp(), req.Msg.GetArgs())
	if err != nil {
		return nil, toConnect(ctx, h.logger, req.Spec().Procedure, err)
	}
	return connect.NewResponse(&dokkuexecv1.RunCommandResponse{
		ExitCode:        int32(result.ExitCode),
		Stdout:          validUTF8(string(result.Stdout)),
		Stderr:          validUTF8(string(result.Stderr)),
		StdoutTruncated: result.StdoutTruncated,
		StderrTruncated: result.StderrTruncated,
	}), nil
}
