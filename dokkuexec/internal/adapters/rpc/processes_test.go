package rpc_test

import (
	"context"
	"slices"
	"testing"

	"connectrpc.com/connect"

	"dokkumcp.dev/dokkuexec/internal/sshtest"
	dokkuexecv1 "dokkumcp.dev/gen/dokkumcp/dokkuexec/v1"
	"dokkumcp.dev/testhost/emulator"
)

// deploy deploys app on the test host from an image, as a CI pipeline would,
// straight through the emulator.
func deploy(t *testing.T, f *fixture, app string) {
	t.Helper()
	var out sshtest.Buffer
	if code := f.host.Emulator.Run(context.Background(), emulator.Invocation{OriginalCommand: "git:from-image " + app + " nginx:latest", Stdout: &out, Stderr: &out}); code != 0 {
		t.Fatalf("deploy %s: exit %d: %s", app, code, out.String())
	}
}

func scaleOf(scale []*dokkuexecv1.ProcessScale) map[string]int32 {
	m := map[string]int32{}
	for _, s := range scale {
		m[s.GetProcessType()] = s.GetQuantity()
	}
	return m
}

func TestHandlerProcesses(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	token := f.issuer.token(t, sshtest.TenantID, ownerScopes...)
	if _, err := f.client.CreateApp(ctx, request(&dokkuexecv1.CreateAppRequest{App: "shop"}, token)); err != nil {
		t.Fatalf("CreateApp: %v", err)
	}

	report, err := f.client.GetProcessReport(ctx, request(&dokkuexecv1.GetProcessReportRequest{App: "shop"}, token))
	if err != nil {
		t.Fatalf("GetProcessReport: %v", err)
	}
	r := report.Msg.GetReport()
	if r.GetDeployed() || r.GetProcesses() != 0 || r.GetRunning() != dokkuexecv1.RunningState_RUNNING_STATE_STOPPED || r.GetRestartPolicy() != "on-failure:10" {
		t.Errorf("report of an undeployed app = %v", r)
	}

	// Dokku exits 0 for an undeployed app, with its message on stderr for
	// ps:stop and ps:start and on stdout for ps:restart.
	const notDeployed = "App shop has not been deployed"
	stop, err := f.client.StopProcesses(ctx, request(&dokkuexecv1.StopProcessesRequest{App: "shop"}, token))
	if err != nil || stop.Msg.GetChanged() || stop.Msg.GetReason() != notDeployed {
		t.Errorf("StopProcesses undeployed = %v, %v; want unchanged with reason %q", stop, err, notDeployed)
	}
	restart, err := f.client.RestartProcesses(ctx, request(&dokkuexecv1.RestartProcessesRequest{App: "shop"}, token))
	if err != nil || restart.Msg.GetChanged() || restart.Msg.GetReason() != notDeployed {
		t.Errorf("RestartProcesses undeployed = %v, %v; want unchanged with reason %q", restart, err, notDeployed)
	}
	start, err := f.client.StartProcesses(ctx, request(&dokkuexecv1.StartProcessesRequest{App: "shop"}, token))
	if err != nil || start.Msg.GetChanged() || start.Msg.GetReason() != notDeployed {
		t.Errorf("StartProcesses undeployed = %v, %v; want unchanged with reason %q", start, err, notDeployed)
	}

	current, err := f.client.ScaleProcesses(ctx, request(&dokkuexecv1.ScaleProcessesRequest{App: "shop"}, token))
	if err != nil {
		t.Fatalf("ScaleProcesses without counts: %v", err)
	}
	if got := scaleOf(current.Msg.GetScale()); current.Msg.GetChanged() || len(got) != 1 || got["web"] != 1 {
		t.Errorf("current scale = %v, want web=1 unchanged", current.Msg)
	}
	scaled, err := f.client.ScaleProcesses(ctx, request(&dokkuexecv1.ScaleProcessesRequest{App: "shop", Counts: map[string]int32{"web": 2, "worker": 1}, SkipDeploy: true}, token))
	if err != nil {
		t.Fatalf("ScaleProcesses: %v", err)
	}
	if got := scaleOf(scaled.Msg.GetScale()); !scaled.Msg.GetChanged() || got["web"] != 2 || got["worker"] != 1 {
		t.Errorf("ScaleProcesses = %v, want web=2 worker=1 changed", scaled.Msg)
	}
	again, err := f.client.ScaleProcesses(ctx, request(&dokkuexecv1.ScaleProcessesRequest{App: "shop", Counts: map[string]int32{"web": 2}}, token))
	if err != nil || again.Msg.GetChanged() {
		t.Errorf("ScaleProcesses to the same count = %v, %v; want unchanged", again, err)
	}

	deploy(t, f, "shop")
	report, err = f.client.GetProcessReport(ctx, request(&dokkuexecv1.GetProcessReportRequest{App: "shop"}, token))
	if err != nil {
		t.Fatalf("GetProcessReport: %v", err)
	}
	if r := report.Msg.GetReport(); !r.GetDeployed() || r.GetProcesses() != 3 || r.GetRunning() != dokkuexecv1.RunningState_RUNNING_STATE_RUNNING || r.GetFields()["status-web-1"] == "" {
		t.Errorf("report of a deployed app = %v", r)
	}
	start, err = f.client.StartProcesses(ctx, request(&dokkuexecv1.StartProcessesRequest{App: "shop"}, token))
	if err != nil || start.Msg.GetChanged() || start.Msg.GetReason() != "App shop already running" {
		t.Errorf("StartProcesses running = %v, %v; want unchanged, already running", start, err)
	}
	stop, err = f.client.StopProcesses(ctx, request(&dokkuexecv1.StopProcessesRequest{App: "shop"}, token))
	if err != nil || !stop.Msg.GetChanged() || stop.Msg.GetReason() != "" {
		t.Errorf("StopProcesses deployed = %v, %v; want changed", stop, err)
	}
	report, err = f.client.GetProcessReport(ctx, request(&dokkuexecv1.GetProcessReportRequest{App: "shop"}, token))
	if err != nil || report.Msg.GetReport().GetRunning() != dokkuexecv1.RunningState_RUNNING_STATE_STOPPED {
		t.Errorf("report after stop = %v, %v; want stopped", report, err)
	}
	start, err = f.client.StartProcesses(ctx, request(&dokkuexecv1.StartProcessesRequest{App: "shop"}, token))
	if err != nil || !start.Msg.GetChanged() {
		t.Errorf("StartProcesses stopped = %v, %v; want changed", start, err)
	}
	restart, err = f.client.RestartProcesses(ctx, request(&dokkuexecv1.RestartProcessesRequest{App: "shop"}, token))
	if err != nil || !restart.Msg.GetChanged() {
		t.Errorf("RestartProcesses deployed = %v, %v; want changed", restart, err)
	}
}

func TestHandlerProcessErrors(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	token := f.issuer.token(t, sshtest.TenantID, ownerScopes...)
	viewer := f.issuer.token(t, sshtest.TenantID, "apps:read", "logs:read")
	if _, err := f.client.CreateApp(ctx, request(&dokkuexecv1.CreateAppRequest{App: "shop"}, token)); err != nil {
		t.Fatalf("CreateApp: %v", err)
	}

	_, err := f.client.GetProcessReport(ctx, request(&dokkuexecv1.GetProcessReportRequest{App: "nope"}, token))
	wantCode(t, err, connect.CodeNotFound, `app "nope" not found on host "prod"`)
	_, err = f.client.StopProcesses(ctx, request(&dokkuexecv1.StopProcessesRequest{App: "nope"}, token))
	wantCode(t, err, connect.CodeNotFound, `app "nope" not found`)
	_, err = f.client.StopProcesses(ctx, request(&dokkuexecv1.StopProcessesRequest{App: "shop"}, viewer))
	wantCode(t, err, connect.CodePermissionDenied, `permission "apps:deploy" is required`)
	_, err = f.client.ScaleProcesses(ctx, request(&dokkuexecv1.ScaleProcessesRequest{App: "shop", Counts: map[string]int32{"web": 1}}, viewer))
	wantCode(t, err, connect.CodePermissionDenied, `permission "apps:deploy" is required`)

	tests := []struct {
		name   string
		counts map[string]int32
		want   string
	}{
		{"flag-like type", map[string]int32{"--skip-deploy": 1}, `invalid process type "--skip-deploy": use letters, digits, dashes and underscores`},
		{"type with space", map[string]int32{"web worker": 1}, `invalid process type "web worker"`},
		{"type with equals", map[string]int32{"web=2": 1}, `invalid process type "web=2"`},
		{"negative count", map[string]int32{"web": -1}, `invalid count of process type "web" "-1": use a count from 0 to 100`},
		{"count over 100", map[string]int32{"web": 101}, `invalid count of process type "web" "101": use a count from 0 to 100`},
	}
	for _, tt := range tests {
		_, err := f.client.ScaleProcesses(ctx, request(&dokkuexecv1.ScaleProcessesRequest{App: "shop", Counts: tt.counts}, token))
		wantCode(t, err, connect.CodeInvalidArgument, tt.want)
	}
	scale, err := f.client.ScaleProcesses(ctx, request(&dokkuexecv1.ScaleProcessesRequest{App: "shop"}, token))
	if err != nil || !slices.Equal([]int32{1}, []int32{scaleOf(scale.Msg.GetScale())["web"]}) {
		t.Errorf("scale after rejected requests = %v, %v; want web=1", scale, err)
	}
}
