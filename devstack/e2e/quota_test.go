package e2e_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	"dokkumcp.dev/devstack/internal/stack"
	dokkuexecv1 "dokkumcp.dev/gen/dokkumcp/dokkuexec/v1"
	"dokkumcp.dev/gen/dokkumcp/dokkuexec/v1/dokkuexecv1connect"
	identityv1 "dokkumcp.dev/gen/dokkumcp/identity/v1"
	"dokkumcp.dev/gen/dokkumcp/identity/v1/identityv1connect"
	tenancyv1 "dokkumcp.dev/gen/dokkumcp/tenancy/v1"
	"dokkumcp.dev/gen/dokkumcp/tenancy/v1/tenancyv1connect"
)

// tenantClients are a tenant owner's clients of DokkuExec and of Tenancy's
// audit ledger.
type tenantClients struct {
	dokkuexec dokkuexecv1connect.DokkuExecServiceClient
	tenancy   tenancyv1connect.TenancyServiceClient
}

// ownerClients creates an owner API client of the tenant that may call
// DokkuExec and Tenancy directly, and returns clients with its tokens.
func ownerClients(t *testing.T, st *stack.Stack, tenantID string) tenantClients {
	t.Helper()
	identity := identityv1connect.NewIdentityServiceClient(bearerClient(st.OperatorToken(t, "urn:dokkumcp:identity")), st.IdentityURL)
	created, err := identity.CreateClient(context.Background(), connect.NewRequest(&identityv1.CreateClientRequest{
		TenantId: tenantID, Name: "quota-owner", Role: "owner", Resources: []string{"urn:dokkumcp:dokkuexec", "urn:dokkumcp:tenancy"},
	}))
	if err != nil {
		t.Fatalf("create an owner client: %v", err)
	}
	tokenURL := st.IdentityURL + "/oauth2/token"
	id, secret := created.Msg.GetClient().GetClientId(), created.Msg.GetClientSecret()
	return tenantClients{
		dokkuexec: dokkuexecv1connect.NewDokkuExecServiceClient(bearerClient(fetchToken(t, tokenURL, id, secret, "urn:dokkumcp:dokkuexec")), st.DokkuExecURL),
		tenancy:   tenancyv1connect.NewTenancyServiceClient(bearerClient(fetchToken(t, tokenURL, id, secret, "urn:dokkumcp:tenancy")), st.TenancyURL),
	}
}

// TestPlanLimits checks, against the real services, that DokkuExec holds a
// Pro tenant to its 10 apps under concurrent creation, refuses changes for a
// tenant on the read-only Free plan, and records every change in the
// tenant's audit ledger without config values.
func TestPlanLimits(t *testing.T) {
	t.Parallel()
	logs := &syncBuffer{}
	st := startStack(t, logs)
	ctx := context.Background()

	t.Run("a pro tenant gets at most 10 apps under concurrent creation", func(t *testing.T) {
		t.Parallel()
		tenant, err := st.SeedTenant(ctx, stack.TenantOptions{Slug: "quota-pro"})
		if err != nil {
			t.Fatalf("seed tenant: %v\nlogs:\n%s", err, logs.String())
		}
		c := ownerClients(t, st, tenant.ID)

		for i := 1; i <= 9; i++ {
			name := fmt.Sprintf("app-%02d", i)
			if _, err := c.dokkuexec.CreateApp(ctx, connect.NewRequest(&dokkuexecv1.CreateAppRequest{App: name})); err != nil {
				t.Fatalf("CreateApp %s: %v\nlogs:\n%s", name, err, logs.String())
			}
		}

		const racers = 50
		errs := make([]error, racers)
		var wg sync.WaitGroup
		for i := range racers {
			wg.Go(func() {
				_, errs[i] = c.dokkuexec.CreateApp(ctx, connect.NewRequest(&dokkuexecv1.CreateAppRequest{App: fmt.Sprintf("race-%02d", i)}))
			})
		}
		wg.Wait()
		var created, exhausted int
		for i, err := range errs {
			switch {
			case err == nil:
				created++
			case connect.CodeOf(err) == connect.CodeResourceExhausted && strings.Contains(err.Error(), "at most 10 apps") && strings.Contains(err.Error(), "plan pro"):
				exhausted++
			default:
				t.Errorf("CreateApp race-%02d = %v, want success or ResourceExhausted naming the limit of 10 apps on plan pro", i, err)
			}
		}
		if created != 1 || exhausted != racers-1 {
			t.Errorf("%d creations succeeded and %d were refused, want 1 and %d", created, exhausted, racers-1)
		}
		listed, err := c.dokkuexec.ListApps(ctx, connect.NewRequest(&dokkuexecv1.ListAppsRequest{}))
		if err != nil {
			t.Fatalf("ListApps: %v", err)
		}
		if n := len(listed.Msg.GetApps()); n != 10 {
			t.Errorf("the host has %d apps, want 10: %q", n, listed.Msg.GetApps())
		}

		refused, err := c.tenancy.ListAuditEvents(ctx, connect.NewRequest(&tenancyv1.ListAuditEventsRequest{
			Filter: &tenancyv1.AuditFilter{Operation: "dokkuexec.CreateApp", Result: "resource_exhausted"}, PageSize: 100,
		}))
		if err != nil {
			t.Fatalf("ListAuditEvents: %v", err)
		}
		if n := len(refused.Msg.GetEvents()); n != racers-1 {
			t.Errorf("%d refused creations in the audit ledger, want %d", n, racers-1)
		}

		// Destroying an app frees its slot.
		if _, err := c.dokkuexec.DestroyApp(ctx, connect.NewRequest(&dokkuexecv1.DestroyAppRequest{App: "app-01", Confirm: "app-01"})); err != nil {
			t.Fatalf("DestroyApp: %v", err)
		}
		if _, err := c.dokkuexec.CreateApp(ctx, connect.NewRequest(&dokkuexecv1.CreateAppRequest{App: "app-10"})); err != nil {
			t.Fatalf("CreateApp after a destroy freed a slot: %v", err)
		}
	})

	t.Run("a free tenant may read but not change apps", func(t *testing.T) {
		t.Parallel()
		tenant, err := st.SeedTenant(ctx, stack.TenantOptions{Slug: "quota-free"})
		if err != nil {
			t.Fatalf("seed tenant: %v\nlogs:\n%s", err, logs.String())
		}
		c := ownerClients(t, st, tenant.ID)
		if _, err := c.dokkuexec.CreateApp(ctx, connect.NewRequest(&dokkuexecv1.CreateAppRequest{App: "shop"})); err != nil {
			t.Fatalf("CreateApp on the pro plan: %v", err)
		}

		// DokkuExec caches the limits for --limits-ttl (10 s); the first
		// request after the change that finds the cache expired sees it.
		operator := tenancyv1connect.NewTenancyServiceClient(bearerClient(st.OperatorToken(t, "urn:dokkumcp:tenancy")), st.TenancyURL)
		if _, err := operator.ChangePlan(ctx, connect.NewRequest(&tenancyv1.ChangePlanRequest{TenantId: tenant.ID, Plan: tenancyv1.Plan_PLAN_FREE})); err != nil {
			t.Fatalf("ChangePlan to free: %v", err)
		}
		want := "tenant " + tenant.ID + " is on the free plan, which is read-only; upgrade the plan to change apps"
		pollUntil(t, "DokkuExec to see the free plan", func() bool {
			_, err := c.dokkuexec.SetConfig(ctx, connect.NewRequest(&dokkuexecv1.SetConfigRequest{App: "shop", Vars: map[string]string{"K": "v"}, NoRestart: true}))
			return connect.CodeOf(err) == connect.CodePermissionDenied
		})

		_, err = c.dokkuexec.SetConfig(ctx, connect.NewRequest(&dokkuexecv1.SetConfigRequest{App: "shop", Vars: map[string]string{"K": "v"}, NoRestart: true}))
		wantConnectError(t, err, connect.CodePermissionDenied, want)
		_, err = c.dokkuexec.CreateApp(ctx, connect.NewRequest(&dokkuexecv1.CreateAppRequest{App: "blog"}))
		wantConnectError(t, err, connect.CodePermissionDenied, want)
		listed, err := c.dokkuexec.ListApps(ctx, connect.NewRequest(&dokkuexecv1.ListAppsRequest{}))
		if err != nil || len(listed.Msg.GetApps()) != 1 {
			t.Errorf("ListApps on the free plan = %v, %v; want [shop]", listed, err)
		}
	})

	t.Run("changes are in the audit ledger without config values", func(t *testing.T) {
		t.Parallel()
		tenant, err := st.SeedTenant(ctx, stack.TenantOptions{Slug: "quota-audit"})
		if err != nil {
			t.Fatalf("seed tenant: %v\nlogs:\n%s", err, logs.String())
		}
		c := ownerClients(t, st, tenant.ID)
		const secret = "audit-secret-value-7f3a"

		steps := []struct {
			call      func() error
			operation string
			result    string
		}{
			{func() error {
				_, err := c.dokkuexec.CreateApp(ctx, connect.NewRequest(&dokkuexecv1.CreateAppRequest{App: "shop"}))
				return err
			}, "dokkuexec.CreateApp", "ok"},
			{func() error {
				_, err := c.dokkuexec.SetConfig(ctx, connect.NewRequest(&dokkuexecv1.SetConfigRequest{App: "shop", Vars: map[string]string{"DATABASE_URL": secret}, NoRestart: true}))
				return err
			}, "dokkuexec.SetConfig", "ok"},
			{func() error {
				_, err := c.dokkuexec.GetConfig(ctx, connect.NewRequest(&dokkuexecv1.GetConfigRequest{App: "shop", Key: "DATABASE_URL"}))
				return err
			}, "", ""},
			{func() error {
				_, err := c.dokkuexec.SetConfig(ctx, connect.NewRequest(&dokkuexecv1.SetConfigRequest{App: "missing", Vars: map[string]string{"API_KEY": secret}, NoRestart: true}))
				if connect.CodeOf(err) != connect.CodeNotFound {
					return fmt.Errorf("SetConfig on a missing app = %v, want NotFound", err)
				}
				return nil
			}, "dokkuexec.SetConfig", "not_found"},
			{func() error {
				_, err := c.dokkuexec.AddDomains(ctx, connect.NewRequest(&dokkuexecv1.AddDomainsRequest{App: "shop", Domains: []string{"shop.example.com"}}))
				return err
			}, "dokkuexec.AddDomains", "ok"},
			{func() error {
				_, err := c.dokkuexec.UnsetConfig(ctx, connect.NewRequest(&dokkuexecv1.UnsetConfigRequest{App: "shop", Keys: []string{"DATABASE_URL"}, NoRestart: true}))
				return err
			}, "dokkuexec.UnsetConfig", "ok"},
		}
		var wantOps []string
		for i, step := range steps {
			if err := step.call(); err != nil {
				t.Fatalf("step %d: %v\nlogs:\n%s", i, err, logs.String())
			}
			if step.operation != "" {
				wantOps = append(wantOps, step.operation+" "+step.result)
			}
		}

		listed, err := c.tenancy.ListAuditEvents(ctx, connect.NewRequest(&tenancyv1.ListAuditEventsRequest{}))
		if err != nil {
			t.Fatalf("ListAuditEvents with the owner's token: %v", err)
		}
		// Identity (client changes) and Secrets (credential issuances) write
		// to the same ledger; this checks DokkuExec's events.
		var gotOps []string
		var dokkuexecEvents []*tenancyv1.AuditEvent
		for i, e := range listed.Msg.GetEvents() {
			if e.GetSeq() != int64(i+1) {
				t.Errorf("event %d has seq %d, want %d", i, e.GetSeq(), i+1)
			}
			if strings.Contains(e.String(), secret) {
				t.Errorf("event %d holds a config value: %s", e.GetSeq(), e.GetArgumentsJson())
			}
			if !strings.HasPrefix(e.GetOperation(), "dokkuexec.") {
				continue
			}
			dokkuexecEvents = append(dokkuexecEvents, e)
			gotOps = append(gotOps, e.GetOperation()+" "+e.GetResult())
			if e.GetTarget() != "main/shop" && e.GetTarget() != "main/missing" {
				t.Errorf("event %d target = %q, want main/<app>", e.GetSeq(), e.GetTarget())
			}
			if e.GetSubject() == "" || e.GetClientId() == "" {
				t.Errorf("event %d names no subject or client: %+v", e.GetSeq(), e)
			}
		}
		if strings.Join(gotOps, "\n") != strings.Join(wantOps, "\n") {
			t.Errorf("DokkuExec's audit events:\n%s\nwant:\n%s", strings.Join(gotOps, "\n"), strings.Join(wantOps, "\n"))
		}
		if len(dokkuexecEvents) > 1 && !strings.Contains(dokkuexecEvents[1].GetArgumentsJson(), `"keys":["DATABASE_URL"]`) {
			t.Errorf("SetConfig arguments = %s, want the key DATABASE_URL", dokkuexecEvents[1].GetArgumentsJson())
		}

		verified, err := c.tenancy.VerifyAuditChain(ctx, connect.NewRequest(&tenancyv1.VerifyAuditChainRequest{}))
		if err != nil {
			t.Fatalf("VerifyAuditChain: %v", err)
		}
		if !verified.Msg.GetOk() || verified.Msg.GetEventsChecked() != int64(len(listed.Msg.GetEvents())) {
			t.Errorf("VerifyAuditChain = %+v, want ok over %d events", verified.Msg, len(listed.Msg.GetEvents()))
		}
	})
}

func wantConnectError(t *testing.T, err error, code connect.Code, message string) {
	t.Helper()
	if connect.CodeOf(err) != code || !strings.Contains(err.Error(), message) {
		t.Errorf("error = %v, want %s with %q", err, code, message)
	}
}

// pollUntil calls cond until it returns true, for at most 30 seconds.
func pollUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		waitPollInterval(t)
	}
}
