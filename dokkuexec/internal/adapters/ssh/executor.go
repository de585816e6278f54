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
	"sync"
	"time"

	"go.opentelemetry.io/otel/metric"
	"golang.org/x/crypto/ssh"

	"dokkumcp.dev/dokkuexec/internal/app"
	"dokkumcp.dev/dokkuexec/internal/domain"
)

// defaultUser is the user every Dokku host accepts commands for.
const defaultUser = "dokku"

// closeGrace bounds how long a canceled session may take to close before its
// whole connection is dropped.
const closeGrace = 5 * time.Second

// DefaultMaxSessions is the default of Options.MaxSessions: OpenSSH's
// default for sshd's MaxSessions (DEFAULT_SESSIONS_MAX in servconf.h), the
// maximum number of sessions open on one connection.
//
// NOTE: a host whose sshd_config sets a lower MaxSessions rejects sessions
// beyond it; openSession then retries once and fails with
// ResourceExhausted. Lower --ssh-max-sessions for such hosts.
const DefaultMaxSessions = 10

// Options configures an Executor.
type Options struct {
	// DialTimeout bounds the TCP connect and the SSH handshake.
	DialTimeout time.Duration
	// CommandTimeout bounds one command, from waiting for a session slot
	// to its exit status.
	CommandTimeout time.Duration
	// OutputLimit is the most bytes kept of each of stdout and stderr.
	OutputLimit int
	// KeepaliveInterval is how often a keepalive@openssh.com request is
	// sent on each connection. A connection whose keepalive gets no reply
	// within one interval is closed. 0 turns keepalives off.
	KeepaliveInterval time.Duration
	// IdleTimeout closes a connection that has had no open session for
	// this long. 0 keeps idle connections open.
	IdleTimeout time.Duration
	// MaxSessions is the maximum number of commands that run at once on
	// one host. Further commands wait for a free session until their
	// deadline. 0 means DefaultMaxSessions.
	MaxSessions int
	// DialAttempts is how many times one command tries to connect when
	// the host or the network fails, with backoff between attempts. 0
	// means 1.
	DialAttempts int
	// BackoffBase is the wait before the second dial attempt, doubled for
	// each later one up to BackoffMax, with jitter. 0 means 100ms and 2s.
	BackoffBase time.Duration
	BackoffMax  time.Duration
	// BreakerThreshold is how many consecutive connection failures open a
	// host's circuit breaker. 0 turns the breaker off.
	BreakerThreshold int
	// BreakerCooldown is how long an open breaker fails commands at once
	// before it lets one dial through as a probe.
	BreakerCooldown time.Duration
	Logger          *slog.Logger
	// Meter, if set, receives the session wait and breaker state metrics.
	Meter metric.Meter
	// Dial opens the TCP connection; it defaults to net.Dialer.DialContext.
	// Tests use it to count connections.
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
	// Now returns the time the circuit breaker works with; it defaults to
	// time.Now. Tests set it to end a cool-down without waiting.
	Now func() time.Time
}

// Executor implements app.Executor with golang.org/x/crypto/ssh.
type Executor struct {
	opts    Options
	metrics *metrics

	mu     sync.Mutex
	pools  map[string]*hostPool
	closed bool
	// wg counts the goroutines that watch connections.
	wg sync.WaitGroup
}

// New returns an Executor with an empty pool.
func New(opts Options) *Executor {
	if opts.Dial == nil {
		dialer := &net.Dialer{}
		opts.Dial = dialer.DialContext
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxSessions <= 0 {
		opts.MaxSessions = DefaultMaxSessions
	}
	if opts.DialAttempts <= 0 {
		opts.DialAttempts = 1
	}
	if opts.BackoffBase <= 0 {
		opts.BackoffBase = 100 * time.Millisecond
	}
	if opts.BackoffMax < opts.BackoffBase {
		opts.BackoffMax = max(opts.BackoffBase, 2*time.Second)
	}
	e := &Executor{opts: opts, pools: map[string]*hostPool{}}
	e.metrics = newMetrics(opts.Meter, e, opts.Logger)
	return e
}

// Run runs cmd on the target's host. A connection that turns out to be dead
// when the session is opened is replaced once; nothing has run on it yet.
func (e *Executor) Run(ctx context.Context, target app.Target, cmd domain.Command) (_ domain.Result, err error) {
	ctx, cancel := context.WithTimeout(ctx, e.opts.CommandTimeout)
	defer cancel()
	ctx, span := startSpan(ctx, target, cmd)
	var result domain.Result
	defer func() { endSpan(span, result, err) }()

	lease, err := e.openSession(ctx, target)
	if err != nil {
		return domain.Result{}, err
	}
	result, err = e.runSession(ctx, target, lease, cmd, nil)
	return result, err
}

// Stream runs cmd on the target's host like Run, but hands each line of
// stdout, without its newline, to onLine as it arrives instead of keeping
// it. It has no command timeout: it ends when the command exits, when ctx
// ends, or when onLine returns an error, which Stream then returns. Ending
// closes the SSH session, which ends the command on the host. A stream
// holds one of the host's MaxSessions session slots until it ends.
func (e *Executor) Stream(ctx context.Context, target app.Target, cmd domain.Command, onLine func(line string) error) (_ domain.Result, err error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	ctx, span := startSpan(ctx, target, cmd)
	var result domain.Result
	defer func() { endSpan(span, result, err) }()

	lease, err := e.openSession(ctx, target)
	if err != nil {
		return domain.Result{}, err
	}
	lines := &lineWriter{onLine: onLine, fail: cancel, limit: e.opts.OutputLimit}
	result, err = e.runSession(ctx, target, lease, cmd, lines)
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

// runSession runs one command in the lease's session and closes it when
// ctx ends. Stdout goes to lines when it is not nil, and is kept otherwise.
func (e *Executor) runSession(ctx context.Context, target app.Target, lease *lease, cmd domain.Command, lines *lineWriter) (domain.Result, error) {
	defer e.close(lease)
	session := lease.session
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
			e.drop(lease.pool, lease.conn)
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

// Close closes every pooled connection and waits for the goroutines that
// watch them. Commands still running fail, and later ones get Unavailable.
func (e *Executor) Close() error {
	e.mu.Lock()
	e.closed = true
	pools := make([]*hostPool, 0, len(e.pools))
	for _, pool := range e.pools {
		pools = append(pools, pool)
	}
	e.mu.Unlock()

	var errs []error
	for _, pool := range pools {
		pool.mu.Lock()
		conn := pool.conn
		pool.conn = nil
		if conn != nil && conn.idle != nil {
			conn.idle.Stop()
			conn.idle = nil
		}
		pool.mu.Unlock()
		if conn != nil {
			if err := conn.client.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
				errs = append(errs, err)
			}
		}
	}
	e.wg.Wait()
	return errors.Join(errs...)
}
