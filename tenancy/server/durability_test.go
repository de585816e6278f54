package server_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"

	tenancyv1 "dokkumcp.dev/gen/dokkumcp/tenancy/v1"
	"dokkumcp.dev/platform/authtest"
	"dokkumcp.dev/platform/config"
	"dokkumcp.dev/platform/pgtest"
	"dokkumcp.dev/tenancy/server"
)

// childEnv makes the test binary run the Tenancy server instead of the
// tests, configured through its DOKKUMCP_* variables, so a test can kill
// it with SIGKILL.
const childEnv = "DOKKUMCP_TEST_TENANCY_CHILD"

func runChild() {
	fs := config.NewFlagSet("tenancy")
	cfg := server.RegisterFlags(fs)
	if err := fs.Parse(nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := server.Run(ctx, server.Options{Config: cfg}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// startChild starts Tenancy in a child process and waits until it serves.
func startChild(t *testing.T, postgresURL, identityURL string) (*exec.Cmd, string) {
	t.Helper()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := listener.Addr().String()
	listener.Close()

	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), childEnv+"=1",
		config.EnvName("postgres-url")+"="+postgresURL,
		config.EnvName("identity-url")+"="+identityURL,
		config.EnvName("listen")+"="+addr,
		config.EnvName("log-level")+"=warn")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })

	url := "http://" + addr
	deadline := time.Now().Add(60 * time.Second)
	for {
		req, _ := http.NewRequest(http.MethodPost, url+"/grpc.health.v1.Health/Check", strings.NewReader("{}"))
		req.Header.Set("Content-Type", "application/json")
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return cmd, url
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("tenancy child did not become healthy at %s", url)
		}
		time.Sleep(20 * time.Millisecond) // polling interval while the child starts
	}
}

// TestAuditEventSurvivesSIGKILL appends an audit event, kills Tenancy with
// SIGKILL as soon as it has answered, restarts it on the same database and
// finds the event: the append is durable before the answer.
func TestAuditEventSurvivesSIGKILL(t *testing.T) {
	postgresURL := pgtest.NewDatabase(t)
	issuer := authtest.NewIssuer(t)
	ctx := context.Background()

	cmd, url := startChild(t, postgresURL, issuer.URL)
	s := &stack{url: url, postgresURL: postgresURL, issuer: issuer}
	tenant := createTenant(t, s.operator(t), "durable")
	appended := appendEvent(t, s.dokkuexec(t), &tenancyv1.AppendAuditEventRequest{
		TenantId: tenant.GetId(), Subject: "alice", ClientId: "claude", Operation: "CreateApp",
		Target: "main/shop", ArgumentsJson: `{"app":"shop"}`, Result: "ok", LatencyMs: 7,
	})
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	state, _ := cmd.Process.Wait()
	if status, ok := state.Sys().(syscall.WaitStatus); !ok || status.Signal() != syscall.SIGKILL {
		t.Fatalf("tenancy child ended with %v, want SIGKILL", state)
	}

	_, url = startChild(t, postgresURL, issuer.URL)
	s.url = url
	list, err := s.auditor(t, tenant.GetId()).ListAuditEvents(ctx, connect.NewRequest(&tenancyv1.ListAuditEventsRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	events := list.Msg.GetEvents()
	if len(events) != 1 || events[0].GetHash() != appended.GetHash() || events[0].GetOperation() != "CreateApp" {
		t.Fatalf("after SIGKILL and restart the ledger holds %v, want the appended event %v", events, appended)
	}
	if report := verifyChain(t, s.auditor(t, tenant.GetId()), ""); !report.GetOk() {
		t.Fatalf("VerifyAuditChain after restart = %v", report)
	}
}
