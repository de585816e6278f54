package rpc_test

import (
	"slices"
	"strings"
	"testing"

	"connectrpc.com/connect"

	"dokkumcp.dev/dokkuexec/internal/app"
	"dokkumcp.dev/dokkuexec/internal/sshtest"
	dokkuexecv1 "dokkumcp.dev/gen/dokkumcp/dokkuexec/v1"
	"dokkumcp.dev/testhost/emulator"
)

const (
	postgresKind = dokkuexecv1.ServiceKind_SERVICE_KIND_POSTGRES
	redis        = dokkuexecv1.ServiceKind_SERVICE_KIND_REDIS
)

func TestHandlerServices(t *testing.T) {
	t.Parallel()
	f := newFixtureWith(t, emulator.Options{Plugins: []string{"postgres", "redis"}})
	ctx := t.Context()
	maintainer := f.issuer.token(t, sshtest.TenantID, "apps:read", "apps:create", "services:read", "services:write")
	revealer := f.issuer.token(t, sshtest.TenantID, "services:read", "apps:config")
	if _, err := f.client.CreateApp(ctx, request(&dokkuexecv1.CreateAppRequest{App: "shop"}, maintainer)); err != nil {
		t.Fatalf("CreateApp: %v", err)
	}

	empty, err := f.client.ListServices(ctx, request(&dokkuexecv1.ListServicesRequest{Kind: postgresKind}, maintainer))
	if err != nil {
		t.Fatalf("ListServices: %v", err)
	}
	if len(empty.Msg.GetNames()) != 0 {
		t.Errorf("ListServices on a new host = %q, want none", empty.Msg.GetNames())
	}

	created, err := f.client.CreateService(ctx, request(&dokkuexecv1.CreateServiceRequest{Kind: postgresKind, Name: "lollipop"}, maintainer))
	if err != nil {
		t.Fatalf("CreateService: %v", err)
	}
	info := created.Msg.GetInfo()
	if want := "postgres://postgres:********@dokku-postgres-lollipop:5432/lollipop"; info.GetDsn() != want || !info.GetDsnRedacted() {
		t.Errorf("created DSN = %q (redacted %v), want %q", info.GetDsn(), info.GetDsnRedacted(), want)
	}
	if info.GetFields()["dsn"] != info.GetDsn() {
		t.Errorf("fields[dsn] = %q, want the redacted DSN", info.GetFields()["dsn"])
	}
	if info.GetStatus() != "running" || info.GetVersion() != "postgres:18.4" || len(info.GetLinks()) != 0 {
		t.Errorf("created info = %v, want running postgres:18.4 without links", info)
	}
	_, err = f.client.CreateService(ctx, request(&dokkuexecv1.CreateServiceRequest{Kind: postgresKind, Name: "lollipop"}, maintainer))
	wantCode(t, err, connect.CodeAlreadyExists, `postgres service "lollipop" already exists on host "prod"`)

	linked, err := f.client.LinkService(ctx, request(&dokkuexecv1.LinkServiceRequest{Kind: postgresKind, Name: "lollipop", App: "shop"}, maintainer))
	if err != nil {
		t.Fatalf("LinkService: %v", err)
	}
	if linked.Msg.GetConfigKey() != "DATABASE_URL" || linked.Msg.GetApp() != "shop" {
		t.Errorf("LinkService = %v, want DATABASE_URL on shop", linked.Msg)
	}
	_, err = f.client.LinkService(ctx, request(&dokkuexecv1.LinkServiceRequest{Kind: postgresKind, Name: "lollipop", App: "shop"}, maintainer))
	wantCode(t, err, connect.CodeAlreadyExists, `postgres service "lollipop" is already linked to app "shop" as DATABASE_URL`)

	revealed, err := f.client.GetServiceInfo(ctx, request(&dokkuexecv1.GetServiceInfoRequest{Kind: postgresKind, Name: "lollipop", Reveal: true}, revealer))
	if err != nil {
		t.Fatalf("GetServiceInfo with reveal: %v", err)
	}
	if dsn := revealed.Msg.GetInfo().GetDsn(); revealed.Msg.GetInfo().GetDsnRedacted() || strings.Contains(dsn, "********") || !strings.HasPrefix(dsn, "postgres://postgres:") {
		t.Errorf("revealed DSN = %q, want the password", dsn)
	}
	if want := []string{"shop"}; !slices.Equal(revealed.Msg.GetInfo().GetLinks(), want) {
		t.Errorf("links = %q, want %q", revealed.Msg.GetInfo().GetLinks(), want)
	}
	_, err = f.client.GetServiceInfo(ctx, request(&dokkuexecv1.GetServiceInfoRequest{Kind: postgresKind, Name: "lollipop", Reveal: true}, maintainer))
	wantCode(t, err, connect.CodePermissionDenied, `permission "apps:config" is required to reveal a service's DSN`)

	_, err = f.client.DestroyService(ctx, request(&dokkuexecv1.DestroyServiceRequest{Kind: postgresKind, Name: "lollipop", Confirm: "lollipop"}, maintainer))
	wantCode(t, err, connect.CodeFailedPrecondition, `postgres service "lollipop" is linked to apps`)
	_, err = f.client.UnlinkService(ctx, request(&dokkuexecv1.UnlinkServiceRequest{Kind: postgresKind, Name: "lollipop", App: "shop", Confirm: "shop"}, maintainer))
	wantCode(t, err, connect.CodeInvalidArgument, `invalid confirm "shop": pass the service's name "lollipop"`)

	unlinked, err := f.client.UnlinkService(ctx, request(&dokkuexecv1.UnlinkServiceRequest{Kind: postgresKind, Name: "lollipop", App: "shop", Confirm: "lollipop", NoRestart: true}, maintainer))
	if err != nil {
		t.Fatalf("UnlinkService: %v", err)
	}
	if want := []string{"DATABASE_URL"}; !slices.Equal(unlinked.Msg.GetUnsetKeys(), want) {
		t.Errorf("unset keys = %q, want %q", unlinked.Msg.GetUnsetKeys(), want)
	}
	_, err = f.client.UnlinkService(ctx, request(&dokkuexecv1.UnlinkServiceRequest{Kind: postgresKind, Name: "lollipop", App: "shop", Confirm: "lollipop"}, maintainer))
	wantCode(t, err, connect.CodeFailedPrecondition, `postgres service "lollipop" is not linked to app "shop"`)

	_, err = f.client.DestroyService(ctx, request(&dokkuexecv1.DestroyServiceRequest{Kind: postgresKind, Name: "lollipop"}, maintainer))
	wantCode(t, err, connect.CodeInvalidArgument, `pass the service's name "lollipop" as confirm`)
	if _, err := f.client.DestroyService(ctx, request(&dokkuexecv1.DestroyServiceRequest{Kind: postgresKind, Name: "lollipop", Confirm: "lollipop"}, maintainer)); err != nil {
		t.Fatalf("DestroyService: %v", err)
	}
	_, err = f.client.GetServiceInfo(ctx, request(&dokkuexecv1.GetServiceInfoRequest{Kind: postgresKind, Name: "lollipop"}, maintainer))
	wantCode(t, err, connect.CodeNotFound, `postgres service "lollipop" not found on host "prod"`)

	// A second link of the same kind gets an alternative config var.
	for _, name := range []string{"cache", "sessions"} {
		if _, err := f.client.CreateService(ctx, request(&dokkuexecv1.CreateServiceRequest{Kind: redis, Name: name}, maintainer)); err != nil {
			t.Fatalf("CreateService redis %s: %v", name, err)
		}
	}
	var keys []string
	for _, name := range []string{"cache", "sessions"} {
		link, err := f.client.LinkService(ctx, request(&dokkuexecv1.LinkServiceRequest{Kind: redis, Name: name, App: "shop", NoRestart: true}, maintainer))
		if err != nil {
			t.Fatalf("LinkService redis %s: %v", name, err)
		}
		keys = append(keys, link.Msg.GetConfigKey())
	}
	if want := []string{"REDIS_URL", "DOKKU_REDIS_AQUA_URL"}; !slices.Equal(keys, want) {
		t.Errorf("redis config keys = %q, want %q", keys, want)
	}
	list, err := f.client.ListServices(ctx, request(&dokkuexecv1.ListServicesRequest{Kind: redis}, maintainer))
	if err != nil {
		t.Fatalf("ListServices redis: %v", err)
	}
	if want := []string{"cache", "sessions"}; !slices.Equal(list.Msg.GetNames(), want) || list.Msg.GetKind() != redis {
		t.Errorf("ListServices redis = %v, want %q", list.Msg, want)
	}

	var operations []string
	for _, event := range f.tenancy.Events() {
		operations = append(operations, event.Operation+" "+event.Result)
		if strings.Contains(event.ArgumentsJSON, "postgres://") || strings.Contains(event.ArgumentsJSON, "redis://") {
			t.Errorf("audit event %s carries a DSN: %s", event.Operation, event.ArgumentsJSON)
		}
	}
	for _, want := range []string{"dokkuexec.CreateService ok", "dokkuexec.CreateService already_exists", "dokkuexec.LinkService ok",
		"dokkuexec.UnlinkService invalid_argument", "dokkuexec.UnlinkService ok", "dokkuexec.DestroyService failed_precondition", "dokkuexec.DestroyService ok"} {
		if !slices.Contains(operations, want) {
			t.Errorf("audit events %q lack %q", operations, want)
		}
	}
}

func TestHandlerServiceErrors(t *testing.T) {
	t.Parallel()
	without := newFixture(t)
	with := newFixtureWith(t, emulator.Options{Plugins: []string{"postgres"}})
	readOnly := newFixtureWith(t, emulator.Options{Plugins: []string{"postgres"}})
	readOnly.tenancy.SetLimits(sshtest.TenantID, app.TenantLimits{Plan: "free", Status: "active", ReadOnly: true})
	ctx := t.Context()

	tests := []struct {
		name    string
		f       *fixture
		scopes  []string
		call    func(token string) error
		code    connect.Code
		message string
	}{
		{
			name:   "plugin missing",
			f:      without,
			scopes: []string{"services:write"},
			call: func(token string) error {
				_, err := without.client.CreateService(ctx, request(&dokkuexecv1.CreateServiceRequest{Kind: postgresKind, Name: "db"}, token))
				return err
			},
			code:    connect.CodeFailedPrecondition,
			message: `the Dokku plugin "postgres" is not installed on host "prod"; ask the host's administrator to install it with ` + "`sudo dokku plugin:install https://github.com/dokku/dokku-postgres.git --name postgres`",
		},
		{
			name:   "redis plugin missing",
			f:      with,
			scopes: []string{"services:read"},
			call: func(token string) error {
				_, err := with.client.ListServices(ctx, request(&dokkuexecv1.ListServicesRequest{Kind: redis}, token))
				return err
			},
			code:    connect.CodeFailedPrecondition,
			message: `the Dokku plugin "redis" is not installed`,
		},
		{
			name:   "kind missing",
			f:      with,
			scopes: []string{"services:read"},
			call: func(token string) error {
				_, err := with.client.ListServices(ctx, request(&dokkuexecv1.ListServicesRequest{}, token))
				return err
			},
			code:    connect.CodeInvalidArgument,
			message: "invalid service kind SERVICE_KIND_UNSPECIFIED",
		},
		{
			name:   "name with a dot",
			f:      with,
			scopes: []string{"services:write"},
			call: func(token string) error {
				_, err := with.client.CreateService(ctx, request(&dokkuexecv1.CreateServiceRequest{Kind: postgresKind, Name: "my.db"}, token))
				return err
			},
			code:    connect.CodeInvalidArgument,
			message: `invalid service name "my.db": use letters, digits, underscores and dashes`,
		},
		{
			name:   "name that echo would swallow",
			f:      with,
			scopes: []string{"services:write"},
			call: func(token string) error {
				_, err := with.client.CreateService(ctx, request(&dokkuexecv1.CreateServiceRequest{Kind: postgresKind, Name: "-n"}, token))
				return err
			},
			code:    connect.CodeInvalidArgument,
			message: `invalid service name "-n"`,
		},
		{
			name:   "link to a missing app",
			f:      with,
			scopes: []string{"services:write"},
			call: func(token string) error {
				_, err := with.client.LinkService(ctx, request(&dokkuexecv1.LinkServiceRequest{Kind: postgresKind, Name: "db", App: "nope"}, token))
				return err
			},
			code:    connect.CodeNotFound,
			message: `app "nope" not found on host "prod"`,
		},
		{
			name:   "viewer cannot create",
			f:      with,
			scopes: []string{"apps:read", "services:read"},
			call: func(token string) error {
				_, err := with.client.CreateService(ctx, request(&dokkuexecv1.CreateServiceRequest{Kind: postgresKind, Name: "db"}, token))
				return err
			},
			code:    connect.CodePermissionDenied,
			message: "services:write",
		},
		{
			name:   "read-only plan",
			f:      readOnly,
			scopes: []string{"services:write"},
			call: func(token string) error {
				_, err := readOnly.client.DestroyService(ctx, request(&dokkuexecv1.DestroyServiceRequest{Kind: postgresKind, Name: "db", Confirm: "db"}, token))
				return err
			},
			code:    connect.CodePermissionDenied,
			message: "read-only",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call(tt.f.issuer.token(t, sshtest.TenantID, tt.scopes...))
			wantCode(t, err, tt.code, tt.message)
		})
	}
}
