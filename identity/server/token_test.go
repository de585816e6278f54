package server_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

func TestClientCredentialsAuthStyles(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverSetup{})
	id, secret := srv.createClient(t, "t-42", "deployer")

	tests := []struct {
		name  string
		style oauth2.AuthStyle
	}{
		{"client_secret_basic", oauth2.AuthStyleInHeader},
		{"client_secret_post", oauth2.AuthStyleInParams},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tok, err := srv.clientConfig(id, secret, mcpURL, tt.style).Token(context.Background())
			if err != nil {
				t.Fatal(err)
			}

			principal := srv.verify(t, mcpURL, tok.AccessToken)
			if principal.Subject != id || principal.ClientID != id {
				t.Errorf("sub = %q, client_id = %q; want both %q", principal.Subject, principal.ClientID, id)
			}
			if principal.TenantID != "t-42" {
				t.Errorf("tenant_id = %q, want t-42", principal.TenantID)
			}
			if got := principal.Scope(); got != "apps:read services:read logs:read apps:deploy apps:config" {
				t.Errorf("scope = %q, want the deployer's permissions", got)
			}
			if principal.Actor != "" {
				t.Errorf("act.sub = %q, want none", principal.Actor)
			}
			if !slices.Equal(principal.Audience, []string{mcpURL}) {
				t.Errorf("aud = %v, want [%s]", principal.Audience, mcpURL)
			}
			if tok.TokenType != "Bearer" {
				t.Errorf("token_type = %q, want Bearer", tok.TokenType)
			}
			if _, err := srv.verifier(audienceDokkuExec).Verify(context.Background(), tok.AccessToken); err == nil {
				t.Error("the token verifies for urn:dokkumcp:dokkuexec, want it rejected for another audience")
			}
		})
	}
}

func TestClientCredentialsResponse(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverSetup{})
	resp := srv.postToken(t, url.Values{"grant_type": {"client_credentials"}, "resource": {audienceTenancy}},
		[]string{"dokkuexec", srv.Secrets["dokkuexec"]})

	if resp.Status != http.StatusOK {
		t.Fatalf("status = %d (%s: %s), want 200", resp.Status, resp.Error, resp.ErrorDescription)
	}
	if got := resp.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", got)
	}
	if resp.TokenType != "Bearer" {
		t.Errorf("token_type = %q, want Bearer", resp.TokenType)
	}
	if resp.ExpiresIn < 890 || resp.ExpiresIn > 900 {
		t.Errorf("expires_in = %d, want about 900", resp.ExpiresIn)
	}
	if resp.Scope != "tenancy:read-hosts tenancy:read-limits tenancy:reserve-apps audit:append secrets:issue token:introspect" {
		t.Errorf("scope = %q, want the service:dokkuexec permissions", resp.Scope)
	}
	if resp.IssuedTokenType != "" {
		t.Errorf("issued_token_type = %q, want none for client_credentials", resp.IssuedTokenType)
	}

	principal := srv.verify(t, audienceTenancy, resp.AccessToken)
	if principal.TenantID != "" {
		t.Errorf("tenant_id = %q, want none for a platform client", principal.TenantID)
	}
	if principal.TokenID == "" {
		t.Error("jti is empty")
	}
	if !strings.Contains(srv.Logs.String(), `"jti":"`+principal.TokenID+`"`) {
		t.Error("the issue log line does not name the token's jti")
	}
}

func TestClientAuthenticationFailures(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverSetup{})
	id, _ := srv.createClient(t, "t-42", "viewer")
	disabledID, disabledSecret := srv.createClient(t, "t-42", "viewer")
	disableClient(t, srv, disabledID)

	form := url.Values{"grant_type": {"client_credentials"}, "resource": {mcpURL}}
	postForm := func(id, secret string) url.Values {
		f := url.Values{"client_id": {id}, "client_secret": {secret}}
		for k, v := range form {
			f[k] = v
		}
		return f
	}
	tests := []struct {
		name          string
		form          url.Values
		basic         []string
		wantChallenge bool
	}{
		{"basic wrong secret", form, []string{id, "wrong"}, true},
		{"basic unknown client", form, []string{"c-unknown", "wrong"}, true},
		{"basic disabled client", form, []string{disabledID, disabledSecret}, true},
		{"post wrong secret", postForm(id, "wrong"), nil, false},
		{"post unknown client", postForm("c-unknown", "wrong"), nil, false},
		{"no credentials", form, nil, true},
		{"basic client id with NUL", form, []string{"a\x00b", "wrong"}, true},
		{"post client id invalid UTF-8", postForm("a\xffb", "wrong"), nil, false},
		{"post client id too long", postForm(strings.Repeat("c", 1000), "wrong"), nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp := srv.postToken(t, tt.form, tt.basic)
			if resp.Status != http.StatusUnauthorized || resp.Error != "invalid_client" {
				t.Fatalf("got %d %s, want 401 invalid_client", resp.Status, resp.Error)
			}
			challenge := resp.Header.Get("WWW-Authenticate")
			if tt.wantChallenge && challenge != `Basic realm="dokkumcp"` {
				t.Errorf("WWW-Authenticate = %q, want the Basic challenge", challenge)
			}
			if !tt.wantChallenge && challenge != "" {
				t.Errorf("WWW-Authenticate = %q, want none for client_secret_post", challenge)
			}
		})
	}

	t.Run("x/oauth2 wrong secret", func(t *testing.T) {
		t.Parallel()
		_, err := srv.clientConfig(id, "wrong", mcpURL, oauth2.AuthStyleInHeader).Token(context.Background())
		var retrieveErr *oauth2.RetrieveError
		if !errors.As(err, &retrieveErr) {
			t.Fatalf("error = %v, want *oauth2.RetrieveError", err)
		}
		if retrieveErr.Response.StatusCode != http.StatusUnauthorized || retrieveErr.ErrorCode != "invalid_client" {
			t.Errorf("got %d %s, want 401 invalid_client", retrieveErr.Response.StatusCode, retrieveErr.ErrorCode)
		}
	})
}

func TestClientCredentialsResource(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverSetup{})
	mcpOnlyID, mcpOnlySecret := srv.createClient(t, "t-42", "owner", mcpURL)

	tests := []struct {
		name      string
		client    []string
		resource  []string
		wantError string
	}{
		{"tenant client own resource", []string{mcpOnlyID, mcpOnlySecret}, []string{mcpURL}, ""},
		{"tenant client resource not on client", []string{mcpOnlyID, mcpOnlySecret}, []string{audienceDokkuExec}, "invalid_target"},
		{"tenant client service audience", []string{mcpOnlyID, mcpOnlySecret}, []string{audienceIdentity}, "invalid_target"},
		{"missing resource", []string{mcpOnlyID, mcpOnlySecret}, nil, "invalid_target"},
		{"two resources", []string{mcpOnlyID, mcpOnlySecret}, []string{mcpURL, mcpURL}, "invalid_target"},
		{"dokkuexec identity", []string{"dokkuexec", srv.Secrets["dokkuexec"]}, []string{audienceIdentity}, "invalid_target"},
		{"dokkuexec secrets", []string{"dokkuexec", srv.Secrets["dokkuexec"]}, []string{"urn:dokkumcp:secrets"}, ""},
		{"mcpedge dokkuexec", []string{"mcpedge", srv.Secrets["mcpedge"]}, []string{audienceDokkuExec}, "invalid_target"},
		{"mcpedge mcp", []string{"mcpedge", srv.Secrets["mcpedge"]}, []string{mcpURL}, "invalid_target"},
		{"operator dokkuexec", []string{"operator", srv.Secrets["operator"]}, []string{audienceDokkuExec}, ""},
		{"operator mcp", []string{"operator", srv.Secrets["operator"]}, []string{mcpURL}, "invalid_target"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp := srv.postToken(t, url.Values{"grant_type": {"client_credentials"}, "resource": tt.resource}, tt.client)
			if tt.wantError == "" {
				if resp.Status != http.StatusOK {
					t.Fatalf("got %d %s (%s), want 200", resp.Status, resp.Error, resp.ErrorDescription)
				}
				srv.verify(t, tt.resource[0], resp.AccessToken)
				return
			}
			if resp.Status != http.StatusBadRequest || resp.Error != tt.wantError {
				t.Errorf("got %d %s, want 400 %s", resp.Status, resp.Error, tt.wantError)
			}
			if resp.AccessToken != "" {
				t.Error("an error response carries an access token")
			}
		})
	}
}

func TestClientCredentialsScopeNarrowing(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverSetup{})
	id, secret := srv.createClient(t, "t-42", "deployer")

	tests := []struct {
		name      string
		scope     string
		wantScope string
		wantError string
	}{
		{"no scope gets all", "", "apps:read services:read logs:read apps:deploy apps:config", ""},
		{"subset", "apps:deploy apps:read", "apps:read apps:deploy", ""},
		{"disallowed dropped", "apps:read apps:destroy", "apps:read", ""},
		{"unknown dropped", "logs:read made:up", "logs:read", ""},
		{"nothing granted", "apps:destroy tenant:admin", "", "invalid_scope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			form := url.Values{"grant_type": {"client_credentials"}, "resource": {mcpURL}}
			if tt.scope != "" {
				form.Set("scope", tt.scope)
			}
			resp := srv.postToken(t, form, []string{id, secret})
			if tt.wantError != "" {
				if resp.Status != http.StatusBadRequest || resp.Error != tt.wantError {
					t.Fatalf("got %d %s, want 400 %s", resp.Status, resp.Error, tt.wantError)
				}
				return
			}
			if resp.Status != http.StatusOK {
				t.Fatalf("got %d %s (%s), want 200", resp.Status, resp.Error, resp.ErrorDescription)
			}
			if resp.Scope != tt.wantScope {
				t.Errorf("response scope = %q, want %q", resp.Scope, tt.wantScope)
			}
			if got := srv.verify(t, mcpURL, resp.AccessToken).Scope(); got != tt.wantScope {
				t.Errorf("token scope = %q, want %q", got, tt.wantScope)
			}
		})
	}
}

func TestTokenRequestMalformed(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverSetup{})
	basic := []string{"dokkuexec", srv.Secrets["dokkuexec"]}
	valid := "grant_type=client_credentials&resource=" + url.QueryEscape(audienceTenancy)

	tests := []struct {
		name        string
		contentType string
		body        string
		wantStatus  int
		wantError   string
	}{
		{"unsupported grant type", "application/x-www-form-urlencoded", "grant_type=password&resource=x", 400, "unsupported_grant_type"},
		{"authorization code grant", "application/x-www-form-urlencoded", "grant_type=authorization_code&code=x", 400, "unsupported_grant_type"},
		{"missing grant type", "application/x-www-form-urlencoded", "resource=x", 400, "invalid_request"},
		{"repeated grant type", "application/x-www-form-urlencoded", valid + "&grant_type=client_credentials", 400, "invalid_request"},
		{"JSON body", "application/json", `{"grant_type":"client_credentials"}`, 400, "invalid_request"},
		{"body too large", "application/x-www-form-urlencoded", valid + "&scope=" + strings.Repeat("a", 70<<10), 400, "invalid_request"},
		{"form with charset", "application/x-www-form-urlencoded; charset=utf-8", valid, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp := srv.postTokenBody(t, tt.contentType, tt.body, basic)
			if resp.Status != tt.wantStatus || resp.Error != tt.wantError {
				t.Errorf("got %d %q (%s), want %d %q", resp.Status, resp.Error, resp.ErrorDescription, tt.wantStatus, tt.wantError)
			}
		})
	}

	t.Run("query string", func(t *testing.T) {
		t.Parallel()
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/oauth2/token?client_secret=x", strings.NewReader(valid))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(basic[0], basic[1])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("status = %d, want 400", resp.StatusCode)
		}
	})

	t.Run("both auth methods", func(t *testing.T) {
		t.Parallel()
		resp := srv.postTokenBody(t, "application/x-www-form-urlencoded", valid+"&client_secret=x", basic)
		if resp.Status != http.StatusBadRequest || resp.Error != "invalid_request" {
			t.Errorf("got %d %s, want 400 invalid_request", resp.Status, resp.Error)
		}
	})

	t.Run("GET", func(t *testing.T) {
		t.Parallel()
		resp, err := http.Get(srv.URL + "/oauth2/token")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("status = %d, want 405", resp.StatusCode)
		}
	})
}

func TestBasicCredentialsAreFormDecoded(t *testing.T) {
	t.Parallel()
	// RFC 6749 section 2.3.1: a secret with reserved characters travels
	// form-url-encoded inside the Basic credentials.
	secret := "a secret+with/reserved=chars:and%more and spaces!!"
	srv := startServer(t, serverSetup{secrets: map[string]string{"operator": secret}})

	resp := srv.postToken(t, url.Values{"grant_type": {"client_credentials"}, "resource": {audienceIdentity}}, []string{"operator", secret})
	if resp.Status != http.StatusOK {
		t.Fatalf("got %d %s, want 200", resp.Status, resp.Error)
	}

	// x/oauth2 encodes the same way for AuthStyleInHeader.
	srv.token(t, "operator", secret, audienceIdentity)
}
