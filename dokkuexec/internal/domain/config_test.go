package domain_test

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"dokkumcp.dev/dokkuexec/internal/domain"
)

func TestParseConfigUnsetRecordings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		recording   string
		wantUnset   []string
		wantSkipped []string
	}{
		{"05-16", []string{"A"}, []string{}},
		{"05-17", []string{}, []string{"A"}},
	}
	for _, tt := range tests {
		t.Run(tt.recording, func(t *testing.T) {
			t.Parallel()
			outcome, err := domain.ParseConfigUnset([]domain.ConfigKey{"A"}, recording(t, tt.recording, "stdout"))
			if err != nil {
				t.Fatalf("ParseConfigUnset: %v", err)
			}
			if !slices.Equal(outcome.Unset, tt.wantUnset) {
				t.Errorf("Unset = %q, want %q", outcome.Unset, tt.wantUnset)
			}
			if !slices.Equal(outcome.Skipped, tt.wantSkipped) {
				t.Errorf("Skipped = %q, want %q", outcome.Skipped, tt.wantSkipped)
			}
		})
	}
}

func TestParseConfigUnsetMixedAndRestart(t *testing.T) {
	t.Parallel()
	stdout := "-----> Unsetting C\n-----> Skipping B, it is not set in the environment\n-----> Unsetting A\n-----> Restarting app shop\n"
	outcome, err := domain.ParseConfigUnset([]domain.ConfigKey{"A", "B", "C"}, []byte(stdout))
	if err != nil {
		t.Fatalf("ParseConfigUnset: %v", err)
	}
	if want := []string{"A", "C"}; !slices.Equal(outcome.Unset, want) {
		t.Errorf("Unset = %q, want %q", outcome.Unset, want)
	}
	if want := []string{"B"}; !slices.Equal(outcome.Skipped, want) {
		t.Errorf("Skipped = %q, want %q", outcome.Skipped, want)
	}
}

func TestParseConfigUnsetMissingKey(t *testing.T) {
	t.Parallel()
	_, err := domain.ParseConfigUnset([]domain.ConfigKey{"A", "B"}, []byte("-----> Unsetting A\n"))
	if err == nil || !strings.Contains(err.Error(), `key "B" is neither unset nor skipped`) {
		t.Errorf("error = %v, want one naming key B", err)
	}
}

func TestParseConfigExportRecording(t *testing.T) {
	t.Parallel()
	vars, err := domain.ParseConfigExportJSON(recording(t, "05-13", "stdout"))
	if err != nil {
		t.Fatalf("ParseConfigExportJSON: %v", err)
	}
	want := map[string]string{"A": "1", "B": "two words", "NO_VHOST": "1", "P": "line1\nline2", "Q": "x\n", "R": "x"}
	if !maps.Equal(vars, want) {
		t.Errorf("vars = %q, want %q", vars, want)
	}
	for _, bad := range []string{"", "null", "[]", `{"A":1}`} {
		if _, err := domain.ParseConfigExportJSON([]byte(bad)); err == nil {
			t.Errorf("ParseConfigExportJSON(%q) = nil error, want one", bad)
		}
	}
}

func TestLifecycleCommandShapes(t *testing.T) {
	t.Parallel()
	destroy, _ := domain.AppsDestroyCommand("shop")
	rename, _ := domain.AppsRenameCommand("my.app", "my.app2")
	lock, _ := domain.AppsLockCommand("shop")
	unlock, _ := domain.AppsUnlockCommand("shop")
	unset, _ := domain.ConfigUnsetCommand("shop", []domain.ConfigKey{"B", "A"}, true)
	unsetRestart, _ := domain.ConfigUnsetCommand("shop", []domain.ConfigKey{"A"}, false)
	export, _ := domain.ConfigExportJSONCommand("shop")
	tests := []struct {
		cmd      domain.Command
		wantText string
		wantName string
	}{
		{destroy, "--force apps:destroy shop", "apps:destroy"},
		{rename, "apps:rename my.app my.app2", "apps:rename"},
		{lock, "apps:lock shop", "apps:lock"},
		{unlock, "apps:unlock shop", "apps:unlock"},
		{unset, "config:unset --no-restart shop A B", "config:unset"},
		{unsetRestart, "config:unset shop A", "config:unset"},
		{export, "config:export --format json shop", "config:export"},
	}
	for _, tt := range tests {
		if got := tt.cmd.String(); got != tt.wantText {
			t.Errorf("command = %q, want %q", got, tt.wantText)
		}
		if got := tt.cmd.Name(); got != tt.wantName {
			t.Errorf("Name() of %q = %q, want %q", tt.wantText, got, tt.wantName)
		}
	}
}

// TestLifecycleCommandsMatchRecordings checks the commands against the
// command strings sent to the real Dokku in the recordings.
func TestLifecycleCommandsMatchRecordings(t *testing.T) {
	t.Parallel()
	destroy, _ := domain.AppsDestroyCommand("my.app2")
	rename, _ := domain.AppsRenameCommand("my.app", "my.app2")
	lock, _ := domain.AppsLockCommand("shop")
	unlock, _ := domain.AppsUnlockCommand("shop")
	unset, _ := domain.ConfigUnsetCommand("shop", []domain.ConfigKey{"A"}, true)
	export, _ := domain.ConfigExportJSONCommand("shop")
	tests := map[string]domain.Command{"11-07": destroy, "11-01": rename, "11-02": lock, "11-04": unlock, "05-16": unset, "05-03": export}
	for name, cmd := range tests {
		if want := string(recording(t, name, "cmd.txt")); cmd.String() != want {
			t.Errorf("%s: command = %q, want %q", name, cmd.String(), want)
		}
	}
}

func TestConfigUnsetCommandRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		keys []domain.ConfigKey
		want string
	}{
		{"no keys", nil, "invalid config keys: name at least one config key"},
		{"duplicate key", []domain.ConfigKey{"A", "A"}, `invalid config key "A": name each key once`},
		{"bad key", []domain.ConfigKey{"a-b"}, `invalid config key "a-b"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := domain.ConfigUnsetCommand("shop", tt.keys, false)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}
