package rpc_test

import (
	"maps"
	"slices"
	"testing"

	"connectrpc.com/connect"

	"dokkumcp.dev/dokkuexec/internal/sshtest"
	dokkuexecv1 "dokkumcp.dev/gen/dokkumcp/dokkuexec/v1"
)

// ownerScopes are the DokkuExec permissions of Identity's owner role.
var ownerScopes = []string{"apps:read", "apps:deploy", "apps:config", "apps:create", "apps:destroy"}

func TestHandlerLifecycleOperations(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	token := f.issuer.token(t, sshtest.TenantID, ownerScopes...)
	for _, name := range []string{"shop", "my.app"} {
		if _, err := f.client.CreateApp(ctx, request(&dokkuexecv1.CreateAppRequest{App: name}, token)); err != nil {
			t.Fatalf("CreateApp %s: %v", name, err)
		}
	}
	if _, err := f.client.SetConfig(ctx, request(&dokkuexecv1.SetConfigRequest{App: "shop", Vars: map[string]string{"A": "1", "TOKEN": "s3cret\n"}, NoRestart: true}, token)); err != nil {
		t.Fatalf("SetConfig: %v", err)
	}

	renamed, err := f.client.RenameApp(ctx, request(&dokkuexecv1.RenameAppRequest{Host: sshtest.HostName, App: "my.app", NewName: "my.app2"}, token))
	if err != nil {
		t.Fatalf("RenameApp: %v", err)
	}
	if renamed.Msg.GetApp() != "my.app2" || len(renamed.Msg.GetWarnings()) != 1 {
		t.Errorf("RenameApp = %v, want my.app2 with one warning", renamed.Msg)
	}

	locked, err := f.client.LockApp(ctx, request(&dokkuexecv1.LockAppRequest{App: "shop"}, token))
	if err != nil {
		t.Fatalf("LockApp: %v", err)
	}
	if locked.Msg.GetApp() != "shop" {
		t.Errorf("LockApp = %v, want app shop", locked.Msg)
	}
	unlocked, err := f.client.UnlockApp(ctx, request(&dokkuexecv1.UnlockAppRequest{App: "shop"}, token))
	if err != nil {
		t.Fatalf("UnlockApp: %v", err)
	}
	if !unlocked.Msg.GetChanged() || len(unlocked.Msg.GetWarnings()) != 2 {
		t.Errorf("UnlockApp = %v, want changed with Dokku's two warnings", unlocked.Msg)
	}
	noop, err := f.client.UnlockApp(ctx, request(&dokkuexecv1.UnlockAppRequest{App: "shop"}, token))
	if err != nil {
		t.Fatalf("UnlockApp of an unlocked app: %v", err)
	}
	if noop.Msg.GetApp() != "shop" || noop.Msg.GetChanged() {
		t.Errorf("UnlockApp of an unlocked app = %v, want shop unchanged", noop.Msg)
	}
	if want := []string{"Unable to remove deploy lock"}; !slices.Equal(noop.Msg.GetWarnings(), want) {
		t.Errorf("warnings = %q, want %q", noop.Msg.GetWarnings(), want)
	}

	redacted, err := f.client.ExportConfig(ctx, request(&dokkuexecv1.ExportConfigRequest{App: "shop"}, token))
	if err != nil {
		t.Fatalf("ExportConfig: %v", err)
	}
	wantRedacted := map[string]string{"A": "", "NO_VHOST": "", "TOKEN": ""}
	if !redacted.Msg.GetRedacted() || !maps.Equal(redacted.Msg.GetVars(), wantRedacted) {
		t.Errorf("ExportConfig = %v, want redacted %v", redacted.Msg, wantRedacted)
	}
	revealed, err := f.client.ExportConfig(ctx, request(&dokkuexecv1.ExportConfigRequest{App: "shop", Reveal: true}, f.issuer.token(t, sshtest.TenantID, "apps:config")))
	if err != nil {
		t.Fatalf("ExportConfig with reveal: %v", err)
	}
	wantRevealed := map[string]string{"A": "1", "NO_VHOST": "1", "TOKEN": "s3cret\n"}
	if revealed.Msg.GetRedacted() || !maps.Equal(revealed.Msg.GetVars(), wantRevealed) {
		t.Errorf("ExportConfig with reveal = %v, want %q", revealed.Msg, wantRevealed)
	}

	unset, err := f.client.UnsetConfig(ctx, request(&dokkuexecv1.UnsetConfigRequest{App: "shop", Keys: []string{"TOKEN", "MISSING"}, NoRestart: true}, token))
	if err != nil {
		t.Fatalf("UnsetConfig: %v", err)
	}
	if !slices.Equal(unset.Msg.GetUnsetKeys(), []string{"TOKEN"}) || !slices.Equal(unset.Msg.GetSkippedKeys(), []string{"MISSING"}) {
		t.Errorf("UnsetConfig = %v, want TOKEN unset and MISSING skipped", unset.Msg)
	}

	destroyed, err := f.client.DestroyApp(ctx, request(&dokkuexecv1.DestroyAppRequest{App: "my.app2", Confirm: "my.app2"}, token))
	if err != nil {
		t.Fatalf("DestroyApp: %v", err)
	}
	if destroyed.Msg.GetApp() != "my.app2" {
		t.Errorf("DestroyApp = %v, want app my.app2", destroyed.Msg)
	}
	list, err := f.client.ListApps(ctx, request(&dokkuexecv1.ListAppsRequest{}, token))
	if err != nil {
		t.Fatalf("ListApps: %v", err)
	}
	if want := []string{"shop"}; !slices.Equal(list.Msg.GetApps(), want) {
		t.Errorf("apps = %q, want %q", list.Msg.GetApps(), want)
	}
}

func TestHandlerLifecycleErrors(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	token := f.issuer.token(t, sshtest.TenantID, ownerScopes...)
	maintainer := f.issuer.token(t, sshtest.TenantID, "apps:read", "apps:deploy", "apps:config", "apps:create")
	if _, err := f.client.CreateApp(ctx, request(&dokkuexecv1.CreateAppRequest{App: "shop"}, token)); err != nil {
		t.Fatalf("CreateApp: %v", err)
	}

	tests := []struct {
		name    string
		call    func() error
		code    connect.Code
		message string
	}{
		{"destroy without confirm", func() error {
			_, err := f.client.DestroyApp(ctx, request(&dokkuexecv1.DestroyAppRequest{App: "shop"}, token))
			return err
		}, connect.CodeInvalidArgument, `invalid confirm "": pass the app's name "shop" as confirm to destroy it`},
		{"destroy with wrong confirm", func() error {
			_, err := f.client.DestroyApp(ctx, request(&dokkuexecv1.DestroyAppRequest{App: "shop", Confirm: "shop "}, token))
			return err
		}, connect.CodeInvalidArgument, `invalid confirm "shop "`},
		{"destroy unknown app", func() error {
			_, err := f.client.DestroyApp(ctx, request(&dokkuexecv1.DestroyAppRequest{App: "nope", Confirm: "nope"}, token))
			return err
		}, connect.CodeNotFound, `app "nope" not found on host "prod"`},
		{"destroy as maintainer", func() error {
			_, err := f.client.DestroyApp(ctx, request(&dokkuexecv1.DestroyAppRequest{App: "shop", Confirm: "shop"}, maintainer))
			return err
		}, connect.CodePermissionDenied, `permission "apps:destroy" is required`},
		{"rename as maintainer", func() error {
			_, err := f.client.RenameApp(ctx, request(&dokkuexecv1.RenameAppRequest{App: "shop", NewName: "shop2"}, maintainer))
			return err
		}, connect.CodePermissionDenied, `permission "apps:destroy" is required`},
		{"rename to invalid name", func() error {
			_, err := f.client.RenameApp(ctx, request(&dokkuexecv1.RenameAppRequest{App: "shop", NewName: "Bad_Name"}, token))
			return err
		}, connect.CodeInvalidArgument, `invalid app name "Bad_Name": use lower-case letters, digits, dots and dashes, starting with a letter or digit`},
		{"rename unknown app", func() error {
			_, err := f.client.RenameApp(ctx, request(&dokkuexecv1.RenameAppRequest{App: "nope", NewName: "nope2"}, token))
			return err
		}, connect.CodeNotFound, `app "nope" not found on host "prod"`},
		{"lock as viewer", func() error {
			_, err := f.client.LockApp(ctx, request(&dokkuexecv1.LockAppRequest{App: "shop"}, f.issuer.token(t, sshtest.TenantID, "apps:read")))
			return err
		}, connect.CodePermissionDenied, `permission "apps:deploy" is required`},
		{"lock unknown app", func() error {
			_, err := f.client.LockApp(ctx, request(&dokkuexecv1.LockAppRequest{App: "nope"}, token))
			return err
		}, connect.CodeNotFound, `app "nope" not found on host "prod"`},
		{"unlock unknown app", func() error {
			_, err := f.client.UnlockApp(ctx, request(&dokkuexecv1.UnlockAppRequest{App: "nope"}, token))
			return err
		}, connect.CodeNotFound, `app "nope" not found on host "prod"`},
		{"unlock invalid app", func() error {
			_, err := f.client.UnlockApp(ctx, request(&dokkuexecv1.UnlockAppRequest{App: "a;id"}, token))
			return err
		}, connect.CodeInvalidArgument, `invalid app name "a;id"`},
		{"unset invalid key", func() error {
			_, err := f.client.UnsetConfig(ctx, request(&dokkuexecv1.UnsetConfigRequest{App: "shop", Keys: []string{"bad-key"}}, token))
			return err
		}, connect.CodeInvalidArgument, `invalid config key "bad-key": use letters, digits and underscores, starting with a letter or underscore`},
		{"unset no keys", func() error {
			_, err := f.client.UnsetConfig(ctx, request(&dokkuexecv1.UnsetConfigRequest{App: "shop"}, token))
			return err
		}, connect.CodeInvalidArgument, "name at least one config key"},
		{"unset unknown app", func() error {
			_, err := f.client.UnsetConfig(ctx, request(&dokkuexecv1.UnsetConfigRequest{App: "nope", Keys: []string{"A"}}, token))
			return err
		}, connect.CodeNotFound, `app "nope" not found on host "prod"`},
		{"export as viewer", func() error {
			_, err := f.client.ExportConfig(ctx, request(&dokkuexecv1.ExportConfigRequest{App: "shop"}, f.issuer.token(t, sshtest.TenantID, "apps:read")))
			return err
		}, connect.CodePermissionDenied, `permission "apps:config" is required`},
		{"export unknown app", func() error {
			_, err := f.client.ExportConfig(ctx, request(&dokkuexecv1.ExportConfigRequest{App: "nope", Reveal: true}, token))
			return err
		}, connect.CodeNotFound, `app "nope" not found on host "prod"`},
		{"export without tenant", func() error {
			_, err := f.client.ExportConfig(ctx, request(&dokkuexecv1.ExportConfigRequest{App: "shop", Reveal: true}, f.issuer.token(t, "", ownerScopes...)))
			return err
		}, connect.CodePermissionDenied, "names no tenant"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantCode(t, tt.call(), tt.code, tt.message)
		})
	}

	list, err := f.client.ListApps(ctx, request(&dokkuexecv1.ListAppsRequest{}, token))
	if err != nil {
		t.Fatalf("ListApps: %v", err)
	}
	if want := []string{"shop"}; !slices.Equal(list.Msg.GetApps(), want) {
		t.Errorf("apps after rejected calls = %q, want %q", list.Msg.GetApps(), want)
	}
}
