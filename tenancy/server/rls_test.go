package server_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	tenancyv1 "dokkumcp.dev/gen/dokkumcp/tenancy/v1"
)

func TestRowLevelSecurity(t *testing.T) {
	t.Parallel()
	s := startTenancy(t)
	ctx := context.Background()
	operator, dokkuexec := s.operator(t), s.dokkuexec(t)
	acme := createTenant(t, operator, "acme")
	globex := createTenant(t, operator, "globex")
	acmeHost := registerHost(t, operator, acme.GetId(), "prod")
	globexHost := registerHost(t, operator, globex.GetId(), "prod")
	createApp(t, dokkuexec, acme.GetId(), acmeHost.GetId(), "web")
	createApp(t, dokkuexec, globex.GetId(), globexHost.GetId(), "web")
	appendEvent(t, dokkuexec, &tenancyv1.AppendAuditEventRequest{TenantId: acme.GetId(), Operation: "apps.list", Result: "ok"})
	appendEvent(t, dokkuexec, &tenancyv1.AppendAuditEventRequest{TenantId: globex.GetId(), Operation: "apps.list", Result: "ok"})

	tables := []string{"hosts", "apps", "audit_events"}
	tenantsOf := func(t *testing.T, tenantID, table string) []string {
		t.Helper()
		var got []string
		err := asAppRole(t, s.postgresURL, tenantID, func(tx pgx.Tx) error {
			rows, err := tx.Query(ctx, "SELECT tenant_id FROM tenancy."+table)
			if err != nil {
				return err
			}
			got, err = pgx.CollectRows(rows, pgx.RowTo[string])
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}

	for _, table := range tables {
		t.Run(table+" without tenant", func(t *testing.T) {
			if got := tenantsOf(t, "", table); len(got) != 0 {
				t.Errorf("rows of tenants %v visible without app.tenant_id, want none", got)
			}
		})
		t.Run(table+" as acme", func(t *testing.T) {
			got := tenantsOf(t, acme.GetId(), table)
			if len(got) != 1 || got[0] != acme.GetId() {
				t.Errorf("rows of tenants %v visible to %s, want only its own row", got, acme.GetId())
			}
		})
	}

	// The policy also checks written rows: acme cannot write globex's.
	err := asAppRole(t, s.postgresURL, acme.GetId(), func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO tenancy.apps (tenant_id, host_id, name, create_time) VALUES ($1, $2, 'sneaky', now())`,
			globex.GetId(), globexHost.GetId())
		return err
	})
	const policyViolation = "42501"
	wantSQLState(t, err, policyViolation)
}
