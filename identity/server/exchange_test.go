package server_test

import (
	"context"
	"crypto/ed25519"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jackc/pgx/v5"

	"dokkumcp.dev/identity/internal/app"
	"dokkumcp.dev/platform/auth"
)

// signingKey reads the active signing key from the database and unseals it
// with the master key, so tests can sign tokens the server would accept.
func signingKey(t *testing.T, srv *testServer) (string, ed25519.PrivateKey) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, srv.PostgresURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)

	var kid string
	var sealed []byte
	err = conn.QueryRow(ctx, `SELECT kid, sealed_private_key FROM identity.signing_keys WHERE state = 'active'`).Scan(&kid, &sealed)
	if err != nil {
		t.Fatal(err)
	}
	keyring, err := app.NewKeyring(srv.MasterKey)
	if err != nil {
		t.Fatal(err)
	}
	seed, err := keyring.Open(sealed, kid)
	if err != nil {
		t.Fatal(err)
	}
	return kid, ed25519.NewKeyFromSeed(seed)
}

func signToken(t *testing.T, kid string, key ed25519.PrivateKey, claims auth.Claims) string {
	t.Helper()
	token := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	token.Header["typ"] = "at+jwt"
	token.Header["kid"] = kid
	signed, err := token.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

func disableClient(t *testing.T, srv *testServer, clientID string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, srv.PostgresURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `UPDATE identity.clients SET disabled = true WHERE client_id = $1`, clientID); err != nil {
		t.Fatal(err)
	}
}

func TestTokenExchange(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverSetup{})
	id, secret := srv.createClient(t, "t-42", "deployer")
	subjectToken := srv.token(t, id, secret, mcpURL, "apps:read", "apps:deploy", "logs:read")
	subject := srv.verify(t, mcpURL, subjectToken)
	mcpedge := []string{"mcpedge", srv.Secrets["mcpedge"]}

	tests := []struct {
		name      string
		scope     string
		wantScope string
	}{
		{"all of the subject's scopes", "", "apps:read logs:read apps:deploy"},
		{"subset", "apps:read", "apps:read"},
		{"scopes beyond the subject's dropped", "apps:read apps:destroy apps:config", "apps:read"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp := srv.postToken(t, exchangeForm(subjectToken, audienceDokkuExec, tt.scope), mcpedge)
			if resp.Status != http.StatusOK {
				t.Fatalf("got %d %s (%s), want 200", resp.Status, resp.Error, resp.ErrorDescription)
			}
			if resp.IssuedTokenType != "urn:ietf:params:oauth:token-type:access_token" {
				t.Errorf("issued_token_type = %q", resp.IssuedTokenType)
			}
			if resp.TokenType != "Bearer" {
				t.Errorf("token_type = %q, want Bearer", resp.TokenType)
			}

			exchanged := srv.verify(t, audienceDokkuExec, resp.AccessToken)
			if exchanged.Actor != "mcpedge" {
				t.Errorf("act.sub = %q, want mcpedge", exchanged.Actor)
			}
			if exchanged.Subject != subject.Subject || exchanged.ClientID != subject.ClientID {
				t.Errorf("sub, client_id = %q, %q; want the subject's %q, %q", exchanged.Subject, exchanged.ClientID, subject.Subject, subject.ClientID)
			}
			if exchanged.TenantID != "t-42" {
				t.Errorf("tenant_id = %q, want t-42", exchanged.TenantID)
			}
			if exchanged.Scope() != tt.wantScope {
				t.Errorf("scope = %q, want %q", exchanged.Scope(), tt.wantScope)
			}
			if exchanged.TokenID == subject.TokenID {
				t.Error("the exchanged token reuses the subject's jti")
			}
			if _, err := srv.verifier(mcpURL).Verify(context.Background(), resp.AccessToken); err == nil {
				t.Error("the exchanged token verifies for the MCP audience")
			}
		})
	}
}

func TestTokenExchangeKeepsSubjectExpiry(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverSetup{})
	id, _ := srv.createClient(t, "t-42", "viewer")
	kid, key := signingKey(t, srv)

	now := time.Now()
	subjectExpiry := now.Add(2 * time.Minute).Truncate(time.Second)
	subjectToken := signToken(t, kid, key, auth.Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: srv.URL, Subject: id, Audience: jwt.ClaimStrings{mcpURL},
			ExpiresAt: jwt.NewNumericDate(subjectExpiry), IssuedAt: jwt.NewNumericDate(now), ID: "subject-1",
		},
		ClientID: id, Scope: "apps:read", TenantID: "t-42",
	})

	resp := srv.postToken(t, exchangeForm(subjectToken, audienceDokkuExec, ""), []string{"mcpedge", srv.Secrets["mcpedge"]})
	if resp.Status != http.StatusOK {
		t.Fatalf("got %d %s (%s), want 200", resp.Status, resp.Error, resp.ErrorDescription)
	}
	if resp.ExpiresIn > 120 {
		t.Errorf("expires_in = %d, want at most the subject's remaining 120 s", resp.ExpiresIn)
	}
	var claims auth.Claims
	if _, _, err := jwt.NewParser().ParseUnverified(resp.AccessToken, &claims); err != nil {
		t.Fatal(err)
	}
	if !claims.ExpiresAt.Equal(subjectExpiry) {
		t.Errorf("exp = %v, want the subject's %v", claims.ExpiresAt.Time, subjectExpiry)
	}
}

func TestTokenExchangeRejected(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverSetup{})
	id, secret := srv.createClient(t, "t-42", "deployer")
	disabledID, disabledSecret := srv.createClient(t, "t-42", "deployer")
	subjectToken := srv.token(t, id, secret, mcpURL)
	disabledSubject := srv.token(t, disabledID, disabledSecret, mcpURL)
	disableClient(t, srv, disabledID)
	dokkuexecAudienceToken := srv.token(t, id, secret, audienceDokkuExec)
	mcpedge := []string{"mcpedge", srv.Secrets["mcpedge"]}

	exchanged := srv.postToken(t, exchangeForm(subjectToken, audienceDokkuExec, ""), mcpedge)
	if exchanged.Status != http.StatusOK {
		t.Fatalf("exchange for the re-exchange case failed: %d %s", exchanged.Status, exchanged.Error)
	}

	kid, key := signingKey(t, srv)
	_, otherKey, _ := ed25519.GenerateKey(nil)
	now := time.Now()
	claims := func(jti string, issuedAt, expiry time.Time) auth.Claims {
		return auth.Claims{
			RegisteredClaims: jwt.RegisteredClaims{
				Issuer: srv.URL, Subject: id, Audience: jwt.ClaimStrings{mcpURL},
				ExpiresAt: jwt.NewNumericDate(expiry), IssuedAt: jwt.NewNumericDate(issuedAt), ID: jti,
			},
			ClientID: id, Scope: "apps:read", TenantID: "t-42",
		}
	}
	expired := signToken(t, kid, key, claims("expired", now.Add(-time.Hour), now.Add(-time.Minute)))
	forged := signToken(t, kid, otherKey, claims("forged", now, now.Add(time.Minute)))
	otherIssuer := claims("other-issuer", now, now.Add(time.Minute))
	otherIssuer.Issuer = "http://127.0.0.1:1"
	wrongIssuer := signToken(t, kid, key, otherIssuer)
	otherTenant := claims("other-tenant", now, now.Add(time.Minute))
	otherTenant.TenantID = "t-other"
	tenantMismatch := signToken(t, kid, key, otherTenant)
	withActor := claims("with-actor", now, now.Add(time.Minute))
	withActor.Act = &auth.Actor{Subject: "mcpedge"}
	alreadyExchanged := signToken(t, kid, key, withActor)
	idTokenType := exchangeForm(subjectToken, audienceDokkuExec, "")
	idTokenType.Set("subject_token_type", "urn:ietf:params:oauth:token-type:id_token")

	tests := []struct {
		name       string
		client     []string
		form       url.Values
		wantStatus int
		wantError  string
	}{
		{"actor without token:exchange", []string{"dokkuexec", srv.Secrets["dokkuexec"]}, exchangeForm(subjectToken, audienceDokkuExec, ""), 400, "unauthorized_client"},
		{"tenant client as actor", []string{id, secret}, exchangeForm(subjectToken, audienceDokkuExec, ""), 400, "unauthorized_client"},
		{"subject token for the wrong audience", mcpedge, exchangeForm(dokkuexecAudienceToken, audienceDokkuExec, ""), 400, "invalid_request"},
		{"forged subject token", mcpedge, exchangeForm(forged, audienceDokkuExec, ""), 400, "invalid_request"},
		{"expired subject token", mcpedge, exchangeForm(expired, audienceDokkuExec, ""), 400, "invalid_request"},
		{"subject token of another issuer", mcpedge, exchangeForm(wrongIssuer, audienceDokkuExec, ""), 400, "invalid_request"},
		{"subject tenant differs from its client", mcpedge, exchangeForm(tenantMismatch, audienceDokkuExec, ""), 400, "invalid_request"},
		{"subject client disabled", mcpedge, exchangeForm(disabledSubject, audienceDokkuExec, ""), 400, "invalid_request"},
		{"exchanged token for dokkuexec as subject", mcpedge, exchangeForm(exchanged.AccessToken, audienceDokkuExec, ""), 400, "invalid_request"},
		{"subject token with act for the MCP audience", mcpedge, exchangeForm(alreadyExchanged, audienceDokkuExec, ""), 400, "invalid_request"},
		{"subject token not a JWT", mcpedge, exchangeForm("not-a-token", audienceDokkuExec, ""), 400, "invalid_request"},
		{"target not allowed", mcpedge, exchangeForm(subjectToken, "urn:dokkumcp:secrets", ""), 400, "invalid_target"},
		{"missing target", mcpedge, exchangeForm(subjectToken, "", ""), 400, "invalid_target"},
		{"no scope of the subject", mcpedge, exchangeForm(subjectToken, audienceDokkuExec, "apps:destroy"), 400, "invalid_scope"},
		{"wrong actor secret", []string{"mcpedge", "wrong"}, exchangeForm(subjectToken, audienceDokkuExec, ""), 401, "invalid_client"},
		{"wrong subject token type", mcpedge, idTokenType, 400, "invalid_request"},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp := srv.postToken(t, tt.form, tt.client)
			if resp.Status != tt.wantStatus || resp.Error != tt.wantError {
				t.Errorf("got %d %s (%s), want %d %s", resp.Status, resp.Error, resp.ErrorDescription, tt.wantStatus, tt.wantError)
			}
			if resp.AccessToken != "" {
				t.Error("a rejected exchange returned a token")
			}
		})
	}
}
