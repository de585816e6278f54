package mcp

import (
	"context"
	"errors"
	"fmt"

	"connectrpc.com/connect"
	"github.com/mark3labs/mcp-go/mcp"
	mcpserver "github.com/mark3labs/mcp-go/server"

	"dokkumcp.dev/mcpedge/internal/app"
	"dokkumcp.dev/mcpedge/internal/domain"
	"dokkumcp.dev/platform/auth"
	"dokkumcp.dev/platform/logging"
)

const jsonMIMEType = "application/json"

// addResources registers the resource templates. Each read goes through
// the pipeline of a tool call: the guard rate-limits it and starts its
// audit event, the handler checks the permission of the tool whose RPC it
// uses, and DokkuExec resolves the host within the caller's tenant.
func addResources(s *mcpserver.MCPServer, tools *app.Tools, h handler) {
	s.AddResourceTemplate(mcp.NewResourceTemplate(domain.AppsURITemplate, domain.ResourceApps,
		mcp.WithTemplateTitle("Apps on a host"),
		mcp.WithTemplateDescription("The names of all apps on one of your Dokku hosts, as {apps: [names]} sorted by name; "+
			"the same as the apps_list tool. host is the host's name, for example main, or its id."),
		mcp.WithTemplateMIMEType(jsonMIMEType),
	), readResource(h, domain.ResourceApps, tools))

	s.AddResourceTemplate(mcp.NewResourceTemplate(domain.AppReportURITemplate, domain.ResourceAppReport,
		mcp.WithTemplateTitle("App report"),
		mcp.WithTemplateDescription("Dokku's report for one app: when it was created, its deploy source, its directory, whether deploys "+
			"are locked, and every raw report field; the same as the apps_report tool."),
		mcp.WithTemplateMIMEType(jsonMIMEType),
	), readResource(h, domain.ResourceAppReport, tools))

	s.AddResourceTemplate(mcp.NewResourceTemplate(domain.AppLogsURITemplate, domain.ResourceAppLogs,
		mcp.WithTemplateTitle("Recent app logs"),
		mcp.WithTemplateDescription(fmt.Sprintf("The last %d lines of each of an app's containers, oldest first, as {lines, truncated, hint}, "+
			"at most %d bytes. When truncated is true, older lines were left out; the logs_get tool reads up to %d lines per container "+
			"and filters by process type.", domain.DefaultLogLines, app.MaxResourceBytes, domain.MaxLogLines)),
		mcp.WithTemplateMIMEType(jsonMIMEType),
	), readResource(h, domain.ResourceAppLogs, tools))

	s.AddResourceTemplate(mcp.NewResourceTemplate(domain.DeploymentURITemplate, domain.ResourceDeploy,
		mcp.WithTemplateTitle("Deployment"),
		mcp.WithTemplateDescription("One deployment of an app: its source, status (queued, running, succeeded, failed, cancelled or unknown), "+
			"last step, exit code, times and a hint on what to do next; the same as the deploy_status tool. "+
			"id is a deployment id that deploy_create or deploy_list returned; deploy_logs reads its build output."),
		mcp.WithTemplateMIMEType(jsonMIMEType),
	), readResource(h, domain.ResourceDeploy, tools))
}

// readResource returns the handler of resource name. It records the read's
// outcome on the call the guard started.
func readResource(h handler, name string, tools *app.Tools) mcpserver.ResourceTemplateHandlerFunc {
	return func(ctx context.Context, request mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
		uri := request.Params.URI
		ref, err := domain.ParseResourceURI(uri)
		if err == nil && ref.Name != name {
			err = &domain.ResourceURIError{Message: fmt.Sprintf("resource URI %q does not match the %s template", uri, name)}
		}
		if err != nil {
			h.logger.InfoContext(ctx, "resource URI rejected", "resource", name, "error", err)
			finish(ctx, app.OutcomeIsError)
			return nil, rpcError(mcp.INVALID_PARAMS, err.Error())
		}

		principal, ok := auth.PrincipalFrom(ctx)
		if !ok || !domain.ResourceAllowed(name, principal.Scopes) {
			h.logger.InfoContext(ctx, "resource read denied", "resource", name, "permission", domain.ResourcePermission(name))
			finish(ctx, app.OutcomeDenied)
			if denial := app.DenialFrom(ctx); denial != nil {
				return nil, rpcError(mcp.INVALID_PARAMS, denial.Message("reading "+uri))
			}
			return nil, rpcError(mcp.INVALID_PARAMS, fmt.Sprintf("reading %s needs the %s permission, which your access token does not carry; "+
				"ask the tenant owner for a client with a role that grants it", uri, domain.ResourcePermission(name)))
		}

		ctx, cancel := context.WithTimeout(ctx, h.timeout)
		defer cancel()
		text, err := tools.ReadResource(ctx, uri, ref)
		if err != nil {
			var toolErr *app.ToolError
			if errors.As(err, &toolErr) {
				finish(ctx, app.OutcomeIsError)
				return nil, rpcError(resourceErrorCode(ctx, toolErr.Code), toolErr.Message)
			}
			finish(ctx, app.OutcomeError)
			h.logger.ErrorContext(ctx, "resource read failed", "resource", name, "error", err)
			return nil, rpcError(mcp.INTERNAL_ERROR, fmt.Sprintf("reading %s failed because of an internal error; retry later or report request id %q", uri, logging.RequestID(ctx)))
		}
		finish(ctx, app.OutcomeOK)
		return []mcp.ResourceContents{mcp.TextResourceContents{URI: uri, MIMEType: jsonMIMEType, Text: text}}, nil
	}
}

// resourceErrorCode maps a downstream Connect code to a JSON-RPC code. A
// missing host or app is "resource not found", whose code differs between
// protocol eras: -32002 up to 2025-11-25, invalid params from 2026-07-28.
func resourceErrorCode(ctx context.Context, code connect.Code) int {
	switch code {
	case connect.CodeNotFound:
		if mcp.IsModernProtocol(mcpserver.RequestProtocolVersion(ctx)) {
			return mcp.INVALID_PARAMS
		}
		return mcp.RESOURCE_NOT_FOUND
	case connect.CodeInvalidArgument, connect.CodeFailedPrecondition, connect.CodeOutOfRange, connect.CodePermissionDenied:
		return mcp.INVALID_PARAMS
	default:
		return mcp.INTERNAL_ERROR
	}
}

// finish records the outcome of the request in ctx, if the guard started
// one.
func finish(ctx context.Context, outcome string) {
	if call := app.CallFrom(ctx); call != nil {
		call.Finish(ctx, outcome)
	}
}

// jsonRPCError is a handler error whose code and message reach the client
// unchanged. mcp-go reports any other handler error as an internal error
// with the error's text.
type jsonRPCError struct {
	code    int
	message string
}

func (e *jsonRPCError) Error() string { return e.message }

// JSONRPCError implements mcpserver.JSONRPCErrorProvider.
func (e *jsonRPCError) JSONRPCError() mcp.JSONRPCError {
	return mcp.JSONRPCError{JSONRPC: mcp.JSONRPC_VERSION, Error: mcp.NewJSONRPCErrorDetails(e.code, e.message, nil)}
}

// rpcError returns an error that mcp-go sends as a JSON-RPC error with code
// and message.
func rpcError(code int, message string) error {
	return mcpserver.NewHandlerError(&jsonRPCError{code: code, message: message})
}

// filterResourceTemplates keeps, in a resources/templates/list result, the
// templates whose permission the caller holds. mcp-go has no template
// filter, so this runs as the list's after hook, before the result is
// encoded.
func filterResourceTemplates(ctx context.Context, _ any, _ *mcp.ListResourceTemplatesRequest, result *mcp.ListResourceTemplatesResult) {
	if result == nil {
		return
	}
	principal, ok := auth.PrincipalFrom(ctx)
	allowed := result.ResourceTemplates[:0]
	for _, template := range result.ResourceTemplates {
		if ok && domain.ResourceAllowed(template.Name, principal.Scopes) {
			allowed = append(allowed, template)
		}
	}
	result.ResourceTemplates = allowed
}
