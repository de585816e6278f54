package server_test

import (
	"bufio"
	"context"
	"encoding/pem"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	vaultapi "github.com/hashicorp/vault/api"

	secretsv1 "dokkumcp.dev/gen/dokkumcp/secrets/v1"
	"dokkumcp.dev/platform/authtest"
	"dokkumcp.dev/platform/pgtest"
	"dokkumcp.dev/platform/vaulttest"
)

// signPolicy allows what Secrets needs on the default mount and role.
const signPolicy = `
path "ssh-client-signer/sign/dokku" { capabilities = ["update"] }
path "ssh-client-signer/config/ca" { capabilities = ["read"] }
`

// rootClient returns a Vault client with the dev server's root token.
func rootClient(t *testing.T, v *vaulttest.Server) *vaultapi.Client {
	t.Helper()
	client, err := vaultapi.NewClient(&vaultapi.Config{Address: v.Addr})
	if err != nil {
		t.Fatal(err)
	}
	client.SetToken(v.RootToken)
	return client
}

// prepareSSHEngine mounts the SSH engine with a CA key and, if withRole,
// the signing role, and writes the sign policy.
func prepareSSHEngine(t *testing.T, client *vaultapi.Client, withRole bool) {
	t.Helper()
	if err := client.Sys().Mount("ssh-client-signer", &vaultapi.MountInput{Type: "ssh"}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Logical().Write("ssh-client-signer/config/ca", map[string]any{"generate_signing_key": true, "key_type": "ed25519"}); err != nil {
		t.Fatal(err)
	}
	if withRole {
		_, err := client.Logical().Write("ssh-client-signer/roles/dokku", map[string]any{
			"key_type": "ca", "allow_user_certificates": true, "allowed_users": "*", "allow_user_key_ids": true,
			"ttl": "3600s", "max_ttl": "3600s", "default_extensions": map[string]string{}, "allowed_extensions": "",
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := client.Sys().PutPolicy("secrets-sign", signPolicy); err != nil {
		t.Fatal(err)
	}
}

// enableAppRole enables AppRole auth and returns a role id and secret id
// whose tokens live tokenTTL, renewable up to tokenMaxTTL.
func enableAppRole(t *testing.T, client *vaultapi.Client, tokenTTL, tokenMaxTTL string) (roleID, secretID string) {
	t.Helper()
	if err := client.Sys().EnableAuthWithOptions("approle", &vaultapi.EnableAuthOptions{Type: "approle"}); err != nil {
		t.Fatal(err)
	}
	_, err := client.Logical().Write("auth/approle/role/secrets", map[string]any{
		"token_policies": "secrets-sign", "token_ttl": tokenTTL, "token_max_ttl": tokenMaxTTL,
	})
	if err != nil {
		t.Fatal(err)
	}
	role, err := client.Logical().Read("auth/approle/role/secrets/role-id")
	if err != nil {
		t.Fatal(err)
	}
	secret, err := client.Logical().Write("auth/approle/role/secrets/secret-id", nil)
	if err != nil {
		t.Fatal(err)
	}
	return role.Data["role_id"].(string), secret.Data["secret_id"].(string)
}

// metricValue returns the value of the first series on /metrics whose
// line starts with name and contains every label in labels, or -1.
func metricValue(t *testing.T, s *stack, name string, labels ...string) float64 {
	t.Helper()
	resp, err := http.Get(s.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	scanner := bufio.NewScanner(resp.Body)
	scanner.Buffer(make([]byte, 1<<20), 1<<20)
lines:
	for scanner.Scan() {
		line := scanner.Text()
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		for _, label := range labels {
			if !strings.Contains(line, label) {
				continue lines
			}
		}
		value, err := strconv.ParseFloat(line[strings.LastIndex(line, " ")+1:], 64)
		if err != nil {
			t.Fatalf("parse %q: %v", line, err)
		}
		return value
	}
	return -1
}

func TestVaultAppRoleRenewsAndLogsInAgain(t *testing.T) {
	t.Parallel()
	v := vaulttest.New(t)
	root := rootClient(t, v)
	prepareSSHEngine(t, root, true)
	// Tokens live 10s and renew up to 20s, so the LifetimeWatcher renews,
	// reaches the max TTL and Secrets logs in again within the test.
	roleID, secretID := enableAppRole(t, root, "10s", "20s")

	s := startSecrets(t, authtest.NewIssuer(t), pgtest.NewDatabase(t),
		"--vault-addr", v.Addr, "--vault-auth-method", "approle",
		"--vault-approle-role-id", roleID, "--vault-approle-secret-id", secretID)

	logins := func() float64 {
		return metricValue(t, s, "dokkumcp_secrets_vault_request_duration_seconds_count", `operation="login"`, `outcome="ok"`)
	}
	if got := logins(); got != 1 {
		t.Fatalf("successful logins after start = %v, want 1", got)
	}

	// Every issuance across two re-logins must succeed.
	ticker := time.NewTicker(250 * time.Millisecond)
	defer ticker.Stop()
	deadline := time.After(90 * time.Second)
	issued := 0
	for logins() < 3 {
		s.issue(t)
		issued++
		select {
		case <-deadline:
			t.Fatalf("after %d issuances Secrets logged in %v times, want 3 within 90s", issued, logins())
		case <-ticker.C:
		}
	}
	for range 3 {
		s.issue(t)
	}

	if got := metricValue(t, s, "dokkumcp_secrets_vault_request_duration_seconds_count", `operation="renew"`, `outcome="ok"`); got < 1 {
		t.Errorf("successful renewals = %v, want at least 1", got)
	}
	if !strings.Contains(s.logs.String(), "vault token lifetime ended; logging in again") {
		t.Error("logs do not mention the re-login")
	}
	if strings.Contains(s.logs.String(), secretID) {
		t.Error("logs contain the AppRole secret id")
	}
}

func TestVaultAppRoleWrongSecretID(t *testing.T) {
	t.Parallel()
	v := vaulttest.New(t)
	root := rootClient(t, v)
	prepareSSHEngine(t, root, true)
	roleID, _ := enableAppRole(t, root, "1h", "2h")

	r, errc := runSecrets(t, authtest.NewIssuer(t), pgtest.NewDatabase(t),
		"--vault-addr", v.Addr, "--vault-auth-method", "approle",
		"--vault-approle-role-id", roleID, "--vault-approle-secret-id", "00000000-0000-0000-0000-000000000000")
	defer r.cancel()
	err := <-errc
	if err == nil {
		t.Fatal("Run with a wrong secret id succeeded, want an error")
	}
	for _, want := range []string{"Vault rejected the approle login", "--vault-approle-secret-id (DOKKUMCP_VAULT_APPROLE_SECRET_ID)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Run error = %q, want it to contain %q", err, want)
		}
	}
}

func TestVaultTokenIsRenewed(t *testing.T) {
	t.Parallel()
	v := vaulttest.New(t)
	root := rootClient(t, v)
	prepareSSHEngine(t, root, true)
	child, err := root.Auth().Token().Create(&vaultapi.TokenCreateRequest{
		Policies: []string{"secrets-sign"}, TTL: "10s", Renewable: new(true), NoParent: true,
	})
	if err != nil {
		t.Fatal(err)
	}

	s := startSecrets(t, authtest.NewIssuer(t), pgtest.NewDatabase(t),
		"--vault-addr", v.Addr, "--vault-token", child.Auth.ClientToken)
	expiry := func() float64 { return metricValue(t, s, "dokkumcp_secrets_vault_token_expiry_timestamp_seconds") }
	first := expiry()
	if first <= float64(time.Now().Unix()) {
		t.Fatalf("token expiry gauge = %v, want a time in the future", first)
	}

	deadline := time.Now().Add(30 * time.Second)
	for expiry() <= first+1 {
		if time.Now().After(deadline) {
			t.Fatalf("token expiry stayed at %v for 30s; the token was not renewed", first)
		}
		s.issue(t)
	}
	lookup, err := root.Auth().Token().Lookup(child.Auth.ClientToken)
	if err != nil {
		t.Fatalf("the child token is gone: %v", err)
	}
	if ttl, _ := lookup.TokenTTL(); ttl <= 0 {
		t.Errorf("child token TTL = %s, want positive", ttl)
	}
}

func TestVaultMissingRoleIsFailedPrecondition(t *testing.T) {
	t.Parallel()
	v := vaulttest.New(t)
	prepareSSHEngine(t, rootClient(t, v), false)
	s := startSecrets(t, authtest.NewIssuer(t), pgtest.NewDatabase(t), "--vault-addr", v.Addr, "--vault-token", v.RootToken)

	_, err := s.dokkuexec(t).IssueSSHCredential(context.Background(),
		connect.NewRequest(&secretsv1.IssueSSHCredentialRequest{TenantId: tenantID, HostId: hostID}))
	wantCode(t, err, connect.CodeFailedPrecondition, "Vault role dokku on mount ssh-client-signer not found; create it or run with --vault-bootstrap")
}

func TestVaultMetricsAfterIssue(t *testing.T) {
	t.Parallel()
	v := vaulttest.New(t)
	s := startSecrets(t, authtest.NewIssuer(t), pgtest.NewDatabase(t),
		"--vault-addr", v.Addr, "--vault-token", v.RootToken, "--vault-bootstrap")
	s.issue(t)

	checks := []struct {
		name   string
		labels []string
		want   func(float64) bool
	}{
		{"dokkumcp_secrets_vault_request_duration_seconds_count", []string{`operation="sign"`, `outcome="ok"`}, func(v float64) bool { return v == 1 }},
		{"dokkumcp_secrets_vault_request_duration_seconds_count", []string{`operation="read_ca"`, `outcome="ok"`}, func(v float64) bool { return v >= 1 }},
		{"dokkumcp_secrets_vault_request_duration_seconds_count", []string{`operation="login"`, `outcome="ok"`}, func(v float64) bool { return v == 1 }},
		{"dokkumcp_secrets_vault_up", nil, func(v float64) bool { return v == 1 }},
		{"dokkumcp_secrets_credentials_issued_total", []string{`backend="vault"`}, func(v float64) bool { return v == 1 }},
	}
	for _, c := range checks {
		if got := metricValue(t, s, c.name, c.labels...); !c.want(got) {
			t.Errorf("%s%v = %v", c.name, c.labels, got)
		}
	}
	// The root token does not expire, so no expiry is reported.
	if got := metricValue(t, s, "dokkumcp_secrets_vault_token_expiry_timestamp_seconds"); got != -1 {
		t.Errorf("token expiry gauge = %v for a root token, want absent", got)
	}

	v.Kill()
	_, err := s.dokkuexec(t).IssueSSHCredential(context.Background(),
		connect.NewRequest(&secretsv1.IssueSSHCredentialRequest{TenantId: tenantID, HostId: hostID}))
	wantCode(t, err, connect.CodeUnavailable, "the SSH CA is unavailable")
	if got := metricValue(t, s, "dokkumcp_secrets_vault_up"); got != 0 {
		t.Errorf("dokkumcp_secrets_vault_up = %v after Vault stopped, want 0", got)
	}
}

// TestKeyMaterialStaysInMemory issues with both backends and then scans
// the process's TMPDIR and Secrets' logs for the issued keys and
// certificates. t.Setenv rules out t.Parallel.
func TestKeyMaterialStaysInMemory(t *testing.T) {
	// The databases come first: the shared PostgreSQL cluster, which may
	// start here, runs as another user that cannot reach a private TMPDIR.
	builtinDB, vaultDB := pgtest.NewDatabase(t), pgtest.NewDatabase(t)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)

	builtin := startSecrets(t, authtest.NewIssuer(t), builtinDB, "--master-key", newMasterKey(t))
	v := vaulttest.New(t)
	withVault := startSecrets(t, authtest.NewIssuer(t), vaultDB,
		"--vault-addr", v.Addr, "--vault-token", v.RootToken, "--vault-bootstrap")

	var secrets []string
	for _, s := range []*stack{builtin, withVault} {
		for range 2 {
			credential := s.issue(t)
			secrets = append(secrets, strings.Fields(credential.GetCertificate())[1])
			block, _ := pem.Decode(credential.GetPrivateKey())
			if block == nil {
				t.Fatal("private key is not PEM")
			}
			// Every full line of the PEM body, so a partial copy is found too.
			for _, line := range strings.Split(string(credential.GetPrivateKey()), "\n") {
				if len(line) >= 40 && !strings.HasPrefix(line, "-----") {
					secrets = append(secrets, line)
				}
			}
		}
	}
	// A managed key, which Vault's KV engine stores, must not leak either.
	withVault.managedTrust(t, hostID)
	managed, err := withVault.issueMode(t, hostID, managedMode)
	if err != nil {
		t.Fatalf("issue managed key: %v", err)
	}
	for _, line := range strings.Split(string(managed.GetPrivateKey()), "\n") {
		if len(line) >= 40 && !strings.HasPrefix(line, "-----") {
			secrets = append(secrets, line)
		}
	}
	secrets = append(secrets, "PRIVATE KEY")

	scan := func(where, text string) {
		for _, secret := range secrets {
			if strings.Contains(text, secret) {
				t.Errorf("%s contains key material %.20q...", where, secret)
			}
		}
	}
	builtin.stop()
	withVault.stop()
	scan("builtin CA logs", builtin.logs.String())
	scan("Vault CA logs", withVault.logs.String())

	files := 0
	err = filepath.WalkDir(tmp, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !d.Type().IsRegular() {
			return err
		}
		content, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		scan(path, string(content))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("scanned %d files in TMPDIR", files)
}
