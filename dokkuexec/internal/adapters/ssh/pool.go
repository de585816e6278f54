package ssh

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"dokkumcp.dev/dokkuexec/internal/app"
)

// hostPool is the pool slot of one tenant host: its connection, the slots
// that limit its concurrent sessions, and its circuit breaker.
type hostPool struct {
	hostID string
	// slots holds one token per open session; its capacity is MaxSessions.
	slots chan struct{}
	// dialing holds a token while a command dials the host, so one dial
	// runs at a time and concurrent commands share its connection. It is a
	// channel, not a mutex, so that waiting ends with the caller's context.
	dialing chan struct{}

	mu      sync.Mutex
	conn    *pooledConn
	breaker breaker
}

// pooledConn is one SSH connection to a host.
type pooledConn struct {
	client  *ssh.Client
	address string
	hostKey string
	// closed is closed when the connection has ended.
	closed chan struct{}

	// The fields below are guarded by hostPool.mu.

	// sessions counts the sessions open on the connection.
	sessions int
	// idle closes the connection after IdleTimeout without sessions. It is
	// nil while sessions are open or when IdleTimeout is 0.
	idle *time.Timer
	// idleGeneration invalidates an idle timer that fired while a session
	// was being opened.
	idleGeneration int
}

// lease is the session slot, the counted connection reference and the
// session that one command holds while it runs.
type lease struct {
	pool    *hostPool
	conn    *pooledConn
	session *ssh.Session
}

// pool returns the pool slot of the target's host, creating it on first use.
func (e *Executor) pool(target app.Target) *hostPool {
	key := target.TenantID + "/" + target.Host.ID
	e.mu.Lock()
	defer e.mu.Unlock()
	pool, ok := e.pools[key]
	if !ok {
		pool = &hostPool{
			hostID:  target.Host.ID,
			slots:   make(chan struct{}, e.opts.MaxSessions),
			dialing: make(chan struct{}, 1),
		}
		e.pools[key] = pool
	}
	return pool
}

// openSession waits for a session slot on the target's host, connects if
// needed and opens a session. A connection that turns out to be dead when
// the session is opened is replaced once; nothing has run on it yet.
func (e *Executor) openSession(ctx context.Context, target app.Target) (*lease, error) {
	if e.isClosed() {
		return nil, app.Errorf(app.KindUnavailable, "DokkuExec is shutting down; retry the command on another replica")
	}
	pool := e.pool(target)
	if err := e.waitForSlot(ctx, pool, target); err != nil {
		return nil, err
	}

	for attempt := 1; ; attempt++ {
		conn, err := e.connect(ctx, pool, target)
		if err != nil {
			<-pool.slots
			return nil, err
		}
		session, err := conn.client.NewSession()
		if err == nil {
			return &lease{pool: pool, conn: conn, session: session}, nil
		}
		e.release(pool, conn)

		var rejected *ssh.OpenChannelError
		if errors.As(err, &rejected) {
			// The connection is alive but the host rejected the session:
			// its sshd's MaxSessions is below this executor's, or it has
			// not yet freed a session that was just closed. One retry
			// after a backoff covers the second case.
			if attempt == 1 && sleep(ctx, e.backoff(1)) {
				continue
			}
			<-pool.slots
			e.opts.Logger.WarnContext(ctx, "ssh session rejected by host", "host_id", target.Host.ID, "max_sessions", e.opts.MaxSessions, "error", err)
			return nil, &app.Error{
				Kind:    app.KindResourceExhausted,
				Message: fmt.Sprintf("host %q rejected a new SSH session because too many are open on it; retry later", target.Host.Name),
				Err:     err,
			}
		}

		e.drop(pool, conn)
		if attempt > 1 || ctx.Err() != nil {
			<-pool.slots
			return nil, &app.Error{Kind: app.KindUnavailable, Message: fmt.Sprintf("could not open an SSH session on host %q; retry later", target.Host.Name), Err: err}
		}
		e.opts.Logger.InfoContext(ctx, "ssh session open failed; reconnecting", "host_id", target.Host.ID, "error", err)
	}
}

func (e *Executor) isClosed() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.closed
}

// close closes the lease's session and gives back its connection reference
// and its session slot.
func (e *Executor) close(l *lease) {
	_ = l.session.Close()
	e.release(l.pool, l.conn)
	<-l.pool.slots
}

// waitForSlot takes one of the host's MaxSessions session slots, waiting
// under ctx's deadline while all are taken. OpenSSH's sshd also limits the
// sessions of one connection (MaxSessions, 10 by default), and DokkuExec
// uses one connection per host.
func (e *Executor) waitForSlot(ctx context.Context, pool *hostPool, target app.Target) error {
	select {
	case pool.slots <- struct{}{}:
		e.metrics.recordSessionWait(ctx, 0)
		return nil
	default:
	}

	start := time.Now()
	e.opts.Logger.InfoContext(ctx, "ssh session limit reached; waiting", "host_id", target.Host.ID, "max_sessions", e.opts.MaxSessions)
	select {
	case pool.slots <- struct{}{}:
		waited := time.Since(start)
		e.metrics.recordSessionWait(ctx, waited)
		e.opts.Logger.InfoContext(ctx, "ssh session slot acquired", "host_id", target.Host.ID, "wait_ms", waited.Milliseconds())
		return nil
	case <-ctx.Done():
		waited := time.Since(start)
		e.metrics.recordSessionWait(ctx, waited)
		e.opts.Logger.WarnContext(ctx, "ssh session slot wait ended", "host_id", target.Host.ID, "max_sessions", e.opts.MaxSessions, "wait_ms", waited.Milliseconds(), "error", ctx.Err())
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return app.Errorf(app.KindDeadlineExceeded,
				"timed out after %s waiting for a free SSH session on host %q, which runs at most %d commands at once; nothing was run, retry later",
				waited.Round(time.Millisecond), target.Host.Name, e.opts.MaxSessions)
		}
		return fmt.Errorf("wait for an SSH session on host %s: %w", target.Host.ID, ctx.Err())
	}
}

// connect returns the pooled connection to the target's host with one
// session counted on it, dialing when there is none. A dial that fails
// because of the host or the network is retried up to DialAttempts times
// with exponential backoff and jitter, unless ctx ends first.
func (e *Executor) connect(ctx context.Context, pool *hostPool, target app.Target) (*pooledConn, error) {
	address := net.JoinHostPort(target.Host.Address, strconv.Itoa(int(target.Host.Port)))
	for attempt := 1; ; attempt++ {
		conn, err := e.connectOnce(ctx, pool, target, address)
		if err == nil || !isHostFailure(err) || attempt >= e.opts.DialAttempts {
			return conn, err
		}

		delay := e.backoff(attempt)
		e.opts.Logger.InfoContext(ctx, "ssh connect failed; retrying", "host_id", target.Host.ID, "attempt", attempt, "retry_in_ms", delay.Milliseconds(), "error", err)
		if !sleep(ctx, delay) {
			return nil, err
		}
	}
}

// sleep waits for delay and reports whether it did, or returns false as
// soon as ctx ends.
func sleep(ctx context.Context, delay time.Duration) bool {
	timer := time.NewTimer(delay)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}

// backoff returns the wait before dial attempt+1: BackoffBase doubled per
// attempt, at most BackoffMax, with "equal jitter" (half fixed, half
// random) so that commands for a host that failed together do not redial
// together.
func (e *Executor) backoff(attempt int) time.Duration {
	delay := e.opts.BackoffMax
	if shift := attempt - 1; shift < 30 {
		if d := e.opts.BackoffBase << shift; d < delay {
			delay = d
		}
	}
	half := delay / 2
	return half + rand.N(half+1)
}

// connectOnce reuses the live connection or makes one dial, subject to the
// circuit breaker.
func (e *Executor) connectOnce(ctx context.Context, pool *hostPool, target app.Target, address string) (*pooledConn, error) {
	if conn := e.reuse(pool, address, target.Host.HostKey); conn != nil {
		return conn, nil
	}
	select {
	case pool.dialing <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-pool.dialing }()
	// Another command may have connected while this one waited.
	if conn := e.reuse(pool, address, target.Host.HostKey); conn != nil {
		return conn, nil
	}

	pool.mu.Lock()
	stale := pool.conn
	pool.conn = nil
	err := pool.breaker.allow(e.opts.Now(), e.opts.BreakerThreshold, target.Host.Name)
	pool.mu.Unlock()
	if stale != nil {
		// Dead, or for an address or pinned key that has changed.
		e.drop(pool, stale)
	}
	if err != nil {
		return nil, err
	}

	client, err := e.dialRefreshing(ctx, target, address)
	pool.mu.Lock()
	defer pool.mu.Unlock()
	if err != nil {
		if isHostFailure(err) && pool.breaker.failure(e.opts.Now(), e.opts.BreakerThreshold, e.opts.BreakerCooldown) {
			e.opts.Logger.WarnContext(ctx, "ssh circuit breaker opened", "host_id", target.Host.ID,
				"failures", pool.breaker.failures, "retry_at", pool.breaker.openUntil.UTC().Format(time.RFC3339))
		}
		return nil, err
	}
	if pool.breaker.success() {
		e.opts.Logger.InfoContext(ctx, "ssh circuit breaker closed", "host_id", target.Host.ID)
	}

	conn := &pooledConn{client: client, address: address, hostKey: target.Host.HostKey, closed: make(chan struct{}), sessions: 1}
	if !e.watch(pool, conn, target.Host.ID) {
		_ = client.Close()
		return nil, app.Errorf(app.KindUnavailable, "DokkuExec is shutting down; retry the command on another replica")
	}
	pool.conn = conn
	return conn, nil
}

// reuse returns the pool's connection with one more session counted on it,
// or nil when there is none, it has died, or the host's address or pinned
// key has changed.
func (e *Executor) reuse(pool *hostPool, address, hostKey string) *pooledConn {
	pool.mu.Lock()
	defer pool.mu.Unlock()
	conn := pool.conn
	if conn == nil || conn.address != address || conn.hostKey != hostKey {
		return nil
	}
	select {
	case <-conn.closed:
		return nil
	default:
	}
	conn.sessions++
	conn.idleGeneration++
	if conn.idle != nil {
		conn.idle.Stop()
		conn.idle = nil
	}
	return conn
}

// release uncounts one session on conn and, when it was the last one on
// the pool's current connection, starts the idle timer.
func (e *Executor) release(pool *hostPool, conn *pooledConn) {
	pool.mu.Lock()
	defer pool.mu.Unlock()
	conn.sessions--
	if conn.sessions > 0 || pool.conn != conn || e.opts.IdleTimeout <= 0 {
		return
	}
	conn.idleGeneration++
	generation := conn.idleGeneration
	conn.idle = time.AfterFunc(e.opts.IdleTimeout, func() { e.closeIdle(pool, conn, generation) })
}

// closeIdle closes conn if it is still the pool's connection and has had
// no session since the timer of generation started.
func (e *Executor) closeIdle(pool *hostPool, conn *pooledConn, generation int) {
	pool.mu.Lock()
	if pool.conn != conn || conn.sessions > 0 || conn.idleGeneration != generation {
		pool.mu.Unlock()
		return
	}
	pool.conn = nil
	conn.idle = nil
	pool.mu.Unlock()

	e.opts.Logger.Info("ssh connection idle; closing", "host_id", pool.hostID, "idle_timeout_ms", e.opts.IdleTimeout.Milliseconds())
	_ = conn.client.Close()
}

// drop removes conn from the pool if it is still there and closes it.
// Sessions still open on it fail.
func (e *Executor) drop(pool *hostPool, conn *pooledConn) {
	pool.mu.Lock()
	if pool.conn == conn {
		pool.conn = nil
	}
	if conn.idle != nil {
		conn.idle.Stop()
		conn.idle = nil
	}
	pool.mu.Unlock()
	_ = conn.client.Close()
}

// watch starts the goroutines that follow conn until it ends: one that
// waits for the connection to close and one that sends keepalives. It
// returns false, starting nothing, once the Executor is closed.
func (e *Executor) watch(pool *hostPool, conn *pooledConn, hostID string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return false
	}

	e.wg.Go(func() {
		err := conn.client.Wait()
		close(conn.closed)
		e.drop(pool, conn)
		e.opts.Logger.Info("ssh connection closed", "host_id", hostID, "error", err)
	})
	if e.opts.KeepaliveInterval > 0 {
		e.wg.Go(func() { e.keepalive(pool, conn, hostID) })
	}
	return true
}
