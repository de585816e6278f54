package app

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"connectrpc.com/connect"

	dokkuexecv1 "dokkumcp.dev/gen/dokkumcp/dokkuexec/v1"
	"dokkumcp.dev/gen/dokkumcp/dokkuexec/v1/dokkuexecv1connect"
)

// FakeDokkuExecShuttingDown creates deployments and then ends every watch
// with Unavailable, as DokkuExec does when it stops mid-deployment. A test
// cannot stop the real one on demand in the middle of a watch.
type FakeDokkuExecShuttingDown struct {
	dokkuexecv1connect.UnimplementedDokkuExecServiceHandler
}

func (FakeDokkuExecShuttingDown) CreateDeployment(context.Context, *connect.Request[dokkuexecv1.CreateDeploymentRequest]) (*connect.Response[dokkuexecv1.CreateDeploymentResponse], error) {
	return connect.NewResponse(&dokkuexecv1.CreateDeploymentResponse{Deployment: &dokkuexecv1.Deployment{
		Id: "d-aaaaaaaaaa", App: "shop", Status: dokkuexecv1.DeploymentStatus_DEPLOYMENT_STATUS_QUEUED,
	}}), nil
}

func (FakeDokkuExecShuttingDown) WatchDeployment(_ context.Context, _ *connect.Request[dokkuexecv1.WatchDeploymentRequest], stream *connect.ServerStream[dokkuexecv1.WatchDeploymentResponse]) error {
	running := &dokkuexecv1.Deployment{Id: "d-aaaaaaaaaa", App: "shop", Status: dokkuexecv1.DeploymentStatus_DEPLOYMENT_STATUS_RUNNING, Step: "Building shop"}
	if err := stream.Send(&dokkuexecv1.WatchDeploymentResponse{Event: &dokkuexecv1.WatchDeploymentResponse_Deployment{Deployment: running}}); err != nil {
		return err
	}
	return connect.NewError(connect.CodeUnavailable, errors.New("the watch of deployment d-aaaaaaaaaa ended because DokkuExec is shutting down; the deployment goes on, watch it again"))
}

// TestDeployWaitWatchFailureKeepsID checks that deploy_create
// with wait still returns the deployment it created when the watch breaks,
// instead of an error that leaves the model without the deployment's id.
func TestDeployWaitWatchFailureKeepsID(t *testing.T) {
	t.Parallel()
	path, handler := dokkuexecv1connect.NewDokkuExecServiceHandler(FakeDokkuExecShuttingDown{})
	mux := http.NewServeMux()
	mux.Handle(path, handler)
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	server := httptest.NewUnstartedServer(mux)
	server.Listener = listener
	server.EnableHTTP2 = true
	server.Start()
	t.Cleanup(server.Close)

	tools := &Tools{
		DokkuExec: dokkuexecv1connect.NewDokkuExecServiceClient(server.Client(), server.URL),
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	got, err := tools.CreateDeployment(t.Context(), DeployCreateArgs{App: "shop", Source: "rebuild", Wait: true}, func(string) {})
	if err != nil {
		t.Fatalf("CreateDeployment = %v, want the created deployment", err)
	}
	if got.ID != "d-aaaaaaaaaa" || got.Status != "running" || !strings.Contains(got.Hint, "deploy_status d-aaaaaaaaaa") {
		t.Errorf("CreateDeployment = %+v, want d-aaaaaaaaaa running with a hint to follow it with deploy_status", got)
	}
}
