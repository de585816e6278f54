package sshd_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"dokkumcp.dev/testhost/emulator"
	"dokkumcp.dev/testhost/sshd"
)

const forcedCommand = `command="FINGERPRINT=SHA256:test NAME=\"%s\" ` + "`cat /home/dokku/.sshcommand`" +
	` $SSH_ORIGINAL_COMMAND",no-agent-forwarding,no-user-rc,no-X11-forwarding,no-port-forwarding `

func newSigner(t *testing.T) ssh.Signer {
	t.Helper()
	_, private, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatalf("generate ed25519 key: %v", err)
	}
	signer, err := ssh.NewSignerFromKey(private)
	if err != nil {
		t.Fatalf("make signer: %v", err)
	}
	return signer
}

// syncBuffer is a bytes.Buffer safe for the server's logging goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testHost is a running server with a CA line for principals deploy and ops
// and one plain key line.
type testHost struct {
	server  *sshd.Server
	hostKey ssh.Signer
	ca      ssh.Signer
	plain   ssh.Signer
	logs    *syncBuffer
}

func startHost(t *testing.T) *testHost {
	t.Helper()
	h := &testHost{hostKey: newSigner(t), ca: newSigner(t), plain: newSigner(t), logs: &syncBuffer{}}

	server, err := sshd.New(sshd.Options{
		HostKey:  h.hostKey,
		Emulator: emulator.New(emulator.Options{}),
		Logger:   slog.New(slog.NewJSONHandler(h.logs, nil)),
	})
	if err != nil {
		t.Fatalf("sshd.New: %v", err)
	}
	h.server = server

	authorized := "cert-authority,principals=\"deploy,ops\"," + fmt.Sprintf(forcedCommand, "tenant-ca") +
		string(ssh.MarshalAuthorizedKey(h.ca.PublicKey())) +
		fmt.Sprintf(forcedCommand, "admin") + string(ssh.MarshalAuthorizedKey(h.plain.PublicKey()))
	if err := server.SetAuthorizedKeys([]byte(authorized)); err != nil {
		t.Fatalf("SetAuthorizedKeys: %v", err)
	}
	if err := server.Listen("127.0.0.1:0"); err != nil {
		t.Fatalf("Listen: %v", err)
	}
	t.Cleanup(func() {
		if err := server.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return h
}

// certSigner returns a signer presenting a user certificate from ca.
func certSigner(t *testing.T, ca ssh.Signer, principals []string, validBefore time.Time, critical map[string]string) ssh.Signer {
	t.Helper()
	user := newSigner(t)
	cert := &ssh.Certificate{
		Key:             user.PublicKey(),
		CertType:        ssh.UserCert,
		KeyId:           "test-cert",
		ValidPrincipals: principals,
		ValidAfter:      uint64(time.Now().Add(-time.Minute).Unix()),
		ValidBefore:     uint64(validBefore.Unix()),
		Permissions:     ssh.Permissions{CriticalOptions: critical},
	}
	if err := cert.SignCert(rand.Reader, ca); err != nil {
		t.Fatalf("sign certificate: %v", err)
	}
	signer, err := ssh.NewCertSigner(cert, user)
	if err != nil {
		t.Fatalf("make certificate signer: %v", err)
	}
	return signer
}

func (h *testHost) dial(user string, signer ssh.Signer) (*ssh.Client, error) {
	return ssh.Dial("tcp", h.server.Addr(), &ssh.ClientConfig{
		User:            user,
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.FixedHostKey(h.hostKey.PublicKey()),
		Timeout:         10 * time.Second,
	})
}

func (h *testHost) mustDial(t *testing.T, signer ssh.Signer) *ssh.Client {
	t.Helper()
	client, err := h.dial("dokku", signer)
	if err != nil {
		t.Fatalf("dial as dokku: %v", err)
	}
	t.Cleanup(func() { _ = client.Close() })
	return client
}

// run executes command in a new session and returns both streams and the
// exit status.
func run(t *testing.T, client *ssh.Client, command string) (stdout, stderr string, exit int) {
	t.Helper()
	session, err := client.NewSession()
	if err != nil {
		t.Fatalf("new session: %v", err)
	}
	defer session.Close()

	var out, errOut bytes.Buffer
	session.Stdout = &out
	session.Stderr = &errOut
	err = session.Run(command)
	var exitErr *ssh.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exitErr):
		exit = exitErr.ExitStatus()
	default:
		t.Fatalf("run %q: %v", command, err)
	}
	return out.String(), errOut.String(), exit
}

func TestServerCertificateWithPrincipalRunsVersion(t *testing.T) {
	t.Parallel()
	h := startHost(t)
	client := h.mustDial(t, certSigner(t, h.ca, []string{"ops"}, time.Now().Add(time.Hour), nil))

	stdout, stderr, exit := run(t, client, "version")
	if stdout != "dokku version 0.38.27\n" {
		t.Errorf("stdout = %q, want the version line", stdout)
	}
	if stderr != "" {
		t.Errorf("stderr = %q, want empty", stderr)
	}
	if exit != 0 {
		t.Errorf("exit status = %d, want 0", exit)
	}
}

func TestServerDropConnectionsKeepsListening(t *testing.T) {
	t.Parallel()
	h := startHost(t)
	client := h.mustDial(t, h.plain)
	if _, _, exit := run(t, client, "version"); exit != 0 {
		t.Fatalf("version before the drop exited with %d, want 0", exit)
	}

	h.server.DropConnections()

	closed := make(chan error, 1)
	go func() { closed <- client.Wait() }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("the client connection is still open 10s after DropConnections")
	}

	again := h.mustDial(t, h.plain)
	if stdout, _, exit := run(t, again, "version"); exit != 0 || stdout == "" {
		t.Errorf("version on a new connection = (%q, %d), want output and status 0", stdout, exit)
	}
}

func TestServerRejectsCredentials(t *testing.T) {
	t.Parallel()
	h := startHost(t)
	future := time.Now().Add(time.Hour)

	tests := []struct {
		name   string
		user   string
		signer ssh.Signer
	}{
		{"wrong principal", "dokku", certSigner(t, h.ca, []string{"intruder"}, future, nil)},
		{"expired certificate", "dokku", certSigner(t, h.ca, []string{"deploy"}, time.Now().Add(-time.Second), nil)},
		{"certificate with force-command", "dokku", certSigner(t, h.ca, []string{"deploy"}, future, map[string]string{"force-command": "version"})},
		{"certificate with source-address", "dokku", certSigner(t, h.ca, []string{"deploy"}, future, map[string]string{"source-address": "127.0.0.1/32"})},
		{"certificate from unknown CA", "dokku", certSigner(t, newSigner(t), []string{"deploy"}, future, nil)},
		{"plain key not listed", "dokku", newSigner(t)},
		{"CA key used as plain key", "dokku", h.ca},
		{"wrong user", "root", h.plain},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, err := h.dial(tt.user, tt.signer)
			if err == nil {
				_ = client.Close()
				t.Fatalf("dial as %s succeeded, want authentication failure", tt.user)
			}
			if !strings.Contains(err.Error(), "unable to authenticate") {
				t.Errorf("dial error = %v, want an authentication failure", err)
			}
		})
	}
}

func TestServerKeepsStreamsApart(t *testing.T) {
	t.Parallel()
	h := startHost(t)
	client := h.mustDial(t, h.plain)

	stdout, stderr, exit := run(t, client, "apps:exists nope")
	if stdout != "" {
		t.Errorf("stdout = %q, want empty", stdout)
	}
	if stderr != " !     App nope does not exist\n" {
		t.Errorf("stderr = %q, want the missing-app line", stderr)
	}
	if exit != 20 {
		t.Errorf("exit status = %d, want 20", exit)
	}

	stdout, stderr, exit = run(t, client, "apps:list")
	if stdout != "=====> My Apps\n" || stderr != " !     You haven't deployed any applications yet\n" || exit != 0 {
		t.Errorf("apps:list = (%q, %q, %d), want header on stdout and warning on stderr with status 0", stdout, stderr, exit)
	}
}

func TestServerRefusesPTY(t *testing.T) {
	t.Parallel()
	h := startHost(t)
	client := h.mustDial(t, h.plain)

	session, err := client.NewSession()
	if err != nil {
		t.Fatalf("new session: %v", err)
	}
	defer session.Close()
	if err := session.RequestPty("xterm", 24, 80, ssh.TerminalModes{}); err == nil {
		t.Fatal("RequestPty succeeded, want refusal")
	}
	if err := session.Shell(); err == nil {
		t.Error("Shell succeeded, want refusal")
	}
}

func TestServerPassesStdinToConfirmation(t *testing.T) {
	t.Parallel()
	h := startHost(t)
	client := h.mustDial(t, h.plain)
	run(t, client, "apps:create shop")

	session, err := client.NewSession()
	if err != nil {
		t.Fatalf("new session: %v", err)
	}
	defer session.Close()
	var out bytes.Buffer
	session.Stdout = &out
	session.Stdin = strings.NewReader("shop\n")
	if err := session.Run("apps:destroy shop"); err != nil {
		t.Fatalf("apps:destroy with confirmation: %v", err)
	}
	if !strings.Contains(out.String(), "-----> Destroying shop (including all add-ons)") {
		t.Errorf("stdout = %q, want the destroy steps", out.String())
	}
}

func TestServerClosingSessionCancelsHang(t *testing.T) {
	t.Parallel()
	h := startHost(t)
	h.server.SetFault(sshd.Fault{Mode: sshd.FaultHang, Command: "apps:list"})
	client := h.mustDial(t, h.plain)

	session, err := client.NewSession()
	if err != nil {
		t.Fatalf("new session: %v", err)
	}
	if err := session.Start("apps:list"); err != nil {
		t.Fatalf("start hanging command: %v", err)
	}
	waitFor(t, func() bool { return strings.Contains(h.logs.String(), `"msg":"ssh exec started"`) })
	if err := session.Close(); err != nil {
		t.Fatalf("close session: %v", err)
	}
	waitFor(t, func() bool { return strings.Contains(h.logs.String(), `"msg":"ssh exec abandoned"`) })

	// Other commands are not affected by the fault.
	if stdout, _, exit := run(t, client, "version"); exit != 0 || stdout == "" {
		t.Errorf("version after hang = (%q, %d), want output and status 0", stdout, exit)
	}
}

func TestServerPartialOutputFault(t *testing.T) {
	t.Parallel()
	h := startHost(t)
	h.server.SetFault(sshd.Fault{Mode: sshd.FaultPartialOutput, Output: "-----> Creating shop...\n"})
	client := h.mustDial(t, h.plain)

	stdout, _, exit := run(t, client, "apps:create shop")
	if stdout != "-----> Creating shop...\n" {
		t.Errorf("stdout = %q, want the partial output", stdout)
	}
	if exit != 1 {
		t.Errorf("exit status = %d, want 1", exit)
	}
}

func TestServerConcurrentSessions(t *testing.T) {
	t.Parallel()
	h := startHost(t)
	shared := h.mustDial(t, h.plain)

	const apps = 16
	var wg sync.WaitGroup
	errs := make(chan error, apps)
	for i := range apps {
		wg.Go(func() {
			client := shared
			if i%2 == 1 {
				own, err := h.dial("dokku", certSigner(t, h.ca, []string{"deploy"}, time.Now().Add(time.Hour), nil))
				if err != nil {
					errs <- err
					return
				}
				defer own.Close()
				client = own
			}
			session, err := client.NewSession()
			if err != nil {
				errs <- err
				return
			}
			defer session.Close()
			if err := session.Run(fmt.Sprintf("apps:create app-%d", i)); err != nil {
				errs <- fmt.Errorf("create app-%d: %w", i, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	stdout, _, _ := run(t, shared, "--quiet apps:list")
	if got := len(strings.Fields(stdout)); got != apps {
		t.Errorf("apps:list shows %d apps, want %d", got, apps)
	}
}

func TestServerListsKeysFromAuthorizedKeys(t *testing.T) {
	t.Parallel()
	h := startHost(t)
	client := h.mustDial(t, h.plain)

	stdout, _, exit := run(t, client, "ssh-keys:list")
	want := `SHA256:test NAME="admin" SSHCOMMAND_ALLOWED_KEYS="no-agent-forwarding,no-user-rc,no-X11-forwarding,no-port-forwarding"` + "\n"
	if stdout != want || exit != 0 {
		t.Errorf("ssh-keys:list = (%q, %d), want (%q, 0)", stdout, exit, want)
	}
}

// waitFor polls cond until it holds or ten seconds pass.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestServerCountsActiveSessions(t *testing.T) {
	t.Parallel()
	h := startHost(t)
	h.server.SetFault(sshd.Fault{Mode: sshd.FaultHang, Command: "apps:list"})
	client := h.mustDial(t, h.plain)

	if n := h.server.ActiveSessions(); n != 0 {
		t.Errorf("ActiveSessions before any session = %d, want 0", n)
	}
	session, err := client.NewSession()
	if err != nil {
		t.Fatalf("new session: %v", err)
	}
	if err := session.Start("apps:list"); err != nil {
		t.Fatalf("start hanging command: %v", err)
	}
	waitFor(t, func() bool { return h.server.ActiveSessions() == 1 })
	if err := session.Close(); err != nil {
		t.Fatalf("close session: %v", err)
	}
	waitFor(t, func() bool { return h.server.ActiveSessions() == 0 })

	// A command that finishes leaves no session behind either.
	if _, _, exit := run(t, client, "version"); exit != 0 {
		t.Errorf("version exit status = %d, want 0", exit)
	}
	waitFor(t, func() bool { return h.server.ActiveSessions() == 0 })
}
