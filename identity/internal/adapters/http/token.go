// Package http serves Identity's OAuth 2.0 endpoints over plain HTTP: the
// token endpoint (RFC 6749, RFC 8693), the key set (RFC 7517) and the server
// metadata (RFC 8414).
package http

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"dokkumcp.dev/identity/internal/app"
)

// MaxTokenRequestBytes caps the body of a token request. A subject token is
// well under 4 KiB, so 64 KiB leaves room without inviting large bodies.
const MaxTokenRequestBytes = 64 << 10

// Paths of the OAuth endpoints, relative to the issuer.
const (
	TokenPath    = "/oauth2/token"
	JWKSPath     = "/oauth2/jwks"
	MetadataPath = "/.well-known/oauth-authorization-server"
)

// TokenIssuer handles token requests.
type TokenIssuer interface {
	Token(ctx context.Context, req app.TokenRequest) (*app.TokenResponse, error)
}

// TokenHandler serves POST /oauth2/token.
type TokenHandler struct {
	tokens TokenIssuer
	logger *slog.Logger
}

// NewTokenHandler returns the token endpoint.
func NewTokenHandler(tokens TokenIssuer, logger *slog.Logger) *TokenHandler {
	return &TokenHandler{tokens: tokens, logger: logger}
}

type tokenResponse struct {
	AccessToken     string `json:"access_token"`
	IssuedTokenType string `json:"issued_token_type,omitempty"`
	TokenType       string `json:"token_type"`
	ExpiresIn       int64  `json:"expires_in"`
	Scope           string `json:"scope"`
}

type errorResponse struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description,omitempty"`
}

func (h *TokenHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	req, err := parseTokenRequest(w, r)
	if err != nil {
		h.writeError(r.Context(), w, req, err)
		return
	}

	resp, err := h.tokens.Token(r.Context(), req)
	if err != nil {
		h.writeError(r.Context(), w, req, err)
		return
	}

	writeJSON(w, http.StatusOK, tokenResponse{
		AccessToken:     resp.AccessToken,
		IssuedTokenType: resp.IssuedTokenType,
		TokenType:       "Bearer",
		ExpiresIn:       resp.ExpiresIn,
		Scope:           resp.Scope,
	})
}

// parseTokenRequest reads the form body and the client credentials. The
// returned request carries the client id and auth method even on error, so
// the error response can name the authentication scheme.
func parseTokenRequest(w http.ResponseWriter, r *http.Request) (app.TokenRequest, error) {
	var req app.TokenRequest

	if mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mediaType != "application/x-www-form-urlencoded" {
		return req, invalidRequest("the token request must have Content-Type application/x-www-form-urlencoded")
	}
	// RFC 6749 section 3.2: parameters travel in the body. A secret or token
	// in the query string would end up in access logs.
	if r.URL.RawQuery != "" {
		return req, invalidRequest("send the token request parameters in the request body, not the query string")
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxTokenRequestBytes)
	if err := r.ParseForm(); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return req, invalidRequest(fmt.Sprintf("the token request body is larger than %d bytes", MaxTokenRequestBytes))
		}
		return req, invalidRequest("the token request body is not valid form data")
	}
	form := r.PostForm

	// RFC 6749 section 3.2: request parameters must not repeat. RFC 8707
	// lets resource repeat, but a token here has exactly one audience.
	for name, values := range form {
		if len(values) > 1 {
			if name == "resource" {
				return req, &app.OAuthError{Code: app.ErrCodeInvalidTarget, Description: "request one resource per token"}
			}
			return req, invalidRequest(fmt.Sprintf("parameter %s is repeated; send it once", name))
		}
	}

	req.GrantType = form.Get("grant_type")
	req.Resource = form.Get("resource")
	req.Scope = form.Get("scope")
	req.SubjectToken = form.Get("subject_token")
	req.SubjectTokenType = form.Get("subject_token_type")
	if err := readClientCredentials(r, form, &req); err != nil {
		return req, err
	}
	return req, nil
}

// readClientCredentials reads client_secret_basic or client_secret_post
// credentials; RFC 6749 section 2.3 allows one method per request.
func readClientCredentials(r *http.Request, form url.Values, req *app.TokenRequest) error {
	formID, formSecret := form.Get("client_id"), form.Get("client_secret")
	if r.Header.Get("Authorization") == "" {
		if formSecret != "" {
			req.ClientID, req.ClientSecret, req.AuthMethod = formID, formSecret, app.ClientAuthPost
		}
		return nil
	}

	req.AuthMethod = app.ClientAuthBasic
	rawID, rawSecret, ok := r.BasicAuth()
	if !ok {
		return &app.OAuthError{Code: app.ErrCodeInvalidClient, Description: "the Authorization header is not valid HTTP Basic authentication"}
	}
	// RFC 6749 section 2.3.1: the id and secret are form-url-encoded before
	// they are joined for Basic authentication.
	id, errID := url.QueryUnescape(rawID)
	secret, errSecret := url.QueryUnescape(rawSecret)
	if errID != nil || errSecret != nil {
		return &app.OAuthError{Code: app.ErrCodeInvalidClient, Description: "the Basic credentials are not form-url-encoded"}
	}
	req.ClientID, req.ClientSecret = id, secret

	if formSecret != "" {
		return invalidRequest("the client authenticated twice: use HTTP Basic authentication or client_secret in the body, not both")
	}
	if formID != "" && formID != id {
		return invalidRequest("client_id in the body differs from the client id of the Basic credentials")
	}
	return nil
}

func invalidRequest(description string) error {
	return &app.OAuthError{Code: app.ErrCodeInvalidRequest, Description: description}
}

// writeError writes an RFC 6749 section 5.2 error response and logs its
// detail.
func (h *TokenHandler) writeError(ctx context.Context, w http.ResponseWriter, req app.TokenRequest, err error) {
	var oauthErr *app.OAuthError
	if !errors.As(err, &oauthErr) {
		oauthErr = &app.OAuthError{Code: app.ErrCodeServerError, Description: "the token request failed; retry later", Err: err}
	}

	status := http.StatusBadRequest
	switch oauthErr.Code {
	case app.ErrCodeInvalidClient:
		status = http.StatusUnauthorized
		if req.AuthMethod != app.ClientAuthPost {
			w.Header().Set("WWW-Authenticate", `Basic realm="dokkumcp"`)
		}
	case app.ErrCodeServerError:
		status = http.StatusInternalServerError
	}

	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelError
	}
	attrs := []any{"grant_type", req.GrantType, "client_id", req.ClientID, "error_code", oauthErr.Code, "status", status}
	if oauthErr.Err != nil {
		attrs = append(attrs, "error", oauthErr.Err.Error())
	} else {
		attrs = append(attrs, "error", oauthErr.Description)
	}
	h.logger.Log(ctx, level, "token request rejected", attrs...)

	writeJSON(w, status, errorResponse{Error: oauthErr.Code, ErrorDescription: sanitizeDescription(oauthErr.Description)})
}

// sanitizeDescription keeps error_description within the characters RFC
// 6749 section 5.2 allows: %x20-21 / %x23-5B / %x5D-7E.
func sanitizeDescription(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return '\''
		}
		return r
	}, s)
}

// writeJSON writes v with the headers RFC 6749 section 5.1 requires of
// token responses.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
