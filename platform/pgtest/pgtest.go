// Package pgtest starts throwaway PostgreSQL clusters from the system's
// server binaries, for tests and for `make run`. A cluster listens only on
// a Unix socket in its own temporary directory and is deleted on Stop.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"dokkumcp.dev/platform/scratch"
)

// Cluster is a running throwaway PostgreSQL server.
type Cluster struct {
	dir       string
	socketDir string
	cmd       *exec.Cmd
	exited    chan struct{}
	log       *os.File
}

// binDir finds the PostgreSQL server binaries: $DOKKUMCP_PG_BIN, then the
// newest /usr/lib/postgresql/<n>/bin, then $PATH.
func binDir() (string, error) {
	if dir := os.Getenv("DOKKUMCP_PG_BIN"); dir != "" {
		return dir, nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	best, bestVersion := "", 0
	for _, m := range matches {
		version, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(m))))
		if version > bestVersion {
			best, bestVersion = filepath.Dir(m), version
		}
	}
	if best != "" {
		return best, nil
	}
	if path, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(path), nil
	}
	return "", errors.New("PostgreSQL server binaries not found: install them (apt-get install postgresql) or set DOKKUMCP_PG_BIN to the folder holding initdb")
}

// credential returns the uid/gid to run the server as. PostgreSQL refuses
// to run as root, so root runs it as the postgres user.
func credential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, errors.New("running as root needs a postgres user to own the throwaway cluster: create one (useradd postgres) or run as another user")
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// Start creates and starts a cluster in a new temporary directory.
func Start(ctx context.Context) (*Cluster, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	cred, err := credential()
	if err != nil {
		return nil, err
	}

	// scratch.Dir also removes the folders of runs that were killed.
	dir, err := scratch.Dir("dokkumcp-pg-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{dir: dir, socketDir: dir, exited: make(chan struct{})}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}

	dataDir := filepath.Join(dir, "data")
	initdb := exec.CommandContext(ctx, filepath.Join(bin, "initdb"), "-D", dataDir, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		hint := ""
		if cred != nil {
			hint = fmt.Sprintf(" (as root the cluster runs as the postgres user, which must be able to reach %s; check the permissions of TMPDIR)", dir)
		}
		return nil, fmt.Errorf("initdb failed%s: %w: %s", hint, err, strings.TrimSpace(string(out)))
	}

	c.log, err = os.Create(filepath.Join(dir, "postgres.log"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	// The server is a direct child that dies with this process, so a killed
	// test run leaves no server behind.
	c.cmd = exec.Command(filepath.Join(bin, "postgres"), "-D", dataDir, "-k", c.socketDir, "-p", "5432",
		"-c", "listen_addresses=", "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=300")
	c.cmd.Stdout, c.cmd.Stderr = c.log, c.log
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGTERM, Setpgid: true}
	if err := c.cmd.Start(); err != nil {
		c.log.Close()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	go func() { c.cmd.Wait(); close(c.exited) }()

	if err := c.waitReady(ctx); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

func (c *Cluster) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		conn, err := pgx.Connect(ctx, c.URL("postgres"))
		if err == nil {
			conn.Close(ctx)
			return nil
		}
		select {
		case <-c.exited:
			log, _ := os.ReadFile(c.log.Name())
			return fmt.Errorf("postgres exited during start: %s", strings.TrimSpace(string(log)))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("postgres did not accept connections within 60s: %w", err)
		}
	}
}

// URL returns a connection string for database db as the superuser.
func (c *Cluster) URL(db string) string {
	return fmt.Sprintf("host=%s port=5432 user=postgres dbname=%s sslmode=disable", c.socketDir, db)
}

// CreateDatabase creates an empty database and returns its connection
// string.
func (c *Cluster) CreateDatabase(ctx context.Context, name string) (string, error) {
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", fmt.Errorf("create database %q: %w", name, err)
	}
	return c.URL(name), nil
}

// Stop stops the server and deletes its directory.
func (c *Cluster) Stop() error {
	if c.cmd != nil && c.cmd.Process != nil {
		// SIGINT is PostgreSQL's fast shutdown.
		c.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-c.exited:
		case <-time.After(30 * time.Second):
			c.cmd.Process.Kill()
			<-c.exited
		}
	}
	if c.log != nil {
		c.log.Close()
	}
	return os.RemoveAll(c.dir)
}
