package emulator_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"dokkumcp.dev/testhost/emulator"
)

// startDeploy runs command in the background and returns a channel with
// its result.
func startDeploy(ctx context.Context, e *emulator.Emulator, command string) <-chan result {
	done := make(chan result, 1)
	go func() {
		var stdout, stderr bytes.Buffer
		exit := e.Run(ctx, emulator.Invocation{OriginalCommand: command, Stdout: &stdout, Stderr: &stderr})
		done <- result{stdout.String(), stderr.String(), exit}
	}()
	return done
}

func TestDeployGate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		finish     func(t *testing.T, e *emulator.Emulator, gate *emulator.DeployGate, cancel context.CancelFunc)
		wantExit   int
		wantStatus string
	}{
		{
			name: "released build deploys",
			finish: func(_ *testing.T, _ *emulator.Emulator, gate *emulator.DeployGate, _ context.CancelFunc) {
				gate.Finish(0)
			},
			wantExit:   0,
			wantStatus: "succeeded",
		},
		{
			name: "failed build",
			finish: func(_ *testing.T, _ *emulator.Emulator, gate *emulator.DeployGate, _ context.CancelFunc) {
				gate.Finish(1)
			},
			wantExit:   1,
			wantStatus: "failed",
		},
		{
			name: "builds:cancel kills the build",
			finish: func(t *testing.T, e *emulator.Emulator, _ *emulator.DeployGate, _ context.CancelFunc) {
				got := runCommand(e, "builds:cancel shop", "")
				if got != (result{"-----> Killing app deploy\n", "", 0}) {
					t.Errorf("builds:cancel = %+v", got)
				}
			},
			wantExit:   131,
			wantStatus: "canceled",
		},
		{
			name:       "client gone abandons the build",
			finish:     func(_ *testing.T, _ *emulator.Emulator, _ *emulator.DeployGate, cancel context.CancelFunc) { cancel() },
			wantExit:   137,
			wantStatus: "abandoned",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := emulator.New(emulator.Options{})
			gate := emulator.NewDeployGate()
			e.SetDeployGate(gate)
			runCommand(e, "apps:create shop", "")

			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			done := startDeploy(ctx, e, "git:from-image shop nginx:1.27")
			if app := <-gate.Waiting(); app != "shop" {
				t.Fatalf("waiting app = %q, want shop", app)
			}
			// The emulator serves other commands while the build waits.
			if got := runCommand(e, "builds:list shop --format json", ""); !strings.Contains(got.stdout, `"display_status":"running"`) {
				t.Fatalf("builds:list while waiting = %+v", got)
			}
			tt.finish(t, e, gate, cancel)

			got := <-done
			if got.exit != tt.wantExit {
				t.Fatalf("exit = %d (%+v), want %d", got.exit, got, tt.wantExit)
			}
			if !strings.Contains(got.stdout, "-----> Building shop from Dockerfile") {
				t.Errorf("stdout %q lacks the build step", got.stdout)
			}
			list := runCommand(e, "builds:list shop --format json", "")
			if !strings.Contains(list.stdout, `"display_status":"`+tt.wantStatus+`"`) {
				t.Errorf("builds:list after = %q, want display_status %s", list.stdout, tt.wantStatus)
			}
			if got := runCommand(e, "builds:cancel shop", ""); got != (result{"-----> App not currently deploying\n", "", 0}) {
				t.Errorf("builds:cancel after the build = %+v", got)
			}
		})
	}
}

func TestHoldDeployLock(t *testing.T) {
	t.Parallel()
	e := emulator.New(emulator.Options{})
	runCommand(e, "apps:create shop", "")
	release, err := e.HoldDeployLock("shop")
	if err != nil {
		t.Fatal(err)
	}

	got := runCommand(e, "ps:rebuild shop", "")
	if got.exit != 0 {
		// ps:rebuild of an app without code does nothing.
		t.Fatalf("ps:rebuild without code = %+v", got)
	}
	got = runCommand(e, "git:from-image shop nginx:1.27", "")
	if got.exit != 1 || !strings.Contains(got.stdout, " !     shop currently has a deploy lock in place. Exiting...") {
		t.Fatalf("git:from-image under the lock = %+v", got)
	}
	if list := runCommand(e, "builds:list shop --format json", ""); !strings.Contains(list.stdout, `"source":"git-hook","display_status":"running"`) {
		t.Fatalf("builds:list under the lock = %q", list.stdout)
	}

	// The image was committed before the lock stopped the build, as in
	// Dokku, so a rebuild deploys it.
	release()
	if got := runCommand(e, "ps:rebuild shop", ""); got.exit != 0 || !strings.Contains(got.stdout, "Application deployed") {
		t.Fatalf("ps:rebuild after release = %+v", got)
	}
}
