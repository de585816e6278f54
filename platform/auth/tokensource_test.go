package auth_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"dokkumcp.dev/platform/auth"
)

// tokenEndpoint is an OAuth token endpoint that issues client-credentials
// tokens valid for expiresIn seconds to one client.
type tokenEndpoint struct {
	server    *httptest.Server
	requests  atomic.Int64
	expiresIn int
	// failure, when set, is the OAuth error code of every response.
	failure string
}

func newTokenEndpoint(t *testing.T, expiresIn int, failure string) *tokenEndpoint {
	t.Helper()
	e := &tokenEndpoint{expiresIn: expiresIn, failure: failure}
	e.server = httptest.NewServer(http.HandlerFunc(e.serveToken))
	t.Cleanup(e.server.Close)
	return e
}

func (e *tokenEndpoint) serveToken(w http.ResponseWriter, r *http.Request) {
	n := e.requests.Add(1)
	w.Header().Set("Content-Type", "application/json")
	if e.failure != "" {
		w.WriteHeader(http.StatusUnauthorized)
		json.NewEncoder(w).Encode(map[string]string{"error": e.failure, "error_description": "client authentication failed"})
		return
	}

	id, secret, ok := r.BasicAuth()
	if !ok || id != "dokkuexec" || secret != "s3cret" {
		w.WriteHeader(http.StatusUnauthorized)
		json.NewEncoder(w).Encode(map[string]string{"error": "invalid_client"})
		return
	}
	if err := r.ParseForm(); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if r.PostForm.Get("grant_type") != "client_credentials" || r.PostForm.Get("resource") != "urn:dokkumcp:tenancy" {
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]string{"error": "invalid_request", "error_description": "form " + r.PostForm.Encode()})
		return
	}
	if r.PostForm.Has("client_secret") {
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]string{"error": "invalid_request", "error_description": "client_secret sent in the body"})
		return
	}
	json.NewEncoder(w).Encode(map[string]any{
		"access_token": fmt.Sprintf("token-%d", n),
		"token_type":   "Bearer",
		"expires_in":   e.expiresIn,
	})
}

func (e *tokenEndpoint) tokenFunc() auth.TokenFunc {
	return auth.NewServiceTokenFunc(auth.ServiceCredentials{
		TokenURL:     e.server.URL,
		ClientID:     "dokkuexec",
		ClientSecret: "s3cret",
		Resource:     "urn:dokkumcp:tenancy",
	}, e.server.Client())
}

func TestServiceTokenReused(t *testing.T) {
	t.Parallel()
	endpoint := newTokenEndpoint(t, 3600, "")
	tokenFunc := endpoint.tokenFunc()

	for i := range 3 {
		token, err := tokenFunc(context.Background())
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		if token != "token-1" {
			t.Errorf("call %d: token = %q, want token-1", i, token)
		}
	}
	if got := endpoint.requests.Load(); got != 1 {
		t.Errorf("token requests = %d, want 1", got)
	}
}

func TestServiceTokenRefreshedNearExpiry(t *testing.T) {
	t.Parallel()
	// A token that expires within the reuse margin (one minute) is fetched
	// anew on every call.
	endpoint := newTokenEndpoint(t, 30, "")
	tokenFunc := endpoint.tokenFunc()

	for i := range 2 {
		token, err := tokenFunc(context.Background())
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		if want := fmt.Sprintf("token-%d", i+1); token != want {
			t.Errorf("call %d: token = %q, want %q", i, token, want)
		}
	}
	if got := endpoint.requests.Load(); got != 2 {
		t.Errorf("token requests = %d, want 2", got)
	}
}

func TestServiceTokenEndpointError(t *testing.T) {
	t.Parallel()
	endpoint := newTokenEndpoint(t, 3600, "invalid_client")

	token, err := endpoint.tokenFunc()(context.Background())
	if err == nil {
		t.Fatalf("token = %q, want an error", token)
	}
	if !strings.Contains(err.Error(), "invalid_client") {
		t.Errorf("error %q does not name the OAuth error invalid_client", err)
	}
}
