// Package mcp registers mcpedge's tools on an mcp-go server: their schemas,
// annotations and descriptions written for a language model, and handlers
// that turn failures into isError results the model can act on.
package mcp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	mcpserver "github.com/mark3labs/mcp-go/server"

	"dokkumcp.dev/mcpedge/internal/app"
	"dokkumcp.dev/mcpedge/internal/domain"
	"dokkumcp.dev/platform/auth"
	"dokkumcp.dev/platform/logging"
)

const hostDescription = "Name of the tenant's Dokku host. Omit it when the tenant has only one host."

// NewServer returns the MCP server with every tool, resource template and
// prompt registered, each list filtered per caller: a caller sees and may
// use only the tools, resources and prompts whose permissions its token
// carries.
func NewServer(tools *app.Tools, version string, callTimeout time.Duration, logger *slog.Logger) *mcpserver.MCPServer {
	h := handler{logger: logger, timeout: callTimeout}
	hooks := &mcpserver.Hooks{}
	hooks.AddAfterCallTool(finishCall)
	hooks.AddAfterListResourceTemplates(filterResourceTemplates)
	hooks.AddOnError(func(ctx context.Context, _ any, method mcp.MCPMethod, _ any, err error) {
		// Handlers record their own outcomes; this records requests that
		// failed before reaching one.
		call := app.CallFrom(ctx)
		if call == nil {
			return
		}
		switch method {
		case mcp.MethodToolsCall, mcp.MethodPromptsGet:
			outcome := app.OutcomeError
			if errors.Is(err, mcpserver.ErrToolNotFound) || errors.Is(err, mcpserver.ErrPromptNotFound) {
				// mcp-go returns "not found" for tools and prompts the
				// caller may not use.
				outcome = app.OutcomeDenied
			}
			call.Finish(ctx, outcome)
		case mcp.MethodResourcesRead:
			// A URI that matches no template.
			call.Finish(ctx, app.OutcomeIsError)
		}
	})
	s := mcpserver.NewMCPServer("dokkumcp", version,
		mcpserver.WithToolCapabilities(false),
		mcpserver.WithInputSchemaValidation(),
		mcpserver.WithStrictInputSchemaDefault(),
		mcpserver.WithOutputSchemaValidation(),
		mcpserver.WithRecovery(),
		mcpserver.WithHooks(hooks),
		mcpserver.WithToolFilter(filterByPermission),
		mcpserver.WithToolHandlerMiddleware(answerDeniedTool),
		mcpserver.WithResourceCapabilities(false, false),
		mcpserver.WithPromptCapabilities(false),
		mcpserver.WithPromptFilter(filterPromptsByPermission),
		mcpserver.WithPromptHandlerMiddleware(answerDeniedPrompt),
		mcpserver.WithInstructions("Manage the apps on your Dokku hosts. Start with apps_list to see what exists; "+
			"every tool acts only on your own tenant's hosts. Resources dokku://hosts/{host}/apps, .../apps/{app}, "+
			".../apps/{app}/logs and .../apps/{app}/deployments/{id} hold the same data as apps_list, apps_report, logs_get and deploy_status. "+
			"Tool calls and resource reads are rate limited per tenant: when a request is rejected with HTTP 429, wait for the Retry-After seconds before calling again."),
	)

	s.AddTool(mcp.NewTool(domain.ToolAppsList,
		mcp.WithTitleAnnotation("List apps"),
		mcp.WithDescription("Lists the names of all apps on a Dokku host. Use it first to learn which apps exist before reading or changing one. "+
			"Returns {apps: [names]} sorted by name; an empty list means the host has no apps yet (create one with apps_create)."),
		mcp.WithString("host", mcp.Description(hostDescription), mcp.Pattern(domain.HostPattern)),
		mcp.WithOutputSchema[app.AppList](),
		mcp.WithReadOnlyHintAnnotation(true),
		mcp.WithDestructiveHintAnnotation(false),
		mcp.WithIdempotentHintAnnotation(true),
		mcp.WithOpenWorldHintAnnotation(false),
	), handle(h, domain.ToolAppsList, tools.ListApps))

	s.AddTool(mcp.NewTool(domain.ToolAppsCreate,
		mcp.WithTitleAnnotation("Create an app"),
		mcp.WithDescription("Creates an empty app on a Dokku host; nothing is deployed yet. Use it when the user wants a new app. "+
			"Names use lower-case letters, digits, dots and dashes and start with a letter or digit. "+
			"Returns {app, warnings}; warnings such as \"No web listeners specified\" are normal for a new app. "+
			"If the name is taken, pick another name or use the existing app."),
		mcp.WithString("host", mcp.Description(hostDescription), mcp.Pattern(domain.HostPattern)),
		mcp.WithString("app", mcp.Required(), mcp.Description("Name of the new app, for example \"shop\"; at most 63 characters."), mcp.Pattern(domain.NewAppNamePattern), mcp.MaxLength(63)),
		mcp.WithOutputSchema[app.AppCreated](),
		mcp.WithReadOnlyHintAnnotation(false),
		mcp.WithDestructiveHintAnnotation(false),
		mcp.WithIdempotentHintAnnotation(false),
		mcp.WithOpenWorldHintAnnotation(false),
	), handle(h, domain.ToolAppsCreate, tools.CreateApp))

	s.AddTool(mcp.NewTool(domain.ToolAppsReport,
		mcp.WithTitleAnnotation("Show an app's report"),
		mcp.WithDescription("Shows Dokku's report for one app: when it was created, its deploy source, its directory and whether deploys are locked. "+
			"Use it to inspect an app before changing it. Returns typed fields plus every raw report field. "+
			"If the app is not found, check the name with apps_list."),
		mcp.WithString("host", mcp.Description(hostDescription), mcp.Pattern(domain.HostPattern)),
		mcp.WithString("app", mcp.Required(), mcp.Description("Name of the app."), mcp.Pattern(domain.AppNamePattern), mcp.MaxLength(255)),
		mcp.WithOutputSchema[app.AppReport](),
		mcp.WithReadOnlyHintAnnotation(true),
		mcp.WithDestructiveHintAnnotation(false),
		mcp.WithIdempotentHintAnnotation(true),
		mcp.WithOpenWorldHintAnnotation(false),
	), handle(h, domain.ToolAppsReport, tools.AppReport))

	s.AddTool(mcp.NewTool(domain.ToolConfigGet,
		mcp.WithTitleAnnotation("Read a config var"),
		mcp.WithDescription("Reads one environment variable (config var) of an app, byte for byte. "+
			"Use it when the user asks for a specific setting. Returns {key, value}. "+
			"If the var is not set, the call fails with a message saying so; set it with config_set."),
		mcp.WithString("host", mcp.Description(hostDescription), mcp.Pattern(domain.HostPattern)),
		mcp.WithString("app", mcp.Required(), mcp.Description("Name of the app."), mcp.Pattern(domain.AppNamePattern), mcp.MaxLength(255)),
		mcp.WithString("key", mcp.Required(), mcp.Description("Name of the config var, for example \"DATABASE_URL\"."), mcp.Pattern(domain.ConfigKeyPattern)),
		mcp.WithOutputSchema[app.ConfigValue](),
		mcp.WithReadOnlyHintAnnotation(true),
		mcp.WithDestructiveHintAnnotation(false),
		mcp.WithIdempotentHintAnnotation(true),
		mcp.WithOpenWorldHintAnnotation(false),
	), handle(h, domain.ToolConfigGet, tools.GetConfig))

	s.AddTool(mcp.NewTool(domain.ToolConfigSet,
		mcp.WithTitleAnnotation("Set config vars"),
		mcp.WithDescription("Sets one or more environment variables (config vars) of an app. Values may contain any text, "+
			"including quotes, spaces, newlines and unicode, and are stored exactly. Dokku cannot store a few values unchanged "+
			"(integers with leading zeros or a plus sign, values ending in a double quote or a backslash); those are rejected "+
			"with an error naming the key, so store them in another form such as base64. Dokku restarts a deployed app afterwards "+
			"unless no_restart is true. Returns the keys that were set, never the values. "+
			"Keys use letters, digits and underscores and do not start with a digit."),
		mcp.WithString("host", mcp.Description(hostDescription), mcp.Pattern(domain.HostPattern)),
		mcp.WithString("app", mcp.Required(), mcp.Description("Name of the app."), mcp.Pattern(domain.AppNamePattern), mcp.MaxLength(255)),
		mcp.WithObject("vars", mcp.Required(),
			mcp.Description("The vars to set, as {\"KEY\": \"value\"}."),
			mcp.AdditionalProperties(map[string]any{"type": "string"}),
			mcp.MinProperties(1)),
		mcp.WithBoolean("no_restart", mcp.Description("Skip the restart that Dokku does after a change.")),
		mcp.WithOutputSchema[app.ConfigSetResult](),
		mcp.WithReadOnlyHintAnnotation(false),
		mcp.WithDestructiveHintAnnotation(false),
		mcp.WithIdempotentHintAnnotation(true),
		mcp.WithOpenWorldHintAnnotation(false),
	), handle(h, domain.ToolConfigSet, tools.SetConfig))

	addLifecycleTools(s, tools, h)
	addOperationsTools(s, tools, h)
	addServiceTools(s, tools, h)
	addResources(s, tools, h)
	addPrompts(s)
	addDeployTools(s, tools, h)
	return s
}

// finishCall records the outcome of a tool call that reached a handler or
// failed input validation.
func finishCall(ctx context.Context, _ any, _ *mcp.CallToolRequest, result any) {
	call := app.CallFrom(ctx)
	if call == nil {
		return
	}
	outcome := app.OutcomeOK
	if r, ok := result.(*mcp.CallToolResult); ok && r.IsError {
		outcome = app.OutcomeIsError
	}
	if app.DenialFrom(ctx) != nil {
		// Input validation may return a result before answerDeniedTool runs.
		outcome = app.OutcomeDenied
	}
	call.Finish(ctx, outcome)
}

// answerDeniedTool returns an isError result for a call that no token of
// the tenant could make, without running the tool. Calls that a wider
// scope would allow never get here, because the guard rejects them with 403
// insufficient_scope.
func answerDeniedTool(next mcpserver.ToolHandlerFunc) mcpserver.ToolHandlerFunc {
	return func(ctx context.Context, request mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		if denial := app.DenialFrom(ctx); denial != nil {
			finish(ctx, app.OutcomeDenied)
			return mcp.NewToolResultError(denial.Message("tool " + request.Params.Name)), nil
		}
		return next(ctx, request)
	}
}

// filterByPermission keeps the tools whose permission the caller holds. mcp-go
// applies it to tools/list and again to each tools/call. A call the guard
// denied passes, so that answerDeniedTool can tell the model why.
func filterByPermission(ctx context.Context, tools []mcp.Tool) []mcp.Tool {
	principal, ok := auth.PrincipalFrom(ctx)
	if !ok {
		return nil
	}
	if app.DenialFrom(ctx) != nil {
		return tools
	}
	allowed := tools[:0:0]
	for _, tool := range tools {
		if domain.Allowed(tool.Name, principal.Scopes) {
			allowed = append(allowed, tool)
		}
	}
	return allowed
}

// handler holds what every tool handler shares.
type handler struct {
	logger  *slog.Logger
	timeout time.Duration
}

// handle adapts a typed use case to an mcp-go handler. Failures become
// isError results whose text is safe for the model; details stay in the log.
func handle[Args any, Result any](h handler, tool string, run func(context.Context, Args) (*Result, error)) mcpserver.ToolHandlerFunc {
	return func(ctx context.Context, request mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		ctx, cancel := context.WithTimeout(ctx, h.timeout)
		defer cancel()

		var args Args
		if err := request.BindArguments(&args); err != nil {
			return mcp.NewToolResultError(argumentsError(tool, err)), nil
		}

		result, err := run(ctx, args)
		if err != nil {
			var toolErr *app.ToolError
			if errors.As(err, &toolErr) {
				return mcp.NewToolResultError(toolErr.Message), nil
			}
			h.logger.ErrorContext(ctx, "tool call failed", "tool", tool, "error", err)
			return mcp.NewToolResultError(tool + " failed because of an internal error; retry later or report request id " + logging.RequestID(ctx)), nil
		}

		text, err := json.Marshal(result)
		if err != nil {
			return nil, err
		}
		return mcp.NewToolResultStructured(result, string(text)), nil
	}
}

// argumentsError is the message for arguments that passed the input schema
// but do not bind to the tool's Go type: JSON Schema accepts 1.0 and
// numbers beyond int64 as integers. The message names the argument and
// its value, never the Go types.
func argumentsError(tool string, err error) string {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) && typeErr.Field != "" {
		kind := "a value of the type the tool's input schema states"
		switch typeErr.Type.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			kind = "a whole number, such as 20, within the range the tool's input schema states"
		}
		return fmt.Sprintf("invalid arguments for %s: %s is %s, which is not allowed; give %s", tool, typeErr.Field, typeErr.Value, kind)
	}
	return "invalid arguments for " + tool + ": the arguments do not match the tool's input schema; check their names and types"
}
