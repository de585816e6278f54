package server_test

import (
	"context"
	"encoding/base64"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"dokkumcp.dev/identity/server"
	"dokkumcp.dev/platform/auth"
	"dokkumcp.dev/platform/config"
	"dokkumcp.dev/platform/pgtest"
)

func TestRunRejectsInvalidConfig(t *testing.T) {
	t.Parallel()
	goodKey := base64.StdEncoding.EncodeToString(make([]byte, 32))
	longSecret := strings.Repeat("s", 32)

	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"missing master key", nil, "missing --master-key (DOKKUMCP_MASTER_KEY)"},
		{"short master key", []string{"--master-key", base64.StdEncoding.EncodeToString(make([]byte, 16))}, "invalid --master-key (DOKKUMCP_MASTER_KEY)"},
		{"master key not base64", []string{"--master-key", "not base64!"}, "invalid --master-key"},
		{"token ttl above 15m", []string{"--master-key", goodKey, "--token-ttl", "16m"}, "invalid --token-ttl"},
		{"zero token ttl", []string{"--master-key", goodKey, "--token-ttl", "0s"}, "invalid --token-ttl"},
		{"unknown service client", []string{"--master-key", goodKey, "--service-clients", "tenancy=" + longSecret}, `unknown service client "tenancy"`},
		{"short service secret", []string{"--master-key", goodKey, "--service-clients", "operator=short"}, "shorter than 32 characters"},
		{"duplicate service client", []string{"--master-key", goodKey, "--service-clients", "operator=" + longSecret + ",operator=" + longSecret}, "configured twice"},
		{"issuer with trailing slash", []string{"--master-key", goodKey, "--issuer", "http://127.0.0.1:8081/"}, "invalid --issuer"},
		{"relative tenant resource", []string{"--master-key", goodKey, "--tenant-resources", "mcp"}, "invalid --tenant-resources"},
		{"zero key reload interval", []string{"--master-key", goodKey, "--key-reload-interval", "0s"}, "invalid --key-reload-interval"},
		{"publish delay below reload interval", []string{"--master-key", goodKey, "--key-publish-delay", "5s"}, "invalid --key-publish-delay"},
		{"rotation interval below publish delay", []string{"--master-key", goodKey, "--key-rotation-interval", "1m"}, "invalid --key-rotation-interval"},
		{"negative rotation interval", []string{"--master-key", goodKey, "--key-rotation-interval", "-1h"}, "invalid --key-rotation-interval"},
		{"negative client rate", []string{"--master-key", goodKey, "--token-client-rate", "-1"}, "invalid --token-client-rate"},
		{"address rate without burst", []string{"--master-key", goodKey, "--token-address-burst", "0"}, "invalid --token-address-rate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fs := config.NewFlagSet("identity")
			cfg := server.RegisterFlags(fs)
			if err := fs.FlagSet.Parse(append([]string{"--postgres-url", "host=/nonexistent"}, tt.args...)); err != nil {
				t.Fatal(err)
			}
			listener, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			err = server.Run(context.Background(), server.Options{Config: cfg, Listener: listener})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Run error = %v, want it to contain %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), longSecret) {
				t.Error("the error shows a secret")
			}
		})
	}
}

func TestServiceClientsFlagHidesSecrets(t *testing.T) {
	t.Parallel()
	var clients server.ServiceClients
	if err := clients.Set("operator=" + strings.Repeat("x", 40) + ", mcpedge=abc=def"); err != nil {
		t.Fatal(err)
	}
	if got := clients.String(); got != "operator,mcpedge" {
		t.Errorf("String() = %q, want the names only", got)
	}
	if clients[1].Secret != "abc=def" {
		t.Errorf("secret = %q, want everything after the first =", clients[1].Secret)
	}
	err := clients.Set("operator")
	if err == nil || strings.Contains(err.Error(), "operator") {
		t.Errorf("Set(operator) error = %v, want an error that does not echo the entry", err)
	}
}

func TestRestartKeepsKeysAndRotatesServiceSecrets(t *testing.T) {
	t.Parallel()
	postgresURL := pgtest.NewDatabase(t)
	masterKey := randomBytes(t, 32)

	first := startServer(t, serverSetup{postgresURL: postgresURL, masterKey: masterKey})
	clientID, clientSecret := first.createClient(t, "t-42", "viewer")
	oldToken := first.token(t, clientID, clientSecret, mcpURL)
	oldOperatorSecret := first.Secrets["operator"]

	// A second replica on the same database, with a new operator secret.
	second := startServer(t, serverSetup{postgresURL: postgresURL, masterKey: masterKey})

	var firstKeys, secondKeys auth.JWKS
	getJSON(t, first.URL+"/oauth2/jwks", &firstKeys)
	getJSON(t, second.URL+"/oauth2/jwks", &secondKeys)
	if len(secondKeys.Keys) != 1 || secondKeys.Keys[0].KeyID != firstKeys.Keys[0].KeyID {
		t.Errorf("the second start publishes %v, want the first start's key %s", secondKeys.Keys, firstKeys.Keys[0].KeyID)
	}

	// The tenant client created before survives; its token is signed with
	// the same key, so it verifies against the second server's key set.
	second.token(t, clientID, clientSecret, mcpURL)
	verifier := auth.NewVerifier(auth.VerifierConfig{Issuer: first.URL, Audience: mcpURL, JWKSURL: second.URL + "/oauth2/jwks"})
	if _, err := verifier.Verify(context.Background(), oldToken); err != nil {
		t.Errorf("a token from the first start does not verify with the second start's keys: %v", err)
	}

	resp := second.postToken(t, url.Values{"grant_type": {"client_credentials"}, "resource": {audienceIdentity}}, []string{"operator", oldOperatorSecret})
	if resp.Status != http.StatusUnauthorized {
		t.Errorf("the replaced operator secret got status %d, want 401", resp.Status)
	}
	second.token(t, "operator", second.Secrets["operator"], audienceIdentity)
}

func TestRunWrongMasterKeyFails(t *testing.T) {
	t.Parallel()
	postgresURL := pgtest.NewDatabase(t)
	startServer(t, serverSetup{postgresURL: postgresURL})

	fs := config.NewFlagSet("identity")
	cfg := server.RegisterFlags(fs)
	cfg.PostgresURL = postgresURL
	cfg.MasterKey = base64.StdEncoding.EncodeToString(randomBytes(t, 32))
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = server.Run(ctx, server.Options{Config: cfg, Listener: listener})
	if err == nil || !strings.Contains(err.Error(), "master key") {
		t.Fatalf("Run with another master key: %v, want an unseal error naming the master key", err)
	}
}
