package stack

import (
	"context"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"dokkumcp.dev/platform/telemetry"
)

// TestStopOrder checks that Stop stops mcpedge and DokkuExec together and
// only then Secrets, Tenancy and Identity. mcpedge's calls that follow a
// deployment end only when DokkuExec ends their watch, and both still need
// Tenancy, Secrets and Identity, to audit what they finish, until they
// have stopped.
func TestStopOrder(t *testing.T) {
	t.Parallel()
	runCtx, cancel := context.WithCancel(context.Background())
	st := &Stack{logger: slog.New(slog.NewTextHandler(io.Discard, nil)), errs: make(chan error, 8), cancel: cancel}
	var mu sync.Mutex
	var stopped []string
	dokkuexecStopping := make(chan struct{})
	for _, name := range []string{"identity", "tenancy", "secrets", "dokkuexec", "mcpedge"} {
		st.run(runCtx, &service{name: name}, io.Discard, Options{}, func(ctx context.Context, _ net.Listener, _ *slog.Logger, _ *telemetry.Telemetry) error {
			<-ctx.Done()
			switch name {
			case "dokkuexec":
				close(dokkuexecStopping)
			case "mcpedge":
				// A deploy_create with wait returns once DokkuExec ends
				// the watch.
				select {
				case <-dokkuexecStopping:
				case <-time.After(10 * time.Second):
					t.Error("mcpedge was stopped alone; DokkuExec kept its call waiting")
				}
			}
			mu.Lock()
			defer mu.Unlock()
			stopped = append(stopped, name)
			return nil
		})
	}
	st.Stop()

	if len(stopped) != 5 {
		t.Fatalf("stopped %v, want five services", stopped)
	}
	front := slices.Clone(stopped[:2])
	slices.Sort(front)
	if !slices.Equal(front, []string{"dokkuexec", "mcpedge"}) || !slices.Equal(stopped[2:], []string{"secrets", "tenancy", "identity"}) {
		t.Errorf("services stopped in order %v, want mcpedge and dokkuexec, then secrets, tenancy, identity", stopped)
	}
}
