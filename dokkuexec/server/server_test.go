package server_test

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"dokkumcp.dev/dokkuexec/server"
	"dokkumcp.dev/platform/config"
	"dokkumcp.dev/platform/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestRegisterFlagsDefaults(t *testing.T) {
	t.Parallel()
	cfg := server.RegisterFlags(config.NewFlagSet("dokkuexec"))

	if cfg.Common.Listen != "127.0.0.1:8084" {
		t.Errorf("listen = %q, want 127.0.0.1:8084", cfg.Common.Listen)
	}
	if cfg.ClientID != "dokkuexec" {
		t.Errorf("client id = %q, want dokkuexec", cfg.ClientID)
	}
	if cfg.CommandTimeout != 60*time.Second || cfg.SSHDialTimeout != 10*time.Second || cfg.OutputLimit != 1<<20 {
		t.Errorf("timeouts and limit = %s, %s, %d; want 60s, 10s, 1048576", cfg.CommandTimeout, cfg.SSHDialTimeout, cfg.OutputLimit)
	}
}

func TestRunRejectsMissingFlags(t *testing.T) {
	t.Parallel()
	cfg := server.RegisterFlags(config.NewFlagSet("dokkuexec"))

	err := server.Run(t.Context(), server.Options{Config: cfg, Logger: slog.New(slog.DiscardHandler)})
	if err == nil {
		t.Fatal("Run without required flags returned nil")
	}
	for _, flag := range []string{"--identity-url", "--client-secret", "--tenancy-url", "--secrets-url", "--postgres-url"} {
		if !strings.Contains(err.Error(), flag) {
			t.Errorf("error %q does not name %s", err, flag)
		}
	}
}

func TestRunServesUntilCanceled(t *testing.T) {
	t.Parallel()
	fs := config.NewFlagSet("dokkuexec")
	cfg := server.RegisterFlags(fs)
	// Nothing listens on these URLs; Run must not contact them before a request.
	err := fs.Parse([]string{
		"--identity-url", "http://127.0.0.1:1",
		"--client-secret", "test-secret",
		"--tenancy-url", "http://127.0.0.1:1",
		"--secrets-url", "http://127.0.0.1:1",
		"--postgres-url", pgtest.NewDatabase(t),
	})
	if err != nil {
		t.Fatalf("parse flags: %v", err)
	}
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- server.Run(ctx, server.Options{Config: cfg, Listener: listener, Logger: slog.New(slog.DiscardHandler)})
	}()

	resp, err := http.Get("http://" + listener.Addr().String() + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /metrics status = %d, want 200", resp.StatusCode)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v, want nil after cancel", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

func TestRegisterFlagsSSHPoolDefaults(t *testing.T) {
	t.Parallel()
	cfg := server.RegisterFlags(config.NewFlagSet("dokkuexec"))

	durations := []struct {
		flag      string
		got, want time.Duration
	}{
		{"ssh-keepalive", cfg.SSHKeepalive, 15 * time.Second},
		{"ssh-idle-timeout", cfg.SSHIdleTimeout, 5 * time.Minute},
		{"ssh-backoff-base", cfg.SSHBackoffBase, 200 * time.Millisecond},
		{"ssh-backoff-max", cfg.SSHBackoffMax, 5 * time.Second},
		{"ssh-breaker-cooldown", cfg.SSHBreakerCooldown, 30 * time.Second},
	}
	for _, d := range durations {
		if d.got != d.want {
			t.Errorf("--%s = %s, want %s", d.flag, d.got, d.want)
		}
	}
	if cfg.SSHMaxSessions != 10 {
		t.Errorf("--ssh-max-sessions = %d, want 10, OpenSSH's MaxSessions default", cfg.SSHMaxSessions)
	}
	if cfg.SSHDialAttempts != 3 {
		t.Errorf("--ssh-dial-attempts = %d, want 3", cfg.SSHDialAttempts)
	}
	if cfg.SSHBreakerThreshold != 5 {
		t.Errorf("--ssh-breaker-threshold = %d, want 5", cfg.SSHBreakerThreshold)
	}
}

func TestRunRejectsInvalidSSHPoolFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--ssh-max-sessions", "0"}, "invalid --ssh-max-sessions 0"},
		{[]string{"--ssh-dial-attempts", "0"}, "invalid --ssh-dial-attempts 0"},
		{[]string{"--ssh-keepalive", "-1s"}, "invalid --ssh-keepalive -1s"},
		{[]string{"--ssh-backoff-base", "10s", "--ssh-backoff-max", "1s"}, "invalid --ssh-backoff-max 1s"},
		{[]string{"--ssh-breaker-threshold", "-1"}, "invalid --ssh-breaker-threshold -1"},
		{[]string{"--ssh-breaker-cooldown", "0s"}, "invalid --ssh-breaker-cooldown 0s"},
	}
	for _, tt := range tests {
		t.Run(tt.args[0], func(t *testing.T) {
			t.Parallel()
			fs := config.NewFlagSet("dokkuexec")
			cfg := server.RegisterFlags(fs)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatalf("parse %q: %v", tt.args, err)
			}

			err := server.Run(t.Context(), server.Options{Config: cfg, Logger: slog.New(slog.DiscardHandler)})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Run error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}
