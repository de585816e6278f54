package rpc_test

import (
	"maps"
	"slices"
	"testing"

	"dokkumcp.dev/dokkuexec/internal/sshtest"
	dokkuexecv1 "dokkumcp.dev/gen/dokkumcp/dokkuexec/v1"
	"dokkumcp.dev/testhost/emulator"
)

// TestHandlerAcrossDokkuVersions runs the main RPCs against test hosts that
// present themselves as the last release of each supported Dokku minor
// version. DokkuExec parses the text form of apps:list before 0.38.21 and of
// plugin:list before 0.38.22. Before 0.38.8 the report JSON has only
// prefixed keys. The results must not differ.
func TestHandlerAcrossDokkuVersions(t *testing.T) {
	t.Parallel()
	for _, version := range []string{"0.35.20", "0.36.11", "0.37.10", "0.38.7", "0.38.27", "1:0.38.27"} {
		t.Run(version, func(t *testing.T) {
			t.Parallel()
			f := newFixtureWith(t, emulator.Options{Version: version, Plugins: []string{"postgres", "redis", "letsencrypt"}})
			ctx := t.Context()
			token := f.issuer.token(t, sshtest.TenantID, append(slices.Clone(ownerScopes), "services:read", "services:write", "domains:write")...)

			info, err := f.client.GetHostInfo(ctx, request(&dokkuexecv1.GetHostInfoRequest{}, token))
			if err != nil {
				t.Fatalf("GetHostInfo: %v", err)
			}
			if info.Msg.GetDokkuVersion() != version {
				t.Errorf("version = %q, want %q", info.Msg.GetDokkuVersion(), version)
			}
			var plugins []string
			for _, p := range info.Msg.GetPlugins() {
				plugins = append(plugins, p.GetName())
			}
			for _, want := range []string{"apps", "letsencrypt", "postgres", "redis"} {
				if !slices.Contains(plugins, want) {
					t.Errorf("plugins %q lack %s", plugins, want)
				}
			}

			for _, name := range []string{"shop", "blog"} {
				if _, err := f.client.CreateApp(ctx, request(&dokkuexecv1.CreateAppRequest{App: name}, token)); err != nil {
					t.Fatalf("CreateApp %s: %v", name, err)
				}
			}
			apps, err := f.client.ListApps(ctx, request(&dokkuexecv1.ListAppsRequest{}, token))
			if err != nil || !slices.Equal(apps.Msg.GetApps(), []string{"blog", "shop"}) {
				t.Errorf("ListApps = %v, %v; want blog and shop", apps, err)
			}

			report, err := f.client.GetAppReport(ctx, request(&dokkuexecv1.GetAppReportRequest{App: "shop"}, token))
			if err != nil {
				t.Fatalf("GetAppReport: %v", err)
			}
			if r := report.Msg.GetReport(); r.GetDir() != "/home/dokku/shop" || r.GetLocked() || r.GetCreateTime() == nil {
				t.Errorf("GetAppReport = %v, want dir /home/dokku/shop, unlocked, with a creation time", r)
			}

			processes, err := f.client.GetProcessReport(ctx, request(&dokkuexecv1.GetProcessReportRequest{App: "shop"}, token))
			if err != nil {
				t.Fatalf("GetProcessReport: %v", err)
			}
			if r := processes.Msg.GetReport(); r.GetDeployed() || r.GetRunning() != dokkuexecv1.RunningState_RUNNING_STATE_STOPPED {
				t.Errorf("GetProcessReport = %v, want undeployed and stopped", r)
			}

			added, err := f.client.AddDomains(ctx, request(&dokkuexecv1.AddDomainsRequest{App: "shop", Domains: []string{"shop.example.com"}}, token))
			if err != nil || !slices.Equal(added.Msg.GetDomains(), []string{"shop.example.com"}) {
				t.Errorf("AddDomains = %v, %v; want shop.example.com", added, err)
			}

			if _, err := f.client.SetConfig(ctx, request(&dokkuexecv1.SetConfigRequest{App: "shop", Vars: map[string]string{"A": "it's 1"}, NoRestart: true}, token)); err != nil {
				t.Fatalf("SetConfig: %v", err)
			}
			export, err := f.client.ExportConfig(ctx, request(&dokkuexecv1.ExportConfigRequest{App: "shop", Reveal: true}, token))
			if want := map[string]string{"A": "it's 1", "NO_VHOST": "0"}; err != nil || !maps.Equal(export.Msg.GetVars(), want) {
				t.Errorf("ExportConfig = %v, %v; want %v", export, err, want)
			}

			scale, err := f.client.ScaleProcesses(ctx, request(&dokkuexecv1.ScaleProcessesRequest{App: "shop", Counts: map[string]int32{"web": 2}, SkipDeploy: true}, token))
			if err != nil || scaleOf(scale.Msg.GetScale())["web"] != 2 {
				t.Errorf("ScaleProcesses = %v, %v; want web=2", scale, err)
			}

			if _, err := f.client.CreateService(ctx, request(&dokkuexecv1.CreateServiceRequest{Kind: postgresKind, Name: "db"}, token)); err != nil {
				t.Fatalf("CreateService: %v", err)
			}
			link, err := f.client.LinkService(ctx, request(&dokkuexecv1.LinkServiceRequest{Kind: postgresKind, Name: "db", App: "shop", NoRestart: true}, token))
			if err != nil || link.Msg.GetConfigKey() != "DATABASE_URL" {
				t.Errorf("LinkService = %v, %v; want DATABASE_URL", link, err)
			}

			tls, err := f.client.EnableLetsencrypt(ctx, request(&dokkuexecv1.EnableLetsencryptRequest{App: "shop", Email: "ops@example.com"}, token))
			if err != nil || !tls.Msg.GetReport().GetActive() {
				t.Errorf("EnableLetsencrypt = %v, %v; want active", tls, err)
			}
		})
	}
}
