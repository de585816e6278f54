package stack

import (
	"context"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync"
	"testing"

	"dokkumcp.dev/platform/telemetry"
)

// TestStopStopsServicesInReverseOrder checks that Stop stops each service
// only after the services started after it have stopped, so that mcpedge
// and DokkuExec can still reach Tenancy, Secrets and Identity, to audit
// the calls and deployments they finish, while they shut down.
func TestStopStopsServicesInReverseOrder(t *testing.T) {
	t.Parallel()
	runCtx, cancel := context.WithCancel(context.Background())
	st := &Stack{logger: slog.New(slog.NewTextHandler(io.Discard, nil)), errs: make(chan error, 8), cancel: cancel}
	names := []string{"identity", "tenancy", "secrets", "dokkuexec", "mcpedge"}
	var mu sync.Mutex
	var stopped []string
	for _, name := range names {
		st.run(runCtx, &service{name: name}, io.Discard, Options{}, func(ctx context.Context, _ net.Listener, _ *slog.Logger, _ *telemetry.Telemetry) error {
			<-ctx.Done()
			mu.Lock()
			defer mu.Unlock()
			stopped = append(stopped, name)
			return nil
		})
	}
	st.Stop()
	want := slices.Clone(names)
	slices.Reverse(want)
	if !slices.Equal(stopped, want) {
		t.Errorf("services stopped in order %v, want %v", stopped, want)
	}
}
