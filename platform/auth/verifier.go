package auth

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.opentelemetry.io/otel/metric"
)

// MaxLeeway caps the clock skew a verifier tolerates on exp, nbf and iat.
const MaxLeeway = 60 * time.Second

// ErrInvalidToken wraps every reason a token is rejected, so callers can
// respond with 401 without echoing the detail.
var ErrInvalidToken = errors.New("invalid access token")

// VerifierConfig configures a Verifier.
type VerifierConfig struct {
	// Issuer is the exact iss value Identity writes.
	Issuer string
	// Audience is the value this service requires in aud.
	Audience string
	// JWKSURL is Identity's JWKS endpoint.
	JWKSURL    string
	HTTPClient *http.Client
	// Leeway is the tolerated clock skew. Default 30 s, capped at MaxLeeway.
	Leeway time.Duration
	// RefreshInterval is the shortest time between two JWKS fetches, which
	// bounds the fetches a flood of unknown kids can cause. Default 10 s.
	RefreshInterval time.Duration
	// MaxAge is how long a fetched key set is trusted before the next
	// verification refetches it. Default 5 minutes. Identity's
	// --key-publish-delay must be at least MaxAge, so that a new signing key
	// is in every verifier's cached set before it signs.
	MaxAge time.Duration
	// RevocationURL is Identity's revocation list. Default: the JWKS URL with
	// /oauth2/jwks replaced by /oauth2/revocations; without that suffix, and
	// without RevocationURL, revocations are not checked.
	RevocationURL string
	// RevocationRefresh is the shortest time between two revocation list
	// fetches, so a revoked token is rejected within about this long.
	// Default DefaultRevocationRefresh (30 s).
	RevocationRefresh time.Duration
	// Logger, if set, records failed revocation list fetches.
	Logger *slog.Logger
	// Meter, if set, receives dokkumcp_auth_token_verifications_total
	// (result: ok, invalid or revoked) and
	// dokkumcp_auth_token_verification_duration_seconds.
	Meter metric.Meter
}

// Verifier checks Identity's access tokens locally against a cached JWKS.
type Verifier struct {
	cfg    VerifierConfig
	parser *jwt.Parser

	mu        sync.Mutex
	keys      map[string]ed25519.PublicKey
	fetchedAt time.Time
	fetching  chan struct{}

	revocationMu         sync.Mutex
	revocations          *revocations
	revocationsFetchedAt time.Time
	revocationsFetching  bool

	// metrics is nil without VerifierConfig.Meter.
	metrics *verifierMetrics
}

// NewVerifier returns a verifier; it fetches the key set lazily.
func NewVerifier(cfg VerifierConfig) *Verifier {
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 5 * time.Second}
	}
	if cfg.Leeway <= 0 {
		cfg.Leeway = 30 * time.Second
	}
	cfg.Leeway = min(cfg.Leeway, MaxLeeway)
	if cfg.RefreshInterval <= 0 {
		cfg.RefreshInterval = 10 * time.Second
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = 5 * time.Minute
	}
	if cfg.RevocationURL == "" {
		cfg.RevocationURL = revocationURL(cfg.JWKSURL)
	}
	if cfg.RevocationRefresh <= 0 {
		cfg.RevocationRefresh = DefaultRevocationRefresh
	}
	return &Verifier{
		cfg: cfg,
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{"EdDSA"}),
			jwt.WithIssuer(cfg.Issuer),
			jwt.WithAudience(cfg.Audience),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithLeeway(cfg.Leeway),
		),
		metrics: newVerifierMetrics(cfg.Meter, cfg.Logger),
	}
}

// Claims are the claims of an RFC 9068 access token plus the platform's
// tenant_id.
type Claims struct {
	jwt.RegisteredClaims
	ClientID string `json:"client_id"`
	Scope    string `json:"scope"`
	TenantID string `json:"tenant_id,omitempty"`
	Act      *Actor `json:"act,omitempty"`
}

// Actor is the RFC 8693 act claim.
type Actor struct {
	Subject string `json:"sub"`
}

// Verify checks the token's signature, typ, algorithm, issuer, audience and
// times, then the revocation list (a revoked jti, or a disabled client or
// actor), and returns the principal it names.
func (v *Verifier) Verify(ctx context.Context, raw string) (*Principal, error) {
	if v.metrics == nil {
		return v.verify(ctx, raw)
	}
	start := time.Now()
	principal, err := v.verify(ctx, raw)
	v.metrics.verified(ctx, start, err)
	return principal, err
}

func (v *Verifier) verify(ctx context.Context, raw string) (*Principal, error) {
	var claims Claims
	token, err := v.parser.ParseWithClaims(raw, &claims, func(t *jwt.Token) (any, error) {
		// RFC 9068 section 2.1: the header typ must be at+jwt.
		if typ, _ := t.Header["typ"].(string); !strings.EqualFold(typ, "at+jwt") && !strings.EqualFold(typ, "application/at+jwt") {
			return nil, fmt.Errorf("typ %q is not at+jwt", typ)
		}
		kid, _ := t.Header["kid"].(string)
		if kid == "" {
			return nil, errors.New("token has no kid")
		}
		return v.key(ctx, kid)
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if !token.Valid {
		return nil, ErrInvalidToken
	}
	if claims.Subject == "" || claims.ID == "" {
		return nil, fmt.Errorf("%w: sub and jti are required", ErrInvalidToken)
	}
	if reason := v.checkRevocations(ctx, &claims); reason != "" {
		return nil, fmt.Errorf("%w: %w: %s", ErrInvalidToken, errRevoked, reason)
	}

	p := &Principal{
		Subject:  claims.Subject,
		ClientID: claims.ClientID,
		TenantID: claims.TenantID,
		Scopes:   strings.Fields(claims.Scope),
		Audience: claims.Audience,
		TokenID:  claims.ID,
		Token:    raw,
	}
	if claims.Act != nil {
		p.Actor = claims.Act.Subject
	}
	return p, nil
}

// key returns the public key for kid, fetching the key set when it is stale
// or does not contain kid, at most once per RefreshInterval. One call waits
// for or makes at most one fetch, so short intervals cannot loop.
func (v *Verifier) key(ctx context.Context, kid string) (ed25519.PublicKey, error) {
	refreshed := false
	for {
		v.mu.Lock()
		key, known := v.keys[kid]
		fresh := time.Since(v.fetchedAt) < v.cfg.MaxAge
		if known && (fresh || refreshed) {
			v.mu.Unlock()
			return key, nil
		}
		if v.fetching != nil {
			// Another request is fetching; wait for it rather than fetch twice.
			wait := v.fetching
			v.mu.Unlock()
			select {
			case <-wait:
				refreshed = true
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		if refreshed || !v.fetchedAt.IsZero() && time.Since(v.fetchedAt) < v.cfg.RefreshInterval {
			v.mu.Unlock()
			if known {
				return key, nil
			}
			return nil, fmt.Errorf("unknown kid %q", kid)
		}
		done := make(chan struct{})
		v.fetching = done
		v.mu.Unlock()

		keys, err := v.fetch(ctx)

		v.mu.Lock()
		v.fetching = nil
		v.fetchedAt = time.Now()
		if err == nil {
			v.keys = keys
		}
		close(done)
		v.mu.Unlock()

		if err != nil {
			if known {
				// A key we already trust stays usable while Identity is unreachable.
				return key, nil
			}
			return nil, err
		}
		refreshed = true
	}
}

func (v *Verifier) fetch(ctx context.Context) (map[string]ed25519.PublicKey, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.cfg.JWKSURL, nil)
	if err != nil {
		return nil, err
	}
	resp, err := v.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch JWKS from %s: %w", v.cfg.JWKSURL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch JWKS from %s: status %d", v.cfg.JWKSURL, resp.StatusCode)
	}

	var set JWKS
	if err := json.NewDecoder(http.MaxBytesReader(nil, resp.Body, 1<<20)).Decode(&set); err != nil {
		return nil, fmt.Errorf("decode JWKS from %s: %w", v.cfg.JWKSURL, err)
	}
	keys := make(map[string]ed25519.PublicKey, len(set.Keys))
	for _, k := range set.Keys {
		pub, err := k.Ed25519()
		if err != nil {
			continue
		}
		keys[k.KeyID] = pub
	}
	return keys, nil
}
