package app_test

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	sshadapter "dokkumcp.dev/dokkuexec/internal/adapters/ssh"
	"dokkumcp.dev/dokkuexec/internal/app"
	"dokkumcp.dev/dokkuexec/internal/domain"
	"dokkumcp.dev/dokkuexec/internal/sshtest"
	"dokkumcp.dev/dokkuexec/internal/tenancytest"
	"dokkumcp.dev/testhost/emulator"
)

// recordingExecutor records the commands it runs.
type recordingExecutor struct {
	app.Executor
	mu       sync.Mutex
	commands []string
}

func (r *recordingExecutor) Run(ctx context.Context, target app.Target, cmd domain.Command) (domain.Result, error) {
	r.mu.Lock()
	r.commands = append(r.commands, cmd.String())
	r.mu.Unlock()
	return r.Executor.Run(ctx, target, cmd)
}

func (r *recordingExecutor) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	commands := r.commands
	r.commands = nil
	return commands
}

func TestServiceHostInfoCache(t *testing.T) {
	t.Parallel()
	tests := []struct {
		version     string
		pluginsCmd  string
		wantVersion string
		wantCore    bool
	}{
		{"0.38.27", "plugin:list --format json", "0.38.27", true},
		{"0.38.20", "plugin:list", "0.38.20", false},
	}
	for _, tt := range tests {
		t.Run(tt.version, func(t *testing.T) {
			t.Parallel()
			host := sshtest.Start(t, emulator.Options{Version: tt.version, Plugins: []string{"postgres"}})
			executor := sshadapter.New(sshadapter.Options{DialTimeout: 5 * time.Second, CommandTimeout: 10 * time.Second, OutputLimit: 1 << 20, Logger: slog.New(slog.DiscardHandler)})
			t.Cleanup(func() { _ = executor.Close() })
			recorder := &recordingExecutor{Executor: executor}
			var mu sync.Mutex
			now := time.Unix(1796413860, 0)
			tenancy := tenancytest.New()
			service := app.NewService(app.Options{
				Tenancy:     tenancy,
				Audit:       tenancy,
				Hosts:       &hostResolver{host: host.Host},
				Credentials: host.CA,
				Executor:    recorder,
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

			info, err := service.GetHostInfo(t.Context(), sshtest.TenantID, "")
			if err != nil {
				t.Fatalf("GetHostInfo: %v", err)
			}
			if info.Version.String() != tt.wantVersion || !info.FetchTime.Equal(time.Unix(1796413860, 0)) {
				t.Errorf("info = %v at %v, want %s", info.Version, info.FetchTime, tt.wantVersion)
			}
			i := slices.IndexFunc(info.Plugins, func(p domain.Plugin) bool { return p.Name == "postgres" })
			apps := slices.IndexFunc(info.Plugins, func(p domain.Plugin) bool { return p.Name == "apps" })
			if i < 0 || apps < 0 || !info.Plugins[i].Enabled || info.Plugins[i].Core || info.Plugins[apps].Core != tt.wantCore {
				t.Errorf("plugins = %+v, want postgres enabled and apps core=%v", info.Plugins, tt.wantCore)
			}
			if got, want := recorder.take(), []string{"version", tt.pluginsCmd}; !slices.Equal(got, want) {
				t.Errorf("commands = %q, want %q", got, want)
			}

			advance(app.HostInfoTTL - time.Second)
			if _, err := service.GetHostInfo(t.Context(), sshtest.TenantID, ""); err != nil {
				t.Fatalf("GetHostInfo from the cache: %v", err)
			}
			if got := recorder.take(); len(got) != 0 {
				t.Errorf("commands within the cache lifetime = %q, want none", got)
			}

			advance(time.Second)
			again, err := service.GetHostInfo(t.Context(), sshtest.TenantID, "")
			if err != nil {
				t.Fatalf("GetHostInfo after the cache lifetime: %v", err)
			}
			if got := recorder.take(); len(got) != 2 || !again.FetchTime.Equal(time.Unix(1796413860, 0).Add(app.HostInfoTTL)) {
				t.Errorf("after the cache lifetime: commands %q, fetch time %v; want both commands run again", got, again.FetchTime)
			}
		})
	}
}
