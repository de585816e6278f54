package pg_test

import (
	"context"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

func TestQueryTracerRecordsKeywordOnly(t *testing.T) {
	t.Parallel()
	pool := connect(t)
	exporter := tracetest.NewInMemoryExporter()
	provider := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exporter))

	// A statement outside a traced call records nothing.
	if _, err := pool.Exec(context.Background(), "SELECT 1"); err != nil {
		t.Fatal(err)
	}

	ctx, parent := provider.Tracer("test").Start(context.Background(), "rpc")
	var got string
	if err := pool.QueryRow(ctx, "  select $1::text", "tenant-data-42").Scan(&got); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, "SELECT no_such_column FROM no_such_table"); err == nil {
		t.Fatal("query of a missing table succeeded")
	}
	parent.End()

	spans := exporter.GetSpans()
	if len(spans) != 3 {
		t.Fatalf("got %d spans, want two statements and their parent", len(spans))
	}
	for _, span := range spans[:2] {
		if span.Name != "sql SELECT" {
			t.Errorf("span name = %q, want sql SELECT", span.Name)
		}
		if span.Parent.SpanID() != parent.SpanContext().SpanID() {
			t.Errorf("span %q has parent %s, want %s", span.Name, span.Parent.SpanID(), parent.SpanContext().SpanID())
		}
		for _, kv := range span.Attributes {
			if value := kv.Value.Emit(); strings.Contains(value, "tenant-data-42") || strings.Contains(value, "no_such") {
				t.Errorf("attribute %s = %q carries the statement or its arguments", kv.Key, value)
			}
		}
	}
	if spans[1].Status.Description == "" || strings.Contains(spans[1].Status.Description, "no_such") {
		t.Errorf("failed statement status = %q, want a generic error", spans[1].Status.Description)
	}
}
