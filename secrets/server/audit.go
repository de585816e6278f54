package server

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"connectrpc.com/connect"

	"dokkumcp.dev/platform/auth"
	"dokkumcp.dev/platform/config"
	"dokkumcp.dev/platform/telemetry"
	"dokkumcp.dev/secrets/internal/adapters/tenancy"
	"dokkumcp.dev/secrets/internal/app"
)

// AuditConfig is the Tenancy endpoint that receives the audit event of every
// credential Secrets issues, and the service identity Secrets appends with.
type AuditConfig struct {
	// TenancyURL is Tenancy's base URL. Empty turns auditing of issuances off.
	TenancyURL string
	// ClientID and ClientSecret are Secrets' service identity, whose role
	// grants only audit:append.
	ClientID     string
	ClientSecret string
}

// tenancyTimeout bounds one call to Tenancy.
const tenancyTimeout = 10 * time.Second

func registerAuditFlags(fs *config.FlagSet, c *AuditConfig) {
	fs.StringVar(&c.TenancyURL, "tenancy-url", "", "Tenancy's base URL; every issued credential is recorded in the tenant's audit ledger there before it is returned, for example http://127.0.0.1:8082; empty turns this off")
	fs.StringVar(&c.ClientID, "client-id", "secrets", "OAuth client id of Secrets' service identity, used to append audit events")
	fs.StringVar(&c.ClientSecret, "client-secret", "", "OAuth client secret of Secrets' service identity; required with --tenancy-url")
}

func (c *AuditConfig) validate() []error {
	if c.TenancyURL == "" {
		return nil
	}
	var errs []error
	if u, err := url.Parse(c.TenancyURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, flagError("tenancy-url", "is invalid: use an http or https URL, such as http://127.0.0.1:8082"))
	}
	if c.ClientID == "" {
		errs = append(errs, flagError("client-id", "is required with --tenancy-url: give Secrets' OAuth client id"))
	}
	if c.ClientSecret == "" {
		errs = append(errs, flagError("client-secret", "is required with --tenancy-url: give Secrets' OAuth client secret"))
	}
	return errs
}

// connectLedger makes service append an audit event for every issuance to
// Tenancy's ledger, or warns that issuances are not audited when no Tenancy
// URL is set.
func connectLedger(cfg *Config, service *app.Service, tel *telemetry.Telemetry, otelInterceptor connect.Interceptor, meterName string, logger *slog.Logger) error {
	if cfg.Audit.TenancyURL == "" {
		logger.Warn("no Tenancy URL is set; issued SSH credentials are not recorded in the audit ledger: set --tenancy-url",
			"flag", "tenancy-url", "env", config.EnvName("tenancy-url"))
		return nil
	}
	metrics, err := telemetry.NewAuditMetrics(tel.Meter(meterName))
	if err != nil {
		return fmt.Errorf("create metrics: %w", err)
	}
	httpClient := &http.Client{Timeout: tenancyTimeout}
	token := auth.NewServiceTokenFunc(auth.ServiceCredentials{
		TokenURL:     cfg.IdentityURL + "/oauth2/token",
		ClientID:     cfg.Audit.ClientID,
		ClientSecret: cfg.Audit.ClientSecret,
		Resource:     tenancyAudience,
	}, httpClient)
	service.AuditTo(tenancy.New(httpClient, cfg.Audit.TenancyURL, token, connect.WithInterceptors(otelInterceptor)), metrics)
	return nil
}

// tenancyAudience is Tenancy's token audience.
const tenancyAudience = "urn:dokkumcp:tenancy"
