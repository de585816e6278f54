package mcp

import (
	"context"
	"fmt"

	"github.com/mark3labs/mcp-go/mcp"
	mcpserver "github.com/mark3labs/mcp-go/server"

	"dokkumcp.dev/mcpedge/internal/app"
	"dokkumcp.dev/mcpedge/internal/domain"
	"dokkumcp.dev/platform/auth"
)

// addPrompts registers the prompts. A caller sees and may get a prompt
// only when it may call every tool the prompt's text relies on.
func addPrompts(s *mcpserver.MCPServer) {
	hostArg := mcp.WithArgument("host", mcp.ArgumentDescription(hostDescription))
	appArg := mcp.WithArgument("app", mcp.RequiredArgument(), mcp.ArgumentDescription("Name of the app."))

	s.AddPrompt(mcp.NewPrompt(domain.PromptDiagnoseApp,
		mcp.WithPromptTitle("Diagnose an app"),
		mcp.WithPromptDescription("Guides you through the read-only tools (app report, processes, logs, domains) "+
			"to find out why an app is not working, without changing anything."),
		hostArg, appArg,
	), prompt(domain.PromptDiagnoseApp, "Diagnose an app", app.DiagnoseAppPrompt))

	s.AddPrompt(mcp.NewPrompt(domain.PromptDeployChecklist,
		mcp.WithPromptTitle("Safe deploy checklist"),
		mcp.WithPromptDescription("A checklist for before, during and after deploying an app: confirm the target, record its state, "+
			"check config and logs, get the user's confirmation, then verify the result."),
		hostArg, appArg,
	), prompt(domain.PromptDeployChecklist, "Safe deploy checklist", app.DeployChecklistPrompt))
}

// prompt returns the handler of a prompt whose text render builds from the
// validated arguments and the caller's permissions. It records the
// outcome on the call the guard started.
func prompt(name, description string, render func(app.PromptArgs, []string) string) mcpserver.PromptHandlerFunc {
	return func(ctx context.Context, request mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
		args := app.PromptArgs{Host: request.Params.Arguments["host"], App: request.Params.Arguments["app"]}
		if args.App == "" || !domain.ValidAppName(args.App) {
			finish(ctx, app.OutcomeIsError)
			return nil, rpcError(mcp.INVALID_PARAMS, fmt.Sprintf("%s needs the argument app set to an app's name, such as web; "+
				"app names use lower-case letters, digits, dots, dashes and underscores", name))
		}
		if args.Host != "" && !domain.ValidHost(args.Host) {
			finish(ctx, app.OutcomeIsError)
			return nil, rpcError(mcp.INVALID_PARAMS, fmt.Sprintf("host %q is invalid: use the name or id of one of your hosts, for example main, "+
				"or omit it when you have one host", args.Host))
		}
		for key := range request.Params.Arguments {
			if key != "host" && key != "app" {
				finish(ctx, app.OutcomeIsError)
				return nil, rpcError(mcp.INVALID_PARAMS, fmt.Sprintf("%s has no argument %q: pass app and optionally host", name, key))
			}
		}

		// The prompt filter already checked the permissions; the principal
		// is here to drop steps whose tools the caller may not call.
		var scopes []string
		if principal, ok := auth.PrincipalFrom(ctx); ok {
			scopes = principal.Scopes
		}
		finish(ctx, app.OutcomeOK)
		return mcp.NewGetPromptResult(description, []mcp.PromptMessage{
			mcp.NewPromptMessage(mcp.RoleUser, mcp.NewTextContent(render(args, scopes))),
		}), nil
	}
}

// answerDeniedPrompt returns a JSON-RPC error for a prompts/get that no
// token of the tenant could make.
func answerDeniedPrompt(next mcpserver.PromptHandlerFunc) mcpserver.PromptHandlerFunc {
	return func(ctx context.Context, request mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
		if denial := app.DenialFrom(ctx); denial != nil {
			finish(ctx, app.OutcomeDenied)
			return nil, rpcError(mcp.INVALID_PARAMS, denial.Message("prompt "+request.Params.Name))
		}
		return next(ctx, request)
	}
}

// filterPromptsByPermission keeps the prompts the caller may get. mcp-go
// applies it to prompts/list and again to each prompts/get. A request the
// guard denied passes, so that answerDeniedPrompt can tell the model why.
func filterPromptsByPermission(ctx context.Context, prompts []mcp.Prompt) []mcp.Prompt {
	principal, ok := auth.PrincipalFrom(ctx)
	if !ok {
		return nil
	}
	if app.DenialFrom(ctx) != nil {
		return prompts
	}
	allowed := prompts[:0:0]
	for _, p := range prompts {
		if domain.PromptAllowed(p.Name, principal.Scopes) {
			allowed = append(allowed, p)
		}
	}
	return allowed
}
