package conformance_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"dokkumcp.dev/mcpedge/internal/conformance"
)

// suiteDir holds package.json pinning @modelcontextprotocol/conformance and,
// after `npm ci`, its node_modules.
var suiteDir = filepath.Join("..", "..", "conformance")

// suiteTimeout bounds the whole suite run, which normally finishes in
// seconds, so a hung scenario fails the test instead of stalling it.
const suiteTimeout = 5 * time.Minute

func TestConformanceSuite(t *testing.T) {
	cli := filepath.Join(suiteDir, "node_modules", "@modelcontextprotocol", "conformance", "dist", "index.js")
	if _, err := os.Stat(cli); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("the MCP conformance suite is not installed: run `npm ci` in mcpedge/conformance (%v)", err)
		}
		t.Skip("the MCP conformance suite is not installed; run `npm ci` in mcpedge/conformance")
	}
	baseURL := startListener(t)

	ctx, cancel := context.WithTimeout(t.Context(), suiteTimeout)
	defer cancel()
	results := t.TempDir()
	cmd := exec.CommandContext(ctx, "node", cli, "server",
		"--url", baseURL+"/mcp",
		"--expected-failures", filepath.Join(suiteDir, "baseline.yml"),
		"-o", results)
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	err := cmd.Run()
	t.Logf("conformance suite output:\n%s", output.String())
	if ctx.Err() != nil {
		t.Fatalf("the conformance suite did not finish within %v", suiteTimeout)
	}
	if err != nil {
		t.Fatalf("the conformance suite failed (%v): a scenario failed that baseline.yml does not list, or a listed one now passes and its entry must go", err)
	}
}

// startListener serves the fixture handler on 127.0.0.1:0 until the test
// ends and returns its base URL.
func startListener(t *testing.T) string {
	t.Helper()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	baseURL := "http://" + listener.Addr().String()
	handler, err := conformance.NewHandler(baseURL, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(listener) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})
	return baseURL
}
