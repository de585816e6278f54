// Package sshd serves the Dokku emulator over real SSH the way a Dokku host
// does: user dokku, keys and certificate authorities from an authorized_keys
// file, and every exec request run as Dokku's forced command.
package sshd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"

	"dokkumcp.dev/testhost/emulator"
)

// dokkuUser is the only user name a Dokku host accepts over SSH.
const dokkuUser = "dokku"

// Permission extension keys that record which authorized_keys line admitted
// a connection.
const (
	extensionKeyName     = "dokku-key-name"
	extensionFingerprint = "dokku-fingerprint"
	extensionRoot        = "dokku-root"
)

// rootUser is the user that may run the commands Dokku reserves for root,
// when Options.RootKeyNamePrefix admits it.
const rootUser = "root"

// Options configures a Server.
type Options struct {
	// HostKey is the server's host key. It is required.
	HostKey ssh.Signer
	// Emulator runs the commands. It is required.
	Emulator *emulator.Emulator
	// Logger receives connection and session events; nil discards them.
	Logger *slog.Logger
	// Clock is used to check certificate validity; it defaults to time.Now.
	Clock func() time.Time
	// RootKeyNamePrefix, when set, admits user root with a plain key that
	// the dokku user's authorized_keys lists under a name with this
	// prefix, and runs its commands as root with the line's forced
	// command. It stands for a host whose sshd has
	//
	//	Match User root
	//	    AuthorizedKeysCommand <print the dokku lines with that prefix>
	//
	// so that root accepts exactly the platform's managed keys (see
	// docs/managed-keys.md).
	RootKeyNamePrefix string
}

// Server is an SSH server in front of an emulator.Emulator.
type Server struct {
	opts   Options
	logger *slog.Logger
	config *ssh.ServerConfig

	mu        sync.Mutex
	keys      []authorizedKey
	fault     Fault
	connFault ConnFaultMode
	// sessionLimit is the maximum number of sessions open at once on one
	// connection; 0 means no limit.
	sessionLimit int
	listener     net.Listener
	conns        map[net.Conn]struct{}
	closed       bool
	ctx          context.Context
	cancel       context.CancelFunc

	// sessions counts the session channels being served.
	sessions atomic.Int64

	wg sync.WaitGroup
}

// New returns a Server that rejects every login until authorized keys are
// set.
func New(opts Options) (*Server, error) {
	if opts.HostKey == nil {
		return nil, errors.New("sshd: Options.HostKey is nil; pass an ssh.Signer, for example from ssh.NewSignerFromKey")
	}
	if opts.Emulator == nil {
		return nil, errors.New("sshd: Options.Emulator is nil; pass emulator.New(...)")
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}

	s := &Server{opts: opts, logger: logger, conns: map[net.Conn]struct{}{}}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.config = s.newConfig(opts.HostKey)
	// ssh-keys:add and ssh-keys:remove change the keys in the emulator;
	// logins follow them.
	opts.Emulator.OnAuthorizedKeysChange(func(content []byte) {
		keys, err := parseAuthorizedKeys(content)
		if err != nil {
			s.logger.Error("authorized_keys written by ssh-keys does not parse", "error", err)
			return
		}
		s.mu.Lock()
		s.keys = keys
		s.mu.Unlock()
	})
	return s, nil
}

// newConfig returns the server configuration for hostKey. A new
// configuration replaces the old one instead of changing it, because
// handshakes in progress read it.
func (s *Server) newConfig(hostKey ssh.Signer) *ssh.ServerConfig {
	config := &ssh.ServerConfig{PublicKeyCallback: s.authenticate}
	config.AddHostKey(hostKey)
	return config
}

// SetAuthorizedKeys replaces the authorized_keys content, in OpenSSH format
// for user dokku, and passes it to the emulator for `ssh-keys:list`. On a
// parse error the previous keys stay in force.
func (s *Server) SetAuthorizedKeys(content []byte) error {
	keys, err := parseAuthorizedKeys(content)
	if err != nil {
		return err
	}

	s.mu.Lock()
	s.keys = keys
	s.mu.Unlock()
	s.opts.Emulator.SetAuthorizedKeys(content)
	return nil
}

// AuthorizedKeys returns the dokku user's authorized_keys content, as
// ssh-keys:add and ssh-keys:remove left it.
func (s *Server) AuthorizedKeys() string {
	return s.opts.Emulator.AuthorizedKeys()
}

// AddAuthorizedKey appends one authorized_keys line.
func (s *Server) AddAuthorizedKey(line string) error {
	key, err := parseAuthorizedKeyLine([]byte(line))
	if err != nil {
		return fmt.Errorf("parse authorized_keys line %q: %w", line, err)
	}

	s.mu.Lock()
	s.keys = append(s.keys, key)
	s.mu.Unlock()
	s.opts.Emulator.AddAuthorizedKey(line)
	return nil
}

// Listen listens on addr, such as "127.0.0.1:0", and serves connections in
// the background until Close.
func (s *Server) Listen(addr string) error {
	listener, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("sshd: listen on %s: %w", addr, err)
	}

	s.mu.Lock()
	if s.closed || s.listener != nil {
		s.mu.Unlock()
		_ = listener.Close()
		return errors.New("sshd: server is closed or already listening; create a new Server")
	}
	s.listener = listener
	s.mu.Unlock()

	s.logger.Info("ssh server listening", "addr", listener.Addr().String())
	s.wg.Add(1)
	go s.acceptLoop(listener)
	return nil
}

// Addr returns the listening address, or "" before Listen.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.listener == nil {
		return ""
	}
	return s.listener.Addr().String()
}

// Close stops listening, closes every connection, cancels running commands
// and waits for all goroutines to finish.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	var err error
	if s.listener != nil {
		err = s.listener.Close()
	}
	for conn := range s.conns {
		_ = conn.Close()
	}
	s.mu.Unlock()

	s.cancel()
	s.wg.Wait()
	s.logger.Info("ssh server stopped")
	return err
}

// DropConnections closes every open connection, like a network failure or
// a restarted sshd, and keeps listening for new ones.
func (s *Server) DropConnections() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for conn := range s.conns {
		_ = conn.Close()
	}
}

func (s *Server) acceptLoop(listener net.Listener) {
	defer s.wg.Done()
	for {
		conn, err := listener.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				s.logger.Error("ssh accept failed", "error", err)
			}
			return
		}

		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			_ = conn.Close()
			return
		}
		s.conns[conn] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()

		go s.serveConn(conn)
	}
}

// authenticate admits user dokku with a key or certificate that an
// authorized_keys line allows, and records that line's NAME and FINGERPRINT.
func (s *Server) authenticate(meta ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
	if meta.User() == rootUser && s.opts.RootKeyNamePrefix != "" {
		return s.authenticateRoot(meta, key)
	}
	if meta.User() != dokkuUser {
		s.logger.Warn("ssh authentication rejected", "remote_addr", meta.RemoteAddr().String(), "user", meta.User(), "error", "user is not dokku")
		return nil, fmt.Errorf("user %q rejected; connect as %q", meta.User(), dokkuUser)
	}

	s.mu.Lock()
	keys := s.keys
	connFault := s.connFault
	s.mu.Unlock()

	if connFault == ConnFaultRejectLogin {
		s.logger.Warn("ssh authentication rejected", "remote_addr", meta.RemoteAddr().String(), "user", meta.User(), "error", "fault: every login is rejected")
		return nil, errors.New("login rejected by the ConnFaultRejectLogin fault")
	}
	matched, err := matchKey(keys, key, s.opts.Clock)
	if err != nil {
		s.logger.Warn("ssh authentication rejected", "remote_addr", meta.RemoteAddr().String(), "user", meta.User(), "error", err)
		return nil, err
	}
	return &ssh.Permissions{Extensions: map[string]string{
		extensionKeyName:     matched.name,
		extensionFingerprint: matched.fingerprint,
	}}, nil
}

// authenticateRoot admits root with a plain key listed for the dokku user
// under a name with Options.RootKeyNamePrefix.
func (s *Server) authenticateRoot(meta ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
	s.mu.Lock()
	var admitted []authorizedKey
	for _, k := range s.keys {
		if !k.certAuthority && strings.HasPrefix(k.name, s.opts.RootKeyNamePrefix) {
			admitted = append(admitted, k)
		}
	}
	s.mu.Unlock()
	if _, isCert := key.(*ssh.Certificate); isCert {
		admitted = nil
	}

	matched, err := matchKey(admitted, key, s.opts.Clock)
	if err != nil {
		s.logger.Warn("ssh authentication rejected", "remote_addr", meta.RemoteAddr().String(), "user", meta.User(), "error", err)
		return nil, err
	}
	return &ssh.Permissions{Extensions: map[string]string{
		extensionKeyName:     matched.name,
		extensionFingerprint: matched.fingerprint,
		extensionRoot:        "true",
	}}, nil
}

func (s *Server) serveConn(conn net.Conn) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.conns, conn)
		s.mu.Unlock()
		_ = conn.Close()
	}()

	s.mu.Lock()
	config := s.config
	connFault := s.connFault
	s.mu.Unlock()
	if connFault == ConnFaultRefuse {
		s.logger.Info("ssh connection refused", "remote_addr", conn.RemoteAddr().String(), "error", "fault: every connection is closed")
		return
	}

	serverConn, channels, requests, err := ssh.NewServerConn(conn, config)
	if err != nil {
		s.logger.Info("ssh handshake failed", "remote_addr", conn.RemoteAddr().String(), "error", err)
		return
	}
	keyName := serverConn.Permissions.Extensions[extensionKeyName]
	s.logger.Info("ssh connection accepted", "remote_addr", conn.RemoteAddr().String(), "key_name", keyName)

	go s.serveGlobalRequests(requests)

	var sessions sync.WaitGroup
	var open atomic.Int64
	for newChannel := range channels {
		if newChannel.ChannelType() != "session" {
			_ = newChannel.Reject(ssh.UnknownChannelType, "only session channels are supported")
			continue
		}
		if limit := s.maxSessions(); limit > 0 && open.Load() >= int64(limit) {
			// OpenSSH's sshd rejects a session it cannot open, one
			// beyond MaxSessions included, with reason "connect failed"
			// and the message "open failed" (server_input_channel_open
			// in serverloop.c).
			s.logger.Info("ssh session rejected", "remote_addr", conn.RemoteAddr().String(), "max_sessions", limit)
			_ = newChannel.Reject(ssh.ConnectionFailed, "open failed")
			continue
		}
		channel, channelRequests, err := newChannel.Accept()
		if err != nil {
			s.logger.Error("ssh channel accept failed", "remote_addr", conn.RemoteAddr().String(), "error", err)
			continue
		}
		sessions.Add(1)
		open.Add(1)
		go func() {
			defer sessions.Done()
			s.serveSession(serverConn, channel, channelRequests, &open)
		}()
	}
	sessions.Wait()
	s.logger.Info("ssh connection closed", "remote_addr", conn.RemoteAddr().String(), "key_name", keyName)
}

// exitStatus is the payload of an "exit-status" channel request (RFC 4254,
// section 6.10).
type exitStatus struct {
	Status uint32
}

// execRequest is the payload of an "exec" channel request (RFC 4254,
// section 6.5).
type execRequest struct {
	Command string
}

// ActiveConnections returns how many network connections the server has
// open, including those still in the handshake. Tests use it to check that
// a client closed an idle or dead connection.
func (s *Server) ActiveConnections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// ActiveSessions returns how many session channels the server is serving:
// those opened and not yet closed by both sides. Tests use it to check that
// a client closed its sessions.
func (s *Server) ActiveSessions() int {
	return int(s.sessions.Load())
}

// commandName returns the first word of a command for logs, which never
// carry arguments because they may hold config values.
func commandName(command string) string {
	for i, r := range command {
		if r == ' ' || r == '\t' || r == '\n' {
			return command[:i]
		}
	}
	return command
}

// Emulator returns the emulator the server runs commands on, so that tests
// can drive its deploy gate and fault modes.
func (s *Server) Emulator() *emulator.Emulator { return s.opts.Emulator }
