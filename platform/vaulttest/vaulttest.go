// Package vaulttest starts a real Vault dev server from a locally built
// binary, for tests and for `make run`. The binary is a test dependency
// built by tools/vault; it is never linked into the product.
package vaulttest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"dokkumcp.dev/platform/scratch"
)

// Server is a running Vault dev server with an in-memory storage backend.
type Server struct {
	// Addr is the server's URL, for example http://127.0.0.1:8200.
	Addr string
	// RootToken is the dev server's root token.
	RootToken string

	cmd    *exec.Cmd
	home   string
	exited chan struct{}
}

// Binary finds the vault binary: $DOKKUMCP_VAULT_BIN, then the cache that
// tools/vault builds into ($XDG_CACHE_HOME or ~/.cache, dokkumcp/vault-1.21.0),
// then $PATH.
func Binary() (string, error) {
	if path := os.Getenv("DOKKUMCP_VAULT_BIN"); path != "" {
		return path, nil
	}
	cache, err := os.UserCacheDir()
	if err == nil {
		path := filepath.Join(cache, "dokkumcp", "vault-1.21.0")
		if _, err := os.Stat(path); err == nil {
			return path, nil
		}
	}
	if path, err := exec.LookPath("vault"); err == nil {
		return path, nil
	}
	return "", errors.New("vault binary not found: run `make vault` to build it into ~/.cache/dokkumcp, or set DOKKUMCP_VAULT_BIN")
}

// Start starts a dev server on a free loopback port and waits until it is
// unsealed and active.
func Start(ctx context.Context) (*Server, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	token := make([]byte, 16)
	rand.Read(token)
	// scratch.Dir also removes the folders of runs that were killed.
	home, err := scratch.Dir("dokkumcp-vault-")
	if err != nil {
		return nil, err
	}

	s := &Server{
		Addr:      fmt.Sprintf("http://127.0.0.1:%d", port),
		RootToken: "dev-" + hex.EncodeToString(token),
		home:      home,
		exited:    make(chan struct{}),
	}
	s.cmd = exec.Command(bin, "server", "-dev", "-dev-no-store-token", fmt.Sprintf("-dev-listen-address=127.0.0.1:%d", port))
	// HOME points at a private folder so the dev server touches nothing of
	// the user's. The root token travels in the environment rather than on
	// the command line, where any local user could read it with ps.
	s.cmd.Env = append(os.Environ(), "HOME="+home, "VAULT_ADDR="+s.Addr, "VAULT_DEV_ROOT_TOKEN_ID="+s.RootToken)
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM, Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		os.RemoveAll(home)
		return nil, fmt.Errorf("start vault dev server: %w", err)
	}
	go func() { s.cmd.Wait(); close(s.exited) }()

	if err := s.waitReady(ctx); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

func (s *Server) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(60 * time.Second)
	client := &http.Client{Timeout: 2 * time.Second}
	for time.Now().Before(deadline) {
		resp, err := client.Get(s.Addr + "/v1/sys/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.exited:
			return errors.New("vault dev server exited during start")
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return errors.New("vault dev server was not ready within 60s")
}

// Stop stops the server and deletes its home folder.
func (s *Server) Stop() error {
	if s.cmd.Process != nil {
		s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(20 * time.Second):
			s.cmd.Process.Kill()
			<-s.exited
		}
	}
	return os.RemoveAll(s.home)
}

// Kill stops the server abruptly, as an outage would.
func (s *Server) Kill() {
	if s.cmd.Process != nil {
		s.cmd.Process.Kill()
		<-s.exited
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
