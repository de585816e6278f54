// Package ssh runs Dokku commands over SSH: one pooled connection per host,
// the host key checked against the pinned key, login with a short-lived
// certificate, and one session per command without a PTY.
package ssh

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"dokkumcp.dev/dokkuexec/internal/app"
	"dokkumcp.dev/dokkuexec/internal/domain"
)

// defaultUser is the user every Dokku host accepts commands for.
const defaultUser = "dokku"

// closeGrace bounds how long a canceled session may take to close before its
// whole connection is dropped.
const closeGrace = 5 * time.Second

// Options configures an Executor.
type Options struct {
	// DialTimeout bounds the TCP connect and the SSH handshake.
	DialTimeout time.Duration
	// CommandTimeout bounds one command, from opening its session to its
	// exit status.
	CommandTimeout time.Duration
	// OutputLimit is the most bytes kept of each of stdout and stderr.
	OutputLimit int
	Logger      *slog.Logger
	// Dial opens the TCP connection; it defaults to net.Dialer.DialContext.
	// Tests use it to count connections.
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
}

// Executor implements app.Executor with golang.org/x/crypto/ssh.
type Executor struct {
	opts Options

	mu    sync.Mutex
	conns map[string]*pooledConn
}

// pooledConn is the connection to one host. Its mutex serializes dialing,
// so concurrent commands for a host share one connection.
type pooledConn struct {
	mu      sync.Mutex
	client  *ssh.Client
	address string
	hostKey string
	// closed is closed when the client's connection ends.
	closed chan struct{}
}

// New returns an Executor with an empty pool.
func New(opts Options) *Executor {
	if opts.Dial == nil {
		dialer := &net.Dialer{}
		opts.Dial = dialer.DialContext
	}
	return &Executor{opts: opts, conns: map[string]*pooledConn{}}
}

// Run runs cmd on the target's host. A connection that turns out to be dead
// when the session is opened is replaced once; nothing has run on it yet.
func (e *Executor) Run(ctx context.Context, target app.Target, cmd domain.Command) (_ domain.Result, err error) {
	ctx, cancel := context.WithTimeout(ctx, e.opts.CommandTimeout)
	defer cancel()
	ctx, span := startSpan(ctx, target, cmd)
	var result domain.Result
	defer func() { endSpan(span, result, err) }()

	client, session, err := e.openSession(ctx, target)
	if err != nil {
		return domain.Result{}, err
	}
	result, err = e.runSession(ctx, target, client, session, cmd, nil)
	return result, err
}

// Stream runs cmd on the target's host like Run, but hands each line of
// stdout, without its newline, to onLine as it arrives instead of keeping
// it. It has no command timeout: it ends when the command exits, when ctx
// ends, or when onLine returns an error, which Stream then returns. Ending
// closes the SSH session, which ends the command on the host.
func (e *Executor) Stream(ctx context.Context, target app.Target, cmd domain.Command, onLine func(line string) error) (_ domain.Result, err error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	ctx, span := startSpan(ctx, target, cmd)
	var result domain.Result
	defer func() { endSpan(span, result, err) }()

	client, session, err := e.openSession(ctx, target)
	if err != nil {
		return domain.Result{}, err
	}
	lines := &lineWriter{onLine: onLine, fail: cancel, limit: e.opts.OutputLimit}
	result, err = e.runSession(ctx, target, client, session, cmd, lines)
	if err != nil {
		if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) && !errors.Is(cause, context.DeadlineExceeded) {
			return domain.Result{}, cause
		}
		return domain.Result{}, err
	}
	if err := lines.flush(); err != nil {
		return domain.Result{}, err
	}
	return result, nil
}

// openSession opens a session on the pooled connection to the target's
// host. A connection that turns out to be dead is replaced once; nothing
// has run on it yet.
func (e *Executor) openSession(ctx context.Context, target app.Target) (*ssh.Client, *ssh.Session, error) {
	for attempt := 1; ; attempt++ {
		client, err := e.client(ctx, target)
		if err != nil {
			return nil, nil, err
		}
		session, err := client.NewSession()
		if err == nil {
			return client, session, nil
		}

		e.discard(target, client)
		if attempt > 1 || ctx.Err() != nil {
			return nil, nil, &app.Error{Kind: app.KindUnavailable, Message: fmt.Sprintf("could not open an SSH session on host %q; retry later", target.Host.Name), Err: err}
		}
		e.opts.Logger.InfoContext(ctx, "ssh session open failed; reconnecting", "host_id", target.Host.ID, "error", err)
	}
}

// runSession runs one command in session and closes it when ctx ends.
// Stdout goes to lines when it is not nil, and is kept otherwise.
func (e *Executor) runSession(ctx context.Context, target app.Target, client *ssh.Client, session *ssh.Session, cmd domain.Command, lines *lineWriter) (domain.Result, error) {
	defer session.Close()
	stdout := &cappedBuffer{limit: e.opts.OutputLimit}
	stderr := &cappedBuffer{limit: e.opts.OutputLimit}
	session.Stdout = stdout
	if lines != nil {
		session.Stdout = lines
	}
	session.Stderr = stderr

	// No PTY is requested: a PTY would merge stderr into stdout, rewrite
	// newlines and make commands that read stdin block. Stdin is empty.
	if err := session.Start(cmd.String()); err != nil {
		return domain.Result{}, &app.Error{Kind: app.KindUnavailable, Message: fmt.Sprintf("could not start dokku %s on host %q; retry later", cmd.Name(), target.Host.Name), Err: err}
	}

	done := make(chan error, 1)
	go func() { done <- session.Wait() }()

	var waitErr error
	select {
	case waitErr = <-done:
	case <-ctx.Done():
		_ = session.Close()
		select {
		case <-done:
		case <-time.After(closeGrace):
			e.opts.Logger.WarnContext(ctx, "ssh session did not close; dropping the connection", "host_id", target.Host.ID, "operation", cmd.Name())
			e.discard(target, client)
			<-done
		}
		return domain.Result{}, fmt.Errorf("dokku %s on host %s: %w", cmd.Name(), target.Host.ID, ctx.Err())
	}

	result := domain.Result{
		Stdout:          stdout.data,
		Stderr:          stderr.data,
		StdoutTruncated: stdout.truncated,
		StderrTruncated: stderr.truncated,
	}
	var exitErr *ssh.ExitError
	var missingErr *ssh.ExitMissingError
	switch {
	case waitErr == nil:
	case errors.As(waitErr, &exitErr):
		result.ExitStatus = exitErr.ExitStatus()
	case errors.As(waitErr, &missingErr):
		return domain.Result{}, app.Errorf(app.KindUnavailable, "the SSH connection to host %q ended before dokku %s reported an exit status; check the app's state before retrying", target.Host.Name, cmd.Name())
	default:
		return domain.Result{}, &app.Error{Kind: app.KindUnavailable, Message: fmt.Sprintf("dokku %s on host %q failed in transit; check the app's state before retrying", cmd.Name(), target.Host.Name), Err: waitErr}
	}
	return result, nil
}

// client returns the pooled connection for the target's host, dialing a new
// one when there is none, it has died, or the host's address or pinned key
// changed.
func (e *Executor) client(ctx context.Context, target app.Target) (*ssh.Client, error) {
	pooled := e.pooled(target)
	pooled.mu.Lock()
	defer pooled.mu.Unlock()

	address := net.JoinHostPort(target.Host.Address, strconv.Itoa(int(target.Host.Port)))
	if pooled.client != nil {
		alive := true
		select {
		case <-pooled.closed:
			alive = false
		default:
		}
		if alive && pooled.address == address && pooled.hostKey == target.Host.HostKey {
			return pooled.client, nil
		}
		_ = pooled.client.Close()
		pooled.client = nil
	}

	client, err := e.dial(ctx, target, address)
	if err != nil {
		return nil, err
	}
	pooled.client = client
	pooled.address = address
	pooled.hostKey = target.Host.HostKey
	pooled.closed = make(chan struct{})
	go func(closed chan struct{}) {
		err := client.Wait()
		close(closed)
		e.opts.Logger.Info("ssh connection closed", "host_id", target.Host.ID, "error", err)
	}(pooled.closed)
	return client, nil
}

// dial opens and authenticates a new connection to the host.
func (e *Executor) dial(ctx context.Context, target app.Target, address string) (*ssh.Client, error) {
	host := target.Host
	pinned, err := parsePinnedHostKey(host)
	if err != nil {
		return nil, err
	}
	credential, err := target.Credential(ctx)
	if err != nil {
		return nil, err
	}
	certSigner, err := signer(host, credential)
	if err != nil {
		e.opts.Logger.ErrorContext(ctx, "ssh credential unusable", "host_id", host.ID, "error", err)
		return nil, &app.Error{Kind: app.KindInternal, Message: fmt.Sprintf("the SSH credential for host %q could not be used; check the Secrets service", host.Name), Err: err}
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
			return nil, ctx.Err()
		}
		return nil, &app.Error{Kind: app.KindUnavailable, Message: fmt.Sprintf("could not connect to host %q; check that it is up and reachable on port %d", host.Name, host.Port), Err: err}
	}

	// The handshake gets the same deadline, and ends early with ctx.
	_ = conn.SetDeadline(time.Now().Add(e.opts.DialTimeout))
	stop := context.AfterFunc(dialCtx, func() { _ = conn.Close() })
	sshConn, channels, requests, err := ssh.NewClientConn(conn, address, config)
	stop()
	if err != nil {
		_ = conn.Close()
		return nil, e.handshakeError(ctx, host, err)
	}
	_ = conn.SetDeadline(time.Time{})

	e.opts.Logger.InfoContext(ctx, "ssh connection opened", "host_id", host.ID, "duration_ms", time.Since(start).Milliseconds())
	return ssh.NewClient(sshConn, channels, requests), nil
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
	case strings.Contains(err.Error(), "unable to authenticate"):
		return &app.Error{
			Kind:    app.KindFailedPrecondition,
			Message: fmt.Sprintf("host %q rejected the platform's SSH certificate; install the trust line from GetHostTrust in the dokku user's authorized_keys", host.Name),
			Err:     err,
		}
	}
	return &app.Error{Kind: app.KindUnavailable, Message: fmt.Sprintf("the SSH handshake with host %q failed or timed out; check that it runs an SSH server on port %d", host.Name, host.Port), Err: err}
}

// pooled returns the pool slot for the target's host.
func (e *Executor) pooled(target app.Target) *pooledConn {
	key := target.TenantID + "/" + target.Host.ID
	e.mu.Lock()
	defer e.mu.Unlock()
	pooled, ok := e.conns[key]
	if !ok {
		pooled = &pooledConn{}
		e.conns[key] = pooled
	}
	return pooled
}

// discard closes client and removes it from the pool if it is still there.
func (e *Executor) discard(target app.Target, client *ssh.Client) {
	pooled := e.pooled(target)
	_ = client.Close()
	pooled.mu.Lock()
	defer pooled.mu.Unlock()
	if pooled.client == client {
		pooled.client = nil
	}
}

// Close closes every pooled connection.
func (e *Executor) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	var errs []error
	for _, pooled := range e.conns {
		pooled.mu.Lock()
		if pooled.client != nil {
			errs = append(errs, pooled.client.Close())
			pooled.client = nil
		}
		pooled.mu.Unlock()
	}
	return errors.Join(errs...)
}
