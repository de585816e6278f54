package auth_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"dokkumcp.dev/platform/auth"
)

const (
	testIssuer   = "http://127.0.0.1:8081"
	testAudience = "urn:dokkumcp:tenancy"
)

// identity is a fake Identity service that keeps signing keys and
// serves their public halves as a JWKS from an httptest server.
type identity struct {
	server   *httptest.Server
	requests atomic.Int64

	mu     sync.Mutex
	keys   map[string]ed25519.PrivateKey
	status int
}

func newIdentity(t *testing.T) *identity {
	t.Helper()
	id := &identity{keys: map[string]ed25519.PrivateKey{}, status: http.StatusOK}
	id.addKey(t, "k1")
	id.server = httptest.NewServer(http.HandlerFunc(id.serveJWKS))
	t.Cleanup(id.server.Close)
	return id
}

func (id *identity) serveJWKS(w http.ResponseWriter, r *http.Request) {
	id.requests.Add(1)
	id.mu.Lock()
	defer id.mu.Unlock()
	if id.status != http.StatusOK {
		http.Error(w, "unavailable", id.status)
		return
	}
	var set auth.JWKS
	for kid, key := range id.keys {
		set.Keys = append(set.Keys, auth.NewEd25519JWK(kid, key.Public().(ed25519.PublicKey)))
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(set)
}

// addKey generates a key, publishes it under kid and returns its private half.
func (id *identity) addKey(t *testing.T, kid string) ed25519.PrivateKey {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id.mu.Lock()
	id.keys[kid] = key
	id.mu.Unlock()
	return key
}

func (id *identity) key(kid string) ed25519.PrivateKey {
	id.mu.Lock()
	defer id.mu.Unlock()
	return id.keys[kid]
}

func (id *identity) setStatus(status int) {
	id.mu.Lock()
	id.status = status
	id.mu.Unlock()
}

// verifier returns a verifier for this identity; edit adjusts its config.
func (id *identity) verifier(edit func(*auth.VerifierConfig)) *auth.Verifier {
	cfg := auth.VerifierConfig{
		Issuer:   testIssuer,
		Audience: testAudience,
		JWKSURL:  id.server.URL,
	}
	if edit != nil {
		edit(&cfg)
	}
	return auth.NewVerifier(cfg)
}

// sign signs claims with the identity's key kid as an RFC 9068 access token.
func (id *identity) sign(t *testing.T, kid string, claims jwt.MapClaims) string {
	t.Helper()
	return signEdDSA(t, id.key(kid), kid, claims)
}

func signEdDSA(t *testing.T, key ed25519.PrivateKey, kid string, claims jwt.MapClaims) string {
	t.Helper()
	token := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	token.Header["typ"] = "at+jwt"
	token.Header["kid"] = kid
	raw, err := token.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// validClaims returns the claims of a token the verifier accepts.
func validClaims() jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{
		"iss":       testIssuer,
		"aud":       []string{testAudience},
		"sub":       "user-7",
		"client_id": "mcp-client",
		"tenant_id": "t-42",
		"scope":     "tenancy:read-hosts apps:read",
		"jti":       "token-1",
		"iat":       now.Unix(),
		"exp":       now.Add(5 * time.Minute).Unix(),
		"act":       map[string]any{"sub": "mcpedge"},
	}
}

// with returns a copy of claims with the given claims set, or deleted where
// the value is nil.
func with(claims jwt.MapClaims, changes map[string]any) jwt.MapClaims {
	out := jwt.MapClaims{}
	for k, v := range claims {
		out[k] = v
	}
	for k, v := range changes {
		if v == nil {
			delete(out, k)
			continue
		}
		out[k] = v
	}
	return out
}
