// Package server runs Identity, the OAuth 2.0 authorization server of
// dokkumcp: the token endpoint, the key set, the server metadata and the
// IdentityService admin RPCs, all on one listener.
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

	"dokkumcp.dev/gen/dokkumcp/identity/v1/identityv1connect"
	identityhttp "dokkumcp.dev/identity/internal/adapters/http"
	"dokkumcp.dev/identity/internal/adapters/postgres"
	"dokkumcp.dev/identity/internal/adapters/rpc"
	"dokkumcp.dev/identity/internal/app"
	"dokkumcp.dev/identity/internal/domain"
	"dokkumcp.dev/identity/migrations"
	"dokkumcp.dev/platform/auth"
	"dokkumcp.dev/platform/config"
	"dokkumcp.dev/platform/logging"
	"dokkumcp.dev/platform/pg"
	platformserver "dokkumcp.dev/platform/server"
	"dokkumcp.dev/platform/telemetry"
)

const (
	serviceName = "identity"
	// schema is the PostgreSQL schema Identity owns.
	schema = "identity"
)

// Options are the dependencies of Run; nil fields get defaults.
type Options struct {
	Config *Config
	// Listener, if nil, is opened on Config.Common.Listen.
	Listener net.Listener
	// Logger, if nil, writes JSON to stderr at Config.Common.LogLevel.
	Logger *slog.Logger
	// Telemetry, if nil, is set up with Config.Common.OTLPEndpoint.
	Telemetry *telemetry.Telemetry
}

// Run starts Identity, serves until ctx ends, then shuts down gracefully
// and returns.
func Run(ctx context.Context, opts Options) (err error) {
	if opts.Config == nil {
		return errors.New("server.Options.Config is nil: build it with RegisterFlags")
	}
	cfg := opts.Config
	listener := opts.Listener
	defer func() {
		// Serve closes the listener; any earlier failure must close it here.
		if err != nil && listener != nil {
			listener.Close()
		}
	}()

	s, err := cfg.check()
	if err != nil {
		return err
	}
	policy, err := domain.NewPolicy(cfg.TenantResources)
	if err != nil {
		return fmt.Errorf("invalid --tenant-resources (%s): %w", config.EnvName("tenant-resources"), err)
	}

	logger := opts.Logger
	if logger == nil {
		logger = logging.New(os.Stderr, serviceName, logging.ParseLevel(cfg.Common.LogLevel))
	}
	tel := opts.Telemetry
	if tel == nil {
		tel, err = telemetry.Setup(ctx, telemetry.Options{Service: serviceName, OTLPEndpoint: cfg.Common.OTLPEndpoint})
		if err != nil {
			return err
		}
		defer func() {
			shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := tel.Shutdown(shutdownCtx); err != nil {
				logger.Warn("telemetry shutdown failed", "error", err)
			}
		}()
	}
	if listener == nil {
		listener, err = net.Listen("tcp", cfg.Common.Listen)
		if err != nil {
			return fmt.Errorf("listen on %s (--listen): %w", cfg.Common.Listen, err)
		}
	}

	pool, err := pg.Connect(ctx, cfg.PostgresURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := pg.Migrate(ctx, pool, schema, migrations.FS); err != nil {
		return err
	}

	keyring, err := app.NewKeyring(s.masterKey)
	if err != nil {
		return err
	}
	store := postgres.New(pool)
	keys, err := app.LoadSigningKeys(ctx, store, keyring, logger)
	if err != nil {
		return err
	}
	clients := app.NewClients(store, keyring, policy, logger)
	if err := clients.EnsurePlatformClients(ctx, s.serviceClients); err != nil {
		return err
	}
	tokens := app.NewTokens(s.issuer, cfg.TokenTTL, store, keyring, keys, policy, logger)

	handler, err := newHandler(s.issuer, tokens, clients, keys, tel, logger)
	if err != nil {
		return err
	}
	return platformserver.Serve(ctx, listener, platformserver.Options{
		Service:         serviceName,
		Handler:         handler,
		Logger:          logger,
		ShutdownTimeout: cfg.Common.ShutdownTimeout,
	})
}

// newHandler mounts the OAuth endpoints and the Connect service on one mux
// with health and /metrics.
func newHandler(issuer string, tokens *app.Tokens, clients *app.Clients, keys *app.SigningKeys, tel *telemetry.Telemetry, logger *slog.Logger) (http.Handler, error) {
	mux := platformserver.NewMux(platformserver.Options{
		Service:        serviceName,
		HealthServices: []string{identityv1connect.IdentityServiceName},
		Metrics:        tel.MetricsHandler(),
	})

	mux.Handle("POST "+identityhttp.TokenPath, identityhttp.NewTokenHandler(tokens, logger))
	mux.Handle("GET "+identityhttp.JWKSPath, identityhttp.JWKSHandler(keys.JWKS()))
	mux.Handle("GET "+identityhttp.MetadataPath, identityhttp.MetadataHandler(identityhttp.Metadata{
		Issuer:                            issuer,
		TokenEndpoint:                     issuer + identityhttp.TokenPath,
		JWKSURI:                           issuer + identityhttp.JWKSPath,
		ScopesSupported:                   domain.AllPermissions(),
		ResponseTypesSupported:            []string{},
		GrantTypesSupported:               []string{app.GrantTypeClientCredentials, app.GrantTypeTokenExchange},
		TokenEndpointAuthMethodsSupported: []string{"client_secret_basic", "client_secret_post"},
	}))

	otelInterceptor, err := tel.Interceptor()
	if err != nil {
		return nil, fmt.Errorf("create telemetry interceptor: %w", err)
	}
	// The admin RPCs accept tokens that Identity itself issued for its own
	// audience, fetching the key set from its own JWKS endpoint.
	verifier := auth.NewVerifier(auth.VerifierConfig{
		Issuer:   issuer,
		Audience: domain.AudienceIdentity,
		JWKSURL:  issuer + identityhttp.JWKSPath,
	})
	mux.Handle(identityv1connect.NewIdentityServiceHandler(
		rpc.NewHandler(clients, logger),
		connect.WithInterceptors(otelInterceptor, auth.NewServerInterceptor(verifier, logger)),
	))
	return mux, nil
}
