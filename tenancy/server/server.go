// Package server is Tenancy's composition root: its flags, and Run, which
// wires PostgreSQL, token verification and the Connect handlers and serves
// them. cmd/tenancy and devstack both start Tenancy through it.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"

	"connectrpc.com/connect"

	"dokkumcp.dev/gen/dokkumcp/tenancy/v1/tenancyv1connect"
	"dokkumcp.dev/platform/auth"
	"dokkumcp.dev/platform/config"
	"dokkumcp.dev/platform/logging"
	"dokkumcp.dev/platform/pg"
	platformserver "dokkumcp.dev/platform/server"
	"dokkumcp.dev/platform/telemetry"
	"dokkumcp.dev/tenancy/internal/adapters/postgres"
	"dokkumcp.dev/tenancy/internal/adapters/rpc"
	"dokkumcp.dev/tenancy/internal/app"
	"dokkumcp.dev/tenancy/migrations"
)

// Service names Tenancy in logs, traces and metrics.
const Service = "tenancy"

// Audience is the aud value Tenancy requires in access tokens.
const Audience = "urn:dokkumcp:tenancy"

// Config holds Tenancy's settings.
type Config struct {
	Common *config.Common
	// PostgresURL is the database that holds the tenancy schema. Its role
	// runs the migrations and owns the tables; the service's queries run
	// as the role dokkumcp_tenancy_app, which the migrations create.
	PostgresURL string
	// IdentityURL is Identity's base URL, which is also the token issuer.
	IdentityURL string
}

// RegisterFlags adds Tenancy's flags to fs.
func RegisterFlags(fs *config.FlagSet) *Config {
	c := &Config{Common: config.RegisterCommon(fs, "127.0.0.1:8082")}
	fs.StringVar(&c.PostgresURL, "postgres-url", "", "PostgreSQL connection string for the tenancy schema, for example postgres://dokkumcp@127.0.0.1:5432/dokkumcp")
	fs.StringVar(&c.IdentityURL, "identity-url", "", "Identity's base URL, the issuer of access tokens, for example http://127.0.0.1:8081")
	return c
}

func (c *Config) validate() error {
	var errs []error
	if c.PostgresURL == "" {
		errs = append(errs, errors.New("--postgres-url is required: give the PostgreSQL connection string"))
	}
	if c.IdentityURL == "" {
		errs = append(errs, errors.New("--identity-url is required: give Identity's base URL, for example http://127.0.0.1:8081"))
	}
	return errors.Join(errs...)
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

// Run migrates the tenancy schema, serves TenancyService until ctx ends,
// then shuts down gracefully and returns.
func Run(ctx context.Context, opts Options) error {
	cfg := opts.Config
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

	if err := migrate(ctx, cfg.PostgresURL); err != nil {
		return err
	}
	pool, err := postgres.Open(ctx, cfg.PostgresURL)
	if err != nil {
		return err
	}
	defer pool.Close()

	verifier := auth.NewVerifier(auth.VerifierConfig{
		Issuer:   cfg.IdentityURL,
		Audience: Audience,
		JWKSURL:  cfg.IdentityURL + "/oauth2/jwks",
		Meter:    tel.Meter("dokkumcp.dev/tenancy"),
	})
	service := app.NewService(postgres.NewStore(pool), logger)
	path, handler := tenancyv1connect.NewTenancyServiceHandler(
		rpc.NewHandler(service, logger),
		connect.WithInterceptors(otelInterceptor, auth.NewServerInterceptor(verifier, logger)),
	)

	return platformserver.ServeConnect(ctx, opts.Listener, cfg.Common.Listen, platformserver.Options{
		Service:         Service,
		HealthServices:  []string{tenancyv1connect.TenancyServiceName},
		Metrics:         tel.MetricsHandler(),
		Logger:          logger,
		ShutdownTimeout: cfg.Common.ShutdownTimeout,
	}, path, handler)
}

// migrate applies the tenancy schema's migrations as the role in url, which
// owns the tables. The service itself then runs as postgres.AppRole, which
// does not own them, so that row-level security applies to its queries.
func migrate(ctx context.Context, url string) error {
	pool, err := pg.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer pool.Close()
	return pg.Migrate(ctx, pool, Service, migrations.FS)
}
