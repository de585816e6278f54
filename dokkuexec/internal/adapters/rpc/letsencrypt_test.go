package rpc_test

import (
	"testing"
	"time"

	"connectrpc.com/connect"

	"dokkumcp.dev/dokkuexec/internal/sshtest"
	dokkuexecv1 "dokkumcp.dev/gen/dokkumcp/dokkuexec/v1"
	"dokkumcp.dev/testhost/emulator"
)

func TestHandlerLetsencrypt(t *testing.T) {
	t.Parallel()
	f := newFixtureWith(t, emulator.Options{Plugins: []string{"letsencrypt"}})
	ctx := t.Context()
	token := f.issuer.token(t, sshtest.TenantID, "apps:read", "apps:create", "domains:write")
	if _, err := f.client.CreateApp(ctx, request(&dokkuexecv1.CreateAppRequest{App: "shop"}, token)); err != nil {
		t.Fatalf("CreateApp: %v", err)
	}

	report, err := f.client.GetLetsencryptReport(ctx, request(&dokkuexecv1.GetLetsencryptReportRequest{App: "shop"}, token))
	if err != nil {
		t.Fatalf("GetLetsencryptReport: %v", err)
	}
	r := report.Msg.GetReport()
	if r.GetActive() || r.GetExpireTime() != nil || r.GetServer() != "https://acme-v02.api.letsencrypt.org/directory" || r.GetFields()["computed-graceperiod"] != "2592000" {
		t.Errorf("report of a new app = %v, want inactive with the default server", r)
	}

	_, err = f.client.EnableLetsencrypt(ctx, request(&dokkuexecv1.EnableLetsencryptRequest{App: "shop"}, token))
	wantCode(t, err, connect.CodeFailedPrecondition, `app "shop" has no domains`)
	if _, err := f.client.AddDomains(ctx, request(&dokkuexecv1.AddDomainsRequest{App: "shop", Domains: []string{"shop.example.com"}}, token)); err != nil {
		t.Fatalf("AddDomains: %v", err)
	}
	_, err = f.client.EnableLetsencrypt(ctx, request(&dokkuexecv1.EnableLetsencryptRequest{App: "shop"}, token))
	wantCode(t, err, connect.CodeFailedPrecondition, `app "shop" has no e-mail address for Let's Encrypt; call again with email set`)
	_, err = f.client.EnableLetsencrypt(ctx, request(&dokkuexecv1.EnableLetsencryptRequest{App: "shop", Email: "ops@example.com;id"}, token))
	wantCode(t, err, connect.CodeInvalidArgument, `invalid e-mail address "ops@example.com;id"`)

	enabled, err := f.client.EnableLetsencrypt(ctx, request(&dokkuexecv1.EnableLetsencryptRequest{App: "shop", Email: "ops@example.com"}, token))
	if err != nil {
		t.Fatalf("EnableLetsencrypt: %v", err)
	}
	r = enabled.Msg.GetReport()
	if !enabled.Msg.GetChanged() || !r.GetActive() || r.GetEmail() != "ops@example.com" {
		t.Errorf("EnableLetsencrypt = %v, want changed and active for ops@example.com", enabled.Msg)
	}
	if expires := r.GetExpireTime().AsTime(); !expires.After(time.Now().Add(80 * 24 * time.Hour)) {
		t.Errorf("expire time = %v, want about 90 days ahead", expires)
	}
	again, err := f.client.EnableLetsencrypt(ctx, request(&dokkuexecv1.EnableLetsencryptRequest{App: "shop"}, token))
	if err != nil || again.Msg.GetChanged() {
		t.Errorf("EnableLetsencrypt with a valid certificate = %v, %v; want unchanged", again, err)
	}

	if _, err := f.client.DisableLetsencrypt(ctx, request(&dokkuexecv1.DisableLetsencryptRequest{App: "shop"}, token)); err != nil {
		t.Fatalf("DisableLetsencrypt: %v", err)
	}
	report, err = f.client.GetLetsencryptReport(ctx, request(&dokkuexecv1.GetLetsencryptReportRequest{App: "shop"}, token))
	if err != nil || report.Msg.GetReport().GetActive() {
		t.Errorf("report after DisableLetsencrypt = %v, %v; want inactive", report, err)
	}
	_, err = f.client.DisableLetsencrypt(ctx, request(&dokkuexecv1.DisableLetsencryptRequest{App: "nope"}, token))
	wantCode(t, err, connect.CodeNotFound, `app "nope" not found on host "prod"`)
}

func TestHandlerLetsencryptWithoutPlugin(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	token := f.issuer.token(t, sshtest.TenantID, "apps:read", "domains:write")

	_, err := f.client.GetLetsencryptReport(t.Context(), request(&dokkuexecv1.GetLetsencryptReportRequest{App: "shop"}, token))
	wantCode(t, err, connect.CodeFailedPrecondition, `the Dokku plugin "letsencrypt" is not installed on host "prod"`)
	_, err = f.client.EnableLetsencrypt(t.Context(), request(&dokkuexecv1.EnableLetsencryptRequest{App: "shop"}, token))
	wantCode(t, err, connect.CodeFailedPrecondition, "sudo dokku plugin:install https://github.com/dokku/dokku-letsencrypt.git")
}
