package rpc_test

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"dokkumcp.dev/dokkuexec/internal/sshtest"
	dokkuexecv1 "dokkumcp.dev/gen/dokkumcp/dokkuexec/v1"
)

func TestHandlerGetLogs(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	token := f.issuer.token(t, sshtest.TenantID, ownerScopes...)
	viewer := f.issuer.token(t, sshtest.TenantID, "apps:read", "logs:read")
	if _, err := f.client.CreateApp(ctx, request(&dokkuexecv1.CreateAppRequest{App: "shop"}, token)); err != nil {
		t.Fatalf("CreateApp: %v", err)
	}

	_, err := f.client.GetLogs(ctx, request(&dokkuexecv1.GetLogsRequest{App: "shop"}, viewer))
	wantCode(t, err, connect.CodeFailedPrecondition, `App shop has not been deployed on host "prod", so it has no logs yet; deploy it first`)
	_, err = f.client.GetLogs(ctx, request(&dokkuexecv1.GetLogsRequest{App: "nope"}, viewer))
	wantCode(t, err, connect.CodeNotFound, `app "nope" not found`)
	_, err = f.client.GetLogs(ctx, request(&dokkuexecv1.GetLogsRequest{App: "shop"}, token))
	wantCode(t, err, connect.CodePermissionDenied, `permission "logs:read" is required`)
	_, err = f.client.GetLogs(ctx, request(&dokkuexecv1.GetLogsRequest{App: "shop", Num: 1001}, viewer))
	wantCode(t, err, connect.CodeInvalidArgument, `invalid num "1001": ask for 1 to 1000 lines per container, or 0 for 100`)
	_, err = f.client.GetLogs(ctx, request(&dokkuexecv1.GetLogsRequest{App: "shop", ProcessType: "-t"}, viewer))
	wantCode(t, err, connect.CodeInvalidArgument, `invalid process type "-t"`)

	if _, err := f.client.ScaleProcesses(ctx, request(&dokkuexecv1.ScaleProcessesRequest{App: "shop", Counts: map[string]int32{"worker": 1}, SkipDeploy: true}, token)); err != nil {
		t.Fatalf("ScaleProcesses: %v", err)
	}
	deploy(t, f, "shop")
	logs, err := f.client.GetLogs(ctx, request(&dokkuexecv1.GetLogsRequest{App: "shop"}, viewer))
	if err != nil {
		t.Fatalf("GetLogs: %v", err)
	}
	lines := logs.Msg.GetLines()
	if len(lines) != 6 || logs.Msg.GetTruncated() {
		t.Fatalf("lines = %v, want 3 for each of 2 containers", lines)
	}
	if l := lines[0]; l.GetProcess() != "web.1" || l.GetMessage() != "Starting process" || l.GetTime() == nil || strings.Contains(l.GetMessage(), "\x1b") {
		t.Errorf("first line = %v, want web.1's parsed first line", l)
	}
	web, err := f.client.GetLogs(ctx, request(&dokkuexecv1.GetLogsRequest{App: "shop", Num: 1, ProcessType: "worker"}, viewer))
	if err != nil {
		t.Fatalf("GetLogs of workers: %v", err)
	}
	if got := web.Msg.GetLines(); len(got) != 1 || got[0].GetProcess() != "worker.1" || got[0].GetMessage() != "Ready to accept connections" {
		t.Errorf("worker lines = %v, want worker.1's last line", got)
	}
}

// TestHandlerFollowLogsStopsOnCancel runs alone, not in parallel, so that
// it can count goroutines.
func TestHandlerFollowLogsStopsOnCancel(t *testing.T) {
	f := newFixture(t)
	token := f.issuer.token(t, sshtest.TenantID, ownerScopes...)
	viewer := f.issuer.token(t, sshtest.TenantID, "apps:read", "logs:read")
	if _, err := f.client.CreateApp(t.Context(), request(&dokkuexecv1.CreateAppRequest{App: "shop"}, token)); err != nil {
		t.Fatalf("CreateApp: %v", err)
	}
	deploy(t, f, "shop")

	// An undeployed app fails at once.
	if _, err := f.client.CreateApp(t.Context(), request(&dokkuexecv1.CreateAppRequest{App: "new"}, token)); err != nil {
		t.Fatalf("CreateApp: %v", err)
	}
	failed, err := f.client.FollowLogs(t.Context(), request(&dokkuexecv1.FollowLogsRequest{App: "new"}, viewer))
	if err != nil {
		t.Fatalf("FollowLogs: %v", err)
	}
	if failed.Receive() {
		t.Errorf("FollowLogs of an undeployed app sent %v", failed.Msg())
	}
	wantCode(t, failed.Err(), connect.CodeFailedPrecondition, "App new has not been deployed")
	_ = failed.Close()

	waitFor(t, "no SSH session", func() bool { return f.host.Server.ActiveSessions() == 0 })
	before := runtime.NumGoroutine()

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	stream, err := f.client.FollowLogs(ctx, request(&dokkuexecv1.FollowLogsRequest{App: "shop", Num: 2}, viewer))
	if err != nil {
		t.Fatalf("FollowLogs: %v", err)
	}
	receive := func() *dokkuexecv1.LogLine {
		t.Helper()
		if !stream.Receive() {
			t.Fatalf("stream ended: %v", stream.Err())
		}
		return stream.Msg().GetLine()
	}
	for _, want := range []string{"Listening on port 5000", "Ready to accept connections"} {
		if line := receive(); line.GetMessage() != want || line.GetProcess() != "web.1" {
			t.Errorf("history line = %v, want web.1 %q", line, want)
		}
	}
	if n := f.host.Emulator.PublishLog("shop", "web.1", "GET /cart 200"); n != 1 {
		t.Fatalf("PublishLog reached %d followers, want 1", n)
	}
	if line := receive(); line.GetMessage() != "GET /cart 200" || line.GetProcess() != "web.1" || line.GetTime() == nil {
		t.Errorf("followed line = %v, want web.1 GET /cart 200", line)
	}
	if n := f.host.Server.ActiveSessions(); n != 1 {
		t.Errorf("ActiveSessions while following = %d, want 1", n)
	}

	cancel()
	for stream.Receive() {
	}
	_ = stream.Close()
	waitFor(t, "the SSH session to close", func() bool { return f.host.Server.ActiveSessions() == 0 })
	waitFor(t, "the emulator to stop following", func() bool { return f.host.Emulator.LogFollowers() == 0 })
	waitFor(t, "goroutines to end", func() bool { return runtime.NumGoroutine() <= before })
}

func waitFor(t *testing.T, what string, check func() bool) {
	t.Helper()
	sshtest.WaitFor(t, 10*time.Second, what, check)
}
