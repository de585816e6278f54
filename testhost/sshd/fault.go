package sshd

import (
	"context"
	"io"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"dokkumcp.dev/testhost/emulator"
)

// FaultMode selects how the server misbehaves for matching exec requests.
// Each mode is one case in Fault.run, so a new mode needs only a constant
// and a case there.
type FaultMode int

const (
	// FaultNone runs commands normally.
	FaultNone FaultMode = iota
	// FaultHang accepts the exec request and then sends nothing, neither
	// output nor exit status, until the client closes the session or the
	// server closes.
	FaultHang
	// FaultPartialOutput writes Fault.Output to stdout and exits with
	// status 1 without running the command, like a command that dies
	// halfway.
	FaultPartialOutput
	// FaultSlowStream writes Fault.Output to stdout one line at a time,
	// waiting Fault.Interval before each line after the first, and then
	// exits with status 0. Closing the session stops it between lines.
	FaultSlowStream
	// FaultDropConnection writes Fault.Output to stdout and then closes the
	// whole network connection without an exit status, like a host that
	// reboots or a network path that fails mid-command.
	FaultDropConnection
)

// Fault makes the server misbehave so that clients can be tested against
// failures. The zero Fault runs every command normally.
type Fault struct {
	Mode FaultMode
	// Command limits the fault to exec requests that contain this text;
	// empty matches every request.
	Command string
	// Output is the text FaultPartialOutput, FaultSlowStream and
	// FaultDropConnection write to stdout.
	Output string
	// Interval is the pause between the lines of FaultSlowStream.
	Interval time.Duration
}

// SetFault makes f apply to exec requests that start after the call.
func (s *Server) SetFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault = f
}

func (s *Server) currentFault() Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fault
}

// run executes inv under the fault. reply is false when the session must
// stay silent instead of sending an exit status.
func (f Fault) run(ctx context.Context, conn *ssh.ServerConn, inv emulator.Invocation, e *emulator.Emulator) (code int, reply bool) {
	if f.Mode == FaultNone || !strings.Contains(inv.OriginalCommand, f.Command) {
		return e.Run(ctx, inv), true
	}

	switch f.Mode {
	case FaultHang:
		return 0, false
	case FaultPartialOutput:
		_, _ = io.WriteString(inv.Stdout, f.Output)
		return 1, true
	case FaultSlowStream:
		return slowStream(ctx, inv.Stdout, f.Output, f.Interval), true
	case FaultDropConnection:
		_, _ = io.WriteString(inv.Stdout, f.Output)
		_ = conn.Close()
		return 0, false
	}
	return e.Run(ctx, inv), true
}

// slowStream writes output line by line with interval between lines. It
// returns status 0 when all lines are written and 130, as a shell does for
// an interrupted command, when ctx ends first.
func slowStream(ctx context.Context, stdout io.Writer, output string, interval time.Duration) int {
	lines := strings.SplitAfter(output, "\n")
	for i, line := range lines {
		if i > 0 {
			timer := time.NewTimer(interval)
			select {
			case <-ctx.Done():
				timer.Stop()
				return 130
			case <-timer.C:
			}
		}
		if _, err := io.WriteString(stdout, line); err != nil {
			return 130
		}
	}
	return 0
}

// ConnFaultMode selects how the server misbehaves for whole connections,
// before or beside any exec request.
type ConnFaultMode int

const (
	// ConnFaultNone serves connections normally.
	ConnFaultNone ConnFaultMode = iota
	// ConnFaultRefuse closes each new connection right after accepting
	// it, before the SSH version exchange, like a host whose sshd is down
	// behind a load balancer.
	ConnFaultRefuse
	// ConnFaultRejectLogin rejects every login, like a host that does not
	// trust the client's key or certificate authority.
	ConnFaultRejectLogin
	// ConnFaultIgnoreKeepalive leaves global requests such as
	// keepalive@openssh.com unanswered on every connection, new and
	// existing, like a peer behind a network path that has silently failed.
	// Sessions keep working, so only a keepalive notices.
	ConnFaultIgnoreKeepalive
)

// SetConnFault makes mode apply to connections from now on. A mode set
// while connections are open applies to their next global request or to
// the next connection, as each mode describes.
func (s *Server) SetConnFault(mode ConnFaultMode) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.connFault = mode
}

func (s *Server) currentConnFault() ConnFaultMode {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connFault
}

// SetHostKey replaces the server's host key for connections that start
// after the call, like a reinstalled host or a rotated key. Open
// connections keep the key they were made with.
func (s *Server) SetHostKey(key ssh.Signer) {
	config := s.newConfig(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.config = config
}

// serveGlobalRequests replies false to global requests, as OpenSSH does
// for requests it does not know, unless ConnFaultIgnoreKeepalive is set.
// A false reply is what a keepalive expects: any reply proves the peer alive.
func (s *Server) serveGlobalRequests(requests <-chan *ssh.Request) {
	for req := range requests {
		if s.currentConnFault() == ConnFaultIgnoreKeepalive {
			continue
		}
		if req.WantReply {
			_ = req.Reply(false, nil)
		}
	}
}

// SetMaxSessions limits the sessions open at once on each connection, as
// sshd_config's MaxSessions does, for sessions opened after the call. A
// session beyond the limit is rejected. 0, the default, means no limit.
func (s *Server) SetMaxSessions(limit int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sessionLimit = limit
}

func (s *Server) maxSessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessionLimit
}
