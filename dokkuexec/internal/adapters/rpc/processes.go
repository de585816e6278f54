package rpc

import (
	"context"

	"connectrpc.com/connect"

	"dokkumcp.dev/dokkuexec/internal/app"
	"dokkumcp.dev/dokkuexec/internal/domain"
	dokkuexecv1 "dokkumcp.dev/gen/dokkumcp/dokkuexec/v1"
)

var runningStates = map[domain.RunningState]dokkuexecv1.RunningState{
	domain.Running:      dokkuexecv1.RunningState_RUNNING_STATE_RUNNING,
	domain.Stopped:      dokkuexecv1.RunningState_RUNNING_STATE_STOPPED,
	domain.RunningMixed: dokkuexecv1.RunningState_RUNNING_STATE_MIXED,
}

// GetProcessReport returns an app's process report.
func (h *Handler) GetProcessReport(ctx context.Context, req *connect.Request[dokkuexecv1.GetProcessReportRequest]) (*connect.Response[dokkuexecv1.GetProcessReportResponse], error) {
	tenantID, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	report, err := h.service.GetProcessReport(ctx, tenantID, req.Msg.GetHost(), req.Msg.GetApp())
	if err != nil {
		return nil, toConnect(ctx, h.logger, req.Spec().Procedure, err)
	}
	return connect.NewResponse(&dokkuexecv1.GetProcessReportResponse{Report: &dokkuexecv1.ProcessReport{
		App:           report.App,
		Deployed:      report.Deployed,
		Processes:     int32(report.Processes),
		Running:       runningStates[report.Running],
		RestartPolicy: report.RestartPolicy,
		Fields:        report.Fields,
	}}), nil
}

// ScaleProcesses sets or reads an app's scale.
func (h *Handler) ScaleProcesses(ctx context.Context, req *connect.Request[dokkuexecv1.ScaleProcessesRequest]) (*connect.Response[dokkuexecv1.ScaleProcessesResponse], error) {
	tenantID, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	result, err := h.service.ScaleProcesses(ctx, tenantID, req.Msg.GetHost(), req.Msg.GetApp(), req.Msg.GetCounts(), req.Msg.GetSkipDeploy())
	if err != nil {
		return nil, toConnect(ctx, h.logger, req.Spec().Procedure, err)
	}
	scale := make([]*dokkuexecv1.ProcessScale, len(result.Scale))
	for i, f := range result.Scale {
		scale[i] = &dokkuexecv1.ProcessScale{ProcessType: f.ProcessType, Quantity: int32(f.Quantity)}
	}
	return connect.NewResponse(&dokkuexecv1.ScaleProcessesResponse{App: result.App, Scale: scale, Changed: result.Changed, Warnings: result.Warnings}), nil
}

// StartProcesses starts an app's containers.
func (h *Handler) StartProcesses(ctx context.Context, req *connect.Request[dokkuexecv1.StartProcessesRequest]) (*connect.Response[dokkuexecv1.StartProcessesResponse], error) {
	change, err := h.changeProcesses(ctx, req.Spec().Procedure, req.Msg.GetHost(), req.Msg.GetApp(), h.service.StartProcesses)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&dokkuexecv1.StartProcessesResponse{App: change.App, Changed: change.Changed, Reason: change.Reason, Warnings: change.Warnings}), nil
}

// StopProcesses stops an app's containers.
func (h *Handler) StopProcesses(ctx context.Context, req *connect.Request[dokkuexecv1.StopProcessesRequest]) (*connect.Response[dokkuexecv1.StopProcessesResponse], error) {
	change, err := h.changeProcesses(ctx, req.Spec().Procedure, req.Msg.GetHost(), req.Msg.GetApp(), h.service.StopProcesses)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&dokkuexecv1.StopProcessesResponse{App: change.App, Changed: change.Changed, Reason: change.Reason, Warnings: change.Warnings}), nil
}

// RestartProcesses restarts an app's containers.
func (h *Handler) RestartProcesses(ctx context.Context, req *connect.Request[dokkuexecv1.RestartProcessesRequest]) (*connect.Response[dokkuexecv1.RestartProcessesResponse], error) {
	change, err := h.changeProcesses(ctx, req.Spec().Procedure, req.Msg.GetHost(), req.Msg.GetApp(), h.service.RestartProcesses)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&dokkuexecv1.RestartProcessesResponse{App: change.App, Changed: change.Changed, Reason: change.Reason, Warnings: change.Warnings}), nil
}

func (h *Handler) changeProcesses(ctx context.Context, procedure, host, appName string,
	change func(ctx context.Context, tenantID, hostRef, appName string) (app.ProcessChange, error),
) (app.ProcessChange, error) {
	tenantID, err := tenantOf(ctx)
	if err != nil {
		return app.ProcessChange{}, err
	}
	result, err := change(ctx, tenantID, host, appName)
	if err != nil {
		return app.ProcessChange{}, toConnect(ctx, h.logger, procedure, err)
	}
	return result, nil
}
