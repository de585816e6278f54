package ssh_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	sshadapter "dokkumcp.dev/dokkuexec/internal/adapters/ssh"
	"dokkumcp.dev/dokkuexec/internal/app"
	"dokkumcp.dev/dokkuexec/internal/domain"
	"dokkumcp.dev/dokkuexec/internal/sshtest"
	"dokkumcp.dev/testhost/emulator"
	"dokkumcp.dev/testhost/sshd"
)

// countingDialer counts TCP connections and keeps them so a test can cut
// them.
type countingDialer struct {
	mu    sync.Mutex
	conns []net.Conn
}

func (d *countingDialer) Dial(ctx context.Context, network, address string) (net.Conn, error) {
	conn, err := (&net.Dialer{}).DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.conns = append(d.conns, conn)
	return conn, nil
}

func (d *countingDialer) Count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.conns)
}

func (d *countingDialer) CloseAll() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, conn := range d.conns {
		_ = conn.Close()
	}
}

func newExecutor(t *testing.T, mutate func(*sshadapter.Options)) (*sshadapter.Executor, *countingDialer) {
	t.Helper()
	dialer := &countingDialer{}
	opts := sshadapter.Options{
		DialTimeout:    5 * time.Second,
		CommandTimeout: 10 * time.Second,
		OutputLimit:    1 << 20,
		Logger:         slog.New(slog.DiscardHandler),
		Dial:           dialer.Dial,
	}
	if mutate != nil {
		mutate(&opts)
	}
	executor := sshadapter.New(opts)
	t.Cleanup(func() { _ = executor.Close() })
	return executor, dialer
}

func appsReport(t *testing.T, app string) domain.Command {
	t.Helper()
	cmd, err := domain.AppsReportCommand(domain.AppName(app), true)
	if err != nil {
		t.Fatalf("build apps:report: %v", err)
	}
	return cmd
}

func TestExecutorRunsVersion(t *testing.T) {
	t.Parallel()
	host := sshtest.Start(t, emulator.Options{Version: "0.38.27"})
	executor, _ := newExecutor(t, nil)

	result, err := executor.Run(t.Context(), host.Target(), domain.VersionCommand())
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got, want := string(result.Stdout), "dokku version 0.38.27\n"; got != want {
		t.Errorf("stdout = %q, want %q", got, want)
	}
	if result.ExitStatus != 0 {
		t.Errorf("exit status = %d, want 0", result.ExitStatus)
	}
}

func TestExecutorSeparatesStreamsAndExitStatus(t *testing.T) {
	t.Parallel()
	host := sshtest.Start(t, emulator.Options{})
	executor, _ := newExecutor(t, nil)

	result, err := executor.Run(t.Context(), host.Target(), appsReport(t, "nope"))
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if result.ExitStatus != domain.ExitAppNotFound {
		t.Errorf("exit status = %d, want %d", result.ExitStatus, domain.ExitAppNotFound)
	}
	if len(result.Stdout) != 0 {
		t.Errorf("stdout = %q, want empty", result.Stdout)
	}
	if got, want := string(result.Stderr), " !     App nope does not exist\n"; got != want {
		t.Errorf("stderr = %q, want %q", got, want)
	}
}

func TestExecutorReusesConnection(t *testing.T) {
	t.Parallel()
	host := sshtest.Start(t, emulator.Options{})
	executor, dialer := newExecutor(t, nil)

	for i := range 3 {
		if _, err := executor.Run(t.Context(), host.Target(), domain.VersionCommand()); err != nil {
			t.Fatalf("Run %d: %v", i, err)
		}
	}
	if got := dialer.Count(); got != 1 {
		t.Errorf("dials = %d, want 1", got)
	}
	if got := host.CA.Issued(); got != 1 {
		t.Errorf("credentials issued = %d, want 1", got)
	}
}

func TestExecutorReconnectsAfterConnectionDies(t *testing.T) {
	t.Parallel()
	host := sshtest.Start(t, emulator.Options{})
	executor, dialer := newExecutor(t, nil)

	if _, err := executor.Run(t.Context(), host.Target(), domain.VersionCommand()); err != nil {
		t.Fatalf("first Run: %v", err)
	}
	dialer.CloseAll()

	result, err := executor.Run(t.Context(), host.Target(), domain.VersionCommand())
	if err != nil {
		t.Fatalf("Run after the connection died: %v", err)
	}
	if result.ExitStatus != 0 {
		t.Errorf("exit status = %d, want 0", result.ExitStatus)
	}
	if got := dialer.Count(); got != 2 {
		t.Errorf("dials = %d, want 2", got)
	}
}

func TestExecutorHostKeyChanged(t *testing.T) {
	t.Parallel()
	host := sshtest.Start(t, emulator.Options{})
	executor, _ := newExecutor(t, nil)
	other := sshtest.NewSigner(t)
	target := host.Target()
	target.Host.HostKey = string(ssh.MarshalAuthorizedKey(other.PublicKey()))

	_, err := executor.Run(t.Context(), target, domain.VersionCommand())

	var changed *app.HostKeyChangedError
	if !errors.As(err, &changed) {
		t.Fatalf("error = %v (%T), want *app.HostKeyChangedError", err, err)
	}
	if want := ssh.FingerprintSHA256(other.PublicKey()); changed.Expected != want {
		t.Errorf("expected fingerprint = %s, want %s", changed.Expected, want)
	}
	if want := ssh.FingerprintSHA256(host.HostKey.PublicKey()); changed.Received != want {
		t.Errorf("received fingerprint = %s, want %s", changed.Received, want)
	}
	if !strings.Contains(changed.Error(), "re-pin") {
		t.Errorf("message %q does not say how to re-pin", changed.Error())
	}
	if got := host.CA.Issued(); got != 1 {
		t.Errorf("credentials issued = %d, want 1", got)
	}
}

func TestExecutorPinnedKeyChangeRedials(t *testing.T) {
	t.Parallel()
	host := sshtest.Start(t, emulator.Options{})
	executor, dialer := newExecutor(t, nil)

	if _, err := executor.Run(t.Context(), host.Target(), domain.VersionCommand()); err != nil {
		t.Fatalf("Run: %v", err)
	}
	target := host.Target()
	target.Host.HostKey = string(ssh.MarshalAuthorizedKey(sshtest.NewSigner(t).PublicKey()))

	_, err := executor.Run(t.Context(), target, domain.VersionCommand())
	var changed *app.HostKeyChangedError
	if !errors.As(err, &changed) {
		t.Fatalf("error = %v, want *app.HostKeyChangedError after the pinned key changed", err)
	}
	if got := dialer.Count(); got != 2 {
		t.Errorf("dials = %d, want 2", got)
	}
}

func TestExecutorCertificateRejected(t *testing.T) {
	t.Parallel()
	host := sshtest.Start(t, emulator.Options{})
	executor, _ := newExecutor(t, nil)
	untrusted := sshtest.NewCA(t)
	target := host.Target()
	target.Credential = func(ctx context.Context) (app.Credential, error) {
		return untrusted.IssueSSHCredential(ctx, sshtest.TenantID, sshtest.HostID, "")
	}

	_, err := executor.Run(t.Context(), target, domain.VersionCommand())
	if got := app.KindOf(err); got != app.KindFailedPrecondition {
		t.Fatalf("kind = %v (error %v), want FailedPrecondition", got, err)
	}
	if !strings.Contains(err.Error(), "GetHostTrust") {
		t.Errorf("message %q does not name GetHostTrust", err)
	}
}

func TestExecutorHostUnreachable(t *testing.T) {
	t.Parallel()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	host := sshtest.Start(t, emulator.Options{})
	target := host.Target()
	target.Host.Port = uint32(listener.Addr().(*net.TCPAddr).Port)
	_ = listener.Close()
	executor, _ := newExecutor(t, nil)

	_, err = executor.Run(t.Context(), target, domain.VersionCommand())
	if got := app.KindOf(err); got != app.KindUnavailable {
		t.Fatalf("kind = %v (error %v), want Unavailable", got, err)
	}
	if strings.Contains(err.Error(), "127.0.0.1") {
		t.Errorf("message %q leaks the host address", err)
	}
}

func TestExecutorCancelClosesSession(t *testing.T) {
	t.Parallel()
	host := sshtest.Start(t, emulator.Options{})
	host.Server.SetFault(sshd.Fault{Mode: sshd.FaultHang, Command: "apps:list"})
	executor, dialer := newExecutor(t, nil)

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := executor.Run(ctx, host.Target(), domain.AppsListCommand(true))
		done <- err
	}()
	sshtest.WaitFor(t, 5*time.Second, "the exec request to start", func() bool {
		return strings.Contains(host.Logs.String(), `"ssh exec started"`)
	})
	cancel()

	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("error = %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	sshtest.WaitFor(t, 5*time.Second, "the server to see the session closed", func() bool {
		return strings.Contains(host.Logs.String(), `"ssh exec abandoned"`)
	})

	// The connection survives a closed session.
	if _, err := executor.Run(t.Context(), host.Target(), domain.VersionCommand()); err != nil {
		t.Fatalf("Run after cancel: %v", err)
	}
	if got := dialer.Count(); got != 1 {
		t.Errorf("dials = %d, want 1", got)
	}
}

func TestExecutorCommandTimeout(t *testing.T) {
	t.Parallel()
	host := sshtest.Start(t, emulator.Options{})
	host.Server.SetFault(sshd.Fault{Mode: sshd.FaultHang, Command: "apps:list"})
	executor, _ := newExecutor(t, func(o *sshadapter.Options) { o.CommandTimeout = 300 * time.Millisecond })

	_, err := executor.Run(t.Context(), host.Target(), domain.AppsListCommand(true))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error = %v, want context.DeadlineExceeded", err)
	}
	sshtest.WaitFor(t, 5*time.Second, "the server to see the session closed", func() bool {
		return strings.Contains(host.Logs.String(), `"ssh exec abandoned"`)
	})
}

func TestExecutorOutputLimit(t *testing.T) {
	t.Parallel()
	host := sshtest.Start(t, emulator.Options{})
	executor, _ := newExecutor(t, func(o *sshadapter.Options) { o.OutputLimit = 10 })
	create, err := domain.AppsCreateCommand("shop")
	if err != nil {
		t.Fatalf("build apps:create: %v", err)
	}
	if _, err := executor.Run(t.Context(), host.Target(), create); err != nil {
		t.Fatalf("create: %v", err)
	}

	result, err := executor.Run(t.Context(), host.Target(), appsReport(t, "shop"))
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if !result.StdoutTruncated {
		t.Error("StdoutTruncated = false, want true")
	}
	if len(result.Stdout) != 10 {
		t.Errorf("len(stdout) = %d, want 10", len(result.Stdout))
	}
	if result.StderrTruncated {
		t.Error("StderrTruncated = true, want false")
	}
	if result.ExitStatus != 0 {
		t.Errorf("exit status = %d, want 0", result.ExitStatus)
	}
}

func TestStreamStopsWhenOnLineFails(t *testing.T) {
	t.Parallel()
	host := sshtest.Start(t, emulator.Options{})
	for _, command := range []string{"apps:create shop", "git:from-image shop nginx:1"} {
		if code := host.Emulator.Run(t.Context(), emulator.Invocation{OriginalCommand: command}); code != 0 {
			t.Fatalf("%s: exit status %d", command, code)
		}
	}
	executor, _ := newExecutor(t, nil)
	cmd, err := domain.LogsCommand("shop", 3, "", true)
	if err != nil {
		t.Fatalf("LogsCommand: %v", err)
	}

	stop := errors.New("client gone")
	var lines []string
	_, err = executor.Stream(t.Context(), host.Target(), cmd, func(line string) error {
		lines = append(lines, line)
		if len(lines) == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Fatalf("Stream error = %v, want the onLine error", err)
	}
	if len(lines) != 2 || !strings.HasSuffix(lines[0], "Starting process") {
		t.Errorf("lines = %q, want the first two history lines", lines)
	}
	sshtest.WaitFor(t, 10*time.Second, "the session to close", func() bool { return host.Server.ActiveSessions() == 0 })

	// The pooled connection still serves commands.
	result, err := executor.Run(t.Context(), host.Target(), domain.VersionCommand())
	if err != nil || result.ExitStatus != 0 {
		t.Errorf("version after the stream = %+v, %v", result, err)
	}
}
