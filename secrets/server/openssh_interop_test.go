package server_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	secretsv1 "dokkumcp.dev/gen/dokkumcp/secrets/v1"
	"dokkumcp.dev/platform/authtest"
	"dokkumcp.dev/platform/pgtest"
	"dokkumcp.dev/platform/vaulttest"
	"dokkumcp.dev/secrets/internal/domain"
)

const (
	sshdPath      = "/usr/sbin/sshd"
	sshClientPath = "/usr/bin/ssh"

	// dokkuSSHCommandPath is the file whose content is the dokku binary's
	// path, which the trust line's forced command runs.
	dokkuSSHCommandPath = "/home/dokku/.sshcommand"

	// otherTenantID and otherHostID give principals that the trust line for
	// tenantID and hostID must not admit.
	otherTenantID = "t-bbbbbbbbbb"
	otherHostID   = "h-cccccccccc"
)

// TestOpenSSHInterop installs Secrets' trust line in a private OpenSSH sshd
// and logs in with the credentials Secrets issues, once with the built-in
// CA and once with Vault's SSH secrets engine.
func TestOpenSSHInterop(t *testing.T) {
	t.Parallel()
	requireSSHD(t)

	backends := []struct {
		name  string
		start func(t *testing.T) *stack
	}{
		{"builtin", startBuiltin},
		{"vault", func(t *testing.T) *stack {
			v := vaulttest.New(t)
			return startSecrets(t, authtest.NewIssuer(t), pgtest.NewDatabase(t),
				"--vault-addr", v.Addr, "--vault-token", v.RootToken, "--vault-bootstrap")
		}},
	}
	for _, backend := range backends {
		t.Run(backend.name, func(t *testing.T) {
			t.Parallel()
			checkOpenSSHLogins(t, backend.start(t))
		})
	}
}

// sshCredential is a private key and, unless it is a plain key, the
// certificate that certifies it.
type sshCredential struct {
	privateKeyPEM []byte
	certificate   *ssh.Certificate
}

// trustNamePattern matches the key name in a trust line's forced command,
// which sets NAME=\"<name>\".
var trustNamePattern = regexp.MustCompile(`NAME=\\"([^"\\]+)\\"`)

func checkOpenSSHLogins(t *testing.T, s *stack) {
	trust := s.trust(t)
	nameMatch := trustNamePattern.FindStringSubmatch(trust.GetAuthorizedKeysLine())
	if nameMatch == nil {
		t.Fatalf("trust line has no NAME in its forced command: %s", trust.GetAuthorizedKeysLine())
	}
	name := nameMatch[1]

	// The test's own CA signs the certificates Secrets cannot issue: an
	// expired one, one with a force-command critical option, and a valid one
	// that shows the expired certificate fails only because of its expiry.
	// Its line is built by the same code as Secrets' trust line for the same
	// tenant and host, so it differs only in the CA key and fingerprint.
	testCA := newTestCA(t)
	testCALine := domain.NewTrust(domain.Target{TenantID: tenantID, HostID: hostID}, testCA.PublicKey()).AuthorizedKeysLine

	sshd := startSSHD(t, []string{trust.GetAuthorizedKeysLine(), testCALine})

	own := s.issue(t)
	otherTenant := issueFor(t, s, otherTenantID, hostID)
	otherHost := issueFor(t, s, tenantID, otherHostID)

	now := time.Now()
	// The stand-in prints its arguments, then the variables the forced
	// command sets.
	wantOutput := func(fingerprint string) string {
		return "version\nFINGERPRINT=" + fingerprint + "\nNAME=" + name + "\n"
	}
	caFingerprint := ssh.FingerprintSHA256(parseAuthorizedKey(t, trust.GetCaPublicKey()))

	cases := []struct {
		name       string
		credential sshCredential
		// wantOutput is the forced command's output; empty means sshd must
		// reject the login.
		wantOutput string
		// wantReason is the line OpenSSH 9.2's sshd logs right before it
		// logs the rejected key; empty means no line.
		wantReason string
	}{
		{
			name:       "own certificate",
			credential: secretsCredential(t, own),
			wantOutput: wantOutput(caFingerprint),
		},
		{
			name:       "other tenant's certificate",
			credential: secretsCredential(t, otherTenant),
			wantReason: "Certificate does not contain an authorized principal",
		},
		{
			name:       "other host's certificate",
			credential: secretsCredential(t, otherHost),
			wantReason: "Certificate does not contain an authorized principal",
		},
		{
			// Without a certificate the key matches no line, because
			// cert-authority lines admit only certificates.
			name:       "plain key",
			credential: sshCredential{privateKeyPEM: []byte(own.GetPrivateKey())},
		},
		{
			name:       "test CA valid certificate",
			credential: testCA.sign(t, principal, now.Add(-time.Minute), now.Add(time.Hour), nil),
			wantOutput: wantOutput(ssh.FingerprintSHA256(testCA.PublicKey())),
		},
		{
			name:       "test CA expired certificate",
			credential: testCA.sign(t, principal, now.Add(-2*time.Hour), now.Add(-time.Hour), nil),
			wantReason: "Certificate invalid: expired",
		},
		{
			// OpenSSH rejects a certificate whose force-command differs
			// from the forced command of the line that admits it, so a
			// certificate cannot replace Dokku's entry point.
			name: "test CA certificate with force-command",
			credential: testCA.sign(t, principal, now.Add(-time.Minute), now.Add(time.Hour),
				map[string]string{"force-command": "echo certificate force-command ran"}),
			wantReason: "forced command options do not match",
		},
	}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clients := []struct {
				name  string
				login func(t *testing.T) (string, error)
				// wantError is what the client's error contains when sshd
				// rejects the login.
				wantError string
			}{
				{"x/crypto client", func(*testing.T) (string, error) { return sshd.loginGo(tc.credential, "version") }, "unable to authenticate"},
				{"OpenSSH client", func(t *testing.T) (string, error) { return sshd.loginOpenSSH(t, tc.credential, "version") }, "Permission denied (publickey)"},
			}
			for _, client := range clients {
				t.Run(client.name, func(t *testing.T) {
					logStart := sshd.log.Len()
					output, err := client.login(t)

					if tc.wantOutput != "" {
						if err != nil {
							t.Fatalf("login failed: %v", err)
						}
						if output != tc.wantOutput {
							t.Errorf("forced command output = %q, want %q", output, tc.wantOutput)
						}
						return
					}

					if err == nil {
						t.Fatalf("login succeeded with output %q, want it rejected", output)
					}
					if !strings.Contains(err.Error(), client.wantError) {
						t.Errorf("login error = %q, want it to contain %q", err, client.wantError)
					}
					sshd.waitRejection(t, logStart, tc.credential, tc.wantReason)
				})
			}
		})
	}
}

func issueFor(t *testing.T, s *stack, tenant, host string) *secretsv1.SSHCredential {
	t.Helper()
	resp, err := s.dokkuexec(t).IssueSSHCredential(context.Background(),
		connect.NewRequest(&secretsv1.IssueSSHCredentialRequest{TenantId: tenant, HostId: host}))
	if err != nil {
		t.Fatalf("IssueSSHCredential(%s, %s): %v", tenant, host, err)
	}
	return resp.Msg.GetCredential()
}

func secretsCredential(t *testing.T, credential *secretsv1.SSHCredential) sshCredential {
	t.Helper()
	key := parseAuthorizedKey(t, credential.GetCertificate())
	cert, ok := key.(*ssh.Certificate)
	if !ok {
		t.Fatalf("certificate is a %s, not a certificate", key.Type())
	}
	return sshCredential{privateKeyPEM: []byte(credential.GetPrivateKey()), certificate: cert}
}

// testCA is an ed25519 CA key held by the test.
type testCA struct {
	ssh.Signer
	serial uint64
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	_, private, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(private)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{Signer: signer}
}

// sign returns a fresh key with a user certificate for principal, valid
// from validAfter to validBefore, with criticalOptions and, like Secrets'
// certificates, no extensions.
func (ca *testCA) sign(t *testing.T, principal string, validAfter, validBefore time.Time, criticalOptions map[string]string) sshCredential {
	t.Helper()
	public, private, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sshPublic, err := ssh.NewPublicKey(public)
	if err != nil {
		t.Fatal(err)
	}
	ca.serial++
	cert := &ssh.Certificate{
		Key:             sshPublic,
		Serial:          ca.serial,
		CertType:        ssh.UserCert,
		KeyId:           "test CA certificate " + strconv.FormatUint(ca.serial, 10),
		ValidPrincipals: []string{principal},
		ValidAfter:      uint64(validAfter.Unix()),
		ValidBefore:     uint64(validBefore.Unix()),
		Permissions:     ssh.Permissions{CriticalOptions: criticalOptions},
	}
	if err := cert.SignCert(rand.Reader, ca.Signer); err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(private, "")
	if err != nil {
		t.Fatal(err)
	}
	return sshCredential{privateKeyPEM: pem.EncodeToMemory(block), certificate: cert}
}

// requireSSHD skips the test when OpenSSH's sshd is missing, except under
// CI, where .ci/run installs it and its absence is a failure.
func requireSSHD(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(sshdPath); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s not found (%v): .ci/run installs it with apt-get install openssh-server", sshdPath, err)
		}
		t.Skipf("%s not found (%v): install openssh-server to run this test", sshdPath, err)
	}
}

// sshdServer is a private OpenSSH sshd that admits certificates through an
// authorized_keys file and runs a stand-in for the dokku binary as the
// forced command.
type sshdServer struct {
	addr    string
	user    string
	hostKey ssh.PublicKey
	log     *syncBuffer
}

// safePath matches the temporary paths that may be put into the forced
// command as they are, because they contain no quote, backslash, space or
// other shell syntax.
var safePath = regexp.MustCompile(`^[A-Za-z0-9_./-]+$`)

// startSSHD runs sshd with the given authorized_keys lines until the test
// ends. Each line is a trust line in Secrets' format. The only change to it
// replaces the forced command's /home/dokku/.sshcommand with a file in the
// test's directory that names the stand-in.
//
// The login user is the user running the test, not Dokku's dokku user,
// because the test must not create system users. As root (as in CI) sshd
// runs privileged and logs in root. As another user sshd runs unprivileged,
// which OpenSSH supports only for logging in that same user (checked with
// OpenSSH 9.2 run as an unprivileged user with a /bin/bash login shell).
func startSSHD(t *testing.T, trustLines []string) *sshdServer {
	t.Helper()
	current, err := user.Current()
	if err != nil {
		t.Fatalf("look up the current user: %v", err)
	}
	root := os.Geteuid() == 0
	if root {
		// sshd running as root needs its privilege separation directory.
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			t.Fatalf("create sshd's privilege separation directory /run/sshd: %v", err)
		}
	}

	dir := t.TempDir()
	if !safePath.MatchString(dir) {
		t.Fatalf("temporary directory %q contains characters that need shell quoting in the forced command", dir)
	}

	// The stand-in for the dokku binary prints its arguments one per line
	// and the variables the forced command sets.
	standIn := filepath.Join(dir, "dokku")
	writeFile(t, standIn, `#!/bin/sh
for arg in "$@"; do
	printf '%s\n' "$arg"
done
printf 'FINGERPRINT=%s\n' "$FINGERPRINT"
printf 'NAME=%s\n' "$NAME"
exit 0
`, 0o755)
	sshCommandPath := filepath.Join(dir, ".sshcommand")
	writeFile(t, sshCommandPath, standIn+"\n", 0o644)

	var authorizedKeys strings.Builder
	for _, line := range trustLines {
		if n := strings.Count(line, dokkuSSHCommandPath); n != 1 {
			t.Fatalf("trust line contains %s %d times, want once: %s", dokkuSSHCommandPath, n, line)
		}
		installed := strings.Replace(line, dokkuSSHCommandPath, sshCommandPath, 1)
		if restored := strings.Replace(installed, sshCommandPath, dokkuSSHCommandPath, 1); restored != line {
			t.Fatalf("installed line %q does not differ from the trust line %q only in the .sshcommand path", installed, line)
		}
		authorizedKeys.WriteString(installed + "\n")
	}
	authorizedKeysPath := filepath.Join(dir, "authorized_keys")
	writeFile(t, authorizedKeysPath, authorizedKeys.String(), 0o600)

	_, hostPrivate, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	hostBlock, err := ssh.MarshalPrivateKey(hostPrivate, "")
	if err != nil {
		t.Fatal(err)
	}
	hostKeyPath := filepath.Join(dir, "ssh_host_ed25519_key")
	// sshd rejects a host key file that others can read.
	writeFile(t, hostKeyPath, string(pem.EncodeToMemory(hostBlock)), 0o600)
	hostSigner, err := ssh.NewSignerFromKey(hostPrivate)
	if err != nil {
		t.Fatal(err)
	}

	// NOTE: another process may take the port between Close and sshd's
	// bind. sshd then exits, which fails the test with its log, and the
	// pinned host key keeps the clients from trusting another server.
	probe, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := probe.Addr().String()
	probe.Close()

	config := []string{
		"ListenAddress " + addr,
		"HostKey " + hostKeyPath,
		"PidFile " + filepath.Join(dir, "sshd.pid"),
		"UsePAM no",
		"StrictModes no",
		"PasswordAuthentication no",
		"KbdInteractiveAuthentication no",
		"PubkeyAuthentication yes",
		"AuthorizedKeysFile " + authorizedKeysPath,
		"AllowUsers " + current.Username,
		"LogLevel VERBOSE",
	}
	if root {
		config = append(config, "PermitRootLogin prohibit-password")
	}
	configPath := filepath.Join(dir, "sshd_config")
	writeFile(t, configPath, strings.Join(config, "\n")+"\n", 0o644)

	log := &syncBuffer{}
	cmd := exec.Command(sshdPath, "-D", "-e", "-f", configPath)
	cmd.Stdout = log
	cmd.Stderr = log
	// sshd gets its own process group, so cleanup can signal it without
	// touching the test, and it dies with the test process.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	// Per-connection children may keep the log pipe open for a moment
	// after the listener exits.
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", sshdPath, err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		t.Logf("sshd log:\n%s", log.String())
	})

	if err := waitListening(addr, exited, 10*time.Second); err != nil {
		if !root {
			t.Skipf("unprivileged sshd as user %s did not start (%v); run the test as root, as CI does. sshd log:\n%s", current.Username, err, log.String())
		}
		t.Fatalf("sshd: %v; log:\n%s", err, log.String())
	}
	return &sshdServer{addr: addr, user: current.Username, hostKey: hostSigner.PublicKey(), log: log}
}

// waitListening polls addr until it accepts a connection, sshd exits, or
// timeout passes.
func waitListening(addr string, exited <-chan struct{}, timeout time.Duration) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
			return nil
		}
		select {
		case <-exited:
			return errors.New("sshd exited during start")
		case <-deadline.C:
			return fmt.Errorf("sshd did not listen on %s within %s: %w", addr, timeout, err)
		case <-tick.C:
		}
	}
}

// loginGo logs in with golang.org/x/crypto/ssh and returns command's
// stdout.
func (s *sshdServer) loginGo(credential sshCredential, command string) (string, error) {
	signer, err := ssh.ParsePrivateKey(credential.privateKeyPEM)
	if err != nil {
		return "", fmt.Errorf("parse private key: %w", err)
	}
	if credential.certificate != nil {
		signer, err = ssh.NewCertSigner(credential.certificate, signer)
		if err != nil {
			return "", fmt.Errorf("create certificate signer: %w", err)
		}
	}

	client, err := ssh.Dial("tcp", s.addr, &ssh.ClientConfig{
		User:            s.user,
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.FixedHostKey(s.hostKey),
		Timeout:         10 * time.Second,
	})
	if err != nil {
		return "", err
	}
	defer client.Close()
	session, err := client.NewSession()
	if err != nil {
		return "", fmt.Errorf("open session: %w", err)
	}
	defer session.Close()

	var stdout, stderr bytes.Buffer
	session.Stdout = &stdout
	session.Stderr = &stderr
	if err := session.Run(command); err != nil {
		return stdout.String(), fmt.Errorf("run %q: %w; stderr: %s", command, err, stderr.String())
	}
	return stdout.String(), nil
}

// loginOpenSSH logs in with OpenSSH's ssh client, reading no configuration
// file and using no agent, and returns command's stdout.
func (s *sshdServer) loginOpenSSH(t *testing.T, credential sshCredential, command string) (string, error) {
	t.Helper()
	if _, err := os.Stat(sshClientPath); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s not found (%v): openssh-server depends on openssh-client, which provides it", sshClientPath, err)
		}
		t.Skipf("%s not found (%v): install openssh-client to run this case with OpenSSH's client", sshClientPath, err)
	}

	dir := t.TempDir()
	keyPath := filepath.Join(dir, "id_ed25519")
	writeFile(t, keyPath, string(credential.privateKeyPEM), 0o600)
	knownHostsPath := filepath.Join(dir, "known_hosts")
	writeFile(t, knownHostsPath, knownhosts.Line([]string{knownhosts.Normalize(s.addr)}, s.hostKey)+"\n", 0o644)
	host, port, err := net.SplitHostPort(s.addr)
	if err != nil {
		t.Fatal(err)
	}

	args := []string{
		"-F", "none",
		"-i", keyPath,
		"-o", "IdentitiesOnly=yes",
		"-o", "IdentityAgent=none",
		"-o", "StrictHostKeyChecking=yes",
		"-o", "UserKnownHostsFile=" + knownHostsPath,
		"-o", "GlobalKnownHostsFile=/dev/null",
		"-o", "BatchMode=yes",
		"-o", "ConnectTimeout=10",
		"-T",
		"-p", port,
		"-l", s.user,
	}
	if credential.certificate != nil {
		certPath := filepath.Join(dir, "id_ed25519-cert.pub")
		writeFile(t, certPath, string(ssh.MarshalAuthorizedKey(credential.certificate)), 0o644)
		args = append(args, "-o", "CertificateFile="+certPath)
	}
	args = append(args, host, command)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, sshClientPath, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("ssh: %w; stderr: %s", err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// waitRejection waits until sshd's log, from byte logStart on, shows that
// sshd rejected credential's key for the login user, with reason on the
// line before unless reason is empty. sshd may write the log after the
// client has seen the rejection.
func (s *sshdServer) waitRejection(t *testing.T, logStart int, credential sshCredential, reason string) {
	t.Helper()
	signer, err := ssh.ParsePrivateKey(credential.privateKeyPEM)
	if err != nil {
		t.Fatalf("parse private key: %v", err)
	}
	// sshd logs an ed25519 key as "ED25519 <fingerprint>" and a certificate
	// as "ED25519-CERT <fingerprint of the certified key> ID ...".
	fingerprint := ssh.FingerprintSHA256(signer.PublicKey())
	keyText := "ssh2: ED25519 " + fingerprint
	names := func(line string) bool { return strings.HasSuffix(line, keyText) }
	if credential.certificate != nil {
		keyText = "ssh2: ED25519-CERT " + fingerprint + " "
		names = func(line string) bool { return strings.Contains(line, keyText) }
	}
	failedPrefix := "Failed publickey for " + s.user + " from "

	rejected := func() bool {
		lines := strings.Split(s.log.String()[logStart:], "\n")
		for i, line := range lines {
			if !strings.HasPrefix(line, failedPrefix) || !names(line) {
				continue
			}
			if reason == "" || (i > 0 && lines[i-1] == reason) {
				return true
			}
		}
		return false
	}

	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !rejected() {
		select {
		case <-deadline.C:
			t.Errorf("sshd log has no line %q followed by a line starting %q and containing %q within 10s", reason, failedPrefix, keyText)
			return
		case <-tick.C:
		}
	}
}

func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

// syncBuffer is a bytes.Buffer that sshd's output and the test may use
// concurrently. It drops every \r, so sshd's \r\n line ends become \n
// even when a read splits them.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(bytes.ReplaceAll(p, []byte("\r"), nil))
	return len(p), nil
}

func (b *syncBuffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len()
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
