package http_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	httpguard "dokkumcp.dev/mcpedge/internal/adapters/http"
	"dokkumcp.dev/platform/auth"
)

const resource = "http://mcp.test/mcp"

type issuer struct {
	url string
	key ed25519.PrivateKey
}

func newIssuer(t *testing.T) *issuer {
	t.Helper()
	public, private, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(auth.JWKS{Keys: []auth.JWK{auth.NewEd25519JWK("k1", public)}})
	}))
	t.Cleanup(srv.Close)
	return &issuer{url: srv.URL, key: private}
}

func (i *issuer) token(t *testing.T, audience string) string {
	t.Helper()
	claims := auth.Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: i.url, Subject: "c-1", Audience: jwt.ClaimStrings{audience}, ID: "jti-1",
			IssuedAt: jwt.NewNumericDate(time.Now()), ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Minute)),
		},
		ClientID: "c-1", Scope: "apps:read", TenantID: "t-1",
	}
	token := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	token.Header["typ"] = "at+jwt"
	token.Header["kid"] = "k1"
	signed, err := token.SignedString(i.key)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

func newGuarded(t *testing.T, iss *issuer) (http.Handler, *bool) {
	t.Helper()
	reached := new(bool)
	guard := &httpguard.Guard{
		Verifier:       auth.NewVerifier(auth.VerifierConfig{Issuer: iss.url, Audience: resource, JWKSURL: iss.url}),
		MetadataURL:    "http://mcp.test/.well-known/oauth-protected-resource/mcp",
		AllowedOrigins: []string{"https://app.example"},
		MaxBodyBytes:   1024,
		Scopes:         "apps:read",
		Logger:         slog.New(slog.DiscardHandler),
	}
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
			return
		}
		principal, ok := auth.PrincipalFrom(r.Context())
		if !ok || principal.TenantID != "t-1" {
			http.Error(w, "no principal", http.StatusInternalServerError)
			return
		}
		*reached = true
	})
	return guard.Wrap(next), reached
}

func TestGuard(t *testing.T) {
	t.Parallel()
	iss := newIssuer(t)
	valid := iss.token(t, resource)

	cases := []struct {
		name       string
		target     string
		header     map[string]string
		body       string
		wantStatus int
		wantError  string
	}{
		{name: "valid token", target: "/mcp", header: map[string]string{"Authorization": "Bearer " + valid}, body: `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, wantStatus: 200},
		{name: "batch", target: "/mcp", header: map[string]string{"Authorization": "Bearer " + valid}, body: `[{"jsonrpc":"2.0","id":1,"method":"tools/list"}]`, wantStatus: 400},
		{name: "duplicate key", target: "/mcp", header: map[string]string{"Authorization": "Bearer " + valid}, body: `{"jsonrpc":"2.0","id":1,"method":"a","method":"b"}`, wantStatus: 400},
		{name: "duplicate nested key", target: "/mcp", header: map[string]string{"Authorization": "Bearer " + valid}, body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","arguments":{"a":1,"a":2}}}`, wantStatus: 400},
		{name: "case variant key", target: "/mcp", header: map[string]string{"Authorization": "Bearer " + valid}, body: `{"jsonrpc":"2.0","id":1,"Method":"tools/list"}`, wantStatus: 400},
		{name: "case variant params key", target: "/mcp", header: map[string]string{"Authorization": "Bearer " + valid}, body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"Name":"x"}}`, wantStatus: 400},
		{name: "long s variant", target: "/mcp", header: map[string]string{"Authorization": "Bearer " + valid}, body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","paramſ":{}}`, wantStatus: 400},
		{name: "case differs in arguments", target: "/mcp", header: map[string]string{"Authorization": "Bearer " + valid}, body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"config_set","arguments":{"vars":{"PATH":"a","path":"b"}}}}`, wantStatus: 200},
		{name: "object id", target: "/mcp", header: map[string]string{"Authorization": "Bearer " + valid}, body: `{"jsonrpc":"2.0","id":{"a":1},"method":"tools/list"}`, wantStatus: 400},
		{name: "array id", target: "/mcp", header: map[string]string{"Authorization": "Bearer " + valid}, body: `{"jsonrpc":"2.0","id":[1],"method":"tools/list"}`, wantStatus: 400},
		{name: "boolean id", target: "/mcp", header: map[string]string{"Authorization": "Bearer " + valid}, body: `{"jsonrpc":"2.0","id":true,"method":"tools/list"}`, wantStatus: 400},
		{name: "string id", target: "/mcp", header: map[string]string{"Authorization": "Bearer " + valid}, body: `{"jsonrpc":"2.0","id":"a-1","method":"tools/list"}`, wantStatus: 200},
		{name: "negative id", target: "/mcp", header: map[string]string{"Authorization": "Bearer " + valid}, body: `{"jsonrpc":"2.0","id":-3,"method":"tools/list"}`, wantStatus: 200},
		{name: "trailing data", target: "/mcp", header: map[string]string{"Authorization": "Bearer " + valid}, body: `{"jsonrpc":"2.0","id":1,"method":"tools/list"} {}`, wantStatus: 400},
		{name: "not json", target: "/mcp", header: map[string]string{"Authorization": "Bearer " + valid}, body: `hello`, wantStatus: 400},
		{name: "two authorization headers", target: "/mcp", header: map[string]string{"Authorization": "Bearer " + valid, "X-Second-Authorization": "Bearer junk"}, body: `{}`, wantStatus: 401, wantError: "invalid_request"},
		{name: "unsupported protocol version", target: "/mcp", header: map[string]string{"Authorization": "Bearer " + valid, "MCP-Protocol-Version": "1999-01-01"}, body: `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, wantStatus: 400},
		{name: "text content type", target: "/mcp", header: map[string]string{"Authorization": "Bearer " + valid, "Content-Type": "text/plain"}, body: `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, wantStatus: 415},
		{name: "no token", target: "/mcp", wantStatus: 401},
		{name: "basic scheme", target: "/mcp", header: map[string]string{"Authorization": "Basic " + valid}, wantStatus: 401},
		{name: "token in query", target: "/mcp?access_token=" + valid, header: map[string]string{"Authorization": "Bearer " + valid}, wantStatus: 401, wantError: "invalid_request"},
		{name: "other audience", target: "/mcp", header: map[string]string{"Authorization": "Bearer " + iss.token(t, "urn:dokkumcp:dokkuexec")}, wantStatus: 401, wantError: "invalid_token"},
		{name: "disallowed origin", target: "/mcp", header: map[string]string{"Authorization": "Bearer " + valid, "Origin": "https://evil.example"}, wantStatus: 403},
		{name: "allowed origin", target: "/mcp", header: map[string]string{"Authorization": "Bearer " + valid, "Origin": "https://app.example"}, body: `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, wantStatus: 200},
		{name: "body over limit", target: "/mcp", header: map[string]string{"Authorization": "Bearer " + valid}, body: strings.Repeat("x", 2048), wantStatus: 413},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			handler, reached := newGuarded(t, iss)
			req := httptest.NewRequest(http.MethodPost, "http://mcp.test"+tc.target, strings.NewReader(tc.body))
			req.Header.Set("Content-Type", "application/json")
			for k, v := range tc.header {
				if k != "X-Second-Authorization" {
					req.Header.Set(k, v)
				}
			}
			if second, ok := tc.header["X-Second-Authorization"]; ok {
				req.Header.Add("Authorization", second)
			}
			rec := httptest.NewRecorder()
			handler.ServeHTTP(rec, req)

			if rec.Code != tc.wantStatus {
				t.Fatalf("status = %d, want %d (body %q)", rec.Code, tc.wantStatus, rec.Body.String())
			}
			if *reached != (tc.wantStatus == 200) {
				t.Fatalf("handler reached = %v, want %v", *reached, tc.wantStatus == 200)
			}
			if tc.wantStatus != 401 {
				return
			}
			challenge := rec.Header().Get("WWW-Authenticate")
			if !strings.Contains(challenge, `resource_metadata="http://mcp.test/.well-known/oauth-protected-resource/mcp"`) {
				t.Errorf("WWW-Authenticate = %q, want the metadata URL", challenge)
			}
			if !strings.Contains(challenge, `scope="apps:read"`) {
				t.Errorf("WWW-Authenticate = %q, want the scope", challenge)
			}
			if tc.wantError != "" && !strings.Contains(challenge, `error="`+tc.wantError+`"`) {
				t.Errorf("WWW-Authenticate = %q, want error %q", challenge, tc.wantError)
			}
			if strings.Contains(rec.Body.String(), valid) {
				t.Error("the response echoes the token")
			}
		})
	}
}

func TestGuardQueryTokenWhenAllowed(t *testing.T) {
	t.Parallel()
	iss := newIssuer(t)
	valid := iss.token(t, resource)
	var seenQuery string
	guard := &httpguard.Guard{
		Verifier:        auth.NewVerifier(auth.VerifierConfig{Issuer: iss.url, Audience: resource, JWKSURL: iss.url}),
		MetadataURL:     "http://mcp.test/.well-known/oauth-protected-resource/mcp",
		AllowQueryToken: true,
		Logger:          slog.New(slog.DiscardHandler),
	}
	handler := guard.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seenQuery = r.URL.RawQuery + " " + r.RequestURI
	}))

	req := httptest.NewRequest(http.MethodGet, "http://mcp.test/sse?access_token="+valid+"&x=1", nil)
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("status = %d, want 200", rec.Code)
	}
	if strings.Contains(seenQuery, valid) || !strings.Contains(seenQuery, "x=1") {
		t.Errorf("handler saw %q; want the token removed and other parameters kept", seenQuery)
	}

	// A header and a query token together are ambiguous and rejected.
	req = httptest.NewRequest(http.MethodGet, "http://mcp.test/sse?access_token="+valid, nil)
	req.Header.Set("Authorization", "Bearer "+valid)
	rec = httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("header and query token: status = %d, want 401", rec.Code)
	}
}

func TestGuardTestPrincipal(t *testing.T) {
	t.Parallel()
	guard := &httpguard.Guard{
		TestPrincipal:  &auth.Principal{Subject: "c-test", TenantID: "t-test"},
		AllowedOrigins: []string{"https://app.example"},
		MaxBodyBytes:   1024,
		Logger:         slog.New(slog.DiscardHandler),
	}
	var tenant string
	handler := guard.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if principal, ok := auth.PrincipalFrom(r.Context()); ok {
			tenant = principal.TenantID
		}
	}))

	cases := []struct {
		name       string
		origin     string
		body       string
		wantStatus int
	}{
		{name: "no token", body: `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, wantStatus: 200},
		{name: "disallowed origin", origin: "https://evil.example", body: `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, wantStatus: 403},
		{name: "batch", body: `[{"jsonrpc":"2.0","id":1,"method":"tools/list"}]`, wantStatus: 400},
		{name: "body over limit", body: strings.Repeat("x", 2048), wantStatus: 413},
	}
	for _, tc := range cases {
		tenant = ""
		req := httptest.NewRequest(http.MethodPost, "http://mcp.test/mcp", strings.NewReader(tc.body))
		req.Header.Set("Content-Type", "application/json")
		if tc.origin != "" {
			req.Header.Set("Origin", tc.origin)
		}
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		if rec.Code != tc.wantStatus {
			t.Errorf("%s: status = %d, want %d (body %q)", tc.name, rec.Code, tc.wantStatus, rec.Body.String())
		}
		if want := map[bool]string{true: "t-test", false: ""}[tc.wantStatus == 200]; tenant != want {
			t.Errorf("%s: handler saw tenant %q, want %q", tc.name, tenant, want)
		}
	}
}

func TestGuardDropsCancellations(t *testing.T) {
	t.Parallel()
	iss := newIssuer(t)
	valid := iss.token(t, resource)
	for _, drop := range []bool{true, false} {
		reached := false
		guard := &httpguard.Guard{
			Verifier:          auth.NewVerifier(auth.VerifierConfig{Issuer: iss.url, Audience: resource, JWKSURL: iss.url}),
			MetadataURL:       "http://mcp.test/.well-known/oauth-protected-resource/mcp",
			DropCancellations: drop,
			Logger:            slog.New(slog.DiscardHandler),
		}
		handler := guard.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached = true }))
		body := `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":7}}`
		req := httptest.NewRequest(http.MethodPost, "http://mcp.test/mcp", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+valid)
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)

		if drop && (reached || rec.Code != http.StatusAccepted) {
			t.Errorf("DropCancellations: reached = %v, status = %d; want the notification answered 202 and dropped", reached, rec.Code)
		}
		if !drop && !reached {
			t.Error("without DropCancellations the notification did not reach the handler")
		}
	}
}
