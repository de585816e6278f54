package rpc_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/ssh"

	"dokkumcp.dev/dokkuexec/internal/adapters/rpc"
	sshadapter "dokkumcp.dev/dokkuexec/internal/adapters/ssh"
	"dokkumcp.dev/dokkuexec/internal/app"
	"dokkumcp.dev/dokkuexec/internal/sshtest"
	"dokkumcp.dev/dokkuexec/internal/tenancytest"
	dokkuexecv1 "dokkumcp.dev/gen/dokkumcp/dokkuexec/v1"
	"dokkumcp.dev/gen/dokkumcp/dokkuexec/v1/dokkuexecv1connect"
	"dokkumcp.dev/platform/auth"
	"dokkumcp.dev/testhost/emulator"
)

const audience = "urn:dokkumcp:dokkuexec"

// issuer is a test Identity: a JWKS endpoint and a key that mints tokens.
type issuer struct {
	url string
	key ed25519.PrivateKey
}

func newIssuer(t *testing.T) *issuer {
	t.Helper()
	public, private, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatalf("generate key: %v", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /oauth2/jwks", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(auth.JWKS{Keys: []auth.JWK{auth.NewEd25519JWK("k1", public)}})
	})
	server := httptest.NewServer(mux)
	t.Cleanup(server.Close)
	return &issuer{url: server.URL, key: private}
}

// token mints an access token for tenantID ("" for none) with scopes.
func (i *issuer) token(t *testing.T, tenantID string, scopes ...string) string {
	t.Helper()
	now := time.Now()
	claims := auth.Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    i.url,
			Subject:   "user-1",
			Audience:  jwt.ClaimStrings{audience},
			ExpiresAt: jwt.NewNumericDate(now.Add(15 * time.Minute)),
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ID:        "jti-" + tenantID + strings.Join(scopes, "-"),
		},
		ClientID: "cli",
		Scope:    strings.Join(scopes, " "),
		TenantID: tenantID,
	}
	token := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	token.Header["typ"] = "at+jwt"
	token.Header["kid"] = "k1"
	signed, err := token.SignedString(i.key)
	if err != nil {
		t.Fatalf("sign token: %v", err)
	}
	return signed
}

// hostResolver serves the test host to its tenant only.
type hostResolver struct {
	host app.Host
}

func (r *hostResolver) GetHost(_ context.Context, tenantID, host string) (app.Host, error) {
	if tenantID != r.host.TenantID || (host != "" && host != r.host.Name && host != r.host.ID) {
		return app.Host{}, app.Errorf(app.KindNotFound, "host %q not found for tenant %s; register it with RegisterHost", host, tenantID)
	}
	return r.host, nil
}

type fixture struct {
	issuer   *issuer
	host     *sshtest.Host
	resolver *hostResolver
	client   dokkuexecv1connect.DokkuExecServiceClient
	tenancy  *tenancytest.Tenancy
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	return newFixtureWith(t, emulator.Options{})
}

// newFixtureWith starts a fixture whose test host runs the emulator
// configured by opts.
func newFixtureWith(t *testing.T, opts emulator.Options) *fixture {
	t.Helper()
	logger := slog.New(slog.DiscardHandler)
	iss := newIssuer(t)
	host := sshtest.Start(t, opts)
	resolver := &hostResolver{host: host.Host}
	executor := sshadapter.New(sshadapter.Options{DialTimeout: 5 * time.Second, CommandTimeout: 10 * time.Second, OutputLimit: 1 << 20, Logger: logger})
	t.Cleanup(func() { _ = executor.Close() })
	tenancy := tenancytest.New()
	service := app.NewService(app.Options{Hosts: resolver, Credentials: host.CA, Executor: executor, Tenancy: tenancy, Audit: tenancy, Logger: logger})

	verifier := auth.NewVerifier(auth.VerifierConfig{Issuer: iss.url, Audience: audience, JWKSURL: iss.url + "/oauth2/jwks"})
	path, handler := dokkuexecv1connect.NewDokkuExecServiceHandler(
		rpc.NewHandler(service, logger),
		connect.WithInterceptors(auth.NewServerInterceptor(verifier, logger)),
	)
	mux := http.NewServeMux()
	mux.Handle(path, handler)
	server := httptest.NewServer(mux)
	t.Cleanup(server.Close)

	return &fixture{
		issuer:   iss,
		host:     host,
		resolver: resolver,
		client:   dokkuexecv1connect.NewDokkuExecServiceClient(server.Client(), server.URL),
		tenancy:  tenancy,
	}
}

func request[T any](msg *T, token string) *connect.Request[T] {
	req := connect.NewRequest(msg)
	if token != "" {
		req.Header().Set("Authorization", "Bearer "+token)
	}
	return req
}

func wantCode(t *testing.T, err error, code connect.Code, message string) {
	t.Helper()
	if got := connect.CodeOf(err); got != code {
		t.Fatalf("code = %v (error %v), want %v", got, err, code)
	}
	if !strings.Contains(err.Error(), message) {
		t.Errorf("message = %q, want it to contain %q", err, message)
	}
}

var allScopes = []string{"apps:read", "apps:create", "apps:config"}

func TestHandlerOperations(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	token := f.issuer.token(t, sshtest.TenantID, allScopes...)

	created, err := f.client.CreateApp(ctx, request(&dokkuexecv1.CreateAppRequest{Host: sshtest.HostName, App: "shop"}, token))
	if err != nil {
		t.Fatalf("CreateApp: %v", err)
	}
	if created.Msg.GetApp() != "shop" || len(created.Msg.GetWarnings()) != 1 {
		t.Errorf("CreateApp = %v, want app shop with one warning", created.Msg)
	}

	list, err := f.client.ListApps(ctx, request(&dokkuexecv1.ListAppsRequest{}, token))
	if err != nil {
		t.Fatalf("ListApps: %v", err)
	}
	if want := []string{"shop"}; !slices.Equal(list.Msg.GetApps(), want) {
		t.Errorf("apps = %q, want %q", list.Msg.GetApps(), want)
	}

	report, err := f.client.GetAppReport(ctx, request(&dokkuexecv1.GetAppReportRequest{App: "shop"}, token))
	if err != nil {
		t.Fatalf("GetAppReport: %v", err)
	}
	r := report.Msg.GetReport()
	if r.GetApp() != "shop" || r.GetDir() != "/home/dokku/shop" || r.GetLocked() || r.GetCreateTime() == nil {
		t.Errorf("report = %v, want shop in /home/dokku/shop, unlocked, with a create time", r)
	}
	if r.GetFields()["locked"] != "false" {
		t.Errorf("fields = %v, want locked=false", r.GetFields())
	}

	value := "it's a\nmulti-line $VALUE"
	set, err := f.client.SetConfig(ctx, request(&dokkuexecv1.SetConfigRequest{App: "shop", Vars: map[string]string{"B": value, "A": "1"}, NoRestart: true}, token))
	if err != nil {
		t.Fatalf("SetConfig: %v", err)
	}
	if want := []string{"A", "B"}; !slices.Equal(set.Msg.GetKeys(), want) {
		t.Errorf("keys = %q, want %q", set.Msg.GetKeys(), want)
	}

	got, err := f.client.GetConfig(ctx, request(&dokkuexecv1.GetConfigRequest{App: "shop", Key: "B"}, token))
	if err != nil {
		t.Fatalf("GetConfig: %v", err)
	}
	if got.Msg.GetKey() != "B" || got.Msg.GetValue() != value {
		t.Errorf("GetConfig = %v, want B=%q", got.Msg, value)
	}
}

func TestHandlerErrors(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	token := f.issuer.token(t, sshtest.TenantID, allScopes...)
	if _, err := f.client.CreateApp(ctx, request(&dokkuexecv1.CreateAppRequest{App: "shop"}, token)); err != nil {
		t.Fatalf("CreateApp: %v", err)
	}

	tests := []struct {
		name    string
		call    func() error
		code    connect.Code
		message string
	}{
		{"no token", func() error {
			_, err := f.client.ListApps(ctx, request(&dokkuexecv1.ListAppsRequest{}, ""))
			return err
		}, connect.CodeUnauthenticated, "missing bearer token"},
		{"token without tenant", func() error {
			_, err := f.client.ListApps(ctx, request(&dokkuexecv1.ListAppsRequest{}, f.issuer.token(t, "", allScopes...)))
			return err
		}, connect.CodePermissionDenied, "names no tenant"},
		{"missing permission", func() error {
			_, err := f.client.CreateApp(ctx, request(&dokkuexecv1.CreateAppRequest{App: "api"}, f.issuer.token(t, sshtest.TenantID, "apps:read")))
			return err
		}, connect.CodePermissionDenied, `permission "apps:create" is required`},
		{"other tenant", func() error {
			_, err := f.client.ListApps(ctx, request(&dokkuexecv1.ListAppsRequest{}, f.issuer.token(t, "t-other", allScopes...)))
			return err
		}, connect.CodeNotFound, "not found for tenant t-other"},
		{"invalid app name", func() error {
			_, err := f.client.CreateApp(ctx, request(&dokkuexecv1.CreateAppRequest{App: "Bad_Name"}, token))
			return err
		}, connect.CodeInvalidArgument, `invalid app name "Bad_Name": use lower-case letters, digits, dots and dashes, starting with a letter or digit`},
		{"existing app", func() error {
			_, err := f.client.CreateApp(ctx, request(&dokkuexecv1.CreateAppRequest{App: "shop"}, token))
			return err
		}, connect.CodeAlreadyExists, `app "shop" already exists`},
		{"unknown app", func() error {
			_, err := f.client.GetAppReport(ctx, request(&dokkuexecv1.GetAppReportRequest{App: "nope"}, token))
			return err
		}, connect.CodeNotFound, `app "nope" not found on host "prod"; create it with apps_create`},
		{"unset config var", func() error {
			_, err := f.client.GetConfig(ctx, request(&dokkuexecv1.GetConfigRequest{App: "shop", Key: "MISSING"}, token))
			return err
		}, connect.CodeNotFound, `config var "MISSING" is not set on app "shop"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantCode(t, tt.call(), tt.code, tt.message)
		})
	}
}

func TestHandlerHostKeyChanged(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.resolver.host.HostKey = string(ssh.MarshalAuthorizedKey(sshtest.NewSigner(t).PublicKey()))

	_, err := f.client.ListApps(t.Context(), request(&dokkuexecv1.ListAppsRequest{}, f.issuer.token(t, sshtest.TenantID, "apps:read")))
	wantCode(t, err, connect.CodeFailedPrecondition, "re-pin the new key with RegisterHost")
	if !strings.Contains(err.Error(), ssh.FingerprintSHA256(f.host.HostKey.PublicKey())) {
		t.Errorf("message %q does not name the received fingerprint", err)
	}
}
