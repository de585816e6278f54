package rpc

import (
	"context"
	"errors"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"dokkumcp.dev/dokkuexec/internal/app"
	"dokkumcp.dev/dokkuexec/internal/domain"
	dokkuexecv1 "dokkumcp.dev/gen/dokkumcp/dokkuexec/v1"
)

// CreateDeployment starts a deployment in the background.
func (h *Handler) CreateDeployment(ctx context.Context, req *connect.Request[dokkuexecv1.CreateDeploymentRequest]) (*connect.Response[dokkuexecv1.CreateDeploymentResponse], error) {
	tenantID, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	request := app.DeploymentRequest{Host: req.Msg.GetHost(), App: req.Msg.GetApp()}
	switch source := req.Msg.GetSource().(type) {
	case *dokkuexecv1.CreateDeploymentRequest_Git:
		request.Kind, request.Repository, request.Ref = domain.SourceGit, source.Git.GetRepository(), source.Git.GetRef()
	case *dokkuexecv1.CreateDeploymentRequest_Image:
		request.Kind, request.Image = domain.SourceImage, source.Image.GetImage()
	case *dokkuexecv1.CreateDeploymentRequest_Rebuild:
		request.Kind = domain.SourceRebuild
	}

	d, err := h.service.CreateDeployment(ctx, tenantID, request)
	if err != nil {
		return nil, toConnect(ctx, h.logger, req.Spec().Procedure, err)
	}
	return connect.NewResponse(&dokkuexecv1.CreateDeploymentResponse{Deployment: deploymentMessage(d)}), nil
}

// GetDeployment returns one deployment.
func (h *Handler) GetDeployment(ctx context.Context, req *connect.Request[dokkuexecv1.GetDeploymentRequest]) (*connect.Response[dokkuexecv1.GetDeploymentResponse], error) {
	tenantID, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	d, err := h.service.GetDeployment(ctx, tenantID, req.Msg.GetId())
	if err != nil {
		return nil, toConnect(ctx, h.logger, req.Spec().Procedure, err)
	}
	return connect.NewResponse(&dokkuexecv1.GetDeploymentResponse{Deployment: deploymentMessage(d)}), nil
}

// ListDeployments lists an app's deployments.
func (h *Handler) ListDeployments(ctx context.Context, req *connect.Request[dokkuexecv1.ListDeploymentsRequest]) (*connect.Response[dokkuexecv1.ListDeploymentsResponse], error) {
	tenantID, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	list, err := h.service.ListDeployments(ctx, tenantID, req.Msg.GetHost(), req.Msg.GetApp(), int(req.Msg.GetPageSize()))
	if err != nil {
		return nil, toConnect(ctx, h.logger, req.Spec().Procedure, err)
	}
	resp := &dokkuexecv1.ListDeploymentsResponse{}
	for _, d := range list {
		resp.Deployments = append(resp.Deployments, deploymentMessage(d))
	}
	return connect.NewResponse(resp), nil
}

// WatchDeployment streams a deployment's state and output.
func (h *Handler) WatchDeployment(ctx context.Context, req *connect.Request[dokkuexecv1.WatchDeploymentRequest], stream *connect.ServerStream[dokkuexecv1.WatchDeploymentResponse]) error {
	tenantID, err := tenantOf(ctx)
	if err != nil {
		return err
	}
	err = h.service.WatchDeployment(ctx, tenantID, req.Msg.GetId(), req.Msg.GetAfterLine(), req.Msg.GetFollow(), func(event app.DeploymentEvent) error {
		msg := &dokkuexecv1.WatchDeploymentResponse{}
		if event.Deployment != nil {
			msg.Event = &dokkuexecv1.WatchDeploymentResponse_Deployment{Deployment: deploymentMessage(*event.Deployment)}
		} else {
			msg.Event = &dokkuexecv1.WatchDeploymentResponse_Line{Line: &dokkuexecv1.DeploymentOutputLine{
				Number: event.Line.Number, Text: validUTF8(event.Line.Text)}}
		}
		return stream.Send(msg)
	})
	if err != nil {
		var appErr *app.Error
		if !errors.As(err, &appErr) {
			// The client has gone; the deployment goes on.
			return connect.NewError(connect.CodeCanceled, errors.New("the watch ended because it could not be sent to the client"))
		}
		return toConnect(ctx, h.logger, req.Spec().Procedure, err)
	}
	return nil
}

// CancelDeployment cancels a running deployment.
func (h *Handler) CancelDeployment(ctx context.Context, req *connect.Request[dokkuexecv1.CancelDeploymentRequest]) (*connect.Response[dokkuexecv1.CancelDeploymentResponse], error) {
	tenantID, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	d, err := h.service.CancelDeployment(ctx, tenantID, req.Msg.GetId())
	if err != nil {
		return nil, toConnect(ctx, h.logger, req.Spec().Procedure, err)
	}
	return connect.NewResponse(&dokkuexecv1.CancelDeploymentResponse{Deployment: deploymentMessage(d)}), nil
}

var deploymentStatuses = map[domain.DeploymentStatus]dokkuexecv1.DeploymentStatus{
	domain.DeploymentQueued:    dokkuexecv1.DeploymentStatus_DEPLOYMENT_STATUS_QUEUED,
	domain.DeploymentRunning:   dokkuexecv1.DeploymentStatus_DEPLOYMENT_STATUS_RUNNING,
	domain.DeploymentSucceeded: dokkuexecv1.DeploymentStatus_DEPLOYMENT_STATUS_SUCCEEDED,
	domain.DeploymentFailed:    dokkuexecv1.DeploymentStatus_DEPLOYMENT_STATUS_FAILED,
	domain.DeploymentCancelled: dokkuexecv1.DeploymentStatus_DEPLOYMENT_STATUS_CANCELLED,
	domain.DeploymentUnknown:   dokkuexecv1.DeploymentStatus_DEPLOYMENT_STATUS_UNKNOWN,
}

func deploymentMessage(d domain.Deployment) *dokkuexecv1.Deployment {
	msg := &dokkuexecv1.Deployment{
		Id:          d.ID,
		Host:        d.HostName,
		App:         string(d.App),
		Status:      deploymentStatuses[d.Status],
		Message:     validUTF8(d.Message),
		Step:        validUTF8(d.Step),
		BuildId:     d.BuildID,
		OutputLines: d.OutputLines,
		CreateTime:  timestamppb.New(d.CreateTime),
	}
	switch d.Source.Kind {
	case domain.SourceGit:
		msg.Source = &dokkuexecv1.Deployment_Git{Git: &dokkuexecv1.GitSource{Repository: string(d.Source.Repository), Ref: string(d.Source.Ref)}}
	case domain.SourceImage:
		msg.Source = &dokkuexecv1.Deployment_Image{Image: &dokkuexecv1.ImageSource{Image: string(d.Source.Image)}}
	case domain.SourceRebuild:
		msg.Source = &dokkuexecv1.Deployment_Rebuild{Rebuild: &dokkuexecv1.RebuildSource{}}
	}
	if d.ExitCode != nil {
		code := int32(*d.ExitCode)
		msg.ExitCode = &code
	}
	if d.StartTime != nil {
		msg.StartTime = timestamppb.New(*d.StartTime)
	}
	if d.EndTime != nil {
		msg.EndTime = timestamppb.New(*d.EndTime)
	}
	return msg
}
