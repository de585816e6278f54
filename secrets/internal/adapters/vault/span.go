package vault

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"dokkumcp.dev/platform/telemetry"
)

// tracerName names the tracer of the Vault request spans.
const tracerName = "dokkumcp.dev/secrets/vault"

// startSpan starts the span of one Vault request, a child of the RPC that
// needs it; outside a traced call it records nothing. It names the
// operation and the mount, never the request's data or the token.
func (c *CA) startSpan(ctx context.Context, op string) (context.Context, trace.Span) {
	return telemetry.TracerFrom(ctx, tracerName).Start(ctx, "vault "+op, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("vault.operation", op), attribute.String("vault.mount", c.cfg.Mount)))
}

// endSpan records err, if any, and ends span.
func endSpan(span trace.Span, err error) {
	if err != nil {
		span.SetStatus(codes.Error, "Vault request failed")
	}
	span.End()
}
