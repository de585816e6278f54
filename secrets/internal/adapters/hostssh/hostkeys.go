// Package hostssh is Secrets' narrow SSH client for the managed-key
// rotation. It runs only ssh-keys:list, ssh-keys:add and ssh-keys:remove
// for names the rotation generates, as the host's key admin user, and
// `version` as dokku, always against the host key pinned in Tenancy.
package hostssh

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"dokkumcp.dev/secrets/internal/app"
)

// keyNamePattern is the form of the key names the rotation generates; no
// other name reaches a command line.
var keyNamePattern = regexp.MustCompile(`^dokkumcp-admin-[a-z0-9-]+$`)

// outputLimit bounds what is kept of each output stream.
const outputLimit = 64 << 10

// Options configures HostKeys.
type Options struct {
	// AdminUser is the user that may run ssh-keys:add and ssh-keys:remove:
	// Dokku allows them only for root.
	AdminUser string
	// Timeout bounds one login and command.
	Timeout time.Duration
}

// HostKeys implements app.HostKeys over SSH.
type HostKeys struct {
	opts Options
}

var _ app.HostKeys = (*HostKeys)(nil)

// New returns HostKeys with opts.
func New(opts Options) *HostKeys {
	return &HostKeys{opts: opts}
}

// listedKey is one entry of `ssh-keys:list --format json <name>`.
type listedKey struct {
	Fingerprint string `json:"fingerprint"`
	Name        string `json:"name"`
}

// Add installs public under name unless name already holds it.
func (h *HostKeys) Add(ctx context.Context, host app.HostAccess, login app.ManagedKey, name, public string) error {
	if !keyNamePattern.MatchString(name) {
		return fmt.Errorf("key name %q is not one the rotation generates", name)
	}
	key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(public))
	if err != nil {
		return fmt.Errorf("parse the public key of %s: %w", name, err)
	}
	fingerprint := ssh.FingerprintSHA256(key)

	out, err := h.run(ctx, host, h.opts.AdminUser, login, "ssh-keys:list --format json "+name, "")
	if err != nil {
		return err
	}
	var listed []listedKey
	if err := json.Unmarshal(bytes.TrimSpace(out), &listed); err != nil {
		return fmt.Errorf("read ssh-keys:list output: %w", err)
	}
	for _, entry := range listed {
		if entry.Name != name {
			continue
		}
		if entry.Fingerprint == fingerprint {
			return nil
		}
		return fmt.Errorf("host already lists a key %s under %s, not the rotation's %s; remove it with ssh-keys:remove as root", entry.Fingerprint, name, fingerprint)
	}

	// ssh-keys:add reads the key from stdin when stdin is a pipe, as an
	// SSH session's stdin is.
	_, err = h.run(ctx, host, h.opts.AdminUser, login, "ssh-keys:add "+name, strings.TrimSpace(public)+"\n")
	return err
}

// Verify logs in as dokku with key and runs version.
func (h *HostKeys) Verify(ctx context.Context, host app.HostAccess, key app.ManagedKey) error {
	out, err := h.run(ctx, host, "dokku", key, "version", "")
	if err != nil {
		return err
	}
	if !bytes.Contains(out, []byte("dokku version")) {
		return fmt.Errorf("version printed %q, not a Dokku version", truncate(out))
	}
	return nil
}

// Remove deletes the keys filed under name.
func (h *HostKeys) Remove(ctx context.Context, host app.HostAccess, login app.ManagedKey, name string) error {
	if !keyNamePattern.MatchString(name) {
		return fmt.Errorf("key name %q is not one the rotation generates", name)
	}
	_, err := h.run(ctx, host, h.opts.AdminUser, login, "ssh-keys:remove "+name, "")
	return err
}

// run logs in as user with key, runs command with stdin and returns its
// stdout; a non-zero exit status is an error that carries stderr.
func (h *HostKeys) run(ctx context.Context, host app.HostAccess, user string, key app.ManagedKey, command, stdin string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, h.opts.Timeout)
	defer cancel()

	signer, err := ssh.ParsePrivateKey(key.PrivateKeyPEM)
	if err != nil {
		return nil, fmt.Errorf("parse managed key version %d: %w", key.Version, err)
	}
	pinned, _, _, _, err := ssh.ParseAuthorizedKey([]byte(host.HostKey))
	if err != nil {
		return nil, fmt.Errorf("parse the pinned host key: %w", err)
	}
	config := &ssh.ClientConfig{
		User:              user,
		Auth:              []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback:   ssh.FixedHostKey(pinned),
		HostKeyAlgorithms: hostKeyAlgorithms(pinned),
	}
	address := net.JoinHostPort(host.Address, strconv.Itoa(int(host.Port)))
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", address)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", address, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}

	sshConn, channels, requests, err := ssh.NewClientConn(conn, address, config)
	if err != nil {
		return nil, fmt.Errorf("log in to %s as %s with key version %d: %w", address, user, key.Version, err)
	}
	client := ssh.NewClient(sshConn, channels, requests)
	defer client.Close()
	session, err := client.NewSession()
	if err != nil {
		return nil, fmt.Errorf("open a session on %s: %w", address, err)
	}
	defer session.Close()

	stdout := &capped{limit: outputLimit}
	stderr := &capped{limit: outputLimit}
	session.Stdout, session.Stderr = stdout, stderr
	session.Stdin = strings.NewReader(stdin)
	err = session.Run(command)
	var exitErr *ssh.ExitError
	switch {
	case err == nil:
		return stdout.Bytes(), nil
	case errors.As(err, &exitErr):
		name, _, _ := strings.Cut(command, " ")
		return nil, fmt.Errorf("%s as %s exited %d: %s", name, user, exitErr.ExitStatus(), truncate(stderr.Bytes()))
	case ctx.Err() != nil:
		return nil, fmt.Errorf("%s on %s: %w", command, address, ctx.Err())
	}
	return nil, fmt.Errorf("%s on %s: %w", command, address, err)
}

// hostKeyAlgorithms limits the handshake to the pinned key's algorithms,
// so that a host with several keys presents the pinned one.
func hostKeyAlgorithms(key ssh.PublicKey) []string {
	if key.Type() == ssh.KeyAlgoRSA {
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	}
	return []string{key.Type()}
}

// capped keeps the first limit bytes written to it.
type capped struct {
	bytes.Buffer
	limit int
}

func (c *capped) Write(p []byte) (int, error) {
	if room := c.limit - c.Len(); room > 0 {
		c.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

var _ io.Writer = (*capped)(nil)

func truncate(b []byte) string {
	text := strings.TrimSpace(string(b))
	if len(text) > 300 {
		text = text[:300] + "..."
	}
	return text
}
