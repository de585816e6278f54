// Command dokku-testhost runs the Dokku test host: an SSH server on
// loopback with the Dokku emulator behind the forced command, for tests,
// benchmarks and the development stack.
package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"

	"dokkumcp.dev/testhost/emulator"
	"dokkumcp.dev/testhost/sshd"
)

// authorizedKeysPollInterval is how often the authorized_keys file is
// checked for changes.
const authorizedKeysPollInterval = time.Second

func main() {
	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if err := run(logger); err != nil {
		logger.Error("dokku test host failed", "error", err)
		os.Exit(1)
	}
}

func run(logger *slog.Logger) error {
	listen := flag.String("listen", "127.0.0.1:2222", "address to listen on, host:port")
	hostKeyPath := flag.String("host-key", "", "OpenSSH private host key file; empty generates an ed25519 key in memory")
	authorizedKeysPath := flag.String("authorized-keys", "", "authorized_keys file for user dokku, re-read when it changes")
	dokkuVersion := flag.String("dokku-version", emulator.DefaultVersion, "Dokku version to emulate, 0.35.x to 0.38.x")
	plugins := flag.String("plugins", "", "comma-separated extra plugins, such as postgres,redis,letsencrypt")
	holdDeploys := flag.Bool("hold-deploys", false, "hold every build at its build step until builds:cancel or the client disconnects, to try cancellation and shutdown mid-deploy")
	flag.Parse()

	hostKey, err := loadHostKey(*hostKeyPath)
	if err != nil {
		return err
	}
	logger.Info("host key loaded", "fingerprint", ssh.FingerprintSHA256(hostKey.PublicKey()), "generated", *hostKeyPath == "")

	var extra []string
	for _, name := range strings.Split(*plugins, ",") {
		if name = strings.TrimSpace(name); name != "" {
			extra = append(extra, name)
		}
	}
	emu := emulator.New(emulator.Options{Version: *dokkuVersion, Plugins: extra})
	if *holdDeploys {
		// Nothing releases the gate, so a build ends only when it is
		// cancelled or its session closes.
		emu.SetDeployGate(emulator.NewDeployGate())
		logger.Info("deploys are held until cancelled", "flag", "--hold-deploys")
	}
	server, err := sshd.New(sshd.Options{
		HostKey:  hostKey,
		Emulator: emu,
		Logger:   logger,
	})
	if err != nil {
		return err
	}

	var lastKeys []byte
	if *authorizedKeysPath != "" {
		lastKeys, err = os.ReadFile(*authorizedKeysPath)
		if err != nil {
			return fmt.Errorf("read authorized keys %s: %w", *authorizedKeysPath, err)
		}
		if err := server.SetAuthorizedKeys(lastKeys); err != nil {
			return fmt.Errorf("load authorized keys %s: %w", *authorizedKeysPath, err)
		}
	} else {
		logger.Warn("no authorized keys file given; every login is rejected until one is set", "flag", "--authorized-keys")
	}

	if err := server.Listen(*listen); err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	ticker := time.NewTicker(authorizedKeysPollInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			logger.Info("shutdown signal received")
			return server.Close()
		case <-ticker.C:
			if *authorizedKeysPath == "" {
				continue
			}
			lastKeys = reloadAuthorizedKeys(logger, server, *authorizedKeysPath, lastKeys)
		}
	}
}

// reloadAuthorizedKeys re-reads the file and applies it when its content
// changed, like sshd, which reads authorized_keys at every login. It returns
// the content now in force.
func reloadAuthorizedKeys(logger *slog.Logger, server *sshd.Server, path string, current []byte) []byte {
	content, err := os.ReadFile(path)
	if err != nil {
		logger.Error("authorized keys reload failed", "path", path, "error", err)
		return current
	}
	if bytes.Equal(content, current) {
		return current
	}
	if err := server.SetAuthorizedKeys(content); err != nil {
		logger.Error("authorized keys reload failed", "path", path, "error", err)
		return current
	}
	logger.Info("authorized keys reloaded", "path", path)
	return content
}

// loadHostKey reads an OpenSSH private key, or generates an ed25519 key
// when path is empty.
func loadHostKey(path string) (ssh.Signer, error) {
	if path == "" {
		_, private, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("generate host key: %w", err)
		}
		return ssh.NewSignerFromKey(private)
	}

	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read host key %s: %w", path, err)
	}
	signer, err := ssh.ParsePrivateKey(pem)
	var missing *ssh.PassphraseMissingError
	if errors.As(err, &missing) {
		return nil, fmt.Errorf("host key %s is encrypted; give an unencrypted OpenSSH private key", path)
	}
	if err != nil {
		return nil, fmt.Errorf("parse host key %s: %w", path, err)
	}
	return signer, nil
}
