package server_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	identityv1 "dokkumcp.dev/gen/dokkumcp/identity/v1"
)

// authorizedKey returns key as an OpenSSH authorized_keys line.
func authorizedKey(key ed25519.PublicKey) string {
	var blob []byte
	for _, part := range [][]byte{[]byte("ssh-ed25519"), key} {
		blob = binary.BigEndian.AppendUint32(blob, uint32(len(part)))
		blob = append(blob, part...)
	}
	return "ssh-ed25519 " + base64.StdEncoding.EncodeToString(blob) + " ci@example"
}

func pemKey(t *testing.T, key ed25519.PublicKey) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func jwkKey(key ed25519.PublicKey) string {
	return fmt.Sprintf(`{"kty":"OKP","crv":"Ed25519","x":%q}`, base64.RawURLEncoding.EncodeToString(key))
}

// createKeyClient registers a tenant client with a public key.
func (s *testServer) createKeyClient(t *testing.T, req *identityv1.CreateClientRequest) (*identityv1.CreateClientResponse, error) {
	t.Helper()
	operator := s.token(t, "operator", s.Secrets["operator"], audienceIdentity)
	resp, err := s.identityClient(operator).CreateClient(context.Background(), connect.NewRequest(req))
	if err != nil {
		return nil, err
	}
	return resp.Msg, nil
}

// assertion signs client assertion claims with key.
func assertion(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	raw, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func assertionClaims(srv *testServer, clientID string) jwt.MapClaims {
	jti := make([]byte, 16)
	rand.Read(jti)
	now := time.Now()
	return jwt.MapClaims{
		"iss": clientID,
		"sub": clientID,
		"aud": srv.URL + "/oauth2/token",
		"iat": now.Unix(),
		"exp": now.Add(2 * time.Minute).Unix(),
		"jti": hex.EncodeToString(jti),
	}
}

func assertionConfig(srv *testServer, clientID, signed string) *clientcredentials.Config {
	return &clientcredentials.Config{
		ClientID: clientID,
		TokenURL: srv.URL + "/oauth2/token",
		EndpointParams: url.Values{
			"resource":              {mcpURL},
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
			"client_assertion":      {signed},
		},
		AuthStyle: oauth2.AuthStyleInParams,
	}
}

func TestPrivateKeyJWT(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverSetup{})
	public, private, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	created, err := srv.createKeyClient(t, &identityv1.CreateClientRequest{TenantId: "t-42", Name: "ci", Role: "deployer", PublicKey: authorizedKey(public)})
	if err != nil {
		t.Fatal(err)
	}
	id := created.GetClient().GetClientId()
	if created.GetClientSecret() != "" {
		t.Error("a client registered with a public key got a secret")
	}
	if created.GetClient().GetPublicKeyThumbprint() == "" {
		t.Error("the created client has no public key thumbprint")
	}

	signed := assertion(t, jwt.SigningMethodEdDSA, private, assertionClaims(srv, id))
	tok, err := assertionConfig(srv, id, signed).Token(context.Background())
	if err != nil {
		t.Fatalf("token with private_key_jwt: %v", err)
	}
	principal := srv.verify(t, mcpURL, tok.AccessToken)
	if principal.ClientID != id || principal.TenantID != "t-42" {
		t.Errorf("client_id = %q, tenant_id = %q; want %q, t-42", principal.ClientID, principal.TenantID, id)
	}

	// Issuer as audience, and no client_id parameter: the sub names the client.
	claims := assertionClaims(srv, id)
	claims["aud"] = srv.URL
	if _, err := assertionConfig(srv, "", assertion(t, jwt.SigningMethodEdDSA, private, claims)).Token(context.Background()); err != nil {
		t.Errorf("token with the issuer as audience and no client_id: %v", err)
	}

	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	edit := func(changes map[string]any) jwt.MapClaims {
		c := assertionClaims(srv, id)
		for k, v := range changes {
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
		}
		return c
	}
	tests := []struct {
		name     string
		clientID string
		signed   string
	}{
		{"replayed", id, signed},
		{"other key", id, assertion(t, jwt.SigningMethodEdDSA, otherKey, edit(nil))},
		{"HS256 with public key", id, assertion(t, jwt.SigningMethodHS256, []byte(public), edit(nil))},
		{"other audience", id, assertion(t, jwt.SigningMethodEdDSA, private, edit(map[string]any{"aud": "http://127.0.0.1:9/oauth2/token"}))},
		{"missing audience", id, assertion(t, jwt.SigningMethodEdDSA, private, edit(map[string]any{"aud": nil}))},
		{"exp too far ahead", id, assertion(t, jwt.SigningMethodEdDSA, private, edit(map[string]any{"exp": time.Now().Add(10 * time.Minute).Unix()}))},
		{"expired", id, assertion(t, jwt.SigningMethodEdDSA, private, edit(map[string]any{"exp": time.Now().Add(-2 * time.Minute).Unix()}))},
		{"missing exp", id, assertion(t, jwt.SigningMethodEdDSA, private, edit(map[string]any{"exp": nil}))},
		{"missing jti", id, assertion(t, jwt.SigningMethodEdDSA, private, edit(map[string]any{"jti": nil}))},
		{"iss differs from sub", id, assertion(t, jwt.SigningMethodEdDSA, private, edit(map[string]any{"iss": "c-other"}))},
		{"client_id differs from sub", "c-other", assertion(t, jwt.SigningMethodEdDSA, private, edit(nil))},
		{"client without key", "dokkuexec", assertion(t, jwt.SigningMethodEdDSA, private, edit(map[string]any{"iss": "dokkuexec", "sub": "dokkuexec"}))},
		{"not a JWT", id, "not-a-jwt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			form := url.Values{
				"grant_type":            {"client_credentials"},
				"resource":              {mcpURL},
				"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
				"client_assertion":      {tt.signed},
			}
			if tt.clientID != "" {
				form.Set("client_id", tt.clientID)
			}
			resp := srv.postToken(t, form, nil)
			if resp.Status != http.StatusUnauthorized || resp.Error != "invalid_client" {
				t.Errorf("status %d %s (%s), want 401 invalid_client", resp.Status, resp.Error, resp.ErrorDescription)
			}
		})
	}
}

func TestPrivateKeyJWTRequestErrors(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverSetup{})
	tests := []struct {
		name      string
		form      url.Values
		basic     []string
		wantError string
	}{
		{"wrong assertion type", url.Values{"client_assertion_type": {"urn:other"}, "client_assertion": {"x"}}, nil, "invalid_client"},
		{"missing assertion", url.Values{"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}}, nil, "invalid_client"},
		{"assertion and secret", url.Values{"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {"x"}}, []string{"dokkuexec", srv.Secrets["dokkuexec"]}, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.form.Set("grant_type", "client_credentials")
			tt.form.Set("resource", audienceTenancy)
			if resp := srv.postToken(t, tt.form, tt.basic); resp.Error != tt.wantError {
				t.Errorf("error = %s (%s), want %s", resp.Error, resp.ErrorDescription, tt.wantError)
			}
		})
	}
}

func TestCreateClientPublicKeyForms(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverSetup{})
	public, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		jwk     string
		key     string
		wantErr bool
	}{
		{"JWK", jwkKey(public), "", false},
		{"authorized_keys line", "", authorizedKey(public), false},
		{"PEM", "", pemKey(t, public), false},
		{"both forms", jwkKey(public), authorizedKey(public), true},
		{"JWK with private key", `{"kty":"OKP","crv":"Ed25519","x":"` + base64.RawURLEncoding.EncodeToString(public) + `","d":"AAAA"}`, "", true},
		{"JWK of another curve", `{"kty":"OKP","crv":"X25519","x":"` + base64.RawURLEncoding.EncodeToString(public) + `"}`, "", true},
		{"RSA authorized key", "", "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ== x", true},
		{"short key", "", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAAQA=", true},
		{"garbage", "", "not a key", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp, err := srv.createKeyClient(t, &identityv1.CreateClientRequest{TenantId: "t-1", Name: "ci", Role: "viewer", PublicKeyJwk: tt.jwk, PublicKey: tt.key})
			if tt.wantErr {
				if connect.CodeOf(err) != connect.CodeInvalidArgument {
					t.Errorf("CreateClient error = %v, want InvalidArgument", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if resp.GetClient().GetPublicKeyThumbprint() == "" || resp.GetClientSecret() != "" {
				t.Errorf("client = %v, secret set = %v; want a thumbprint and no secret", resp.GetClient(), resp.GetClientSecret() != "")
			}
		})
	}
}
