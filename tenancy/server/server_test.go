package server_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"golang.org/x/crypto/ssh"

	tenancyv1 "dokkumcp.dev/gen/dokkumcp/tenancy/v1"
	"dokkumcp.dev/gen/dokkumcp/tenancy/v1/tenancyv1connect"
	"dokkumcp.dev/platform/auth"
	"dokkumcp.dev/platform/authtest"
	"dokkumcp.dev/platform/config"
	"dokkumcp.dev/platform/logging"
	"dokkumcp.dev/platform/pgtest"
	"dokkumcp.dev/tenancy/server"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		runChild()
		return
	}
	pgtest.Main(m)
}

// stack is a running Tenancy server with its database and token issuer.
type stack struct {
	url         string
	postgresURL string
	issuer      *authtest.Issuer
}

func startTenancy(t *testing.T) *stack {
	t.Helper()
	postgresURL := pgtest.NewDatabase(t)
	issuer := authtest.NewIssuer(t)

	fs := config.NewFlagSet("tenancy")
	cfg := server.RegisterFlags(fs)
	if err := fs.Parse([]string{"--postgres-url", postgresURL, "--identity-url", issuer.URL}); err != nil {
		t.Fatal(err)
	}
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- server.Run(ctx, server.Options{
			Config:   cfg,
			Listener: listener,
			Logger:   logging.New(testWriter{t}, "tenancy", logging.ParseLevel("debug")),
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server.Run returned %v", err)
		}
	})
	return &stack{url: "http://" + listener.Addr().String(), postgresURL: postgresURL, issuer: issuer}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// client returns a TenancyService client that sends token.
func (s *stack) client(token string) tenancyv1connect.TenancyServiceClient {
	return tenancyv1connect.NewTenancyServiceClient(http.DefaultClient, s.url,
		connect.WithInterceptors(auth.NewClientInterceptor(func(context.Context) (string, error) { return token, nil })))
}

// operator returns a client with the platform operator's permissions.
func (s *stack) operator(t *testing.T) tenancyv1connect.TenancyServiceClient {
	return s.client(s.issuer.Mint(t, authtest.Token{Audience: server.Audience, Subject: "operator", Scope: "platform:admin"}))
}

// dokkuexec returns a client with the DokkuExec service identity's
// permissions.
func (s *stack) dokkuexec(t *testing.T) tenancyv1connect.TenancyServiceClient {
	return s.client(s.issuer.Mint(t, authtest.Token{Audience: server.Audience, Subject: "dokkuexec", Scope: "tenancy:read-hosts tenancy:read-limits tenancy:reserve-apps audit:append secrets:issue"}))
}

func hostKey(t *testing.T) (string, ssh.PublicKey) {
	t.Helper()
	public, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ssh.NewPublicKey(public)
	if err != nil {
		t.Fatal(err)
	}
	return string(ssh.MarshalAuthorizedKey(key)), key
}

func createTenant(t *testing.T, client tenancyv1connect.TenancyServiceClient, slug string) *tenancyv1.Tenant {
	t.Helper()
	resp, err := client.CreateTenant(context.Background(), connect.NewRequest(&tenancyv1.CreateTenantRequest{Slug: slug, Plan: tenancyv1.Plan_PLAN_PRO}))
	if err != nil {
		t.Fatalf("CreateTenant(%q): %v", slug, err)
	}
	return resp.Msg.GetTenant()
}

func registerHost(t *testing.T, client tenancyv1connect.TenancyServiceClient, tenantID, name string) *tenancyv1.Host {
	t.Helper()
	key, _ := hostKey(t)
	resp, err := client.RegisterHost(context.Background(), connect.NewRequest(&tenancyv1.RegisterHostRequest{
		TenantId: tenantID, Name: name, Address: name + ".example.com", HostKey: key,
	}))
	if err != nil {
		t.Fatalf("RegisterHost(%s, %q): %v", tenantID, name, err)
	}
	return resp.Msg.GetHost()
}

func wantCode(t *testing.T, err error, code connect.Code, messageContains string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %v", code)
	}
	if got := connect.CodeOf(err); got != code {
		t.Fatalf("got code %v (%v), want %v", got, err, code)
	}
	var connectErr *connect.Error
	if errors.As(err, &connectErr) && !strings.Contains(connectErr.Message(), messageContains) {
		t.Errorf("message %q does not contain %q", connectErr.Message(), messageContains)
	}
}

func TestTenantCreateAndGet(t *testing.T) {
	t.Parallel()
	s := startTenancy(t)
	ctx := context.Background()
	operator := s.operator(t)

	created, err := operator.CreateTenant(ctx, connect.NewRequest(&tenancyv1.CreateTenantRequest{
		Slug: "acme", DisplayName: "Acme Corp", Plan: tenancyv1.Plan_PLAN_PRO,
	}))
	if err != nil {
		t.Fatal(err)
	}
	tenant := created.Msg.GetTenant()
	if !strings.HasPrefix(tenant.GetId(), "t-") || len(tenant.GetId()) != 12 {
		t.Errorf("tenant id %q is not t- plus 10 characters", tenant.GetId())
	}
	if tenant.GetStatus() != tenancyv1.TenantStatus_TENANT_STATUS_ACTIVE {
		t.Errorf("status = %v, want active", tenant.GetStatus())
	}
	if tenant.GetPlan() != tenancyv1.Plan_PLAN_PRO {
		t.Errorf("plan = %v, want pro", tenant.GetPlan())
	}
	if time.Since(tenant.GetCreateTime().AsTime()) > time.Minute {
		t.Errorf("create_time %v is not recent", tenant.GetCreateTime().AsTime())
	}

	got, err := operator.GetTenant(ctx, connect.NewRequest(&tenancyv1.GetTenantRequest{TenantId: tenant.GetId()}))
	if err != nil {
		t.Fatal(err)
	}
	if got.Msg.GetTenant().String() != tenant.String() {
		t.Errorf("GetTenant = %v, want %v", got.Msg.GetTenant(), tenant)
	}

	_, err = operator.CreateTenant(ctx, connect.NewRequest(&tenancyv1.CreateTenantRequest{Slug: "acme"}))
	wantCode(t, err, connect.CodeAlreadyExists, `slug "acme" is taken`)

	_, err = operator.GetTenant(ctx, connect.NewRequest(&tenancyv1.GetTenantRequest{TenantId: "t-aaaaaaaaaa"}))
	wantCode(t, err, connect.CodeNotFound, "tenant t-aaaaaaaaaa not found")
}

func TestTenantDefaultsToFreePlan(t *testing.T) {
	t.Parallel()
	s := startTenancy(t)

	resp, err := s.operator(t).CreateTenant(context.Background(), connect.NewRequest(&tenancyv1.CreateTenantRequest{Slug: "small-shop"}))
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Msg.GetTenant().GetPlan(); got != tenancyv1.Plan_PLAN_FREE {
		t.Errorf("plan = %v, want free", got)
	}
	if got := resp.Msg.GetTenant().GetDisplayName(); got != "small-shop" {
		t.Errorf("display_name = %q, want the slug", got)
	}
}

func TestTenantValidation(t *testing.T) {
	t.Parallel()
	s := startTenancy(t)
	operator := s.operator(t)

	tests := []struct {
		name    string
		request *tenancyv1.CreateTenantRequest
		message string
	}{
		{"slug too short", &tenancyv1.CreateTenantRequest{Slug: "ab"}, `slug "ab" is invalid`},
		{"slug upper case", &tenancyv1.CreateTenantRequest{Slug: "Acme"}, `slug "Acme" is invalid`},
		{"slug trailing dash", &tenancyv1.CreateTenantRequest{Slug: "acme-"}, `slug "acme-" is invalid`},
		{"slug starts with digit", &tenancyv1.CreateTenantRequest{Slug: "1acme"}, `slug "1acme" is invalid`},
		{"slug too long", &tenancyv1.CreateTenantRequest{Slug: strings.Repeat("a", 41)}, "3 to 40 characters"},
		{"unknown plan", &tenancyv1.CreateTenantRequest{Slug: "acme", Plan: 99}, "plan 99 is invalid"},
		{"control character", &tenancyv1.CreateTenantRequest{Slug: "acme", DisplayName: "Acme\x00"}, "control characters"},
		{"display name too long", &tenancyv1.CreateTenantRequest{Slug: "acme", DisplayName: strings.Repeat("x", 201)}, "longer than 200"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := operator.CreateTenant(context.Background(), connect.NewRequest(tt.request))
			wantCode(t, err, connect.CodeInvalidArgument, tt.message)
		})
	}

	_, err := operator.GetTenant(context.Background(), connect.NewRequest(&tenancyv1.GetTenantRequest{TenantId: "acme"}))
	wantCode(t, err, connect.CodeInvalidArgument, `tenant_id "acme" is invalid`)
}

func TestHostRegister(t *testing.T) {
	t.Parallel()
	s := startTenancy(t)
	ctx := context.Background()
	operator := s.operator(t)
	tenant := createTenant(t, operator, "acme")
	keyText, key := hostKey(t)

	resp, err := operator.RegisterHost(ctx, connect.NewRequest(&tenancyv1.RegisterHostRequest{
		TenantId: tenant.GetId(), Name: "prod", Address: "Dokku.Example.com", HostKey: strings.TrimSpace(keyText) + "  root@dokku\n",
	}))
	if err != nil {
		t.Fatal(err)
	}
	host := resp.Msg.GetHost()
	if !strings.HasPrefix(host.GetId(), "h-") || len(host.GetId()) != 12 {
		t.Errorf("host id %q is not h- plus 10 characters", host.GetId())
	}
	if host.GetTenantId() != tenant.GetId() {
		t.Errorf("tenant_id = %q, want %q", host.GetTenantId(), tenant.GetId())
	}
	if host.GetAddress() != "dokku.example.com" {
		t.Errorf("address = %q, want it lower-cased", host.GetAddress())
	}
	if host.GetPort() != 22 {
		t.Errorf("port = %d, want default 22", host.GetPort())
	}
	if host.GetSshUser() != "dokku" {
		t.Errorf("ssh_user = %q, want default dokku", host.GetSshUser())
	}
	if host.GetCredentialMode() != tenancyv1.CredentialMode_CREDENTIAL_MODE_CERTIFICATE {
		t.Errorf("credential_mode = %v, want default certificate", host.GetCredentialMode())
	}
	if want := strings.TrimSpace(keyText); host.GetHostKey() != want {
		t.Errorf("host_key = %q, want %q without comment", host.GetHostKey(), want)
	}
	if want := ssh.FingerprintSHA256(key); host.GetHostKeyFingerprint() != want {
		t.Errorf("host_key_fingerprint = %q, want %q", host.GetHostKeyFingerprint(), want)
	}

	ipv6, err := operator.RegisterHost(ctx, connect.NewRequest(&tenancyv1.RegisterHostRequest{
		TenantId: tenant.GetId(), Name: "edge", Address: "2001:DB8::1", Port: 2222, SshUser: "deploy", HostKey: keyText,
		CredentialMode: tenancyv1.CredentialMode_CREDENTIAL_MODE_MANAGED_KEY,
	}))
	if err != nil {
		t.Fatal(err)
	}
	if got := ipv6.Msg.GetHost(); got.GetAddress() != "2001:db8::1" || got.GetPort() != 2222 || got.GetSshUser() != "deploy" ||
		got.GetCredentialMode() != tenancyv1.CredentialMode_CREDENTIAL_MODE_MANAGED_KEY {
		t.Errorf("RegisterHost(edge) = %v, want the given address, port, user and mode", got)
	}

	_, err = operator.RegisterHost(ctx, connect.NewRequest(&tenancyv1.RegisterHostRequest{
		TenantId: tenant.GetId(), Name: "prod", Address: "203.0.113.10", HostKey: keyText,
	}))
	wantCode(t, err, connect.CodeAlreadyExists, `host "prod" already exists for tenant `+tenant.GetId())

	_, err = operator.RegisterHost(ctx, connect.NewRequest(&tenancyv1.RegisterHostRequest{
		TenantId: "t-aaaaaaaaaa", Name: "prod", Address: "203.0.113.10", HostKey: keyText,
	}))
	wantCode(t, err, connect.CodeNotFound, "tenant t-aaaaaaaaaa not found")
}

func TestHostValidation(t *testing.T) {
	t.Parallel()
	s := startTenancy(t)
	operator := s.operator(t)
	tenant := createTenant(t, operator, "acme")
	keyText, _ := hostKey(t)
	otherKey, _ := hostKey(t)

	valid := func(edit func(r *tenancyv1.RegisterHostRequest)) *tenancyv1.RegisterHostRequest {
		r := &tenancyv1.RegisterHostRequest{TenantId: tenant.GetId(), Name: "prod", Address: "dokku.example.com", HostKey: keyText}
		edit(r)
		return r
	}
	tests := []struct {
		name    string
		request *tenancyv1.RegisterHostRequest
		message string
	}{
		{"missing address", valid(func(r *tenancyv1.RegisterHostRequest) { r.Address = "" }), "address is missing"},
		{"address with scheme", valid(func(r *tenancyv1.RegisterHostRequest) { r.Address = "ssh://dokku.example.com" }), `address "ssh://dokku.example.com" is invalid`},
		{"address with port", valid(func(r *tenancyv1.RegisterHostRequest) { r.Address = "dokku.example.com:22" }), `address "dokku.example.com:22" is invalid`},
		{"address with space", valid(func(r *tenancyv1.RegisterHostRequest) { r.Address = "dokku example" }), `address "dokku example" is invalid`},
		{"address with path", valid(func(r *tenancyv1.RegisterHostRequest) { r.Address = "dokku.example.com/x" }), "without scheme, port or path"},
		{"port too large", valid(func(r *tenancyv1.RegisterHostRequest) { r.Port = 70000 }), "port 70000 is invalid"},
		{"name upper case", valid(func(r *tenancyv1.RegisterHostRequest) { r.Name = "Prod" }), `host name "Prod" is invalid`},
		{"name empty", valid(func(r *tenancyv1.RegisterHostRequest) { r.Name = "" }), `host name "" is invalid`},
		{"name looks like id", valid(func(r *tenancyv1.RegisterHostRequest) { r.Name = "h-abcdefghij" }), "form of a host id"},
		{"bad ssh user", valid(func(r *tenancyv1.RegisterHostRequest) { r.SshUser = "root;id" }), `ssh_user "root;id" is invalid`},
		{"missing host key", valid(func(r *tenancyv1.RegisterHostRequest) { r.HostKey = "" }), "host_key is missing"},
		{"garbage host key", valid(func(r *tenancyv1.RegisterHostRequest) { r.HostKey = "ssh-ed25519 not-base64" }), "host_key is not an SSH public key"},
		{"two host keys", valid(func(r *tenancyv1.RegisterHostRequest) { r.HostKey = keyText + otherKey }), "more than one key"},
		{"host key with options", valid(func(r *tenancyv1.RegisterHostRequest) { r.HostKey = "no-pty " + keyText }), "authorized_keys options"},
		{"bad tenant id", valid(func(r *tenancyv1.RegisterHostRequest) { r.TenantId = "acme" }), `tenant_id "acme" is invalid`},
		{"unknown mode", valid(func(r *tenancyv1.RegisterHostRequest) { r.CredentialMode = 7 }), "credential_mode 7 is invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := operator.RegisterHost(context.Background(), connect.NewRequest(tt.request))
			wantCode(t, err, connect.CodeInvalidArgument, tt.message)
		})
	}
}

func TestHostGetSelection(t *testing.T) {
	t.Parallel()
	s := startTenancy(t)
	ctx := context.Background()
	operator, dokkuexec := s.operator(t), s.dokkuexec(t)

	acme := createTenant(t, operator, "acme")
	globex := createTenant(t, operator, "globex")
	lonely := createTenant(t, operator, "lonely")
	empty := createTenant(t, operator, "empty")
	acmeProd := registerHost(t, operator, acme.GetId(), "prod")
	acmeStaging := registerHost(t, operator, acme.GetId(), "staging")
	globexProd := registerHost(t, operator, globex.GetId(), "prod")
	lonelyHost := registerHost(t, operator, lonely.GetId(), "only")

	found := []struct {
		name     string
		tenantID string
		selector string
		want     *tenancyv1.Host
	}{
		{"by name", acme.GetId(), "prod", acmeProd},
		{"by id", acme.GetId(), acmeStaging.GetId(), acmeStaging},
		{"same name other tenant", globex.GetId(), "prod", globexProd},
		{"only host", lonely.GetId(), "", lonelyHost},
	}
	for _, tt := range found {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := dokkuexec.GetHost(ctx, connect.NewRequest(&tenancyv1.GetHostRequest{TenantId: tt.tenantID, Host: tt.selector}))
			if err != nil {
				t.Fatal(err)
			}
			if got := resp.Msg.GetHost(); got.String() != tt.want.String() {
				t.Errorf("GetHost(%s, %q) = %v, want %v", tt.tenantID, tt.selector, got, tt.want)
			}
		})
	}

	failing := []struct {
		name     string
		tenantID string
		selector string
		code     connect.Code
		message  string
	}{
		{"several hosts", acme.GetId(), "", connect.CodeFailedPrecondition, "has 2 hosts (prod, staging)"},
		{"no hosts", empty.GetId(), "", connect.CodeNotFound, "has no hosts: register one with RegisterHost"},
		{"unknown name", acme.GetId(), "dev", connect.CodeNotFound, `host "dev" not found for tenant ` + acme.GetId()},
		{"other tenant's host id", acme.GetId(), globexProd.GetId(), connect.CodeNotFound, "not found for tenant " + acme.GetId()},
		{"unknown tenant", "t-aaaaaaaaaa", "prod", connect.CodeNotFound, "tenant t-aaaaaaaaaa not found"},
		{"invalid selector", acme.GetId(), "Prod!", connect.CodeInvalidArgument, `host name "Prod!" is invalid`},
		{"missing tenant", "", "prod", connect.CodeInvalidArgument, "tenant_id is missing"},
	}
	for _, tt := range failing {
		t.Run(tt.name, func(t *testing.T) {
			_, err := dokkuexec.GetHost(ctx, connect.NewRequest(&tenancyv1.GetHostRequest{TenantId: tt.tenantID, Host: tt.selector}))
			wantCode(t, err, tt.code, tt.message)
		})
	}
}

func TestHostGetSuspendedTenant(t *testing.T) {
	t.Parallel()
	s := startTenancy(t)
	ctx := context.Background()
	operator := s.operator(t)
	tenant := createTenant(t, operator, "acme")
	registerHost(t, operator, tenant.GetId(), "prod")

	if _, err := operator.SuspendTenant(ctx, connect.NewRequest(&tenancyv1.SuspendTenantRequest{TenantId: tenant.GetId()})); err != nil {
		t.Fatal(err)
	}

	_, err := s.dokkuexec(t).GetHost(ctx, connect.NewRequest(&tenancyv1.GetHostRequest{TenantId: tenant.GetId(), Host: "prod"}))
	wantCode(t, err, connect.CodeFailedPrecondition, "is suspended")
}

func TestAuthorization(t *testing.T) {
	t.Parallel()
	s := startTenancy(t)
	ctx := context.Background()
	tenant := createTenant(t, s.operator(t), "acme")
	registerHost(t, s.operator(t), tenant.GetId(), "prod")
	// Each call gets its own request, because the client interceptor sets
	// the Authorization header on the request it sends.
	getHost := func() *connect.Request[tenancyv1.GetHostRequest] {
		return connect.NewRequest(&tenancyv1.GetHostRequest{TenantId: tenant.GetId(), Host: "prod"})
	}

	tests := []struct {
		name    string
		token   string
		code    connect.Code
		message string
	}{
		{"no token", "", connect.CodeUnauthenticated, "missing bearer token"},
		{"garbage token", "not-a-jwt", connect.CodeUnauthenticated, "invalid access token"},
		{"wrong audience", s.issuer.Mint(t, authtest.Token{Audience: "urn:dokkumcp:secrets", Subject: "dokkuexec", Scope: "tenancy:read-hosts"}),
			connect.CodeUnauthenticated, "invalid access token"},
		{"missing permission", s.issuer.Mint(t, authtest.Token{Audience: server.Audience, Subject: "mcpedge", Scope: "token:exchange"}),
			connect.CodePermissionDenied, `permission "tenancy:read-hosts" is required`},
		{"tenant token", s.issuer.Mint(t, authtest.Token{Audience: server.Audience, Subject: "alice", Scope: "tenancy:read-hosts", TenantID: tenant.GetId()}),
			connect.CodePermissionDenied, "scoped to tenant " + tenant.GetId()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := tenancyv1connect.NewTenancyServiceClient(http.DefaultClient, s.url)
			if tt.token != "" {
				client = s.client(tt.token)
			}
			_, err := client.GetHost(ctx, getHost())
			wantCode(t, err, tt.code, tt.message)
		})
	}

	// Host reads do not grant tenant administration.
	_, err := s.dokkuexec(t).CreateTenant(ctx, connect.NewRequest(&tenancyv1.CreateTenantRequest{Slug: "sneaky"}))
	wantCode(t, err, connect.CodePermissionDenied, `permission "platform:admin" is required`)
}
