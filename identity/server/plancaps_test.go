package server_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	identityv1 "dokkumcp.dev/gen/dokkumcp/identity/v1"
	tenancyv1 "dokkumcp.dev/gen/dokkumcp/tenancy/v1"
	"dokkumcp.dev/gen/dokkumcp/tenancy/v1/tenancyv1connect"
	"dokkumcp.dev/identity/server"
	"dokkumcp.dev/platform/auth"
)

// fakeTenancy serves GetTenantLimits from a table and checks that every
// call carries a token Identity minted for Tenancy with tenancy:read-limits.
// Identity's tests cannot import Tenancy's internal packages, so devstack's
// e2e tests (TestPlanCaps) cover the path through the real Tenancy.
type fakeTenancy struct {
	tenancyv1connect.UnimplementedTenancyServiceHandler
	URL    string
	server *httptest.Server

	mu       sync.Mutex
	verifier *auth.Verifier
	limits   map[string]*tenancyv1.TenantLimits
	calls    map[string]int
	events   []*tenancyv1.AppendAuditEventRequest
	errs     []string
}

func newFakeTenancy(t *testing.T) *fakeTenancy {
	t.Helper()
	f := &fakeTenancy{limits: map[string]*tenancyv1.TenantLimits{}, calls: map[string]int{}}
	mux := http.NewServeMux()
	mux.Handle(tenancyv1connect.NewTenancyServiceHandler(f))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	f.URL, f.server = srv.URL, srv
	t.Cleanup(func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, e := range f.errs {
			t.Errorf("fakeTenancy: %s", e)
		}
	})
	return f
}

// trust makes the fake verify tokens against the Identity at srv.
func (f *fakeTenancy) trust(srv *testServer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.verifier = srv.verifier(audienceTenancy)
}

func (f *fakeTenancy) set(tenantID string, plan tenancyv1.Plan, status tenancyv1.TenantStatus) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.limits[tenantID] = &tenancyv1.TenantLimits{
		TenantId: tenantID, Plan: plan, Status: status, ReadOnly: plan == tenancyv1.Plan_PLAN_FREE,
	}
}

func (f *fakeTenancy) callsFor(tenantID string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[tenantID]
}

func (f *fakeTenancy) GetTenantLimits(ctx context.Context, req *connect.Request[tenancyv1.GetTenantLimitsRequest]) (*connect.Response[tenancyv1.GetTenantLimitsResponse], error) {
	f.mu.Lock()
	verifier := f.verifier
	f.mu.Unlock()
	fail := func(format string, args ...any) error {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.errs = append(f.errs, fmt.Sprintf(format, args...))
		return connect.NewError(connect.CodeUnauthenticated, fmt.Errorf(format, args...))
	}
	if verifier == nil {
		return nil, fail("GetTenantLimits called before the test named the Identity to trust")
	}
	principal, err := verifier.Verify(ctx, strings.TrimPrefix(req.Header().Get("Authorization"), "Bearer "))
	if err != nil {
		return nil, fail("Identity sent a token Tenancy rejects: %v", err)
	}
	if principal.Subject != "identity" || !slices.Equal(principal.Scopes, []string{"tenancy:read-limits"}) || principal.TenantID != "" {
		return nil, fail("Identity's token has sub %q, scope %q and tenant %q, want identity, tenancy:read-limits and none",
			principal.Subject, principal.Scopes, principal.TenantID)
	}

	tenantID := req.Msg.GetTenantId()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[tenantID]++
	limits, ok := f.limits[tenantID]
	if !ok {
		return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("tenant %s not found", tenantID))
	}
	return connect.NewResponse(&tenancyv1.GetTenantLimitsResponse{Limits: limits}), nil
}

// AppendAuditEvent records the event after checking that Identity sent a
// token it minted for Tenancy with only audit:append.
func (f *fakeTenancy) AppendAuditEvent(ctx context.Context, req *connect.Request[tenancyv1.AppendAuditEventRequest]) (*connect.Response[tenancyv1.AppendAuditEventResponse], error) {
	f.mu.Lock()
	verifier := f.verifier
	f.mu.Unlock()
	fail := func(format string, args ...any) error {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.errs = append(f.errs, fmt.Sprintf(format, args...))
		return connect.NewError(connect.CodeUnauthenticated, fmt.Errorf(format, args...))
	}
	if verifier == nil {
		return nil, fail("AppendAuditEvent called before the test named the Identity to trust")
	}
	principal, err := verifier.Verify(ctx, strings.TrimPrefix(req.Header().Get("Authorization"), "Bearer "))
	if err != nil {
		return nil, fail("Identity sent a token Tenancy rejects: %v", err)
	}
	if principal.Subject != "identity" || !slices.Equal(principal.Scopes, []string{"audit:append"}) || principal.TenantID != "" {
		return nil, fail("Identity's audit token has sub %q, scope %q and tenant %q, want identity, audit:append and none",
			principal.Subject, principal.Scopes, principal.TenantID)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, req.Msg)
	return connect.NewResponse(&tenancyv1.AppendAuditEventResponse{}), nil
}

// auditEvents returns the events appended so far.
func (f *fakeTenancy) auditEvents() []*tenancyv1.AppendAuditEventRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.events)
}

// startCappedServer runs Identity with plan caps from tenancy, caching each
// plan for ttl.
func startCappedServer(t *testing.T, tenancy *fakeTenancy, ttl time.Duration) *testServer {
	t.Helper()
	srv := startServer(t, serverSetup{
		tenantResources: []string{audienceDokkuExec, mcpURL, audienceTenancy},
		configure: func(cfg *server.Config) {
			cfg.TenancyURL = tenancy.URL
			cfg.TenantLimitsTTL = ttl
		},
	})
	tenancy.trust(srv)
	return srv
}

func clientCredentialsForm(resource, scope string) url.Values {
	form := url.Values{"grant_type": {"client_credentials"}, "resource": {resource}}
	if scope != "" {
		form.Set("scope", scope)
	}
	return form
}

func TestPlanCapsScopes(t *testing.T) {
	t.Parallel()
	tenancy := newFakeTenancy(t)
	srv := startCappedServer(t, tenancy, time.Hour)
	tenancy.set("t-pro", tenancyv1.Plan_PLAN_PRO, tenancyv1.TenantStatus_TENANT_STATUS_ACTIVE)
	tenancy.set("t-free", tenancyv1.Plan_PLAN_FREE, tenancyv1.TenantStatus_TENANT_STATUS_ACTIVE)
	tenancy.set("t-suspended", tenancyv1.Plan_PLAN_PRO, tenancyv1.TenantStatus_TENANT_STATUS_SUSPENDED)

	const freeScope = "apps:read services:read logs:read audit:read"
	tests := []struct {
		name       string
		tenantID   string
		role       string
		scope      string
		wantStatus int
		wantScope  string
		wantError  string
		wantDesc   string
	}{
		{"pro owner gets write scopes", "t-pro", "owner", "", http.StatusOK,
			"apps:read services:read logs:read apps:deploy apps:config apps:create domains:write services:write apps:destroy audit:read tenant:admin", "", ""},
		{"free owner gets only read scopes", "t-free", "owner", "", http.StatusOK, freeScope, "", ""},
		{"free deployer gets only its read scopes", "t-free", "deployer", "", http.StatusOK, "apps:read services:read logs:read", "", ""},
		{"free owner asking for read and write gets read", "t-free", "owner", "apps:read apps:deploy", http.StatusOK, "apps:read", "", ""},
		{"free owner asking for write only", "t-free", "owner", "apps:deploy apps:create", http.StatusBadRequest, "", "invalid_scope",
			"tenant t-free is on the read-only free plan; it may request " + freeScope},
		{"suspended tenant", "t-suspended", "owner", "", http.StatusBadRequest, "", "unauthorized_client", "tenant t-suspended is suspended"},
		{"unknown tenant counts as deleted", "t-gone", "owner", "", http.StatusBadRequest, "", "unauthorized_client", "tenant t-gone is deleted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			id, secret := srv.createClient(t, tt.tenantID, tt.role)
			resp := srv.postToken(t, clientCredentialsForm(audienceDokkuExec, tt.scope), []string{id, secret})
			if resp.Status != tt.wantStatus || resp.Error != tt.wantError || !strings.Contains(resp.ErrorDescription, tt.wantDesc) {
				t.Fatalf("token response = %d %s %q, want %d %s containing %q", resp.Status, resp.Error, resp.ErrorDescription, tt.wantStatus, tt.wantError, tt.wantDesc)
			}
			if tt.wantStatus != http.StatusOK {
				return
			}
			if resp.Scope != tt.wantScope {
				t.Errorf("scope = %q, want %q", resp.Scope, tt.wantScope)
			}
			if got := strings.Join(srv.verify(t, audienceDokkuExec, resp.AccessToken).Scopes, " "); got != tt.wantScope {
				t.Errorf("token scope = %q, want %q", got, tt.wantScope)
			}
		})
	}
}

func TestPlanCapsExchange(t *testing.T) {
	t.Parallel()
	tenancy := newFakeTenancy(t)
	srv := startCappedServer(t, tenancy, time.Hour)
	tenancy.set("t-pro", tenancyv1.Plan_PLAN_PRO, tenancyv1.TenantStatus_TENANT_STATUS_ACTIVE)
	id, secret := srv.createClient(t, "t-pro", "owner")
	subject := srv.token(t, id, secret, mcpURL)
	mcpedge := []string{"mcpedge", srv.Secrets["mcpedge"]}

	resp := srv.postToken(t, exchangeForm(subject, audienceDokkuExec, "apps:deploy"), mcpedge)
	if resp.Status != http.StatusOK || resp.Scope != "apps:deploy" {
		t.Fatalf("exchange on the pro plan = %d %s %q scope %q, want 200 with apps:deploy", resp.Status, resp.Error, resp.ErrorDescription, resp.Scope)
	}
}

// TestPlanCapsCache checks that a plan is read once per TTL, and that a
// plan change reaches token exchange once the cached plan expires.
func TestPlanCapsCache(t *testing.T) {
	t.Parallel()
	tenancy := newFakeTenancy(t)
	const ttl = time.Second
	srv := startCappedServer(t, tenancy, ttl)
	tenancy.set("t-1", tenancyv1.Plan_PLAN_PRO, tenancyv1.TenantStatus_TENANT_STATUS_ACTIVE)
	id, secret := srv.createClient(t, "t-1", "owner")
	mcpedge := []string{"mcpedge", srv.Secrets["mcpedge"]}

	start := time.Now()
	subject := srv.token(t, id, secret, mcpURL)
	srv.token(t, id, secret, audienceDokkuExec)
	resp := srv.postToken(t, exchangeForm(subject, audienceDokkuExec, ""), mcpedge)
	if resp.Status != http.StatusOK {
		t.Fatalf("exchange = %d %s %q, want 200", resp.Status, resp.Error, resp.ErrorDescription)
	}
	if calls := tenancy.callsFor("t-1"); calls != 1 && time.Since(start) < ttl {
		t.Fatalf("Tenancy was asked %d times within the TTL, want once", calls)
	}

	tenancy.set("t-1", tenancyv1.Plan_PLAN_FREE, tenancyv1.TenantStatus_TENANT_STATUS_ACTIVE)
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp = srv.postToken(t, exchangeForm(subject, audienceDokkuExec, ""), mcpedge)
		if resp.Status == http.StatusOK && resp.Scope == "apps:read services:read logs:read audit:read" {
			break
		}
		if resp.Status != http.StatusOK || time.Now().After(deadline) {
			t.Fatalf("exchange after the change to free = %d %s %q scope %q, want 200 with the read scopes within 10s",
				resp.Status, resp.Error, resp.ErrorDescription, resp.Scope)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if calls := tenancy.callsFor("t-1"); calls < 2 {
		t.Errorf("Tenancy was asked %d times, want a second time after the TTL", calls)
	}

	resp = srv.postToken(t, exchangeForm(subject, audienceDokkuExec, "apps:deploy"), mcpedge)
	if resp.Status != http.StatusBadRequest || resp.Error != "invalid_scope" || !strings.Contains(resp.ErrorDescription, "read-only free plan") {
		t.Errorf("exchange for apps:deploy on the free plan = %d %s %q, want 400 invalid_scope naming the plan", resp.Status, resp.Error, resp.ErrorDescription)
	}
}

func TestPlanCapsTenancyDown(t *testing.T) {
	t.Parallel()
	tenancy := newFakeTenancy(t)
	srv := startCappedServer(t, tenancy, time.Hour)
	id, secret := srv.createClient(t, "t-1", "owner")
	// From here on nothing accepts connections on Tenancy's address.
	tenancy.server.Close()

	resp := srv.postToken(t, clientCredentialsForm(audienceDokkuExec, ""), []string{id, secret})
	if resp.Status != http.StatusServiceUnavailable || resp.Error != "temporarily_unavailable" || !strings.Contains(resp.ErrorDescription, "tenant t-1") {
		t.Errorf("token while Tenancy is down = %d %s %q, want 503 temporarily_unavailable naming the tenant", resp.Status, resp.Error, resp.ErrorDescription)
	}

	// A client change cannot be audited, so it is not reported as done.
	operator := srv.token(t, "operator", srv.Secrets["operator"], audienceIdentity)
	_, err := srv.identityClient(operator).DisableClient(context.Background(), connect.NewRequest(&identityv1.DisableClientRequest{ClientId: id}))
	if connect.CodeOf(err) != connect.CodeUnavailable || !strings.Contains(err.Error(), "audit event could not be recorded") {
		t.Errorf("DisableClient while Tenancy is down = %v, want Unavailable saying the audit event could not be recorded", err)
	}

	// Platform clients have no tenant and do not depend on Tenancy.
	srv.token(t, "dokkuexec", srv.Secrets["dokkuexec"], audienceTenancy)
}

func TestPlanCapsOffWarns(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverSetup{})
	id, secret := srv.createClient(t, "t-1", "owner")
	if scope := srv.verify(t, audienceDokkuExec, srv.token(t, id, secret, audienceDokkuExec)).Scopes; !slices.Contains(scope, "apps:deploy") {
		t.Errorf("scope without --tenancy-url = %q, want the role's write scopes", scope)
	}
	if n := strings.Count(srv.Logs.String(), "no Tenancy URL is set"); n != 1 {
		t.Errorf("the warning about the missing Tenancy URL was logged %d times, want once", n)
	}
}
