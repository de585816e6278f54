package domain_test

import (
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"testing"

	"dokkumcp.dev/dokkuexec/internal/domain"
	"dokkumcp.dev/testhost/emulator"
)

func TestNewAppNameRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		want string
	}{
		{"Bad_Name", `invalid app name "Bad_Name": use lower-case letters, digits, dots and dashes, starting with a letter or digit`},
		{"", `invalid app name "": use lower-case letters, digits, dots and dashes, starting with a letter or digit`},
		{"-rf", `invalid app name "-rf"`},
		{"a;id", `invalid app name "a;id"`},
		{"shop app", `invalid app name "shop app"`},
		{".hidden", `invalid app name ".hidden"`},
		{"legacy_app", `invalid app name "legacy_app"`},
		{"-n", `invalid app name "-n"`},
		{strings.Repeat("a", 64), `invalid app name "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...": use at most 63 characters (this name has 64)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := domain.NewAppName(tt.name)
			var invalid *domain.InvalidArgumentError
			if !errors.As(err, &invalid) {
				t.Fatalf("error = %v, want *InvalidArgumentError", err)
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("message = %q, want prefix %q", err, tt.want)
			}
		})
	}
}

func TestAppNameLengthLimits(t *testing.T) {
	t.Parallel()
	if _, err := domain.NewAppName(strings.Repeat("a", 63)); err != nil {
		t.Errorf("NewAppName of 63 characters: %v", err)
	}
	if _, err := domain.ParseAppName(strings.Repeat("a", 255)); err != nil {
		t.Errorf("ParseAppName of 255 characters: %v", err)
	}
	if _, err := domain.ParseAppName(strings.Repeat("a", 256)); err == nil {
		t.Error("ParseAppName accepted 256 characters")
	}
}

func TestParseAppNameAcceptsLegacyUnderscore(t *testing.T) {
	t.Parallel()
	if _, err := domain.ParseAppName("legacy_app"); err != nil {
		t.Errorf("ParseAppName(legacy_app) = %v, want nil", err)
	}
	if _, err := domain.ParseAppName("_x"); err == nil {
		t.Error("ParseAppName(_x) = nil, want an error")
	}
}

func TestParseConfigKeyRejects(t *testing.T) {
	t.Parallel()
	for _, key := range []string{"", "bad-key", "1A", "A B", "A=B", "K'", "--help"} {
		_, err := domain.ParseConfigKey(key)
		if err == nil {
			t.Errorf("ParseConfigKey(%q) = nil, want an error", key)
			continue
		}
		if !strings.Contains(err.Error(), "use letters, digits and underscores, starting with a letter or underscore") {
			t.Errorf("ParseConfigKey(%q) message = %q, does not state the rule", key, err)
		}
	}
	for _, key := range []string{"A", "_", "database_URL", "K9"} {
		if _, err := domain.ParseConfigKey(key); err != nil {
			t.Errorf("ParseConfigKey(%q) = %v, want nil", key, err)
		}
	}
}

func TestConfigSetCommandShape(t *testing.T) {
	t.Parallel()
	cmd, err := domain.ConfigSetCommand("shop", []domain.ConfigVar{
		{Key: "B", Value: "two words"},
		{Key: "A", Value: "1"},
	}, true)
	if err != nil {
		t.Fatalf("ConfigSetCommand: %v", err)
	}
	want := "config:set --encoded --no-restart shop A=MQ== B=dHdvIHdvcmRz"
	if got := cmd.String(); got != want {
		t.Errorf("command = %q, want %q", got, want)
	}
	if got := cmd.Name(); got != "config:set" {
		t.Errorf("Name() = %q, want config:set", got)
	}
}

func TestConfigSetCommandRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		vars []domain.ConfigVar
		want string
	}{
		{"no vars", nil, "set at least one config var"},
		{"duplicate key", []domain.ConfigVar{{Key: "A"}, {Key: "A"}}, `invalid config key "A": set each key once`},
		{"bad key", []domain.ConfigVar{{Key: "a-b", Value: "x"}}, `invalid config key "a-b"`},
		{"too large", []domain.ConfigVar{{Key: "BIG", Value: strings.Repeat("x", domain.MaxCommandBytes)}}, "bytes a Dokku host accepts over SSH"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := domain.ConfigSetCommand("shop", tt.vars, false)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want one containing %q", err, tt.want)
			}
			if tt.name == "too large" && strings.Contains(err.Error(), "xxxx") {
				t.Errorf("message %q echoes the value", err)
			}
		})
	}
}

// TestCommandsSurviveTokenizing checks the fixed commands against the
// emulator's model of Dokku's xargs pass.
func TestCommandsSurviveTokenizing(t *testing.T) {
	t.Parallel()
	report, _ := domain.AppsReportCommand("legacy_app.v2", true)
	get, _ := domain.ConfigGetCommand("shop", "_KEY")
	create, _ := domain.AppsCreateCommand("my.app-2")
	destroy, _ := domain.AppsDestroyCommand("legacy_app")
	rename, _ := domain.AppsRenameCommand("legacy_app", "new.app-2")
	unset, _ := domain.ConfigUnsetCommand("shop", []domain.ConfigKey{"_KEY", "B"}, true)
	export, _ := domain.ConfigExportJSONCommand("shop")
	for _, cmd := range []domain.Command{domain.VersionCommand(), domain.AppsListCommand(true), domain.AppsListCommand(false), report, get, create, destroy, rename, unset, export} {
		argv, stderr := emulator.Tokenize(cmd.String())
		if stderr != "" || !slices.Equal(argv, cmd.Args()) {
			t.Errorf("Tokenize(%q) = %q, %q; want %q", cmd.String(), argv, stderr, cmd.Args())
		}
	}
}

// FuzzConfigSetEncoding checks that every app, key and value the validators
// accept reaches Dokku as exactly the intended arguments, and that each
// value decodes back to its exact bytes.
func FuzzConfigSetEncoding(f *testing.F) {
	seeds := []struct{ app, key, value string }{
		{"shop", "A", "it's"},
		{"shop", "B", "line1\nline2"},
		{"my.app", "C", "$VAR `id` $(id)"},
		{"legacy_app", "_D", `back\slash "quoted"`},
		{"a", "E", "-n"},
		{"a", "F", "--help"},
		{"a", "G", ""},
		{"a", "H", "a=b=c"},
		{"a", "I", "ünïcödé ✓"},
		{"a", "J", "\x00\x01\xff"},
		{"a", "K", "x\n"},
		{"a", "L", " leading and trailing "},
		{"-n", "M", "x"},
		{"a", "-e", "x"},
	}
	for _, s := range seeds {
		f.Add(s.app, s.key, s.value, false)
	}
	f.Fuzz(func(t *testing.T, app, key, value string, noRestart bool) {
		appName, err := domain.ParseAppName(app)
		if err != nil {
			return
		}
		configKey, err := domain.ParseConfigKey(key)
		if err != nil {
			return
		}
		cmd, err := domain.ConfigSetCommand(appName, []domain.ConfigVar{{Key: configKey, Value: value}}, noRestart)
		if err != nil {
			var invalid *domain.InvalidArgumentError
			if errors.As(err, &invalid) && len(value) > domain.MaxCommandBytes/2 {
				return
			}
			t.Fatalf("ConfigSetCommand(%q, %q, value of %d bytes): %v", app, key, len(value), err)
		}

		want := []string{"config:set", "--encoded"}
		if noRestart {
			want = append(want, "--no-restart")
		}
		want = append(want, app, key+"="+base64.StdEncoding.EncodeToString([]byte(value)))
		argv, stderr := emulator.Tokenize(cmd.String())
		if stderr != "" {
			t.Fatalf("Tokenize(%q) wrote %q to stderr", cmd.String(), stderr)
		}
		if !slices.Equal(argv, want) {
			t.Fatalf("Tokenize(%q) = %q, want %q", cmd.String(), argv, want)
		}
		if !slices.Equal(strings.Fields(cmd.String()), want) {
			t.Fatalf("shell word splitting of %q = %q, want %q", cmd.String(), strings.Fields(cmd.String()), want)
		}

		_, encoded, _ := strings.Cut(argv[len(argv)-1], "=")
		decoded, err := base64.StdEncoding.DecodeString(encoded)
		if err != nil {
			t.Fatalf("decode %q: %v", encoded, err)
		}
		if string(decoded) != value {
			t.Fatalf("decoded value = %q, want %q", decoded, value)
		}
	})
}

// FuzzDeploymentSourceTokens extends the round trip to deployment sources:
// every repository, ref and image the validators accept reaches Dokku's
// git commands as exactly the intended arguments. Those commands are split
// on whitespace only, after bash has expanded glob patterns, and the xargs
// pass must agree as well.
func FuzzDeploymentSourceTokens(f *testing.F) {
	seeds := []struct{ repository, ref, image string }{
		{"https://github.com/acme/shop.git", "main", "nginx:1.27"},
		{"git@github.com:acme/shop.git", "v1.2.3", "ghcr.io/acme/shop:v2"},
		{"ssh://git@example.com:2222/srv/shop.git", "feature/x-1", "localhost:5000/a/b@sha256:" + strings.Repeat("a", 64)},
		{"https://user:secret@example.com/x.git", "-n", "UPPER:tag"},
		{"-o", "a..b", "nginx latest"},
		{"https://example.com/a b", "x'y", "a;id"},
		{"https://example.com/*", "ref*", "img?"},
		{"https://example.com/x\n", "main\n", "x\n"},
	}
	for _, s := range seeds {
		f.Add(s.repository, s.ref, s.image)
	}
	f.Fuzz(func(t *testing.T, repository, ref, image string) {
		check := func(cmd domain.Command, want []string) {
			t.Helper()
			if !slices.Equal(strings.Fields(cmd.String()), want) {
				t.Fatalf("shell word splitting of %q = %q, want %q", cmd.String(), strings.Fields(cmd.String()), want)
			}
			if strings.ContainsAny(cmd.String(), "*?[]~$`'\"\\") {
				t.Fatalf("command %q holds a byte bash would expand or quote", cmd.String())
			}
			argv, stderr := emulator.Tokenize(cmd.String())
			if stderr != "" || !slices.Equal(argv, want) {
				t.Fatalf("Tokenize(%q) = %q, %q; want %q", cmd.String(), argv, stderr, want)
			}
		}

		if repo, err := domain.ParseGitRepository(repository); err == nil {
			if strings.HasPrefix(repository, "-") || strings.ContainsAny(repository, " \t\n") {
				t.Fatalf("ParseGitRepository(%q) accepted a leading '-' or whitespace", repository)
			}
			gitRef, err := domain.ParseGitRef(ref)
			if err == nil {
				cmd, err := domain.GitSyncBuildCommand("shop", repo, gitRef)
				if err != nil {
					t.Fatalf("GitSyncBuildCommand(%q, %q): %v", repository, ref, err)
				}
				want := []string{"git:sync", "--build", "shop", repository}
				if ref != "" {
					want = append(want, ref)
				}
				check(cmd, want)
			}
		}
		if img, err := domain.ParseImageReference(image); err == nil {
			cmd, err := domain.GitFromImageCommand("shop", img)
			if err != nil {
				t.Fatalf("GitFromImageCommand(%q): %v", image, err)
			}
			check(cmd, []string{"git:from-image", "shop", image})
		}
	})
}
