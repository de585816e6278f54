package domain_test

import (
	"strings"
	"testing"
	"time"

	"dokkumcp.dev/dokkuexec/internal/domain"
)

func TestParseLogLine(t *testing.T) {
	t.Parallel()
	stamp := time.Date(2026, 12, 4, 21, 0, 0, 123456789, time.UTC)
	tests := []struct {
		line string
		want domain.LogLine
	}{
		{"\x1b[36m2026-12-04T21:00:00.123456789Z app[web.1]:\x1b[0m Listening on port 5000", domain.LogLine{Time: stamp, Process: "web.1", Message: "Listening on port 5000"}},
		{"\x1b[33m2026-12-04T21:00:00.123456789Z app[worker.2]:\x1b[0m \x1b[1mbold\x1b[0m: a: b\r", domain.LogLine{Time: stamp, Process: "worker.2", Message: "bold: a: b"}},
		{"2026-12-04T21:00:00.123456789Z app[web.1]:", domain.LogLine{Time: stamp, Process: "web.1", Message: ""}},
		{"a stack trace line", domain.LogLine{Message: "a stack trace line"}},
		{"yesterday app[web.1]: not a time", domain.LogLine{Message: "yesterday app[web.1]: not a time"}},
		{"\x1b]0;title\x07plain", domain.LogLine{Message: "plain"}},
	}
	for _, tt := range tests {
		got := domain.ParseLogLine(tt.line)
		if !got.Time.Equal(tt.want.Time) || got.Process != tt.want.Process || got.Message != tt.want.Message {
			t.Errorf("ParseLogLine(%q) = %+v, want %+v", tt.line, got, tt.want)
		}
	}
	if lines := domain.ParseLogs(nil); lines == nil || len(lines) != 0 {
		t.Errorf("ParseLogs(nil) = %#v, want an empty list", lines)
	}
	if lines := domain.ParseLogs([]byte("a\nb\n")); len(lines) != 2 || lines[1].Message != "b" {
		t.Errorf("ParseLogs = %+v, want a and b", lines)
	}
}

func TestLogsCommand(t *testing.T) {
	t.Parallel()
	snapshot, _ := domain.LogsCommand("shop", 50, "", false)
	filtered, _ := domain.LogsCommand("shop", 100, "web", false)
	follow, _ := domain.LogsCommand("shop", 10, "", true)
	tests := []struct {
		cmd  domain.Command
		want string
	}{{snapshot, "logs shop --num 50"}, {filtered, "logs shop --num 100 -p web"}, {follow, "logs shop -t --num 10"}}
	for _, tt := range tests {
		if tt.cmd.String() != tt.want {
			t.Errorf("command = %q, want %q", tt.cmd.String(), tt.want)
		}
	}
	for num, want := range map[int]int{0: 100, 1: 1, 1000: 1000} {
		if got, err := domain.LogLines(num); err != nil || got != want {
			t.Errorf("LogLines(%d) = %d, %v; want %d", num, got, err, want)
		}
	}
	for _, num := range []int{-1, 1001} {
		if _, err := domain.LogLines(num); err == nil || !strings.Contains(err.Error(), "ask for 1 to 1000 lines") {
			t.Errorf("LogLines(%d) error = %v, want the rule", num, err)
		}
	}
}

func TestParsePluginListRecordings(t *testing.T) {
	t.Parallel()
	text, err := domain.ParsePluginListText(recording(t, "10-01", "stdout"))
	if err != nil {
		t.Fatalf("ParsePluginListText: %v", err)
	}
	jsonList, err := domain.ParsePluginListJSON(recording(t, "10-02", "stdout"))
	if err != nil {
		t.Fatalf("ParsePluginListJSON: %v", err)
	}
	if len(text) != 46 || len(jsonList) != len(text) {
		t.Fatalf("plugins: %d from text, %d from JSON, want 46 each", len(text), len(jsonList))
	}
	for i := range text {
		want := jsonList[i]
		want.Core = false
		if text[i] != want {
			t.Errorf("plugin %d: text %+v, JSON %+v", i, text[i], jsonList[i])
		}
	}
	builds := jsonList[13]
	if builds.Name != "builds" || builds.Version != "0.34.0" || !builds.Enabled || !builds.Core || builds.Description != "dokku core builds plugin" {
		t.Errorf("builds plugin = %+v", builds)
	}
	if _, err := domain.ParsePluginListText([]byte("garbage\n")); err == nil {
		t.Error("ParsePluginListText(garbage) = nil error")
	}
}
