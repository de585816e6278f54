// Package server is Secrets' composition root: its flags, and Run, which
// wires PostgreSQL, the SSH CA backend, token verification and the Connect
// handlers and serves them. cmd/secrets and devstack both start Secrets
// through it.
package server

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"regexp"
	"strings"
	"time"

	"connectrpc.com/connect"
	"go.opentelemetry.io/otel/metric"

	"dokkumcp.dev/gen/dokkumcp/secrets/v1/secretsv1connect"
	"dokkumcp.dev/platform/auth"
	"dokkumcp.dev/platform/config"
	"dokkumcp.dev/platform/logging"
	"dokkumcp.dev/platform/pg"
	platformserver "dokkumcp.dev/platform/server"
	"dokkumcp.dev/platform/telemetry"
	"dokkumcp.dev/secrets/internal/adapters/builtinca"
	"dokkumcp.dev/secrets/internal/adapters/hostssh"
	"dokkumcp.dev/secrets/internal/adapters/postgres"
	"dokkumcp.dev/secrets/internal/adapters/rpc"
	"dokkumcp.dev/secrets/internal/adapters/vault"
	"dokkumcp.dev/secrets/internal/app"
	"dokkumcp.dev/secrets/migrations"
)

// Service names Secrets in logs, traces and metrics.
const Service = "secrets"

// meterName is the instrumentation scope of Secrets' own metrics.
const meterName = "dokkumcp.dev/secrets"

// Audience is the aud value Secrets requires in access tokens.
const Audience = "urn:dokkumcp:secrets"

// Certificate lifetimes outside these bounds are rejected at startup.
const (
	minCertTTL = time.Minute
	maxCertTTL = 24 * time.Hour
)

// vaultPathPattern is a Vault mount or role name: segments of letters,
// digits, _ and -, separated by single slashes.
var vaultPathPattern = regexp.MustCompile(`^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$`)

// Config holds Secrets' settings.
type Config struct {
	Common *config.Common
	// PostgresURL is the database that holds the secrets schema.
	PostgresURL string
	// IdentityURL is Identity's base URL, which is also the token issuer.
	IdentityURL string
	// VaultAddr selects the Vault CA; empty selects the built-in CA.
	VaultAddr string
	// VaultAuthMethod is token, approle or kubernetes.
	VaultAuthMethod string
	VaultToken      string
	// AppRole auth: the role id and either the secret id or a file that
	// contains it, which is read again at every login.
	VaultAppRoleMount        string
	VaultAppRoleRoleID       string
	VaultAppRoleSecretID     string
	VaultAppRoleSecretIDFile string
	// Kubernetes auth: the Vault role and the ServiceAccount token file,
	// which is read again at every login.
	VaultKubernetesMount     string
	VaultKubernetesRole      string
	VaultKubernetesTokenFile string
	VaultMount               string
	VaultRole                string
	// VaultKVMount is the KV version 2 engine that holds managed keys.
	VaultKVMount string
	// ManagedKeyRotationInterval is the age at which a managed key is
	// replaced; 0 turns rotation off.
	ManagedKeyRotationInterval time.Duration
	// ManagedKeyCheckInterval is how often the rotation looks for due keys.
	ManagedKeyCheckInterval time.Duration
	// ManagedKeyAdminUser is the user the rotation logs in as to run
	// ssh-keys:add and ssh-keys:remove, which Dokku allows only for root.
	ManagedKeyAdminUser string
	// VaultTimeout bounds each Vault call, its retries included.
	VaultTimeout time.Duration
	// VaultMaxRetries is how often a Vault call is retried after a
	// connection error, a 5xx or a 429.
	VaultMaxRetries int
	// VaultBootstrap makes Run mount the engine, generate the CA key and
	// write the role.
	VaultBootstrap bool
	// MasterKey is the base64 AES-256 key that seals the built-in CA key.
	MasterKey string
	// CertTTL is the lifetime of issued certificates.
	CertTTL time.Duration
	// Audit is the audit ledger configuration for issuances.
	Audit AuditConfig
}

// RegisterFlags adds Secrets' flags to fs.
func RegisterFlags(fs *config.FlagSet) *Config {
	c := &Config{Common: config.RegisterCommon(fs, "127.0.0.1:8083")}
	fs.StringVar(&c.PostgresURL, "postgres-url", "", "PostgreSQL connection string for the secrets schema, for example postgres://dokkumcp@127.0.0.1:5432/dokkumcp")
	fs.StringVar(&c.IdentityURL, "identity-url", "", "Identity's base URL, the issuer of access tokens, for example http://127.0.0.1:8081")
	fs.StringVar(&c.VaultAddr, "vault-addr", "", "Vault's URL for the SSH secrets engine, for example https://vault.example.com:8200; empty uses the built-in CA, which is not for production")
	fs.StringVar(&c.VaultAuthMethod, "vault-auth-method", vault.AuthToken, "how Secrets logs in to Vault: token (--vault-token), approle (--vault-approle-*) or kubernetes (--vault-kubernetes-*)")
	fs.StringVar(&c.VaultToken, "vault-token", "", "Vault token with access to the SSH secrets engine; required with --vault-auth-method token")
	fs.StringVar(&c.VaultAppRoleMount, "vault-approle-mount", "approle", "path AppRole auth is mounted at in Vault")
	fs.StringVar(&c.VaultAppRoleRoleID, "vault-approle-role-id", "", "AppRole role id; required with --vault-auth-method approle")
	fs.StringVar(&c.VaultAppRoleSecretID, "vault-approle-secret-id", "", "AppRole secret id; give this or --vault-approle-secret-id-file with --vault-auth-method approle")
	fs.StringVar(&c.VaultAppRoleSecretIDFile, "vault-approle-secret-id-file", "", "file that contains the AppRole secret id, read at every login")
	fs.StringVar(&c.VaultKubernetesMount, "vault-kubernetes-mount", "kubernetes", "path Kubernetes auth is mounted at in Vault")
	fs.StringVar(&c.VaultKubernetesRole, "vault-kubernetes-role", "", "Vault Kubernetes auth role bound to Secrets' ServiceAccount; required with --vault-auth-method kubernetes")
	fs.StringVar(&c.VaultKubernetesTokenFile, "vault-kubernetes-token-file", "/var/run/secrets/kubernetes.io/serviceaccount/token", "ServiceAccount token file sent to Vault's Kubernetes auth, read at every login")
	fs.DurationVar(&c.VaultTimeout, "vault-timeout", 10*time.Second, "time limit for each Vault call, its retries included")
	fs.IntVar(&c.VaultMaxRetries, "vault-max-retries", 2, "retries of a Vault call after a connection error, a 5xx or a 429; 0 disables retries")
	fs.StringVar(&c.VaultMount, "vault-mount", "ssh-client-signer", "path the Vault SSH secrets engine is mounted at")
	fs.StringVar(&c.VaultRole, "vault-role", "dokku", "Vault SSH role that signs certificates")
	fs.StringVar(&c.VaultKVMount, "vault-kv-mount", "dokkumcp-kv", "path of the Vault KV version 2 engine that stores the key pairs of managed-key hosts")
	fs.DurationVar(&c.ManagedKeyRotationInterval, "managed-key-rotation-interval", 24*time.Hour, "age at which a managed-key host's key is replaced, at least 1s; 0 turns rotation off")
	fs.DurationVar(&c.ManagedKeyCheckInterval, "managed-key-check-interval", 10*time.Minute, "how often Secrets looks for managed keys due for rotation, at least 100ms")
	fs.StringVar(&c.ManagedKeyAdminUser, "managed-key-admin-user", "root", "user the managed-key rotation logs in as on the host to run dokku ssh-keys:add and ssh-keys:remove, which Dokku allows only for root")
	fs.BoolVar(&c.VaultBootstrap, "vault-bootstrap", false, "at startup, mount the Vault SSH secrets engine if missing, generate an ed25519 CA key if there is none, write the role, and mount the KV version 2 engine for managed keys if missing")
	fs.StringVar(&c.MasterKey, "master-key", "", "base64 of 32 random bytes that seal the built-in CA key, for example the output of: head -c 32 /dev/urandom | base64. Required without --vault-addr")
	fs.DurationVar(&c.CertTTL, "cert-ttl", time.Hour, "lifetime of issued SSH certificates, from 1m to 24h")
	registerAuditFlags(fs, &c.Audit)
	return c
}

// validate checks the configuration and returns the decoded master key
// when the built-in CA is selected. No message echoes a value, because
// several are secrets.
func (c *Config) validate() ([]byte, error) {
	var errs []error
	if c.PostgresURL == "" {
		errs = append(errs, errors.New("--postgres-url is required: give the PostgreSQL connection string"))
	}
	if c.IdentityURL == "" {
		errs = append(errs, errors.New("--identity-url is required: give Identity's base URL, for example http://127.0.0.1:8081"))
	}
	if c.ManagedKeyRotationInterval != 0 && c.ManagedKeyRotationInterval < time.Second {
		errs = append(errs, flagError("managed-key-rotation-interval", "must be 0 (off) or at least 1s, for example 24h"))
	}
	if c.ManagedKeyCheckInterval < 100*time.Millisecond {
		errs = append(errs, flagError("managed-key-check-interval", "must be at least 100ms, for example 10m"))
	}
	if c.ManagedKeyAdminUser == "" || strings.ContainsAny(c.ManagedKeyAdminUser, " \t\n@") {
		errs = append(errs, flagError("managed-key-admin-user", "must be a user name, for example root"))
	}
	if c.CertTTL < minCertTTL || c.CertTTL > maxCertTTL {
		errs = append(errs, fmt.Errorf("--cert-ttl %s is out of range: use %s to %s", c.CertTTL, minCertTTL, maxCertTTL))
	}
	errs = append(errs, c.Audit.validate()...)

	var masterKey []byte
	if c.VaultAddr != "" {
		errs = append(errs, c.validateVaultAuth()...)
		if c.VaultTimeout <= 0 {
			errs = append(errs, flagError("vault-timeout", "must be positive, for example 10s"))
		}
		if c.VaultMaxRetries < 0 {
			errs = append(errs, flagError("vault-max-retries", "must be 0 or more"))
		}
		if !vaultPathPattern.MatchString(c.VaultMount) {
			errs = append(errs, errors.New("--vault-mount is invalid: use letters, digits, _ and - in segments separated by /, for example ssh-client-signer"))
		}
		if !vaultPathPattern.MatchString(c.VaultKVMount) {
			errs = append(errs, flagError("vault-kv-mount", "is invalid: use letters, digits, _ and - in segments separated by /, for example dokkumcp-kv"))
		}
		if !vaultPathPattern.MatchString(c.VaultRole) {
			errs = append(errs, errors.New("--vault-role is invalid: use letters, digits, _ and -, for example dokku"))
		}
	} else {
		key, err := base64.StdEncoding.DecodeString(c.MasterKey)
		switch {
		case c.MasterKey == "":
			errs = append(errs, errors.New("--master-key is required for the built-in CA (no --vault-addr): generate one with `head -c 32 /dev/urandom | base64`"))
		case err != nil || len(key) != builtinca.MasterKeySize:
			errs = append(errs, fmt.Errorf("--master-key is invalid: it must be standard base64 of exactly %d bytes, for example from `head -c 32 /dev/urandom | base64`", builtinca.MasterKeySize))
		default:
			masterKey = key
		}
	}
	return masterKey, errors.Join(errs...)
}

// validateVaultAuth checks the settings of the selected Vault auth method.
func (c *Config) validateVaultAuth() []error {
	var errs []error
	requireFlag := func(name, value, why string) {
		if value == "" {
			errs = append(errs, flagError(name, "is required "+why))
		}
	}
	checkMount := func(name, value string) {
		if !vaultPathPattern.MatchString(value) {
			errs = append(errs, flagError(name, "is invalid: use letters, digits, _ and - in segments separated by /"))
		}
	}

	switch c.VaultAuthMethod {
	case vault.AuthToken:
		requireFlag("vault-token", c.VaultToken, "with --vault-auth-method token")
	case vault.AuthAppRole:
		checkMount("vault-approle-mount", c.VaultAppRoleMount)
		requireFlag("vault-approle-role-id", c.VaultAppRoleRoleID, "with --vault-auth-method approle")
		switch {
		case c.VaultAppRoleSecretID == "" && c.VaultAppRoleSecretIDFile == "":
			errs = append(errs, errors.New("--vault-approle-secret-id (DOKKUMCP_VAULT_APPROLE_SECRET_ID) or --vault-approle-secret-id-file (DOKKUMCP_VAULT_APPROLE_SECRET_ID_FILE) is required with --vault-auth-method approle"))
		case c.VaultAppRoleSecretID != "" && c.VaultAppRoleSecretIDFile != "":
			errs = append(errs, errors.New("--vault-approle-secret-id (DOKKUMCP_VAULT_APPROLE_SECRET_ID) and --vault-approle-secret-id-file (DOKKUMCP_VAULT_APPROLE_SECRET_ID_FILE) are both set: give only one"))
		}
	case vault.AuthKubernetes:
		checkMount("vault-kubernetes-mount", c.VaultKubernetesMount)
		requireFlag("vault-kubernetes-role", c.VaultKubernetesRole, "with --vault-auth-method kubernetes")
		requireFlag("vault-kubernetes-token-file", c.VaultKubernetesTokenFile, "with --vault-auth-method kubernetes")
	default:
		errs = append(errs, flagError("vault-auth-method", "is invalid: use token, approle or kubernetes"))
	}
	return errs
}

// flagError names a flag and its environment variable, never its value.
func flagError(name, problem string) error {
	return fmt.Errorf("--%s (%s) %s", name, config.EnvName(name), problem)
}

// Options holds Run's dependencies besides the configuration. Nil fields
// get defaults.
type Options struct {
	Config *Config
	// Listener, if nil, is opened on Config.Common.Listen.
	Listener net.Listener
	// Logger, if nil, writes JSON to stderr at Config.Common.LogLevel.
	Logger *slog.Logger
	// Telemetry, if nil, is set up from Config.Common.OTLPEndpoint and shut
	// down when Run returns.
	Telemetry *telemetry.Telemetry
}

// Run migrates the secrets schema, opens the SSH CA, serves SecretsService
// until ctx ends, then shuts down gracefully and returns.
func Run(ctx context.Context, opts Options) error {
	cfg := opts.Config
	masterKey, err := cfg.validate()
	if err != nil {
		return err
	}
	logger := opts.Logger
	if logger == nil {
		logger = logging.New(os.Stderr, Service, logging.ParseLevel(cfg.Common.LogLevel))
	}

	tel := opts.Telemetry
	if tel == nil {
		tel, err = telemetry.Setup(ctx, telemetry.Options{Service: Service, OTLPEndpoint: cfg.Common.OTLPEndpoint})
		if err != nil {
			return err
		}
		defer tel.Shutdown(context.WithoutCancel(ctx))
	}
	otelInterceptor, err := tel.Interceptor()
	if err != nil {
		return fmt.Errorf("create OpenTelemetry interceptor: %w", err)
	}

	pool, err := pg.Connect(ctx, cfg.PostgresURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := pg.Migrate(ctx, pool, Service, migrations.FS); err != nil {
		return err
	}
	store := postgres.NewStore(pool)

	ca, stopVault, err := openCA(ctx, cfg, masterKey, store, logger, tel)
	if err != nil {
		return err
	}
	defer stopVault()
	keys, err := openKeyStore(ctx, cfg, ca, logger)
	if err != nil {
		return err
	}
	stopRotation, err := startRotation(ctx, cfg, keys, logger, tel.Meter(meterName))
	if err != nil {
		return err
	}
	defer stopRotation()

	verifier := auth.NewVerifier(auth.VerifierConfig{
		Issuer:   cfg.IdentityURL,
		Audience: Audience,
		JWKSURL:  cfg.IdentityURL + "/oauth2/jwks",
		Meter:    tel.Meter(meterName),
	})
	service, err := app.NewService(ca, keys, store, cfg.CertTTL, logger, tel.Meter(meterName))
	if err != nil {
		return fmt.Errorf("create metrics: %w", err)
	}
	if err := connectLedger(cfg, service, tel, otelInterceptor, meterName, logger); err != nil {
		return err
	}
	path, handler := secretsv1connect.NewSecretsServiceHandler(
		rpc.NewHandler(service, logger),
		connect.WithInterceptors(otelInterceptor, auth.NewServerInterceptor(verifier, logger)),
	)

	return platformserver.ServeConnect(ctx, opts.Listener, cfg.Common.Listen, platformserver.Options{
		Service:         Service,
		HealthServices:  []string{secretsv1connect.SecretsServiceName},
		Metrics:         tel.MetricsHandler(),
		Logger:          logger,
		ShutdownTimeout: cfg.Common.ShutdownTimeout,
	}, path, handler)
}

// openCA returns the Vault CA when --vault-addr is set, after logging in,
// bootstrapping it or checking that it has a CA key, and the built-in CA
// otherwise. stop ends the Vault token's renewal loop.
func openCA(ctx context.Context, cfg *Config, masterKey []byte, store *postgres.Store, logger *slog.Logger, tel *telemetry.Telemetry) (ca app.CA, stop func(), err error) {
	if cfg.VaultAddr == "" {
		ca, err := builtinca.Open(ctx, store, masterKey, logger)
		return ca, func() {}, err
	}

	metrics, err := vault.NewMetrics(tel.Meter(meterName))
	if err != nil {
		return nil, nil, fmt.Errorf("create Vault metrics: %w", err)
	}
	vaultCA, err := vault.New(vault.Config{
		Address: cfg.VaultAddr,
		Auth: vault.AuthConfig{
			Method:              cfg.VaultAuthMethod,
			Token:               cfg.VaultToken,
			AppRoleMount:        cfg.VaultAppRoleMount,
			AppRoleRoleID:       cfg.VaultAppRoleRoleID,
			AppRoleSecretID:     cfg.VaultAppRoleSecretID,
			AppRoleSecretIDFile: cfg.VaultAppRoleSecretIDFile,
			KubernetesMount:     cfg.VaultKubernetesMount,
			KubernetesRole:      cfg.VaultKubernetesRole,
			KubernetesTokenFile: cfg.VaultKubernetesTokenFile,
		},
		Mount: cfg.VaultMount, Role: cfg.VaultRole, TTL: cfg.CertTTL,
		Timeout: cfg.VaultTimeout, MaxRetries: cfg.VaultMaxRetries, Metrics: metrics,
	})
	if err != nil {
		return nil, nil, err
	}
	stop, err = vaultCA.Start(ctx, logger)
	if err != nil {
		return nil, nil, fmt.Errorf("log in to Vault: %w", err)
	}
	if cfg.VaultBootstrap {
		if err := vaultCA.Bootstrap(ctx, logger); err != nil {
			stop()
			return nil, nil, fmt.Errorf("bootstrap Vault SSH CA: %w", err)
		}
	}
	if _, err := vaultCA.PublicKey(ctx); err != nil {
		stop()
		return nil, nil, fmt.Errorf("check Vault SSH CA: %w", err)
	}
	logger.InfoContext(ctx, "vault SSH CA in use", "mount", cfg.VaultMount, "role", cfg.VaultRole, "auth_method", cfg.VaultAuthMethod)
	return vaultCA, stop, nil
}

// openKeyStore returns the managed-key store: Vault's KV engine next to the
// Vault CA, mounted first with --vault-bootstrap. The built-in CA has none,
// so without Vault managed-key hosts are rejected with a message that
// names --vault-addr.
func openKeyStore(ctx context.Context, cfg *Config, ca app.CA, logger *slog.Logger) (app.ManagedKeyStore, error) {
	vaultCA, ok := ca.(*vault.CA)
	if !ok {
		return app.NoManagedKeys{}, nil
	}
	keys := vaultCA.KeyStore(cfg.VaultKVMount)
	if cfg.VaultBootstrap {
		if err := keys.Bootstrap(ctx, logger); err != nil {
			return nil, fmt.Errorf("bootstrap Vault KV engine for managed keys: %w", err)
		}
	}
	return keys, nil
}

// startRotation runs the managed-key rotation in the background when a
// Vault key store is in use and rotation is on. stop ends it and waits.
func startRotation(ctx context.Context, cfg *Config, keys app.ManagedKeyStore, logger *slog.Logger, meter metric.Meter) (stop func(), err error) {
	lister, ok := keys.(app.ManagedKeyLister)
	if !ok || cfg.ManagedKeyRotationInterval == 0 {
		return func() {}, nil
	}
	steps, err := app.NewRotationStepCounter(meter)
	if err != nil {
		return nil, fmt.Errorf("create rotation metrics: %w", err)
	}
	rotator := &app.Rotator{
		Steps:    steps,
		Keys:     keys,
		Host:     hostssh.New(hostssh.Options{AdminUser: cfg.ManagedKeyAdminUser, Timeout: rotationSSHTimeout}),
		Interval: cfg.ManagedKeyRotationInterval,
		Now:      time.Now,
		Logger:   logger,
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		rotator.RunRotations(ctx, lister, cfg.ManagedKeyCheckInterval)
	}()
	logger.InfoContext(ctx, "managed key rotation on", "interval", cfg.ManagedKeyRotationInterval.String(),
		"check_interval", cfg.ManagedKeyCheckInterval.String(), "admin_user", cfg.ManagedKeyAdminUser)
	return func() {
		cancel()
		<-done
	}, nil
}

// rotationSSHTimeout bounds each login and command of the rotation.
const rotationSSHTimeout = 30 * time.Second
