package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	identityv1 "dokkumcp.dev/gen/dokkumcp/identity/v1"
	"dokkumcp.dev/gen/dokkumcp/identity/v1/identityv1connect"
	"dokkumcp.dev/identity/server"
	"dokkumcp.dev/platform/auth"
	"dokkumcp.dev/platform/config"
	"dokkumcp.dev/platform/logging"
	"dokkumcp.dev/platform/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const (
	mcpURL            = "http://127.0.0.1:8080/mcp"
	audienceDokkuExec = "urn:dokkumcp:dokkuexec"
	audienceIdentity  = "urn:dokkumcp:identity"
	audienceTenancy   = "urn:dokkumcp:tenancy"
)

// syncBuffer collects the server's log lines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testServer is a running Identity with its own database.
type testServer struct {
	URL         string
	PostgresURL string
	MasterKey   []byte
	Secrets     map[string]string
	Logs        *syncBuffer
}

type serverSetup struct {
	postgresURL     string
	masterKey       []byte
	secrets         map[string]string
	tenantResources []string
	// configure, if set, edits the config before the server starts.
	configure func(*server.Config)
}

// startServer runs Identity on 127.0.0.1 with a new database, unless setup
// names one, and stops it when the test ends.
func startServer(t *testing.T, setup serverSetup) *testServer {
	t.Helper()
	if setup.postgresURL == "" {
		setup.postgresURL = pgtest.NewDatabase(t)
	}
	if setup.masterKey == nil {
		setup.masterKey = randomBytes(t, 32)
	}
	if setup.secrets == nil {
		setup.secrets = map[string]string{
			"dokkuexec": base64.StdEncoding.EncodeToString(randomBytes(t, 32)),
			"mcpedge":   base64.StdEncoding.EncodeToString(randomBytes(t, 32)),
			"operator":  base64.StdEncoding.EncodeToString(randomBytes(t, 32)),
		}
	}
	if setup.tenantResources == nil {
		setup.tenantResources = []string{audienceDokkuExec, mcpURL}
	}

	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &testServer{
		URL:         "http://" + listener.Addr().String(),
		PostgresURL: setup.postgresURL,
		MasterKey:   setup.masterKey,
		Secrets:     setup.secrets,
		Logs:        &syncBuffer{},
	}

	cfg := server.RegisterFlags(config.NewFlagSet("identity"))
	cfg.Issuer = srv.URL
	cfg.PostgresURL = setup.postgresURL
	cfg.MasterKey = base64.StdEncoding.EncodeToString(setup.masterKey)
	cfg.TenantResources = setup.tenantResources
	if setup.configure != nil {
		setup.configure(cfg)
	}
	var entries []string
	for name, secret := range setup.secrets {
		entries = append(entries, name+"="+secret)
	}
	if err := cfg.ServiceClients.Set(strings.Join(entries, ",")); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	logger := logging.New(srv.Logs, "identity", slog.LevelDebug)
	go func() { done <- server.Run(ctx, server.Options{Config: cfg, Listener: listener, Logger: logger}) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server.Run returned %v", err)
		}
	})

	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(srv.URL + "/oauth2/jwks")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return srv
			}
		}
		select {
		case err := <-done:
			done <- err
			t.Fatalf("server.Run returned during start: %v\nlogs:\n%s", err, srv.Logs)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not answer within 30s: %v", err)
		}
	}
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// clientConfig returns the x/oauth2 client-credentials config of a client.
func (s *testServer) clientConfig(id, secret, resource string, style oauth2.AuthStyle, scopes ...string) *clientcredentials.Config {
	return &clientcredentials.Config{
		ClientID:       id,
		ClientSecret:   secret,
		TokenURL:       s.URL + "/oauth2/token",
		Scopes:         scopes,
		EndpointParams: url.Values{"resource": {resource}},
		AuthStyle:      style,
	}
}

// token fetches a client-credentials token with client_secret_basic.
func (s *testServer) token(t *testing.T, id, secret, resource string, scopes ...string) string {
	t.Helper()
	tok, err := s.clientConfig(id, secret, resource, oauth2.AuthStyleInHeader, scopes...).Token(context.Background())
	if err != nil {
		t.Fatalf("token for %s, resource %s: %v", id, resource, err)
	}
	return tok.AccessToken
}

func (s *testServer) verifier(audience string) *auth.Verifier {
	return auth.NewVerifier(auth.VerifierConfig{Issuer: s.URL, Audience: audience, JWKSURL: s.URL + "/oauth2/jwks"})
}

func (s *testServer) verify(t *testing.T, audience, token string) *auth.Principal {
	t.Helper()
	principal, err := s.verifier(audience).Verify(context.Background(), token)
	if err != nil {
		t.Fatalf("verify token for audience %s: %v", audience, err)
	}
	return principal
}

// identityClient returns an IdentityService client that sends token.
func (s *testServer) identityClient(token string) identityv1connect.IdentityServiceClient {
	return identityv1connect.NewIdentityServiceClient(http.DefaultClient, s.URL, connect.WithInterceptors(
		auth.NewClientInterceptor(func(context.Context) (string, error) { return token, nil }),
	))
}

// createClient registers a tenant client with the operator's token and
// returns its id and secret.
func (s *testServer) createClient(t *testing.T, tenantID, role string, resources ...string) (string, string) {
	t.Helper()
	operator := s.token(t, "operator", s.Secrets["operator"], audienceIdentity)
	resp, err := s.identityClient(operator).CreateClient(context.Background(), connect.NewRequest(&identityv1.CreateClientRequest{
		TenantId:  tenantID,
		Name:      role + " client",
		Role:      role,
		Resources: resources,
	}))
	if err != nil {
		t.Fatalf("CreateClient(%s, %s): %v", tenantID, role, err)
	}
	return resp.Msg.GetClient().GetClientId(), resp.Msg.GetClientSecret()
}

// tokenResponse is a decoded token endpoint response, success or error.
type tokenResponse struct {
	Status           int
	Header           http.Header
	AccessToken      string `json:"access_token"`
	IssuedTokenType  string `json:"issued_token_type"`
	TokenType        string `json:"token_type"`
	ExpiresIn        int64  `json:"expires_in"`
	Scope            string `json:"scope"`
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

// postToken sends a raw token request; basic, when not nil, holds the id and
// secret for client_secret_basic.
func (s *testServer) postToken(t *testing.T, form url.Values, basic []string) tokenResponse {
	t.Helper()
	return s.postTokenBody(t, "application/x-www-form-urlencoded", form.Encode(), basic)
}

func (s *testServer) postTokenBody(t *testing.T, contentType, body string, basic []string) tokenResponse {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.URL+"/oauth2/token", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	if basic != nil {
		req.SetBasicAuth(url.QueryEscape(basic[0]), url.QueryEscape(basic[1]))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}

	out := tokenResponse{Status: resp.StatusCode, Header: resp.Header}
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("token response is not JSON (status %d): %q", resp.StatusCode, raw)
	}
	return out
}

// exchangeForm returns a token exchange request for subject.
func exchangeForm(subject, resource, scope string) url.Values {
	form := url.Values{
		"grant_type":         {"urn:ietf:params:oauth:grant-type:token-exchange"},
		"subject_token":      {subject},
		"subject_token_type": {"urn:ietf:params:oauth:token-type:access_token"},
		"resource":           {resource},
	}
	if scope != "" {
		form.Set("scope", scope)
	}
	return form
}
