package emulator_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"dokkumcp.dev/testhost/emulator"
)

// updatePluginGoldens rewrites testdata/plugins from the emulator. Review
// the diff against the plugins' sources before committing it.
var updatePluginGoldens = flag.Bool("update-plugin-goldens", false, "rewrite testdata/plugins from the emulator")

// pluginGoldensDir holds the expected output of the service and letsencrypt
// plugin commands. Unlike dokku-0.38.27, these files were derived from the
// plugins' sources, not recorded; see its README.
const pluginGoldensDir = "../testdata/plugins"

// pluginSequence runs in order on one emulator with the postgres, redis and
// letsencrypt plugins installed.
var pluginSequence = []string{
	"postgres:list",
	"postgres:create lollipop",
	"postgres:create lollipop",
	"postgres:create bad.name",
	"postgres:info lollipop",
	"postgres:info lollipop --dsn",
	"postgres:info lollipop --bogus",
	"postgres:info nope",
	"apps:create shop",
	"postgres:link lollipop nope",
	"postgres:link lollipop shop",
	"postgres:link lollipop shop",
	"postgres:info lollipop --links",
	"--force postgres:destroy lollipop",
	"postgres:unlink lollipop shop --no-restart",
	"postgres:unlink lollipop shop",
	"postgres:destroy lollipop",
	"--force postgres:destroy lollipop",
	"postgres:list",
	"redis:create cache",
	"redis:create other_cache",
	"redis:list",
	"redis:link cache shop --no-restart",
	"redis:link other_cache shop --no-restart",
	"config:show shop",
	"letsencrypt:report shop",
	"letsencrypt:enable shop",
	"domains:add shop shop.example.com",
	"letsencrypt:enable shop",
	"letsencrypt:set shop email ops@example.com",
	"letsencrypt:enable shop",
	"letsencrypt:enable shop",
	"letsencrypt:report shop",
	"letsencrypt:report shop --format json",
	"letsencrypt:active shop",
	"letsencrypt:disable shop",
	"letsencrypt:report shop --letsencrypt-active",
	"letsencrypt:enable nope",
}

// TestPluginGoldens replays pluginSequence and compares every stream and
// exit status with testdata/plugins.
func TestPluginGoldens(t *testing.T) {
	e := emulator.New(emulator.Options{
		Version: emulator.DefaultVersion,
		Plugins: []string{"postgres", "redis", "letsencrypt"},
		Clock:   func() time.Time { return time.Unix(recordedCreatedAt, 0) },
	})

	for i, command := range pluginSequence {
		var stdout, stderr bytes.Buffer
		exit := e.Run(context.Background(), emulator.Invocation{
			OriginalCommand: command,
			Stdin:           strings.NewReader(""),
			Stdout:          &stdout,
			Stderr:          &stderr,
		})
		dir := filepath.Join(pluginGoldensDir, fmt.Sprintf("%02d", i+1))
		got := map[string][]byte{
			"cmd.txt": []byte(command),
			"stdout":  stdout.Bytes(),
			"stderr":  stderr.Bytes(),
			"exit":    fmt.Appendf(nil, "%d\n", exit),
		}

		if *updatePluginGoldens {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			for name, data := range got {
				if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			continue
		}

		t.Run(filepath.Base(dir), func(t *testing.T) {
			for _, name := range []string{"cmd.txt", "stdout", "stderr", "exit"} {
				want, err := os.ReadFile(filepath.Join(dir, name))
				if err != nil {
					t.Fatalf("read golden file: %v; regenerate with -update-plugin-goldens", err)
				}
				if !bytes.Equal(got[name], want) {
					t.Errorf("command %q: %s differs\n got: %q\nwant: %q", command, name, got[name], want)
				}
			}
		})
	}
}
