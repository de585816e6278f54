package sshd

import (
	"context"
	"io"
	"strings"

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
)

// Fault makes the server misbehave so that clients can be tested against
// failures. The zero Fault runs every command normally.
type Fault struct {
	Mode FaultMode
	// Command limits the fault to exec requests that contain this text;
	// empty matches every request.
	Command string
	// Output is the text FaultPartialOutput writes to stdout before it fails.
	Output string
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
func (f Fault) run(ctx context.Context, inv emulator.Invocation, e *emulator.Emulator) (code int, reply bool) {
	if f.Mode == FaultNone || !strings.Contains(inv.OriginalCommand, f.Command) {
		return e.Run(ctx, inv), true
	}

	switch f.Mode {
	case FaultHang:
		return 0, false
	case FaultPartialOutput:
		_, _ = io.WriteString(inv.Stdout, f.Output)
		return 1, true
	}
	return e.Run(ctx, inv), true
}
