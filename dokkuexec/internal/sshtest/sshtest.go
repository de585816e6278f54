// Package sshtest starts a Dokku test host for DokkuExec's tests: the
// testhost SSH server and Dokku emulator on 127.0.0.1, trusting a test SSH
// certificate authority that issues credentials like Secrets does.
package sshtest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"dokkumcp.dev/dokkuexec/internal/app"
	"dokkumcp.dev/testhost/emulator"
	"dokkumcp.dev/testhost/sshd"
)

// Tenant and host ids of the test host.
const (
	TenantID = "t-test"
	HostID   = "h-test"
	HostName = "prod"
)

// Host is a running test host.
type Host struct {
	Server   *sshd.Server
	Emulator *emulator.Emulator
	// Logs holds the SSH server's JSON log lines.
	Logs    *Buffer
	HostKey ssh.Signer
	CA      *CA
	// Host is the host as Tenancy would return it, with the host key pinned.
	Host app.Host
}

// Start starts a test host running the emulator with opts and closes it when
// the test ends.
func Start(t testing.TB, opts emulator.Options) *Host {
	t.Helper()
	hostKey := NewSigner(t)
	ca := NewCA(t)
	emu := emulator.New(opts)
	logs := &Buffer{}

	server, err := sshd.New(sshd.Options{HostKey: hostKey, Emulator: emu, Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	if err != nil {
		t.Fatalf("sshd.New: %v", err)
	}
	if err := server.AddAuthorizedKey(ca.AuthorizedKeysLine(Principal(TenantID, HostID))); err != nil {
		t.Fatalf("add CA line: %v", err)
	}
	if err := server.Listen("127.0.0.1:0"); err != nil {
		t.Fatalf("listen: %v", err)
	}
	t.Cleanup(func() { _ = server.Close() })

	address, portText, err := net.SplitHostPort(server.Addr())
	if err != nil {
		t.Fatalf("split %q: %v", server.Addr(), err)
	}
	port, _ := strconv.Atoi(portText)
	return &Host{
		Server:   server,
		Emulator: emu,
		Logs:     logs,
		HostKey:  hostKey,
		CA:       ca,
		Host: app.Host{
			ID:       HostID,
			TenantID: TenantID,
			Name:     HostName,
			Address:  address,
			Port:     uint32(port),
			SSHUser:  "dokku",
			HostKey:  string(ssh.MarshalAuthorizedKey(hostKey.PublicKey())),
		},
	}
}

// Target returns a target for the host that takes credentials from its CA.
func (h *Host) Target() app.Target {
	return app.Target{
		TenantID: TenantID,
		Host:     h.Host,
		Credential: func(ctx context.Context) (app.Credential, error) {
			return h.CA.IssueSSHCredential(ctx, TenantID, HostID, "")
		},
	}
}

// Principal is the certificate principal Secrets uses for a tenant's host.
func Principal(tenantID, hostID string) string {
	return "t-" + tenantID + "-h-" + hostID
}

// NewSigner returns a fresh ed25519 signer.
func NewSigner(t testing.TB) ssh.Signer {
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

// CA is a test SSH certificate authority that implements
// app.CredentialIssuer.
type CA struct {
	signer ssh.Signer

	// TTL is the lifetime of issued certificates; it defaults to 5 minutes.
	TTL time.Duration
	// Fail, when set, makes IssueSSHCredential fail as an unreachable
	// Secrets service would.
	Fail atomic.Bool

	mu     sync.Mutex
	issued int
}

// NewCA returns a CA with a fresh key.
func NewCA(t testing.TB) *CA {
	return &CA{signer: NewSigner(t), TTL: 5 * time.Minute}
}

// AuthorizedKeysLine returns the dokku user's authorized_keys line that
// trusts the CA for principal, with Dokku's forced command.
func (c *CA) AuthorizedKeysLine(principal string) string {
	return fmt.Sprintf(`cert-authority,principals="%s",command="FINGERPRINT=%s NAME=\"tenant\" `+"`cat /home/dokku/.sshcommand`"+` $SSH_ORIGINAL_COMMAND",no-agent-forwarding,no-user-rc,no-X11-forwarding,no-port-forwarding %s`,
		principal, ssh.FingerprintSHA256(c.signer.PublicKey()), ssh.MarshalAuthorizedKey(c.signer.PublicKey()))
}

// Issued returns how many credentials the CA has issued.
func (c *CA) Issued() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.issued
}

// IssueSSHCredential issues a fresh key and certificate for the host's
// principal.
func (c *CA) IssueSSHCredential(_ context.Context, tenantID, hostID, _ string) (app.Credential, error) {
	if c.Fail.Load() {
		return app.Credential{}, &app.Error{Kind: app.KindUnavailable, Message: "the secrets service is unavailable; retry later", Err: errors.New("test CA set to fail")}
	}
	public, private, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return app.Credential{}, err
	}
	sshPublic, err := ssh.NewPublicKey(public)
	if err != nil {
		return app.Credential{}, err
	}

	c.mu.Lock()
	c.issued++
	serial := uint64(c.issued)
	c.mu.Unlock()

	now := time.Now()
	expire := now.Add(c.TTL)
	cert := &ssh.Certificate{
		Key:             sshPublic,
		Serial:          serial,
		CertType:        ssh.UserCert,
		KeyId:           fmt.Sprintf("%s/%s/%d", tenantID, hostID, serial),
		ValidPrincipals: []string{Principal(tenantID, hostID)},
		ValidAfter:      uint64(now.Add(-time.Minute).Unix()),
		ValidBefore:     uint64(expire.Unix()),
	}
	if err := cert.SignCert(rand.Reader, c.signer); err != nil {
		return app.Credential{}, err
	}
	block, err := ssh.MarshalPrivateKey(private, "")
	if err != nil {
		return app.Credential{}, err
	}
	return app.Credential{
		PrivateKey:  pem.EncodeToMemory(block),
		Certificate: string(ssh.MarshalAuthorizedKey(cert)),
		ExpireTime:  time.Unix(int64(cert.ValidBefore), 0),
	}, nil
}

// Buffer is a bytes.Buffer that is safe for concurrent use.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// WaitFor polls until check returns true or the deadline passes.
func WaitFor(t testing.TB, timeout time.Duration, what string, check func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !check() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
