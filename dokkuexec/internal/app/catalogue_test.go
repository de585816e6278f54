package app_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	sshadapter "dokkumcp.dev/dokkuexec/internal/adapters/ssh"
	"dokkumcp.dev/dokkuexec/internal/app"
	"dokkumcp.dev/dokkuexec/internal/domain"
	"dokkumcp.dev/dokkuexec/internal/sshtest"
	"dokkumcp.dev/dokkuexec/internal/tenancytest"
	"dokkumcp.dev/testhost/emulator"
)

// TestServiceSerializesCatalogueWrites checks that the process and domain
// writes wait for another write to the same app.
func TestServiceSerializesCatalogueWrites(t *testing.T) {
	t.Parallel()
	writes := map[string]func(ctx context.Context, s *app.Service) error{
		"ScaleProcesses": func(ctx context.Context, s *app.Service) error {
			_, err := s.ScaleProcesses(ctx, sshtest.TenantID, "", "shop", map[string]int32{"web": 2}, true)
			return err
		},
		"StopProcesses": func(ctx context.Context, s *app.Service) error {
			_, err := s.StopProcesses(ctx, sshtest.TenantID, "", "shop")
			return err
		},
		"RestartProcesses": func(ctx context.Context, s *app.Service) error {
			_, err := s.RestartProcesses(ctx, sshtest.TenantID, "", "shop")
			return err
		},
		"AddDomains": func(ctx context.Context, s *app.Service) error {
			_, err := s.AddDomains(ctx, sshtest.TenantID, "", "shop", []string{"shop.example.com"})
			return err
		},
		"SetDomains": func(ctx context.Context, s *app.Service) error {
			_, err := s.SetDomains(ctx, sshtest.TenantID, "", "shop", []string{"shop.example.com"})
			return err
		},
	}
	for name, write := range writes {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var gated *gatedExecutor
			f := newWrappedFixture(t, emulator.Options{}, func(next app.Executor) app.Executor {
				gated = newGatedExecutor(next)
				return gated
			})
			ctx := t.Context()
			createApps(t, f, "shop")
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

			writeDone := make(chan error, 1)
			go func() { writeDone <- write(ctx, f.service) }()
			sshtest.WaitFor(t, 5*time.Second, name+" to wait for the app's lock", func() bool {
				return f.service.WaitingForApp(sshtest.TenantID, sshtest.HostID, "shop") == 1
			})
			if entered, _ := gated.counts("shop"); entered != enteredBefore+1 {
				t.Fatalf("commands entered for shop = %d, want %d: %s ran while SetConfig held the app", entered, enteredBefore+1, name)
			}

			gated.release()
			if err := <-setDone; err != nil {
				t.Fatalf("SetConfig: %v", err)
			}
			if err := <-writeDone; err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if _, maxRunning := gated.counts("shop"); maxRunning != 1 {
				t.Errorf("commands running at once for shop = %d, want 1", maxRunning)
			}
		})
	}
}

func TestServiceFollowLogsEndsOnShutdown(t *testing.T) {
	t.Parallel()
	host := sshtest.Start(t, emulator.Options{})
	for _, command := range []string{"apps:create shop", "git:from-image shop nginx:1"} {
		if code := host.Emulator.Run(t.Context(), emulator.Invocation{OriginalCommand: command}); code != 0 {
			t.Fatalf("%s: exit status %d", command, code)
		}
	}
	executor := sshadapter.New(sshadapter.Options{DialTimeout: 5 * time.Second, CommandTimeout: 10 * time.Second, OutputLimit: 1 << 20, Logger: slog.New(slog.DiscardHandler)})
	t.Cleanup(func() { _ = executor.Close() })
	stopping := make(chan struct{})
	tenancy := tenancytest.New()
	service := app.NewService(app.Options{
		Tenancy:     tenancy,
		Audit:       tenancy,
		Hosts:       &hostResolver{host: host.Host},
		Credentials: host.CA,
		Executor:    executor,
		Stopping:    stopping,
		Logger:      slog.New(slog.DiscardHandler),
	})

	lines := make(chan domain.LogLine, 10)
	done := make(chan error, 1)
	go func() {
		done <- service.FollowLogs(t.Context(), sshtest.TenantID, "", "shop", 1, "", func(line domain.LogLine) error {
			lines <- line
			return nil
		})
	}()
	if line := <-lines; line.Process != "web.1" || line.Message != "Ready to accept connections" {
		t.Errorf("first line = %+v, want web.1's last history line", line)
	}
	sshtest.WaitFor(t, 5*time.Second, "the emulator to follow logs", func() bool { return host.Emulator.LogFollowers() == 1 })

	close(stopping)
	wantKind(t, <-done, app.KindUnavailable, `the log stream of app "shop" ended because DokkuExec is shutting down`)
	sshtest.WaitFor(t, 5*time.Second, "the SSH session to close", func() bool { return host.Server.ActiveSessions() == 0 })
}
