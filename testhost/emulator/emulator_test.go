package emulator_test

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"dokkumcp.dev/testhost/emulator"
)

// result is what one command sent back.
type result struct {
	stdout, stderr string
	exit           int
}

func newEmulator(version string) *emulator.Emulator {
	return emulator.New(emulator.Options{
		Version: version,
		Clock:   func() time.Time { return time.Unix(1796413860, 0) },
	})
}

func runCommand(e *emulator.Emulator, command, stdin string) result {
	var stdout, stderr bytes.Buffer
	exit := e.Run(context.Background(), emulator.Invocation{
		OriginalCommand: command,
		Stdin:           strings.NewReader(stdin),
		Stdout:          &stdout,
		Stderr:          &stderr,
	})
	return result{stdout.String(), stderr.String(), exit}
}

func TestRunCommands(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		version string
		plugins []string
		setup   []string
		command string
		stdin   string
		want    result
	}{
		{
			name:    "apps:list json before 0.38.21 is a flag error",
			version: "0.38.20",
			command: "apps:list --format json",
			want:    result{"", "Usage of apps:list:\nunknown flag: --format\n", 2},
		},
		{
			name:    "ps report of 0.35 has the old flags",
			version: "0.35.20",
			setup:   []string{"apps:create shop"},
			command: "ps:report shop --format json",
			want: result{`{"deployed":"false","processes":"0","ps-can-scale":"true","ps-computed-procfile-path":"Procfile",` +
				`"ps-global-procfile-path":"Procfile","ps-procfile-path":"","ps-restart-policy":"on-failure:10","restore":"true","running":"false"}` + "\n", "", 0},
		},
		{
			name:    "domains report before 0.38.0 takes --format as an info flag",
			version: "0.37.10",
			setup:   []string{"apps:create shop"},
			command: "domains:report shop --format json",
			want:    result{"", " !     Invalid flag passed, valid flags: --domains-app-enabled --domains-app-vhosts --domains-global-enabled --domains-global-vhosts\n", 1},
		},
		{
			name:    "domains report text before 0.38.0 pads values",
			version: "0.35.20",
			setup:   []string{"apps:create shop"},
			command: "domains:report shop",
			want: result{"=====> shop domains information\n" +
				"       Domains app enabled:           false                    \n" +
				"       Domains app vhosts:                                     \n" +
				"       Domains global enabled:        false                    \n" +
				"       Domains global vhosts:                                  \n", "", 0},
		},
		{
			name:    "report json before 0.38.8 has only prefixed keys",
			version: "0.38.7",
			setup:   []string{"apps:create shop"},
			command: "domains:report shop --format json",
			want:    result{`{"domains-app-enabled":"false","domains-app-vhosts":"","domains-global-enabled":"false","domains-global-vhosts":""}` + "\n", "", 0},
		},
		{
			name:    "version prints the configured version verbatim",
			version: "1:0.38.27",
			command: "version",
			want:    result{"dokku version 1:0.38.27\n", "", 0},
		},
		{
			name:    "global --app names the app for core plugins",
			setup:   []string{"apps:create shop"},
			command: "--app shop apps:exists",
			want:    result{"", "", 0},
		},
		{
			name:    "unknown command echoes the arguments after --app",
			setup:   []string{"apps:create shop"},
			command: "--app shop apps:info",
			want:    result{"", " !     `apps:info shop` is not a dokku command.\n !     See `dokku help` for a list of available commands.\n", 1},
		},
		{
			name:    "git commands skip quote handling",
			command: `git:sync "shop" https://example.invalid/x.git`,
			want:    result{"", " !     App \"shop\" does not exist\n", 20},
		},
		{
			name:    "plugin install needs root",
			command: "plugin:install https://example.invalid/p.git",
			want:    result{"", " !     This command must be run as root\n", 1},
		},
		{
			name:    "destroy confirmed on stdin",
			setup:   []string{"apps:create shop"},
			command: "apps:destroy shop",
			stdin:   "shop\n",
			want: result{
				"> -----> Destroying shop (including all add-ons)\n-----> Cleaning up...\n-----> Retiring old containers and images\n",
				" !     WARNING: Potentially Destructive Action\n !     This command will destroy app shop.\n !     To proceed, type \"shop\"\n",
				0,
			},
		},
		{
			name:    "destroy with a wrong answer aborts",
			setup:   []string{"apps:create shop"},
			command: "apps:destroy shop",
			stdin:   "nope\n",
			want: result{
				"> ",
				" !     WARNING: Potentially Destructive Action\n !     This command will destroy app shop.\n !     To proceed, type \"shop\"\nConfirmation did not match test. Aborted.\n",
				1,
			},
		},
		{
			name:    "integer config values come back canonical",
			setup:   []string{"apps:create shop", "config:set --no-restart shop A=007"},
			command: "config:get shop A",
			want:    result{"7\n", "", 0},
		},
		{
			name:    "encoded config keeps trailing newline",
			setup:   []string{"apps:create shop", "config:set --encoded --no-restart shop Q=eAo="},
			command: "config:export --format json shop",
			want:    result{`{"NO_VHOST":"1","Q":"x\n"}` + "\n", "", 0},
		},
		{
			name:    "bad base64 names the key",
			setup:   []string{"apps:create shop"},
			command: "config:set --encoded shop Q=!!",
			want:    result{"", " !     illegal base64 data at input byte 0 for key 'Q'\n", 1},
		},
		{
			name:    "quiet drops the report header",
			setup:   []string{"apps:create shop"},
			command: "--quiet domains:report shop",
			want:    result{"       Domains app enabled:           false\n       Domains app vhosts:            \n       Domains global enabled:        false\n       Domains global vhosts:         \n", "", 0},
		},
		{
			name:    "report info flag prints one value",
			setup:   []string{"apps:create shop"},
			command: "apps:report shop --app-locked",
			want:    result{"false\n", "", 0},
		},
		{
			name:    "ps:restart of a missing app reports on stdout",
			command: "ps:restart nope",
			want:    result{" !     App nope does not exist\n", "", 20},
		},
		{
			name:    "logs of a deployed app",
			setup:   []string{"apps:create shop", "git:from-image shop nginx:1"},
			command: "logs shop --num 1 --quiet",
			want:    result{"Ready to accept connections\n", "", 0},
		},
		{
			name:    "same image again changes nothing",
			setup:   []string{"apps:create shop", "git:from-image shop nginx:1"},
			command: "git:from-image shop nginx:1",
			want: result{
				"-----> Generating build context\n-----> Image exists on host, skipping pull\n-----> Updating git repository with specified build context\n" +
					" !     No changes detected, skipping git commit\n !     Call 'ps:rebuild' on app to rebuild the app from existing source\n",
				"",
				1,
			},
		},
		{
			name:    "unlock without a lock fails",
			setup:   []string{"apps:create shop"},
			command: "apps:unlock shop",
			want:    result{"", " !     Unable to remove deploy lock\n", 1},
		},
		{
			name:    "real but unemulated command says so",
			command: "config:clear shop",
			want:    result{"", " !     `config:clear` is not emulated by the Dokku test host\n", 1},
		},
		{
			name:    "installed community plugin command is unemulated",
			plugins: []string{"postgres"},
			command: "postgres:backup db bucket",
			want:    result{"", " !     `postgres:backup` is not emulated by the Dokku test host\n", 1},
		},
		{
			name:    "command of a missing plugin is unknown",
			command: "postgres:create db",
			want:    result{"", " !     `postgres:create db` is not a dokku command.\n !     See `dokku help` for a list of available commands.\n", 1},
		},
		{
			name:    "oversized command never reaches dokku",
			command: "config:set shop A=" + strings.Repeat("x", 131072),
			want:    result{"", "/bin/bash: Argument list too long\n", 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			version := tt.version
			if version == "" {
				version = emulator.DefaultVersion
			}
			e := emulator.New(emulator.Options{
				Version: version,
				Plugins: tt.plugins,
				Clock:   func() time.Time { return time.Unix(1796413860, 0) },
			})
			for _, command := range tt.setup {
				if r := runCommand(e, command, ""); r.exit != 0 {
					t.Fatalf("setup %q exited %d: %s", command, r.exit, r.stderr)
				}
			}
			got := runCommand(e, tt.command, tt.stdin)
			if got.stdout != tt.want.stdout {
				t.Errorf("stdout = %q, want %q", got.stdout, tt.want.stdout)
			}
			if got.stderr != tt.want.stderr {
				t.Errorf("stderr = %q, want %q", got.stderr, tt.want.stderr)
			}
			if got.exit != tt.want.exit {
				t.Errorf("exit status = %d, want %d", got.exit, tt.want.exit)
			}
		})
	}
}

func TestRunConcurrentCreates(t *testing.T) {
	t.Parallel()
	e := newEmulator(emulator.DefaultVersion)

	var wg sync.WaitGroup
	for i := range 32 {
		wg.Go(func() {
			runCommand(e, "apps:create app-"+strings.Repeat("x", i+1), "")
		})
	}
	wg.Wait()

	got := runCommand(e, "apps:list --format json", "")
	if count := strings.Count(got.stdout, `"app-`); count != 32 {
		t.Errorf("apps:list shows %d apps, want 32", count)
	}
}

func TestRunFollowStopsOnCancel(t *testing.T) {
	t.Parallel()
	e := newEmulator(emulator.DefaultVersion)
	runCommand(e, "apps:create shop", "")
	runCommand(e, "git:from-image shop nginx:1", "")

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() {
		done <- e.Run(ctx, emulator.Invocation{OriginalCommand: "logs shop -t"})
	}()
	cancel()
	select {
	case exit := <-done:
		if exit != 0 {
			t.Errorf("logs -t exit status = %d, want 0", exit)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("logs -t did not stop within 10s of cancellation")
	}
}

// lockedBuffer is a bytes.Buffer safe for a writer and a reader at once.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestRunFollowStreamsPublishedLines(t *testing.T) {
	t.Parallel()
	e := newEmulator(emulator.DefaultVersion)
	runCommand(e, "apps:create shop", "")
	runCommand(e, "git:from-image shop nginx:1", "")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout lockedBuffer
	done := make(chan int)
	go func() {
		done <- e.Run(ctx, emulator.Invocation{OriginalCommand: "logs shop -t --num 1 -p web", Stdout: &stdout})
	}()
	waitUntil(t, func() bool { return e.LogFollowers() == 1 })
	e.PublishLog("other", "web.1", "not for shop")
	e.PublishLog("shop", "worker.1", "not a web process")
	if n := e.PublishLog("shop", "web.1", "GET / 200"); n != 1 {
		t.Errorf("PublishLog offered the line to %d followers, want 1", n)
	}
	waitUntil(t, func() bool { return strings.Contains(stdout.String(), "GET / 200") })
	lines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
	want := []string{"Ready to accept connections", "GET / 200"}
	if len(lines) != len(want) {
		t.Fatalf("lines = %q, want %d lines ending in %q", lines, len(want), want)
	}
	for i, line := range lines {
		if !strings.HasSuffix(line, "app[web.1]:\x1b[0m "+want[i]) {
			t.Errorf("line %d = %q, want web.1's %q", i, line, want[i])
		}
	}

	cancel()
	if exit := <-done; exit != 0 {
		t.Errorf("exit status = %d, want 0", exit)
	}
	if n := e.LogFollowers(); n != 0 {
		t.Errorf("followers after cancel = %d, want 0", n)
	}
	if n := e.PublishLog("shop", "web.1", "nobody listens"); n != 0 {
		t.Errorf("PublishLog after cancel offered the line to %d followers, want 0", n)
	}
}

func waitUntil(t *testing.T, check func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !check() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestRunEmulatesRun(t *testing.T) {
	t.Parallel()
	e := newEmulator(emulator.DefaultVersion)
	runCommand(e, "apps:create shop", "")
	if got := runCommand(e, "run --no-tty shop echo hi", ""); got.exit != 1 || got.stderr != " !     App shop has not been deployed\n" {
		t.Errorf("run before deploy = %+v", got)
	}
	runCommand(e, "git:from-image shop nginx:1", "")
	tests := []struct {
		command string
		want    result
	}{
		{"run --no-tty shop echo hello world", result{"hello world\n", "", 0}},
		{"run --no-tty --env A=1 shop seq 3", result{"1\n2\n3\n", "", 0}},
		{"run shop false", result{"", "", 1}},
		{"run --no-tty shop exit 3", result{"", "", 3}},
		{"run --no-tty shop stderr oops", result{"", "oops\n", 0}},
		{"run --no-tty shop ls", result{"", "bash: line 1: ls: command not found\n", 127}},
		{"run --no-tty nope echo", result{"", " !     App nope does not exist\n", 20}},
	}
	for _, tt := range tests {
		if got := runCommand(e, tt.command, ""); got != tt.want {
			t.Errorf("%s = %+v, want %+v", tt.command, got, tt.want)
		}
	}
}
