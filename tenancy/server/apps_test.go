package server_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5"

	tenancyv1 "dokkumcp.dev/gen/dokkumcp/tenancy/v1"
	"dokkumcp.dev/gen/dokkumcp/tenancy/v1/tenancyv1connect"
)

func reserveApp(ctx context.Context, client tenancyv1connect.TenancyServiceClient, tenantID, hostID, app string) (string, error) {
	resp, err := client.ReserveApp(ctx, connect.NewRequest(&tenancyv1.ReserveAppRequest{TenantId: tenantID, HostId: hostID, App: app}))
	if err != nil {
		return "", err
	}
	return resp.Msg.GetReservationId(), nil
}

func createApp(t *testing.T, client tenancyv1connect.TenancyServiceClient, tenantID, hostID, app string) {
	t.Helper()
	ctx := context.Background()
	id, err := reserveApp(ctx, client, tenantID, hostID, app)
	if err != nil {
		t.Fatalf("ReserveApp(%q): %v", app, err)
	}
	if _, err := client.CommitAppReservation(ctx, connect.NewRequest(&tenancyv1.CommitAppReservationRequest{TenantId: tenantID, ReservationId: id})); err != nil {
		t.Fatalf("CommitAppReservation(%q): %v", app, err)
	}
}

func TestReserveAppParallelAtLimit(t *testing.T) {
	t.Parallel()
	s := startTenancy(t)
	ctx := context.Background()
	dokkuexec := s.dokkuexec(t)
	tenant := createTenant(t, s.operator(t), "acme")
	host := registerHost(t, s.operator(t), tenant.GetId(), "prod")
	for i := range 9 {
		createApp(t, dokkuexec, tenant.GetId(), host.GetId(), fmt.Sprintf("app-%d", i))
	}

	const callers = 50
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			_, errs[i] = reserveApp(ctx, dokkuexec, tenant.GetId(), host.GetId(), fmt.Sprintf("new-%d", i))
		})
	}
	wg.Wait()

	succeeded := 0
	for _, err := range errs {
		if err == nil {
			succeeded++
			continue
		}
		wantCode(t, err, connect.CodeResourceExhausted, "tenant acme on plan pro may have at most 10 apps; destroy an app or change plan")
	}
	if succeeded != 1 {
		t.Errorf("%d of %d parallel ReserveApp calls succeeded, want exactly 1", succeeded, callers)
	}
}

func TestAppReservationLifecycle(t *testing.T) {
	t.Parallel()
	s := startTenancy(t)
	ctx := context.Background()
	operator, dokkuexec := s.operator(t), s.dokkuexec(t)
	resp, err := operator.CreateTenant(ctx, connect.NewRequest(&tenancyv1.CreateTenantRequest{Slug: "small-shop", Plan: tenancyv1.Plan_PLAN_FREE}))
	if err != nil {
		t.Fatal(err)
	}
	tenantID := resp.Msg.GetTenant().GetId()
	host := registerHost(t, operator, tenantID, "prod")
	other := createTenant(t, operator, "globex")
	otherHost := registerHost(t, operator, other.GetId(), "prod")

	createApp(t, dokkuexec, tenantID, host.GetId(), "web")
	_, err = reserveApp(ctx, dokkuexec, tenantID, host.GetId(), "web")
	wantCode(t, err, connect.CodeAlreadyExists, `app "web" already exists on host `+host.GetId())

	pending, err := reserveApp(ctx, dokkuexec, tenantID, host.GetId(), "api")
	if err != nil {
		t.Fatal(err)
	}
	_, err = reserveApp(ctx, dokkuexec, tenantID, host.GetId(), "api")
	wantCode(t, err, connect.CodeAlreadyExists, `app "api" on host `+host.GetId()+" already has a pending reservation")

	// web plus the pending api reservation leave one of the free plan's 3
	// slots.
	if _, err := reserveApp(ctx, dokkuexec, tenantID, host.GetId(), "worker"); err != nil {
		t.Fatal(err)
	}
	_, err = reserveApp(ctx, dokkuexec, tenantID, host.GetId(), "cron")
	wantCode(t, err, connect.CodeResourceExhausted, "tenant small-shop on plan free may have at most 3 apps")

	if _, err := dokkuexec.ReleaseAppReservation(ctx, connect.NewRequest(&tenancyv1.ReleaseAppReservationRequest{TenantId: tenantID, ReservationId: pending})); err != nil {
		t.Fatal(err)
	}
	_, err = dokkuexec.CommitAppReservation(ctx, connect.NewRequest(&tenancyv1.CommitAppReservationRequest{TenantId: tenantID, ReservationId: pending}))
	wantCode(t, err, connect.CodeNotFound, "reservation "+pending+" not found for tenant "+tenantID)
	createApp(t, dokkuexec, tenantID, host.GetId(), "cron")

	_, err = reserveApp(ctx, dokkuexec, tenantID, host.GetId(), "extra")
	wantCode(t, err, connect.CodeResourceExhausted, "at most 3 apps")
	removed := connect.NewRequest(&tenancyv1.RecordAppRemovedRequest{TenantId: tenantID, HostId: host.GetId(), App: "web"})
	if _, err := dokkuexec.RecordAppRemoved(ctx, removed); err != nil {
		t.Fatal(err)
	}
	// A repeated removal succeeds, so DokkuExec may retry.
	if _, err := dokkuexec.RecordAppRemoved(ctx, connect.NewRequest(removed.Msg)); err != nil {
		t.Errorf("repeated RecordAppRemoved: %v", err)
	}
	if _, err := reserveApp(ctx, dokkuexec, tenantID, host.GetId(), "extra"); err != nil {
		t.Errorf("ReserveApp after RecordAppRemoved: %v", err)
	}

	_, err = reserveApp(ctx, dokkuexec, tenantID, otherHost.GetId(), "x")
	wantCode(t, err, connect.CodeNotFound, "host "+otherHost.GetId()+" not found for tenant "+tenantID)
	_, err = reserveApp(ctx, dokkuexec, tenantID, host.GetId(), "Bad_Name")
	wantCode(t, err, connect.CodeInvalidArgument, `app "Bad_Name" is invalid`)
	// Dokku's own names: dots and a leading digit are valid, as in DokkuExec.
	// The tenant is at its plan's limit here, so the name passes validation
	// and meets the quota.
	_, err = reserveApp(ctx, dokkuexec, tenantID, host.GetId(), "2nd.shop")
	wantCode(t, err, connect.CodeResourceExhausted, "may have at most")
	_, err = dokkuexec.CommitAppReservation(ctx, connect.NewRequest(&tenancyv1.CommitAppReservationRequest{TenantId: tenantID, ReservationId: "nope"}))
	wantCode(t, err, connect.CodeInvalidArgument, `reservation_id "nope" is invalid`)
	_, err = operator.ReserveApp(ctx, connect.NewRequest(&tenancyv1.ReserveAppRequest{TenantId: tenantID, HostId: host.GetId(), App: "y"}))
	wantCode(t, err, connect.CodePermissionDenied, `permission "tenancy:reserve-apps" is required`)
}

func TestAppReservationExpiry(t *testing.T) {
	t.Parallel()
	s := startTenancy(t)
	ctx := context.Background()
	operator, dokkuexec := s.operator(t), s.dokkuexec(t)
	resp, err := operator.CreateTenant(ctx, connect.NewRequest(&tenancyv1.CreateTenantRequest{Slug: "small-shop", Plan: tenancyv1.Plan_PLAN_FREE}))
	if err != nil {
		t.Fatal(err)
	}
	tenantID := resp.Msg.GetTenant().GetId()
	host := registerHost(t, operator, tenantID, "prod")
	var reservations []string
	for _, app := range []string{"a", "b", "c"} {
		id, err := reserveApp(ctx, dokkuexec, tenantID, host.GetId(), app)
		if err != nil {
			t.Fatal(err)
		}
		reservations = append(reservations, id)
	}
	_, err = reserveApp(ctx, dokkuexec, tenantID, host.GetId(), "d")
	wantCode(t, err, connect.CodeResourceExhausted, "at most 3 apps")

	// Waiting out the 5-minute expiry is too slow for a test, so the
	// superuser moves one reservation's expiry into the past.
	conn, err := pgx.Connect(ctx, s.postgresURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `UPDATE tenancy.app_reservations SET expire_time = now() - interval '1 second' WHERE id = $1`, reservations[0]); err != nil {
		t.Fatal(err)
	}

	if _, err := reserveApp(ctx, dokkuexec, tenantID, host.GetId(), "d"); err != nil {
		t.Errorf("ReserveApp after a reservation expired: %v", err)
	}
	_, err = dokkuexec.CommitAppReservation(ctx, connect.NewRequest(&tenancyv1.CommitAppReservationRequest{TenantId: tenantID, ReservationId: reservations[0]}))
	wantCode(t, err, connect.CodeNotFound, "not found for tenant "+tenantID+" or expired")
}
