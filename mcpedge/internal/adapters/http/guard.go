// Package http guards the MCP endpoint before mcp-go receives a request: Origin
// checks, a body limit, and bearer-token validation with the RFC 9728
// challenge that names the authorization server for the client.
package http

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"dokkumcp.dev/mcpedge/internal/app"
	"dokkumcp.dev/mcpedge/internal/domain"
	"dokkumcp.dev/platform/auth"
	"dokkumcp.dev/platform/logging"
)

// Guard wraps the MCP handler.
type Guard struct {
	Verifier *auth.Verifier
	// MetadataURL is the RFC 9728 metadata URL named in the challenge.
	MetadataURL string
	// AllowedOrigins lists the browser origins that may call; requests with
	// another Origin header get 403. Requests without Origin pass.
	AllowedOrigins []string
	// MaxBodyBytes bounds a request body.
	MaxBodyBytes int64
	// Scopes is the scope list advertised in the challenge.
	Scopes string
	// AllowQueryToken accepts the token in an access_token query parameter
	// for clients that cannot send headers. It is for the legacy SSE
	// endpoints only, off unless an operator enables it, and the parameter
	// is removed from the request before any other handler reads the URL.
	AllowQueryToken bool
	// DropCancellations returns 202 for notifications/cancelled without
	// passing it on. The stateless /mcp endpoint needs it: without sessions,
	// one tenant's cancellation of request id 7 would cancel every tenant's
	// in-flight request 7.
	DropCancellations bool
	// AnswerUnknownResources makes the guard reply to a resources/read
	// whose URI matches no resource template, with a message that lists the
	// templates, because mcp-go's own error names none. Only a transport
	// that replies in the POST's response (stateless /mcp) may set it. The
	// legacy SSE transport replies on its stream.
	AnswerUnknownResources bool
	// TestPrincipal, when set, replaces bearer-token verification: every
	// request that passes the other checks carries this principal. It exists
	// for test listeners whose clients send no token, such as the one the MCP
	// conformance suite runs against; server.NewHandler never sets it.
	TestPrincipal *auth.Principal
	// Calls, when set, admits every tools/call before mcp-go dispatches it: a
	// call over a rate limit gets HTTP 429 with Retry-After, and every
	// admitted call carries an app.Call for its audit event.
	Calls *app.CallGate
	// Tracer, when set, starts a span for each tools/call.
	Tracer trace.Tracer
	// CallDuration, when set, records the duration of each JSON-RPC
	// request as rpc.server.call.duration, by method.
	CallDuration metric.Float64Histogram
	Logger       *slog.Logger
}

// Wrap returns next guarded.
func (g *Guard) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := logging.WithRequestID(r.Context(), newRequestID())

		if origin := r.Header.Get("Origin"); origin != "" && !slices.Contains(g.AllowedOrigins, origin) {
			g.Logger.InfoContext(ctx, "origin rejected", "origin", origin)
			http.Error(w, fmt.Sprintf("origin %q is not allowed; ask the operator to add it to --allowed-origins", origin), http.StatusForbidden)
			return
		}

		// RFC 6750 section 2.3 lets a resource accept tokens in the query; the
		// MCP authorization spec forbids it because URLs end up in logs.
		if query := r.URL.Query(); query.Has("access_token") {
			if !g.AllowQueryToken || r.Header.Get("Authorization") != "" {
				g.challenge(w, "invalid_request", "access tokens are not accepted in the query string; send them in the Authorization header as \"Bearer <token>\"")
				return
			}
			r = r.Clone(ctx)
			r.Header.Set("Authorization", "Bearer "+query.Get("access_token"))
			query.Del("access_token")
			r.URL.RawQuery = query.Encode()
			r.RequestURI = r.URL.RequestURI()
		}

		principal := g.TestPrincipal
		if principal == nil {
			var ok bool
			if principal, ok = g.authenticate(w, r.WithContext(ctx)); !ok {
				return
			}
		}

		ctx = auth.WithPrincipal(ctx, principal)
		if principal.TenantID != "" {
			ctx = logging.WithTenantID(ctx, principal.TenantID)
		}

		if version := r.Header.Get("MCP-Protocol-Version"); version != "" && !mcp.IsValidProtocolVersion(version) {
			writeJSONRPCError(w, http.StatusBadRequest, codeInvalidRequest,
				fmt.Sprintf("unsupported MCP-Protocol-Version %q: use one of %s", version, strings.Join(mcp.ValidProtocolVersions, ", ")))
			return
		}
		if r.Method == http.MethodPost {
			if mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mediaType != "application/json" {
				writeJSONRPCError(w, http.StatusUnsupportedMediaType, codeInvalidRequest,
					fmt.Sprintf("unsupported Content-Type %q: send the JSON-RPC message as application/json", r.Header.Get("Content-Type")))
				return
			}
			body, status, code, err := g.readMessage(w, r)
			if err != nil {
				g.Logger.InfoContext(ctx, "request body rejected", "status", status, "error", err)
				writeJSONRPCError(w, status, code, err.Error())
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			// The body passed the strict check, so this decodes the same
			// members mcp-go will read. A member of the wrong type leaves
			// the message unread here, and mcp-go rejects it.
			var message rpcMessage
			if json.Unmarshal(body, &message) != nil {
				message = rpcMessage{}
			}
			if err := checkID(message.ID); err != nil {
				g.Logger.InfoContext(ctx, "request body rejected", "status", http.StatusBadRequest, "error", err)
				writeJSONRPCError(w, http.StatusBadRequest, codeInvalidRequest, err.Error())
				return
			}
			if g.DropCancellations && message.Method == string(mcp.MethodNotificationCancelled) {
				// Stateless requests all carry an empty session id, so mcp-go
				// would match the request id against every caller's in-flight
				// calls. A stateless client cannot name a call in another POST
				// anyway, so the notification is accepted and dropped.
				w.WriteHeader(http.StatusAccepted)
				return
			}
			if g.CallDuration != nil {
				defer g.recordDuration(ctx, message.Method, time.Now())
			}
			var admitted bool
			var end func()
			if ctx, admitted, end = g.admit(ctx, w, principal, message); !admitted {
				return
			}
			defer end()
			if g.AnswerUnknownResources && g.answerUnknownResource(ctx, w, r, message) {
				return
			}
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// rpcMessage holds the members of a JSON-RPC message that the guard reads.
type rpcMessage struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
	Params struct {
		Name      string          `json:"name"`
		Arguments json.RawMessage `json:"arguments"`
		URI       string          `json:"uri"`
	} `json:"params"`
}

// answerUnknownResource writes the error for a resources/read whose URI no
// resource template matches, and reports whether it wrote one. The error
// quotes the URI (escaped, and only up to the URI length limit) and lists
// the templates.
func (g *Guard) answerUnknownResource(ctx context.Context, w http.ResponseWriter, r *http.Request, message rpcMessage) bool {
	if message.Method != string(mcp.MethodResourcesRead) {
		return false
	}
	_, err := domain.ParseResourceURI(message.Params.URI)
	var uriErr *domain.ResourceURIError
	if !errors.As(err, &uriErr) {
		return false
	}
	if call := app.CallFrom(ctx); call != nil {
		call.Finish(ctx, app.OutcomeIsError)
	}
	// These are the codes mcp-go uses for a resource that is not found, in
	// each protocol era.
	code := codeResourceNotFound
	if mcp.IsModernProtocol(r.Header.Get("MCP-Protocol-Version")) {
		code = codeInvalidParams
	}
	writeJSONRPCErrorWithID(w, http.StatusOK, message.ID, code, uriErr.Message)
	return true
}

// authenticate verifies the request's bearer token and returns its
// principal. When the token is missing or invalid it writes the challenge and
// returns false.
func (g *Guard) authenticate(w http.ResponseWriter, r *http.Request) (*auth.Principal, bool) {
	if len(r.Header.Values("Authorization")) > 1 {
		g.challenge(w, "invalid_request", "send exactly one Authorization header")
		return nil, false
	}
	raw, ok := auth.BearerToken(r.Header)
	if !ok {
		g.challenge(w, "", "missing bearer token: fetch a token from the authorization server named in the resource metadata and send it in the Authorization header")
		return nil, false
	}
	principal, err := g.Verifier.Verify(r.Context(), raw)
	if err != nil {
		g.Logger.InfoContext(r.Context(), "access token rejected", "error", err)
		g.challenge(w, "invalid_token", "the access token is invalid, expired, or not issued for this MCP server; fetch a new one with resource set to this server's URL")
		return nil, false
	}
	return principal, true
}

// readMessage reads a POST body within the size limit and checks that it is
// one strict JSON-RPC message, so mcp-go parses exactly what was checked.
func (g *Guard) readMessage(w http.ResponseWriter, r *http.Request) ([]byte, int, int, error) {
	reader := r.Body
	if g.MaxBodyBytes > 0 {
		reader = http.MaxBytesReader(w, r.Body, g.MaxBodyBytes)
	}
	body, err := io.ReadAll(reader)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, http.StatusRequestEntityTooLarge, codeInvalidRequest, fmt.Errorf("request body exceeds %d bytes", g.MaxBodyBytes)
		}
		return nil, http.StatusBadRequest, codeInvalidRequest, fmt.Errorf("read request body: %w", err)
	}
	if !json.Valid(body) {
		return nil, http.StatusBadRequest, codeParseError, errors.New("the body is not valid JSON")
	}
	if err := checkStrictJSONRPC(body); err != nil {
		return nil, http.StatusBadRequest, codeInvalidRequest, err
	}
	return body, http.StatusOK, 0, nil
}

// rateLimitMessage returns the message naming the limit that rejected a
// request and when to retry. Only the "tool" limit names the operation,
// because it exists only for catalogue tools and so is never caller input.
func rateLimitMessage(limit, operation string, seconds int) string {
	if limit == "tool" {
		return fmt.Sprintf("rate limit of %s reached for this tenant; retry after %d seconds, or call other tools meanwhile", operation, seconds)
	}
	return fmt.Sprintf("rate limit of this tenant's plan reached for tool calls, resource reads and prompts; retry after %d seconds", seconds)
}

// admit passes a tools/call, resources/read or prompts/get through
// g.Calls. It returns false after writing a 429 when the request is over a
// rate limit. end ends the request's span.
func (g *Guard) admit(ctx context.Context, w http.ResponseWriter, principal *auth.Principal, message rpcMessage) (context.Context, bool, func()) {
	if g.Calls == nil {
		return ctx, true, func() {}
	}
	request, spanName, ok := gatedRequest(message.Method, message.Params.Name, message.Params.Arguments, message.Params.URI)
	if !ok {
		return ctx, true, func() {}
	}

	end := func() {}
	if g.Tracer != nil {
		var span trace.Span
		// The span names the operation and the tenant, never the arguments,
		// which may carry config values.
		attrs := []attribute.KeyValue{attribute.String("mcp.method.name", message.Method), attribute.String(spanOperationKey[message.Method], request.Operation)}
		if principal.TenantID != "" {
			attrs = append(attrs, attribute.String("dokkumcp.tenant_id", principal.TenantID))
		}
		ctx, span = g.Tracer.Start(ctx, spanName, trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(attrs...))
		end = func() { span.End() }
	}
	traceID := ""
	if sc := trace.SpanContextFromContext(ctx); sc.HasTraceID() {
		traceID = sc.TraceID().String()
	}
	call, ok, wait := g.Calls.AdmitRequest(ctx, principal, request, traceID)
	if !ok {
		end()
		seconds := domain.RetryAfterSeconds(wait)
		w.Header().Set("Retry-After", strconv.Itoa(seconds))
		writeJSONRPCErrorWithID(w, http.StatusTooManyRequests, message.ID, codeRateLimited, rateLimitMessage(call.RateLimit(), request.Operation, seconds))
		return ctx, false, end
	}
	ctx = app.WithCall(ctx, call)
	if denial := g.Calls.Authorize(ctx, principal, request); denial != nil {
		g.Logger.InfoContext(ctx, "request denied", "operation", request.Operation, "missing", denial.Missing, "step_up", denial.StepUp)
		if denial.StepUp {
			// RFC 6750 section 3.1 and the MCP authorization spec's step-up
			// flow: a token with these scopes would be allowed.
			call.Finish(ctx, app.OutcomeDenied)
			end()
			g.insufficientScope(w, message.ID, denial, denial.Message(deniedSubject(message.Method, request, message.Params.Name, message.Params.URI)))
			return ctx, false, end
		}
		// No token of this tenant can do it. The MCP server answers with a
		// tool-level error, on the request's own transport (the legacy SSE
		// transport answers over the stream, not in this response).
		ctx = app.WithDenial(ctx, denial)
	}
	return ctx, true, end
}

// deniedSubject names what a denied request asked for, for its message.
func deniedSubject(method string, request app.Request, name, uri string) string {
	switch method {
	case string(mcp.MethodResourcesRead):
		return "reading " + uri
	case string(mcp.MethodPromptsGet):
		return "prompt " + name
	default:
		return "tool " + request.Operation
	}
}

// insufficientScope writes a 403 with the insufficient_scope challenge
// naming the permissions to request.
func (g *Guard) insufficientScope(w http.ResponseWriter, id json.RawMessage, denial *app.Denial, description string) {
	w.Header().Set("WWW-Authenticate", fmt.Sprintf("Bearer error=\"insufficient_scope\", scope=%q, resource_metadata=%q, error_description=%q",
		strings.Join(denial.Missing, " "), g.MetadataURL, description))
	writeJSONRPCErrorWithID(w, http.StatusForbidden, id, codeForbidden, description)
}

// spanOperationKey is the span attribute that carries a gated request's
// operation, by method.
var spanOperationKey = map[string]string{
	string(mcp.MethodToolsCall):     "mcp.tool",
	string(mcp.MethodResourcesRead): "mcp.resource",
	string(mcp.MethodPromptsGet):    "mcp.prompt",
}

// gatedRequest returns the audited request and the span name of a
// tools/call, resources/read or prompts/get, and false for any other
// method. Names the client chooses stay out of span names unless they name
// a known tool, resource or prompt.
func gatedRequest(method, name string, arguments json.RawMessage, uri string) (app.Request, string, bool) {
	switch method {
	case string(mcp.MethodToolsCall):
		spanName := "mcp.tools/call"
		if slices.Contains(domain.ToolNames(), name) {
			spanName += " " + name
		}
		var permissions []string
		if p := domain.Permission(name); p != "" {
			permissions = []string{p}
		}
		return app.Request{Operation: name, Target: targetApp(arguments), Arguments: arguments, Permissions: permissions}, spanName, true
	case string(mcp.MethodResourcesRead):
		ref, err := domain.ParseResourceURI(uri)
		if err != nil {
			ref = domain.ResourceRef{}
		}
		operation := domain.ResourceOperation(ref.Name)
		uriJSON, _ := json.Marshal(map[string]string{"uri": uri})
		var permissions []string
		if p := domain.ResourcePermission(ref.Name); p != "" {
			permissions = []string{p}
		}
		return app.Request{Operation: operation, Target: ref.App, Arguments: uriJSON, Permissions: permissions}, "mcp.resources/read " + operation, true
	case string(mcp.MethodPromptsGet):
		spanName := "mcp.prompts/get"
		if slices.Contains(domain.PromptNames(), name) {
			spanName += " " + name
		}
		return app.Request{Operation: domain.PromptOperation(name), Target: targetApp(arguments), Arguments: arguments,
			Permissions: domain.PromptPermissions(name)}, spanName, true
	default:
		return app.Request{}, "", false
	}
}

// targetApp returns the app member of a request's arguments, or "". The
// gate keeps it only when it is a valid app name.
func targetApp(arguments json.RawMessage) string {
	var args struct {
		App string `json:"app"`
	}
	if json.Unmarshal(arguments, &args) != nil {
		return ""
	}
	return args.App
}

// recordedMethods are the MCP methods that label the duration metric; the
// client chooses the method, so any other is recorded as _OTHER.
var recordedMethods = []string{
	string(mcp.MethodInitialize), string(mcp.MethodPing), string(mcp.MethodToolsList), string(mcp.MethodToolsCall),
	string(mcp.MethodResourcesList), string(mcp.MethodResourcesTemplatesList), string(mcp.MethodResourcesRead),
	string(mcp.MethodPromptsList), string(mcp.MethodPromptsGet),
	"notifications/initialized", "notifications/cancelled",
}

// recordDuration records how long the JSON-RPC request with method took
// since start. Responses the client sends, which have no method, are not
// recorded.
func (g *Guard) recordDuration(ctx context.Context, method string, start time.Time) {
	if method == "" {
		return
	}
	if !slices.Contains(recordedMethods, method) {
		method = "_OTHER"
	}
	g.CallDuration.Record(ctx, time.Since(start).Seconds(), metric.WithAttributes(
		attribute.String("rpc.system.name", "jsonrpc"), attribute.String("rpc.method", method)))
}

// JSON-RPC 2.0 error codes used before dispatch.
const (
	codeParseError     = -32700
	codeInvalidRequest = -32600
	codeInvalidParams  = -32602
	// codeResourceNotFound is MCP 2025-11-25's code for an unknown resource.
	codeResourceNotFound = -32002
	// codeRateLimited is in JSON-RPC's range for server errors.
	codeRateLimited = -32029
	// codeForbidden is the JSON-RPC error code of a request whose token lacks a
	// permission.
	codeForbidden = -32003
)

// writeJSONRPCError responds to a message rejected before dispatch with a
// JSON-RPC error and an HTTP status.
func writeJSONRPCError(w http.ResponseWriter, status, code int, message string) {
	writeJSONRPCErrorWithID(w, status, nil, code, message)
}

// writeJSONRPCErrorWithID responds to a message whose id is known.
func writeJSONRPCErrorWithID(w http.ResponseWriter, status int, id json.RawMessage, code int, message string) {
	var idValue any
	if len(id) > 0 {
		idValue = id
	}
	body, _ := json.Marshal(map[string]any{
		"jsonrpc": "2.0",
		"id":      idValue,
		"error":   map[string]any{"code": code, "message": message},
	})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(body)
}

// challenge writes a 401 with a WWW-Authenticate header per RFC 6750 section
// 3 and RFC 9728 section 5.1.
func (g *Guard) challenge(w http.ResponseWriter, code, description string) {
	value := fmt.Sprintf("Bearer resource_metadata=%q", g.MetadataURL)
	if g.Scopes != "" {
		value += fmt.Sprintf(", scope=%q", g.Scopes)
	}
	if code != "" {
		value += fmt.Sprintf(", error=%q, error_description=%q", code, description)
	}
	w.Header().Set("WWW-Authenticate", value)
	http.Error(w, description, http.StatusUnauthorized)
}

func newRequestID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}
