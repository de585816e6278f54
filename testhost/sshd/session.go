package sshd

import (
	"context"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"

	"dokkumcp.dev/testhost/emulator"
)

// serveSession handles the requests of one session channel. Only one exec
// request runs. Requests for pty-req, shell and subsystem are rejected,
// because Dokku must be driven without a PTY. open counts the sessions of
// the connection and drops by one before ActiveSessions does, so a client
// that sees ActiveSessions fall may open a session within MaxSessions.
func (s *Server) serveSession(conn *ssh.ServerConn, channel ssh.Channel, requests <-chan *ssh.Request, open *atomic.Int64) {
	s.sessions.Add(1)
	defer s.sessions.Add(-1)
	defer open.Add(-1)
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()

	done := make(chan struct{})
	started := false
	for {
		select {
		case req, ok := <-requests:
			if !ok {
				// The client closed the channel: cancel a running command
				// and wait for it, so no goroutine outlives the session.
				cancel()
				if started {
					<-done
				}
				_ = channel.Close()
				return
			}
			switch req.Type {
			case "exec":
				var payload execRequest
				if started || ssh.Unmarshal(req.Payload, &payload) != nil {
					_ = req.Reply(false, nil)
					continue
				}
				started = true
				_ = req.Reply(true, nil)
				go func() {
					defer close(done)
					s.runExec(ctx, conn, channel, payload.Command)
				}()
			case "env":
				// Like Debian's sshd with AcceptEnv LANG LC_*; the values
				// do not reach the emulator.
				_ = req.Reply(false, nil)
			default:
				// pty-req, shell, subsystem, x11-req and the rest.
				_ = req.Reply(false, nil)
			}
		case <-done:
			// The command finished and the channel is closed; drain the
			// remaining requests until the client acknowledges.
			for req := range requests {
				_ = req.Reply(false, nil)
			}
			return
		}
	}
}

// runExec runs one command, or the active fault, and ends the channel with
// its exit status as OpenSSH does: EOF, exit-status, then close.
func (s *Server) runExec(ctx context.Context, conn *ssh.ServerConn, channel ssh.Channel, command string) {
	start := time.Now()
	keyName := conn.Permissions.Extensions[extensionKeyName]
	s.logger.Info("ssh exec started", "remote_addr", conn.RemoteAddr().String(), "key_name", keyName, "command", commandName(command))

	inv := emulator.Invocation{
		OriginalCommand: command,
		KeyName:         keyName,
		Fingerprint:     conn.Permissions.Extensions[extensionFingerprint],
		Stdin:           channel,
		Stdout:          channel,
		Stderr:          channel.Stderr(),
		Root:            conn.Permissions.Extensions[extensionRoot] == "true",
	}

	code, reply := s.currentFault().run(ctx, conn, inv, s.opts.Emulator)
	if !reply {
		// The fault sends no exit status, so the channel stays open until
		// the client or Close ends it.
		<-ctx.Done()
		s.logger.Info("ssh exec abandoned", "key_name", keyName, "command", commandName(command), "duration_ms", time.Since(start).Milliseconds())
		return
	}

	_ = channel.CloseWrite()
	_, err := channel.SendRequest("exit-status", false, ssh.Marshal(exitStatus{Status: uint32(code)}))
	if err != nil {
		s.logger.Info("ssh exit status not delivered", "key_name", keyName, "command", commandName(command), "error", err)
	}
	_ = channel.Close()
	s.logger.Info("ssh exec finished", "key_name", keyName, "command", commandName(command), "exit_status", code, "duration_ms", time.Since(start).Milliseconds())
}
