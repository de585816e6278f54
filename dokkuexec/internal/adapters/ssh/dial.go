package ssh

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"dokkumcp.dev/dokkuexec/internal/app"
)

// hostFailure marks a dial error as the host's or the network's fault: the
// TCP connect or the handshake failed or timed out. Only such errors are
// retried with backoff and counted by the circuit breaker.
type hostFailure struct {
	err error
}

func (f *hostFailure) Error() string { return f.err.Error() }

func (f *hostFailure) Unwrap() error { return f.err }

func isHostFailure(err error) bool {
	var failure *hostFailure
	return errors.As(err, &failure)
}

// dialRefreshing dials the host, and when the host rejects a managed key
// and the target can refresh it, reports the rejection and dials once more
// with the credential fetched then. A managed key that a rotation has
// removed from the host is replaced this way without failing the command.
// A rejected certificate is not retried: a fresh one from the same CA for
// the same principal would be rejected too, and would cost a Vault call.
func (e *Executor) dialRefreshing(ctx context.Context, target app.Target, address string) (*ssh.Client, error) {
	client, rejected, err := e.dial(ctx, target, address)
	if err == nil || rejected == nil || rejected.Certificate != "" || target.CredentialRejected == nil {
		return client, err
	}
	e.opts.Logger.InfoContext(ctx, "ssh credential rejected; fetching a fresh one", "host_id", target.Host.ID, "key_version", rejected.KeyVersion)
	target.CredentialRejected(*rejected)
	client, _, err = e.dial(ctx, target, address)
	return client, err
}

// dial opens and authenticates a new connection to the host. When the
// host rejects the credential, rejected is that credential.
func (e *Executor) dial(ctx context.Context, target app.Target, address string) (_ *ssh.Client, rejected *app.Credential, _ error) {
	host := target.Host
	pinned, err := parsePinnedHostKey(host)
	if err != nil {
		return nil, nil, err
	}
	credential, err := target.Credential(ctx)
	if err != nil {
		return nil, nil, err
	}
	certSigner, err := signer(host, credential)
	if err != nil {
		e.opts.Logger.ErrorContext(ctx, "ssh credential unusable", "host_id", host.ID, "error", err)
		return nil, nil, &app.Error{Kind: app.KindInternal, Message: fmt.Sprintf("the SSH credential for host %q could not be used; check the Secrets service", host.Name), Err: err}
	}
	user := host.SSHUser
	if user == "" {
		user = defaultUser
	}
	config := &ssh.ClientConfig{
		User:              user,
		Auth:              []ssh.AuthMethod{ssh.PublicKeys(certSigner)},
		HostKeyCallback:   pinned.callback(host.Name),
		HostKeyAlgorithms: pinned.algorithms(),
	}

	start := time.Now()
	dialCtx, cancel := context.WithTimeout(ctx, e.opts.DialTimeout)
	defer cancel()
	conn, err := e.opts.Dial(dialCtx, "tcp", address)
	if err != nil {
		e.opts.Logger.WarnContext(ctx, "ssh dial failed", "host_id", host.ID, "error", err)
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		return nil, nil, &app.Error{Kind: app.KindUnavailable, Message: fmt.Sprintf("could not connect to host %q; check that it is up and reachable on port %d", host.Name, host.Port), Err: &hostFailure{err}}
	}

	// The handshake gets the same deadline, and ends early with ctx.
	_ = conn.SetDeadline(time.Now().Add(e.opts.DialTimeout))
	stop := context.AfterFunc(dialCtx, func() { _ = conn.Close() })
	sshConn, channels, requests, err := ssh.NewClientConn(conn, address, config)
	stop()
	if err != nil {
		_ = conn.Close()
		err = e.handshakeError(ctx, host, err)
		if app.KindOf(err) == app.KindFailedPrecondition && isRejected(err) {
			return nil, &credential, err
		}
		return nil, nil, err
	}
	_ = conn.SetDeadline(time.Time{})

	e.opts.Logger.InfoContext(ctx, "ssh connection opened", "host_id", host.ID, "duration_ms", time.Since(start).Milliseconds())
	return ssh.NewClient(sshConn, channels, requests), nil, nil
}

// rejectedText is the error text with which x/crypto/ssh reports a login
// the host rejected.
const rejectedText = "unable to authenticate"

// isRejected reports a handshake error for a rejected credential.
func isRejected(err error) bool {
	var appErr *app.Error
	return errors.As(err, &appErr) && appErr.Err != nil && strings.Contains(appErr.Err.Error(), rejectedText)
}

// handshakeError classifies a failed SSH handshake.
func (e *Executor) handshakeError(ctx context.Context, host app.Host, err error) error {
	e.opts.Logger.WarnContext(ctx, "ssh handshake failed", "host_id", host.ID, "error", err)
	var changed *app.HostKeyChangedError
	switch {
	case errors.As(err, &changed):
		return changed
	case ctx.Err() != nil:
		return ctx.Err()
	// NOTE: x/crypto/ssh reports a rejected login only as this text.
	case strings.Contains(err.Error(), rejectedText):
		return &app.Error{
			Kind:    app.KindFailedPrecondition,
			Message: fmt.Sprintf("host %q rejected the platform's SSH credential; install the trust line from GetHostTrust in the dokku user's authorized_keys", host.Name),
			Err:     err,
		}
	}
	return &app.Error{Kind: app.KindUnavailable, Message: fmt.Sprintf("the SSH handshake with host %q failed or timed out; check that it runs an SSH server on port %d", host.Name, host.Port), Err: &hostFailure{err}}
}
