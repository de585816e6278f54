package app

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func TestFitLogsKeepsNewestLines(t *testing.T) {
	t.Parallel()
	logs := &Logs{Hint: "short hint"}
	for i := range 2000 {
		logs.Lines = append(logs.Lines, LogLine{Process: "web.1", Message: fmt.Sprintf("line %04d %s", i, strings.Repeat("x", 100))})
	}
	const limit = 64 << 10
	text, err := fitLogs(logs, limit)
	if err != nil {
		t.Fatal(err)
	}
	if len(text) > limit {
		t.Fatalf("fitted logs take %d bytes, want at most %d", len(text), limit)
	}
	var got Logs
	if err := json.Unmarshal([]byte(text), &got); err != nil {
		t.Fatal(err)
	}
	if !got.Truncated || !strings.Contains(got.Hint, "oldest lines were left out") {
		t.Errorf("truncated = %v, hint = %q; want truncated with a hint about the oldest lines", got.Truncated, got.Hint)
	}
	if len(got.Lines) == 0 || !strings.HasPrefix(got.Lines[len(got.Lines)-1].Message, "line 1999 ") {
		t.Fatalf("the newest line is missing; %d lines kept", len(got.Lines))
	}
	// The cut leaves out whole lines only, and no more than needed: one
	// more line would not fit.
	if len(text)+len(`{"process":"web.1","message":"line 0000 `)+100 < limit {
		t.Errorf("fitted logs take %d bytes, far below the %d-byte limit", len(text), limit)
	}
}

func TestFitLogsLeavesSmallLogsAlone(t *testing.T) {
	t.Parallel()
	logs := &Logs{Lines: []LogLine{{Message: "hello"}}, Hint: "original"}
	text, err := fitLogs(logs, MaxResourceBytes)
	if err != nil {
		t.Fatal(err)
	}
	var got Logs
	if err := json.Unmarshal([]byte(text), &got); err != nil {
		t.Fatal(err)
	}
	if got.Truncated || got.Hint != "original" || len(got.Lines) != 1 {
		t.Fatalf("small logs changed: %+v", got)
	}
}
