package http

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"

	"dokkumcp.dev/identity/internal/app"
	"dokkumcp.dev/platform/auth"
)

// TokenAdministrator handles revocation and introspection requests.
type TokenAdministrator interface {
	Revoke(ctx context.Context, creds app.ClientCredentials, token string) error
	Introspect(ctx context.Context, creds app.ClientCredentials, token string) (app.Introspection, error)
	RevocationList(ctx context.Context) (auth.RevocationList, error)
}

// RevokeHandler serves POST /oauth2/revoke (RFC 7009).
func RevokeHandler(tokens TokenAdministrator, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var creds app.ClientCredentials
		form, err := parseForm(w, r, "revocation")
		if err == nil {
			err = readClientCredentials(r, form, &creds)
		}
		if err == nil {
			// token_type_hint is optional (RFC 7009 section 2.1) and every
			// token here is an access token, so it is ignored.
			err = tokens.Revoke(r.Context(), creds, form.Get("token"))
		}
		if err != nil {
			writeError(r.Context(), w, logger, "revocation request rejected", creds, err, "remote_addr", r.RemoteAddr)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
	})
}

// introspectionResponse is the RFC 7662 section 2.2 response. Only active
// is set for a token that is not active.
type introspectionResponse struct {
	Active    bool        `json:"active"`
	Scope     string      `json:"scope,omitempty"`
	ClientID  string      `json:"client_id,omitempty"`
	TokenType string      `json:"token_type,omitempty"`
	Exp       int64       `json:"exp,omitempty"`
	Iat       int64       `json:"iat,omitempty"`
	Nbf       int64       `json:"nbf,omitempty"`
	Sub       string      `json:"sub,omitempty"`
	Aud       []string    `json:"aud,omitempty"`
	Iss       string      `json:"iss,omitempty"`
	JTI       string      `json:"jti,omitempty"`
	TenantID  string      `json:"tenant_id,omitempty"`
	Act       *auth.Actor `json:"act,omitempty"`
}

// IntrospectHandler serves POST /oauth2/introspect (RFC 7662).
func IntrospectHandler(tokens TokenAdministrator, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var (
			creds  app.ClientCredentials
			result app.Introspection
		)
		form, err := parseForm(w, r, "introspection")
		if err == nil {
			err = readClientCredentials(r, form, &creds)
		}
		if err == nil {
			result, err = tokens.Introspect(r.Context(), creds, form.Get("token"))
		}
		if err != nil {
			writeError(r.Context(), w, logger, "introspection request rejected", creds, err, "remote_addr", r.RemoteAddr)
			return
		}

		resp := introspectionResponse{Active: result.Active}
		if c := result.Claims; result.Active && c != nil {
			resp.Scope, resp.ClientID, resp.TokenType = c.Scope, c.ClientID, "Bearer"
			resp.Sub, resp.Aud, resp.Iss, resp.JTI = c.Subject, c.Audience, c.Issuer, c.ID
			resp.TenantID, resp.Act = c.TenantID, c.Act
			resp.Exp = c.ExpiresAt.Unix()
			if c.IssuedAt != nil {
				resp.Iat = c.IssuedAt.Unix()
			}
			if c.NotBefore != nil {
				resp.Nbf = c.NotBefore.Unix()
			}
		}
		writeJSON(w, http.StatusOK, resp)
	})
}

// RevocationsHandler serves GET /oauth2/revocations, the list verifiers
// fetch to reject revoked tokens and the tokens of disabled clients. Like
// the JWKS it needs no credentials: it names token ids and client ids, no
// secret.
func RevocationsHandler(tokens TokenAdministrator, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		list, err := tokens.RevocationList(r.Context())
		if err != nil {
			logger.ErrorContext(r.Context(), "revocation list failed", "error", err)
			http.Error(w, "the revocation list is unavailable; retry later", http.StatusServiceUnavailable)
			return
		}
		body, _ := json.Marshal(list)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(body)
	})
}
