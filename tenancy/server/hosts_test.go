package server_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/types/known/timestamppb"

	tenancyv1 "dokkumcp.dev/gen/dokkumcp/tenancy/v1"
	"dokkumcp.dev/gen/dokkumcp/tenancy/v1/tenancyv1connect"
	"dokkumcp.dev/platform/authtest"
	"dokkumcp.dev/tenancy/server"
)

func getHost(t *testing.T, client tenancyv1connect.TenancyServiceClient, tenantID, selector string) *tenancyv1.Host {
	t.Helper()
	resp, err := client.GetHost(context.Background(), connect.NewRequest(&tenancyv1.GetHostRequest{TenantId: tenantID, Host: selector}))
	if err != nil {
		t.Fatalf("GetHost(%s, %q): %v", tenantID, selector, err)
	}
	return resp.Msg.GetHost()
}

func getUsage(t *testing.T, client tenancyv1connect.TenancyServiceClient, tenantID string) *tenancyv1.TenantUsage {
	t.Helper()
	resp, err := client.GetTenantUsage(context.Background(), connect.NewRequest(&tenancyv1.GetTenantUsageRequest{TenantId: tenantID}))
	if err != nil {
		t.Fatalf("GetTenantUsage(%s): %v", tenantID, err)
	}
	return resp.Msg.GetUsage()
}

func TestRecordHostVerification(t *testing.T) {
	t.Parallel()
	s := startTenancy(t)
	ctx := context.Background()
	operator, dokkuexec := s.operator(t), s.dokkuexec(t)
	acme := createTenant(t, operator, "acme")
	globex := createTenant(t, operator, "globex")
	host := registerHost(t, operator, acme.GetId(), "prod")
	globexHost := registerHost(t, operator, globex.GetId(), "prod")

	if host.GetDokkuVersion() != "" || len(host.GetPlugins()) != 0 || host.GetVerifyTime() != nil {
		t.Fatalf("a new host shows verification %q %v %v, want none", host.GetDokkuVersion(), host.GetPlugins(), host.GetVerifyTime())
	}

	before := time.Now().Add(-time.Second)
	resp, err := operator.RecordHostVerification(ctx, connect.NewRequest(&tenancyv1.RecordHostVerificationRequest{
		TenantId: acme.GetId(), Host: "prod", DokkuVersion: "0.38.27", Plugins: []string{"letsencrypt", "postgres"},
	}))
	if err != nil {
		t.Fatal(err)
	}
	recorded := resp.Msg.GetHost()
	if recorded.GetId() != host.GetId() || recorded.GetDokkuVersion() != "0.38.27" ||
		!slices.Equal(recorded.GetPlugins(), []string{"letsencrypt", "postgres"}) {
		t.Errorf("RecordHostVerification returned host %s with %q %v", recorded.GetId(), recorded.GetDokkuVersion(), recorded.GetPlugins())
	}
	if vt := recorded.GetVerifyTime(); vt == nil || vt.AsTime().Before(before) || vt.AsTime().After(time.Now().Add(time.Second)) {
		t.Errorf("verify_time = %v, want about now", vt)
	}

	// The services that resolve the host see the recorded verification.
	got := getHost(t, dokkuexec, acme.GetId(), host.GetId())
	if got.GetDokkuVersion() != "0.38.27" || !slices.Equal(got.GetPlugins(), recorded.GetPlugins()) ||
		!got.GetVerifyTime().AsTime().Equal(recorded.GetVerifyTime().AsTime()) {
		t.Errorf("GetHost shows %q %v %v, want the recorded verification", got.GetDokkuVersion(), got.GetPlugins(), got.GetVerifyTime())
	}
	// A later verification replaces the earlier one; the only host may be
	// selected with an empty host field.
	if _, err := operator.RecordHostVerification(ctx, connect.NewRequest(&tenancyv1.RecordHostVerificationRequest{
		TenantId: acme.GetId(), DokkuVersion: "0.39.0",
	})); err != nil {
		t.Fatal(err)
	}
	if got := getHost(t, dokkuexec, acme.GetId(), "prod"); got.GetDokkuVersion() != "0.39.0" || len(got.GetPlugins()) != 0 {
		t.Errorf("after a second verification GetHost shows %q %v, want 0.39.0 and no plugins", got.GetDokkuVersion(), got.GetPlugins())
	}
	if got := getHost(t, dokkuexec, globex.GetId(), "prod"); got.GetDokkuVersion() != "" || got.GetVerifyTime() != nil {
		t.Errorf("globex's host shows verification %q %v, want none", got.GetDokkuVersion(), got.GetVerifyTime())
	}

	tests := []struct {
		name    string
		client  tenancyv1connect.TenancyServiceClient
		req     *tenancyv1.RecordHostVerificationRequest
		code    connect.Code
		message string
	}{
		{"another tenant's host id", operator,
			&tenancyv1.RecordHostVerificationRequest{TenantId: acme.GetId(), Host: globexHost.GetId(), DokkuVersion: "0.38.27"},
			connect.CodeNotFound, `host "` + globexHost.GetId() + `" not found for tenant ` + acme.GetId()},
		{"unknown host", operator,
			&tenancyv1.RecordHostVerificationRequest{TenantId: acme.GetId(), Host: "staging", DokkuVersion: "0.38.27"},
			connect.CodeNotFound, `host "staging" not found`},
		{"unknown tenant", operator,
			&tenancyv1.RecordHostVerificationRequest{TenantId: "t-aaaaaaaaaa", Host: "prod", DokkuVersion: "0.38.27"},
			connect.CodeNotFound, "tenant t-aaaaaaaaaa not found"},
		{"missing version", operator,
			&tenancyv1.RecordHostVerificationRequest{TenantId: acme.GetId(), Host: "prod"},
			connect.CodeInvalidArgument, `dokku_version "" is invalid`},
		{"bad plugin name", operator,
			&tenancyv1.RecordHostVerificationRequest{TenantId: acme.GetId(), Host: "prod", DokkuVersion: "0.38.27", Plugins: []string{"a b"}},
			connect.CodeInvalidArgument, `plugin name "a b" is invalid`},
		{"service without platform:admin", dokkuexec,
			&tenancyv1.RecordHostVerificationRequest{TenantId: acme.GetId(), Host: "prod", DokkuVersion: "0.38.27"},
			connect.CodePermissionDenied, `permission "platform:admin" is required`},
		{"tenant token", s.client(s.issuer.Mint(t, authtest.Token{Audience: server.Audience, Subject: "alice", Scope: "platform:admin", TenantID: acme.GetId()})),
			&tenancyv1.RecordHostVerificationRequest{TenantId: acme.GetId(), Host: "prod", DokkuVersion: "0.38.27"},
			connect.CodePermissionDenied, "scoped to tenant " + acme.GetId()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.client.RecordHostVerification(ctx, connect.NewRequest(tt.req))
			wantCode(t, err, tt.code, tt.message)
		})
	}
}

func TestRemoveHost(t *testing.T) {
	t.Parallel()
	s := startTenancy(t)
	ctx := context.Background()
	operator, dokkuexec := s.operator(t), s.dokkuexec(t)
	acme := createTenant(t, operator, "acme")
	globex := createTenant(t, operator, "globex")
	prod := registerHost(t, operator, acme.GetId(), "prod")
	staging := registerHost(t, operator, acme.GetId(), "staging")
	globexProd := registerHost(t, operator, globex.GetId(), "prod")
	createApp(t, dokkuexec, acme.GetId(), prod.GetId(), "web")
	createApp(t, dokkuexec, acme.GetId(), prod.GetId(), "api")
	createApp(t, dokkuexec, globex.GetId(), globexProd.GetId(), "web")
	if _, err := reserveApp(ctx, dokkuexec, acme.GetId(), prod.GetId(), "worker"); err != nil {
		t.Fatal(err)
	}
	if _, err := reserveApp(ctx, dokkuexec, acme.GetId(), staging.GetId(), "preview"); err != nil {
		t.Fatal(err)
	}
	appendEvent(t, dokkuexec, &tenancyv1.AppendAuditEventRequest{TenantId: acme.GetId(), Operation: "apps.create", Target: "web", Result: "ok"})

	remove := func(client tenancyv1connect.TenancyServiceClient, tenantID, host string, force bool) (*tenancyv1.RemoveHostResponse, error) {
		resp, err := client.RemoveHost(ctx, connect.NewRequest(&tenancyv1.RemoveHostRequest{TenantId: tenantID, Host: host, Force: force}))
		if err != nil {
			return nil, err
		}
		return resp.Msg, nil
	}

	_, err := remove(operator, acme.GetId(), "prod", false)
	wantCode(t, err, connect.CodeFailedPrecondition, `host "prod" of tenant `+acme.GetId()+" has 2 apps recorded")
	_, err = remove(dokkuexec, acme.GetId(), "prod", true)
	wantCode(t, err, connect.CodePermissionDenied, `permission "platform:admin" is required`)
	_, err = remove(operator, acme.GetId(), globexProd.GetId(), true)
	wantCode(t, err, connect.CodeNotFound, `host "`+globexProd.GetId()+`" not found for tenant `+acme.GetId())
	_, err = remove(operator, acme.GetId(), "", true)
	wantCode(t, err, connect.CodeInvalidArgument, "host is missing")
	_, err = remove(operator, "t-aaaaaaaaaa", "prod", true)
	wantCode(t, err, connect.CodeNotFound, "tenant t-aaaaaaaaaa not found")

	// A host with only a pending reservation and no apps goes without force.
	removed, err := remove(operator, acme.GetId(), "staging", false)
	if err != nil {
		t.Fatal(err)
	}
	if removed.GetAppsRemoved() != 0 || removed.GetReservationsRemoved() != 1 {
		t.Errorf("removing staging deleted %d apps and %d reservations, want 0 and 1", removed.GetAppsRemoved(), removed.GetReservationsRemoved())
	}

	removed, err = remove(operator, acme.GetId(), prod.GetId(), true)
	if err != nil {
		t.Fatal(err)
	}
	if removed.GetAppsRemoved() != 2 || removed.GetReservationsRemoved() != 1 {
		t.Errorf("removing prod deleted %d apps and %d reservations, want 2 and 1", removed.GetAppsRemoved(), removed.GetReservationsRemoved())
	}
	_, err = dokkuexec.GetHost(ctx, connect.NewRequest(&tenancyv1.GetHostRequest{TenantId: acme.GetId(), Host: "prod"}))
	wantCode(t, err, connect.CodeNotFound, `host "prod" not found`)
	_, err = remove(operator, acme.GetId(), prod.GetId(), true)
	wantCode(t, err, connect.CodeNotFound, `host "`+prod.GetId()+`" not found`)

	usage := getUsage(t, operator, acme.GetId())
	if usage.GetHosts() != 0 || usage.GetApps() != 0 || usage.GetPendingReservations() != 0 || usage.GetAuditEvents() != 1 {
		t.Errorf("acme's usage after removing its hosts = %v, want 0 hosts, 0 apps, 0 reservations and its 1 audit event", usage)
	}
	if got := verifyChain(t, s.auditor(t, acme.GetId()), acme.GetId()); !got.GetOk() || got.GetEventsChecked() != 1 {
		t.Errorf("acme's audit chain after host removal: %v, want 1 intact event", got)
	}
	if usage := getUsage(t, operator, globex.GetId()); usage.GetHosts() != 1 || usage.GetApps() != 1 {
		t.Errorf("globex's usage = %v, want its host and app untouched", usage)
	}

	// The name is free again, and the removed host's apps no longer count.
	again := registerHost(t, operator, acme.GetId(), "prod")
	createApp(t, dokkuexec, acme.GetId(), again.GetId(), "web")
}

func TestGetTenantUsage(t *testing.T) {
	t.Parallel()
	s := startTenancy(t)
	ctx := context.Background()
	operator, dokkuexec := s.operator(t), s.dokkuexec(t)
	acme := createTenant(t, operator, "acme")
	globex := createTenant(t, operator, "globex")

	empty := getUsage(t, operator, acme.GetId())
	if empty.GetTenantId() != acme.GetId() || empty.GetApps() != 0 || empty.GetHosts() != 0 ||
		empty.GetPendingReservations() != 0 || empty.GetAuditEvents() != 0 || empty.GetLastEventTime() != nil {
		t.Errorf("a new tenant's usage = %v, want all zero and no last event", empty)
	}

	prod := registerHost(t, operator, acme.GetId(), "prod")
	registerHost(t, operator, acme.GetId(), "staging")
	globexHost := registerHost(t, operator, globex.GetId(), "prod")
	createApp(t, dokkuexec, acme.GetId(), prod.GetId(), "web")
	createApp(t, dokkuexec, acme.GetId(), prod.GetId(), "api")
	createApp(t, dokkuexec, globex.GetId(), globexHost.GetId(), "web")
	var reservations []string
	for _, app := range []string{"worker", "cron"} {
		id, err := reserveApp(ctx, dokkuexec, acme.GetId(), prod.GetId(), app)
		if err != nil {
			t.Fatal(err)
		}
		reservations = append(reservations, id)
	}
	eventTime := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	appendEvent(t, dokkuexec, &tenancyv1.AppendAuditEventRequest{TenantId: acme.GetId(), Operation: "apps.list", Result: "ok"})
	last := appendEvent(t, dokkuexec, &tenancyv1.AppendAuditEventRequest{TenantId: acme.GetId(), Operation: "apps.create", Result: "ok"})
	// An event appended later may carry an earlier time; the newest time
	// counts.
	appendEvent(t, dokkuexec, &tenancyv1.AppendAuditEventRequest{TenantId: acme.GetId(), Operation: "apps.list", Result: "ok",
		Time: timestamppb.New(eventTime)})
	appendEvent(t, dokkuexec, &tenancyv1.AppendAuditEventRequest{TenantId: globex.GetId(), Operation: "apps.list", Result: "ok"})

	// An expired reservation no longer counts as pending.
	conn, err := pgx.Connect(ctx, s.postgresURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `UPDATE tenancy.app_reservations SET expire_time = now() - interval '1 second' WHERE id = $1`, reservations[0]); err != nil {
		t.Fatal(err)
	}

	usage := getUsage(t, operator, acme.GetId())
	if usage.GetApps() != 2 || usage.GetHosts() != 2 || usage.GetPendingReservations() != 1 || usage.GetAuditEvents() != 3 {
		t.Errorf("acme's usage = %v, want 2 apps, 2 hosts, 1 pending reservation, 3 audit events", usage)
	}
	if got := usage.GetLastEventTime(); got == nil || !got.AsTime().Equal(last.GetTime().AsTime()) {
		t.Errorf("last_event_time = %v, want %v", got, last.GetTime())
	}
	if g := getUsage(t, operator, globex.GetId()); g.GetApps() != 1 || g.GetHosts() != 1 || g.GetPendingReservations() != 0 || g.GetAuditEvents() != 1 {
		t.Errorf("globex's usage = %v, want 1 app, 1 host, 1 audit event", g)
	}

	tests := []struct {
		name     string
		client   tenancyv1connect.TenancyServiceClient
		tenantID string
		code     connect.Code
		message  string
	}{
		{"unknown tenant", operator, "t-aaaaaaaaaa", connect.CodeNotFound, "tenant t-aaaaaaaaaa not found"},
		{"invalid tenant id", operator, "acme", connect.CodeInvalidArgument, "acme"},
		{"service without platform:admin", dokkuexec, acme.GetId(), connect.CodePermissionDenied, `permission "platform:admin" is required`},
		{"tenant auditor", s.auditor(t, acme.GetId()), acme.GetId(), connect.CodePermissionDenied, `permission "platform:admin" is required`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.client.GetTenantUsage(ctx, connect.NewRequest(&tenancyv1.GetTenantUsageRequest{TenantId: tt.tenantID}))
			wantCode(t, err, tt.code, tt.message)
		})
	}
}

// TestHostRegistryForAppRole checks that the grants of migration 0003 let
// the service's role change only the verification columns of its own
// tenant's hosts.
func TestHostRegistryForAppRole(t *testing.T) {
	t.Parallel()
	s := startTenancy(t)
	operator := s.operator(t)
	acme := createTenant(t, operator, "acme")
	globex := createTenant(t, operator, "globex")
	registerHost(t, operator, acme.GetId(), "prod")
	registerHost(t, operator, globex.GetId(), "prod")
	ctx := context.Background()

	const insufficientPrivilege = "42501"
	err := asAppRole(t, s.postgresURL, acme.GetId(), func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE tenancy.hosts SET host_key = 'swapped'`)
		return err
	})
	wantSQLState(t, err, insufficientPrivilege)

	var updated, deleted int64
	err = asAppRole(t, s.postgresURL, acme.GetId(), func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE tenancy.hosts SET dokku_version = 'x' WHERE tenant_id = $1`, globex.GetId())
		if err != nil {
			return err
		}
		updated = tag.RowsAffected()
		tag, err = tx.Exec(ctx, `DELETE FROM tenancy.hosts WHERE tenant_id = $1`, globex.GetId())
		deleted = tag.RowsAffected()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if updated != 0 || deleted != 0 {
		t.Errorf("acme's transaction updated %d and deleted %d of globex's hosts, want none", updated, deleted)
	}
}
