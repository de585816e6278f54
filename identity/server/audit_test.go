package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	identityv1 "dokkumcp.dev/gen/dokkumcp/identity/v1"
	tenancyv1 "dokkumcp.dev/gen/dokkumcp/tenancy/v1"
)

// waitForEvent polls tenancy until it holds an event that match accepts
// and returns that event.
func waitForEvent(t *testing.T, tenancy *fakeTenancy, what string, match func(*tenancyv1.AppendAuditEventRequest) bool) *tenancyv1.AppendAuditEventRequest {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		events := tenancy.auditEvents()
		if i := slices.IndexFunc(events, match); i >= 0 {
			return events[i]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no audit event %s within 10s; events: %v", what, events)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestAuditFailedAuthentication(t *testing.T) {
	t.Parallel()
	tenancy := newFakeTenancy(t)
	srv := startCappedServer(t, tenancy, time.Hour)
	tenancy.set("t-audit", tenancyv1.Plan_PLAN_PRO, tenancyv1.TenantStatus_TENANT_STATUS_ACTIVE)
	id, _ := srv.createClient(t, "t-audit", "owner")

	resp := srv.postToken(t, clientCredentialsForm(audienceDokkuExec, ""), []string{id, "wrong-secret"})
	if resp.Status != http.StatusUnauthorized || resp.Error != "invalid_client" {
		t.Fatalf("token with a wrong secret = %d %s, want 401 invalid_client", resp.Status, resp.Error)
	}
	event := waitForEvent(t, tenancy, "identity.token for "+id, func(e *tenancyv1.AppendAuditEventRequest) bool {
		return e.GetOperation() == "identity.token" && e.GetTarget() == id
	})
	if event.GetTenantId() != "t-audit" || event.GetClientId() != id || event.GetResult() != "invalid_client" {
		t.Errorf("event tenant %q client %q result %q, want t-audit, %s, invalid_client", event.GetTenantId(), event.GetClientId(), event.GetResult(), id)
	}
	var arguments map[string]string
	if err := json.Unmarshal([]byte(event.GetArgumentsJson()), &arguments); err != nil {
		t.Fatalf("arguments %q: %v", event.GetArgumentsJson(), err)
	}
	if arguments["reason"] != "wrong_secret" || arguments["auth_method"] != "client_secret_basic" || arguments["source_address"] != "127.0.0.1" {
		t.Errorf("arguments = %v, want reason wrong_secret, auth_method client_secret_basic, source_address 127.0.0.1", arguments)
	}
	if got := event.GetArgumentsJson(); strings.Contains(got, "wrong-secret") {
		t.Errorf("arguments %q contain the secret that was sent", got)
	}

	// An unknown client has no tenant, so its failure reaches no ledger.
	before := len(tenancy.auditEvents())
	resp = srv.postToken(t, clientCredentialsForm(audienceDokkuExec, ""), []string{"c-unknown", "wrong-secret"})
	if resp.Status != http.StatusUnauthorized {
		t.Fatalf("token for an unknown client = %d, want 401", resp.Status)
	}
	// The disabled client's event, queued after the unknown client's
	// failure, shows that the worker has passed it.
	operator := srv.token(t, "operator", srv.Secrets["operator"], audienceIdentity)
	if _, err := srv.identityClient(operator).DisableClient(context.Background(), connect.NewRequest(&identityv1.DisableClientRequest{ClientId: id})); err != nil {
		t.Fatalf("DisableClient: %v", err)
	}
	waitForEvent(t, tenancy, "identity.DisableClient", func(e *tenancyv1.AppendAuditEventRequest) bool {
		return e.GetOperation() == "identity.DisableClient" && e.GetTarget() == id && e.GetClientId() == "operator"
	})
	for _, e := range tenancy.auditEvents()[before:] {
		if e.GetOperation() == "identity.token" {
			t.Errorf("failure of an unknown client reached tenant %q's ledger: %v", e.GetTenantId(), e)
		}
	}

	create := waitForEvent(t, tenancy, "identity.CreateClient", func(e *tenancyv1.AppendAuditEventRequest) bool {
		return e.GetOperation() == "identity.CreateClient" && e.GetTarget() == id
	})
	if create.GetTenantId() != "t-audit" || create.GetSubject() != "operator" || create.GetResult() != "ok" {
		t.Errorf("CreateClient event tenant %q subject %q result %q, want t-audit, operator, ok", create.GetTenantId(), create.GetSubject(), create.GetResult())
	}
}
