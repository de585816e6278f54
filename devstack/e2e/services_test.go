package e2e_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"dokkumcp.dev/devstack/internal/stack"
)

// TestServiceAndLetsencryptTools drives the services and letsencrypt tools
// with mcp-go's client through the whole stack to a test host that has the
// postgres, redis and letsencrypt plugins.
func TestServiceAndLetsencryptTools(t *testing.T) {
	t.Parallel()
	logs := &syncBuffer{}
	st := startStack(t, logs)
	ctx := context.Background()

	tenant, err := st.SeedTenant(ctx, stack.TenantOptions{Slug: "services"})
	if err != nil {
		t.Fatalf("seed tenant: %v\nlogs:\n%s", err, logs.String())
	}
	c := newMCPClient(t, st.MCPURL, fetchToken(t, st.IdentityURL+"/oauth2/token", tenant.ClientID, tenant.ClientSecret, st.MCPURL))

	var created struct{ App string }
	call(t, c, "apps_create", map[string]any{"app": "shop"}, &created)

	t.Run("services", func(t *testing.T) {
		var service struct {
			Info struct {
				Name        string
				Status      string
				DSN         string `json:"dsn"`
				DSNRedacted bool   `json:"dsn_redacted"`
			}
		}
		call(t, c, "services_create", map[string]any{"kind": "postgres", "name": "shop-db"}, &service)
		if service.Info.Status != "running" || !service.Info.DSNRedacted || !strings.Contains(service.Info.DSN, ":********@") {
			t.Errorf("services_create = %+v, want a running service with a redacted DSN", service.Info)
		}

		var list struct{ Names []string }
		call(t, c, "services_list", map[string]any{"kind": "postgres"}, &list)
		if !slices.Equal(list.Names, []string{"shop-db"}) {
			t.Errorf("services_list = %q, want [shop-db]", list.Names)
		}

		var link struct {
			ConfigKey string `json:"config_key"`
		}
		call(t, c, "services_link", map[string]any{"kind": "postgres", "name": "shop-db", "app": "shop", "no_restart": true}, &link)
		if link.ConfigKey != "DATABASE_URL" {
			t.Errorf("services_link config key = %q, want DATABASE_URL", link.ConfigKey)
		}

		// The owner may reveal config values, so it may reveal the DSN, and
		// the DSN is what the app's DATABASE_URL holds.
		var revealed struct {
			DSN         string `json:"dsn"`
			DSNRedacted bool   `json:"dsn_redacted"`
			Links       []string
		}
		call(t, c, "services_info", map[string]any{"kind": "postgres", "name": "shop-db", "reveal": true}, &revealed)
		var value struct{ Value string }
		call(t, c, "config_get", map[string]any{"app": "shop", "key": "DATABASE_URL"}, &value)
		if revealed.DSNRedacted || revealed.DSN != value.Value || !slices.Equal(revealed.Links, []string{"shop"}) {
			t.Errorf("services_info with reveal = %+v; want the DSN in DATABASE_URL (%q) and a link to shop", revealed, value.Value)
		}

		text := attempt(t, c, "services_destroy", map[string]any{"kind": "postgres", "name": "shop-db", "confirm": "shop-db"})
		if !strings.Contains(text, "unlink") {
			t.Errorf("services_destroy of a linked service failed with %q; want advice to unlink", text)
		}
		text = attempt(t, c, "services_unlink", map[string]any{"kind": "postgres", "name": "shop-db", "app": "shop", "confirm": "shop"})
		if !strings.Contains(text, `confirm set to the service's name "shop-db"`) {
			t.Errorf("services_unlink with the wrong confirm failed with %q", text)
		}
		var unlinked struct {
			UnsetKeys []string `json:"unset_keys"`
		}
		call(t, c, "services_unlink", map[string]any{"kind": "postgres", "name": "shop-db", "app": "shop", "confirm": "shop-db", "no_restart": true}, &unlinked)
		if !slices.Equal(unlinked.UnsetKeys, []string{"DATABASE_URL"}) {
			t.Errorf("services_unlink unset %q, want [DATABASE_URL]", unlinked.UnsetKeys)
		}
		var destroyed struct{ Name string }
		call(t, c, "services_destroy", map[string]any{"kind": "postgres", "name": "shop-db", "confirm": "shop-db"}, &destroyed)
		call(t, c, "services_list", map[string]any{"kind": "postgres"}, &list)
		if len(list.Names) != 0 {
			t.Errorf("services_list after destroy = %q, want none", list.Names)
		}
	})

	t.Run("letsencrypt", func(t *testing.T) {
		var domains struct{ Domains []string }
		call(t, c, "domains_add", map[string]any{"app": "shop", "domains": []string{"shop.example.com"}}, &domains)
		text := attempt(t, c, "letsencrypt_enable", map[string]any{"app": "shop"})
		if !strings.Contains(text, "no e-mail address") {
			t.Errorf("letsencrypt_enable without an address failed with %q", text)
		}

		var enabled struct {
			Changed bool
			Report  struct {
				Active    bool
				Email     string
				ExpiresAt string `json:"expires_at"`
			}
		}
		call(t, c, "letsencrypt_enable", map[string]any{"app": "shop", "email": "ops@example.com"}, &enabled)
		if !enabled.Changed || !enabled.Report.Active || enabled.Report.Email != "ops@example.com" || enabled.Report.ExpiresAt == "" {
			t.Errorf("letsencrypt_enable = %+v, want an active certificate for ops@example.com", enabled)
		}

		var disabled struct{ App string }
		call(t, c, "letsencrypt_disable", map[string]any{"app": "shop", "confirm": "shop"}, &disabled)
		var report struct{ Active bool }
		call(t, c, "letsencrypt_report", map[string]any{"app": "shop"}, &report)
		if report.Active {
			t.Error("letsencrypt_report after letsencrypt_disable is still active")
		}
	})

	// Every call above is in the tenant's ledger, the refused ones too.
	events := waitForAudit(t, st, tenant.ID, func(events []auditRow) bool {
		return slices.ContainsFunc(events, func(e auditRow) bool { return e.operation == "mcpedge.letsencrypt_report" })
	})
	for _, operation := range []string{"mcpedge.services_create", "dokkuexec.CreateService", "dokkuexec.LinkService",
		"dokkuexec.UnlinkService", "dokkuexec.DestroyService", "dokkuexec.EnableLetsencrypt"} {
		if !slices.ContainsFunc(events, func(e auditRow) bool { return e.operation == operation }) {
			t.Errorf("the ledger lacks %s", operation)
		}
	}
}
