package app_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"dokkumcp.dev/dokkuexec/internal/adapters/postgres"
	sshadapter "dokkumcp.dev/dokkuexec/internal/adapters/ssh"
	"dokkumcp.dev/dokkuexec/internal/app"
	"dokkumcp.dev/dokkuexec/internal/domain"
	"dokkumcp.dev/dokkuexec/internal/sshtest"
	"dokkumcp.dev/dokkuexec/internal/tenancytest"
	"dokkumcp.dev/dokkuexec/migrations"
	"dokkumcp.dev/platform/pg"
	"dokkumcp.dev/platform/pgtest"
	"dokkumcp.dev/testhost/emulator"
)

func TestMain(m *testing.M) {
	if os.Getenv(deployChildEnv) != "" {
		runDeployChild()
		return
	}
	pgtest.Main(m)
}

// deployFixture is a test host whose builds wait at a gate, a deployment
// store in a fresh database, and a service on both.
type deployFixture struct {
	databaseURL string
	host        *sshtest.Host
	gate        *emulator.DeployGate
	store       *postgres.Store
	tenancy     *tenancytest.Tenancy
	resolver    *hostResolver
	service     *app.Service
}

func newDeployFixture(t *testing.T, opts emulator.Options) *deployFixture {
	t.Helper()
	host := sshtest.Start(t, opts)
	gate := emulator.NewDeployGate()
	host.Emulator.SetDeployGate(gate)

	databaseURL := pgtest.NewDatabase(t)
	pool, err := pg.Connect(t.Context(), databaseURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if err := pg.Migrate(t.Context(), pool, "dokkuexec", migrations.FS); err != nil {
		t.Fatal(err)
	}
	f := &deployFixture{databaseURL: databaseURL, host: host, gate: gate, store: postgres.NewStore(pool), tenancy: tenancytest.New(), resolver: &hostResolver{host: host.Host}}
	f.service = f.newService(t)
	runEmulator(t, host.Emulator, "apps:create shop")
	return f
}

// newService returns a service with its own SSH pool on the fixture's host
// and store, as a restarted DokkuExec would have.
func (f *deployFixture) newService(t *testing.T) *app.Service {
	t.Helper()
	executor := sshadapter.New(sshadapter.Options{
		DialTimeout: 5 * time.Second, CommandTimeout: 10 * time.Second, OutputLimit: 1 << 20,
		Logger: slog.New(slog.DiscardHandler),
	})
	t.Cleanup(func() { _ = executor.Close() })
	service := app.NewService(app.Options{
		Tenancy: f.tenancy, Audit: f.tenancy, Hosts: f.resolver, Credentials: f.host.CA,
		Executor: executor, Logger: slog.New(slog.DiscardHandler),
		Deployments: f.store, ReconcileInterval: 20 * time.Millisecond, StaleAfter: time.Millisecond,
	})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		service.StopDeployments(ctx)
	})
	return service
}

// runEmulator runs a command on the emulator directly, as a client other
// than DokkuExec would, and fails the test unless it exits 0.
func runEmulator(t *testing.T, e *emulator.Emulator, command string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := e.Run(context.Background(), emulator.Invocation{OriginalCommand: command, Stdout: &stdout, Stderr: &stderr}); code != 0 {
		t.Fatalf("%s: exit %d, %s%s", command, code, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// waitForStatus polls until the deployment has status.
func waitForStatus(t *testing.T, service *app.Service, id string, status domain.DeploymentStatus) domain.Deployment {
	t.Helper()
	var d domain.Deployment
	sshtest.WaitFor(t, 10*time.Second, "deployment "+id+" "+string(status), func() bool {
		var err error
		d, err = service.GetDeployment(context.Background(), sshtest.TenantID, id)
		if err != nil {
			t.Fatalf("GetDeployment: %v", err)
		}
		return d.Status == status
	})
	return d
}

var imageRequest = app.DeploymentRequest{App: "shop", Kind: domain.SourceImage, Image: "nginx:1.27"}

func TestDeploymentRunsWatchedAndSerialized(t *testing.T) {
	t.Parallel()
	f := newDeployFixture(t, emulator.Options{})
	ctx := t.Context()

	d, err := f.service.CreateDeployment(ctx, sshtest.TenantID, imageRequest)
	if err != nil {
		t.Fatalf("CreateDeployment: %v", err)
	}
	if d.Status != domain.DeploymentQueued || d.HostName != sshtest.HostName {
		t.Fatalf("created = %+v, want queued on %s", d, sshtest.HostName)
	}
	<-f.gate.Waiting()
	waitForStatus(t, f.service, d.ID, domain.DeploymentRunning)

	// A second deployment of the same app conflicts and names the first.
	_, err = f.service.CreateDeployment(ctx, sshtest.TenantID, app.DeploymentRequest{App: "shop", Kind: domain.SourceRebuild})
	wantKind(t, err, app.KindAborted, "is already being deployed by deployment "+d.ID)
	var appErr *app.Error
	if !errors.As(err, &appErr) || appErr.DeploymentID != d.ID {
		t.Errorf("conflict error = %#v, want DeploymentID %s", err, d.ID)
	}

	// Other writes to the app wait for the deployment.
	setDone := make(chan error, 1)
	go func() {
		_, err := f.service.SetConfig(ctx, sshtest.TenantID, "", "shop", map[string]string{"A": "1"}, true)
		setDone <- err
	}()
	sshtest.WaitFor(t, 5*time.Second, "SetConfig to wait for the app's lock", func() bool {
		return f.service.WaitingForApp(sshtest.TenantID, sshtest.HostID, "shop") == 1
	})

	var mu sync.Mutex
	var events []app.DeploymentEvent
	watchDone := make(chan error, 1)
	go func() {
		watchDone <- f.service.WatchDeployment(ctx, sshtest.TenantID, d.ID, 0, true, func(e app.DeploymentEvent) error {
			mu.Lock()
			defer mu.Unlock()
			events = append(events, e)
			return nil
		})
	}()
	f.gate.Finish(0)
	if err := <-watchDone; err != nil {
		t.Fatalf("WatchDeployment: %v", err)
	}
	if err := <-setDone; err != nil {
		t.Fatalf("SetConfig after the deployment: %v", err)
	}

	var lines []string
	var last domain.Deployment
	for _, e := range events {
		if e.Line != nil {
			if e.Line.Number != int64(len(lines)+1) {
				t.Errorf("line %q has number %d, want %d", e.Line.Text, e.Line.Number, len(lines)+1)
			}
			lines = append(lines, e.Line.Text)
		}
		if e.Deployment != nil {
			last = *e.Deployment
		}
	}
	output := strings.Join(lines, "\n")
	for _, want := range []string{"-----> Building shop from Dockerfile", "=====> Application deployed:"} {
		if !strings.Contains(output, want) {
			t.Errorf("watched output lacks %q:\n%s", want, output)
		}
	}
	if last.Status != domain.DeploymentSucceeded || last.ExitCode == nil || *last.ExitCode != 0 || last.BuildID == "" || last.EndTime == nil {
		t.Errorf("last watched state = %+v, want succeeded with exit code 0, a build id and an end time", last)
	}

	stored, err := f.store.GetDeployment(ctx, sshtest.TenantID, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Status != domain.DeploymentSucceeded || stored.BuildID != last.BuildID || stored.OutputLines != int64(len(lines)) {
		t.Errorf("stored = %+v, want succeeded with build %s and %d lines", stored, last.BuildID, len(lines))
	}

	// Without follow, a watch after the end sends the state and the lines
	// after the given one, then ends.
	var after []string
	err = f.service.WatchDeployment(ctx, sshtest.TenantID, d.ID, int64(len(lines)-1), false, func(e app.DeploymentEvent) error {
		if e.Line != nil {
			after = append(after, e.Line.Text)
		}
		return nil
	})
	if err != nil || len(after) != 1 || after[0] != lines[len(lines)-1] {
		t.Errorf("WatchDeployment after line %d = %q, %v; want the last line", len(lines)-1, after, err)
	}

	list, err := f.service.ListDeployments(ctx, sshtest.TenantID, "", "shop", 0)
	if err != nil || len(list) != 1 || list[0].ID != d.ID {
		t.Errorf("ListDeployments = %+v, %v; want [%s]", list, err, d.ID)
	}

	var created, aborted bool
	for _, e := range f.tenancy.Events() {
		if e.Operation != "dokkuexec.CreateDeployment" {
			continue
		}
		switch e.Result {
		case "ok":
			created = strings.Contains(e.ArgumentsJSON, `"deployment_id":"`+d.ID+`"`) && e.Target == "prod/shop"
		case "aborted":
			aborted = true
		}
	}
	if !created || !aborted {
		t.Errorf("audit events %+v lack the created and the aborted CreateDeployment", f.tenancy.Events())
	}
}

func TestDeploymentOutcomes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		version     string
		request     app.DeploymentRequest
		setup       func(t *testing.T, f *deployFixture)
		finish      func(t *testing.T, f *deployFixture, d domain.Deployment)
		wantStatus  domain.DeploymentStatus
		wantMessage string
	}{
		{
			name:    "git source succeeds",
			request: app.DeploymentRequest{App: "shop", Kind: domain.SourceGit, Repository: "https://example.com/shop.git", Ref: "main"},
			finish: func(_ *testing.T, f *deployFixture, _ domain.Deployment) {
				<-f.gate.Waiting()
				f.gate.Finish(0)
			},
			wantStatus: domain.DeploymentSucceeded,
		},
		{
			name:    "failed build",
			request: imageRequest,
			finish: func(_ *testing.T, f *deployFixture, _ domain.Deployment) {
				<-f.gate.Waiting()
				f.gate.Finish(1)
			},
			wantStatus:  domain.DeploymentFailed,
			wantMessage: "App build failed",
		},
		{
			name:    "cancelled build",
			request: imageRequest,
			finish: func(t *testing.T, f *deployFixture, d domain.Deployment) {
				<-f.gate.Waiting()
				waitForStatus(t, f.service, d.ID, domain.DeploymentRunning)
				cancelled, err := f.service.CancelDeployment(t.Context(), sshtest.TenantID, d.ID)
				if err != nil {
					t.Fatalf("CancelDeployment: %v", err)
				}
				if cancelled.Status != domain.DeploymentCancelled {
					t.Errorf("CancelDeployment returned %+v, want cancelled", cancelled)
				}
			},
			wantStatus:  domain.DeploymentCancelled,
			wantMessage: "cancelled",
		},
		{
			name:        "rebuild without source is no success",
			request:     app.DeploymentRequest{App: "shop", Kind: domain.SourceRebuild},
			finish:      func(*testing.T, *deployFixture, domain.Deployment) {},
			wantStatus:  domain.DeploymentFailed,
			wantMessage: "has no source to rebuild",
		},
		{
			name:    "host without build records",
			version: "0.37.9",
			request: imageRequest,
			finish: func(_ *testing.T, f *deployFixture, _ domain.Deployment) {
				<-f.gate.Waiting()
				f.gate.Finish(0)
			},
			wantStatus: domain.DeploymentSucceeded,
		},
		{
			name:    "deploy lock taken between check and build",
			version: "0.37.9",
			request: imageRequest,
			setup: func(t *testing.T, f *deployFixture) {
				if _, err := f.host.Emulator.HoldDeployLock("shop"); err != nil {
					t.Fatal(err)
				}
			},
			finish:      func(*testing.T, *deployFixture, domain.Deployment) {},
			wantStatus:  domain.DeploymentFailed,
			wantMessage: "has Dokku's deploy lock",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newDeployFixture(t, emulator.Options{Version: tt.version})
			if tt.setup != nil {
				tt.setup(t, f)
			}
			d, err := f.service.CreateDeployment(t.Context(), sshtest.TenantID, tt.request)
			if err != nil {
				t.Fatalf("CreateDeployment: %v", err)
			}
			tt.finish(t, f, d)

			got := waitForStatus(t, f.service, d.ID, tt.wantStatus)
			if !strings.Contains(got.Message, tt.wantMessage) {
				t.Errorf("message = %q, want it to contain %q", got.Message, tt.wantMessage)
			}
			stored, err := f.store.GetDeployment(t.Context(), sshtest.TenantID, d.ID)
			if err != nil || stored.Status != tt.wantStatus {
				t.Errorf("stored = %+v, %v; want %s", stored, err, tt.wantStatus)
			}
		})
	}
}

func TestCreateDeploymentRejects(t *testing.T) {
	t.Parallel()
	f := newDeployFixture(t, emulator.Options{})
	release, err := f.host.Emulator.HoldDeployLock("shop")
	if err != nil {
		t.Fatal(err)
	}
	defer release()

	tests := []struct {
		name    string
		request app.DeploymentRequest
		kind    app.Kind
		message string
	}{
		{"deploy lock held outside DokkuExec", imageRequest, app.KindAborted, "already being deployed outside DokkuExec by build"},
		{"repository with a leading dash", app.DeploymentRequest{App: "shop", Kind: domain.SourceGit, Repository: "-oProxyCommand=x"}, app.KindInvalidArgument, "do not start with '-'"},
		{"ref with whitespace", app.DeploymentRequest{App: "shop", Kind: domain.SourceGit, Repository: "https://example.com/x.git", Ref: "main extra"}, app.KindInvalidArgument, `invalid git ref "main extra"`},
		{"image with a shell byte", app.DeploymentRequest{App: "shop", Kind: domain.SourceImage, Image: "nginx;id"}, app.KindInvalidArgument, `invalid image "nginx;id"`},
		{"no source", app.DeploymentRequest{App: "shop"}, app.KindInvalidArgument, "give exactly one source"},
		{"repository with a password", app.DeploymentRequest{App: "shop", Kind: domain.SourceGit, Repository: "https://user:hunter2@example.com/x.git"}, app.KindInvalidArgument, "remove the password"},
		{"invalid repository with a token", app.DeploymentRequest{App: "shop", Kind: domain.SourceGit, Repository: "https://ghp_hunter2@example.com/a b.git"}, app.KindInvalidArgument, "invalid git repository"},
		{"missing app", app.DeploymentRequest{App: "nope", Kind: domain.SourceRebuild}, app.KindNotFound, `app "nope" not found`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.service.CreateDeployment(t.Context(), sshtest.TenantID, tt.request)
			wantKind(t, err, tt.kind, tt.message)
		})
	}
	list, err := f.service.ListDeployments(t.Context(), sshtest.TenantID, "", "shop", 0)
	if err != nil || len(list) != 0 {
		t.Errorf("ListDeployments = %+v, %v; want none after rejected requests", list, err)
	}
	// A refused credential must not reach the audit ledger either.
	for _, e := range f.tenancy.Events() {
		if strings.Contains(e.ArgumentsJSON, "hunter2") {
			t.Errorf("audit event %s stores a credential from the repository URL: %s", e.Operation, e.ArgumentsJSON)
		}
	}
}

// TestCancelDeploymentOfRemovedHost cancels a deployment whose host was
// removed from Tenancy while it ran: builds:cancel cannot reach the host
// any more, so the run's SSH session is closed instead.
func TestCancelDeploymentOfRemovedHost(t *testing.T) {
	t.Parallel()
	f := newDeployFixture(t, emulator.Options{})
	d, err := f.service.CreateDeployment(t.Context(), sshtest.TenantID, imageRequest)
	if err != nil {
		t.Fatalf("CreateDeployment: %v", err)
	}
	<-f.gate.Waiting()
	waitForStatus(t, f.service, d.ID, domain.DeploymentRunning)

	f.resolver.removed.Store(true)
	cancelled, err := f.service.CancelDeployment(t.Context(), sshtest.TenantID, d.ID)
	if err != nil {
		t.Fatalf("CancelDeployment after the host was removed: %v", err)
	}
	if cancelled.Status != domain.DeploymentCancelled {
		t.Errorf("CancelDeployment = %+v, want status cancelled", cancelled)
	}
	stored, err := f.store.GetDeployment(t.Context(), sshtest.TenantID, d.ID)
	if err != nil || stored.Status != domain.DeploymentCancelled {
		t.Errorf("stored = %+v, %v; want cancelled", stored, err)
	}
}

// TestDeploymentReconciledAfterKill stops a DokkuExec mid-deploy the way a
// kill does, leaving the stored deployment running and the host's build
// without a process, and starts another on the same store.
func TestDeploymentReconciledAfterKill(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		version     string
		wantStatus  domain.DeploymentStatus
		wantMessage string
	}{
		{"host with build records", "", domain.DeploymentFailed, "ended without a result"},
		{"host without build records", "0.37.9", domain.DeploymentFailed, "the app is not deployed on the host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newDeployFixture(t, emulator.Options{Version: tt.version})
			d, err := f.service.CreateDeployment(t.Context(), sshtest.TenantID, imageRequest)
			if err != nil {
				t.Fatalf("CreateDeployment: %v", err)
			}
			<-f.gate.Waiting()
			waitForStatus(t, f.service, d.ID, domain.DeploymentRunning)

			killed, cancel := context.WithCancel(context.Background())
			cancel()
			f.service.StopDeployments(killed)
			stored, err := f.store.GetDeployment(t.Context(), sshtest.TenantID, d.ID)
			if err != nil || stored.Status != domain.DeploymentRunning {
				t.Fatalf("stored after the kill = %+v, %v; want running", stored, err)
			}
			if tt.version == "" {
				sshtest.WaitFor(t, 5*time.Second, "the build to be abandoned", func() bool {
					return strings.Contains(runEmulator(t, f.host.Emulator, "builds:list shop --format json"), `"display_status":"abandoned"`)
				})
			}

			restarted := f.newService(t)
			report, err := restarted.Reconcile(t.Context())
			if err != nil || report.Settled != 1 {
				t.Fatalf("Reconcile = %+v, %v; want 1 settled", report, err)
			}
			got, err := restarted.GetDeployment(t.Context(), sshtest.TenantID, d.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != tt.wantStatus || !strings.Contains(got.Message, tt.wantMessage) || got.EndTime == nil {
				t.Errorf("reconciled = %+v, want %s with a message containing %q", got, tt.wantStatus, tt.wantMessage)
			}
		})
	}
}

// TestReconcileFollowsRunningBuild reconciles a deployment whose build
// still runs on the host, and checks that it settles when the build ends.
func TestReconcileFollowsRunningBuild(t *testing.T) {
	t.Parallel()
	f := newDeployFixture(t, emulator.Options{})
	first, err := f.service.CreateDeployment(t.Context(), sshtest.TenantID, imageRequest)
	if err != nil {
		t.Fatal(err)
	}
	<-f.gate.Waiting()
	f.gate.Finish(0)
	waitForStatus(t, f.service, first.ID, domain.DeploymentSucceeded)

	// A rebuild that a stopped DokkuExec started a minute ago: stored as
	// running, its build still running on the host.
	now := time.Now().UTC().Add(-time.Minute)
	d := domain.Deployment{ID: domain.NewDeploymentID(), TenantID: sshtest.TenantID, HostID: sshtest.HostID, HostName: sshtest.HostName,
		App: "shop", Source: domain.DeploymentSource{Kind: domain.SourceRebuild}, Status: domain.DeploymentRunning, CreateTime: now, StartTime: &now}
	if err := f.store.InsertDeployment(t.Context(), d); err != nil {
		t.Fatal(err)
	}
	rebuilt := make(chan struct{})
	go func() {
		defer close(rebuilt)
		runEmulator(t, f.host.Emulator, "ps:rebuild shop")
	}()
	<-f.gate.Waiting()

	restarted := f.newService(t)
	report, err := restarted.Reconcile(t.Context())
	if err != nil || report.Running != 1 {
		t.Fatalf("Reconcile = %+v, %v; want 1 running", report, err)
	}
	if got, _ := restarted.GetDeployment(t.Context(), sshtest.TenantID, d.ID); got.Status != domain.DeploymentRunning || got.BuildID == "" {
		t.Errorf("reconciled running deployment = %+v, want running with a build id", got)
	}

	f.gate.Finish(0)
	<-rebuilt
	got := waitForStatus(t, restarted, d.ID, domain.DeploymentSucceeded)
	if got.ExitCode == nil || *got.ExitCode != 0 {
		t.Errorf("settled = %+v, want exit code 0", got)
	}
}

// TestReconcileSkipsLiveRunner leaves alone a deployment whose runner still
// proves alive, as another replica's would be.
func TestReconcileSkipsLiveRunner(t *testing.T) {
	t.Parallel()
	f := newDeployFixture(t, emulator.Options{})
	now := time.Now().UTC()
	d := domain.Deployment{ID: domain.NewDeploymentID(), TenantID: sshtest.TenantID, HostID: sshtest.HostID, HostName: sshtest.HostName,
		App: "shop", Source: domain.DeploymentSource{Kind: domain.SourceRebuild}, Status: domain.DeploymentQueued, CreateTime: now, Runner: "other-replica"}
	if err := f.store.InsertDeployment(t.Context(), d); err != nil {
		t.Fatal(err)
	}
	if err := f.store.Heartbeat(t.Context(), "other-replica", now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}

	report, err := f.service.Reconcile(t.Context())
	if err != nil || report != (app.ReconcileReport{}) {
		t.Fatalf("Reconcile = %+v, %v; want nothing done", report, err)
	}
	if got, err := f.store.GetDeployment(t.Context(), sshtest.TenantID, d.ID); err != nil || got.Status != domain.DeploymentQueued {
		t.Errorf("deployment after Reconcile = %+v, %v; want it still queued", got, err)
	}

	if err := f.store.Heartbeat(t.Context(), "other-replica", now.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	report, err = f.service.Reconcile(t.Context())
	if err != nil || report.Settled != 1 {
		t.Fatalf("Reconcile of a stale runner's deployment = %+v, %v; want 1 settled", report, err)
	}
	if got, _ := f.store.GetDeployment(t.Context(), sshtest.TenantID, d.ID); got.Status != domain.DeploymentFailed || !strings.Contains(got.Message, "nothing ran") {
		t.Errorf("settled = %+v, want failed because nothing ran", got)
	}
}
