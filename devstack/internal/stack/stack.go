// Package stack runs the whole platform in one process for development and
// end-to-end tests: a throwaway PostgreSQL, the Vault dev server when its
// binary is available (the built-in CA otherwise), Dokku test hosts, and
// all five services on loopback listeners.
package stack

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"golang.org/x/crypto/ssh"

	dokkuexecserver "dokkumcp.dev/dokkuexec/server"
	identityserver "dokkumcp.dev/identity/server"
	mcpedgeserver "dokkumcp.dev/mcpedge/server"
	"dokkumcp.dev/platform/config"
	"dokkumcp.dev/platform/logging"
	"dokkumcp.dev/platform/pgtest"
	"dokkumcp.dev/platform/telemetry"
	"dokkumcp.dev/platform/vaulttest"
	secretsserver "dokkumcp.dev/secrets/server"
	tenancyserver "dokkumcp.dev/tenancy/server"
	"dokkumcp.dev/testhost/emulator"
	"dokkumcp.dev/testhost/sshd"
)

// Options configures Start.
type Options struct {
	// Listen addresses; an empty one picks a free loopback port.
	MCPEdgeAddr, IdentityAddr, TenancyAddr, SecretsAddr, DokkuExecAddr string
	// PostgresURL, when set, is used instead of a throwaway cluster.
	PostgresURL string
	// Vault selects the SSH CA backend: "auto" (the dev server when its
	// binary is found), "dev" (the dev server or fail) or "off" (built-in CA).
	Vault string
	// Logs receives every service's JSON log lines; nil discards them.
	Logs io.Writer
	// LogLevel is the minimum level written to Logs.
	LogLevel slog.Level
	// SpanExporter, when set, receives every service's spans.
	SpanExporter sdktrace.SpanExporter
	// VaultProxy, when set, is called with the Vault dev server's URL (such
	// as http://127.0.0.1:8200) and returns the URL Secrets uses instead, so
	// that a test can put a fault injector between Secrets and Vault.
	VaultProxy func(vaultURL string) string
	// IdentityRateLimitsOff turns off Identity's per-client and per-address
	// limits on token requests (its --token-client-rate and
	// --token-address-rate), for benchmarks whose load generator and
	// thousands of tenants share one address and one mcpedge client.
	IdentityRateLimitsOff bool
	// CertTTL, when set, is the lifetime of the SSH certificates Secrets
	// issues (its --cert-ttl, at least 1m); zero keeps Secrets' default.
	CertTTL time.Duration
	// ManagedKeyRotation and ManagedKeyCheck, when set, are Secrets'
	// --managed-key-rotation-interval and --managed-key-check-interval.
	ManagedKeyRotation, ManagedKeyCheck time.Duration
}

// Stack is a running platform.
type Stack struct {
	MCPURL       string
	IdentityURL  string
	TenancyURL   string
	SecretsURL   string
	DokkuExecURL string
	// CABackend is "vault" or "builtin".
	CABackend string
	// PostgresURL is the database every service uses. Tests read Tenancy's
	// audit ledger through it, since no operator permission reads it.
	PostgresURL string

	operatorSecret string
	logger         *slog.Logger
	cancel         context.CancelFunc
	errs           chan error
	services       sync.WaitGroup
	// running holds the started services; Stop stops them by stopTiers.
	runningMu sync.Mutex
	running   []runningService
	cluster   *pgtest.Cluster
	vault     *vaulttest.Server
	hostsMu   sync.Mutex
	hosts     []*sshd.Server
	stopOnce  sync.Once
}

// runningService is a started service: cancel stops it, and done closes
// when it has stopped.
type runningService struct {
	name   string
	cancel context.CancelFunc
	done   chan struct{}
}

// stopTiers are the groups of services that Stop stops one after the
// other. mcpedge and DokkuExec stop together, because a deploy_create with
// wait returns only when DokkuExec ends its watch. Both still reach
// Secrets, Tenancy and Identity while they finish calls and deployments
// and audit them.
var stopTiers = [][]string{{"mcpedge", "dokkuexec"}, {"secrets"}, {"tenancy"}, {"identity"}}

type service struct {
	name     string
	addr     string
	listener net.Listener
}

// Start brings up the platform and returns once every service is healthy.
func Start(ctx context.Context, opts Options) (_ *Stack, err error) {
	logs := opts.Logs
	if logs == nil {
		logs = io.Discard
	}
	st := &Stack{logger: logging.New(logs, "devstack", opts.LogLevel), errs: make(chan error, 8)}
	services := map[string]*service{
		"mcpedge": {name: "mcpedge", addr: opts.MCPEdgeAddr}, "identity": {name: "identity", addr: opts.IdentityAddr},
		"tenancy": {name: "tenancy", addr: opts.TenancyAddr}, "secrets": {name: "secrets", addr: opts.SecretsAddr},
		"dokkuexec": {name: "dokkuexec", addr: opts.DokkuExecAddr},
	}
	defer func() {
		if err != nil {
			st.Stop()
			// Listeners of services that never started are still open.
			for _, s := range services {
				if s.listener != nil {
					s.listener.Close()
				}
			}
		}
	}()

	dbURL := opts.PostgresURL
	if dbURL != "" {
		if err := checkEmptyDatabase(ctx, dbURL); err != nil {
			return nil, err
		}
	}
	if dbURL == "" {
		st.cluster, err = pgtest.Start(ctx)
		if err != nil {
			return nil, err
		}
		if dbURL, err = st.cluster.CreateDatabase(ctx, "dokkumcp"); err != nil {
			return nil, err
		}
	}

	st.PostgresURL = dbURL

	vaultArgs, err := st.startVault(ctx, opts.Vault, opts.VaultProxy)
	if err != nil {
		return nil, err
	}

	for _, s := range services {
		if s.addr == "" {
			s.addr = "127.0.0.1:0"
		}
		if s.listener, err = net.Listen("tcp", s.addr); err != nil {
			return nil, fmt.Errorf("listen for %s on %s: %w; free the port or choose another", s.name, s.addr, err)
		}
	}
	url := func(name string) string { return "http://" + services[name].listener.Addr().String() }
	st.IdentityURL, st.TenancyURL, st.SecretsURL, st.DokkuExecURL = url("identity"), url("tenancy"), url("secrets"), url("dokkuexec")
	st.MCPURL = url("mcpedge") + "/mcp"

	masterKey := randomKey(32)
	st.operatorSecret = randomSecret()
	dokkuexecSecret, mcpedgeSecret, secretsSecret := randomSecret(), randomSecret(), randomSecret()

	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	st.cancel = cancel
	level := "info"
	if opts.LogLevel <= slog.LevelDebug {
		level = "debug"
	}

	st.run(runCtx, services["identity"], logs, opts, func(ctx context.Context, l net.Listener, logger *slog.Logger, tel *telemetry.Telemetry) error {
		fs := config.NewFlagSet("identity")
		cfg := identityserver.RegisterFlags(fs)
		args := []string{
			"--log-level=" + level,
			"--issuer=" + st.IdentityURL,
			"--postgres-url=" + dbURL,
			"--master-key=" + masterKey,
			"--service-clients=" + "dokkuexec=" + dokkuexecSecret + ",mcpedge=" + mcpedgeSecret + ",secrets=" + secretsSecret + ",operator=" + st.operatorSecret,
			// Tenant clients may also read their own audit ledger in Tenancy.
			"--tenant-resources=" + st.MCPURL + ",urn:dokkumcp:dokkuexec,urn:dokkumcp:tenancy",
			"--tenancy-url=" + st.TenancyURL,
		}
		if opts.IdentityRateLimitsOff {
			args = append(args, "--token-client-rate=0", "--token-address-rate=0")
		}
		if err := fs.Parse(args); err != nil {
			return err
		}
		return identityserver.Run(ctx, identityserver.Options{Config: cfg, Listener: l, Logger: logger, Telemetry: tel})
	})
	st.run(runCtx, services["tenancy"], logs, opts, func(ctx context.Context, l net.Listener, logger *slog.Logger, tel *telemetry.Telemetry) error {
		fs := config.NewFlagSet("tenancy")
		cfg := tenancyserver.RegisterFlags(fs)
		if err := fs.Parse([]string{"--log-level=" + level, "--postgres-url=" + dbURL, "--identity-url=" + st.IdentityURL}); err != nil {
			return err
		}
		return tenancyserver.Run(ctx, tenancyserver.Options{Config: cfg, Listener: l, Logger: logger, Telemetry: tel})
	})
	st.run(runCtx, services["secrets"], logs, opts, func(ctx context.Context, l net.Listener, logger *slog.Logger, tel *telemetry.Telemetry) error {
		fs := config.NewFlagSet("secrets")
		cfg := secretsserver.RegisterFlags(fs)
		args := append([]string{"--log-level=" + level, "--postgres-url=" + dbURL, "--identity-url=" + st.IdentityURL, "--master-key=" + masterKey,
			"--tenancy-url=" + st.TenancyURL, "--client-id=secrets", "--client-secret=" + secretsSecret}, vaultArgs...)
		if opts.CertTTL != 0 {
			args = append(args, "--cert-ttl="+opts.CertTTL.String())
		}
		if opts.ManagedKeyRotation != 0 {
			args = append(args, "--managed-key-rotation-interval="+opts.ManagedKeyRotation.String())
		}
		if opts.ManagedKeyCheck != 0 {
			args = append(args, "--managed-key-check-interval="+opts.ManagedKeyCheck.String())
		}
		if err := fs.Parse(args); err != nil {
			return err
		}
		return secretsserver.Run(ctx, secretsserver.Options{Config: cfg, Listener: l, Logger: logger, Telemetry: tel})
	})
	st.run(runCtx, services["dokkuexec"], logs, opts, func(ctx context.Context, l net.Listener, logger *slog.Logger, tel *telemetry.Telemetry) error {
		fs := config.NewFlagSet("dokkuexec")
		cfg := dokkuexecserver.RegisterFlags(fs)
		if err := fs.Parse([]string{
			"--log-level=" + level,
			"--identity-url=" + st.IdentityURL, "--client-id=dokkuexec", "--client-secret=" + dokkuexecSecret,
			"--tenancy-url=" + st.TenancyURL, "--secrets-url=" + st.SecretsURL,
			"--postgres-url=" + dbURL,
		}); err != nil {
			return err
		}
		return dokkuexecserver.Run(ctx, dokkuexecserver.Options{Config: cfg, Listener: l, Logger: logger, Telemetry: tel})
	})
	st.run(runCtx, services["mcpedge"], logs, opts, func(ctx context.Context, l net.Listener, logger *slog.Logger, tel *telemetry.Telemetry) error {
		fs := config.NewFlagSet("mcpedge")
		cfg := mcpedgeserver.RegisterFlags(fs)
		if err := fs.Parse([]string{
			"--log-level=" + level,
			"--public-url=" + url("mcpedge"), "--identity-url=" + st.IdentityURL,
			"--client-id=mcpedge", "--client-secret=" + mcpedgeSecret, "--dokkuexec-url=" + st.DokkuExecURL,
			"--tenancy-url=" + st.TenancyURL,
		}); err != nil {
			return err
		}
		return mcpedgeserver.Run(ctx, mcpedgeserver.Options{Config: cfg, Listener: l, Logger: logger, Telemetry: tel})
	})

	for _, s := range services {
		if err := st.waitHealthy(ctx, s.name, "http://"+s.listener.Addr().String()); err != nil {
			return nil, err
		}
	}
	return st, nil
}

// startVault starts the Vault dev server as mode requests and returns the
// secrets service's Vault flags. A non-nil proxy rewrites the address that
// Secrets connects to.
func (st *Stack) startVault(ctx context.Context, mode string, proxy func(string) string) ([]string, error) {
	switch mode {
	case "", "auto":
		if _, err := vaulttest.Binary(); err != nil {
			st.logger.Warn("Vault binary not found; using the built-in SSH CA, which is not for production", "hint", err.Error())
			st.CABackend = "builtin"
			return nil, nil
		}
	case "dev":
	case "off":
		st.CABackend = "builtin"
		return nil, nil
	default:
		return nil, fmt.Errorf("invalid Vault mode %q: use auto, dev or off", mode)
	}

	var err error
	if st.vault, err = vaulttest.Start(ctx); err != nil {
		return nil, err
	}
	st.CABackend = "vault"
	addr := st.vault.Addr
	if proxy != nil {
		addr = proxy(addr)
	}
	return []string{"--vault-addr=" + addr, "--vault-token=" + st.vault.RootToken, "--vault-bootstrap=true"}, nil
}

type runFunc func(ctx context.Context, l net.Listener, logger *slog.Logger, tel *telemetry.Telemetry) error

func (st *Stack) run(ctx context.Context, s *service, logs io.Writer, opts Options, fn runFunc) {
	logger := logging.New(logs, s.name, opts.LogLevel)
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	st.runningMu.Lock()
	st.running = append(st.running, runningService{name: s.name, cancel: cancel, done: done})
	st.runningMu.Unlock()
	st.services.Add(1)
	go func() {
		defer st.services.Done()
		defer close(done)
		defer cancel()
		tel, err := telemetry.Setup(ctx, telemetry.Options{Service: s.name, SpanExporter: opts.SpanExporter})
		if err == nil {
			err = fn(ctx, s.listener, logger, tel)
			tel.Shutdown(context.WithoutCancel(ctx))
		}
		if err != nil && ctx.Err() == nil {
			logger.Error("service failed", "error", err)
			st.errs <- fmt.Errorf("%s: %w", s.name, err)
		}
	}()
}

// waitHealthy polls the service's gRPC health endpoint until it serves.
func (st *Stack) waitHealthy(ctx context.Context, name, baseURL string) error {
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, baseURL+"/grpc.health.v1.Health/Check", strings.NewReader("{}"))
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case err := <-st.errs:
			return err
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(25 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not become healthy within 60s at %s", name, baseURL)
		}
	}
}

// Errors returns a channel that receives a service's failure.
func (st *Stack) Errors() <-chan error { return st.errs }

// Stop stops every service, test host, Vault and PostgreSQL, and deletes
// their temporary directories.
func (st *Stack) Stop() {
	st.stopOnce.Do(func() {
		st.runningMu.Lock()
		running := slices.Clone(st.running)
		st.runningMu.Unlock()
		for _, tier := range stopTiers {
			var stopping []runningService
			for _, r := range running {
				if slices.Contains(tier, r.name) {
					r.cancel()
					stopping = append(stopping, r)
				}
			}
			for _, r := range stopping {
				<-r.done
			}
		}
		if st.cancel != nil {
			st.cancel()
		}
		st.services.Wait()
		st.hostsMu.Lock()
		for _, h := range st.hosts {
			h.Close()
		}
		st.hostsMu.Unlock()
		if st.vault != nil {
			st.vault.Stop()
		}
		if st.cluster != nil {
			st.cluster.Stop()
		}
	})
}

// TestHostPlugins are the community plugins every test host of the stack has
// installed, so that the service and letsencrypt tools work against it.
var TestHostPlugins = []string{"postgres", "redis", "letsencrypt"}

// StartTestHost starts a Dokku test host on addr ("" picks a free port),
// with TestHostPlugins installed.
func (st *Stack) StartTestHost(addr string, logs io.Writer) (*sshd.Server, ssh.PublicKey, error) {
	_, private, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	signer, err := ssh.NewSignerFromKey(private)
	if err != nil {
		return nil, nil, err
	}
	if logs == nil {
		logs = io.Discard
	}
	// Root logs in with the platform's managed keys, as on a host set up
	// for managed-key rotation (docs/managed-keys.md).
	host, err := sshd.New(sshd.Options{
		HostKey: signer, Emulator: emulator.New(emulator.Options{Plugins: TestHostPlugins}), Logger: logging.New(logs, "testhost", slog.LevelInfo),
		RootKeyNamePrefix: "dokkumcp-admin-",
	})
	if err != nil {
		return nil, nil, err
	}
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	if err := host.Listen(addr); err != nil {
		return nil, nil, err
	}
	st.hostsMu.Lock()
	st.hosts = append(st.hosts, host)
	st.hostsMu.Unlock()
	return host, signer.PublicKey(), nil
}

func randomKey(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

func randomSecret() string {
	b := make([]byte, 32)
	rand.Read(b)
	return hex.EncodeToString(b)
}
