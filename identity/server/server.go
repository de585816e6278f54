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
	"sync"
	"time"

	"connectrpc.com/connect"

	"dokkumcp.dev/gen/dokkumcp/identity/v1/identityv1connect"
	identityhttp "dokkumcp.dev/identity/internal/adapters/http"
	"dokkumcp.dev/identity/internal/adapters/postgres"
	"dokkumcp.dev/identity/internal/adapters/rpc"
	"dokkumcp.dev/identity/internal/adapters/tenancy"
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
	// meterName is the instrumentation scope of Identity's own metrics.
	meterName = "dokkumcp.dev/identity"
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
	keys, err := app.LoadSigningKeys(ctx, store, keyring, app.KeySchedule{
		RotationInterval: cfg.KeyRotationInterval,
		PublishDelay:     cfg.KeyPublishDelay,
		// A replaced key may have signed until another replica reread the
		// keys, and its last token is accepted until it expires plus the
		// largest leeway a verifier allows.
		Retention:      cfg.TokenTTL + auth.MaxLeeway + cfg.KeyReloadInterval,
		ReloadInterval: cfg.KeyReloadInterval,
	}, logger)
	if err != nil {
		return err
	}
	clients := app.NewClients(store, store, keyring, policy, logger)
	if err := clients.EnsurePlatformClients(ctx, s.serviceClients); err != nil {
		return err
	}
	tokens := app.NewTokens(s.issuer, cfg.TokenTTL, store, store, keyring, keys, policy, logger)
	tokens.LimitClients(app.NewRateLimiter(cfg.TokenClientRate, cfg.TokenClientBurst))
	meter := tel.Meter(meterName)
	if err := errors.Join(tokens.Measure(meter), keys.Measure(meter)); err != nil {
		return fmt.Errorf("create metrics: %w", err)
	}
	auditor, err := connectTenancy(cfg, tokens, clients, tel, logger)
	if err != nil {
		return err
	}
	defer func() {
		// Queued audit events of failed authentications get the same time
		// to drain as the HTTP server had to shut down.
		drainCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.Common.ShutdownTimeout)
		defer cancel()
		auditor.Close(drainCtx)
	}()
	addressLimit := app.NewRateLimiter(cfg.TokenAddressRate, cfg.TokenAddressBurst)

	handler, err := newHandler(s.issuer, tokens, clients, keys, addressLimit, tel, logger)
	if err != nil {
		return err
	}

	maintenanceCtx, stopMaintenance := context.WithCancel(ctx)
	var maintenance sync.WaitGroup
	maintenance.Go(func() { runMaintenance(maintenanceCtx, cfg.KeyReloadInterval, keys, tokens, logger) })
	defer func() {
		stopMaintenance()
		maintenance.Wait()
	}()

	return platformserver.Serve(ctx, listener, platformserver.Options{
		Service:         serviceName,
		Handler:         handler,
		Logger:          logger,
		ShutdownTimeout: cfg.Common.ShutdownTimeout,
	})
}

// connectTenancy makes tokens ask Tenancy for tenants' plans, and tokens and
// clients record audit events in Tenancy's ledger, authenticating with
// tokens Identity mints for itself. Without --tenancy-url, tenant tokens
// are capped by role only and nothing is audited; the returned Auditor is
// nil then.
func connectTenancy(cfg *Config, tokens *app.Tokens, clients *app.Clients, tel *telemetry.Telemetry, logger *slog.Logger) (*app.Auditor, error) {
	if cfg.TenancyURL == "" {
		logger.Warn("no Tenancy URL is set; tenant tokens are not capped by the tenant's plan or status, and failed authentications and client changes are not audited: set --tenancy-url",
			"flag", "tenancy-url", "env", config.EnvName("tenancy-url"))
		return nil, nil
	}
	otelInterceptor, err := tel.Interceptor()
	if err != nil {
		return nil, fmt.Errorf("create telemetry interceptor: %w", err)
	}
	httpClient := &http.Client{Timeout: tenancyTimeout}

	readLimits := func(ctx context.Context) (string, error) {
		return tokens.ServiceToken(ctx, domain.AudienceTenancy, tenancyReadLimits)
	}
	plans := tenancy.New(httpClient, cfg.TenancyURL, readLimits, connect.WithInterceptors(otelInterceptor))
	tokens.CapByPlan(app.NewTenantPlans(plans, cfg.TenantLimitsTTL))

	// The ledger gets its own client, whose tokens carry only audit:append.
	appendAudit := func(ctx context.Context) (string, error) {
		return tokens.ServiceToken(ctx, domain.AudienceTenancy, auditAppend)
	}
	ledger := tenancy.New(httpClient, cfg.TenancyURL, appendAudit, connect.WithInterceptors(otelInterceptor))
	auditMetrics, err := telemetry.NewAuditMetrics(tel.Meter(meterName))
	if err != nil {
		return nil, fmt.Errorf("create metrics: %w", err)
	}
	auditor := app.NewAuditor(ledger, logger, auditMetrics)
	tokens.AuditTo(auditor)
	clients.AuditTo(auditor)
	return auditor, nil
}

const (
	// tenancyReadLimits is the permission GetTenantLimits requires.
	tenancyReadLimits = "tenancy:read-limits"
	// auditAppend is the permission AppendAuditEvent requires.
	auditAppend = "audit:append"
	// tenancyTimeout bounds one call to Tenancy, so that a token request
	// fails with temporarily_unavailable instead of hanging.
	tenancyTimeout = 5 * time.Second
)

// newHandler mounts the OAuth endpoints and the Connect service on one mux
// with health and /metrics.
func newHandler(issuer string, tokens *app.Tokens, clients *app.Clients, keys *app.SigningKeys, addressLimit *app.RateLimiter, tel *telemetry.Telemetry, logger *slog.Logger) (http.Handler, error) {
	mux := platformserver.NewMux(platformserver.Options{
		Service:        serviceName,
		HealthServices: []string{identityv1connect.IdentityServiceName},
		Metrics:        tel.MetricsHandler(),
	})

	authMethods := []string{"client_secret_basic", "client_secret_post", "private_key_jwt"}
	countLimited := func(ctx context.Context) { tokens.CountRateLimited(ctx, "address") }
	limited := func(h http.Handler) http.Handler {
		return identityhttp.AddressRateLimit(addressLimit, logger, countLimited, h)
	}
	mux.Handle("POST "+identityhttp.TokenPath, limited(identityhttp.NewTokenHandler(tokens, logger)))
	mux.Handle("GET "+identityhttp.JWKSPath, identityhttp.JWKSHandler(keys.JWKS))
	mux.Handle("POST "+identityhttp.RevokePath, limited(identityhttp.RevokeHandler(tokens, logger)))
	mux.Handle("POST "+identityhttp.IntrospectPath, limited(identityhttp.IntrospectHandler(tokens, logger)))
	mux.Handle("GET "+identityhttp.RevocationsPath, identityhttp.RevocationsHandler(tokens, logger))
	mux.Handle("GET "+identityhttp.MetadataPath, identityhttp.MetadataHandler(identityhttp.Metadata{
		Issuer:                                    issuer,
		TokenEndpoint:                             issuer + identityhttp.TokenPath,
		JWKSURI:                                   issuer + identityhttp.JWKSPath,
		RevocationEndpoint:                        issuer + identityhttp.RevokePath,
		IntrospectionEndpoint:                     issuer + identityhttp.IntrospectPath,
		ScopesSupported:                           domain.AllPermissions(),
		ResponseTypesSupported:                    []string{},
		GrantTypesSupported:                       []string{app.GrantTypeClientCredentials, app.GrantTypeTokenExchange},
		TokenEndpointAuthMethodsSupported:         authMethods,
		RevocationEndpointAuthMethodsSupported:    authMethods,
		IntrospectionEndpointAuthMethodsSupported: authMethods,
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
		Logger:   logger,
		Meter:    tel.Meter(meterName),
	})
	mux.Handle(identityv1connect.NewIdentityServiceHandler(
		rpc.NewHandler(clients, keys, logger),
		connect.WithInterceptors(otelInterceptor, auth.NewServerInterceptor(verifier, logger)),
	))
	return mux, nil
}

// runMaintenance rotates and retires signing keys and deletes expired
// revocations every interval until ctx ends.
func runMaintenance(ctx context.Context, interval time.Duration, keys *app.SigningKeys, tokens *app.Tokens, logger *slog.Logger) {
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		if err := keys.Maintain(ctx); err != nil && ctx.Err() == nil {
			logger.ErrorContext(ctx, "signing key maintenance failed; retrying at the next interval", "error", err)
		}
		if err := tokens.PruneRevocations(ctx); err != nil && ctx.Err() == nil {
			logger.ErrorContext(ctx, "revocation pruning failed; retrying at the next interval", "error", err)
		}
	}
}
