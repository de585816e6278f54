package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"google.golang.org/protobuf/types/known/timestamppb"

	tenancyv1 "dokkumcp.dev/gen/dokkumcp/tenancy/v1"
	"dokkumcp.dev/gen/dokkumcp/tenancy/v1/tenancyv1connect"
	"dokkumcp.dev/platform/authtest"
	"dokkumcp.dev/tenancy/server"
)

// auditor returns a client for a tenant user who may read the audit
// ledger of its own tenant.
func (s *stack) auditor(t *testing.T, tenantID string) tenancyv1connect.TenancyServiceClient {
	return s.client(s.issuer.Mint(t, authtest.Token{Audience: server.Audience, Subject: "alice", Scope: "audit:read", TenantID: tenantID}))
}

func appendEvent(t *testing.T, client tenancyv1connect.TenancyServiceClient, e *tenancyv1.AppendAuditEventRequest) *tenancyv1.AuditEvent {
	t.Helper()
	resp, err := client.AppendAuditEvent(context.Background(), connect.NewRequest(e))
	if err != nil {
		t.Fatalf("AppendAuditEvent(%s): %v", e.GetOperation(), err)
	}
	return resp.Msg.GetEvent()
}

func verifyChain(t *testing.T, client tenancyv1connect.TenancyServiceClient, tenantID string) *tenancyv1.VerifyAuditChainResponse {
	t.Helper()
	resp, err := client.VerifyAuditChain(context.Background(), connect.NewRequest(&tenancyv1.VerifyAuditChainRequest{TenantId: tenantID}))
	if err != nil {
		t.Fatal(err)
	}
	return resp.Msg
}

func TestAuditAppendAndVerify(t *testing.T) {
	t.Parallel()
	s := startTenancy(t)
	ctx := context.Background()
	dokkuexec := s.dokkuexec(t)
	tenant := createTenant(t, s.operator(t), "acme")
	auditor := s.auditor(t, tenant.GetId())

	const events = 10
	prevHash := ""
	for i := range events {
		event := appendEvent(t, dokkuexec, &tenancyv1.AppendAuditEventRequest{
			TenantId: tenant.GetId(), Subject: "alice", ClientId: "claude", Operation: "apps.create",
			Target: fmt.Sprintf("app-%d", i), ArgumentsJson: `{ "app": "x",  "env": "[redacted]" }`, Result: "ok", LatencyMs: 12, TraceId: "trace",
		})
		if event.GetSeq() != int64(i+1) {
			t.Errorf("event %d seq = %d, want %d", i, event.GetSeq(), i+1)
		}
		if i > 0 && event.GetPrevHash() != prevHash {
			t.Errorf("event %d prev_hash = %s, want the previous hash %s", i, event.GetPrevHash(), prevHash)
		}
		if event.GetArgumentsJson() != `{"app":"x","env":"[redacted]"}` {
			t.Errorf("arguments_json = %s, want it compacted", event.GetArgumentsJson())
		}
		prevHash = event.GetHash()
	}

	report := verifyChain(t, auditor, "")
	if !report.GetOk() || report.GetEventsChecked() != events {
		t.Fatalf("VerifyAuditChain = %v, want ok with %d events", report, events)
	}

	// A superuser edit bypasses the append-only grants; the chain shows it.
	conn, err := pgx.Connect(ctx, s.postgresURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `UPDATE tenancy.audit_events SET result = 'ok-edited' WHERE tenant_id = $1 AND seq = 4`, tenant.GetId()); err != nil {
		t.Fatal(err)
	}
	report = verifyChain(t, auditor, "")
	if report.GetOk() || report.GetBrokenSeq() != 4 || report.GetEventsChecked() != 3 {
		t.Errorf("VerifyAuditChain after editing seq 4 = %v, want broken_seq 4 after 3 events", report)
	}
	if want := "hash does not match"; !bytes.Contains([]byte(report.GetReason()), []byte(want)) {
		t.Errorf("reason %q does not contain %q", report.GetReason(), want)
	}

	if _, err := conn.Exec(ctx, `DELETE FROM tenancy.audit_events WHERE tenant_id = $1 AND seq IN (2, 4)`, tenant.GetId()); err != nil {
		t.Fatal(err)
	}
	report = verifyChain(t, auditor, "")
	if report.GetOk() || report.GetBrokenSeq() != 3 {
		t.Errorf("VerifyAuditChain after deleting seq 2 = %v, want broken_seq 3", report)
	}
}

func TestAuditAppendValidation(t *testing.T) {
	t.Parallel()
	s := startTenancy(t)
	dokkuexec := s.dokkuexec(t)
	tenant := createTenant(t, s.operator(t), "acme")

	tests := []struct {
		name    string
		request *tenancyv1.AppendAuditEventRequest
		code    connect.Code
		message string
	}{
		{"missing operation", &tenancyv1.AppendAuditEventRequest{TenantId: tenant.GetId(), Result: "ok"}, connect.CodeInvalidArgument, "operation is missing"},
		{"missing result", &tenancyv1.AppendAuditEventRequest{TenantId: tenant.GetId(), Operation: "apps.list"}, connect.CodeInvalidArgument, "result is missing"},
		{"arguments not an object", &tenancyv1.AppendAuditEventRequest{TenantId: tenant.GetId(), Operation: "apps.list", Result: "ok", ArgumentsJson: "[1]"},
			connect.CodeInvalidArgument, "arguments_json is not a JSON object"},
		{"negative latency", &tenancyv1.AppendAuditEventRequest{TenantId: tenant.GetId(), Operation: "apps.list", Result: "ok", LatencyMs: -1},
			connect.CodeInvalidArgument, "latency_ms -1 is invalid"},
		{"unknown tenant", &tenancyv1.AppendAuditEventRequest{TenantId: "t-aaaaaaaaaa", Operation: "apps.list", Result: "ok"},
			connect.CodeNotFound, "tenant t-aaaaaaaaaa not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := dokkuexec.AppendAuditEvent(context.Background(), connect.NewRequest(tt.request))
			wantCode(t, err, tt.code, tt.message)
		})
	}

	// Tenant tokens may read but never append.
	tenantAppender := s.client(s.issuer.Mint(t, authtest.Token{Audience: server.Audience, Subject: "alice", Scope: "audit:append", TenantID: tenant.GetId()}))
	_, err := tenantAppender.AppendAuditEvent(context.Background(), connect.NewRequest(&tenancyv1.AppendAuditEventRequest{TenantId: tenant.GetId(), Operation: "x", Result: "ok"}))
	wantCode(t, err, connect.CodePermissionDenied, "scoped to tenant")
}

func TestAuditConcurrentAppendsGapless(t *testing.T) {
	t.Parallel()
	s := startTenancy(t)
	dokkuexec := s.dokkuexec(t)
	acme := createTenant(t, s.operator(t), "acme")
	globex := createTenant(t, s.operator(t), "globex")

	const perTenant = 40
	var wg sync.WaitGroup
	errs := make(chan error, 2*perTenant)
	for _, tenant := range []*tenancyv1.Tenant{acme, globex} {
		for i := range perTenant {
			wg.Go(func() {
				_, err := dokkuexec.AppendAuditEvent(context.Background(), connect.NewRequest(&tenancyv1.AppendAuditEventRequest{
					TenantId: tenant.GetId(), Operation: "apps.list", Target: fmt.Sprint(i), Result: "ok",
				}))
				errs <- err
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}

	for _, tenant := range []*tenancyv1.Tenant{acme, globex} {
		report := verifyChain(t, s.auditor(t, tenant.GetId()), "")
		if !report.GetOk() || report.GetEventsChecked() != perTenant {
			t.Errorf("tenant %s: VerifyAuditChain = %v, want ok with %d events", tenant.GetSlug(), report, perTenant)
		}
	}
}

func TestAuditListAndExport(t *testing.T) {
	t.Parallel()
	s := startTenancy(t)
	ctx := context.Background()
	dokkuexec := s.dokkuexec(t)
	acme := createTenant(t, s.operator(t), "acme")
	globex := createTenant(t, s.operator(t), "globex")
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

	events := []*tenancyv1.AppendAuditEventRequest{
		{Subject: "alice", Operation: "apps.list", Result: "ok"},
		{Subject: "alice", Operation: "apps.create", Result: "ok"},
		{Subject: "bob", Actor: "ci", Operation: "apps.create", Result: "permission_denied"},
		{Subject: "bob", Operation: "apps.destroy", Result: "ok"},
		{Subject: "carol", Actor: "alice", Operation: "apps.list", Result: "ok"},
	}
	for i, e := range events {
		e.TenantId = acme.GetId()
		e.Time = timestamppb.New(base.Add(time.Duration(i) * time.Hour))
		appendEvent(t, dokkuexec, e)
	}
	appendEvent(t, dokkuexec, &tenancyv1.AppendAuditEventRequest{TenantId: globex.GetId(), Subject: "alice", Operation: "apps.list", Result: "ok"})
	auditor := s.auditor(t, acme.GetId())

	seqs := func(t *testing.T, filter *tenancyv1.AuditFilter) []int64 {
		t.Helper()
		resp, err := auditor.ListAuditEvents(ctx, connect.NewRequest(&tenancyv1.ListAuditEventsRequest{Filter: filter}))
		if err != nil {
			t.Fatal(err)
		}
		var got []int64
		for _, e := range resp.Msg.GetEvents() {
			if e.GetTenantId() != acme.GetId() {
				t.Errorf("event of tenant %s listed for tenant %s", e.GetTenantId(), acme.GetId())
			}
			got = append(got, e.GetSeq())
		}
		return got
	}
	tests := []struct {
		name   string
		filter *tenancyv1.AuditFilter
		want   []int64
	}{
		{"all", nil, []int64{1, 2, 3, 4, 5}},
		{"principal as subject or actor", &tenancyv1.AuditFilter{Principal: "alice"}, []int64{1, 2, 5}},
		{"operation", &tenancyv1.AuditFilter{Operation: "apps.create"}, []int64{2, 3}},
		{"result", &tenancyv1.AuditFilter{Result: "permission_denied"}, []int64{3}},
		{"time range", &tenancyv1.AuditFilter{StartTime: timestamppb.New(base.Add(time.Hour)), EndTime: timestamppb.New(base.Add(3 * time.Hour))}, []int64{2, 3}},
		{"combined", &tenancyv1.AuditFilter{Principal: "bob", Result: "ok"}, []int64{4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := seqs(t, tt.filter); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("seqs = %v, want %v", got, tt.want)
			}
		})
	}

	t.Run("pages", func(t *testing.T) {
		var got []int64
		token := ""
		for range 10 {
			resp, err := auditor.ListAuditEvents(ctx, connect.NewRequest(&tenancyv1.ListAuditEventsRequest{PageSize: 2, PageToken: token}))
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range resp.Msg.GetEvents() {
				got = append(got, e.GetSeq())
			}
			token = resp.Msg.GetNextPageToken()
			if token == "" {
				break
			}
		}
		if fmt.Sprint(got) != "[1 2 3 4 5]" {
			t.Errorf("paged seqs = %v, want [1 2 3 4 5]", got)
		}
	})

	t.Run("export", func(t *testing.T) {
		stream, err := auditor.ExportAuditEvents(ctx, connect.NewRequest(&tenancyv1.ExportAuditEventsRequest{}))
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		for stream.Receive() {
			buf.Write(stream.Msg().GetLines())
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		scanner := bufio.NewScanner(&buf)
		var lines int
		for scanner.Scan() {
			var line struct {
				TenantID  string `json:"tenant_id"`
				Seq       string `json:"seq"`
				Operation string `json:"operation"`
				Hash      string `json:"hash"`
			}
			if err := json.Unmarshal(scanner.Bytes(), &line); err != nil {
				t.Fatalf("line %d is not JSON: %v: %s", lines+1, err, scanner.Text())
			}
			lines++
			if line.TenantID != acme.GetId() || line.Seq != fmt.Sprint(lines) || line.Operation != events[lines-1].GetOperation() || len(line.Hash) != 64 {
				t.Errorf("line %d = %+v, want seq %d of tenant %s", lines, line, lines, acme.GetId())
			}
		}
		if lines != len(events) {
			t.Errorf("export has %d lines, want %d", lines, len(events))
		}
	})

	t.Run("tenant scoping", func(t *testing.T) {
		_, err := auditor.ListAuditEvents(ctx, connect.NewRequest(&tenancyv1.ListAuditEventsRequest{TenantId: globex.GetId()}))
		wantCode(t, err, connect.CodePermissionDenied, "cannot read the audit events of tenant "+globex.GetId())

		service := s.client(s.issuer.Mint(t, authtest.Token{Audience: server.Audience, Subject: "mcpedge", Scope: "audit:read"}))
		_, err = service.ListAuditEvents(ctx, connect.NewRequest(&tenancyv1.ListAuditEventsRequest{}))
		wantCode(t, err, connect.CodeInvalidArgument, "tenant_id is missing")
		resp, err := service.ListAuditEvents(ctx, connect.NewRequest(&tenancyv1.ListAuditEventsRequest{TenantId: globex.GetId()}))
		if err != nil {
			t.Fatal(err)
		}
		if n := len(resp.Msg.GetEvents()); n != 1 {
			t.Errorf("service read of globex returned %d events, want 1", n)
		}

		_, err = auditor.ListAuditEvents(ctx, connect.NewRequest(&tenancyv1.ListAuditEventsRequest{PageToken: "x"}))
		wantCode(t, err, connect.CodeInvalidArgument, `page_token "x" is invalid`)
		_, err = dokkuexec.ListAuditEvents(ctx, connect.NewRequest(&tenancyv1.ListAuditEventsRequest{TenantId: acme.GetId()}))
		wantCode(t, err, connect.CodePermissionDenied, `permission "audit:read" is required`)
	})
}

// asAppRole runs fn in a transaction as the service's PostgreSQL role,
// scoped to tenantID unless it is empty.
func asAppRole(t *testing.T, postgresURL, tenantID string, fn func(tx pgx.Tx) error) error {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, postgresURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SET LOCAL ROLE dokkumcp_tenancy_app"); err != nil {
			return err
		}
		if tenantID != "" {
			if _, err := tx.Exec(ctx, "SELECT set_config('app.tenant_id', $1, true)", tenantID); err != nil {
				return err
			}
		}
		return fn(tx)
	})
}

func wantSQLState(t *testing.T, err error, code string) {
	t.Helper()
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != code {
		t.Errorf("got %v, want SQLSTATE %s", err, code)
	}
}

func TestAuditAppendOnlyForAppRole(t *testing.T) {
	t.Parallel()
	s := startTenancy(t)
	tenant := createTenant(t, s.operator(t), "acme")
	appendEvent(t, s.dokkuexec(t), &tenancyv1.AppendAuditEventRequest{TenantId: tenant.GetId(), Operation: "apps.list", Result: "ok"})

	const insufficientPrivilege = "42501"
	for _, statement := range []string{
		`UPDATE tenancy.audit_events SET result = 'edited'`,
		`DELETE FROM tenancy.audit_events`,
	} {
		err := asAppRole(t, s.postgresURL, tenant.GetId(), func(tx pgx.Tx) error {
			_, err := tx.Exec(context.Background(), statement)
			return err
		})
		wantSQLState(t, err, insufficientPrivilege)
	}
}
