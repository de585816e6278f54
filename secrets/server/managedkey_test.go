package server_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5"
	"golang.org/x/crypto/ssh"

	secretsv1 "dokkumcp.dev/gen/dokkumcp/secrets/v1"
	"dokkumcp.dev/platform/authtest"
	"dokkumcp.dev/platform/pgtest"
	"dokkumcp.dev/platform/vaulttest"
)

const managedMode = secretsv1.CredentialMode_CREDENTIAL_MODE_MANAGED_KEY

func (s *stack) managedTrust(t *testing.T, host string) *secretsv1.GetHostTrustResponse {
	t.Helper()
	resp, err := s.operator(t).GetHostTrust(context.Background(), connect.NewRequest(&secretsv1.GetHostTrustRequest{
		TenantId: tenantID, HostId: host, CredentialMode: managedMode,
	}))
	if err != nil {
		t.Fatalf("GetHostTrust(%s, managed-key): %v", host, err)
	}
	return resp.Msg
}

func (s *stack) issueMode(t *testing.T, host string, mode secretsv1.CredentialMode) (*secretsv1.SSHCredential, error) {
	t.Helper()
	resp, err := s.dokkuexec(t).IssueSSHCredential(context.Background(), connect.NewRequest(&secretsv1.IssueSSHCredentialRequest{
		TenantId: tenantID, HostId: host, CredentialMode: mode,
	}))
	if err != nil {
		return nil, err
	}
	return resp.Msg.GetCredential(), nil
}

func TestManagedKeyOnboardingAndIssue(t *testing.T) {
	t.Parallel()
	v := vaulttest.New(t)
	s := startSecrets(t, authtest.NewIssuer(t), pgtest.NewDatabase(t),
		"--vault-addr", v.Addr, "--vault-token", v.RootToken, "--vault-bootstrap")

	trust := s.managedTrust(t, hostID)
	name := "dokkumcp-admin-" + principal + "-v1"
	if trust.GetCredentialMode() != managedMode || trust.GetKeyName() != name || trust.GetCaPublicKey() != "" {
		t.Errorf("trust mode %v, key name %q, CA key %q; want managed-key, %q and no CA key",
			trust.GetCredentialMode(), trust.GetKeyName(), trust.GetCaPublicKey(), name)
	}
	public := parseAuthorizedKey(t, trust.GetManagedPublicKey())
	if public.Type() != ssh.KeyAlgoED25519 {
		t.Errorf("managed key type = %s, want ed25519", public.Type())
	}
	wantLine := `command="FINGERPRINT=` + ssh.FingerprintSHA256(public) + ` NAME=\"` + name + `\" ` +
		"`cat /home/dokku/.sshcommand`" + ` $SSH_ORIGINAL_COMMAND",no-agent-forwarding,no-user-rc,no-X11-forwarding,no-port-forwarding ` +
		trust.GetManagedPublicKey()
	if trust.GetAuthorizedKeysLine() != wantLine {
		t.Errorf("authorized_keys line\n got %s\nwant %s", trust.GetAuthorizedKeysLine(), wantLine)
	}
	wantCommand := "echo '" + trust.GetManagedPublicKey() + "' | dokku ssh-keys:add '" + name + "'"
	if trust.GetInstallCommand() != wantCommand {
		t.Errorf("install command\n got %s\nwant %s", trust.GetInstallCommand(), wantCommand)
	}
	if again := s.managedTrust(t, hostID); again.GetManagedPublicKey() != trust.GetManagedPublicKey() {
		t.Error("a second GetHostTrust generated another key; want the stored one")
	}

	for _, mode := range []secretsv1.CredentialMode{managedMode, secretsv1.CredentialMode_CREDENTIAL_MODE_UNSPECIFIED} {
		credential, err := s.issueMode(t, hostID, mode)
		if err != nil {
			t.Fatalf("IssueSSHCredential(%v): %v", mode, err)
		}
		signer, err := ssh.ParsePrivateKey(credential.GetPrivateKey())
		if err != nil {
			t.Fatalf("parse issued private key: %v", err)
		}
		if string(signer.PublicKey().Marshal()) != string(public.Marshal()) {
			t.Errorf("mode %v: issued key is not the onboarded managed key", mode)
		}
		if credential.GetCredentialMode() != managedMode || credential.GetKeyVersion() != 1 ||
			credential.GetKeyId() != name || credential.GetCertificate() != "" || credential.GetExpireTime() == nil {
			t.Errorf("mode %v: credential mode %v, version %d, key id %q, certificate %q, expire %v",
				mode, credential.GetCredentialMode(), credential.GetKeyVersion(), credential.GetKeyId(),
				credential.GetCertificate(), credential.GetExpireTime())
		}
	}

	// Certificate mode stays available for the same host, and a host
	// without a managed key gets certificates unless managed-key is asked.
	for _, tt := range []struct {
		host string
		mode secretsv1.CredentialMode
	}{
		{hostID, secretsv1.CredentialMode_CREDENTIAL_MODE_CERTIFICATE},
		{"h-zzzzzzzzzz", secretsv1.CredentialMode_CREDENTIAL_MODE_UNSPECIFIED},
	} {
		credential, err := s.issueMode(t, tt.host, tt.mode)
		if err != nil {
			t.Fatalf("IssueSSHCredential(%s, %v): %v", tt.host, tt.mode, err)
		}
		if credential.GetCertificate() == "" || credential.GetCredentialMode() != secretsv1.CredentialMode_CREDENTIAL_MODE_CERTIFICATE {
			t.Errorf("IssueSSHCredential(%s, %v) returned mode %v without a certificate", tt.host, tt.mode, credential.GetCredentialMode())
		}
	}
	_, err := s.issueMode(t, "h-zzzzzzzzzz", managedMode)
	wantCode(t, err, connect.CodeFailedPrecondition, "has no managed key yet")

	// Issuances are recorded with their mode and key version, without key
	// material.
	conn, err := pgx.Connect(context.Background(), s.postgresURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var managed, version int
	err = conn.QueryRow(context.Background(), `
		SELECT count(*), max(key_version) FROM secrets.issuances
		WHERE credential_mode = 'managed-key' AND host_id = $1 AND key_id = $2`, hostID, name).Scan(&managed, &version)
	if err != nil {
		t.Fatal(err)
	}
	if managed != 2 || version != 1 {
		t.Errorf("issuances recorded %d managed-key rows with version %d, want 2 with version 1", managed, version)
	}
}

func TestManagedKeyConcurrentOnboardingAgrees(t *testing.T) {
	t.Parallel()
	v := vaulttest.New(t)
	s := startSecrets(t, authtest.NewIssuer(t), pgtest.NewDatabase(t),
		"--vault-addr", v.Addr, "--vault-token", v.RootToken, "--vault-bootstrap")
	s.managedTrust(t, "h-aaaaaaaaaa") // waits for the server

	const callers = 8
	keys := make([]string, callers)
	errs := make([]error, callers)
	client := s.operator(t)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			resp, err := client.GetHostTrust(context.Background(), connect.NewRequest(&secretsv1.GetHostTrustRequest{
				TenantId: tenantID, HostId: hostID, CredentialMode: managedMode,
			}))
			errs[i] = err
			if err == nil {
				keys[i] = resp.Msg.GetManagedPublicKey()
			}
		})
	}
	wg.Wait()
	for i, key := range keys {
		if errs[i] != nil {
			t.Fatalf("caller %d: GetHostTrust: %v", i, errs[i])
		}
		if key == "" || key != keys[0] {
			t.Fatalf("caller %d got key %q, caller 0 got %q; concurrent onboarding must settle on one key", i, key, keys[0])
		}
	}
}

func TestManagedKeyNeedsVault(t *testing.T) {
	t.Parallel()
	s := startBuiltin(t)
	_, err := s.operator(t).GetHostTrust(context.Background(), connect.NewRequest(&secretsv1.GetHostTrustRequest{
		TenantId: tenantID, HostId: hostID, CredentialMode: managedMode,
	}))
	wantCode(t, err, connect.CodeFailedPrecondition, "managed-key mode needs Vault")
	// Certificates keep working.
	if credential := s.issue(t); !strings.HasPrefix(credential.GetCertificate(), "ssh-ed25519-cert-v01@openssh.com ") {
		t.Errorf("certificate = %.40q", credential.GetCertificate())
	}
}

func TestManagedKeyOnboardingValidatesHostAccess(t *testing.T) {
	t.Parallel()
	v := vaulttest.New(t)
	s := startSecrets(t, authtest.NewIssuer(t), pgtest.NewDatabase(t),
		"--vault-addr", v.Addr, "--vault-token", v.RootToken, "--vault-bootstrap")
	s.managedTrust(t, hostID) // waits for the server

	const hostKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB1hSSTZkALhR8bDZUwhmdnUhumjn40nK7wUdRJU0ngk"
	for _, tt := range []struct {
		name, address string
		port          uint32
		hostKey, want string
	}{
		{"address with a user", "root@203.0.113.7", 22, hostKey, `address "root@203.0.113.7" is invalid`},
		{"no port", "203.0.113.7", 0, hostKey, "port 0 is invalid"},
		{"port out of range", "203.0.113.7", 70000, hostKey, "port 70000 is invalid"},
		{"no host key", "203.0.113.7", 22, "", "host_key is invalid"},
		{"host key not a key", "203.0.113.7", 22, "ssh-ed25519 !!!", "host_key is invalid"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.operator(t).GetHostTrust(context.Background(), connect.NewRequest(&secretsv1.GetHostTrustRequest{
				TenantId: tenantID, HostId: hostID, CredentialMode: managedMode,
				Address: tt.address, Port: tt.port, HostKey: tt.hostKey,
			}))
			wantCode(t, err, connect.CodeInvalidArgument, tt.want)
		})
	}

	resp, err := s.operator(t).GetHostTrust(context.Background(), connect.NewRequest(&secretsv1.GetHostTrustRequest{
		TenantId: tenantID, HostId: hostID, CredentialMode: managedMode,
		Address: "203.0.113.7", Port: 22, HostKey: hostKey,
	}))
	if err != nil {
		t.Fatalf("GetHostTrust with a valid address: %v", err)
	}
	if resp.Msg.GetKeyName() != "dokkumcp-admin-"+principal+"-v1" {
		t.Errorf("key name = %q, want version 1 unchanged by the address update", resp.Msg.GetKeyName())
	}

	// The rotation reads the address from the record in Vault.
	stored, err := rootClient(t, v).KVv2("dokkumcp-kv").Get(context.Background(), "dokkumcp/managed-keys/"+tenantID+"/"+hostID)
	if err != nil {
		t.Fatalf("read the record from Vault: %v", err)
	}
	host, _ := stored.Data["host"].(map[string]any)
	if host["address"] != "203.0.113.7" || stringOf(host["port"]) != "22" || host["host_key"] != hostKey {
		t.Errorf("stored host = %v, want 203.0.113.7, 22 and the host key", host)
	}
}

func TestForgetHostDeletesTheManagedKey(t *testing.T) {
	t.Parallel()
	v := vaulttest.New(t)
	s := startSecrets(t, authtest.NewIssuer(t), pgtest.NewDatabase(t),
		"--vault-addr", v.Addr, "--vault-token", v.RootToken, "--vault-bootstrap")
	trust := s.managedTrust(t, hostID)

	forget := func() *secretsv1.ForgetHostResponse {
		t.Helper()
		resp, err := s.operator(t).ForgetHost(context.Background(), connect.NewRequest(&secretsv1.ForgetHostRequest{TenantId: tenantID, HostId: hostID}))
		if err != nil {
			t.Fatalf("ForgetHost: %v", err)
		}
		return resp.Msg
	}
	first := forget()
	if !first.GetManagedKeyDeleted() || len(first.GetKeyNames()) != 1 || first.GetKeyNames()[0] != trust.GetKeyName() {
		t.Errorf("ForgetHost = deleted %v, key names %q; want deleted with %q", first.GetManagedKeyDeleted(), first.GetKeyNames(), trust.GetKeyName())
	}
	// The key is gone from Vault: it can no longer be issued, and a second
	// call has nothing to delete.
	_, err := s.issueMode(t, hostID, managedMode)
	wantCode(t, err, connect.CodeFailedPrecondition, "has no managed key yet")
	if again := forget(); again.GetManagedKeyDeleted() || len(again.GetKeyNames()) != 0 {
		t.Errorf("second ForgetHost = deleted %v, key names %q; want nothing deleted", again.GetManagedKeyDeleted(), again.GetKeyNames())
	}

	// Only platform identities may call it.
	_, err = s.dokkuexec(t).ForgetHost(context.Background(), connect.NewRequest(&secretsv1.ForgetHostRequest{TenantId: tenantID, HostId: hostID}))
	wantCode(t, err, connect.CodePermissionDenied, "")
}
