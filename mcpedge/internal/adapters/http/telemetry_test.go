package http_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	httpguard "dokkumcp.dev/mcpedge/internal/adapters/http"
	"dokkumcp.dev/mcpedge/internal/app"
	"dokkumcp.dev/platform/auth"
)

type manyPerMinute struct{}

func (manyPerMinute) ToolCallsPerMinute(context.Context, string) (int, bool, error) {
	return 1000, true, nil
}

func TestGuardRecordsSpanAndDuration(t *testing.T) {
	t.Parallel()
	logger := slog.New(slog.DiscardHandler)
	exporter := tracetest.NewInMemoryExporter()
	reader := sdkmetric.NewManualReader()
	duration, err := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)).Meter("test").Float64Histogram("rpc.server.call.duration")
	if err != nil {
		t.Fatal(err)
	}
	guard := &httpguard.Guard{
		TestPrincipal: &auth.Principal{TenantID: "t-1", Subject: "c-1", ClientID: "c-1", Scopes: allScopes},
		Calls:         &app.CallGate{Limiter: &app.Limiter{Source: manyPerMinute{}, Logger: logger}, Logger: logger},
		Tracer:        sdktrace.NewTracerProvider(sdktrace.WithSyncer(exporter)).Tracer("test"),
		CallDuration:  duration,
		Logger:        logger,
	}
	var handlerSpan trace.SpanContext
	handler := guard.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handlerSpan = trace.SpanContextFromContext(r.Context())
	}))
	post := func(body string) {
		req := httptest.NewRequest(http.MethodPost, "http://mcp.test/mcp", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("POST %s: status %d, want 200", body, rec.Code)
		}
	}

	post(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"config_set","arguments":{"app":"web","vars":{"K":"secret-value"}}}}`)
	callSpan := handlerSpan
	post(`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"no such tool","arguments":{}}}`)
	post(`{"jsonrpc":"2.0","id":3,"method":"vendor/custom"}`)

	spans := exporter.GetSpans()
	if len(spans) != 2 {
		t.Fatalf("got %d spans, want one per tools/call", len(spans))
	}
	if got := spans[0].Name; got != "mcp.tools/call config_set" {
		t.Errorf("span name = %q, want mcp.tools/call config_set", got)
	}
	if got := spans[1].Name; got != "mcp.tools/call" {
		t.Errorf("span name for an unknown tool = %q, want mcp.tools/call", got)
	}
	attrs := attribute.NewSet(spans[0].Attributes...)
	if value, _ := attrs.Value("mcp.tool"); value.AsString() != "config_set" {
		t.Errorf("mcp.tool = %q, want config_set", value.AsString())
	}
	if value, _ := attrs.Value("dokkumcp.tenant_id"); value.AsString() != "t-1" {
		t.Errorf("dokkumcp.tenant_id = %q, want t-1", value.AsString())
	}
	for _, kv := range spans[0].Attributes {
		if strings.Contains(kv.Value.Emit(), "secret-value") {
			t.Errorf("attribute %s carries an argument value", kv.Key)
		}
	}
	if callSpan.SpanID() != spans[0].SpanContext.SpanID() {
		t.Errorf("handler of the tools/call ran in span %s, want the call's span %s", callSpan.SpanID(), spans[0].SpanContext.SpanID())
	}
	if handlerSpan.IsValid() {
		t.Errorf("handler of vendor/custom ran in span %s, want none", handlerSpan.SpanID())
	}

	var metrics metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &metrics); err != nil {
		t.Fatal(err)
	}
	counts := map[string]uint64{}
	for _, scope := range metrics.ScopeMetrics {
		for _, m := range scope.Metrics {
			for _, point := range m.Data.(metricdata.Histogram[float64]).DataPoints {
				method, _ := point.Attributes.Value("rpc.method")
				counts[method.AsString()] += point.Count
			}
		}
	}
	if counts["tools/call"] != 2 || counts["_OTHER"] != 1 {
		t.Errorf("durations recorded by method = %v, want 2 tools/call and 1 _OTHER", counts)
	}
}
