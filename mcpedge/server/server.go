// Package server composes mcpedge: the MCP endpoint at /mcp behind the
// bearer guard and the per-tenant rate limits, RFC 9728 metadata, the
// DokkuExec and Tenancy clients that exchange each caller's token, and the
// audit recorder that appends every tool call to Tenancy's ledger.
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
	"go.opentelemetry.io/otel/semconv/v1.43.0/rpcconv"

	"dokkumcp.dev/gen/dokkumcp/dokkuexec/v1/dokkuexecv1connect"
	"dokkumcp.dev/gen/dokkumcp/tenancy/v1/tenancyv1connect"
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
	TenancyURL     string
	AllowedOrigins string
	MaxBodyBytes   int64
	CallTimeout    time.Duration
	// SSEQueryTokens accepts access tokens in the query string on the
	// legacy SSE endpoints, for clients that cannot send headers.
	SSEQueryTokens bool
	// MetricsTenantLabel adds a tenant_id label to the tool-call and
	// rate-limit metrics. Only for an installation that serves a bounded
	// set of tenants, such as one Enterprise tenant.
	MetricsTenantLabel bool
}

// RegisterFlags adds mcpedge's flags.
func RegisterFlags(fs *config.FlagSet) *Config {
	c := &Config{Common: config.RegisterCommon(fs, "127.0.0.1:8080")}
	fs.StringVar(&c.PublicURL, "public-url", "http://127.0.0.1:8080", "base URL MCP clients use to reach this server; the MCP endpoint is <public-url>/mcp and is the token audience")
	fs.StringVar(&c.IdentityURL, "identity-url", "http://127.0.0.1:8081", "Identity's base URL, which is also the token issuer")
	fs.StringVar(&c.ClientID, "client-id", "mcpedge", "mcpedge's OAuth client id, used for token exchange")
	fs.StringVar(&c.ClientSecret, "client-secret", "", "mcpedge's OAuth client secret")
	fs.StringVar(&c.DokkuExecURL, "dokkuexec-url", "http://127.0.0.1:8084", "DokkuExec's base URL")
	fs.StringVar(&c.TenancyURL, "tenancy-url", "http://127.0.0.1:8082", "Tenancy's base URL, for tenants' rate limits, the audit ledger and the audit_log tool")
	fs.StringVar(&c.AllowedOrigins, "allowed-origins", "", "comma-separated browser origins allowed to call /mcp; requests with any other Origin header get 403")
	fs.Int64Var(&c.MaxBodyBytes, "max-body-bytes", 1<<20, "largest accepted request body in bytes")
	fs.DurationVar(&c.CallTimeout, "call-timeout", 2*time.Minute, "longest time one tool call may take")
	fs.BoolVar(&c.SSEQueryTokens, "sse-query-tokens", false, "accept ?access_token= on the legacy /sse and /message endpoints for clients that cannot send headers; "+
		"a risk, because URLs end up in proxy and browser logs (the parameter is removed before mcpedge logs anything)")
	fs.BoolVar(&c.MetricsTenantLabel, "metrics-tenant-label", false, "add a tenant_id label to the tool-call and rate-limit metrics; "+
		"only for an installation that serves a few tenants, because each tenant adds series")
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

	handler, closeHandler, err := newHandler(cfg, logger, tel)
	if err != nil {
		return err
	}
	defer func() {
		// Append the queued audit events before exiting.
		drainCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		closeHandler(drainCtx)
	}()
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

// NewHandler returns mcpedge's HTTP handler. Its audit events are appended
// in the background for as long as the process runs.
func NewHandler(cfg *Config, logger *slog.Logger, tel *telemetry.Telemetry) (http.Handler, error) {
	handler, _, err := newHandler(cfg, logger, tel)
	return handler, err
}

// auditQueueSize bounds the tool-call events waiting to be appended.
const auditQueueSize = 1024

// newHandler returns mcpedge's HTTP handler and a function that drains its
// audit queue.
func newHandler(cfg *Config, logger *slog.Logger, tel *telemetry.Telemetry) (http.Handler, func(context.Context), error) {
	identityURL := strings.TrimRight(cfg.IdentityURL, "/")
	verifier := auth.NewVerifier(auth.VerifierConfig{
		Issuer:   identityURL,
		Audience: cfg.Resource(),
		JWKSURL:  identityURL + "/oauth2/jwks",
		Meter:    tel.Meter("dokkumcp.dev/mcpedge"),
	})

	otelInterceptor, err := tel.Interceptor()
	if err != nil {
		return nil, nil, err
	}
	exchanger := &rpc.Exchanger{
		TokenURL:     identityURL + "/oauth2/token",
		ClientID:     cfg.ClientID,
		ClientSecret: cfg.ClientSecret,
		Audience:     "urn:dokkumcp:dokkuexec",
	}
	dokkuExec := dokkuexecv1connect.NewDokkuExecServiceClient(http.DefaultClient, strings.TrimRight(cfg.DokkuExecURL, "/"),
		connect.WithInterceptors(otelInterceptor, auth.NewClientInterceptor(exchanger.TokenFunc())))

	tenancyURL := strings.TrimRight(cfg.TenancyURL, "/")
	// audit_log reads the caller's own ledger with a token exchanged for
	// Tenancy's audience.
	tenancyExchanger := &rpc.Exchanger{
		TokenURL:     identityURL + "/oauth2/token",
		ClientID:     cfg.ClientID,
		ClientSecret: cfg.ClientSecret,
		Audience:     "urn:dokkumcp:tenancy",
	}
	callerTenancy := tenancyv1connect.NewTenancyServiceClient(http.DefaultClient, tenancyURL,
		connect.WithInterceptors(otelInterceptor, auth.NewClientInterceptor(tenancyExchanger.TokenFunc())))
	// Limits and audit appends use mcpedge's own service token.
	serviceTenancy := &rpc.Tenancy{Client: tenancyv1connect.NewTenancyServiceClient(http.DefaultClient, tenancyURL,
		connect.WithInterceptors(otelInterceptor, auth.NewClientInterceptor(auth.NewServiceTokenFunc(auth.ServiceCredentials{
			TokenURL: identityURL + "/oauth2/token", ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, Resource: "urn:dokkumcp:tenancy",
		}, nil))))}
	callMetrics, err := app.NewCallMetrics(tel.Meter("dokkumcp.dev/mcpedge"), cfg.MetricsTenantLabel)
	if err != nil {
		return nil, nil, err
	}
	recorder := app.NewRecorder(serviceTenancy, logger, auditQueueSize, callMetrics.Audit())
	gate := &app.CallGate{
		Limiter:  &app.Limiter{Source: serviceTenancy, Logger: logger},
		Recorder: recorder,
		Metrics:  callMetrics,
		Plans:    serviceTenancy,
		Logger:   logger,
	}

	tools := &app.Tools{DokkuExec: dokkuExec, Tenancy: callerTenancy, Logger: logger}
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

	// MCP is JSON-RPC, so its requests are recorded like the other
	// services' Connect calls.
	callDuration, err := rpcconv.NewServerCallDuration(tel.Meter("dokkumcp.dev/mcpedge"))
	if err != nil {
		return nil, nil, err
	}

	streamable := mcpadapter.NewStreamableHTTPServer(mcp, publicURL.Host, cfg.MaxBodyBytes, logger)
	guard := &httpguard.Guard{
		DropCancellations:      true,
		AnswerUnknownResources: true,
		Verifier:               verifier,
		MetadataURL:            strings.TrimRight(cfg.PublicURL, "/") + metadataPath,
		AllowedOrigins:         splitList(cfg.AllowedOrigins),
		MaxBodyBytes:           cfg.MaxBodyBytes,
		Scopes:                 strings.Join(scopes(), " "),
		Calls:                  gate,
		Tracer:                 tel.Tracer("dokkumcp.dev/mcpedge"),
		CallDuration:           callDuration.Inst(),
		Logger:                 logger,
	}

	sse, err := newLegacySSE(cfg, mcp, guard, publicURL.Host)
	if err != nil {
		return nil, nil, err
	}

	mux := server.NewMux(server.Options{Metrics: tel.MetricsHandler(), HealthServices: []string{"dokkumcp.mcpedge"}})
	mux.Handle("GET /sse", sse.stream)
	mux.Handle("POST /message", sse.message)
	metadataHandler := mcpserver.NewProtectedResourceMetadataHandler(metadata)
	mux.Handle("GET "+metadataPath, metadataHandler)
	mux.Handle("GET "+mcpserver.WellKnownProtectedResourcePath, metadataHandler)
	mux.Handle("/mcp", guard.Wrap(streamable))
	return mux, recorder.Close, nil
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
