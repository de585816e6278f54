package server

import (
	"context"
	"net/http"
	"strings"

	mcpserver "github.com/mark3labs/mcp-go/server"

	httpguard "dokkumcp.dev/mcpedge/internal/adapters/http"
	mcpadapter "dokkumcp.dev/mcpedge/internal/adapters/mcp"
)

// legacySSE is the HTTP+SSE transport of protocol version 2024-11-05, for
// clients that predate Streamable HTTP: GET /sse opens the stream and
// announces a /message URL with a session id; POST /message sends requests.
type legacySSE struct {
	stream  http.Handler
	message http.Handler
}

// newLegacySSE builds both endpoints on mcp-go's SSE server. Both sit
// behind the same guard as /mcp; the session id is bound to the principal
// that opened the stream, and only that principal may post to it.
func newLegacySSE(cfg *Config, mcp *mcpserver.MCPServer, guard *httpguard.Guard, host string) (*legacySSE, error) {
	bindings := httpguard.NewSessionBindings()
	hooks := mcp.GetHooks()
	if hooks != nil {
		hooks.AddOnUnregisterSession(func(_ context.Context, session mcpserver.ClientSession) {
			bindings.Forget(session.SessionID())
		})
	}

	sse := mcpserver.NewSSEServer(mcp,
		mcpserver.WithBaseURL(strings.TrimRight(cfg.PublicURL, "/")),
		mcpserver.WithSSEEndpoint("/sse"),
		mcpserver.WithMessageEndpoint("/message"),
		mcpserver.WithSSEAllowedHosts(host),
		mcpserver.WithSSEMaxRequestBodyBytes(cfg.MaxBodyBytes),
		mcpserver.WithSessionIDGenerator(bindings.NewSessionID),
		mcpserver.WithKeepAlive(true),
		mcpserver.WithSSEContextFunc(func(ctx context.Context, r *http.Request) context.Context {
			return mcpadapter.CarryRequestContext(ctx, r.Context())
		}),
	)

	sseGuard := *guard
	sseGuard.AllowQueryToken = cfg.SSEQueryTokens
	// SSE sessions are bound to one principal, so a cancellation there names
	// only that principal's requests and is passed on.
	sseGuard.DropCancellations = false
	sseGuard.AnswerUnknownResources = false
	return &legacySSE{
		stream:  sseGuard.Wrap(sse.SSEHandler()),
		message: sseGuard.Wrap(bindings.RequireOwner(sse.MessageHandler())),
	}, nil
}
