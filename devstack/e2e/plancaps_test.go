package e2e_test

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"golang.org/x/oauth2/clientcredentials"

	"dokkumcp.dev/devstack/internal/stack"
	tenancyv1 "dokkumcp.dev/gen/dokkumcp/tenancy/v1"
)

// TestPlanCaps checks, against the real Identity and Tenancy, that once a
// tenant moves to the read-only Free plan its owner's new tokens carry only
// read permissions, so mcpedge lists only read tools.
func TestPlanCaps(t *testing.T) {
	t.Parallel()
	logs := &syncBuffer{}
	st := startStack(t, logs)
	ctx := context.Background()

	tenant, err := st.SeedTenant(ctx, stack.TenantOptions{Slug: "plancaps-free"})
	if err != nil {
		t.Fatalf("seed tenant: %v\nlogs:\n%s", err, logs.String())
	}
	tokenConfig := clientcredentials.Config{
		ClientID: tenant.ClientID, ClientSecret: tenant.ClientSecret, TokenURL: st.IdentityURL + "/oauth2/token",
		EndpointParams: url.Values{"resource": {st.MCPURL}},
	}
	pro, err := tokenConfig.Token(ctx)
	if err != nil {
		t.Fatalf("fetch token on the pro plan: %v\nlogs:\n%s", err, logs.String())
	}
	if scope, _ := pro.Extra("scope").(string); !slices.Contains(strings.Fields(scope), "apps:deploy") {
		t.Fatalf("token scope on the pro plan = %q, want the owner's write permissions", scope)
	}

	if err := st.ChangePlan(ctx, tenant.ID, tenancyv1.Plan_PLAN_FREE); err != nil {
		t.Fatal(err)
	}

	// Identity caches each tenant's plan for --tenant-limits-ttl (10 s), so
	// the first token issued after the cached pro plan expires is capped.
	const readScope = "apps:read services:read logs:read audit:read"
	var token, scope string
	deadline := time.Now().Add(30 * time.Second)
	for {
		issued, err := tokenConfig.Token(ctx)
		if err != nil {
			t.Fatalf("fetch token: %v\nlogs:\n%s", err, logs.String())
		}
		token = issued.AccessToken
		scope, _ = issued.Extra("scope").(string)
		if scope == readScope {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("token scope = %q 30 s after the change to free, want %q", scope, readScope)
		}
		waitPollInterval(t)
	}
	for _, write := range []string{"apps:deploy", "apps:create", "apps:destroy", "tenant:admin"} {
		if slices.Contains(strings.Fields(scope), write) {
			t.Errorf("token on the free plan carries %s", write)
		}
	}

	c := newMCPClient(t, st.MCPURL, token)
	tools, err := c.ListTools(ctx, mcp.ListToolsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tool := range tools.Tools {
		names = append(names, tool.Name)
	}
	slices.Sort(names)
	wantTools := []string{"apps_list", "apps_report", "audit_log", "domains_report", "host_info", "letsencrypt_report", "logs_get", "ps_report", "services_info", "services_list"}
	if !slices.Equal(names, wantTools) {
		t.Errorf("tools on the free plan = %v, want the read tools %v", names, wantTools)
	}
}
