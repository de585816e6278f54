package app_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"

	sshadapter "dokkumcp.dev/dokkuexec/internal/adapters/ssh"
	"dokkumcp.dev/dokkuexec/internal/app"
	"dokkumcp.dev/dokkuexec/internal/sshtest"
	"dokkumcp.dev/dokkuexec/internal/tenancytest"
	"dokkumcp.dev/platform/auth"
	"dokkumcp.dev/testhost/emulator"
)

// fakeAuditLog is an audit ledger that is down while failing is set.
type fakeAuditLog struct {
	app.AuditLog
	mu      sync.Mutex
	failing bool
}

func (f *fakeAuditLog) setFailing(failing bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failing = failing
}

func (f *fakeAuditLog) AppendAuditEvent(ctx context.Context, event app.AuditEvent) error {
	f.mu.Lock()
	failing := f.failing
	f.mu.Unlock()
	if failing {
		return app.Errorf(app.KindUnavailable, "the tenancy service is unavailable; retry later")
	}
	return f.AuditLog.AppendAuditEvent(ctx, event)
}

type policyFixture struct {
	host    *sshtest.Host
	tenancy *tenancytest.Tenancy
	audit   *fakeAuditLog
	service *app.Service
	// advance moves the service's clock.
	advance func(time.Duration)
}

func newPolicyFixture(t *testing.T) *policyFixture {
	t.Helper()
	host := sshtest.Start(t, emulator.Options{})
	executor := sshadapter.New(sshadapter.Options{DialTimeout: 5 * time.Second, CommandTimeout: 10 * time.Second, OutputLimit: 1 << 20, Logger: slog.New(slog.DiscardHandler)})
	t.Cleanup(func() { _ = executor.Close() })
	tenancy := tenancytest.New()
	audit := &fakeAuditLog{AuditLog: tenancy}
	var mu sync.Mutex
	now := time.Now()
	service := app.NewService(app.Options{
		Hosts:       &hostResolver{host: host.Host},
		Credentials: host.CA,
		Executor:    executor,
		Tenancy:     tenancy,
		Audit:       audit,
		Logger:      slog.New(slog.DiscardHandler),
		Now: func() time.Time {
			mu.Lock()
			defer mu.Unlock()
			return now
		},
	})
	advance := func(d time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(d)
	}
	return &policyFixture{host: host, tenancy: tenancy, audit: audit, service: service, advance: advance}
}

// callerContext is the context of a request by a tenant's user through an
// MCP client, inside a trace.
func callerContext(t *testing.T) context.Context {
	ctx := auth.WithPrincipal(t.Context(), &auth.Principal{Subject: "u-alice", ClientID: "c-agent", TenantID: sshtest.TenantID, Actor: "mcpedge"})
	traceID, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	spanID, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	return trace.ContextWithSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{TraceID: traceID, SpanID: spanID}))
}

func TestServiceAppQuota(t *testing.T) {
	t.Parallel()
	f := newPolicyFixture(t)
	ctx := t.Context()
	f.tenancy.SetMaxApps(sshtest.TenantID, 2)

	for _, name := range []string{"shop", "blog"} {
		if _, err := f.service.CreateApp(ctx, sshtest.TenantID, "", name); err != nil {
			t.Fatalf("CreateApp %s: %v", name, err)
		}
	}
	_, err := f.service.CreateApp(ctx, sshtest.TenantID, "", "wiki")
	wantKind(t, err, app.KindResourceExhausted, "may have at most 2 apps")
	if apps, _ := f.service.ListApps(ctx, sshtest.TenantID, ""); slices.Contains(apps, "wiki") {
		t.Errorf("apps = %q: wiki was created beyond the limit", apps)
	}

	// At the limit a rename is refused too, because the new name takes its
	// slot before the old one is freed.
	_, err = f.service.RenameApp(ctx, sshtest.TenantID, "", "blog", "news")
	wantKind(t, err, app.KindResourceExhausted, "may have at most 2 apps")

	if _, err := f.service.DestroyApp(ctx, sshtest.TenantID, "", "blog", "blog"); err != nil {
		t.Fatalf("DestroyApp: %v", err)
	}
	if want := []string{sshtest.HostID + "/shop"}; !slices.Equal(f.tenancy.Apps(sshtest.TenantID), want) {
		t.Errorf("recorded apps after destroy = %q, want %q", f.tenancy.Apps(sshtest.TenantID), want)
	}
	if _, err := f.service.RenameApp(ctx, sshtest.TenantID, "", "shop", "store"); err != nil {
		t.Fatalf("RenameApp: %v", err)
	}
	if want := []string{sshtest.HostID + "/store"}; !slices.Equal(f.tenancy.Apps(sshtest.TenantID), want) {
		t.Errorf("recorded apps after rename = %q, want %q", f.tenancy.Apps(sshtest.TenantID), want)
	}

	// An app the host has but Tenancy never recorded, as one created before
	// quotas: creating it fails on the host and releases the reservation.
	if code := f.host.Emulator.Run(ctx, emulator.Invocation{OriginalCommand: "apps:create legacy"}); code != 0 {
		t.Fatalf("apps:create legacy: exit status %d", code)
	}
	_, err = f.service.CreateApp(ctx, sshtest.TenantID, "", "legacy")
	wantKind(t, err, app.KindAlreadyExists, `app "legacy" already exists on host "prod"`)
	if n := f.tenancy.Reservations(); n != 0 {
		t.Errorf("pending reservations = %d after a failed create, want 0", n)
	}
	if want := []string{sshtest.HostID + "/store"}; !slices.Equal(f.tenancy.Apps(sshtest.TenantID), want) {
		t.Errorf("recorded apps = %q, want %q", f.tenancy.Apps(sshtest.TenantID), want)
	}
}

func TestServiceReadOnlyPlan(t *testing.T) {
	t.Parallel()
	f := newPolicyFixture(t)
	ctx := callerContext(t)
	if _, err := f.service.CreateApp(ctx, sshtest.TenantID, "", "shop"); err != nil {
		t.Fatalf("CreateApp: %v", err)
	}

	f.tenancy.SetLimits(sshtest.TenantID, app.TenantLimits{Plan: "free", Status: "active", ReadOnly: true})
	// The cached limits apply until they are DefaultLimitsTTL old.
	if _, err := f.service.LockApp(ctx, sshtest.TenantID, "", "shop"); err != nil {
		t.Fatalf("LockApp within the cache window: %v", err)
	}
	f.advance(app.DefaultLimitsTTL)

	const denied = "tenant " + sshtest.TenantID + " is on the free plan, which is read-only; upgrade the plan to change apps"
	writes := map[string]func() error{
		"CreateApp": func() error { _, err := f.service.CreateApp(ctx, sshtest.TenantID, "", "blog"); return err },
		"SetConfig": func() error {
			_, err := f.service.SetConfig(ctx, sshtest.TenantID, "", "shop", map[string]string{"K": "v"}, true)
			return err
		},
		"DestroyApp": func() error { _, err := f.service.DestroyApp(ctx, sshtest.TenantID, "", "shop", "shop"); return err },
		"ScaleProcesses": func() error {
			_, err := f.service.ScaleProcesses(ctx, sshtest.TenantID, "", "shop", map[string]int32{"web": 2}, true)
			return err
		},
		"RunCommand": func() error {
			_, err := f.service.RunCommand(ctx, sshtest.TenantID, "", "shop", []string{"true"})
			return err
		},
		"AddDomains": func() error {
			_, err := f.service.AddDomains(ctx, sshtest.TenantID, "", "shop", []string{"a.example"})
			return err
		},
		"UnlockApp":   func() error { _, err := f.service.UnlockApp(ctx, sshtest.TenantID, "", "shop"); return err },
		"StopProcess": func() error { _, err := f.service.StopProcesses(ctx, sshtest.TenantID, "", "shop"); return err },
	}
	for name, write := range writes {
		err := write()
		if app.KindOf(err) != app.KindPermissionDenied || err.Error() != denied {
			t.Errorf("%s on a read-only plan = %v (kind %v), want PermissionDenied %q", name, err, app.KindOf(err), denied)
		}
	}

	if apps, err := f.service.ListApps(ctx, sshtest.TenantID, ""); err != nil || !slices.Equal(apps, []string{"shop"}) {
		t.Errorf("ListApps on a read-only plan = %q, %v; want [shop]", apps, err)
	}
	if _, err := f.service.ScaleProcesses(ctx, sshtest.TenantID, "", "shop", nil, false); err != nil {
		t.Errorf("ScaleProcesses without counts, a read, on a read-only plan: %v", err)
	}

	events := f.tenancy.Events()
	var deniedEvents int
	for _, e := range events {
		if e.Result == "permission_denied" {
			deniedEvents++
		}
	}
	if deniedEvents != len(writes) {
		t.Errorf("%d permission_denied audit events, want %d (events %+v)", deniedEvents, len(writes), events)
	}
}

func TestServiceSuspendedTenant(t *testing.T) {
	t.Parallel()
	f := newPolicyFixture(t)
	ctx := t.Context()
	f.tenancy.SetLimits(sshtest.TenantID, app.TenantLimits{Plan: "pro", Status: "suspended"})

	const message = "tenant " + sshtest.TenantID + " is suspended"
	_, err := f.service.ListApps(ctx, sshtest.TenantID, "")
	wantKind(t, err, app.KindFailedPrecondition, message)
	_, err = f.service.GetConfig(ctx, sshtest.TenantID, "", "shop", "K")
	wantKind(t, err, app.KindFailedPrecondition, message)
	_, err = f.service.CreateApp(ctx, sshtest.TenantID, "", "shop")
	wantKind(t, err, app.KindFailedPrecondition, message)

	events := f.tenancy.Events()
	if len(events) != 1 || events[0].Operation != "dokkuexec.CreateApp" || events[0].Result != "failed_precondition" {
		t.Errorf("audit events = %+v, want only the refused CreateApp (reads are not audited)", events)
	}
}

func TestServiceAuditEvents(t *testing.T) {
	t.Parallel()
	f := newPolicyFixture(t)
	ctx := callerContext(t)
	const secret = "s3cr3t-value-do-not-store"

	if _, err := f.service.CreateApp(ctx, sshtest.TenantID, "", "shop"); err != nil {
		t.Fatalf("CreateApp: %v", err)
	}
	if _, err := f.service.SetConfig(ctx, sshtest.TenantID, "prod", "shop", map[string]string{"DATABASE_URL": secret, "API_KEY": secret}, true); err != nil {
		t.Fatalf("SetConfig: %v", err)
	}
	_, err := f.service.SetConfig(ctx, sshtest.TenantID, "prod", "missing", map[string]string{"API_KEY": secret}, true)
	wantKind(t, err, app.KindNotFound, `app "missing" not found`)
	if _, err := f.service.GetConfig(ctx, sshtest.TenantID, "", "shop", "API_KEY"); err != nil {
		t.Fatalf("GetConfig: %v", err)
	}

	events := f.tenancy.Events()
	type summary struct{ operation, target, arguments, result string }
	var got []summary
	for _, e := range events {
		got = append(got, summary{e.Operation, e.Target, e.ArgumentsJSON, e.Result})
		if e.Subject != "u-alice" || e.ClientID != "c-agent" || e.Actor != "mcpedge" || e.TenantID != sshtest.TenantID {
			t.Errorf("event %s names subject %q, client %q, actor %q, tenant %q; want the principal's", e.Operation, e.Subject, e.ClientID, e.Actor, e.TenantID)
		}
		if e.TraceID != "4bf92f3577b34da6a3ce929d0e0e4736" {
			t.Errorf("event %s trace id = %q, want the span's", e.Operation, e.TraceID)
		}
		if e.LatencyMS < 0 || e.Time.IsZero() {
			t.Errorf("event %s has latency %d ms and time %s", e.Operation, e.LatencyMS, e.Time)
		}
	}
	want := []summary{
		{"dokkuexec.CreateApp", "prod/shop", `{"app":"shop","host":""}`, "ok"},
		{"dokkuexec.SetConfig", "prod/shop", `{"app":"shop","host":"prod","keys":["API_KEY","DATABASE_URL"],"no_restart":true}`, "ok"},
		{"dokkuexec.SetConfig", "prod/missing", `{"app":"missing","host":"prod","keys":["API_KEY"],"no_restart":true}`, "not_found"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("audit events (GetConfig is a read and not audited):\n got %q\nwant %q", got, want)
	}
	for _, e := range events {
		if strings.Contains(e.ArgumentsJSON, secret) {
			t.Errorf("event %s stores a config value: %s", e.Operation, e.ArgumentsJSON)
		}
	}
}

func TestServiceAuditUnavailable(t *testing.T) {
	t.Parallel()
	f := newPolicyFixture(t)
	ctx := t.Context()
	if _, err := f.service.CreateApp(ctx, sshtest.TenantID, "", "shop"); err != nil {
		t.Fatalf("CreateApp: %v", err)
	}
	f.audit.setFailing(true)

	// The change happens, but is not reported as done without its event.
	_, err := f.service.LockApp(ctx, sshtest.TenantID, "", "shop")
	wantKind(t, err, app.KindUnavailable, `LockApp on "prod/shop" may have been applied, but the audit ledger is unavailable`)
	report, reportErr := f.service.GetAppReport(ctx, sshtest.TenantID, "", "shop")
	if reportErr != nil || !report.Locked {
		t.Errorf("app locked = %v (%v) after the unaudited LockApp, want true: the change itself ran", report.Locked, reportErr)
	}

	// A request that fails keeps its own error.
	_, err = f.service.LockApp(ctx, sshtest.TenantID, "", "missing")
	wantKind(t, err, app.KindNotFound, `app "missing" not found`)

	f.audit.setFailing(false)
	if _, err := f.service.UnlockApp(ctx, sshtest.TenantID, "", "shop"); err != nil {
		t.Fatalf("UnlockApp after the ledger is back: %v", err)
	}
	var operations []string
	for _, e := range f.tenancy.Events() {
		operations = append(operations, e.Operation+" "+e.Result)
	}
	if want := []string{"dokkuexec.CreateApp ok", "dokkuexec.UnlockApp ok"}; !slices.Equal(operations, want) {
		t.Errorf("stored events = %q, want %q", operations, want)
	}
}

// errTenancyDown is the failure of an unreachable Tenancy.
var errTenancyDown = errors.New("connection refused")

// fakeDownTenancy is a Tenancy that cannot be reached.
type fakeDownTenancy struct{ app.Tenancy }

func (fakeDownTenancy) GetTenantLimits(context.Context, string) (app.TenantLimits, error) {
	return app.TenantLimits{}, &app.Error{Kind: app.KindUnavailable, Message: "the tenancy service is unavailable; retry later", Err: errTenancyDown}
}

func TestServiceTenancyUnavailable(t *testing.T) {
	t.Parallel()
	host := sshtest.Start(t, emulator.Options{})
	executor := sshadapter.New(sshadapter.Options{DialTimeout: 5 * time.Second, CommandTimeout: 10 * time.Second, OutputLimit: 1 << 20, Logger: slog.New(slog.DiscardHandler)})
	t.Cleanup(func() { _ = executor.Close() })
	tenancy := tenancytest.New()
	service := app.NewService(app.Options{
		Hosts:       &hostResolver{host: host.Host},
		Credentials: host.CA,
		Executor:    executor,
		Tenancy:     fakeDownTenancy{Tenancy: tenancy},
		Audit:       tenancy,
		Logger:      slog.New(slog.DiscardHandler),
	})

	// Without the tenant's limits nothing runs: the check fails closed.
	_, err := service.CreateApp(t.Context(), sshtest.TenantID, "", "shop")
	wantKind(t, err, app.KindUnavailable, "the tenancy service is unavailable")
	_, err = service.ListApps(t.Context(), sshtest.TenantID, "")
	wantKind(t, err, app.KindUnavailable, "the tenancy service is unavailable")
	if events := tenancy.Events(); len(events) != 1 || events[0].Result != "unavailable" {
		t.Errorf("audit events = %+v, want the refused CreateApp", events)
	}
}
