package app

import (
	"context"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"dokkumcp.dev/mcpedge/internal/domain"
	"dokkumcp.dev/platform/telemetry"
)

// otherTool is the tool label of a call whose name is no tool's: the name
// is caller input, and each distinct value would add series.
const otherTool = "_other"

// CallMetrics are mcpedge's tool-call metrics. Their labels come from fixed
// sets (the tool catalogue, the outcomes, the two limits), so each has at
// most a few hundred series per pod. By default none carries a tenant,
// because the number of tenants grows without bound. Per-tenant counts are
// in the audit ledger, where every call, rate-limited ones included, has an
// event. An installation that serves a bounded set of tenants, such as one
// Enterprise tenant, may add the tenant_id label.
//   - dokkumcp_mcpedge_tool_calls_total (tool, outcome; tenant_id if on)
//   - dokkumcp_mcpedge_tool_call_duration_seconds (tool, outcome)
//   - dokkumcp_mcpedge_rate_limited_total (limit: tenant or tool; tool;
//     tenant_id if on)
//   - dokkumcp_audit_append_duration_seconds and
//     dokkumcp_audit_append_failures_total (see telemetry.AuditMetrics)
//
// A nil *CallMetrics records nothing.
type CallMetrics struct {
	calls       metric.Int64Counter
	duration    metric.Float64Histogram
	rateLimited metric.Int64Counter
	audit       *telemetry.AuditMetrics
	// tenantLabel adds tenant_id to calls and rateLimited.
	tenantLabel bool
}

// NewCallMetrics creates the instruments on meter. tenantLabel adds the
// tenant_id label to the tool-call counter and the rate-limit counter.
func NewCallMetrics(meter metric.Meter, tenantLabel bool) (*CallMetrics, error) {
	m := &CallMetrics{tenantLabel: tenantLabel}
	var err error
	if m.calls, err = meter.Int64Counter("dokkumcp_mcpedge_tool_calls",
		metric.WithDescription("MCP tool calls by tool and outcome (ok, is_error, denied, rate_limited, error).")); err != nil {
		return nil, err
	}
	if m.duration, err = meter.Float64Histogram("dokkumcp_mcpedge_tool_call_duration_seconds",
		metric.WithUnit("s"),
		metric.WithDescription("Duration of MCP tool calls from admission to the answer, by tool and outcome."),
		metric.WithExplicitBucketBoundaries(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120)); err != nil {
		return nil, err
	}
	if m.rateLimited, err = meter.Int64Counter("dokkumcp_mcpedge_rate_limited",
		metric.WithDescription("Tool calls rejected by a rate limit, by limit (tenant: the plan's calls per minute; tool: the per-tool limit) and tool.")); err != nil {
		return nil, err
	}
	if m.audit, err = telemetry.NewAuditMetrics(meter); err != nil {
		return nil, err
	}
	return m, nil
}

// toolLabel returns tool when it names a tool of the catalogue, a resource
// (resource.<name>) or a prompt (prompt.<name>), and otherTool for anything
// else, so that a caller cannot mint label values.
func toolLabel(tool string) string {
	if domain.Permission(tool) != "" {
		return tool
	}
	if name, ok := strings.CutPrefix(tool, "resource."); ok && domain.ResourcePermission(name) != "" {
		return tool
	}
	if name, ok := strings.CutPrefix(tool, "prompt."); ok && slices.Contains(domain.PromptNames(), name) {
		return tool
	}
	return otherTool
}

func (m *CallMetrics) callEnded(ctx context.Context, tenantID, tool, outcome string, latency time.Duration) {
	if m == nil {
		return
	}
	attrs := []attribute.KeyValue{attribute.String("tool", toolLabel(tool)), attribute.String("outcome", outcome)}
	m.duration.Record(ctx, latency.Seconds(), metric.WithAttributes(attrs...))
	m.calls.Add(ctx, 1, metric.WithAttributes(m.withTenant(attrs, tenantID)...))
}

func (m *CallMetrics) callRateLimited(ctx context.Context, tenantID, tool, limit string) {
	if m == nil {
		return
	}
	attrs := []attribute.KeyValue{attribute.String("limit", limit), attribute.String("tool", toolLabel(tool))}
	m.rateLimited.Add(ctx, 1, metric.WithAttributes(m.withTenant(attrs, tenantID)...))
}

// withTenant appends the tenant_id label when it is turned on.
func (m *CallMetrics) withTenant(attrs []attribute.KeyValue, tenantID string) []attribute.KeyValue {
	if !m.tenantLabel {
		return attrs
	}
	return append(attrs, attribute.String("tenant_id", tenantID))
}

// Audit returns the audit append instruments.
func (m *CallMetrics) Audit() *telemetry.AuditMetrics {
	if m == nil {
		return nil
	}
	return m.audit
}
