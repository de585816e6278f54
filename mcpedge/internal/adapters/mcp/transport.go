package mcp

import (
	"context"
	"log/slog"
	"net/http"

	mcpserver "github.com/mark3labs/mcp-go/server"
	"go.opentelemetry.io/otel/trace"

	"dokkumcp.dev/mcpedge/internal/app"

	"dokkumcp.dev/platform/auth"
	"dokkumcp.dev/platform/logging"
)

// CarryRequestContext copies what the guard put on an HTTP request's
// context into the context mcp-go hands to the tool handlers: the
// principal, the request id, the tool call being audited and the trace.
func CarryRequestContext(ctx, from context.Context) context.Context {
	if p, ok := auth.PrincipalFrom(from); ok {
		ctx = auth.WithPrincipal(ctx, p)
	}
	if call := app.CallFrom(from); call != nil {
		ctx = app.WithCall(ctx, call)
	}
	if sc := trace.SpanContextFromContext(from); sc.IsValid() {
		ctx = trace.ContextWithSpanContext(ctx, sc)
	}
	return logging.WithRequestID(ctx, logging.RequestID(from))
}

// NewStreamableHTTPServer returns the Streamable HTTP transport that serves s
// at /mcp: stateless, without the standalone GET stream, accepting only
// requests whose Host is host. It carries the principal and request id that
// the guard put on the HTTP request into the handlers' context. The
// conformance listener uses it too, so the suite runs against this exact
// configuration.
func NewStreamableHTTPServer(s *mcpserver.MCPServer, host string, maxBodyBytes int64, logger *slog.Logger) *mcpserver.StreamableHTTPServer {
	return mcpserver.NewStreamableHTTPServer(s,
		mcpserver.WithStateLess(true),
		mcpserver.WithDisableStreaming(true),
		mcpserver.WithMaxRequestBodyBytes(maxBodyBytes),
		mcpserver.WithAllowedHosts(host),
		mcpserver.WithStreamableHTTPLogger(logger),
		mcpserver.WithHTTPContextFunc(func(ctx context.Context, r *http.Request) context.Context {
			// Carry the guard's principal and ids into the tool handlers.
			return CarryRequestContext(ctx, r.Context())
		}),
	)
}
