package pg

import (
	"context"
	"strings"
	"unicode"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"dokkumcp.dev/platform/telemetry"
)

// tracerName names the tracer of the SQL spans.
const tracerName = "dokkumcp.dev/platform/pg"

// QueryTracer records a span for each statement run inside a traced call,
// with the provider that started the call's span. A span names the
// statement's first keyword only, never the statement's text or its
// arguments, which may carry tenant data. Connect installs it; a service
// that opens its pool another way sets it as the pool's ConnConfig.Tracer.
type QueryTracer struct{}

var _ pgx.QueryTracer = QueryTracer{}

// querySpanKey is the context key of the span a statement runs in.
type querySpanKey struct{}

func (QueryTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return ctx
	}
	operation := firstKeyword(data.SQL)
	ctx, span := telemetry.TracerFrom(ctx, tracerName).Start(ctx, "sql "+operation, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("db.system.name", "postgresql"), attribute.String("db.operation.name", operation)))
	return context.WithValue(ctx, querySpanKey{}, span)
}

func (QueryTracer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryEndData) {
	// Only a span this tracer started is ended, never the caller's.
	span, ok := ctx.Value(querySpanKey{}).(trace.Span)
	if !ok {
		return
	}
	if data.Err != nil {
		// PostgreSQL's messages may quote values, so only the fact is kept.
		span.SetStatus(codes.Error, "statement failed")
	}
	span.End()
}

// firstKeyword returns the statement's first word in upper case, such as
// SELECT, or "SQL" when it has none. Leading comments are not skipped.
func firstKeyword(sql string) string {
	sql = strings.TrimLeftFunc(sql, unicode.IsSpace)
	end := strings.IndexFunc(sql, func(r rune) bool { return !unicode.IsLetter(r) })
	if end < 0 {
		end = len(sql)
	}
	if end == 0 || end > 16 {
		return "SQL"
	}
	return strings.ToUpper(sql[:end])
}
