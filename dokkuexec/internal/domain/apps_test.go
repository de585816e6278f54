package domain_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"dokkumcp.dev/dokkuexec/internal/domain"
)

// recording returns a stream of one Dokku 0.38.27 recording in testdata.
func recording(t *testing.T, name, stream string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "dokku-0.38.27", name, stream))
	if err != nil {
		t.Fatalf("read recording: %v", err)
	}
	return data
}

func TestParseVersionRecording(t *testing.T) {
	t.Parallel()
	v, err := domain.ParseVersion(string(recording(t, "01-01", "stdout")))
	if err != nil {
		t.Fatalf("ParseVersion: %v", err)
	}
	if v.Major != 0 || v.Minor != 38 || v.Patch != 27 {
		t.Errorf("version = %+v, want 0.38.27", v)
	}
}

func TestParseAppsListRecordings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		recording string
		json      bool
		want      []string
	}{
		{"01-02", false, []string{}},
		{"01-03", true, []string{}},
		{"03-03", false, []string{"my.app", "shop"}},
		{"03-04", true, []string{"my.app", "shop"}},
	}
	for _, tt := range tests {
		t.Run(tt.recording, func(t *testing.T) {
			t.Parallel()
			stdout := recording(t, tt.recording, "stdout")
			var got []string
			if tt.json {
				var err error
				if got, err = domain.ParseAppsListJSON(stdout); err != nil {
					t.Fatalf("ParseAppsListJSON: %v", err)
				}
			} else {
				got = domain.ParseAppsListText(stdout)
			}
			if got == nil || !slices.Equal(got, tt.want) {
				t.Errorf("apps = %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestParseAppReportRecordings(t *testing.T) {
	t.Parallel()
	created := time.Unix(1796413860, 0).UTC()
	tests := []struct {
		name   string
		stdout []byte
		json   bool
		locked bool
	}{
		{"text", recording(t, "04-01", "stdout"), false, false},
		{"json both key shapes", recording(t, "04-02", "stdout"), true, false},
		{"json locked", recording(t, "11-03", "stdout"), true, true},
		{"json prefixed keys only", []byte(`{"app-created-at":"1796413860","app-deploy-source":"","app-deploy-source-metadata":"","app-dir":"/home/dokku/shop","app-global-disable-autocreation":"","app-locked":"false"}`), true, false},
		{"json unprefixed keys only", []byte(`{"created-at":"1796413860","deploy-source":"","deploy-source-metadata":"","dir":"/home/dokku/shop","global-disable-autocreation":"","locked":"false"}`), true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			parse := domain.ParseAppReportText
			if tt.json {
				parse = domain.ParseAppReportJSON
			}
			report, err := parse("shop", tt.stdout)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if report.App != "shop" {
				t.Errorf("App = %q, want shop", report.App)
			}
			if !report.CreateTime.Equal(created) {
				t.Errorf("CreateTime = %v, want %v", report.CreateTime, created)
			}
			if report.Dir != "/home/dokku/shop" {
				t.Errorf("Dir = %q, want /home/dokku/shop", report.Dir)
			}
			if report.Locked != tt.locked {
				t.Errorf("Locked = %v, want %v", report.Locked, tt.locked)
			}
			wantKeys := []string{"created-at", "deploy-source", "deploy-source-metadata", "dir", "global-disable-autocreation", "locked"}
			var gotKeys []string
			for key := range report.Fields {
				gotKeys = append(gotKeys, key)
			}
			slices.Sort(gotKeys)
			if !slices.Equal(gotKeys, wantKeys) {
				t.Errorf("field keys = %q, want %q", gotKeys, wantKeys)
			}
		})
	}
}

func TestResultMessages(t *testing.T) {
	t.Parallel()
	tests := []struct {
		recording string
		want      []string
	}{
		{"02-01", []string{"No web listeners specified for shop"}},
		{"02-02", []string{"Name is already taken"}},
		{"01-02", []string{"You haven't deployed any applications yet"}},
		{"05-07", nil},
	}
	for _, tt := range tests {
		result := domain.Result{Stderr: recording(t, tt.recording, "stderr")}
		if got := result.Messages(); !slices.Equal(got, tt.want) {
			t.Errorf("%s: Messages() = %q, want %q", tt.recording, got, tt.want)
		}
	}
}

func TestParseConfigValueKeepsTrailingNewlines(t *testing.T) {
	t.Parallel()
	tests := map[string]string{"two words\n": "two words", "x\n\n": "x\n", "\n": ""}
	for stdout, want := range tests {
		if got := domain.ParseConfigValue([]byte(stdout)); got != want {
			t.Errorf("ParseConfigValue(%q) = %q, want %q", stdout, got, want)
		}
	}
}
