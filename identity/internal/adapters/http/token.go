// Package http serves Identity's OAuth 2.0 endpoints over plain HTTP: the
// token endpoint (RFC 6749, RFC 8693), revocation (RFC 7009),
// introspection (RFC 7662), the revocation list verifiers fetch, the key set
// (RFC 7517) and the server metadata (RFC 8414).
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
	"strconv"
	"strings"

	"dokkumcp.dev/identity/internal/app"
)

// MaxTokenRequestBytes caps the body of a token request. A subject token is
// well under 4 KiB, so 64 KiB leaves room without inviting large bodies.
const MaxTokenRequestBytes = 64 << 10

// Paths of the OAuth endpoints, relative to the issuer.
const (
	TokenPath       = "/oauth2/token"
	JWKSPath        = "/oauth2/jwks"
	RevokePath      = "/oauth2/revoke"
	IntrospectPath  = "/oauth2/introspect"
	RevocationsPath = "/oauth2/revocations"
	MetadataPath    = "/.well-known/oauth-authorization-server"
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
		writeError(r.Context(), w, h.logger, "token request rejected", req.ClientCredentials, err, "grant_type", req.GrantType, "remote_addr", r.RemoteAddr)
		return
	}

	resp, err := h.tokens.Token(r.Context(), req)
	if err != nil {
		writeError(r.Context(), w, h.logger, "token request rejected", req.ClientCredentials, err, "grant_type", req.GrantType, "remote_addr", r.RemoteAddr)
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
	form, err := parseForm(w, r, "token")
	if err != nil {
		return req, err
	}

	req.GrantType = form.Get("grant_type")
	req.Resource = form.Get("resource")
	req.Scope = form.Get("scope")
	req.SubjectToken = form.Get("subject_token")
	req.SubjectTokenType = form.Get("subject_token_type")
	if err := readClientCredentials(r, form, &req.ClientCredentials); err != nil {
		return req, err
	}
	return req, nil
}

// parseForm reads the form body of a request to the endpoint named
// endpoint, checking its media type, size and that no parameter repeats.
func parseForm(w http.ResponseWriter, r *http.Request, endpoint string) (url.Values, error) {
	if mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mediaType != "application/x-www-form-urlencoded" {
		return nil, invalidRequest("the " + endpoint + " request must have Content-Type application/x-www-form-urlencoded")
	}
	// RFC 6749 section 3.2: parameters travel in the body. A secret or token
	// in the query string would end up in access logs.
	if r.URL.RawQuery != "" {
		return nil, invalidRequest("send the " + endpoint + " request parameters in the request body, not the query string")
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxTokenRequestBytes)
	if err := r.ParseForm(); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, invalidRequest(fmt.Sprintf("the %s request body is larger than %d bytes", endpoint, MaxTokenRequestBytes))
		}
		return nil, invalidRequest("the " + endpoint + " request body is not valid form data")
	}
	form := r.PostForm

	// RFC 6749 section 3.2: request parameters must not repeat. RFC 8707
	// lets resource repeat, but a token here has exactly one audience.
	for name, values := range form {
		if len(values) > 1 {
			if name == "resource" {
				return nil, &app.OAuthError{Code: app.ErrCodeInvalidTarget, Description: "request one resource per token"}
			}
			return nil, invalidRequest(fmt.Sprintf("parameter %s is repeated; send it once", name))
		}
	}
	return form, nil
}

// readClientCredentials reads client_secret_basic, client_secret_post or
// private_key_jwt credentials; RFC 6749 section 2.3 allows one method per
// request.
func readClientCredentials(r *http.Request, form url.Values, req *app.ClientCredentials) error {
	req.SourceAddress = sourceAddress(r)
	formID, formSecret := form.Get("client_id"), form.Get("client_secret")
	assertionType, assertion := form.Get("client_assertion_type"), form.Get("client_assertion")
	if assertionType != "" || assertion != "" {
		req.ClientID, req.AuthMethod = formID, app.ClientAuthPrivateKeyJWT
		switch {
		case assertionType != app.ClientAssertionTypeJWTBearer:
			return &app.OAuthError{Code: app.ErrCodeInvalidClient, Description: "client_assertion_type must be " + app.ClientAssertionTypeJWTBearer}
		case assertion == "":
			return &app.OAuthError{Code: app.ErrCodeInvalidClient, Description: "missing client_assertion: send the JWT signed with the client's key"}
		case r.Header.Get("Authorization") != "" || formSecret != "":
			return invalidRequest("the client authenticated twice: use a client assertion or a client secret, not both")
		}
		req.Assertion = assertion
		return nil
	}
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
// detail under message with attrs.
func writeError(ctx context.Context, w http.ResponseWriter, logger *slog.Logger, message string, creds app.ClientCredentials, err error, attrs ...any) {
	var oauthErr *app.OAuthError
	if !errors.As(err, &oauthErr) {
		oauthErr = &app.OAuthError{Code: app.ErrCodeServerError, Description: "the token request failed; retry later", Err: err}
	}

	status := http.StatusBadRequest
	switch {
	case oauthErr.RetryAfter > 0:
		status = http.StatusTooManyRequests
		w.Header().Set("Retry-After", strconv.Itoa(int(oauthErr.RetryAfter.Seconds())))
		message = "request rate limited"
	case oauthErr.Code == app.ErrCodeInvalidClient:
		// The app layer records failures of known tenant clients in the
		// tenant's audit ledger; every failure is logged here.
		message = "client authentication failed"
		status = http.StatusUnauthorized
		if creds.AuthMethod == app.ClientAuthBasic || creds.AuthMethod == app.ClientAuthNone {
			w.Header().Set("WWW-Authenticate", `Basic realm="dokkumcp"`)
		}
	case oauthErr.Code == app.ErrCodeServerError:
		status = http.StatusInternalServerError
	case oauthErr.Code == app.ErrCodeTemporarilyUnavailable:
		status = http.StatusServiceUnavailable
	}

	level := slog.LevelInfo
	switch {
	case status >= 500:
		level = slog.LevelError
	case status == http.StatusUnauthorized:
		level = slog.LevelWarn
	}
	attrs = append(attrs, "client_id", logSafeClientID(creds.ClientID), "error_code", oauthErr.Code, "status", status)
	if oauthErr.Err != nil {
		attrs = append(attrs, "error", oauthErr.Err.Error())
	} else {
		attrs = append(attrs, "error", oauthErr.Description)
	}
	logger.Log(ctx, level, message, attrs...)

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

// logSafeClientID returns a client id as sent, cut to 64 bytes and with
// control and non-ASCII characters replaced, so a crafted id cannot forge
// log fields or flood the log.
func logSafeClientID(id string) string {
	if len(id) > 64 {
		id = id[:64] + "..."
	}
	return sanitizeDescription(id)
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
