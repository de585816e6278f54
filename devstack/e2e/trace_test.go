package e2e_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"dokkumcp.dev/devstack/internal/stack"
)

// traceSecret is a config value that no span may carry.
const traceSecret = "trace-secret-value-5f3a"

// TestTraceAcrossHops makes one apps_create call on a fresh host, so that
// DokkuExec must resolve the host in Tenancy, get a certificate from Secrets
// and open SSH, and checks that the call leaves one connected trace with
// spans from every hop. It then checks every service's metrics endpoint.
func TestTraceAcrossHops(t *testing.T) {
	exporter := tracetest.NewInMemoryExporter()
	logs := &syncBuffer{}
	vault := "auto"
	if os.Getenv("CI") != "" {
		vault = "dev"
	}
	startCtx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	st, err := stack.Start(startCtx, stack.Options{Vault: vault, Logs: logs, SpanExporter: exporter})
	if err != nil {
		t.Fatalf("start stack: %v\nlogs:\n%s", err, logs.String())
	}
	t.Cleanup(st.Stop)

	tenant, err := st.SeedTenant(context.Background(), stack.TenantOptions{Slug: "tenant-trace"})
	if err != nil {
		t.Fatalf("seed tenant: %v\nlogs:\n%s", err, logs.String())
	}
	tokenURL := st.IdentityURL + "/oauth2/token"
	token := fetchToken(t, tokenURL, tenant.ClientID, tenant.ClientSecret, st.MCPURL)
	c := newMCPClient(t, st.MCPURL, token)

	var created struct{ App string }
	call(t, c, "apps_create", map[string]any{"app": "traced"}, &created)

	root := waitForSpan(t, exporter, func(s tracetest.SpanStub) bool { return s.Name == "mcp.tools/call apps_create" })
	traceID := root.SpanContext.TraceID()
	if root.Parent.IsValid() {
		t.Errorf("MCP span has parent %s, want none: it starts the trace", root.Parent.SpanID())
	}
	if got := attributeValue(root.Attributes, "mcp.tool"); got != "apps_create" {
		t.Errorf("MCP span mcp.tool = %q, want apps_create", got)
	}

	type hop struct {
		service string
		what    string
		match   func(s tracetest.SpanStub) bool
	}
	server := func(service string) func(s tracetest.SpanStub) bool {
		return func(s tracetest.SpanStub) bool {
			return s.SpanKind == trace.SpanKindServer && strings.Contains(s.Name, service)
		}
	}
	client := func(service string) func(s tracetest.SpanStub) bool {
		return func(s tracetest.SpanStub) bool {
			return s.SpanKind == trace.SpanKindClient && strings.Contains(s.Name, service)
		}
	}
	hops := []hop{
		{"mcpedge", "MCP span", func(s tracetest.SpanStub) bool { return s.Name == root.Name }},
		{"mcpedge", "DokkuExec client span", client("DokkuExecService/")},
		{"dokkuexec", "DokkuExec server span", server("DokkuExecService/")},
		{"dokkuexec", "Tenancy client span", client("TenancyService/")},
		{"dokkuexec", "Secrets client span", client("SecretsService/")},
		{"dokkuexec", "dokku apps:create span for app traced", func(s tracetest.SpanStub) bool {
			return s.Name == "dokku apps:create" && attributeValue(s.Attributes, "dokku.command") == "apps:create" &&
				attributeValue(s.Attributes, "dokku.app") == "traced" && attributeValue(s.Attributes, "host.id") == tenant.HostID
		}},
		{"tenancy", "Tenancy server span", server("TenancyService/")},
		{"tenancy", "SQL span", func(s tracetest.SpanStub) bool { return strings.HasPrefix(s.Name, "sql ") }},
		{"secrets", "SQL span", func(s tracetest.SpanStub) bool { return strings.HasPrefix(s.Name, "sql ") }},
		{"secrets", "Secrets server span", server("SecretsService/")},
	}
	if st.CABackend == "vault" {
		hops = append(hops, hop{"secrets", "Vault sign span", func(s tracetest.SpanStub) bool { return s.Name == "vault sign" }})
	} else {
		t.Logf("SSH CA backend is %s, so the trace has no Vault span to check", st.CABackend)
	}

	// Spans end after their responses are written, so the last ones may
	// reach the exporter shortly after the call returns.
	var inTrace []tracetest.SpanStub
	var missing []string
	deadline := time.Now().Add(10 * time.Second)
	for {
		inTrace = spansOfTrace(exporter, traceID)
		missing = nil
		for _, h := range hops {
			if !slices.ContainsFunc(inTrace, func(s tracetest.SpanStub) bool { return serviceName(s) == h.service && h.match(s) }) {
				missing = append(missing, h.service+": "+h.what)
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(missing) > 0 {
		t.Errorf("trace %s lacks %s; it has:\n%s", traceID, strings.Join(missing, "; "), describeSpans(inTrace))
	}

	// The Dokku command and the calls it needed belong to this trace only.
	for _, s := range exporter.GetSpans() {
		if s.SpanContext.TraceID() != traceID && (s.Name == "dokku apps:create" || s.Name == "vault sign") {
			t.Errorf("span %q of %s is in trace %s, want %s", s.Name, serviceName(s), s.SpanContext.TraceID(), traceID)
		}
	}

	spanIDs := map[trace.SpanID]bool{}
	for _, s := range inTrace {
		spanIDs[s.SpanContext.SpanID()] = true
	}
	for _, s := range inTrace {
		if s.SpanContext.SpanID() != root.SpanContext.SpanID() && !spanIDs[s.Parent.SpanID()] {
			t.Errorf("span %q of %s has parent %s, which is not in the trace", s.Name, serviceName(s), s.Parent.SpanID())
		}
	}

	// A config value and the credentials must stay out of every span.
	var set struct{ Keys []string }
	call(t, c, "config_set", map[string]any{"app": "traced", "vars": map[string]any{"TRACE_SECRET": traceSecret}, "no_restart": true}, &set)
	waitForSpan(t, exporter, func(s tracetest.SpanStub) bool { return s.Name == "dokku config:set" })
	secrets := []string{token, tenant.ClientSecret, traceSecret}
	secrets = append(secrets, leakForms(traceSecret)...)
	for _, s := range exporter.GetSpans() {
		for _, secret := range secrets {
			if text := spanText(s); strings.Contains(text, secret) {
				t.Errorf("span %q of %s contains secret %q...", s.Name, serviceName(s), first(secret, 8))
			}
		}
	}

	t.Run("metrics endpoints", func(t *testing.T) {
		// A failed authentication of a known client, so that Identity counts
		// one and appends its event.
		form := url.Values{"grant_type": {"client_credentials"}, "resource": {st.MCPURL}}
		req, _ := http.NewRequest(http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(tenant.ClientID, "not-the-secret")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()

		bases := map[string]string{
			"mcpedge": strings.TrimSuffix(st.MCPURL, "/mcp"), "identity": st.IdentityURL,
			"tenancy": st.TenancyURL, "secrets": st.SecretsURL, "dokkuexec": st.DokkuExecURL,
		}
		// Each service verifies tokens; the appending ones record their
		// appends and lost events.
		common := []string{"rpc_server_call_duration_seconds", "dokkumcp_auth_token_verifications_total",
			"dokkumcp_auth_token_verification_duration_seconds"}
		audit := []string{"dokkumcp_audit_append_duration_seconds", "dokkumcp_audit_append_failures_total"}
		want := map[string][]string{
			"mcpedge": slices.Concat(common, audit, []string{"rpc_client_call_duration_seconds",
				"dokkumcp_mcpedge_tool_calls_total", "dokkumcp_mcpedge_tool_call_duration_seconds"}),
			"identity": slices.Concat(common, audit, []string{"dokkumcp_identity_tokens_issued_total",
				"dokkumcp_identity_client_auth_failures_total", "dokkumcp_identity_signing_key_newest_created_timestamp_seconds"}),
			"tenancy": common,
			"secrets": slices.Concat(common, audit, []string{"dokkumcp_secrets_credentials_issued_total"}),
			"dokkuexec": slices.Concat(common, audit, []string{"rpc_client_call_duration_seconds",
				"dokkumcp_dokkuexec_ssh_command_duration_seconds", "dokkumcp_dokkuexec_credential_cache_lookups_total",
				"dokkumcp_dokkuexec_ssh_credential_remaining_seconds", "dokkumcp_dokkuexec_ssh_credential_renewal_failures_total",
				"dokkumcp_dokkuexec_ssh_session_wait_seconds", "dokkumcp_dokkuexec_ssh_breaker_hosts",
				"dokkumcp_dokkuexec_ssh_connections", "dokkumcp_dokkuexec_ssh_sessions"}),
		}
		if st.CABackend == "vault" {
			want["secrets"] = append(want["secrets"], "dokkumcp_secrets_vault_up", "dokkumcp_secrets_vault_request_duration_seconds")
		}
		// mcpedge and Identity append in the background, so their series
		// may appear shortly after the calls return.
		for service, series := range want {
			var missing []string
			deadline := time.Now().Add(10 * time.Second)
			for {
				body := getMetrics(t, bases[service]+"/metrics")
				missing = slices.DeleteFunc(slices.Clone(series), func(name string) bool {
					return strings.Contains(body, "\n"+name+"{") || strings.Contains(body, "\n"+name+" ") ||
						strings.Contains(body, "\n"+name+"_bucket{") || strings.Contains(body, "\n"+name+"_count{")
				})
				if len(missing) == 0 || time.Now().After(deadline) {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			for _, name := range missing {
				t.Errorf("%s /metrics lacks %s", service, name)
			}
		}
	})
}

// waitForSpan polls the exporter until a span matches and returns it.
func waitForSpan(t *testing.T, exporter *tracetest.InMemoryExporter, match func(tracetest.SpanStub) bool) tracetest.SpanStub {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		spans := exporter.GetSpans()
		if i := slices.IndexFunc(spans, match); i >= 0 {
			return spans[i]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no matching span within 10s; spans:\n%s", describeSpans(spans))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func spansOfTrace(exporter *tracetest.InMemoryExporter, traceID trace.TraceID) []tracetest.SpanStub {
	var out []tracetest.SpanStub
	for _, s := range exporter.GetSpans() {
		if s.SpanContext.TraceID() == traceID {
			out = append(out, s)
		}
	}
	return out
}

func serviceName(s tracetest.SpanStub) string {
	if s.Resource == nil {
		return ""
	}
	value, _ := s.Resource.Set().Value("service.name")
	return value.AsString()
}

func attributeValue(attrs []attribute.KeyValue, key attribute.Key) string {
	for _, kv := range attrs {
		if kv.Key == key {
			return kv.Value.Emit()
		}
	}
	return ""
}

// spanText returns everything a span carries as text: its name, status,
// attributes and events.
func spanText(s tracetest.SpanStub) string {
	var b strings.Builder
	b.WriteString(s.Name + "\n" + s.Status.Description + "\n")
	for _, kv := range s.Attributes {
		b.WriteString(string(kv.Key) + "=" + kv.Value.Emit() + "\n")
	}
	for _, event := range s.Events {
		b.WriteString(event.Name + "\n")
		for _, kv := range event.Attributes {
			b.WriteString(string(kv.Key) + "=" + kv.Value.Emit() + "\n")
		}
	}
	return b.String()
}

func describeSpans(spans []tracetest.SpanStub) string {
	var b strings.Builder
	for _, s := range spans {
		b.WriteString("  " + serviceName(s) + " " + s.SpanKind.String() + " " + s.Name +
			" span=" + s.SpanContext.SpanID().String() + " parent=" + s.Parent.SpanID().String() +
			" trace=" + s.SpanContext.TraceID().String() + "\n")
	}
	return b.String()
}

func getMetrics(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s: %v", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d, want 200", url, resp.StatusCode)
	}
	return string(body)
}
