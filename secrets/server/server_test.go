package server_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	vaultapi "github.com/hashicorp/vault/api"
	"github.com/jackc/pgx/v5"
	"golang.org/x/crypto/ssh"

	secretsv1 "dokkumcp.dev/gen/dokkumcp/secrets/v1"
	"dokkumcp.dev/gen/dokkumcp/secrets/v1/secretsv1connect"
	"dokkumcp.dev/platform/auth"
	"dokkumcp.dev/platform/authtest"
	"dokkumcp.dev/platform/config"
	"dokkumcp.dev/platform/logging"
	"dokkumcp.dev/platform/pgtest"
	"dokkumcp.dev/platform/vaulttest"
	"dokkumcp.dev/secrets/server"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const (
	tenantID = "t-k3xq7a2mzd"
	hostID   = "h-p4w2ndr6ta"
	// principal is t-<tenant>-h-<host> for tenantID and hostID.
	principal = "t-k3xq7a2mzd-h-p4w2ndr6ta"
)

func newMasterKey(t *testing.T) string {
	t.Helper()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(key)
}

// stack is a running Secrets server with its database and token issuer.
type stack struct {
	url         string
	postgresURL string
	issuer      *authtest.Issuer
	// logs holds everything Secrets logged.
	logs *syncBuffer
	stop func()
}

// startSecrets runs Secrets with flags until the test ends or stop is
// called. It fails the test if Run returns an error.
func startSecrets(t *testing.T, issuer *authtest.Issuer, postgresURL string, flags ...string) *stack {
	t.Helper()
	s, errc := runSecrets(t, issuer, postgresURL, flags...)
	var stopped bool
	s.stop = func() {
		if stopped {
			return
		}
		stopped = true
		s.cancel()
		if err := <-errc; err != nil {
			t.Errorf("server.Run returned %v", err)
		}
	}
	t.Cleanup(s.stop)
	return s.stack
}

type running struct {
	*stack
	cancel context.CancelFunc
}

func runSecrets(t *testing.T, issuer *authtest.Issuer, postgresURL string, flags ...string) (running, <-chan error) {
	t.Helper()
	fs := config.NewFlagSet("secrets")
	cfg := server.RegisterFlags(fs)
	args := append([]string{"--postgres-url", postgresURL, "--identity-url", issuer.URL}, flags...)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	logs := &syncBuffer{}
	go func() {
		errc <- server.Run(ctx, server.Options{
			Config:   cfg,
			Listener: listener,
			Logger:   logging.New(io.MultiWriter(testWriter{t}, logs), "secrets", logging.ParseLevel("debug")),
		})
	}()
	return running{
		stack:  &stack{url: "http://" + listener.Addr().String(), postgresURL: postgresURL, issuer: issuer, logs: logs},
		cancel: cancel,
	}, errc
}

func startBuiltin(t *testing.T) *stack {
	t.Helper()
	return startSecrets(t, authtest.NewIssuer(t), pgtest.NewDatabase(t), "--master-key", newMasterKey(t))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func (s *stack) client(token string) secretsv1connect.SecretsServiceClient {
	return secretsv1connect.NewSecretsServiceClient(http.DefaultClient, s.url,
		connect.WithInterceptors(auth.NewClientInterceptor(func(context.Context) (string, error) { return token, nil })))
}

// dokkuexec returns a client with the DokkuExec service identity's
// permissions.
func (s *stack) dokkuexec(t *testing.T) secretsv1connect.SecretsServiceClient {
	return s.client(s.issuer.Mint(t, authtest.Token{Audience: server.Audience, Subject: "dokkuexec", Scope: "tenancy:read-hosts secrets:issue"}))
}

// operator returns a client with the platform operator's permissions.
func (s *stack) operator(t *testing.T) secretsv1connect.SecretsServiceClient {
	return s.client(s.issuer.Mint(t, authtest.Token{Audience: server.Audience, Subject: "operator", Scope: "platform:admin"}))
}

func (s *stack) issue(t *testing.T) *secretsv1.SSHCredential {
	t.Helper()
	resp, err := s.dokkuexec(t).IssueSSHCredential(context.Background(),
		connect.NewRequest(&secretsv1.IssueSSHCredentialRequest{TenantId: tenantID, HostId: hostID}))
	if err != nil {
		t.Fatalf("IssueSSHCredential: %v", err)
	}
	return resp.Msg.GetCredential()
}

func (s *stack) trust(t *testing.T) *secretsv1.GetHostTrustResponse {
	t.Helper()
	resp, err := s.operator(t).GetHostTrust(context.Background(),
		connect.NewRequest(&secretsv1.GetHostTrustRequest{TenantId: tenantID, HostId: hostID}))
	if err != nil {
		t.Fatalf("GetHostTrust: %v", err)
	}
	return resp.Msg
}

func parseAuthorizedKey(t *testing.T, text string) ssh.PublicKey {
	t.Helper()
	key, _, _, rest, err := ssh.ParseAuthorizedKey([]byte(text))
	if err != nil {
		t.Fatalf("parse %q: %v", text, err)
	}
	if len(rest) > 0 {
		t.Fatalf("%q holds more than one key", text)
	}
	return key
}

// checkCredential checks everything a host and DokkuExec rely on in an
// issued credential, with the CA key caKey and lifetime ttl.
func checkCredential(t *testing.T, credential *secretsv1.SSHCredential, caKey ssh.PublicKey, ttl time.Duration, backend string) {
	t.Helper()
	key := parseAuthorizedKey(t, credential.GetCertificate())
	cert, ok := key.(*ssh.Certificate)
	if !ok {
		t.Fatalf("certificate is a %s, not a certificate", key.Type())
	}

	if cert.CertType != ssh.UserCert {
		t.Errorf("cert type = %d, want user", cert.CertType)
	}
	if !slices.Equal(cert.ValidPrincipals, []string{principal}) {
		t.Errorf("principals = %q, want [%s]", cert.ValidPrincipals, principal)
	}
	if credential.GetPrincipal() != principal {
		t.Errorf("principal = %q, want %q", credential.GetPrincipal(), principal)
	}
	if len(cert.CriticalOptions) != 0 {
		t.Errorf("critical options = %v, want none", cert.CriticalOptions)
	}
	if len(cert.Extensions) != 0 {
		t.Errorf("extensions = %v, want none", cert.Extensions)
	}

	now := time.Now()
	validBefore := time.Unix(int64(cert.ValidBefore), 0)
	if d := validBefore.Sub(now); d < ttl-time.Minute || d > ttl+time.Minute {
		t.Errorf("certificate expires in %s, want about %s", d, ttl)
	}
	if validAfter := time.Unix(int64(cert.ValidAfter), 0); validAfter.After(now) || now.Sub(validAfter) > 2*time.Minute {
		t.Errorf("certificate valid after %s, want shortly before now %s", validAfter, now)
	}
	if !credential.GetExpireTime().AsTime().Equal(validBefore) {
		t.Errorf("expire_time = %s, want the certificate's valid before %s", credential.GetExpireTime().AsTime(), validBefore)
	}

	wantKeyIDPrefix := "tenant=" + tenantID + " host=" + hostID + " request="
	if !strings.HasPrefix(cert.KeyId, wantKeyIDPrefix) || len(cert.KeyId) == len(wantKeyIDPrefix) {
		t.Errorf("key id = %q, want %q followed by a request id", cert.KeyId, wantKeyIDPrefix)
	}
	if credential.GetKeyId() != cert.KeyId {
		t.Errorf("key_id = %q, want the certificate's %q", credential.GetKeyId(), cert.KeyId)
	}
	if credential.GetSerial() != cert.Serial {
		t.Errorf("serial = %d, want the certificate's %d", credential.GetSerial(), cert.Serial)
	}
	if credential.GetBackend() != backend {
		t.Errorf("backend = %q, want %q", credential.GetBackend(), backend)
	}

	// The private key is the one the certificate certifies.
	private, err := ssh.ParseRawPrivateKey(credential.GetPrivateKey())
	if err != nil {
		t.Fatalf("parse private key: %v", err)
	}
	edPrivate, ok := private.(*ed25519.PrivateKey)
	if !ok {
		t.Fatalf("private key is a %T, want ed25519", private)
	}
	public, err := ssh.NewPublicKey(edPrivate.Public())
	if err != nil {
		t.Fatal(err)
	}
	if string(public.Marshal()) != string(cert.Key.Marshal()) {
		t.Error("private key does not match the certificate's key")
	}

	// The certificate is signed by the CA and accepted as sshd would.
	if string(cert.SignatureKey.Marshal()) != string(caKey.Marshal()) {
		t.Errorf("certificate signed by %s, want CA %s", ssh.FingerprintSHA256(cert.SignatureKey), ssh.FingerprintSHA256(caKey))
	}
	checker := ssh.CertChecker{IsUserAuthority: func(auth ssh.PublicKey) bool { return string(auth.Marshal()) == string(caKey.Marshal()) }}
	if err := checker.CheckCert(principal, cert); err != nil {
		t.Errorf("CheckCert(%s): %v", principal, err)
	}
	if err := checker.CheckCert("t-aaaaaaaaaa-h-aaaaaaaaaa", cert); err == nil {
		t.Error("CheckCert accepted another host's principal")
	}
}

func TestIssueBuiltinCA(t *testing.T) {
	t.Parallel()
	s := startBuiltin(t)

	credential := s.issue(t)
	caKey := parseAuthorizedKey(t, s.trust(t).GetCaPublicKey())
	checkCredential(t, credential, caKey, time.Hour, "builtin")

	second := s.issue(t)
	if second.GetSerial() == credential.GetSerial() || second.GetKeyId() == credential.GetKeyId() {
		t.Errorf("two issuances share serial %d or key id %q", second.GetSerial(), second.GetKeyId())
	}
	if string(second.GetPrivateKey()) == string(credential.GetPrivateKey()) {
		t.Error("two issuances share a private key")
	}
}

func TestIssueRecordsMetadataOnly(t *testing.T) {
	t.Parallel()
	s := startBuiltin(t)
	credential := s.issue(t)

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, s.postgresURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var gotTenant, gotHost, gotPrincipal, gotSerial, gotKeyID, gotBackend string
	err = conn.QueryRow(ctx, `SELECT tenant_id, host_id, principal, serial::text, key_id, backend FROM secrets.issuances`).
		Scan(&gotTenant, &gotHost, &gotPrincipal, &gotSerial, &gotKeyID, &gotBackend)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{tenantID, hostID, principal, strconv.FormatUint(credential.GetSerial(), 10), credential.GetKeyId(), "builtin"}
	if got := []string{gotTenant, gotHost, gotPrincipal, gotSerial, gotKeyID, gotBackend}; !slices.Equal(got, want) {
		t.Errorf("issuance row = %q, want %q", got, want)
	}

	// No column of the schema holds the issued private key or certificate.
	var dump string
	err = conn.QueryRow(ctx, `SELECT coalesce(string_agg(i::text, ' '), '') FROM secrets.issuances i`).Scan(&dump)
	if err != nil {
		t.Fatal(err)
	}
	certBody := strings.Fields(credential.GetCertificate())[1]
	if strings.Contains(dump, certBody) || strings.Contains(dump, "PRIVATE KEY") {
		t.Error("issuances hold key material")
	}
}

func TestIssueCertTTLFlag(t *testing.T) {
	t.Parallel()
	s := startSecrets(t, authtest.NewIssuer(t), pgtest.NewDatabase(t), "--master-key", newMasterKey(t), "--cert-ttl", "10m")

	caKey := parseAuthorizedKey(t, s.trust(t).GetCaPublicKey())
	checkCredential(t, s.issue(t), caKey, 10*time.Minute, "builtin")
}

func TestBuiltinCASurvivesRestart(t *testing.T) {
	t.Parallel()
	issuer := authtest.NewIssuer(t)
	postgresURL := pgtest.NewDatabase(t)
	masterKey := newMasterKey(t)

	first := startSecrets(t, issuer, postgresURL, "--master-key", masterKey)
	before := first.trust(t).GetCaPublicKey()
	first.stop()

	second := startSecrets(t, issuer, postgresURL, "--master-key", masterKey)
	if after := second.trust(t).GetCaPublicKey(); after != before {
		t.Errorf("CA key after restart = %q, want %q", after, before)
	}
	checkCredential(t, second.issue(t), parseAuthorizedKey(t, before), time.Hour, "builtin")
	second.stop()

	wrong, errc := runSecrets(t, issuer, postgresURL, "--master-key", newMasterKey(t))
	defer wrong.cancel()
	err := <-errc
	if err == nil {
		t.Fatal("Run with another master key succeeded, want an error")
	}
	if !strings.Contains(err.Error(), "does not decrypt with the configured master key") {
		t.Errorf("Run error = %q, want it to name the master key mismatch", err)
	}
}

func TestConfigValidation(t *testing.T) {
	t.Parallel()
	issuer := authtest.NewIssuer(t)

	tests := []struct {
		name    string
		flags   []string
		message string
	}{
		{"missing master key", nil, "--master-key is required"},
		{"short master key", []string{"--master-key", base64.StdEncoding.EncodeToString([]byte("short"))}, "exactly 32 bytes"},
		{"master key not base64", []string{"--master-key", "!!!"}, "--master-key is invalid"},
		{"vault without token", []string{"--vault-addr", "http://127.0.0.1:1"}, "--vault-token (DOKKUMCP_VAULT_TOKEN) is required"},
		{"approle without secret id", []string{"--vault-addr", "http://127.0.0.1:1", "--vault-auth-method", "approle", "--vault-approle-role-id", "r"}, "--vault-approle-secret-id (DOKKUMCP_VAULT_APPROLE_SECRET_ID) or --vault-approle-secret-id-file"},
		{"kubernetes without role", []string{"--vault-addr", "http://127.0.0.1:1", "--vault-auth-method", "kubernetes"}, "--vault-kubernetes-role (DOKKUMCP_VAULT_KUBERNETES_ROLE) is required"},
		{"unknown auth method", []string{"--vault-addr", "http://127.0.0.1:1", "--vault-auth-method", "ldap", "--vault-token", "x"}, "--vault-auth-method (DOKKUMCP_VAULT_AUTH_METHOD) is invalid"},
		{"bad vault mount", []string{"--vault-addr", "http://127.0.0.1:1", "--vault-token", "x", "--vault-mount", "/ssh/"}, "--vault-mount is invalid"},
		{"ttl too long", []string{"--master-key", newMasterKey(t), "--cert-ttl", "48h"}, "--cert-ttl 48h0m0s is out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Validation fails before Run touches the database.
			r, errc := runSecrets(t, issuer, "host=/nonexistent", tt.flags...)
			defer r.cancel()
			err := <-errc
			if err == nil || !strings.Contains(err.Error(), tt.message) {
				t.Errorf("Run error = %v, want it to contain %q", err, tt.message)
			}
		})
	}
}

func TestHostTrustLine(t *testing.T) {
	t.Parallel()
	s := startBuiltin(t)
	trust := s.trust(t)
	caKey := parseAuthorizedKey(t, trust.GetCaPublicKey())

	if trust.GetPrincipal() != principal {
		t.Errorf("principal = %q, want %q", trust.GetPrincipal(), principal)
	}

	key, _, options, _, err := ssh.ParseAuthorizedKey([]byte(trust.GetAuthorizedKeysLine()))
	if err != nil {
		t.Fatalf("parse authorized_keys line: %v", err)
	}
	if string(key.Marshal()) != string(caKey.Marshal()) {
		t.Error("authorized_keys line carries another key than ca_public_key")
	}
	wantOptions := []string{
		`command="FINGERPRINT=` + ssh.FingerprintSHA256(caKey) + ` NAME=\"dokkumcp-` + principal + `\" ` +
			"`cat /home/dokku/.sshcommand`" + ` $SSH_ORIGINAL_COMMAND"`,
		"no-agent-forwarding", "no-user-rc", "no-X11-forwarding", "no-port-forwarding",
		"cert-authority",
		`principals="` + principal + `"`,
	}
	if !slices.Equal(options, wantOptions) {
		t.Errorf("options = %q,\nwant %q", options, wantOptions)
	}
}

// TestHostTrustInstallCommand runs install_command in a shell whose
// sshcommand is a stand-in that builds the line with the statement copied
// from sshcommand's acl-add (dokku/sshcommand master), so the command's
// quoting and the returned line are checked against sshcommand itself.
func TestHostTrustInstallCommand(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"bash", "sh", "ssh-keygen"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not found: %v", tool, err)
		}
	}
	s := startBuiltin(t)
	trust := s.trust(t)

	bin := t.TempDir()
	standIn := `#!/usr/bin/env bash
set -eo pipefail
[[ "$1" == acl-add && "$2" == dokku && $# -eq 3 ]] || { echo "unexpected arguments: $*" >&2; exit 2; }
NAME="$3"
USERHOME=/home/dokku
KEY=$(cat)
FINGERPRINT=$(ssh-keygen -lf <(echo "command=\"dummy to fail when options already exist\" $KEY") | awk '{print $2}')
ALLOWED_KEYS="${SSHCOMMAND_ALLOWED_KEYS:="no-agent-forwarding,no-user-rc,no-X11-forwarding,no-port-forwarding"}"
KEY_PREFIX="command=\"FINGERPRINT=$FINGERPRINT NAME=\\\"$NAME\\\" \` + "`" + `cat $USERHOME/.sshcommand\` + "`" + ` \$SSH_ORIGINAL_COMMAND\",$ALLOWED_KEYS"
echo "$KEY_PREFIX $KEY"
`
	if err := os.WriteFile(filepath.Join(bin, "sshcommand"), []byte(standIn), 0o755); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command("sh", "-c", trust.GetInstallCommand())
	cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("install command %q failed: %v: %s", trust.GetInstallCommand(), err, stderr.String())
	}
	if got := strings.TrimSuffix(string(out), "\n"); got != trust.GetAuthorizedKeysLine() {
		t.Errorf("sshcommand wrote\n%s\nwant authorized_keys_line\n%s", got, trust.GetAuthorizedKeysLine())
	}
}

func TestValidationAndAuthorization(t *testing.T) {
	t.Parallel()
	s := startBuiltin(t)
	ctx := context.Background()

	requests := []struct {
		name     string
		tenantID string
		hostID   string
		message  string
	}{
		{"missing tenant", "", hostID, "tenant_id is missing"},
		{"bad tenant", "acme", hostID, `tenant_id "acme" is invalid`},
		{"missing host", tenantID, "", "host_id is missing"},
		{"host name instead of id", tenantID, "prod", `host_id "prod" is invalid`},
		{"injection attempt", tenantID, "h-aaaaaaaaaa' ; id", "is invalid"},
	}
	for _, tt := range requests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.dokkuexec(t).IssueSSHCredential(ctx, connect.NewRequest(&secretsv1.IssueSSHCredentialRequest{TenantId: tt.tenantID, HostId: tt.hostID}))
			wantCode(t, err, connect.CodeInvalidArgument, tt.message)
			_, err = s.operator(t).GetHostTrust(ctx, connect.NewRequest(&secretsv1.GetHostTrustRequest{TenantId: tt.tenantID, HostId: tt.hostID}))
			wantCode(t, err, connect.CodeInvalidArgument, tt.message)
		})
	}

	// Each call gets its own request, because the client interceptor sets
	// the Authorization header on the request it sends.
	issue := func() *connect.Request[secretsv1.IssueSSHCredentialRequest] {
		return connect.NewRequest(&secretsv1.IssueSSHCredentialRequest{TenantId: tenantID, HostId: hostID})
	}
	callers := []struct {
		name    string
		token   authtest.Token
		code    connect.Code
		message string
	}{
		{"missing permission", authtest.Token{Audience: server.Audience, Subject: "operator", Scope: "platform:admin"},
			connect.CodePermissionDenied, `permission "secrets:issue" is required`},
		{"tenant token", authtest.Token{Audience: server.Audience, Subject: "alice", Scope: "secrets:issue", TenantID: tenantID},
			connect.CodePermissionDenied, "scoped to tenant " + tenantID},
		{"wrong audience", authtest.Token{Audience: "urn:dokkumcp:tenancy", Subject: "dokkuexec", Scope: "secrets:issue"},
			connect.CodeUnauthenticated, "invalid access token"},
	}
	for _, tt := range callers {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.client(s.issuer.Mint(t, tt.token)).IssueSSHCredential(ctx, issue())
			wantCode(t, err, tt.code, tt.message)
		})
	}

	_, err := secretsv1connect.NewSecretsServiceClient(http.DefaultClient, s.url).IssueSSHCredential(ctx, issue())
	wantCode(t, err, connect.CodeUnauthenticated, "missing bearer token")

	_, err = s.dokkuexec(t).GetHostTrust(ctx, connect.NewRequest(&secretsv1.GetHostTrustRequest{TenantId: tenantID, HostId: hostID}))
	wantCode(t, err, connect.CodePermissionDenied, `permission "platform:admin" is required`)
}

func wantCode(t *testing.T, err error, code connect.Code, messageContains string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %v", code)
	}
	if got := connect.CodeOf(err); got != code {
		t.Fatalf("got code %v (%v), want %v", got, err, code)
	}
	var connectErr *connect.Error
	if errors.As(err, &connectErr) && !strings.Contains(connectErr.Message(), messageContains) {
		t.Errorf("message %q does not contain %q", connectErr.Message(), messageContains)
	}
}

func TestIssueVaultCA(t *testing.T) {
	t.Parallel()
	v := vaulttest.New(t)
	s := startSecrets(t, authtest.NewIssuer(t), pgtest.NewDatabase(t),
		"--vault-addr", v.Addr, "--vault-token", v.RootToken, "--vault-bootstrap")

	// The first call returns once Run serves, which it does after the
	// bootstrap.
	trust := s.trust(t)

	client, err := vaultapi.NewClient(&vaultapi.Config{Address: v.Addr})
	if err != nil {
		t.Fatal(err)
	}
	client.SetToken(v.RootToken)

	ca, err := client.Logical().Read("ssh-client-signer/config/ca")
	if err != nil || ca == nil {
		t.Fatalf("read CA from Vault: %v, %v", ca, err)
	}
	caText, _ := ca.Data["public_key"].(string)
	caKey := parseAuthorizedKey(t, caText)
	if caKey.Type() != ssh.KeyAlgoED25519 {
		t.Errorf("Vault CA key type = %s, want ed25519", caKey.Type())
	}
	if got := trust.GetCaPublicKey(); got != strings.TrimSpace(string(ssh.MarshalAuthorizedKey(caKey))) {
		t.Errorf("ca_public_key = %q, want Vault's %q", got, caText)
	}

	role, err := client.Logical().Read("ssh-client-signer/roles/dokku")
	if err != nil || role == nil {
		t.Fatalf("read role from Vault: %v, %v", role, err)
	}
	for field, want := range map[string]string{"ttl": "3600", "max_ttl": "3600", "key_type": "ca", "allowed_users": "*", "allowed_extensions": ""} {
		if got := stringOf(role.Data[field]); got != want {
			t.Errorf("role %s = %q, want %q", field, got, want)
		}
	}
	if got, _ := role.Data["allow_user_certificates"].(bool); !got {
		t.Error("role allow_user_certificates is false, want true")
	}

	credential := s.issue(t)
	checkCredential(t, credential, caKey, time.Hour, "vault")

	// A second start finds everything in place and keeps the CA key.
	again := startSecrets(t, s.issuer, pgtest.NewDatabase(t),
		"--vault-addr", v.Addr, "--vault-token", v.RootToken, "--vault-bootstrap")
	if got := again.trust(t).GetCaPublicKey(); got != trust.GetCaPublicKey() {
		t.Errorf("CA key after second bootstrap = %q, want it unchanged", got)
	}

	// Once Vault is gone, issuing fails as Unavailable without leaking
	// Vault's address.
	v.Kill()
	_, err = s.dokkuexec(t).IssueSSHCredential(context.Background(),
		connect.NewRequest(&secretsv1.IssueSSHCredentialRequest{TenantId: tenantID, HostId: hostID}))
	wantCode(t, err, connect.CodeUnavailable, "the SSH CA is unavailable")
	if strings.Contains(err.Error(), "127.0.0.1") {
		t.Errorf("error %q leaks Vault's address", err)
	}
}

// stringOf renders a Vault response field; numbers arrive as json.Number.
func stringOf(v any) string {
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}
