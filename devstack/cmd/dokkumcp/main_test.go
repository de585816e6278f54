package main

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
)

// TestMain lets the test binary act as the dokkumcp command, so the test
// below runs the real main in a child process and can interrupt it.
func TestMain(m *testing.M) {
	if os.Getenv("DOKKUMCP_TEST_RUN_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

var (
	mcpURLLine   = regexp.MustCompile(`(?m)^MCP endpoint:\s+(\S+)$`)
	tokenCmdLine = regexp.MustCompile(`(?m)^\s+TOKEN=\$\((.+) \| sed .*\)$`)
)

func TestRunPrintedCommandsWork(t *testing.T) {
	// The child gets its own TMPDIR, so its PostgreSQL and Vault folders can
	// be told apart from those of tests running in parallel.
	tmp, err := os.MkdirTemp("", "dokkumcp-runtest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(tmp) })
	// Running as root, PostgreSQL runs as the postgres user, which must be
	// able to reach its folder inside tmp.
	if err := os.Chmod(tmp, 0o755); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(os.Args[0], "run",
		"--mcp-listen=127.0.0.1:0", "--identity-listen=127.0.0.1:0", "--tenancy-listen=127.0.0.1:0",
		"--secrets-listen=127.0.0.1:0", "--dokkuexec-listen=127.0.0.1:0", "--testhost-listen=127.0.0.1:0",
		"--log-file="+filepath.Join(t.TempDir(), "services.log"))
	cmd.Env = append(os.Environ(), "DOKKUMCP_TEST_RUN_MAIN=1", "TMPDIR="+tmp)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	banner := make(chan string, 1)
	go func() {
		var text strings.Builder
		scanner := bufio.NewScanner(stdout)
		for scanner.Scan() {
			text.WriteString(scanner.Text() + "\n")
			if strings.Contains(scanner.Text(), "export DOKKUMCP_TOKEN") {
				banner <- text.String()
			}
		}
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() { cmd.Process.Kill() })

	var printed string
	select {
	case printed = <-banner:
	case err := <-exited:
		t.Fatalf("dokkumcp run exited before printing its banner: %v", err)
	case <-time.After(3 * time.Minute):
		t.Fatal("dokkumcp run printed no banner within 3 minutes")
	}

	mcpURL := mcpURLLine.FindStringSubmatch(printed)
	tokenCmd := tokenCmdLine.FindStringSubmatch(printed)
	if mcpURL == nil || tokenCmd == nil {
		t.Fatalf("banner lacks the MCP URL or the token command:\n%s", printed)
	}

	// Run the printed token command exactly as a user would paste it.
	out, err := exec.Command("sh", "-c", tokenCmd[0]+` && printf %s "$TOKEN"`).Output()
	if err != nil {
		t.Fatalf("printed token command failed: %v", err)
	}
	token := strings.TrimSpace(string(out))
	if strings.Count(token, ".") != 2 {
		t.Fatalf("printed token command returned %q, want a JWT", token)
	}

	c, err := client.NewStreamableHttpClient(mcpURL[1], transport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + token}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.Initialize(ctx, mcp.InitializeRequest{}); err != nil {
		t.Fatalf("initialize: %v", err)
	}
	tools, err := c.ListTools(ctx, mcp.ListToolsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(tools.Tools, func(tool mcp.Tool) bool { return tool.Name == "apps_list" }) {
		t.Fatalf("tools/list lacks apps_list")
	}
	req := mcp.CallToolRequest{}
	req.Params.Name = "apps_list"
	result, err := c.CallTool(ctx, req)
	if err != nil || result.IsError {
		t.Fatalf("apps_list: %v %+v", err, result)
	}
	c.Close()

	// Ctrl-C: the command stops everything and exits cleanly.
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("dokkumcp run exited with %v after SIGINT, want status 0", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("dokkumcp run did not exit within a minute of SIGINT")
	}
	left, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	for _, entry := range left {
		t.Errorf("temporary directory entry %s was left behind", entry.Name())
	}
}
