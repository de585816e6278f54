package config_test

import (
	"strings"
	"testing"
	"time"

	"dokkumcp.dev/platform/config"
)

func TestEnvName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		flag string
		want string
	}{
		{flag: "listen", want: "DOKKUMCP_LISTEN"},
		{flag: "postgres-url", want: "DOKKUMCP_POSTGRES_URL"},
		{flag: "identity-url", want: "DOKKUMCP_IDENTITY_URL"},
		{flag: "log_level", want: "DOKKUMCP_LOG_LEVEL"},
		{flag: "a-b-c", want: "DOKKUMCP_A_B_C"},
	}
	for _, tt := range tests {
		t.Run(tt.flag, func(t *testing.T) {
			t.Parallel()
			if got := config.EnvName(tt.flag); got != tt.want {
				t.Errorf("EnvName(%q) = %q, want %q", tt.flag, got, tt.want)
			}
		})
	}
}

// newFlags returns a flag set with the common flags and one service flag.
func newFlags() (*config.FlagSet, *config.Common, *string) {
	fs := config.NewFlagSet("test")
	common := config.RegisterCommon(fs, "127.0.0.1:8080")
	postgresURL := fs.String("postgres-url", "", "PostgreSQL URL")
	return fs, common, postgresURL
}

func TestParseDefaults(t *testing.T) {
	fs, common, postgresURL := newFlags()
	if err := fs.Parse(nil); err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if common.Listen != "127.0.0.1:8080" {
		t.Errorf("Listen = %q, want the default 127.0.0.1:8080", common.Listen)
	}
	if common.LogLevel != "info" {
		t.Errorf("LogLevel = %q, want info", common.LogLevel)
	}
	if common.ShutdownTimeout != 15*time.Second {
		t.Errorf("ShutdownTimeout = %s, want 15s", common.ShutdownTimeout)
	}
	if common.OTLPEndpoint != "" || *postgresURL != "" {
		t.Errorf("OTLPEndpoint = %q, postgres-url = %q, want both empty", common.OTLPEndpoint, *postgresURL)
	}
}

func TestParseEnvFillsUnsetFlags(t *testing.T) {
	t.Setenv("DOKKUMCP_LISTEN", "127.0.0.1:9090")
	t.Setenv("DOKKUMCP_POSTGRES_URL", "host=/tmp dbname=tenancy")
	t.Setenv("DOKKUMCP_SHUTDOWN_TIMEOUT", "3s")
	fs, common, postgresURL := newFlags()

	if err := fs.Parse(nil); err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if common.Listen != "127.0.0.1:9090" {
		t.Errorf("Listen = %q, want 127.0.0.1:9090 from DOKKUMCP_LISTEN", common.Listen)
	}
	if *postgresURL != "host=/tmp dbname=tenancy" {
		t.Errorf("postgres-url = %q, want the value of DOKKUMCP_POSTGRES_URL", *postgresURL)
	}
	if common.ShutdownTimeout != 3*time.Second {
		t.Errorf("ShutdownTimeout = %s, want 3s from DOKKUMCP_SHUTDOWN_TIMEOUT", common.ShutdownTimeout)
	}
	if common.LogLevel != "info" {
		t.Errorf("LogLevel = %q, want the default info", common.LogLevel)
	}
}

func TestParseEmptyEnvOverridesDefault(t *testing.T) {
	// A variable that is set but empty is a value, as with any flag.
	t.Setenv("DOKKUMCP_LISTEN", "")
	fs, common, _ := newFlags()

	if err := fs.Parse(nil); err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if common.Listen != "" {
		t.Errorf("Listen = %q, want empty from DOKKUMCP_LISTEN", common.Listen)
	}
}

func TestParseCommandLineWinsOverEnv(t *testing.T) {
	t.Setenv("DOKKUMCP_LISTEN", "127.0.0.1:9090")
	t.Setenv("DOKKUMCP_LOG_LEVEL", "debug")
	fs, common, _ := newFlags()

	if err := fs.Parse([]string{"--listen", "127.0.0.1:7070", "--log-level=warn", "extra"}); err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if common.Listen != "127.0.0.1:7070" {
		t.Errorf("Listen = %q, want 127.0.0.1:7070 from the command line", common.Listen)
	}
	if common.LogLevel != "warn" {
		t.Errorf("LogLevel = %q, want warn from the command line", common.LogLevel)
	}
	if got := fs.Args(); len(got) != 1 || got[0] != "extra" {
		t.Errorf("Args = %q, want [extra]", got)
	}
}

func TestParseInvalidEnvValue(t *testing.T) {
	t.Setenv("DOKKUMCP_SHUTDOWN_TIMEOUT", "soon")
	fs, _, _ := newFlags()

	err := fs.Parse(nil)
	if err == nil {
		t.Fatal("Parse accepted an invalid duration in DOKKUMCP_SHUTDOWN_TIMEOUT")
	}
	if !strings.Contains(err.Error(), "DOKKUMCP_SHUTDOWN_TIMEOUT") {
		t.Errorf("error %q does not name DOKKUMCP_SHUTDOWN_TIMEOUT", err)
	}
	if !strings.Contains(err.Error(), `"soon"`) {
		t.Errorf("error %q does not show the invalid value", err)
	}
}

func TestParseInvalidEnvIgnoredWhenFlagGiven(t *testing.T) {
	t.Setenv("DOKKUMCP_SHUTDOWN_TIMEOUT", "soon")
	fs, common, _ := newFlags()

	if err := fs.Parse([]string{"--shutdown-timeout=2s"}); err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if common.ShutdownTimeout != 2*time.Second {
		t.Errorf("ShutdownTimeout = %s, want 2s from the command line", common.ShutdownTimeout)
	}
}

func TestParseUnknownFlag(t *testing.T) {
	t.Parallel()
	fs, _, _ := newFlags()
	fs.SetOutput(&strings.Builder{})

	if err := fs.Parse([]string{"--no-such-flag"}); err == nil {
		t.Error("Parse accepted an unknown flag")
	}
}
