// Package conformance serves the fixture tools, resources and prompts that
// the official MCP conformance suite (@modelcontextprotocol/conformance)
// calls, through mcpedge's guard and Streamable HTTP transport. Only tests
// use it: the suite sends no bearer token, so the guard attaches a fixed test
// principal in place of verifying one, and every other check stays in place.
package conformance

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"

	httpguard "dokkumcp.dev/mcpedge/internal/adapters/http"
	mcpadapter "dokkumcp.dev/mcpedge/internal/adapters/mcp"
	"dokkumcp.dev/platform/auth"
)

// MaxBodyBytes is the request body limit, the default of mcpedge's
// --max-body-bytes flag.
const MaxBodyBytes = 1 << 20

// TestPrincipal is the caller every request is attributed to.
var TestPrincipal = auth.Principal{Subject: "conformance", ClientID: "conformance", TenantID: "t-conformance"}

// NewHandler returns the handler for a listener at baseURL, such as
// http://127.0.0.1:41234: the fixture server at /mcp behind the guard. Like
// production, the transport accepts only baseURL's host, and the guard
// accepts only baseURL itself as a browser Origin.
func NewHandler(baseURL string, logger *slog.Logger) (http.Handler, error) {
	u, err := url.Parse(baseURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("invalid base URL %q: use an absolute URL such as http://127.0.0.1:8080", baseURL)
	}
	principal := TestPrincipal
	guard := &httpguard.Guard{
		MetadataURL:    baseURL + "/.well-known/oauth-protected-resource/mcp",
		AllowedOrigins: []string{u.Scheme + "://" + u.Host},
		MaxBodyBytes:   MaxBodyBytes,
		TestPrincipal:  &principal,
		Logger:         logger,
	}
	streamable := mcpadapter.NewStreamableHTTPServer(NewFixtureServer(), u.Host, MaxBodyBytes, logger)

	mux := http.NewServeMux()
	mux.Handle("/mcp", guard.Wrap(streamable))
	return mux, nil
}
