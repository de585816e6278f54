// Package server composes mcpedge: the MCP endpoint at /mcp behind the
// bearer guard, RFC 9728 metadata, and the DokkuExec client that exchanges
// each caller's token.
package server

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"connectrpc.com/connect"
	mcpserver "github.com/mark3labs/mcp-go/server"

	"dokkumcp.dev/gen/dokkumcp/dokkuexec/v1/dokkuexecv1connect"
	httpguard "dokkumcp.dev/mcpedge/internal/adapters/http"
	mcpadapter "dokkumcp.dev/mcpedge/internal/adapters/mcp"
	"dokkumcp.dev/mcpedge/internal/adapters/rpc"
	"dokkumcp.dev/mcpedge/internal/app"
	"dokkumcp.dev/mcpedge/internal/domain"
	"dokkumcp.dev/platform/auth"
	"dokkumcp.dev/platform/config"
	"dokkumcp.dev/platform/logging"
	"dokkumcp.dev/platform/server"
	"dokkumcp.dev/platform/telemetry"
)

// Version is the server version reported to MCP clients.
const Version = "0.1.0"

// Config holds mcpedge's settings.
type Config struct {
	Common *config.Common
	// PublicURL is the base URL clients use; the MCP resource is PublicURL+"/mcp".
	PublicURL      string
	IdentityURL    string
	ClientID       string
	ClientSecret   string
	DokkuExecURL   string
	AllowedOrigins string
	MaxBodyBytes   int64
	CallTimeout    time.Duration
	// SSEQueryTokens accepts access tokens in the query string on the
	// legacy SSE endpoints, for clients that cannot send headers.
	SSEQueryTokens bool
}

// RegisterFlags adds mcpedge's flags.
func RegisterFlags(fs *config.FlagSet) *Config {
	c := &Config{Common: config.RegisterCommon(fs, "127.0.0.1:8080")}
	fs.StringVar(&c.PublicURL, "public-url", "http://127.0.0.1:8080", "base URL MCP clients use to reach this server; the MCP endpoint is <public-url>/mcp and is the token audience")
	fs.StringVar(&c.IdentityURL, "identity-url", "http://127.0.0.1:8081", "Identity's base URL, which is also the token issuer")
	fs.StringVar(&c.ClientID, "client-id", "mcpedge", "mcpedge's OAuth client id, used for token exchange")
	fs.StringVar(&c.ClientSecret, "client-secret", "", "mcpedge's OAuth client secret")
	fs.StringVar(&c.DokkuExecURL, "dokkuexec-url", "http://127.0.0.1:8084", "DokkuExec's base URL")
	fs.StringVar(&c.AllowedOrigins, "allowed-origins", "", "comma-separated browser origins allowed to call /mcp; requests with any other Origin header get 403")
	fs.Int64Var(&c.MaxBodyBytes, "max-body-bytes", 1<<20, "largest accepted request body in bytes")
	fs.DurationVar(&c.CallTimeout, "call-timeout", 2*time.Minute, "longest time one tool call may take")
	fs.BoolVar(&c.SSEQueryTokens, "sse-query-tokens", false, "accept ?access_token= on the legacy /sse and /message endpoints for clients that cannot send headers; "+
		"a risk, because URLs end up in proxy and browser logs (the parameter is removed before mcpedge logs anything)")
	return c
}

// Options configures Run.
type Options struct {
	Config    *Config
	Listener  net.Listener
	Logger    *slog.Logger
	Telemetry *telemetry.Telemetry
}

// Resource returns the MCP endpoint URL, which is the token audience.
func (c *Config) Resource() string {
	return strings.TrimRight(c.PublicURL, "/") + "/mcp"
}

func (c *Config) validate() error {
	u, err := url.Parse(c.PublicURL)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return fmt.Errorf("invalid --public-url %q: use an absolute URL such as http://127.0.0.1:8080", c.PublicURL)
	}
	if c.ClientSecret == "" {
		return fmt.Errorf("missing --client-secret (%s): mcpedge needs its client secret for token exchange", config.EnvName("client-secret"))
	}
	return nil
}

// Run serves mcpedge until ctx ends.
func Run(ctx context.Context, opts Options) error {
	cfg := opts.Config
	if err := cfg.validate(); err != nil {
		return err
	}
	logger := opts.Logger
	if logger == nil {
		logger = logging.New(os.Stderr, "mcpedge", logging.ParseLevel(cfg.Common.LogLevel))
	}
	tel := opts.Telemetry
	if tel == nil {
		var err error
		if tel, err = telemetry.Setup(ctx, telemetry.Options{Service: "mcpedge", OTLPEndpoint: cfg.Common.OTLPEndpoint}); err != nil {
			return err
		}
		defer tel.Shutdown(context.WithoutCancel(ctx))
	}

	handler, err := NewHandler(cfg, logger, tel)
	if err != nil {
		return err
	}
	listener := opts.Listener
	if listener == nil {
		if listener, err = net.Listen("tcp", cfg.Common.Listen); err != nil {
			return fmt.Errorf("listen on %s: %w", cfg.Common.Listen, err)
		}
	}
	return server.Serve(ctx, listener, server.Options{
		Service: "mcpedge", Handler: handler, Logger: logger, ShutdownTimeout: cfg.Common.ShutdownTimeout,
	})
}

// NewHandler returns mcpedge's HTTP handler.
func NewHandler(cfg *Config, logger *slog.Logger, tel *telemetry.Telemetry) (http.Handler, error) {
	identityURL := strings.TrimRight(cfg.IdentityURL, "/")
	verifier := auth.NewVerifier(auth.VerifierConfig{
		Issuer:   identityURL,
		Audience: cfg.Resource(),
		JWKSURL:  identityURL + "/oauth2/jwks",
	})

	otelInterceptor, err := tel.Interceptor()
	if err != nil {
		return nil, err
	}
	exchanger := &rpc.Exchanger{
		TokenURL:     identityURL + "/oauth2/token",
		ClientID:     cfg.ClientID,
		ClientSecret: cfg.ClientSecret,
		Audience:     "urn:dokkumcp:dokkuexec",
	}
	dokkuExec := dokkuexecv1connect.NewDokkuExecServiceClient(http.DefaultClient, strings.TrimRight(cfg.DokkuExecURL, "/"),
		connect.WithInterceptors(otelInterceptor, auth.NewClientInterceptor(exchanger.TokenFunc())))

	tools := &app.Tools{DokkuExec: dokkuExec, Logger: logger}
	mcp := mcpadapter.NewServer(tools, Version, cfg.CallTimeout, logger)

	metadata := mcpserver.ProtectedResourceMetadataConfig{
		Resource:               cfg.Resource(),
		AuthorizationServers:   []string{identityURL},
		ScopesSupported:        scopes(),
		BearerMethodsSupported: []string{"header"},
		ResourceName:           "dokkumcp",
	}
	metadataPath := mcpserver.ProtectedResourceMetadataPath(cfg.Resource())
	publicURL, _ := url.Parse(cfg.PublicURL)

	streamable := mcpadapter.NewStreamableHTTPServer(mcp, publicURL.Host, cfg.MaxBodyBytes, logger)
	guard := &httpguard.Guard{
		Verifier:       verifier,
		MetadataURL:    strings.TrimRight(cfg.PublicURL, "/") + metadataPath,
		AllowedOrigins: splitList(cfg.AllowedOrigins),
		MaxBodyBytes:   cfg.MaxBodyBytes,
		Scopes:         strings.Join(scopes(), " "),
		Logger:         logger,
	}

	sse, err := newLegacySSE(cfg, mcp, guard, publicURL.Host)
	if err != nil {
		return nil, err
	}

	mux := server.NewMux(server.Options{Metrics: tel.MetricsHandler(), HealthServices: []string{"dokkumcp.mcpedge"}})
	mux.Handle("GET /sse", sse.stream)
	mux.Handle("POST /message", sse.message)
	metadataHandler := mcpserver.NewProtectedResourceMetadataHandler(metadata)
	mux.Handle("GET "+metadataPath, metadataHandler)
	mux.Handle("GET "+mcpserver.WellKnownProtectedResourcePath, metadataHandler)
	mux.Handle("/mcp", guard.Wrap(streamable))
	return mux, nil
}

// scopes lists the permissions the tools use, for the metadata and the
// challenge.
func scopes() []string {
	seen := map[string]bool{}
	var out []string
	for _, tool := range domain.ToolNames() {
		if p := domain.Permission(tool); p != "" && !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}
