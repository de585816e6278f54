package ssh_test

import (
	"context"
	"errors"
	"log/slog"
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

// clock is a settable time source for the circuit breaker.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func runVersion(t *testing.T, executor *sshadapter.Executor, target app.Target) {
	t.Helper()
	result, err := executor.Run(t.Context(), target, domain.VersionCommand())
	if err != nil {
		t.Fatalf("Run version: %v", err)
	}
	if result.ExitStatus != 0 {
		t.Fatalf("version exit status = %d, want 0", result.ExitStatus)
	}
}

// The keepalive tests use an interval long enough that a healthy test host
// on a loaded machine replies within it.

func TestKeepaliveDropsUnansweredConnection(t *testing.T) {
	t.Parallel()
	host := sshtest.Start(t, emulator.Options{})
	executor, dialer := newExecutor(t, func(o *sshadapter.Options) { o.KeepaliveInterval = 250 * time.Millisecond })

	runVersion(t, executor, host.Target())
	host.Server.SetConnFault(sshd.ConnFaultIgnoreKeepalive)
	sshtest.WaitFor(t, 10*time.Second, "the executor to close the connection", func() bool { return host.Server.ActiveConnections() == 0 })

	host.Server.SetConnFault(sshd.ConnFaultNone)
	runVersion(t, executor, host.Target())
	if got := dialer.Count(); got != 2 {
		t.Errorf("dials = %d, want 2", got)
	}
}

func TestKeepaliveFailsCommandOnDeadConnection(t *testing.T) {
	t.Parallel()
	host := sshtest.Start(t, emulator.Options{})
	host.Server.SetFault(sshd.Fault{Mode: sshd.FaultHang, Command: "apps:list"})
	executor, _ := newExecutor(t, func(o *sshadapter.Options) { o.KeepaliveInterval = 250 * time.Millisecond })
	runVersion(t, executor, host.Target())

	// The command hangs on a connection that then stops replying: only the
	// keepalive can end it before the command timeout.
	done := make(chan error, 1)
	go func() {
		_, err := executor.Run(t.Context(), host.Target(), domain.AppsListCommand(true))
		done <- err
	}()
	sshtest.WaitFor(t, 10*time.Second, "the command to start", func() bool { return host.Server.ActiveSessions() == 1 })
	host.Server.SetConnFault(sshd.ConnFaultIgnoreKeepalive)

	err := <-done
	if got := app.KindOf(err); got != app.KindUnavailable {
		t.Fatalf("kind = %v (error %v), want Unavailable", got, err)
	}
	if !strings.Contains(err.Error(), "check the app's state before retrying") {
		t.Errorf("message %q does not say the command may have run", err)
	}
}

func TestIdleTimeoutClosesConnection(t *testing.T) {
	t.Parallel()
	host := sshtest.Start(t, emulator.Options{})
	executor, dialer := newExecutor(t, func(o *sshadapter.Options) { o.IdleTimeout = 20 * time.Millisecond })

	runVersion(t, executor, host.Target())
	sshtest.WaitFor(t, 10*time.Second, "the idle connection to close", func() bool { return host.Server.ActiveConnections() == 0 })

	runVersion(t, executor, host.Target())
	if got := dialer.Count(); got != 2 {
		t.Errorf("dials = %d, want 2", got)
	}
}

func TestDialRetriesWithBackoff(t *testing.T) {
	t.Parallel()
	host := sshtest.Start(t, emulator.Options{})
	host.Server.SetConnFault(sshd.ConnFaultRefuse)
	executor, dialer := newExecutor(t, func(o *sshadapter.Options) {
		o.DialAttempts = 3
		o.BackoffBase = time.Millisecond
		o.BackoffMax = 4 * time.Millisecond
	})

	_, err := executor.Run(t.Context(), host.Target(), domain.VersionCommand())
	if got := app.KindOf(err); got != app.KindUnavailable {
		t.Fatalf("kind = %v (error %v), want Unavailable", got, err)
	}
	if got := dialer.Count(); got != 3 {
		t.Errorf("dials = %d, want 3", got)
	}
}

func TestDialBackoffEndsWithContext(t *testing.T) {
	t.Parallel()
	host := sshtest.Start(t, emulator.Options{})
	host.Server.SetConnFault(sshd.ConnFaultRefuse)
	logs := &sshtest.Buffer{}
	executor, dialer := newExecutor(t, func(o *sshadapter.Options) {
		o.DialAttempts = 10
		o.BackoffBase = time.Hour
		o.BackoffMax = time.Hour
		o.Logger = slog.New(slog.NewJSONHandler(logs, nil))
	})

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := executor.Run(ctx, host.Target(), domain.VersionCommand())
		done <- err
	}()
	sshtest.WaitFor(t, 10*time.Second, "the executor to wait before its second dial", func() bool {
		return strings.Contains(logs.String(), `"msg":"ssh connect failed; retrying"`)
	})
	cancel()

	err := <-done
	if got := app.KindOf(err); got != app.KindUnavailable {
		t.Errorf("kind = %v (error %v), want Unavailable from the failed dial", got, err)
	}
	if got := dialer.Count(); got != 1 {
		t.Errorf("dials = %d, want 1", got)
	}
}

func TestBreakerOpensThenProbes(t *testing.T) {
	t.Parallel()
	host := sshtest.Start(t, emulator.Options{})
	host.Server.SetConnFault(sshd.ConnFaultRefuse)
	now := &clock{now: time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)}
	executor, dialer := newExecutor(t, func(o *sshadapter.Options) {
		o.BreakerThreshold = 2
		o.BreakerCooldown = 30 * time.Second
		o.Now = now.Now
	})
	run := func() error {
		_, err := executor.Run(t.Context(), host.Target(), domain.VersionCommand())
		return err
	}

	for i := range 2 {
		if err := run(); !strings.Contains(err.Error(), "handshake") {
			t.Fatalf("Run %d error = %v, want the handshake failure", i, err)
		}
	}
	err := run()
	if got := app.KindOf(err); got != app.KindUnavailable {
		t.Fatalf("kind with the breaker open = %v (error %v), want Unavailable", got, err)
	}
	if want := `host "prod" is unreachable: the last 2 connection attempts failed; DokkuExec tries again at 2026-12-04T12:00:30Z (in 30s)`; err.Error() != want {
		t.Errorf("message = %q, want %q", err, want)
	}
	if got := dialer.Count(); got != 2 {
		t.Errorf("dials with the breaker open = %d, want 2", got)
	}

	// A failed probe after the cool-down opens the breaker again.
	now.Advance(30 * time.Second)
	if err := run(); !strings.Contains(err.Error(), "handshake") {
		t.Fatalf("probe error = %v, want the handshake failure", err)
	}
	if err := run(); !strings.Contains(err.Error(), "tries again at 2026-12-04T12:01:00Z") {
		t.Fatalf("error after the failed probe = %v, want the breaker open until 12:01:00", err)
	}

	// A successful probe closes it.
	host.Server.SetConnFault(sshd.ConnFaultNone)
	now.Advance(30 * time.Second)
	runVersion(t, executor, host.Target())
	runVersion(t, executor, host.Target())
	if got := dialer.Count(); got != 4 {
		t.Errorf("dials = %d, want 4", got)
	}
}

func TestBreakerIgnoresCommandAndTrustFailures(t *testing.T) {
	t.Parallel()
	host := sshtest.Start(t, emulator.Options{})
	executor, _ := newExecutor(t, func(o *sshadapter.Options) {
		o.BreakerThreshold = 1
		o.BreakerCooldown = time.Hour
	})

	host.Server.SetFault(sshd.Fault{Mode: sshd.FaultPartialOutput, Command: "apps:list", Output: "[\"sh"})
	for range 2 {
		result, err := executor.Run(t.Context(), host.Target(), domain.AppsListCommand(true))
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		if result.ExitStatus != 1 || string(result.Stdout) != `["sh` {
			t.Errorf("result = status %d, stdout %q; want status 1 and the partial output", result.ExitStatus, result.Stdout)
		}
	}

	target := host.Target()
	target.Host.HostKey = string(ssh.MarshalAuthorizedKey(sshtest.NewSigner(t).PublicKey()))
	for range 2 {
		_, err := executor.Run(t.Context(), target, domain.VersionCommand())
		var changed *app.HostKeyChangedError
		if !errors.As(err, &changed) {
			t.Fatalf("error = %v, want *app.HostKeyChangedError each time", err)
		}
	}
	runVersion(t, executor, host.Target())
}

func TestSessionLimitQueuesUnderDeadline(t *testing.T) {
	t.Parallel()
	host := sshtest.Start(t, emulator.Options{})
	host.Server.SetFault(sshd.Fault{Mode: sshd.FaultHang, Command: "apps:list"})
	executor, _ := newExecutor(t, func(o *sshadapter.Options) { o.MaxSessions = 1 })

	hangCtx, stopHang := context.WithCancel(t.Context())
	hung := make(chan error, 1)
	go func() {
		_, err := executor.Run(hangCtx, host.Target(), domain.AppsListCommand(true))
		hung <- err
	}()
	sshtest.WaitFor(t, 10*time.Second, "the hanging command to take the session", func() bool { return host.Server.ActiveSessions() == 1 })

	// A command whose deadline passes in the queue gets DeadlineExceeded
	// and never reaches the host.
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	_, err := executor.Run(ctx, host.Target(), domain.VersionCommand())
	if got := app.KindOf(err); got != app.KindDeadlineExceeded {
		t.Fatalf("kind = %v (error %v), want DeadlineExceeded", got, err)
	}
	for _, want := range []string{`host "prod"`, "at most 1 commands at once", "nothing was run"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q does not contain %q", err, want)
		}
	}

	// A queued command with time left runs once the session is free.
	queued := make(chan error, 1)
	go func() {
		_, err := executor.Run(t.Context(), host.Target(), domain.VersionCommand())
		queued <- err
	}()
	stopHang()
	if err := <-hung; !errors.Is(err, context.Canceled) {
		t.Errorf("hanging command error = %v, want context.Canceled", err)
	}
	if err := <-queued; err != nil {
		t.Errorf("queued command: %v", err)
	}
}

func TestCloseEndsConnections(t *testing.T) {
	t.Parallel()
	host := sshtest.Start(t, emulator.Options{})
	executor, _ := newExecutor(t, func(o *sshadapter.Options) {
		o.KeepaliveInterval = time.Minute
		o.IdleTimeout = time.Minute
	})
	runVersion(t, executor, host.Target())

	if err := executor.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	sshtest.WaitFor(t, 10*time.Second, "the connection to close", func() bool { return host.Server.ActiveConnections() == 0 })
	_, err := executor.Run(t.Context(), host.Target(), domain.VersionCommand())
	if got := app.KindOf(err); got != app.KindUnavailable {
		t.Errorf("kind after Close = %v (error %v), want Unavailable", got, err)
	}
}

func TestSessionRejectedByHostKeepsConnection(t *testing.T) {
	t.Parallel()
	host := sshtest.Start(t, emulator.Options{})
	host.Server.SetFault(sshd.Fault{Mode: sshd.FaultHang, Command: "apps:list"})
	host.Server.SetMaxSessions(1)
	executor, dialer := newExecutor(t, func(o *sshadapter.Options) {
		o.MaxSessions = 2
		o.BackoffBase = time.Millisecond
	})

	hangCtx, stopHang := context.WithCancel(t.Context())
	hung := make(chan error, 1)
	go func() {
		_, err := executor.Run(hangCtx, host.Target(), domain.AppsListCommand(true))
		hung <- err
	}()
	sshtest.WaitFor(t, 10*time.Second, "the hanging command to take the session", func() bool { return host.Server.ActiveSessions() == 1 })

	_, err := executor.Run(t.Context(), host.Target(), domain.VersionCommand())
	if got := app.KindOf(err); got != app.KindResourceExhausted {
		t.Fatalf("kind = %v (error %v), want ResourceExhausted", got, err)
	}
	if !strings.Contains(err.Error(), `host "prod" rejected a new SSH session`) {
		t.Errorf("message %q does not name the host and the rejection", err)
	}
	// The rejection left the connection and its hanging command alone.
	if got := host.Server.ActiveSessions(); got != 1 {
		t.Errorf("active sessions after the rejection = %d, want 1", got)
	}

	stopHang()
	<-hung
	sshtest.WaitFor(t, 10*time.Second, "the host to free the session", func() bool { return host.Server.ActiveSessions() == 0 })
	runVersion(t, executor, host.Target())
	if got := dialer.Count(); got != 1 {
		t.Errorf("dials = %d, want 1", got)
	}
}
