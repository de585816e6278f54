package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	identityv1 "dokkumcp.dev/gen/dokkumcp/identity/v1"
	"dokkumcp.dev/platform/auth"
)

// postForm sends a client-authenticated form to path and returns the status
// and the decoded JSON body, if any.
func (s *testServer) postForm(t *testing.T, path string, form url.Values, id, secret string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &body); err != nil {
			t.Fatalf("POST %s: body is not JSON (status %d): %q", path, resp.StatusCode, raw)
		}
	}
	return resp.StatusCode, body
}

func (s *testServer) revoke(t *testing.T, id, secret, token string) {
	t.Helper()
	if status, body := s.postForm(t, "/oauth2/revoke", url.Values{"token": {token}}, id, secret); status != http.StatusOK {
		t.Fatalf("revoke: status %d %v, want 200", status, body)
	}
}

// waitForRejection polls until verifier rejects token as revoked.
func waitForRejection(t *testing.T, verifier *auth.Verifier, token string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := verifier.Verify(context.Background(), token)
		if err != nil {
			if !errors.Is(err, auth.ErrInvalidToken) || !strings.Contains(err.Error(), "revoked") {
				t.Fatalf("Verify error = %v, want ErrInvalidToken with reason revoked", err)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the verifier still accepts the token 10s after its revocation")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func mustVerify(t *testing.T, verifier *auth.Verifier, name, token string) {
	t.Helper()
	if _, err := verifier.Verify(context.Background(), token); err != nil {
		t.Errorf("token %s rejected: %v", name, err)
	}
}

func TestRevokeToken(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverSetup{})
	idA, secretA := srv.createClient(t, "t-1", "deployer")
	idB, secretB := srv.createClient(t, "t-2", "deployer")
	a1 := srv.token(t, idA, secretA, mcpURL)
	a2 := srv.token(t, idA, secretA, mcpURL)
	b1 := srv.token(t, idB, secretB, mcpURL)
	verifier := srv.fastVerifier(mcpURL)
	for name, tok := range map[string]string{"a1": a1, "a2": a2, "b1": b1} {
		mustVerify(t, verifier, name, tok)
	}

	srv.revoke(t, idA, secretA, a1)
	waitForRejection(t, verifier, a1)
	mustVerify(t, verifier, "a2", a2)
	mustVerify(t, verifier, "b1", b1)

	// RFC 7009 section 2.2: an invalid token gets 200 too.
	srv.revoke(t, idA, secretA, "not-a-token")
	// Another client's token is left alone.
	srv.revoke(t, idB, secretB, a2)
	if got := srv.introspect(t, a2)["active"]; got != true {
		t.Errorf("a2 after client B tried to revoke it: active = %v, want true", got)
	}

	if status, body := srv.postForm(t, "/oauth2/revoke", url.Values{"token": {a2}}, idA, "wrong"); status != http.StatusUnauthorized || body["error"] != "invalid_client" {
		t.Errorf("revoke with a wrong secret: status %d %v, want 401 invalid_client", status, body)
	}

	// A revoked token cannot be exchanged either.
	resp := srv.postToken(t, exchangeForm(a1, audienceDokkuExec, ""), []string{"mcpedge", srv.Secrets["mcpedge"]})
	if resp.Status != http.StatusBadRequest || !strings.Contains(resp.ErrorDescription, "revoked") {
		t.Errorf("exchange of a revoked token: status %d %s %q, want 400 naming the revocation", resp.Status, resp.Error, resp.ErrorDescription)
	}

	var list auth.RevocationList
	getJSON(t, srv.URL+"/oauth2/revocations", &list)
	if len(list.Revoked) != 1 || list.Version < 1 {
		t.Errorf("revocation list = %+v, want a1 only and a version", list)
	}
}

func TestDisableClient(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverSetup{})
	idA, secretA := srv.createClient(t, "t-1", "deployer")
	idB, secretB := srv.createClient(t, "t-2", "viewer")
	a1 := srv.token(t, idA, secretA, mcpURL)
	a2 := srv.token(t, idA, secretA, mcpURL)
	b1 := srv.token(t, idB, secretB, mcpURL)
	verifier := srv.fastVerifier(mcpURL)
	admin := srv.identityClient(srv.token(t, "operator", srv.Secrets["operator"], audienceIdentity))

	resp, err := admin.DisableClient(context.Background(), connect.NewRequest(&identityv1.DisableClientRequest{ClientId: idA}))
	if err != nil {
		t.Fatal(err)
	}
	if !resp.Msg.GetClient().GetDisabled() {
		t.Errorf("DisableClient returned %v, want disabled", resp.Msg.GetClient())
	}
	waitForRejection(t, verifier, a1)
	waitForRejection(t, verifier, a2)
	mustVerify(t, verifier, "b1", b1)
	if _, err := srv.clientConfig(idA, secretA, mcpURL, 0).Token(context.Background()); err == nil {
		t.Error("a disabled client got a token")
	}
	if got := srv.introspect(t, a2)["active"]; got != false {
		t.Errorf("introspection of a disabled client's token: active = %v, want false", got)
	}

	if _, err := admin.EnableClient(context.Background(), connect.NewRequest(&identityv1.EnableClientRequest{ClientId: idA})); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, err := verifier.Verify(context.Background(), a2); err != nil; _, err = verifier.Verify(context.Background(), a2) {
		if time.Now().After(deadline) {
			t.Fatalf("a2 still rejected 10s after EnableClient: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}

	_, err = admin.DisableClient(context.Background(), connect.NewRequest(&identityv1.DisableClientRequest{ClientId: "c-unknown"}))
	if connect.CodeOf(err) != connect.CodeNotFound {
		t.Errorf("DisableClient of an unknown client: %v, want NotFound", err)
	}
	tenantToken := srv.token(t, idB, secretB, mcpURL)
	_, err = srv.identityClient(tenantToken).DisableClient(context.Background(), connect.NewRequest(&identityv1.DisableClientRequest{ClientId: idA}))
	if err == nil {
		t.Error("a tenant client's token disabled a client, want it rejected")
	}
}

// introspect sends token to the introspection endpoint as dokkuexec.
func (s *testServer) introspect(t *testing.T, token string) map[string]any {
	t.Helper()
	status, body := s.postForm(t, "/oauth2/introspect", url.Values{"token": {token}}, "dokkuexec", s.Secrets["dokkuexec"])
	if status != http.StatusOK {
		t.Fatalf("introspect: status %d %v, want 200", status, body)
	}
	return body
}

func TestIntrospect(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverSetup{})
	id, secret := srv.createClient(t, "t-42", "deployer")
	token := srv.token(t, id, secret, mcpURL, "apps:read")
	exchanged := srv.postToken(t, exchangeForm(token, audienceDokkuExec, ""), []string{"mcpedge", srv.Secrets["mcpedge"]})
	if exchanged.Status != http.StatusOK {
		t.Fatalf("exchange: %d %s", exchanged.Status, exchanged.ErrorDescription)
	}

	got := srv.introspect(t, token)
	want := map[string]any{
		"active": true, "scope": "apps:read", "client_id": id, "sub": id,
		"tenant_id": "t-42", "token_type": "Bearer", "iss": srv.URL,
	}
	for field, value := range want {
		if got[field] != value {
			t.Errorf("%s = %v, want %v", field, got[field], value)
		}
	}
	if aud := stringList(got["aud"]); len(aud) != 1 || aud[0] != mcpURL {
		t.Errorf("aud = %v, want [%s]", got["aud"], mcpURL)
	}
	for _, field := range []string{"exp", "iat", "jti"} {
		if got[field] == nil {
			t.Errorf("%s missing from %v", field, got)
		}
	}
	if act, _ := srv.introspect(t, exchanged.AccessToken)["act"].(map[string]any); act["sub"] != "mcpedge" {
		t.Errorf("act of the exchanged token = %v, want sub mcpedge", act)
	}

	for name, tok := range map[string]string{"garbage": "not-a-token", "tampered": token[:len(token)-4] + "AAAA"} {
		if body := srv.introspect(t, tok); body["active"] != false || len(body) != 1 {
			t.Errorf("introspection of a %s token = %v, want only active false", name, body)
		}
	}

	srv.revoke(t, id, secret, token)
	if body := srv.introspect(t, token); body["active"] != false {
		t.Errorf("introspection of a revoked token = %v, want active false", body)
	}

	status, body := srv.postForm(t, "/oauth2/introspect", url.Values{"token": {token}}, id, secret)
	if status != http.StatusBadRequest || body["error"] != "unauthorized_client" {
		t.Errorf("introspection by a tenant client: status %d %v, want 400 unauthorized_client", status, body)
	}
	status, body = srv.postForm(t, "/oauth2/introspect", url.Values{"token": {token}}, "dokkuexec", "wrong")
	if status != http.StatusUnauthorized || body["error"] != "invalid_client" {
		t.Errorf("introspection with a wrong secret: status %d %v, want 401 invalid_client", status, body)
	}
}
