package auth_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"dokkumcp.dev/platform/auth"
)

// revocationServer serves a revocation list that the test changes.
type revocationServer struct {
	server *httptest.Server

	mu     sync.Mutex
	list   auth.RevocationList
	status int
}

func newRevocationServer(t *testing.T) *revocationServer {
	t.Helper()
	rs := &revocationServer{status: http.StatusOK}
	rs.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rs.mu.Lock()
		defer rs.mu.Unlock()
		if rs.status != http.StatusOK {
			http.Error(w, "unavailable", rs.status)
			return
		}
		json.NewEncoder(w).Encode(rs.list)
	}))
	t.Cleanup(rs.server.Close)
	return rs
}

func (rs *revocationServer) set(list auth.RevocationList, status int) {
	rs.mu.Lock()
	rs.list, rs.status = list, status
	rs.mu.Unlock()
}

// verifyEventually polls until Verify's outcome matches wantRejected.
func verifyEventually(t *testing.T, v *auth.Verifier, raw string, wantRejected bool) error {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := v.Verify(context.Background(), raw)
		if (err != nil) == wantRejected {
			return err
		}
		if time.Now().After(deadline) {
			t.Fatalf("Verify error = %v after 5s, want rejected = %v", err, wantRejected)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestVerifyRejectsRevoked(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		list   auth.RevocationList
		claims jwt.MapClaims
		reason string
	}{
		{"revoked jti", auth.RevocationList{Version: 1, Revoked: []auth.RevokedToken{{JTI: "token-1", Exp: time.Now().Add(time.Hour).Unix()}}}, validClaims(), "revoked"},
		{"disabled client", auth.RevocationList{Version: 1, DisabledClients: []string{"mcp-client"}}, validClaims(), "client mcp-client is disabled"},
		{"disabled actor", auth.RevocationList{Version: 1, DisabledClients: []string{"mcpedge"}}, validClaims(), "actor mcpedge is disabled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			id := newIdentity(t)
			rs := newRevocationServer(t)
			v := id.verifier(func(cfg *auth.VerifierConfig) {
				cfg.RevocationURL = rs.server.URL
				cfg.RevocationRefresh = 10 * time.Millisecond
			})
			raw := id.sign(t, "k1", tt.claims)
			other := id.sign(t, "k1", with(validClaims(), map[string]any{"jti": "token-2", "client_id": "other-client", "act": nil}))
			if _, err := v.Verify(context.Background(), raw); err != nil {
				t.Fatalf("Verify before the revocation: %v", err)
			}

			rs.set(tt.list, http.StatusOK)
			err := verifyEventually(t, v, raw, true)
			if !errors.Is(err, auth.ErrInvalidToken) || !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("Verify error = %v, want ErrInvalidToken naming %q", err, tt.reason)
			}
			if _, err := v.Verify(context.Background(), other); err != nil {
				t.Errorf("an unrelated token is rejected: %v", err)
			}
		})
	}
}

func TestVerifyKeepsRevocationsWhenFetchFails(t *testing.T) {
	t.Parallel()
	id := newIdentity(t)
	rs := newRevocationServer(t)
	v := id.verifier(func(cfg *auth.VerifierConfig) {
		cfg.RevocationURL = rs.server.URL
		cfg.RevocationRefresh = 10 * time.Millisecond
	})
	revoked := id.sign(t, "k1", validClaims())
	rs.set(auth.RevocationList{Version: 1, Revoked: []auth.RevokedToken{{JTI: "token-1"}}}, http.StatusOK)
	verifyEventually(t, v, revoked, true)

	// Identity fails: the last list stays in force, and a list with a
	// new entry cannot arrive, so the newer revocation is not applied.
	rs.set(auth.RevocationList{Version: 2, Revoked: []auth.RevokedToken{{JTI: "token-1"}, {JTI: "token-2"}}}, http.StatusServiceUnavailable)
	later := id.sign(t, "k1", with(validClaims(), map[string]any{"jti": "token-2"}))
	deadline := time.Now().Add(100 * time.Millisecond)
	for time.Now().Before(deadline) {
		if _, err := v.Verify(context.Background(), revoked); err == nil {
			t.Fatal("a revoked token is accepted while the revocation list is unavailable")
		}
		if _, err := v.Verify(context.Background(), later); err != nil {
			t.Fatalf("Verify of a token revoked after the outage began = %v, want accepted until the list is fetched", err)
		}
	}

	rs.set(auth.RevocationList{Version: 2, Revoked: []auth.RevokedToken{{JTI: "token-1"}, {JTI: "token-2"}}}, http.StatusOK)
	verifyEventually(t, v, later, true)
}

func TestVerifyRevocationURLDefault(t *testing.T) {
	t.Parallel()
	// A verifier whose JWKS URL is Identity's fetches the revocation list
	// next to it. The fake identity serves no list there, so Verify keeps
	// working with an empty one.
	id := newIdentity(t)
	v := id.verifier(func(cfg *auth.VerifierConfig) { cfg.JWKSURL = id.server.URL + "/oauth2/jwks" })
	if _, err := v.Verify(context.Background(), id.sign(t, "k1", validClaims())); err != nil {
		t.Fatalf("Verify with an unreadable revocation list = %v, want the token accepted", err)
	}
}

func TestVerifyRejectsTokenOfOtherService(t *testing.T) {
	t.Parallel()
	const (
		dokkuExec = "urn:dokkumcp:dokkuexec"
		mcpEdge   = "http://127.0.0.1:8080/mcp"
	)
	tests := []struct {
		name      string
		tokenAud  string
		verifyAud string
	}{
		{"DokkuExec token presented to mcpedge", dokkuExec, mcpEdge},
		{"mcpedge token presented to DokkuExec", mcpEdge, dokkuExec},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			id := newIdentity(t)
			raw := id.sign(t, "k1", with(validClaims(), map[string]any{"aud": []string{tt.tokenAud}}))
			v := id.verifier(func(cfg *auth.VerifierConfig) { cfg.Audience = tt.verifyAud })
			if _, err := v.Verify(context.Background(), raw); !errors.Is(err, auth.ErrInvalidToken) {
				t.Errorf("Verify error = %v, want ErrInvalidToken for audience %s", err, tt.tokenAud)
			}
			own := id.verifier(func(cfg *auth.VerifierConfig) { cfg.Audience = tt.tokenAud })
			if _, err := own.Verify(context.Background(), raw); err != nil {
				t.Errorf("the token is rejected by its own audience: %v", err)
			}
		})
	}
}
