package auth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"dokkumcp.dev/platform/auth"
)

func TestVerifyValidToken(t *testing.T) {
	t.Parallel()
	id := newIdentity(t)
	raw := id.sign(t, "k1", validClaims())

	p, err := id.verifier(nil).Verify(context.Background(), raw)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if p.Subject != "user-7" {
		t.Errorf("Subject = %q, want user-7", p.Subject)
	}
	if p.ClientID != "mcp-client" {
		t.Errorf("ClientID = %q, want mcp-client", p.ClientID)
	}
	if p.TenantID != "t-42" {
		t.Errorf("TenantID = %q, want t-42", p.TenantID)
	}
	if want := []string{"tenancy:read-hosts", "apps:read"}; !slices.Equal(p.Scopes, want) {
		t.Errorf("Scopes = %q, want %q", p.Scopes, want)
	}
	if p.Actor != "mcpedge" {
		t.Errorf("Actor = %q, want mcpedge", p.Actor)
	}
	if p.TokenID != "token-1" {
		t.Errorf("TokenID = %q, want token-1", p.TokenID)
	}
	if !slices.Equal(p.Audience, []string{testAudience}) {
		t.Errorf("Audience = %q, want [%s]", p.Audience, testAudience)
	}
	if p.Token != raw {
		t.Error("Token is not the raw bearer token")
	}
	if !p.HasScope("apps:read") || p.HasScope("apps") {
		t.Errorf("HasScope is wrong for scopes %q", p.Scopes)
	}
}

func TestVerifyAcceptsVariants(t *testing.T) {
	t.Parallel()
	now := time.Now()
	tests := []struct {
		name   string
		claims jwt.MapClaims
		typ    string
	}{
		{name: "media type typ", claims: validClaims(), typ: "application/at+jwt"},
		{name: "upper-case typ", claims: validClaims(), typ: "AT+JWT"},
		{name: "audience as string", claims: with(validClaims(), map[string]any{"aud": testAudience})},
		{name: "one of several audiences", claims: with(validClaims(), map[string]any{"aud": []string{"urn:dokkumcp:secrets", testAudience}})},
		{name: "expired within leeway", claims: with(validClaims(), map[string]any{"iat": now.Add(-10 * time.Minute).Unix(), "exp": now.Add(-10 * time.Second).Unix()})},
		{name: "nbf within leeway", claims: with(validClaims(), map[string]any{"nbf": now.Add(10 * time.Second).Unix()})},
		{name: "no actor or tenant", claims: with(validClaims(), map[string]any{"act": nil, "tenant_id": nil})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			id := newIdentity(t)
			token := jwt.NewWithClaims(jwt.SigningMethodEdDSA, tt.claims)
			token.Header["kid"] = "k1"
			token.Header["typ"] = "at+jwt"
			if tt.typ != "" {
				token.Header["typ"] = tt.typ
			}
			raw, err := token.SignedString(id.key("k1"))
			if err != nil {
				t.Fatal(err)
			}

			if _, err := id.verifier(nil).Verify(context.Background(), raw); err != nil {
				t.Fatalf("Verify: %v", err)
			}
		})
	}
}

// signWith signs claims with any method and key, with typ at+jwt and kid k1
// unless header overrides them; a nil header value deletes the field.
func signWith(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims, header map[string]any) string {
	t.Helper()
	token := jwt.NewWithClaims(method, claims)
	token.Header["typ"] = "at+jwt"
	token.Header["kid"] = "k1"
	for k, v := range header {
		if v == nil {
			delete(token.Header, k)
			continue
		}
		token.Header[k] = v
	}
	raw, err := token.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// tamper replaces the payload of a signed token and keeps its signature.
func tamper(t *testing.T, raw string, change map[string]any) string {
	t.Helper()
	parts := strings.Split(raw, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	for k, v := range change {
		claims[k] = v
	}
	payload, err = json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	parts[1] = base64.RawURLEncoding.EncodeToString(payload)
	return strings.Join(parts, ".")
}

func TestVerifyRejectsAttacks(t *testing.T) {
	t.Parallel()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, otherKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()

	tests := []struct {
		name  string
		token func(t *testing.T, id *identity) string
	}{
		{name: "alg none", token: func(t *testing.T, id *identity) string {
			return signWith(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, validClaims(), nil)
		}},
		{name: "HS256 with public key as secret", token: func(t *testing.T, id *identity) string {
			public := id.key("k1").Public().(ed25519.PublicKey)
			return signWith(t, jwt.SigningMethodHS256, []byte(public), validClaims(), nil)
		}},
		{name: "HS256 with JWK x as secret", token: func(t *testing.T, id *identity) string {
			jwk := auth.NewEd25519JWK("k1", id.key("k1").Public().(ed25519.PublicKey))
			return signWith(t, jwt.SigningMethodHS256, []byte(jwk.X), validClaims(), nil)
		}},
		{name: "RS256", token: func(t *testing.T, id *identity) string {
			return signWith(t, jwt.SigningMethodRS256, rsaKey, validClaims(), nil)
		}},
		{name: "ES256", token: func(t *testing.T, id *identity) string {
			return signWith(t, jwt.SigningMethodES256, ecKey, validClaims(), nil)
		}},
		{name: "EdDSA with unpublished key", token: func(t *testing.T, id *identity) string {
			return signEdDSA(t, otherKey, "k1", validClaims())
		}},
		{name: "unknown kid", token: func(t *testing.T, id *identity) string {
			return signEdDSA(t, otherKey, "k-unknown", validClaims())
		}},
		{name: "missing kid", token: func(t *testing.T, id *identity) string {
			return signWith(t, jwt.SigningMethodEdDSA, id.key("k1"), validClaims(), map[string]any{"kid": nil})
		}},
		{name: "missing typ", token: func(t *testing.T, id *identity) string {
			return signWith(t, jwt.SigningMethodEdDSA, id.key("k1"), validClaims(), map[string]any{"typ": nil})
		}},
		{name: "typ JWT", token: func(t *testing.T, id *identity) string {
			return signWith(t, jwt.SigningMethodEdDSA, id.key("k1"), validClaims(), map[string]any{"typ": "JWT"})
		}},
		{name: "expired beyond leeway", token: func(t *testing.T, id *identity) string {
			return id.sign(t, "k1", with(validClaims(), map[string]any{"iat": now.Add(-10 * time.Minute).Unix(), "exp": now.Add(-2 * time.Minute).Unix()}))
		}},
		{name: "missing exp", token: func(t *testing.T, id *identity) string {
			return id.sign(t, "k1", with(validClaims(), map[string]any{"exp": nil}))
		}},
		{name: "nbf beyond leeway", token: func(t *testing.T, id *identity) string {
			return id.sign(t, "k1", with(validClaims(), map[string]any{"nbf": now.Add(2 * time.Minute).Unix()}))
		}},
		{name: "iat in the future", token: func(t *testing.T, id *identity) string {
			return id.sign(t, "k1", with(validClaims(), map[string]any{"iat": now.Add(2 * time.Minute).Unix(), "exp": now.Add(10 * time.Minute).Unix()}))
		}},
		{name: "wrong issuer", token: func(t *testing.T, id *identity) string {
			return id.sign(t, "k1", with(validClaims(), map[string]any{"iss": "http://127.0.0.1:9999"}))
		}},
		{name: "missing issuer", token: func(t *testing.T, id *identity) string {
			return id.sign(t, "k1", with(validClaims(), map[string]any{"iss": nil}))
		}},
		{name: "wrong audience", token: func(t *testing.T, id *identity) string {
			return id.sign(t, "k1", with(validClaims(), map[string]any{"aud": []string{"urn:dokkumcp:secrets"}}))
		}},
		{name: "missing audience", token: func(t *testing.T, id *identity) string {
			return id.sign(t, "k1", with(validClaims(), map[string]any{"aud": nil}))
		}},
		{name: "tampered scope", token: func(t *testing.T, id *identity) string {
			return tamper(t, id.sign(t, "k1", validClaims()), map[string]any{"scope": "platform:admin"})
		}},
		{name: "tampered tenant", token: func(t *testing.T, id *identity) string {
			return tamper(t, id.sign(t, "k1", validClaims()), map[string]any{"tenant_id": "t-43"})
		}},
		{name: "missing sub", token: func(t *testing.T, id *identity) string {
			return id.sign(t, "k1", with(validClaims(), map[string]any{"sub": nil}))
		}},
		{name: "missing jti", token: func(t *testing.T, id *identity) string {
			return id.sign(t, "k1", with(validClaims(), map[string]any{"jti": nil}))
		}},
		{name: "not a JWT", token: func(t *testing.T, id *identity) string {
			return "not-a-token"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			id := newIdentity(t)
			raw := tt.token(t, id)

			p, err := id.verifier(nil).Verify(context.Background(), raw)
			if !errors.Is(err, auth.ErrInvalidToken) {
				t.Fatalf("Verify error = %v, want one wrapping ErrInvalidToken", err)
			}
			if p != nil {
				t.Errorf("Verify returned principal %+v with error", p)
			}
		})
	}
}

func TestVerifyLeewayCappedAtMax(t *testing.T) {
	t.Parallel()
	now := time.Now()
	tests := []struct {
		name    string
		leeway  time.Duration
		expired time.Duration
		valid   bool
	}{
		{name: "within requested leeway", leeway: 40 * time.Second, expired: 20 * time.Second, valid: true},
		{name: "beyond requested leeway", leeway: 40 * time.Second, expired: 55 * time.Second, valid: false},
		{name: "huge leeway within cap", leeway: time.Hour, expired: 45 * time.Second, valid: true},
		{name: "huge leeway beyond cap", leeway: time.Hour, expired: 75 * time.Second, valid: false},
		{name: "default leeway beyond 30s", leeway: 0, expired: 45 * time.Second, valid: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			id := newIdentity(t)
			raw := id.sign(t, "k1", with(validClaims(), map[string]any{
				"iat": now.Add(-10 * time.Minute).Unix(),
				"exp": now.Add(-tt.expired).Unix(),
			}))
			verifier := id.verifier(func(c *auth.VerifierConfig) { c.Leeway = tt.leeway })

			_, err := verifier.Verify(context.Background(), raw)
			if tt.valid && err != nil {
				t.Errorf("token expired %s ago with leeway %s rejected: %v", tt.expired, tt.leeway, err)
			}
			if !tt.valid && !errors.Is(err, auth.ErrInvalidToken) {
				t.Errorf("token expired %s ago with leeway %s: error = %v, want ErrInvalidToken", tt.expired, tt.leeway, err)
			}
		})
	}
}

func TestVerifyRefetchesOnceForUnknownKid(t *testing.T) {
	t.Parallel()
	id := newIdentity(t)
	_, stranger, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	verifier := id.verifier(func(c *auth.VerifierConfig) { c.RefreshInterval = time.Nanosecond })

	if _, err := verifier.Verify(context.Background(), id.sign(t, "k1", validClaims())); err != nil {
		t.Fatalf("Verify with known kid: %v", err)
	}
	if got := id.requests.Load(); got != 1 {
		t.Fatalf("JWKS requests after first token = %d, want 1", got)
	}

	_, err = verifier.Verify(context.Background(), signEdDSA(t, stranger, "k-unknown", validClaims()))
	if !errors.Is(err, auth.ErrInvalidToken) {
		t.Fatalf("Verify with unknown kid: error = %v, want ErrInvalidToken", err)
	}
	if got := id.requests.Load(); got != 2 {
		t.Errorf("JWKS requests after unknown kid = %d, want 2 (one refetch)", got)
	}
}

func TestVerifyUnknownKidFloodFetchesOnce(t *testing.T) {
	t.Parallel()
	id := newIdentity(t)
	_, stranger, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	verifier := id.verifier(func(c *auth.VerifierConfig) { c.RefreshInterval = time.Hour })

	const flood = 50
	tokens := make([]string, flood)
	for i := range tokens {
		tokens[i] = signEdDSA(t, stranger, fmt.Sprintf("k-unknown-%d", i), validClaims())
	}
	errs := make([]error, flood)
	var wg sync.WaitGroup
	for i, raw := range tokens {
		wg.Go(func() {
			_, errs[i] = verifier.Verify(context.Background(), raw)
		})
	}
	wg.Wait()

	for i, err := range errs {
		if !errors.Is(err, auth.ErrInvalidToken) {
			t.Errorf("token %d: error = %v, want ErrInvalidToken", i, err)
		}
	}
	if got := id.requests.Load(); got != 1 {
		t.Errorf("JWKS requests for %d unknown kids = %d, want 1", flood, got)
	}

	// The known key still verifies from the cache.
	if _, err := verifier.Verify(context.Background(), id.sign(t, "k1", validClaims())); err != nil {
		t.Errorf("Verify with known kid after flood: %v", err)
	}
	if got := id.requests.Load(); got != 1 {
		t.Errorf("JWKS requests after known kid = %d, want 1", got)
	}
}

func TestVerifyRotatedKey(t *testing.T) {
	t.Parallel()
	id := newIdentity(t)
	verifier := id.verifier(func(c *auth.VerifierConfig) { c.RefreshInterval = time.Nanosecond })

	if _, err := verifier.Verify(context.Background(), id.sign(t, "k1", validClaims())); err != nil {
		t.Fatalf("Verify with k1: %v", err)
	}

	id.addKey(t, "k2")
	p, err := verifier.Verify(context.Background(), id.sign(t, "k2", validClaims()))
	if err != nil {
		t.Fatalf("Verify with rotated key k2: %v", err)
	}
	if p.Subject != "user-7" {
		t.Errorf("Subject = %q, want user-7", p.Subject)
	}
	if got := id.requests.Load(); got != 2 {
		t.Errorf("JWKS requests = %d, want 2", got)
	}

	// Both keys are cached now, so neither causes another fetch.
	for _, kid := range []string{"k1", "k2"} {
		if _, err := verifier.Verify(context.Background(), id.sign(t, kid, validClaims())); err != nil {
			t.Errorf("Verify with %s: %v", kid, err)
		}
	}
	if got := id.requests.Load(); got != 2 {
		t.Errorf("JWKS requests after cached keys = %d, want 2", got)
	}
}

func TestVerifyKeepsKnownKeysWhenJWKSFails(t *testing.T) {
	t.Parallel()
	id := newIdentity(t)
	// MaxAge forces a refetch on every verification.
	verifier := id.verifier(func(c *auth.VerifierConfig) {
		c.RefreshInterval = time.Nanosecond
		c.MaxAge = time.Nanosecond
	})
	if _, err := verifier.Verify(context.Background(), id.sign(t, "k1", validClaims())); err != nil {
		t.Fatalf("Verify before outage: %v", err)
	}

	id.setStatus(http.StatusInternalServerError)
	before := id.requests.Load()
	if _, err := verifier.Verify(context.Background(), id.sign(t, "k1", validClaims())); err != nil {
		t.Errorf("Verify with known key during outage: %v", err)
	}
	if got := id.requests.Load(); got != before+1 {
		t.Errorf("JWKS requests during outage = %d, want %d (one failed refetch)", got, before+1)
	}

	id.addKey(t, "k2")
	if _, err := verifier.Verify(context.Background(), id.sign(t, "k2", validClaims())); !errors.Is(err, auth.ErrInvalidToken) {
		t.Errorf("Verify with unfetched key during outage: error = %v, want ErrInvalidToken", err)
	}

	id.setStatus(http.StatusOK)
	if _, err := verifier.Verify(context.Background(), id.sign(t, "k2", validClaims())); err != nil {
		t.Errorf("Verify with k2 after outage: %v", err)
	}
}

func TestVerifyJWKSUnreachable(t *testing.T) {
	t.Parallel()
	id := newIdentity(t)
	id.setStatus(http.StatusInternalServerError)

	_, err := id.verifier(nil).Verify(context.Background(), id.sign(t, "k1", validClaims()))
	if !errors.Is(err, auth.ErrInvalidToken) {
		t.Errorf("Verify without a JWKS: error = %v, want ErrInvalidToken", err)
	}
}

func TestJWKRejectsOtherKeyTypes(t *testing.T) {
	t.Parallel()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	good := auth.NewEd25519JWK("k1", key.Public().(ed25519.PublicKey))
	got, err := good.Ed25519()
	if err != nil {
		t.Fatalf("Ed25519 of a valid JWK: %v", err)
	}
	if !got.Equal(key.Public()) {
		t.Error("Ed25519 returned a different key")
	}

	tests := []struct {
		name string
		edit func(*auth.JWK)
	}{
		{name: "RSA", edit: func(k *auth.JWK) { k.KeyType = "RSA" }},
		{name: "X25519", edit: func(k *auth.JWK) { k.Curve = "X25519" }},
		{name: "short x", edit: func(k *auth.JWK) { k.X = k.X[:10] }},
		{name: "x not base64url", edit: func(k *auth.JWK) { k.X = "!!" + k.X[2:] }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			jwk := good
			tt.edit(&jwk)
			if _, err := jwk.Ed25519(); err == nil {
				t.Error("Ed25519 accepted an invalid JWK")
			}
		})
	}
}
