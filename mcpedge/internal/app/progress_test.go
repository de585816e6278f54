package app_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	dokkuexecv1 "dokkumcp.dev/gen/dokkumcp/dokkuexec/v1"
	"dokkumcp.dev/gen/dokkumcp/dokkuexec/v1/dokkuexecv1connect"
	"dokkumcp.dev/mcpedge/internal/app"
)

// FakeDokkuExec runs one deployment whose build goes on until the test
// closes finish: a build that lasts as long as the test needs, which the
// real DokkuExec cannot be made to do on demand without a Dokku host.
type FakeDokkuExec struct {
	dokkuexecv1connect.UnimplementedDokkuExecServiceHandler
	finish chan struct{}
}

func fakeDeployment(status dokkuexecv1.DeploymentStatus, step string) *dokkuexecv1.Deployment {
	return &dokkuexecv1.Deployment{Id: "d-abcdefgh23", Host: "main", App: "web", Status: status, Step: step}
}

func (f *FakeDokkuExec) CreateDeployment(context.Context, *connect.Request[dokkuexecv1.CreateDeploymentRequest]) (*connect.Response[dokkuexecv1.CreateDeploymentResponse], error) {
	return connect.NewResponse(&dokkuexecv1.CreateDeploymentResponse{
		Deployment: fakeDeployment(dokkuexecv1.DeploymentStatus_DEPLOYMENT_STATUS_QUEUED, ""),
	}), nil
}

func (f *FakeDokkuExec) WatchDeployment(ctx context.Context, _ *connect.Request[dokkuexecv1.WatchDeploymentRequest], stream *connect.ServerStream[dokkuexecv1.WatchDeploymentResponse]) error {
	send := func(d *dokkuexecv1.Deployment) error {
		return stream.Send(&dokkuexecv1.WatchDeploymentResponse{Event: &dokkuexecv1.WatchDeploymentResponse_Deployment{Deployment: d}})
	}
	if err := send(fakeDeployment(dokkuexecv1.DeploymentStatus_DEPLOYMENT_STATUS_RUNNING, "Building web")); err != nil {
		return err
	}
	select {
	case <-f.finish:
	case <-ctx.Done():
		return ctx.Err()
	}
	return send(fakeDeployment(dokkuexecv1.DeploymentStatus_DEPLOYMENT_STATUS_SUCCEEDED, "Building web"))
}

// manualTicker ticks when the test sends on ticks and records the
// intervals it was started and reset with.
type manualTicker struct {
	ticks     chan time.Time
	intervals chan time.Duration
}

func (m *manualTicker) C() <-chan time.Time   { return m.ticks }
func (m *manualTicker) Reset(d time.Duration) { m.intervals <- d }
func (m *manualTicker) Stop()                 {}

func TestDeployWaitSendsProgressWhileNothingChanges(t *testing.T) {
	t.Parallel()
	fake := &FakeDokkuExec{finish: make(chan struct{})}
	mux := http.NewServeMux()
	mux.Handle(dokkuexecv1connect.NewDokkuExecServiceHandler(fake))
	server := httptest.NewServer(mux)
	t.Cleanup(server.Close)

	ticker := &manualTicker{ticks: make(chan time.Time), intervals: make(chan time.Duration, 4)}
	tools := &app.Tools{
		DokkuExec: dokkuexecv1connect.NewDokkuExecServiceClient(server.Client(), server.URL),
		Logger:    slog.New(slog.DiscardHandler),
		NewTicker: func(d time.Duration) app.Ticker { ticker.intervals <- d; return ticker },
	}

	progress := make(chan string)
	type outcome struct {
		deployment *app.Deployment
		err        error
	}
	done := make(chan outcome, 1)
	go func() {
		d, err := tools.CreateDeployment(t.Context(), app.DeployCreateArgs{App: "web", Source: "rebuild", Wait: true}, func(m string) { progress <- m })
		done <- outcome{d, err}
	}()
	// A missing notification fails the test after this deadline instead of
	// blocking it until the package times out.
	deadline, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	next := func() string {
		t.Helper()
		select {
		case m := <-progress:
			return m
		case got := <-done:
			t.Fatalf("deploy_create returned %+v, %v while progress was expected", got.deployment, got.err)
		case <-deadline.Done():
			t.Fatal("no progress notification within 30 seconds")
		}
		return ""
	}

	if got := next(); got != "deployment d-abcdefgh23 queued" {
		t.Errorf("first progress = %q, want the queued deployment", got)
	}
	// The heartbeat interval must stay within the 15 seconds that MCP
	// clients are promised between notifications.
	if interval := <-ticker.intervals; interval != app.ProgressInterval || interval > 15*time.Second {
		t.Errorf("ticker started with %s, want ProgressInterval (%s), at most 15s", interval, app.ProgressInterval)
	}
	if got := next(); got != "deployment d-abcdefgh23 running: Building web" {
		t.Errorf("progress after the status change = %q, want running: Building web", got)
	}
	if interval := <-ticker.intervals; interval != app.ProgressInterval {
		t.Errorf("ticker reset to %s after a change, want %s", interval, app.ProgressInterval)
	}

	// Nothing changes while the build runs, so each tick sends a heartbeat.
	for range 2 {
		ticker.ticks <- time.Now()
		if got := next(); !strings.HasSuffix(got, "running: Building web (still running)") {
			t.Errorf("progress on a tick = %q, want the unchanged state marked still running", got)
		}
	}

	close(fake.finish)
	if got := next(); got != "deployment d-abcdefgh23 succeeded: Building web" {
		t.Errorf("progress at the end = %q, want succeeded", got)
	}
	var got outcome
	select {
	case got = <-done:
	case <-deadline.Done():
		t.Fatal("deploy_create did not return within 30 seconds of the deployment's end")
	}
	if got.err != nil || got.deployment.Status != "succeeded" {
		t.Fatalf("deploy_create with wait = %+v, %v; want succeeded", got.deployment, got.err)
	}
}
