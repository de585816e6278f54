package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5"

	identityv1 "dokkumcp.dev/gen/dokkumcp/identity/v1"
	"dokkumcp.dev/identity/internal/app"
	"dokkumcp.dev/platform/auth"
)

func TestCreateClientOverConnect(t *testing.T) {
	t.Parallel()
	// urn:dokkumcp:identity is offered to tenant clients here only so that a
	// tenant token can reach IdentityService and be denied by permission.
	srv := startServer(t, serverSetup{tenantResources: []string{audienceDokkuExec, mcpURL, audienceIdentity}})
	operator := srv.identityClient(srv.token(t, "operator", srv.Secrets["operator"], audienceIdentity))
	ctx := context.Background()

	created, err := operator.CreateClient(ctx, connect.NewRequest(&identityv1.CreateClientRequest{
		TenantId: "t-7", Name: "ci deploy", Role: "maintainer", Resources: []string{mcpURL},
	}))
	if err != nil {
		t.Fatal(err)
	}
	client := created.Msg.GetClient()
	if !strings.HasPrefix(client.GetClientId(), "c-") || client.GetTenantId() != "t-7" || client.GetRole() != "maintainer" || client.GetName() != "ci deploy" {
		t.Errorf("created client = %v", client)
	}
	if !slices.Equal(client.GetResources(), []string{mcpURL}) {
		t.Errorf("resources = %v, want [%s]", client.GetResources(), mcpURL)
	}
	if client.GetCreateTime() == nil || client.GetDisabled() {
		t.Errorf("create_time = %v, disabled = %v", client.GetCreateTime(), client.GetDisabled())
	}
	if len(created.Msg.GetClientSecret()) != 43 {
		t.Errorf("client secret has %d characters, want 43", len(created.Msg.GetClientSecret()))
	}
	srv.token(t, client.GetClientId(), created.Msg.GetClientSecret(), mcpURL)

	second, err := operator.CreateClient(ctx, connect.NewRequest(&identityv1.CreateClientRequest{TenantId: "t-7", Name: "viewer", Role: "viewer"}))
	if err != nil {
		t.Fatal(err)
	}
	if got := second.Msg.GetClient().GetResources(); !slices.Equal(got, []string{audienceDokkuExec, mcpURL, audienceIdentity}) {
		t.Errorf("default resources = %v, want every tenant resource", got)
	}
	if _, err := operator.CreateClient(ctx, connect.NewRequest(&identityv1.CreateClientRequest{TenantId: "t-8", Name: "other", Role: "viewer"})); err != nil {
		t.Fatal(err)
	}

	listed, err := operator.ListClients(ctx, connect.NewRequest(&identityv1.ListClientsRequest{TenantId: "t-7"}))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range listed.Msg.GetClients() {
		ids = append(ids, c.GetClientId())
	}
	if want := []string{client.GetClientId(), second.Msg.GetClient().GetClientId()}; !slices.Equal(ids, want) {
		t.Errorf("ListClients(t-7) = %v, want %v", ids, want)
	}

	t.Run("tenant owner token denied", func(t *testing.T) {
		t.Parallel()
		ownerID, ownerSecret := srv.createClient(t, "t-7", "owner")
		owner := srv.identityClient(srv.token(t, ownerID, ownerSecret, audienceIdentity))
		_, err := owner.CreateClient(ctx, connect.NewRequest(&identityv1.CreateClientRequest{TenantId: "t-7", Name: "x", Role: "owner"}))
		if code := connect.CodeOf(err); code != connect.CodePermissionDenied {
			t.Errorf("CreateClient with an owner token: %v, want PermissionDenied", err)
		}
		_, err = owner.ListClients(ctx, connect.NewRequest(&identityv1.ListClientsRequest{TenantId: "t-7"}))
		if code := connect.CodeOf(err); code != connect.CodePermissionDenied {
			t.Errorf("ListClients with an owner token: %v, want PermissionDenied", err)
		}
	})

	t.Run("token for another audience rejected", func(t *testing.T) {
		t.Parallel()
		tenancyToken := srv.token(t, "operator", srv.Secrets["operator"], audienceTenancy)
		_, err := srv.identityClient(tenancyToken).ListClients(ctx, connect.NewRequest(&identityv1.ListClientsRequest{TenantId: "t-7"}))
		if code := connect.CodeOf(err); code != connect.CodeUnauthenticated {
			t.Errorf("ListClients with a tenancy token: %v, want Unauthenticated", err)
		}
	})

	t.Run("no token rejected", func(t *testing.T) {
		t.Parallel()
		_, err := srv.identityClient("").ListClients(ctx, connect.NewRequest(&identityv1.ListClientsRequest{TenantId: "t-7"}))
		if code := connect.CodeOf(err); code != connect.CodeUnauthenticated {
			t.Errorf("ListClients without a token: %v, want Unauthenticated", err)
		}
	})

	invalid := []struct {
		name    string
		req     *identityv1.CreateClientRequest
		wantMsg string
	}{
		{"missing tenant", &identityv1.CreateClientRequest{Name: "x", Role: "viewer"}, "missing tenant_id"},
		{"missing name", &identityv1.CreateClientRequest{TenantId: "t-7", Role: "viewer"}, "missing name"},
		{"operator role", &identityv1.CreateClientRequest{TenantId: "t-7", Name: "x", Role: "operator"}, `invalid role "operator"`},
		{"service role", &identityv1.CreateClientRequest{TenantId: "t-7", Name: "x", Role: "service:mcpedge"}, `invalid role "service:mcpedge"`},
		{"resource not offered", &identityv1.CreateClientRequest{TenantId: "t-7", Name: "x", Role: "viewer", Resources: []string{audienceTenancy}}, "is not a tenant resource"},
	}
	for _, tt := range invalid {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := operator.CreateClient(ctx, connect.NewRequest(tt.req))
			var connectErr *connect.Error
			if !errors.As(err, &connectErr) || connectErr.Code() != connect.CodeInvalidArgument {
				t.Fatalf("CreateClient: %v, want InvalidArgument", err)
			}
			if !strings.Contains(connectErr.Message(), tt.wantMsg) {
				t.Errorf("message = %q, want it to contain %q", connectErr.Message(), tt.wantMsg)
			}
		})
	}

	t.Run("list without tenant", func(t *testing.T) {
		t.Parallel()
		_, err := operator.ListClients(ctx, connect.NewRequest(&identityv1.ListClientsRequest{}))
		if code := connect.CodeOf(err); code != connect.CodeInvalidArgument {
			t.Errorf("ListClients without tenant_id: %v, want InvalidArgument", err)
		}
	})
}

func TestSecretsNotStoredInClear(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverSetup{})
	id, secret := srv.createClient(t, "t-42", "viewer")
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, srv.PostgresURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)

	var row string
	var hash []byte
	err = conn.QueryRow(ctx, `SELECT c::text, secret_hash FROM identity.clients c WHERE client_id = $1`, id).Scan(&row, &hash)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(row, secret) {
		t.Error("the clients row contains the client secret")
	}
	if len(hash) != 32 || bytes.Contains(hash, []byte(secret)) {
		t.Errorf("secret_hash has %d bytes, want a 32-byte HMAC", len(hash))
	}
	keyring, _ := app.NewKeyring(srv.MasterKey)
	if !keyring.SecretMatches(secret, hash) {
		t.Error("secret_hash is not the HMAC of the secret under the master key")
	}

	var dump string
	err = conn.QueryRow(ctx, `SELECT string_agg(c::text, ' ') FROM identity.clients c WHERE tenant_id IS NULL`).Scan(&dump)
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range srv.Secrets {
		if strings.Contains(dump, s) {
			t.Errorf("the row of service client %s contains its secret", name)
		}
	}

	kid, private := signingKey(t, srv)
	var sealed []byte
	if err := conn.QueryRow(ctx, `SELECT sealed_private_key FROM identity.signing_keys WHERE kid = $1`, kid).Scan(&sealed); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, private.Seed()) {
		t.Error("sealed_private_key contains the Ed25519 seed")
	}
	other, _ := app.NewKeyring(bytes.Repeat([]byte{7}, 32))
	if _, err := other.Open(sealed, kid); err == nil {
		t.Error("the signing key opens under another master key")
	}

	// No secret or token reaches the logs.
	token := srv.token(t, id, secret, mcpURL)
	logs := srv.Logs.String()
	for _, s := range []string{secret, srv.Secrets["operator"], srv.Secrets["mcpedge"], srv.Secrets["dokkuexec"], token} {
		if strings.Contains(logs, s) {
			t.Errorf("the logs contain a secret or token")
		}
	}
}

func TestMetadataAndJWKS(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverSetup{})

	var metadata map[string]any
	resp := getJSON(t, srv.URL+"/.well-known/oauth-authorization-server", &metadata)
	if resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("metadata Content-Type = %q", resp.Header.Get("Content-Type"))
	}
	wantStrings := map[string]string{
		"issuer":                 srv.URL,
		"token_endpoint":         srv.URL + "/oauth2/token",
		"jwks_uri":               srv.URL + "/oauth2/jwks",
		"revocation_endpoint":    srv.URL + "/oauth2/revoke",
		"introspection_endpoint": srv.URL + "/oauth2/introspect",
	}
	for field, want := range wantStrings {
		if metadata[field] != want {
			t.Errorf("%s = %v, want %q", field, metadata[field], want)
		}
	}
	wantLists := map[string][]string{
		"grant_types_supported":                         {"client_credentials", "urn:ietf:params:oauth:grant-type:token-exchange"},
		"token_endpoint_auth_methods_supported":         {"client_secret_basic", "client_secret_post", "private_key_jwt"},
		"revocation_endpoint_auth_methods_supported":    {"client_secret_basic", "client_secret_post", "private_key_jwt"},
		"introspection_endpoint_auth_methods_supported": {"client_secret_basic", "client_secret_post", "private_key_jwt"},
		"response_types_supported":                      {},
	}
	for field, want := range wantLists {
		if got := stringList(metadata[field]); !slices.Equal(got, want) || metadata[field] == nil {
			t.Errorf("%s = %v, want %v", field, metadata[field], want)
		}
	}
	scopes := stringList(metadata["scopes_supported"])
	for _, scope := range []string{"apps:read", "tenant:admin", "token:exchange", "platform:admin", "secrets:issue", "token:introspect"} {
		if !slices.Contains(scopes, scope) {
			t.Errorf("scopes_supported lacks %s", scope)
		}
	}

	var jwks auth.JWKS
	resp = getJSON(t, srv.URL+"/oauth2/jwks", &jwks)
	if got := resp.Header.Get("Cache-Control"); !strings.Contains(got, "max-age=60") {
		t.Errorf("JWKS Cache-Control = %q, want max-age=60", got)
	}
	if len(jwks.Keys) != 1 {
		t.Fatalf("JWKS has %d keys, want 1", len(jwks.Keys))
	}
	key := jwks.Keys[0]
	if key.KeyType != "OKP" || key.Curve != "Ed25519" || key.Algorithm != "EdDSA" || key.Use != "sig" {
		t.Errorf("JWK = %+v, want an OKP Ed25519 EdDSA signing key", key)
	}
	public, err := key.Ed25519()
	if err != nil {
		t.Fatal(err)
	}
	if key.KeyID != app.Thumbprint(public) {
		t.Errorf("kid = %q, want the RFC 7638 thumbprint %q", key.KeyID, app.Thumbprint(public))
	}
	var raw map[string][]map[string]any
	getJSON(t, srv.URL+"/oauth2/jwks", &raw)
	if _, ok := raw["keys"][0]["d"]; ok {
		t.Error("the JWKS publishes the private key")
	}
}

func getJSON(t *testing.T, url string, v any) *http.Response {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d", url, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp
}

func stringList(v any) []string {
	items, _ := v.([]any)
	out := []string{}
	for _, item := range items {
		s, _ := item.(string)
		out = append(out, s)
	}
	return out
}
