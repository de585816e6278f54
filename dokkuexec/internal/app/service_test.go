package app_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	sshadapter "dokkumcp.dev/dokkuexec/internal/adapters/ssh"
	"dokkumcp.dev/dokkuexec/internal/app"
	"dokkumcp.dev/dokkuexec/internal/sshtest"
	"dokkumcp.dev/dokkuexec/internal/tenancytest"
	"dokkumcp.dev/testhost/emulator"
)

// hostResolver serves one host to its tenant.
type hostResolver struct {
	host app.Host
	// removed, once set, makes the host unknown, as after Tenancy's
	// RemoveHost.
	removed atomic.Bool
}

func (r *hostResolver) GetHost(_ context.Context, tenantID, host string) (app.Host, error) {
	if r.removed.Load() || tenantID != r.host.TenantID || (host != "" && host != r.host.Name && host != r.host.ID) {
		return app.Host{}, app.Errorf(app.KindNotFound, "host %q not found for tenant %s; register it with RegisterHost", host, tenantID)
	}
	return r.host, nil
}

type fixture struct {
	host     *sshtest.Host
	resolver *hostResolver
	tenancy  *tenancytest.Tenancy
	service  *app.Service
}

func newFixture(t *testing.T, opts emulator.Options) *fixture {
	t.Helper()
	return newWrappedFixture(t, opts, nil)
}

// newWrappedFixture is newFixture with the SSH executor wrapped by wrap, if
// it is not nil.
func newWrappedFixture(t *testing.T, opts emulator.Options, wrap func(app.Executor) app.Executor) *fixture {
	t.Helper()
	host := sshtest.Start(t, opts)
	executor := sshadapter.New(sshadapter.Options{
		DialTimeout:    5 * time.Second,
		CommandTimeout: 10 * time.Second,
		OutputLimit:    1 << 20,
		Logger:         slog.New(slog.DiscardHandler),
	})
	t.Cleanup(func() { _ = executor.Close() })
	resolver := &hostResolver{host: host.Host}
	var runner app.Executor = executor
	if wrap != nil {
		runner = wrap(executor)
	}
	tenancy := tenancytest.New()
	service := app.NewService(app.Options{
		Tenancy:     tenancy,
		Audit:       tenancy,
		Hosts:       resolver,
		Credentials: host.CA,
		Executor:    runner,
		Logger:      slog.New(slog.DiscardHandler),
	})
	return &fixture{host: host, resolver: resolver, tenancy: tenancy, service: service}
}

func wantKind(t *testing.T, err error, kind app.Kind, message string) {
	t.Helper()
	if got := app.KindOf(err); got != kind {
		t.Fatalf("kind = %v (error %v), want %v", got, err, kind)
	}
	if !strings.Contains(err.Error(), message) {
		t.Errorf("message = %q, want it to contain %q", err, message)
	}
}

func TestServiceAppLifecycle(t *testing.T) {
	t.Parallel()
	f := newFixture(t, emulator.Options{})
	ctx := t.Context()

	apps, err := f.service.ListApps(ctx, sshtest.TenantID, "")
	if err != nil {
		t.Fatalf("ListApps on an empty host: %v", err)
	}
	if len(apps) != 0 {
		t.Errorf("apps = %q, want none", apps)
	}

	created, err := f.service.CreateApp(ctx, sshtest.TenantID, sshtest.HostName, "shop")
	if err != nil {
		t.Fatalf("CreateApp: %v", err)
	}
	if created.App != "shop" {
		t.Errorf("created app = %q, want shop", created.App)
	}
	if want := []string{"No web listeners specified for shop"}; !slices.Equal(created.Warnings, want) {
		t.Errorf("warnings = %q, want %q", created.Warnings, want)
	}

	_, err = f.service.CreateApp(ctx, sshtest.TenantID, "", "shop")
	wantKind(t, err, app.KindAlreadyExists, `app "shop" already exists on host "prod"`)

	if _, err := f.service.CreateApp(ctx, sshtest.TenantID, "", "my.app"); err != nil {
		t.Fatalf("CreateApp my.app: %v", err)
	}
	apps, err = f.service.ListApps(ctx, sshtest.TenantID, "")
	if err != nil {
		t.Fatalf("ListApps: %v", err)
	}
	if want := []string{"my.app", "shop"}; !slices.Equal(apps, want) {
		t.Errorf("apps = %q, want %q", apps, want)
	}

	report, err := f.service.GetAppReport(ctx, sshtest.TenantID, "", "shop")
	if err != nil {
		t.Fatalf("GetAppReport: %v", err)
	}
	if report.App != "shop" || report.Dir != "/home/dokku/shop" || report.Locked {
		t.Errorf("report = %+v, want app shop in /home/dokku/shop, unlocked", report)
	}
	if report.CreateTime.IsZero() {
		t.Error("report has no create time")
	}
	if _, ok := report.Fields["app-locked"]; ok {
		t.Errorf("fields carry the prefixed key app-locked: %v", report.Fields)
	}

	_, err = f.service.GetAppReport(ctx, sshtest.TenantID, "", "nope")
	wantKind(t, err, app.KindNotFound, `app "nope" not found on host "prod"; create it with apps_create`)
}

func TestServiceConfigRoundTrip(t *testing.T) {
	t.Parallel()
	f := newFixture(t, emulator.Options{})
	ctx := t.Context()
	if _, err := f.service.CreateApp(ctx, sshtest.TenantID, "", "shop"); err != nil {
		t.Fatalf("CreateApp: %v", err)
	}

	values := map[string]string{
		"APOSTROPHE": "it's",
		"NEWLINE":    "line1\nline2",
		"TRAILING":   "x\n",
		"DOLLAR":     "$VAR $(id) `id`",
		"BACKSLASH":  `C:\path\to "file" \n`,
		"DASH_N":     "-n",
		"DASH":       "--help",
		"UNICODE":    "ünïcödé ✓ 日本",
		"LARGE":      strings.Repeat("0123456789abcdef", 4096),
		"EMPTY":      "",
		"EQUALS":     "a=b==c",
		"SPACES":     "  two  spaces  ",
	}
	keys, err := f.service.SetConfig(ctx, sshtest.TenantID, "", "shop", values, true)
	if err != nil {
		t.Fatalf("SetConfig: %v", err)
	}
	wantKeys := make([]string, 0, len(values))
	for key := range values {
		wantKeys = append(wantKeys, key)
	}
	slices.Sort(wantKeys)
	if !slices.Equal(keys, wantKeys) {
		t.Errorf("keys = %q, want %q", keys, wantKeys)
	}

	for key, want := range values {
		t.Run(key, func(t *testing.T) {
			got, err := f.service.GetConfig(ctx, sshtest.TenantID, "", "shop", key)
			if err != nil {
				t.Fatalf("GetConfig: %v", err)
			}
			if got != want {
				t.Errorf("value = %q, want %q", truncate(got), truncate(want))
			}
		})
	}
}

func truncate(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}

func TestServiceConfigErrors(t *testing.T) {
	t.Parallel()
	f := newFixture(t, emulator.Options{})
	ctx := t.Context()
	if _, err := f.service.CreateApp(ctx, sshtest.TenantID, "", "shop"); err != nil {
		t.Fatalf("CreateApp: %v", err)
	}

	_, err := f.service.GetConfig(ctx, sshtest.TenantID, "", "shop", "MISSING")
	wantKind(t, err, app.KindNotFound, `config var "MISSING" is not set on app "shop"`)

	_, err = f.service.GetConfig(ctx, sshtest.TenantID, "", "nope", "A")
	wantKind(t, err, app.KindNotFound, `app "nope" not found on host "prod"`)

	_, err = f.service.SetConfig(ctx, sshtest.TenantID, "", "nope", map[string]string{"A": "secret-value"}, true)
	wantKind(t, err, app.KindNotFound, `app "nope" not found on host "prod"`)
	if strings.Contains(err.Error(), "secret-value") {
		t.Errorf("message %q echoes the config value", err)
	}
}

func TestServiceValidation(t *testing.T) {
	t.Parallel()
	f := newFixture(t, emulator.Options{})
	ctx := t.Context()
	tests := []struct {
		name string
		call func() error
		want string
	}{
		{"create bad name", func() error {
			_, err := f.service.CreateApp(ctx, sshtest.TenantID, "", "Bad_Name")
			return err
		}, `invalid app name "Bad_Name": use lower-case letters, digits, dots and dashes, starting with a letter or digit`},
		{"create flag-like name", func() error {
			_, err := f.service.CreateApp(ctx, sshtest.TenantID, "", "-rf")
			return err
		}, `invalid app name "-rf"`},
		{"report injection", func() error {
			_, err := f.service.GetAppReport(ctx, sshtest.TenantID, "", "shop --help")
			return err
		}, `invalid app name "shop --help"`},
		{"set bad key", func() error {
			_, err := f.service.SetConfig(ctx, sshtest.TenantID, "", "shop", map[string]string{"bad-key": "1"}, false)
			return err
		}, `invalid config key "bad-key"`},
		{"set nothing", func() error {
			_, err := f.service.SetConfig(ctx, sshtest.TenantID, "", "shop", nil, false)
			return err
		}, "set at least one config var"},
		{"get bad key", func() error {
			_, err := f.service.GetConfig(ctx, sshtest.TenantID, "", "shop", "--version")
			return err
		}, `invalid config key "--version"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantKind(t, tt.call(), app.KindInvalidArgument, tt.want)
		})
	}
	if got := f.host.CA.Issued(); got != 0 {
		t.Errorf("credentials issued = %d, want 0: invalid requests must not reach the host", got)
	}
}

func TestServiceTextFormatsOnOlderDokku(t *testing.T) {
	t.Parallel()
	f := newFixture(t, emulator.Options{Version: "0.37.5"})
	ctx := t.Context()

	apps, err := f.service.ListApps(ctx, sshtest.TenantID, "")
	if err != nil {
		t.Fatalf("ListApps on an empty host: %v", err)
	}
	if len(apps) != 0 {
		t.Errorf("apps = %q, want none", apps)
	}
	for _, name := range []string{"shop", "api"} {
		if _, err := f.service.CreateApp(ctx, sshtest.TenantID, "", name); err != nil {
			t.Fatalf("CreateApp %s: %v", name, err)
		}
	}
	apps, err = f.service.ListApps(ctx, sshtest.TenantID, "")
	if err != nil {
		t.Fatalf("ListApps: %v", err)
	}
	if want := []string{"api", "shop"}; !slices.Equal(apps, want) {
		t.Errorf("apps = %q, want %q", apps, want)
	}
	report, err := f.service.GetAppReport(ctx, sshtest.TenantID, "", "shop")
	if err != nil {
		t.Fatalf("GetAppReport: %v", err)
	}
	if report.Dir != "/home/dokku/shop" {
		t.Errorf("report dir = %q, want /home/dokku/shop", report.Dir)
	}
}

func TestServiceHostKeyChanged(t *testing.T) {
	t.Parallel()
	f := newFixture(t, emulator.Options{})
	f.resolver.host.HostKey = string(ssh.MarshalAuthorizedKey(sshtest.NewSigner(t).PublicKey()))

	_, err := f.service.ListApps(t.Context(), sshtest.TenantID, "")
	wantKind(t, err, app.KindFailedPrecondition, "re-pin")
	var changed *app.HostKeyChangedError
	if !errors.As(err, &changed) {
		t.Errorf("error %v does not wrap *app.HostKeyChangedError", err)
	}
}

func TestServiceRequiresTenant(t *testing.T) {
	t.Parallel()
	f := newFixture(t, emulator.Options{})

	_, err := f.service.ListApps(t.Context(), "", "")
	wantKind(t, err, app.KindPermissionDenied, "names no tenant")
}

func TestServiceUnknownHost(t *testing.T) {
	t.Parallel()
	f := newFixture(t, emulator.Options{})

	_, err := f.service.ListApps(t.Context(), sshtest.TenantID, "staging")
	wantKind(t, err, app.KindNotFound, `host "staging" not found`)
}

func TestServiceSecretsDownWithoutCredential(t *testing.T) {
	t.Parallel()
	f := newFixture(t, emulator.Options{})
	f.host.CA.Fail.Store(true)

	_, err := f.service.ListApps(t.Context(), sshtest.TenantID, "")
	wantKind(t, err, app.KindUnavailable, "SSH credential service (Secrets)")
}
