package server_test

import (
	"context"
	"net"
	"strings"
	"testing"

	"connectrpc.com/connect"

	secretsv1 "dokkumcp.dev/gen/dokkumcp/secrets/v1"
	"dokkumcp.dev/platform/authtest"
	"dokkumcp.dev/platform/pgtest"
)

// TestIssueFailsClosedWithoutLedger runs Secrets with a Tenancy URL on which
// nothing listens: no issuance can be audited, so none is returned. The
// devstack end-to-end tests cover the audited path through the real
// Identity and Tenancy.
func TestIssueFailsClosedWithoutLedger(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + l.Addr().String()
	l.Close()

	s := startSecrets(t, authtest.NewIssuer(t), pgtest.NewDatabase(t), "--master-key", newMasterKey(t),
		"--tenancy-url", down, "--client-secret", "test-secret-of-at-least-32-characters")
	resp, err := s.dokkuexec(t).IssueSSHCredential(context.Background(),
		connect.NewRequest(&secretsv1.IssueSSHCredentialRequest{TenantId: tenantID, HostId: hostID}))
	if connect.CodeOf(err) != connect.CodeUnavailable || !strings.Contains(err.Error(), "audit event could not be recorded") {
		t.Fatalf("IssueSSHCredential without a ledger = %v, %v; want Unavailable naming the audit event", resp, err)
	}
	if !strings.Contains(s.logs.String(), "audit event not recorded") {
		t.Errorf("Secrets' log does not name the unrecorded audit event:\n%s", s.logs.String())
	}
}

func TestAuditFlagsRequireSecret(t *testing.T) {
	t.Parallel()
	s, errc := runSecrets(t, authtest.NewIssuer(t), "postgres://unused", "--master-key", newMasterKey(t), "--tenancy-url", "http://127.0.0.1:1")
	defer s.cancel()
	if err := <-errc; err == nil || !strings.Contains(err.Error(), "--client-secret") {
		t.Errorf("Run with --tenancy-url and no --client-secret = %v, want an error naming --client-secret", err)
	}
}
