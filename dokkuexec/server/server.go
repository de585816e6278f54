// Package server is DokkuExec's composition root: its flags, and Run, which
// wires token verification, the Tenancy and Secrets clients, the SSH pool
// and the Connect handlers and serves them. cmd/dokkuexec and devstack both
// start DokkuExec through it.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"connectrpc.com/connect"

	"dokkumcp.dev/dokkuexec/internal/adapters/postgres"
	"dokkumcp.dev/dokkuexec/internal/adapters/rpc"
	sshadapter "dokkumcp.dev/dokkuexec/internal/adapters/ssh"
	"dokkumcp.dev/dokkuexec/internal/app"
	"dokkumcp.dev/dokkuexec/migrations"
	"dokkumcp.dev/gen/dokkumcp/dokkuexec/v1/dokkuexecv1connect"
	"dokkumcp.dev/gen/dokkumcp/secrets/v1/secretsv1connect"
	"dokkumcp.dev/gen/dokkumcp/tenancy/v1/tenancyv1connect"
	"dokkumcp.dev/platform/auth"
	"dokkumcp.dev/platform/config"
	"dokkumcp.dev/platform/logging"
	"dokkumcp.dev/platform/pg"
	platformserver "dokkumcp.dev/platform/server"
	"dokkumcp.dev/platform/telemetry"
)

// Service names DokkuExec in logs, traces and metrics.
const Service = "dokkuexec"

// meterName is the instrumentation scope of DokkuExec's own metrics.
const meterName = "dokkumcp.dev/dokkuexec"

// Audience is the aud value DokkuExec requires in access tokens.
const Audience = "urn:dokkumcp:dokkuexec"

// Audiences of the services DokkuExec calls with its own service identity.
const (
	tenancyAudience = "urn:dokkumcp:tenancy"
	secretsAudience = "urn:dokkumcp:secrets"
)

// Config holds DokkuExec's settings.
type Config struct {
	Common *config.Common
	// IdentityURL is Identity's base URL, which is also the token issuer.
	IdentityURL string
	// ClientID and ClientSecret are DokkuExec's service identity.
	ClientID     string
	ClientSecret string
	// TenancyURL and SecretsURL are the base URLs of those services.
	TenancyURL string
	SecretsURL string
	// CommandTimeout bounds one Dokku command.
	CommandTimeout time.Duration
	// OutputLimit is the most bytes kept of each of a command's stdout and
	// stderr.
	OutputLimit int
	// SSHDialTimeout bounds connecting to a host, including the handshake.
	SSHDialTimeout time.Duration
	// SSHKeepalive is the interval of keepalive requests on each pooled SSH
	// connection; 0 turns them off.
	SSHKeepalive time.Duration
	// SSHIdleTimeout closes a pooled connection without sessions after this
	// long; 0 keeps it open.
	SSHIdleTimeout time.Duration
	// SSHMaxSessions is the maximum number of commands that run at once on
	// one host.
	SSHMaxSessions int
	// SSHDialAttempts, SSHBackoffBase and SSHBackoffMax set the retries of
	// a failed connection within one command.
	SSHDialAttempts int
	SSHBackoffBase  time.Duration
	SSHBackoffMax   time.Duration
	// SSHBreakerThreshold and SSHBreakerCooldown set each host's circuit
	// breaker.
	SSHBreakerThreshold int
	SSHBreakerCooldown  time.Duration
	// LimitsTTL is how long a tenant's plan limits and status are cached,
	// so a plan change or suspension applies within it.
	LimitsTTL time.Duration
	// PostgresURL is the database that holds the dokkuexec schema.
	PostgresURL string
	// DeploymentOutputLines is how many build output lines are kept per
	// deployment.
	DeploymentOutputLines int
	// ReconcileInterval is how often deployments whose DokkuExec stopped
	// are looked for, and a deployment still running on its host checked.
	ReconcileInterval time.Duration
}

// RegisterFlags adds DokkuExec's flags to fs.
func RegisterFlags(fs *config.FlagSet) *Config {
	c := &Config{Common: config.RegisterCommon(fs, "127.0.0.1:8084")}
	fs.StringVar(&c.IdentityURL, "identity-url", "", "Identity's base URL, the issuer of access tokens, for example http://127.0.0.1:8081")
	fs.StringVar(&c.ClientID, "client-id", "dokkuexec", "OAuth client id of DokkuExec's service identity")
	fs.StringVar(&c.ClientSecret, "client-secret", "", "OAuth client secret of DokkuExec's service identity (required)")
	fs.StringVar(&c.TenancyURL, "tenancy-url", "", "Tenancy's base URL, for example http://127.0.0.1:8082")
	fs.StringVar(&c.SecretsURL, "secrets-url", "", "Secrets' base URL, for example http://127.0.0.1:8083")
	fs.DurationVar(&c.CommandTimeout, "command-timeout", 60*time.Second, "longest time one Dokku command may run, from opening its SSH session to its exit status")
	fs.IntVar(&c.OutputLimit, "output-limit", 1<<20, "most bytes kept of each of a Dokku command's stdout and stderr; output beyond it is discarded")
	fs.DurationVar(&c.SSHDialTimeout, "ssh-dial-timeout", 10*time.Second, "longest time connecting to a host may take, including the SSH handshake")
	fs.DurationVar(&c.SSHKeepalive, "ssh-keepalive", 15*time.Second, "interval of SSH keepalive requests on each pooled connection; a connection without a reply within one interval is closed (0 turns keepalives off)")
	fs.DurationVar(&c.SSHIdleTimeout, "ssh-idle-timeout", 5*time.Minute, "how long a pooled SSH connection with no open session stays open (0 keeps it open)")
	fs.IntVar(&c.SSHMaxSessions, "ssh-max-sessions", sshadapter.DefaultMaxSessions, "maximum number of Dokku commands that run at once on one host; more wait for a free session until their deadline. Keep it at or below the host sshd's MaxSessions (10 by default)")
	fs.IntVar(&c.SSHDialAttempts, "ssh-dial-attempts", 3, "connection attempts per command when a host or the network fails, with exponential backoff and jitter between them")
	fs.DurationVar(&c.SSHBackoffBase, "ssh-backoff-base", 200*time.Millisecond, "wait before the second connection attempt, doubled for each later one")
	fs.DurationVar(&c.SSHBackoffMax, "ssh-backoff-max", 5*time.Second, "longest wait between connection attempts")
	fs.IntVar(&c.SSHBreakerThreshold, "ssh-breaker-threshold", 5, "consecutive connection failures that open a host's circuit breaker, which then fails commands at once (0 turns the breaker off)")
	fs.DurationVar(&c.SSHBreakerCooldown, "ssh-breaker-cooldown", 30*time.Second, "how long an open circuit breaker fails commands before it lets one connection attempt through")
	fs.DurationVar(&c.LimitsTTL, "limits-ttl", app.DefaultLimitsTTL, "how long a tenant's plan limits and status are cached; a plan change or suspension applies within this time")
	fs.StringVar(&c.PostgresURL, "postgres-url", "", "PostgreSQL connection string for the dokkuexec schema, which stores deployments, for example postgres://dokkumcp@127.0.0.1:5432/dokkumcp")
	fs.IntVar(&c.DeploymentOutputLines, "deployment-output-lines", app.DefaultDeploymentOutputLines, "how many build output lines DokkuExec keeps in memory per deployment")
	fs.DurationVar(&c.ReconcileInterval, "reconcile-interval", app.DefaultReconcileInterval, "how often deployments left by a stopped DokkuExec are looked for and reconciled, and a deployment still running on its host is checked until it ends")
	return c
}

func (c *Config) validate() error {
	var errs []error
	if c.Common == nil {
		return errors.New("server.Config.Common is nil: build the config with RegisterFlags")
	}
	required := []struct{ flag, value, hint string }{
		{"identity-url", c.IdentityURL, "give Identity's base URL, for example http://127.0.0.1:8081"},
		{"client-id", c.ClientID, "give DokkuExec's OAuth client id"},
		{"client-secret", c.ClientSecret, "give DokkuExec's OAuth client secret"},
		{"tenancy-url", c.TenancyURL, "give Tenancy's base URL, for example http://127.0.0.1:8082"},
		{"secrets-url", c.SecretsURL, "give Secrets' base URL, for example http://127.0.0.1:8083"},
		{"postgres-url", c.PostgresURL, "give the PostgreSQL connection string for the dokkuexec schema"},
	}
	for _, r := range required {
		if r.value == "" {
			errs = append(errs, fmt.Errorf("--%s (%s) is required: %s", r.flag, config.EnvName(r.flag), r.hint))
		}
	}
	if c.CommandTimeout <= 0 {
		errs = append(errs, fmt.Errorf("invalid --command-timeout %s: use a duration above 0, such as 60s", c.CommandTimeout))
	}
	if c.OutputLimit <= 0 {
		errs = append(errs, fmt.Errorf("invalid --output-limit %d: use a number of bytes above 0, such as 1048576", c.OutputLimit))
	}
	if c.LimitsTTL <= 0 {
		errs = append(errs, fmt.Errorf("invalid --limits-ttl %s: use a duration above 0, such as 10s", c.LimitsTTL))
	}
	if c.DeploymentOutputLines <= 0 {
		errs = append(errs, fmt.Errorf("invalid --deployment-output-lines %d: use a number of lines above 0, such as 2000", c.DeploymentOutputLines))
	}
	if c.ReconcileInterval <= 0 {
		errs = append(errs, fmt.Errorf("invalid --reconcile-interval %s: use a duration above 0, such as 15s", c.ReconcileInterval))
	}
	if c.SSHDialTimeout <= 0 {
		errs = append(errs, fmt.Errorf("invalid --ssh-dial-timeout %s: use a duration above 0, such as 10s", c.SSHDialTimeout))
	}
	errs = append(errs, c.validateSSH()...)
	return errors.Join(errs...)
}

// validateSSH checks the SSH pool's flags.
func (c *Config) validateSSH() []error {
	var errs []error
	durations := []struct {
		flag, example string
		value         time.Duration
		zeroAllowed   bool
	}{
		{"ssh-keepalive", "15s", c.SSHKeepalive, true},
		{"ssh-idle-timeout", "5m", c.SSHIdleTimeout, true},
		{"ssh-backoff-base", "200ms", c.SSHBackoffBase, false},
		{"ssh-backoff-max", "5s", c.SSHBackoffMax, false},
		{"ssh-breaker-cooldown", "30s", c.SSHBreakerCooldown, false},
	}
	for _, d := range durations {
		if d.value < 0 || (d.value == 0 && !d.zeroAllowed) {
			errs = append(errs, fmt.Errorf("invalid --%s %s: use a duration above 0, such as %s", d.flag, d.value, d.example))
		}
	}
	if c.SSHBackoffMax < c.SSHBackoffBase {
		errs = append(errs, fmt.Errorf("invalid --ssh-backoff-max %s: use a duration of at least --ssh-backoff-base (%s)", c.SSHBackoffMax, c.SSHBackoffBase))
	}
	if c.SSHMaxSessions < 1 {
		errs = append(errs, fmt.Errorf("invalid --ssh-max-sessions %d: use a number of sessions of 1 or more, such as %d", c.SSHMaxSessions, sshadapter.DefaultMaxSessions))
	}
	if c.SSHDialAttempts < 1 {
		errs = append(errs, fmt.Errorf("invalid --ssh-dial-attempts %d: use 1 or more, such as 3", c.SSHDialAttempts))
	}
	if c.SSHBreakerThreshold < 0 {
		errs = append(errs, fmt.Errorf("invalid --ssh-breaker-threshold %d: use 0 to turn the breaker off or a number of failures such as 5", c.SSHBreakerThreshold))
	}
	return errs
}

// Options carries the dependencies Run takes besides the configuration.
// Nil fields get defaults.
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

// Run migrates the dokkuexec schema, reconciles the deployments a previous
// run left unfinished, and serves DokkuExecService until ctx ends. It then
// shuts down gracefully: it waits for running deployments until the
// shutdown timeout, leaves the rest to the next start, closes the pooled
// SSH connections and returns.
func Run(ctx context.Context, opts Options) error {
	cfg := opts.Config
	if cfg == nil {
		return errors.New("server.Options.Config is nil: build it with RegisterFlags")
	}
	if err := cfg.validate(); err != nil {
		return err
	}
	logger := opts.Logger
	if logger == nil {
		logger = logging.New(os.Stderr, Service, logging.ParseLevel(cfg.Common.LogLevel))
	}

	tel := opts.Telemetry
	if tel == nil {
		var err error
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

	httpClient := &http.Client{Timeout: 30 * time.Second}
	clientOptions := func(audience string) connect.ClientOption {
		tokens := auth.NewServiceTokenFunc(auth.ServiceCredentials{
			TokenURL:     cfg.IdentityURL + "/oauth2/token",
			ClientID:     cfg.ClientID,
			ClientSecret: cfg.ClientSecret,
			Resource:     audience,
		}, httpClient)
		return connect.WithInterceptors(otelInterceptor, auth.NewClientInterceptor(tokens))
	}
	tenancyClient := tenancyv1connect.NewTenancyServiceClient(httpClient, cfg.TenancyURL, clientOptions(tenancyAudience))
	hosts := rpc.TenancyHosts{Client: tenancyClient}
	plans := rpc.TenancyPlans{Client: tenancyClient}
	credentials := rpc.SecretsCredentials{Client: secretsv1connect.NewSecretsServiceClient(httpClient, cfg.SecretsURL, clientOptions(secretsAudience))}

	pool, err := pg.Connect(ctx, cfg.PostgresURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := pg.Migrate(ctx, pool, Service, migrations.FS); err != nil {
		return err
	}

	executor := sshadapter.New(sshadapter.Options{
		DialTimeout:       cfg.SSHDialTimeout,
		CommandTimeout:    cfg.CommandTimeout,
		OutputLimit:       cfg.OutputLimit,
		KeepaliveInterval: cfg.SSHKeepalive,
		IdleTimeout:       cfg.SSHIdleTimeout,
		MaxSessions:       cfg.SSHMaxSessions,
		DialAttempts:      cfg.SSHDialAttempts,
		BackoffBase:       cfg.SSHBackoffBase,
		BackoffMax:        cfg.SSHBackoffMax,
		BreakerThreshold:  cfg.SSHBreakerThreshold,
		BreakerCooldown:   cfg.SSHBreakerCooldown,
		Logger:            logger,
		Meter:             tel.Meter(sshadapter.MeterName),
	})
	defer executor.Close()
	meter := tel.Meter(meterName)
	metrics, err := app.NewMetrics(meter)
	if err != nil {
		return fmt.Errorf("create metrics: %w", err)
	}

	service := app.NewService(app.Options{
		Hosts: hosts, Credentials: credentials, Executor: executor,
		Tenancy: plans, Audit: plans, LimitsTTL: cfg.LimitsTTL,
		Stopping: ctx.Done(), Logger: logger, Metrics: metrics,
		Deployments: postgres.NewStore(pool), DeploymentOutputLines: cfg.DeploymentOutputLines,
		ReconcileInterval: cfg.ReconcileInterval,
	})
	// Deployments outlive requests, so they stop after the server has
	// stopped serving; the pool and executor close after them.
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.Common.ShutdownTimeout)
		defer cancel()
		service.StopDeployments(stopCtx)
	}()
	// Reconciling needs Tenancy, Secrets and the hosts; it runs beside
	// serving so that one unreachable host does not delay startup.
	go service.MaintainDeployments(ctx)
	verifier := auth.NewVerifier(auth.VerifierConfig{
		Issuer:   cfg.IdentityURL,
		Audience: Audience,
		JWKSURL:  cfg.IdentityURL + "/oauth2/jwks",
		Meter:    meter,
	})
	path, handler := dokkuexecv1connect.NewDokkuExecServiceHandler(
		rpc.NewHandler(service, logger),
		connect.WithInterceptors(otelInterceptor, auth.NewServerInterceptor(verifier, logger)),
	)

	return platformserver.ServeConnect(ctx, opts.Listener, cfg.Common.Listen, platformserver.Options{
		Service:         Service,
		HealthServices:  []string{dokkuexecv1connect.DokkuExecServiceName},
		Metrics:         tel.MetricsHandler(),
		Logger:          logger,
		ShutdownTimeout: cfg.Common.ShutdownTimeout,
	}, path, handler)
}
