package helm

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// emittedMetrics are the series the services export: otelconnect's RPC
// histograms (connectrpc.com/otelconnect v0.12.0 through the OpenTelemetry
// Prometheus exporter) and the dokkumcp_* instruments of each service.
// TestTraceAcrossHops in devstack/e2e checks that each service's /metrics
// serves them after the end-to-end flow; keep the two lists in step.
var emittedMetrics = []string{
	"rpc_server_call_duration_seconds_bucket",
	"rpc_server_call_duration_seconds_count",
	"rpc_server_call_duration_seconds_sum",
	"rpc_client_call_duration_seconds_bucket",
	"rpc_client_call_duration_seconds_count",
	"rpc_client_call_duration_seconds_sum",
	"dokkumcp_secrets_vault_up",
	"dokkumcp_secrets_vault_token_expiry_timestamp_seconds",
	"dokkumcp_secrets_credentials_issued_total",
	"dokkumcp_secrets_vault_request_duration_seconds_bucket",
	"dokkumcp_dokkuexec_ssh_credential_remaining_seconds",
	"dokkumcp_dokkuexec_ssh_credential_renewal_failures_total",
	"dokkumcp_dokkuexec_credential_cache_lookups_total",
	"dokkumcp_dokkuexec_ssh_command_duration_seconds_bucket",
	"dokkumcp_dokkuexec_ssh_session_wait_seconds_bucket",
	"dokkumcp_dokkuexec_ssh_breaker_hosts",
	"dokkumcp_dokkuexec_ssh_connections",
	"dokkumcp_dokkuexec_ssh_sessions",
	"dokkumcp_identity_signing_key_newest_created_timestamp_seconds",
	"dokkumcp_identity_tokens_issued_total",
	"dokkumcp_identity_client_auth_failures_total",
	"dokkumcp_identity_rate_limited_total",
	"dokkumcp_mcpedge_tool_calls_total",
	"dokkumcp_mcpedge_tool_call_duration_seconds_bucket",
	"dokkumcp_mcpedge_rate_limited_total",
	"dokkumcp_auth_token_verifications_total",
	"dokkumcp_auth_token_verification_duration_seconds_bucket",
	"dokkumcp_audit_append_duration_seconds_bucket",
	"dokkumcp_audit_append_failures_total",
}

// metricLabels are otelconnect's labels, which share the rpc_ prefix.
var metricLabels = []string{"rpc_method", "rpc_response_status_code", "rpc_system_name"}

// metricToken matches identifiers in PromQL; recorded series contain a
// colon and are skipped.
var metricToken = regexp.MustCompile(`[A-Za-z_:][A-Za-z0-9_:]*`)

func checkMetricNames(t *testing.T, where, expr string) {
	t.Helper()
	for _, token := range metricToken.FindAllString(expr, -1) {
		if strings.Contains(token, ":") || !(strings.HasPrefix(token, "rpc_") || strings.HasPrefix(token, "dokkumcp_")) {
			continue
		}
		if slices.Contains(metricLabels, token) {
			continue
		}
		if !slices.Contains(emittedMetrics, token) {
			t.Errorf("%s uses %s, which no service emits", where, token)
		}
	}
}

type ruleFile struct {
	Groups []struct {
		Name  string `json:"name"`
		Rules []struct {
			Alert       string            `json:"alert,omitempty"`
			Record      string            `json:"record,omitempty"`
			Expr        string            `json:"expr"`
			For         string            `json:"for,omitempty"`
			Labels      map[string]string `json:"labels,omitempty"`
			Annotations map[string]string `json:"annotations,omitempty"`
		} `json:"rules"`
	} `json:"groups"`
}

func TestAlertRules(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../../deploy/prometheus/alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	jsonData, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		t.Fatalf("alerts.yaml: %v", err)
	}
	var rules ruleFile
	if strictErrs, err := kjson.UnmarshalStrict(jsonData, &rules, kjson.DisallowUnknownFields, kjson.DisallowDuplicateFields); err != nil || len(strictErrs) > 0 {
		t.Fatalf("alerts.yaml: %v %v", err, strictErrs)
	}
	ops, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}

	alerts := 0
	for _, group := range rules.Groups {
		for _, rule := range group.Rules {
			name := rule.Alert + rule.Record
			if (rule.Alert == "") == (rule.Record == "") || strings.TrimSpace(rule.Expr) == "" {
				t.Errorf("group %s rule %q: want exactly one of alert and record, and an expr", group.Name, name)
			}
			checkMetricNames(t, "rule "+name, rule.Expr)
			if rule.Alert == "" {
				continue
			}
			alerts++
			if rule.Labels["severity"] == "" || rule.Annotations["summary"] == "" {
				t.Errorf("alert %s: want a severity label and a summary annotation", name)
			}
			anchor, ok := strings.CutPrefix(rule.Annotations["runbook"], "docs/operations.md#")
			if !ok || !slices.Contains(headingAnchors(string(ops)), anchor) {
				t.Errorf("alert %s: runbook %q is not an anchor in docs/operations.md", name, rule.Annotations["runbook"])
			}
		}
	}
	if alerts == 0 {
		t.Error("alerts.yaml defines no alerts")
	}
}

// headingAnchors returns the anchors GitHub generates for a Markdown
// document's headings: lower case, punctuation dropped, spaces as hyphens.
func headingAnchors(markdown string) []string {
	var anchors []string
	for _, line := range strings.Split(markdown, "\n") {
		if !strings.HasPrefix(line, "#") {
			continue
		}
		heading := strings.ToLower(strings.TrimSpace(strings.TrimLeft(line, "#")))
		var b strings.Builder
		for _, r := range heading {
			switch {
			case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_':
				b.WriteRune(r)
			case r == ' ':
				b.WriteRune('-')
			}
		}
		anchors = append(anchors, b.String())
	}
	return anchors
}

func TestGrafanaDashboards(t *testing.T) {
	t.Parallel()
	files, err := os.ReadDir("../../deploy/grafana")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if !strings.HasSuffix(f.Name(), ".json") {
			continue
		}
		data, err := os.ReadFile("../../deploy/grafana/" + f.Name())
		if err != nil {
			t.Fatal(err)
		}
		var dash struct {
			UID    string `json:"uid"`
			Title  string `json:"title"`
			Panels []struct {
				Title   string `json:"title"`
				Targets []struct {
					Expr string `json:"expr"`
				} `json:"targets"`
			} `json:"panels"`
		}
		if err := json.Unmarshal(data, &dash); err != nil {
			t.Errorf("%s: %v", f.Name(), err)
			continue
		}
		if dash.UID == "" || dash.Title == "" || len(dash.Panels) == 0 {
			t.Errorf("%s: want a uid, a title and panels", f.Name())
		}
		for _, p := range dash.Panels {
			for _, target := range p.Targets {
				checkMetricNames(t, f.Name()+" panel "+p.Title, target.Expr)
			}
		}
	}
}
