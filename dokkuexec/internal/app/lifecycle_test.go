package app_test

import (
	"context"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"dokkumcp.dev/dokkuexec/internal/app"
	"dokkumcp.dev/dokkuexec/internal/domain"
	"dokkumcp.dev/dokkuexec/internal/sshtest"
	"dokkumcp.dev/testhost/emulator"
)

func createApps(t *testing.T, f *fixture, names ...string) {
	t.Helper()
	for _, name := range names {
		if _, err := f.service.CreateApp(t.Context(), sshtest.TenantID, "", name); err != nil {
			t.Fatalf("CreateApp %s: %v", name, err)
		}
	}
}

func listApps(t *testing.T, f *fixture) []string {
	t.Helper()
	apps, err := f.service.ListApps(t.Context(), sshtest.TenantID, "")
	if err != nil {
		t.Fatalf("ListApps: %v", err)
	}
	return apps
}

func TestServiceDestroyApp(t *testing.T) {
	t.Parallel()
	f := newFixture(t, emulator.Options{})
	ctx := t.Context()
	createApps(t, f, "shop")

	_, err := f.service.DestroyApp(ctx, sshtest.TenantID, "", "shop", "")
	wantKind(t, err, app.KindInvalidArgument, `invalid confirm "": pass the app's name "shop" as confirm to destroy it`)
	_, err = f.service.DestroyApp(ctx, sshtest.TenantID, "", "shop", "Shop")
	wantKind(t, err, app.KindInvalidArgument, `invalid confirm "Shop"`)
	if got := listApps(t, f); !slices.Equal(got, []string{"shop"}) {
		t.Fatalf("apps after rejected destroys = %q, want [shop]", got)
	}

	destroyed, err := f.service.DestroyApp(ctx, sshtest.TenantID, sshtest.HostName, "shop", "shop")
	if err != nil {
		t.Fatalf("DestroyApp: %v", err)
	}
	if destroyed.App != "shop" || !destroyed.Changed || len(destroyed.Warnings) != 0 {
		t.Errorf("DestroyApp = %+v, want shop changed without warnings", destroyed)
	}
	if got := listApps(t, f); len(got) != 0 {
		t.Errorf("apps after destroy = %q, want none", got)
	}

	_, err = f.service.DestroyApp(ctx, sshtest.TenantID, "", "shop", "shop")
	wantKind(t, err, app.KindNotFound, `app "shop" not found on host "prod"`)
	_, err = f.service.DestroyApp(ctx, sshtest.TenantID, "", "shop --help", "shop --help")
	wantKind(t, err, app.KindInvalidArgument, `invalid app name "shop --help"`)
}

func TestServiceRenameApp(t *testing.T) {
	t.Parallel()
	f := newFixture(t, emulator.Options{})
	ctx := t.Context()
	createApps(t, f, "my.app", "shop")
	if _, err := f.service.SetConfig(ctx, sshtest.TenantID, "", "my.app", map[string]string{"A": "1"}, true); err != nil {
		t.Fatalf("SetConfig: %v", err)
	}

	renamed, err := f.service.RenameApp(ctx, sshtest.TenantID, "", "my.app", "my.app2")
	if err != nil {
		t.Fatalf("RenameApp: %v", err)
	}
	if renamed.App != "my.app2" || !renamed.Changed {
		t.Errorf("RenameApp = %+v, want my.app2 changed", renamed)
	}
	if want := []string{"No web listeners specified for my.app2"}; !slices.Equal(renamed.Warnings, want) {
		t.Errorf("warnings = %q, want %q", renamed.Warnings, want)
	}
	if got, want := listApps(t, f), []string{"my.app2", "shop"}; !slices.Equal(got, want) {
		t.Errorf("apps = %q, want %q", got, want)
	}
	if value, err := f.service.GetConfig(ctx, sshtest.TenantID, "", "my.app2", "A"); err != nil || value != "1" {
		t.Errorf("GetConfig my.app2 A = %q, %v; want the config carried over", value, err)
	}

	tests := []struct {
		name     string
		app, new string
		kind     app.Kind
		message  string
	}{
		{"taken name", "my.app2", "shop", app.KindAlreadyExists, `app "shop" already exists on host "prod"; choose another name`},
		{"unknown app", "nope", "nope2", app.KindNotFound, `app "nope" not found on host "prod"`},
		{"new name breaks create rule", "shop", "Bad_Name", app.KindInvalidArgument, `invalid app name "Bad_Name": use lower-case letters, digits, dots and dashes, starting with a letter or digit`},
		{"legacy underscore as new name", "shop", "shop_v2", app.KindInvalidArgument, `invalid app name "shop_v2"`},
		{"same name", "shop", "shop", app.KindInvalidArgument, `invalid new name "shop": it is the app's current name`},
		{"bad current name", "a;id", "b", app.KindInvalidArgument, `invalid app name "a;id"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.service.RenameApp(ctx, sshtest.TenantID, "", tt.app, tt.new)
			wantKind(t, err, tt.kind, tt.message)
		})
	}
	if got, want := listApps(t, f), []string{"my.app2", "shop"}; !slices.Equal(got, want) {
		t.Errorf("apps after failed renames = %q, want %q", got, want)
	}
}

func TestServiceLockAndUnlock(t *testing.T) {
	t.Parallel()
	f := newFixture(t, emulator.Options{})
	ctx := t.Context()
	createApps(t, f, "shop")

	locked, err := f.service.LockApp(ctx, sshtest.TenantID, "", "shop")
	if err != nil {
		t.Fatalf("LockApp: %v", err)
	}
	if locked.App != "shop" || !locked.Changed || len(locked.Warnings) != 0 {
		t.Errorf("LockApp = %+v, want shop changed without warnings", locked)
	}
	if report, err := f.service.GetAppReport(ctx, sshtest.TenantID, "", "shop"); err != nil || !report.Locked {
		t.Fatalf("report after LockApp: locked = %v, error %v; want locked", report.Locked, err)
	}

	unlocked, err := f.service.UnlockApp(ctx, sshtest.TenantID, "", "shop")
	if err != nil {
		t.Fatalf("UnlockApp: %v", err)
	}
	if !unlocked.Changed {
		t.Errorf("UnlockApp of a locked app: Changed = false, want true")
	}
	if want := []string{"A deploy may be in progress.", "Removing the app lock will not stop in progress deploys."}; !slices.Equal(unlocked.Warnings, want) {
		t.Errorf("warnings = %q, want %q", unlocked.Warnings, want)
	}
	if report, err := f.service.GetAppReport(ctx, sshtest.TenantID, "", "shop"); err != nil || report.Locked {
		t.Fatalf("report after UnlockApp: locked = %v, error %v; want unlocked", report.Locked, err)
	}

	again, err := f.service.UnlockApp(ctx, sshtest.TenantID, "", "shop")
	if err != nil {
		t.Fatalf("UnlockApp of an unlocked app: %v, want a no-op", err)
	}
	if again.App != "shop" || again.Changed {
		t.Errorf("UnlockApp of an unlocked app = %+v, want shop unchanged", again)
	}
	if want := []string{"Unable to remove deploy lock"}; !slices.Equal(again.Warnings, want) {
		t.Errorf("warnings = %q, want %q", again.Warnings, want)
	}

	_, err = f.service.LockApp(ctx, sshtest.TenantID, "", "nope")
	wantKind(t, err, app.KindNotFound, `app "nope" not found on host "prod"`)
	_, err = f.service.UnlockApp(ctx, sshtest.TenantID, "", "nope")
	wantKind(t, err, app.KindNotFound, `app "nope" not found on host "prod"`)
	_, err = f.service.LockApp(ctx, sshtest.TenantID, "", "-n")
	wantKind(t, err, app.KindInvalidArgument, `invalid app name "-n"`)
	_, err = f.service.UnlockApp(ctx, sshtest.TenantID, "", "")
	wantKind(t, err, app.KindInvalidArgument, `invalid app name ""`)
}

func TestServiceUnsetConfig(t *testing.T) {
	t.Parallel()
	f := newFixture(t, emulator.Options{})
	ctx := t.Context()
	createApps(t, f, "shop")
	if _, err := f.service.SetConfig(ctx, sshtest.TenantID, "", "shop", map[string]string{"A": "1", "B": "2"}, true); err != nil {
		t.Fatalf("SetConfig: %v", err)
	}

	outcome, err := f.service.UnsetConfig(ctx, sshtest.TenantID, "", "shop", []string{"MISSING", "A"}, true)
	if err != nil {
		t.Fatalf("UnsetConfig: %v", err)
	}
	if want := []string{"A"}; !slices.Equal(outcome.Unset, want) {
		t.Errorf("unset = %q, want %q", outcome.Unset, want)
	}
	if want := []string{"MISSING"}; !slices.Equal(outcome.Skipped, want) {
		t.Errorf("skipped = %q, want %q", outcome.Skipped, want)
	}
	_, err = f.service.GetConfig(ctx, sshtest.TenantID, "", "shop", "A")
	wantKind(t, err, app.KindNotFound, `config var "A" is not set`)
	if value, err := f.service.GetConfig(ctx, sshtest.TenantID, "", "shop", "B"); err != nil || value != "2" {
		t.Errorf("GetConfig B = %q, %v; want 2 left alone", value, err)
	}

	again, err := f.service.UnsetConfig(ctx, sshtest.TenantID, "", "shop", []string{"A"}, false)
	if err != nil {
		t.Fatalf("UnsetConfig of an unset key: %v", err)
	}
	if len(again.Unset) != 0 || !slices.Equal(again.Skipped, []string{"A"}) {
		t.Errorf("UnsetConfig of an unset key = %+v, want A skipped", again)
	}

	tests := []struct {
		name    string
		app     string
		keys    []string
		kind    app.Kind
		message string
	}{
		{"unknown app", "nope", []string{"A"}, app.KindNotFound, `app "nope" not found on host "prod"`},
		{"no keys", "shop", nil, app.KindInvalidArgument, "invalid config keys: name at least one config key"},
		{"duplicate key", "shop", []string{"B", "B"}, app.KindInvalidArgument, `invalid config key "B": name each key once`},
		{"bad key", "shop", []string{"bad-key"}, app.KindInvalidArgument, `invalid config key "bad-key": use letters, digits and underscores`},
		{"flag as key", "shop", []string{"--global"}, app.KindInvalidArgument, `invalid config key "--global"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.service.UnsetConfig(ctx, sshtest.TenantID, "", tt.app, tt.keys, true)
			wantKind(t, err, tt.kind, tt.message)
		})
	}
	if value, err := f.service.GetConfig(ctx, sshtest.TenantID, "", "shop", "B"); err != nil || value != "2" {
		t.Errorf("GetConfig B after rejected unsets = %q, %v; want 2", value, err)
	}
}

func TestServiceExportConfig(t *testing.T) {
	t.Parallel()
	f := newFixture(t, emulator.Options{})
	ctx := t.Context()
	createApps(t, f, "shop")
	values := map[string]string{"A": "1", "P": "line1\nline2", "Q": "x\n", "SECRET": "it's $secret"}
	if _, err := f.service.SetConfig(ctx, sshtest.TenantID, "", "shop", values, true); err != nil {
		t.Fatalf("SetConfig: %v", err)
	}
	// apps:create sets NO_VHOST=1 on a host without a global vhost.
	want := maps.Clone(values)
	want["NO_VHOST"] = "1"

	redacted, err := f.service.ExportConfig(ctx, sshtest.TenantID, "", "shop", false)
	if err != nil {
		t.Fatalf("ExportConfig: %v", err)
	}
	if !redacted.Redacted {
		t.Error("ExportConfig without reveal: Redacted = false, want true")
	}
	if got, wantKeys := slices.Sorted(maps.Keys(redacted.Vars)), slices.Sorted(maps.Keys(want)); !slices.Equal(got, wantKeys) {
		t.Errorf("keys = %q, want %q", got, wantKeys)
	}
	for key, value := range redacted.Vars {
		if value != "" {
			t.Errorf("redacted value of %s = %q, want empty", key, value)
		}
	}

	revealed, err := f.service.ExportConfig(ctx, sshtest.TenantID, "", "shop", true)
	if err != nil {
		t.Fatalf("ExportConfig with reveal: %v", err)
	}
	if revealed.Redacted {
		t.Error("ExportConfig with reveal: Redacted = true, want false")
	}
	if !maps.Equal(revealed.Vars, want) {
		t.Errorf("vars = %q, want %q", revealed.Vars, want)
	}

	_, err = f.service.ExportConfig(ctx, sshtest.TenantID, "", "nope", true)
	wantKind(t, err, app.KindNotFound, `app "nope" not found on host "prod"`)
	_, err = f.service.ExportConfig(ctx, sshtest.TenantID, "", "Shop", false)
	wantKind(t, err, app.KindInvalidArgument, `invalid app name "Shop"`)
}

// gatedExecutor wraps an Executor, counts the commands running per app, and
// holds the commands for one app until released.
type gatedExecutor struct {
	next app.Executor

	mu         sync.Mutex
	entered    map[string]int
	running    map[string]int
	maxRunning map[string]int
	heldApp    string
	gate       chan struct{}
}

func newGatedExecutor(next app.Executor) *gatedExecutor {
	return &gatedExecutor{next: next, entered: map[string]int{}, running: map[string]int{}, maxRunning: map[string]int{}}
}

// appOf returns the app a test command names: the first argument after the
// subcommand that is not a flag.
func appOf(cmd domain.Command) string {
	args := cmd.Args()
	for i, arg := range args {
		if arg == cmd.Name() {
			for _, rest := range args[i+1:] {
				if rest[0] != '-' {
					return rest
				}
			}
		}
	}
	return ""
}

func (g *gatedExecutor) Run(ctx context.Context, target app.Target, cmd domain.Command) (domain.Result, error) {
	name := appOf(cmd)
	g.mu.Lock()
	g.entered[name]++
	g.running[name]++
	g.maxRunning[name] = max(g.maxRunning[name], g.running[name])
	var gate chan struct{}
	if name == g.heldApp {
		gate = g.gate
	}
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.running[name]--
		g.mu.Unlock()
	}()

	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return domain.Result{}, ctx.Err()
		}
	}
	return g.next.Run(ctx, target, cmd)
}

// hold makes the commands for app wait until release.
func (g *gatedExecutor) hold(app string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.heldApp = app
	g.gate = make(chan struct{})
}

func (g *gatedExecutor) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	close(g.gate)
	g.heldApp = ""
}

func (g *gatedExecutor) counts(app string) (entered, maxRunning int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.entered[app], g.maxRunning[app]
}

func TestServiceSerializesWritesToOneApp(t *testing.T) {
	t.Parallel()
	var gated *gatedExecutor
	f := newWrappedFixture(t, emulator.Options{}, func(next app.Executor) app.Executor {
		gated = newGatedExecutor(next)
		return gated
	})
	ctx := t.Context()
	createApps(t, f, "shop", "api")
	enteredBefore, _ := gated.counts("shop")

	gated.hold("shop")
	setDone := make(chan error, 1)
	go func() {
		_, err := f.service.SetConfig(ctx, sshtest.TenantID, "", "shop", map[string]string{"X": "1"}, true)
		setDone <- err
	}()
	sshtest.WaitFor(t, 5*time.Second, "SetConfig to reach the executor", func() bool {
		entered, _ := gated.counts("shop")
		return entered == enteredBefore+1
	})

	type unsetResult struct {
		outcome domain.ConfigUnsetOutcome
		err     error
	}
	unsetDone := make(chan unsetResult, 1)
	go func() {
		outcome, err := f.service.UnsetConfig(ctx, sshtest.TenantID, "", "shop", []string{"X"}, true)
		unsetDone <- unsetResult{outcome, err}
	}()
	sshtest.WaitFor(t, 5*time.Second, "UnsetConfig to wait for the app's lock", func() bool {
		return f.service.WaitingForApp(sshtest.TenantID, sshtest.HostID, "shop") == 1
	})
	if entered, _ := gated.counts("shop"); entered != enteredBefore+1 {
		t.Fatalf("commands entered for shop = %d, want %d: the second write ran while the first held the app", entered, enteredBefore+1)
	}

	// A write to another app on the same host is not held up.
	if _, err := f.service.LockApp(ctx, sshtest.TenantID, "", "api"); err != nil {
		t.Fatalf("LockApp api while shop is busy: %v", err)
	}

	// A waiting write whose request ends gives up without running.
	waitCtx, cancel := context.WithCancel(ctx)
	lockDone := make(chan error, 1)
	go func() {
		_, err := f.service.LockApp(waitCtx, sshtest.TenantID, "", "shop")
		lockDone <- err
	}()
	sshtest.WaitFor(t, 5*time.Second, "LockApp to wait for the app's lock", func() bool {
		return f.service.WaitingForApp(sshtest.TenantID, sshtest.HostID, "shop") == 2
	})
	cancel()
	wantKind(t, <-lockDone, app.KindCanceled, `while waiting for another change to app "shop" on host "prod" to finish; nothing was run`)

	gated.release()
	if err := <-setDone; err != nil {
		t.Fatalf("SetConfig: %v", err)
	}
	unset := <-unsetDone
	if unset.err != nil {
		t.Fatalf("UnsetConfig: %v", unset.err)
	}
	if !slices.Equal(unset.outcome.Unset, []string{"X"}) {
		t.Errorf("UnsetConfig outcome = %+v, want X unset after SetConfig finished", unset.outcome)
	}
	entered, maxRunning := gated.counts("shop")
	if entered != enteredBefore+2 {
		t.Errorf("commands entered for shop = %d, want %d", entered, enteredBefore+2)
	}
	if maxRunning != 1 {
		t.Errorf("most commands running at once for shop = %d, want 1", maxRunning)
	}
	if waiting := f.service.WaitingForApp(sshtest.TenantID, sshtest.HostID, "shop"); waiting != 0 {
		t.Errorf("requests still waiting for shop = %d, want 0", waiting)
	}
}

func TestServiceConcurrentWritesNeverOverlap(t *testing.T) {
	t.Parallel()
	var gated *gatedExecutor
	f := newWrappedFixture(t, emulator.Options{}, func(next app.Executor) app.Executor {
		gated = newGatedExecutor(next)
		return gated
	})
	ctx := t.Context()
	createApps(t, f, "shop")

	writes := []func() error{
		func() error {
			_, err := f.service.SetConfig(ctx, sshtest.TenantID, "", "shop", map[string]string{"A": "1"}, true)
			return err
		},
		func() error {
			_, err := f.service.UnsetConfig(ctx, sshtest.TenantID, "", "shop", []string{"A"}, true)
			return err
		},
		func() error {
			_, err := f.service.LockApp(ctx, sshtest.TenantID, "", "shop")
			return err
		},
		func() error {
			_, err := f.service.UnlockApp(ctx, sshtest.TenantID, "", "shop")
			return err
		},
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4*len(writes))
	for range 4 {
		for _, write := range writes {
			wg.Go(func() { errs <- write() })
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("write: %v", err)
		}
	}
	if _, maxRunning := gated.counts("shop"); maxRunning != 1 {
		t.Errorf("most commands running at once for shop = %d, want 1", maxRunning)
	}
}
