package rpc_test

import (
	"testing"

	"connectrpc.com/connect"

	"dokkumcp.dev/dokkuexec/internal/sshtest"
	dokkuexecv1 "dokkumcp.dev/gen/dokkumcp/dokkuexec/v1"
)

func TestHandlerGetHostInfo(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	viewer := f.issuer.token(t, sshtest.TenantID, "apps:read")

	info, err := f.client.GetHostInfo(ctx, request(&dokkuexecv1.GetHostInfoRequest{Host: sshtest.HostName}, viewer))
	if err != nil {
		t.Fatalf("GetHostInfo: %v", err)
	}
	if info.Msg.GetDokkuVersion() != "0.38.27" || info.Msg.GetFetchTime() == nil {
		t.Errorf("GetHostInfo = version %q, fetched %v", info.Msg.GetDokkuVersion(), info.Msg.GetFetchTime())
	}
	var builds *dokkuexecv1.Plugin
	for _, p := range info.Msg.GetPlugins() {
		if p.GetName() == "builds" {
			builds = p
		}
	}
	if builds == nil || builds.GetVersion() != "0.34.0" || !builds.GetEnabled() || !builds.GetCore() {
		t.Errorf("builds plugin = %v, want core 0.34.0 enabled", builds)
	}
	cached, err := f.client.GetHostInfo(ctx, request(&dokkuexecv1.GetHostInfoRequest{}, viewer))
	if err != nil || !cached.Msg.GetFetchTime().AsTime().Equal(info.Msg.GetFetchTime().AsTime()) {
		t.Errorf("second GetHostInfo = %v, %v; want the cached answer", cached, err)
	}

	_, err = f.client.GetHostInfo(ctx, request(&dokkuexecv1.GetHostInfoRequest{Host: "staging"}, viewer))
	wantCode(t, err, connect.CodeNotFound, `host "staging" not found`)
	_, err = f.client.GetHostInfo(ctx, request(&dokkuexecv1.GetHostInfoRequest{}, f.issuer.token(t, sshtest.TenantID, "logs:read")))
	wantCode(t, err, connect.CodePermissionDenied, `permission "apps:read" is required`)
}
