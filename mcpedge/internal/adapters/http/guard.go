// Package http guards the MCP endpoint before mcp-go sees a request: Origin
// checks, a body limit, and bearer-token validation with the RFC 9728
// challenge that tells a client where to find the authorization server.
package http

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"slices"

	"dokkumcp.dev/platform/auth"
	"dokkumcp.dev/platform/logging"
)

// Guard wraps the MCP handler.
type Guard struct {
	Verifier *auth.Verifier
	// MetadataURL is the RFC 9728 metadata URL named in the challenge.
	MetadataURL string
	// AllowedOrigins lists the browser origins that may call; requests with
	// another Origin header get 403. Requests without Origin pass.
	AllowedOrigins []string
	// MaxBodyBytes bounds a request body.
	MaxBodyBytes int64
	// Scopes is the scope list advertised in the challenge.
	Scopes string
	Logger *slog.Logger
}

// Wrap returns next guarded.
func (g *Guard) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := logging.WithRequestID(r.Context(), newRequestID())

		if origin := r.Header.Get("Origin"); origin != "" && !slices.Contains(g.AllowedOrigins, origin) {
			g.Logger.InfoContext(ctx, "origin rejected", "origin", origin)
			http.Error(w, fmt.Sprintf("origin %q is not allowed; ask the operator to add it to --allowed-origins", origin), http.StatusForbidden)
			return
		}

		// RFC 6750 section 2.3 lets a resource accept tokens in the query; the
		// MCP authorization spec forbids it because URLs end up in logs.
		if r.URL.Query().Has("access_token") {
			g.challenge(w, "invalid_request", "access tokens are not accepted in the query string; send them in the Authorization header as \"Bearer <token>\"")
			return
		}

		raw, ok := auth.BearerToken(r.Header)
		if !ok {
			g.challenge(w, "", "missing bearer token: fetch a token from the authorization server named in the resource metadata and send it in the Authorization header")
			return
		}
		principal, err := g.Verifier.Verify(ctx, raw)
		if err != nil {
			g.Logger.InfoContext(ctx, "access token rejected", "error", err)
			g.challenge(w, "invalid_token", "the access token is invalid, expired, or not issued for this MCP server; fetch a new one with resource set to this server's URL")
			return
		}

		if g.MaxBodyBytes > 0 {
			r.Body = http.MaxBytesReader(w, r.Body, g.MaxBodyBytes)
		}
		ctx = auth.WithPrincipal(ctx, principal)
		if principal.TenantID != "" {
			ctx = logging.WithTenantID(ctx, principal.TenantID)
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// challenge answers 401 with a WWW-Authenticate header per RFC 6750 section
// 3 and RFC 9728 section 5.1.
func (g *Guard) challenge(w http.ResponseWriter, code, description string) {
	value := fmt.Sprintf("Bearer resource_metadata=%q", g.MetadataURL)
	if g.Scopes != "" {
		value += fmt.Sprintf(", scope=%q", g.Scopes)
	}
	if code != "" {
		value += fmt.Sprintf(", error=%q, error_description=%q", code, description)
	}
	w.Header().Set("WWW-Authenticate", value)
	http.Error(w, description, http.StatusUnauthorized)
}

func newRequestID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}
