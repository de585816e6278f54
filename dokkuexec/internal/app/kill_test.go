package app_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"dokkumcp.dev/dokkuexec/internal/adapters/postgres"
	sshadapter "dokkumcp.dev/dokkuexec/internal/adapters/ssh"
	"dokkumcp.dev/dokkuexec/internal/app"
	"dokkumcp.dev/dokkuexec/internal/domain"
	"dokkumcp.dev/dokkuexec/internal/sshtest"
	"dokkumcp.dev/dokkuexec/internal/tenancytest"
	"dokkumcp.dev/platform/pg"
	"dokkumcp.dev/testhost/emulator"
)

// deployChildEnv makes the test binary run runDeployChild instead of the
// tests. It holds the child's configuration as JSON.
const deployChildEnv = "DOKKUEXEC_TEST_DEPLOY_CHILD"

// deployChildConfig is what the child needs to start a deployment: the
// database, the test host and a credential for it.
type deployChildConfig struct {
	PostgresURL string
	Host        app.Host
	Credential  app.Credential
}

// staticCredential issues the same credential every time.
type staticCredential app.Credential

func (c staticCredential) IssueSSHCredential(context.Context, string, string, string) (app.Credential, error) {
	return app.Credential(c), nil
}

// runDeployChild is a DokkuExec that starts one deployment, prints its id,
// and runs until it is killed.
func runDeployChild() {
	var cfg deployChildConfig
	if err := json.Unmarshal([]byte(os.Getenv(deployChildEnv)), &cfg); err != nil {
		fmt.Fprintln(os.Stderr, "child config:", err)
		os.Exit(2)
	}
	ctx := context.Background()
	pool, err := pg.Connect(ctx, cfg.PostgresURL)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child database:", err)
		os.Exit(2)
	}
	logger := slog.New(slog.DiscardHandler)
	tenancy := tenancytest.New()
	service := app.NewService(app.Options{
		Tenancy: tenancy, Audit: tenancy, Hosts: &hostResolver{host: cfg.Host}, Credentials: staticCredential(cfg.Credential),
		Executor: sshadapter.New(sshadapter.Options{DialTimeout: 5 * time.Second, CommandTimeout: 10 * time.Second, OutputLimit: 1 << 20, Logger: logger}),
		Logger:   logger, Deployments: postgres.NewStore(pool),
	})
	d, err := service.CreateDeployment(ctx, sshtest.TenantID, imageRequest)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child CreateDeployment:", err)
		os.Exit(2)
	}
	fmt.Println("deployment", d.ID)
	select {}
}

// TestDeploymentReconciledAfterSIGKILL runs a DokkuExec in a subprocess,
// kills it with SIGKILL while its deployment builds, and reconciles the
// deployment from another.
func TestDeploymentReconciledAfterSIGKILL(t *testing.T) {
	t.Parallel()
	f := newDeployFixture(t, emulator.Options{})
	credential, err := f.host.CA.IssueSSHCredential(t.Context(), sshtest.TenantID, sshtest.HostID, "")
	if err != nil {
		t.Fatal(err)
	}
	config, err := json.Marshal(deployChildConfig{PostgresURL: f.databaseURL, Host: f.host.Host, Credential: credential})
	if err != nil {
		t.Fatal(err)
	}

	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), deployChildEnv+"="+string(config))
	child.Stderr = os.Stderr
	stdout, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = child.Process.Kill()
		_ = child.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	id, ok := strings.CutPrefix(strings.TrimSpace(line), "deployment ")
	if err != nil || !ok {
		t.Fatalf("child printed %q, %v; want its deployment id", line, err)
	}

	<-f.gate.Waiting()
	sshtest.WaitFor(t, 10*time.Second, "the child's deployment to run", func() bool {
		d, err := f.store.GetDeployment(t.Context(), sshtest.TenantID, id)
		return err == nil && d.Status == domain.DeploymentRunning
	})
	if err := child.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()
	sshtest.WaitFor(t, 10*time.Second, "the killed child's build to be abandoned", func() bool {
		return strings.Contains(runEmulator(t, f.host.Emulator, "builds:list shop --format json"), `"display_status":"abandoned"`)
	})

	report, err := f.service.Reconcile(t.Context())
	if err != nil || report.Settled != 1 {
		t.Fatalf("Reconcile = %+v, %v; want 1 settled", report, err)
	}
	got, err := f.service.GetDeployment(t.Context(), sshtest.TenantID, id)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != domain.DeploymentFailed || !strings.Contains(got.Message, "ended without a result") || got.BuildID == "" {
		t.Errorf("reconciled = %+v, want failed with the abandoned build's message and id", got)
	}
}
