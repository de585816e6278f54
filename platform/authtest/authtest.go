// Package authtest stands in for Identity in tests. It serves a JWKS over
// HTTP and mints EdDSA access tokens in the shape Identity issues (RFC 9068
// header typ at+jwt, platform/auth.Claims), so a service under test verifies
// them exactly as it verifies real ones.
package authtest

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"dokkumcp.dev/platform/auth"
)

// Issuer is a fake Identity: URL is both the issuer and the base of
// /oauth2/jwks.
type Issuer struct {
	URL string
	kid string
	key ed25519.PrivateKey
}

// NewIssuer starts the JWKS server; it stops when the test ends.
func NewIssuer(t testing.TB) *Issuer {
	t.Helper()
	public, private, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	issuer := &Issuer{kid: "test-" + randomHex(4), key: private}

	set := auth.JWKS{Keys: []auth.JWK{auth.NewEd25519JWK(issuer.kid, public)}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /oauth2/jwks", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(set)
	})
	server := httptest.NewServer(mux)
	t.Cleanup(server.Close)
	issuer.URL = server.URL
	return issuer
}

// Token describes the access token to mint.
type Token struct {
	Audience string
	Subject  string
	// Scope is space-separated permissions, as in the scope claim.
	Scope string
	// TenantID is empty for service identities.
	TenantID string
}

// Mint returns a signed access token valid for 15 minutes.
func (i *Issuer) Mint(t testing.TB, tok Token) string {
	t.Helper()
	now := time.Now()
	claims := auth.Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    i.URL,
			Subject:   tok.Subject,
			Audience:  jwt.ClaimStrings{tok.Audience},
			ExpiresAt: jwt.NewNumericDate(now.Add(15 * time.Minute)),
			NotBefore: jwt.NewNumericDate(now),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        randomHex(8),
		},
		ClientID: tok.Subject,
		Scope:    tok.Scope,
		TenantID: tok.TenantID,
	}
	token := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	token.Header["typ"] = "at+jwt"
	token.Header["kid"] = i.kid
	signed, err := token.SignedString(i.key)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
