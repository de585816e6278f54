package app_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	sshadapter "dokkumcp.dev/dokkuexec/internal/adapters/ssh"
	"dokkumcp.dev/dokkuexec/internal/app"
	"dokkumcp.dev/dokkuexec/internal/domain"
	"dokkumcp.dev/dokkuexec/internal/sshtest"
	"dokkumcp.dev/dokkuexec/internal/tenancytest"
	"dokkumcp.dev/testhost/emulator"
	"dokkumcp.dev/testhost/sshd"
)

// TestServiceFaultModes drives each fault of the test host through the
// Service over real SSH and checks the Kind the caller gets, which the RPC
// adapter maps to the Connect code of the same name. Its cases run one at a
// time, not in parallel, so that each can check that no goroutine and no
// SSH session outlives it.
func TestServiceFaultModes(t *testing.T) {
	tests := []struct {
		name string
		// fault runs after one successful ListApps has warmed the pooled
		// connection.
		fault func(t *testing.T, host *sshtest.Host)
		call  func(ctx context.Context, service *app.Service) error
		kind  app.Kind
		want  string
		check func(t *testing.T, host *sshtest.Host, err error)
	}{
		{
			name: "hang",
			fault: func(_ *testing.T, host *sshtest.Host) {
				host.Server.SetFault(sshd.Fault{Mode: sshd.FaultHang, Command: "apps:list"})
			},
			call: func(ctx context.Context, service *app.Service) error {
				ctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
				defer cancel()
				_, err := service.ListApps(ctx, sshtest.TenantID, "")
				return err
			},
			kind: app.KindDeadlineExceeded,
			want: `dokku apps:list on host "prod" timed out`,
		},
		{
			name: "slow stream past the deadline",
			fault: func(_ *testing.T, host *sshtest.Host) {
				host.Server.SetFault(sshd.Fault{Mode: sshd.FaultSlowStream, Command: "apps:list", Output: "[\n\"shop\"]\n", Interval: time.Hour})
			},
			call: func(ctx context.Context, service *app.Service) error {
				ctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
				defer cancel()
				_, err := service.ListApps(ctx, sshtest.TenantID, "")
				return err
			},
			kind: app.KindDeadlineExceeded,
			want: `dokku apps:list on host "prod" timed out`,
		},
		{
			name: "slow stream canceled by the client",
			fault: func(_ *testing.T, host *sshtest.Host) {
				host.Server.SetFault(sshd.Fault{Mode: sshd.FaultSlowStream, Command: "logs", Output: "2026-12-04T22:00:00.000000000Z app[web.1]: first\nsecond\n", Interval: time.Hour})
			},
			call: func(ctx context.Context, service *app.Service) error {
				ctx, cancel := context.WithCancel(ctx)
				defer cancel()
				var lines []domain.LogLine
				err := service.FollowLogs(ctx, sshtest.TenantID, "", "shop", 1, "", func(line domain.LogLine) error {
					lines = append(lines, line)
					cancel()
					return nil
				})
				if len(lines) != 1 || lines[0].Message != "first" {
					return errors.New("the stream did not deliver exactly the first line before the cancel")
				}
				return err
			},
			kind: app.KindCanceled,
			want: `dokku logs on host "prod" was canceled`,
		},
		{
			name: "partial output then exit 1",
			fault: func(_ *testing.T, host *sshtest.Host) {
				host.Server.SetFault(sshd.Fault{Mode: sshd.FaultPartialOutput, Command: "apps:list", Output: "[\"sh"})
			},
			call: func(ctx context.Context, service *app.Service) error {
				_, err := service.ListApps(ctx, sshtest.TenantID, "")
				return err
			},
			kind: app.KindInternal,
			want: `dokku apps:list failed on host "prod" with exit status 1`,
		},
		{
			name: "host key change",
			fault: func(t *testing.T, host *sshtest.Host) {
				host.Server.SetHostKey(sshtest.NewSigner(t))
				host.Server.DropConnections()
			},
			call: func(ctx context.Context, service *app.Service) error {
				_, err := service.ListApps(ctx, sshtest.TenantID, "")
				return err
			},
			kind: app.KindFailedPrecondition,
			want: "re-pin the new key with RegisterHost",
			check: func(t *testing.T, host *sshtest.Host, err error) {
				var changed *app.HostKeyChangedError
				if !errors.As(err, &changed) {
					t.Errorf("error %v does not wrap *app.HostKeyChangedError", err)
				}
				// Nothing logged in through the changed key.
				if got := strings.Count(host.Logs.String(), `"msg":"ssh connection accepted"`); got != 1 {
					t.Errorf("accepted logins = %d, want only the one before the change", got)
				}
			},
		},
		{
			name: "authentication failure",
			fault: func(_ *testing.T, host *sshtest.Host) {
				host.Server.SetConnFault(sshd.ConnFaultRejectLogin)
				host.Server.DropConnections()
			},
			call: func(ctx context.Context, service *app.Service) error {
				_, err := service.ListApps(ctx, sshtest.TenantID, "")
				return err
			},
			kind: app.KindFailedPrecondition,
			want: `host "prod" rejected the platform's SSH credential`,
		},
		{
			name: "connection dropped mid-command",
			fault: func(_ *testing.T, host *sshtest.Host) {
				host.Server.SetFault(sshd.Fault{Mode: sshd.FaultDropConnection, Command: "apps:list", Output: "[\"sh"})
			},
			call: func(ctx context.Context, service *app.Service) error {
				_, err := service.ListApps(ctx, sshtest.TenantID, "")
				return err
			},
			kind: app.KindUnavailable,
			want: `host "prod"`,
		},
		{
			name: "connections refused",
			fault: func(_ *testing.T, host *sshtest.Host) {
				host.Server.SetConnFault(sshd.ConnFaultRefuse)
				host.Server.DropConnections()
			},
			call: func(ctx context.Context, service *app.Service) error {
				_, err := service.ListApps(ctx, sshtest.TenantID, "")
				return err
			},
			kind: app.KindUnavailable,
			want: `the SSH handshake with host "prod" failed`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Registered first, so it runs after the cleanups that close
			// the executor and the test host.
			ignore := goleak.IgnoreCurrent()
			t.Cleanup(func() { goleak.VerifyNone(t, ignore) })

			host := sshtest.Start(t, emulator.Options{})
			executor := sshadapter.New(sshadapter.Options{
				DialTimeout:       5 * time.Second,
				CommandTimeout:    10 * time.Second,
				OutputLimit:       1 << 20,
				KeepaliveInterval: time.Minute,
				IdleTimeout:       time.Minute,
				Logger:            slog.New(slog.DiscardHandler),
			})
			t.Cleanup(func() { _ = executor.Close() })
			tenancy := tenancytest.New()
			service := app.NewService(app.Options{
				Tenancy: tenancy, Audit: tenancy, Hosts: &hostResolver{host: host.Host},
				Credentials: host.CA, Executor: executor, Logger: slog.New(slog.DiscardHandler),
			})
			if _, err := service.ListApps(t.Context(), sshtest.TenantID, ""); err != nil {
				t.Fatalf("ListApps before the fault: %v", err)
			}

			tt.fault(t, host)
			err := tt.call(t.Context(), service)
			wantKind(t, err, tt.kind, tt.want)
			if tt.check != nil {
				tt.check(t, host, err)
			}
			sshtest.WaitFor(t, 10*time.Second, "the host to have no open session", func() bool { return host.Server.ActiveSessions() == 0 })
		})
	}
}

// TestServiceHostKeyChangeNeverConnects checks that a rotated host key
// fails every later call the same way and never lets a command through.
func TestServiceHostKeyChangeNeverConnects(t *testing.T) {
	t.Parallel()
	f := newFixture(t, emulator.Options{})
	f.host.Server.SetHostKey(sshtest.NewSigner(t))

	for range 2 {
		_, err := f.service.ListApps(t.Context(), sshtest.TenantID, "")
		wantKind(t, err, app.KindFailedPrecondition, "re-pin")
	}
	if strings.Contains(f.host.Logs.String(), `"msg":"ssh exec started"`) {
		t.Error("the host ran a command over a connection with a changed host key")
	}
}
