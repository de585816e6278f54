package server

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"dokkumcp.dev/identity/internal/app"
	"dokkumcp.dev/platform/config"
)

// DefaultListen is Identity's default listen address; the default issuer
// points at it.
const DefaultListen = "127.0.0.1:8081"

// Config is Identity's configuration.
type Config struct {
	Common *config.Common
	// Issuer is the exact iss of every token and the base URL of the OAuth
	// endpoints, for example http://127.0.0.1:8081.
	Issuer      string
	PostgresURL string
	// MasterKey is the base64 encoding of 32 random bytes. It seals the
	// signing keys and keys the client secret HMAC, so changing it makes
	// every stored key and secret unusable.
	MasterKey string
	// ServiceClients are the platform clients stored at start.
	ServiceClients ServiceClients
	// TenantResources are the audiences tenant clients may request.
	TenantResources StringList
	// TokenTTL is the lifetime of access tokens, at most 15 minutes.
	TokenTTL time.Duration
	// KeyRotationInterval is the age of the newest signing key at which the
	// next one is created; 0 turns scheduled rotation off.
	KeyRotationInterval time.Duration
	// KeyPublishDelay is how long a new signing key is in the JWKS before it
	// signs. It must be at least the verifiers' JWKS cache age
	// (platform/auth VerifierConfig.MaxAge, 5 minutes by default) plus
	// KeyReloadInterval.
	KeyPublishDelay time.Duration
	// KeyReloadInterval is how often each replica rereads the signing keys
	// from PostgreSQL and runs key and revocation maintenance.
	KeyReloadInterval time.Duration
	// TokenClientRate and TokenClientBurst limit the token, revocation and
	// introspection requests of each authenticated client, per second and
	// at once. A rate of 0 turns the limit off.
	TokenClientRate  float64
	TokenClientBurst int
	// TokenAddressRate and TokenAddressBurst limit those requests from each
	// source address, authenticated or not.
	TokenAddressRate  float64
	TokenAddressBurst int
	// TenancyURL is Tenancy's base URL. Identity reads each tenant's plan
	// from it and caps the scopes of tenant tokens by that plan. Empty turns
	// plan caps off.
	TenancyURL string
	// TenantLimitsTTL is how long a tenant's plan is cached.
	TenantLimitsTTL time.Duration
}

// RegisterFlags adds Identity's flags to fs.
func RegisterFlags(fs *config.FlagSet) *Config {
	cfg := &Config{
		Common:          config.RegisterCommon(fs, DefaultListen),
		TenantResources: StringList{"urn:dokkumcp:dokkuexec"},
	}
	fs.StringVar(&cfg.Issuer, "issuer", "http://"+DefaultListen, "issuer URL: the exact iss of every token and the base URL of the OAuth endpoints")
	fs.StringVar(&cfg.PostgresURL, "postgres-url", "", "PostgreSQL connection URL; Identity keeps its tables in the identity schema")
	fs.StringVar(&cfg.MasterKey, "master-key", "", "base64 of 32 random bytes that seal the signing keys and key the client secret hashes (required; generate one with: openssl rand -base64 32)")
	fs.Var(&cfg.ServiceClients, "service-clients", "comma-separated name=secret platform clients to store at start; names: dokkuexec, mcpedge, secrets, operator")
	fs.Var(&cfg.TenantResources, "tenant-resources", "comma-separated audiences tenant clients may request, such as urn:dokkumcp:dokkuexec and the MCP endpoint URL")
	fs.DurationVar(&cfg.TokenTTL, "token-ttl", app.MaxTokenTTL, "lifetime of access tokens, at most 15m")
	fs.DurationVar(&cfg.KeyRotationInterval, "key-rotation-interval", 24*time.Hour, "age of the newest signing key at which the next one is created; 0 turns scheduled rotation off")
	fs.DurationVar(&cfg.KeyPublishDelay, "key-publish-delay", 5*time.Minute, "time a new signing key is published in the JWKS before it signs; at least the verifiers' JWKS cache age (5m by default) plus --key-reload-interval")
	fs.DurationVar(&cfg.KeyReloadInterval, "key-reload-interval", 10*time.Second, "how often each replica rereads the signing keys from PostgreSQL")
	fs.Float64Var(&cfg.TokenClientRate, "token-client-rate", 20, "token, revocation and introspection requests per second each authenticated client may make on each replica; 0 turns the limit off")
	fs.IntVar(&cfg.TokenClientBurst, "token-client-burst", 40, "requests a client may make at once above --token-client-rate")
	fs.Float64Var(&cfg.TokenAddressRate, "token-address-rate", 50, "token, revocation and introspection requests per second each source address may make on each replica; 0 turns the limit off")
	fs.IntVar(&cfg.TokenAddressBurst, "token-address-burst", 100, "requests a source address may make at once above --token-address-rate")
	fs.StringVar(&cfg.TenancyURL, "tenancy-url", "", "Tenancy's base URL; tenant tokens carry only what the tenant's plan allows, and none while Tenancy is unreachable; empty turns plan caps off")
	fs.DurationVar(&cfg.TenantLimitsTTL, "tenant-limits-ttl", 10*time.Second, "how long a tenant's plan from Tenancy is cached")
	return cfg
}

// settings are the checked and decoded values of a Config.
type settings struct {
	issuer         string
	masterKey      []byte
	serviceClients []app.PlatformClient
}

// check validates cfg and decodes the master key. Errors name the flag and
// its environment variable, never the value of a secret.
func (cfg *Config) check() (settings, error) {
	var s settings
	if cfg.Common == nil {
		return s, errors.New("server.Config.Common is nil: build the config with RegisterFlags")
	}

	issuer, err := url.Parse(cfg.Issuer)
	if err != nil || (issuer.Scheme != "http" && issuer.Scheme != "https") || issuer.Host == "" ||
		issuer.RawQuery != "" || issuer.Fragment != "" || strings.HasSuffix(cfg.Issuer, "/") {
		return s, fmt.Errorf("invalid --issuer (%s) %q: use an http or https URL without a query, fragment or trailing slash, such as http://%s", config.EnvName("issuer"), cfg.Issuer, DefaultListen)
	}
	s.issuer = cfg.Issuer

	if cfg.PostgresURL == "" {
		return s, fmt.Errorf("missing --postgres-url (%s): give the PostgreSQL connection URL", config.EnvName("postgres-url"))
	}

	if cfg.MasterKey == "" {
		return s, fmt.Errorf("missing --master-key (%s): set it to the base64 of 32 random bytes, for example from `openssl rand -base64 32`", config.EnvName("master-key"))
	}
	s.masterKey, err = base64.StdEncoding.DecodeString(strings.TrimSpace(cfg.MasterKey))
	if err != nil {
		s.masterKey, err = base64.RawURLEncoding.DecodeString(strings.TrimSpace(cfg.MasterKey))
	}
	if err != nil || len(s.masterKey) != app.MasterKeySize {
		return s, fmt.Errorf("invalid --master-key (%s): want the base64 of exactly %d bytes, for example from `openssl rand -base64 32`", config.EnvName("master-key"), app.MasterKeySize)
	}

	for _, c := range cfg.ServiceClients {
		s.serviceClients = append(s.serviceClients, app.PlatformClient{Name: c.Name, Secret: c.Secret})
	}
	if err := app.ValidatePlatformClients(s.serviceClients); err != nil {
		return s, fmt.Errorf("invalid --service-clients (%s): %w", config.EnvName("service-clients"), err)
	}

	if cfg.TokenTTL <= 0 || cfg.TokenTTL > app.MaxTokenTTL {
		return s, fmt.Errorf("invalid --token-ttl (%s) %s: use a duration above 0 and at most %s", config.EnvName("token-ttl"), cfg.TokenTTL, app.MaxTokenTTL)
	}

	if cfg.KeyReloadInterval <= 0 {
		return s, fmt.Errorf("invalid --key-reload-interval (%s) %s: use a duration above 0, such as 10s", config.EnvName("key-reload-interval"), cfg.KeyReloadInterval)
	}
	if cfg.KeyPublishDelay < cfg.KeyReloadInterval {
		return s, fmt.Errorf("invalid --key-publish-delay (%s) %s: use at least --key-reload-interval (%s) plus the verifiers' JWKS cache age, such as 5m", config.EnvName("key-publish-delay"), cfg.KeyPublishDelay, cfg.KeyReloadInterval)
	}
	for _, limit := range []struct {
		name  string
		rate  float64
		burst int
	}{
		{"token-client", cfg.TokenClientRate, cfg.TokenClientBurst},
		{"token-address", cfg.TokenAddressRate, cfg.TokenAddressBurst},
	} {
		if limit.rate < 0 || limit.rate > 0 && limit.burst < 1 {
			return s, fmt.Errorf("invalid --%s-rate (%s) %g with --%s-burst (%s) %d: use a rate of 0 to turn the limit off, or a positive rate with a burst of at least 1",
				limit.name, config.EnvName(limit.name+"-rate"), limit.rate, limit.name, config.EnvName(limit.name+"-burst"), limit.burst)
		}
	}
	if cfg.TenancyURL != "" {
		u, err := url.Parse(cfg.TenancyURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return s, fmt.Errorf("invalid --tenancy-url (%s) %q: use an http or https URL, such as http://127.0.0.1:8082", config.EnvName("tenancy-url"), cfg.TenancyURL)
		}
	}
	if cfg.TenantLimitsTTL <= 0 {
		return s, fmt.Errorf("invalid --tenant-limits-ttl (%s) %s: use a duration above 0, such as 10s", config.EnvName("tenant-limits-ttl"), cfg.TenantLimitsTTL)
	}
	if cfg.KeyRotationInterval < 0 || cfg.KeyRotationInterval > 0 && cfg.KeyRotationInterval < cfg.KeyPublishDelay {
		return s, fmt.Errorf("invalid --key-rotation-interval (%s) %s: use 0 to turn scheduled rotation off, or at least --key-publish-delay (%s)", config.EnvName("key-rotation-interval"), cfg.KeyRotationInterval, cfg.KeyPublishDelay)
	}
	return s, nil
}

// ServiceClient is one name=secret entry of --service-clients.
type ServiceClient struct {
	Name   string
	Secret string
}

// ServiceClients is a flag.Value for a comma-separated list of name=secret
// pairs. Its String never shows a secret.
type ServiceClients []ServiceClient

// String returns the client names.
func (s *ServiceClients) String() string {
	if s == nil {
		return ""
	}
	var names []string
	for _, c := range *s {
		names = append(names, c.Name)
	}
	return strings.Join(names, ",")
}

// Set replaces the list with the pairs in value.
func (s *ServiceClients) Set(value string) error {
	var clients ServiceClients
	for entry := range strings.SplitSeq(value, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		name, secret, ok := strings.Cut(entry, "=")
		if !ok || name == "" || secret == "" {
			// The entry may contain a secret, so only its position is shown.
			return fmt.Errorf("entry %d is not name=secret", len(clients)+1)
		}
		clients = append(clients, ServiceClient{Name: strings.TrimSpace(name), Secret: secret})
	}
	*s = clients
	return nil
}

// StringList is a flag.Value for a comma-separated list.
type StringList []string

// String returns the list joined with commas.
func (l *StringList) String() string {
	if l == nil {
		return ""
	}
	return strings.Join(*l, ",")
}

// Set replaces the list with the non-empty items of value.
func (l *StringList) Set(value string) error {
	var items StringList
	for item := range strings.SplitSeq(value, ",") {
		if item = strings.TrimSpace(item); item != "" {
			items = append(items, item)
		}
	}
	*l = items
	return nil
}
