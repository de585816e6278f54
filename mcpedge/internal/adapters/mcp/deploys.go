package mcp

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	mcpserver "github.com/mark3labs/mcp-go/server"

	"dokkumcp.dev/mcpedge/internal/app"
	"dokkumcp.dev/mcpedge/internal/domain"
	"dokkumcp.dev/platform/logging"
)

// deployWaitLimit bounds how long deploy_create with wait follows a
// deployment; the deployment itself goes on after it.
const deployWaitLimit = 30 * time.Minute

// addDeployTools registers the deployment tools. Each needs apps:deploy,
// which read-only plans such as Free never carry, so those tenants never
// see them.
func addDeployTools(s *mcpserver.MCPServer, tools *app.Tools, h handler) {
	hostArg := mcp.WithString("host", mcp.Description(hostDescription), mcp.Pattern(domain.HostPattern))
	appArg := mcp.WithString("app", mcp.Required(), mcp.Description("Name of the app."), mcp.Pattern(domain.AppNamePattern), mcp.MaxLength(255))
	idArg := mcp.WithString("id", mcp.Required(), mcp.Description("The deployment's id, as deploy_create or deploy_list returned it, for example d-abcdefgh23."),
		mcp.Pattern(domain.DeploymentIDPattern))

	s.AddTool(mcp.NewTool(domain.ToolDeployCreate,
		mcp.WithTitleAnnotation("Deploy an app"),
		mcp.WithDescription("Deploys an existing app (create it first with apps_create) from one source: "+
			"source=git with repository (https://, ssh:// or git@host:path URL, no password; the host needs access to it) and an optional ref (branch, tag or commit); "+
			"source=image with image (for example nginx:1.27 or ghcr.io/acme/shop:v2); or source=rebuild to rebuild the app's current source. "+
			"The deployment runs in the background on the Dokku host; one per app at a time. Without wait it returns at once with the deployment's id: "+
			"follow it with deploy_status and deploy_logs. With wait=true it returns when the deployment ends, sending progress notifications meanwhile, "+
			"with the last output lines. Closing the call does not stop the deployment; use deploy_cancel for that. "+
			"Returns {id, status (queued, running, succeeded, failed, cancelled, unknown), message, step, output_tail, hint}. "+
			"If the app is already being deployed the call fails naming the running deployment: wait for it or cancel it. "+
			"Deploying an image that is already the app's source builds nothing and fails; use source=rebuild. "+
			"At most 10 deploy_create calls per minute per tenant."),
		hostArg, appArg,
		mcp.WithString("source", mcp.Required(), mcp.Enum("git", "image", "rebuild"), mcp.Description("What to deploy: git, image or rebuild.")),
		mcp.WithString("repository", mcp.Description("For source=git: the repository URL."), mcp.Pattern(domain.GitRepositoryPattern), mcp.MaxLength(domain.MaxGitRepository)),
		mcp.WithString("ref", mcp.Description("For source=git: branch, tag or commit; omit for the default branch."), mcp.Pattern(domain.GitRefPattern), mcp.MaxLength(domain.MaxGitRef)),
		mcp.WithString("image", mcp.Description("For source=image: the image reference."), mcp.Pattern(domain.ImagePattern), mcp.MaxLength(domain.MaxImage)),
		mcp.WithBoolean("wait", mcp.Description("Wait until the deployment ends (up to 30 minutes), with progress notifications.")),
		mcp.WithOutputSchema[app.Deployment](),
		mcp.WithReadOnlyHintAnnotation(false),
		mcp.WithDestructiveHintAnnotation(false),
		mcp.WithIdempotentHintAnnotation(false),
		mcp.WithOpenWorldHintAnnotation(true),
	), handleDeployCreate(h, s, tools))

	s.AddTool(mcp.NewTool(domain.ToolDeployStatus,
		mcp.WithTitleAnnotation("Show a deployment"),
		mcp.WithDescription("Shows a deployment's status, its current step and, once it ended, its exit code and a message explaining a failure. "+
			"Use it to follow a deployment started without wait. Returns {id, app, source, status, message, step, output_lines, created_at, started_at, ended_at, hint}. "+
			"status unknown means DokkuExec restarted mid-deployment and the host could not tell the outcome; check ps_report."),
		idArg,
		mcp.WithOutputSchema[app.Deployment](),
		mcp.WithReadOnlyHintAnnotation(true),
		mcp.WithDestructiveHintAnnotation(false),
		mcp.WithIdempotentHintAnnotation(true),
		mcp.WithOpenWorldHintAnnotation(false),
	), handle(h, domain.ToolDeployStatus, tools.GetDeployment))

	s.AddTool(mcp.NewTool(domain.ToolDeployList,
		mcp.WithTitleAnnotation("List an app's deployments"),
		mcp.WithDescription("Lists an app's deployments, newest first, with their status. Use it to find a deployment's id or to see "+
			"what was deployed recently. Returns {deployments: [{id, source, status, message, created_at, ...}]}."),
		hostArg, appArg,
		mcp.WithInteger("page_size", mcp.Description("How many deployments, 1 to 100; default 20."), mcp.Min(1), mcp.Max(domain.MaxDeploymentPage)),
		mcp.WithOutputSchema[app.DeploymentList](),
		mcp.WithReadOnlyHintAnnotation(true),
		mcp.WithDestructiveHintAnnotation(false),
		mcp.WithIdempotentHintAnnotation(true),
		mcp.WithOpenWorldHintAnnotation(false),
	), handle(h, domain.ToolDeployList, tools.ListDeployments))

	s.AddTool(mcp.NewTool(domain.ToolDeployLogs,
		mcp.WithTitleAnnotation("Read a deployment's output"),
		mcp.WithDescription("Returns a deployment's build output lines, numbered from 1, to see what a build did or why it failed. "+
			"Output is bounded: at most max_lines lines after after_line per call; when more is true, call again with after_line=next_after_line. "+
			"While the deployment runs, calling again later returns the new lines. Recent output is kept for about an hour. "+
			"Returns {id, status, lines: [{number, text}], next_after_line, more, hint}."),
		idArg,
		mcp.WithInteger("after_line", mcp.Description("Return the lines numbered above this; default 0, from the start."), mcp.Min(0)),
		mcp.WithInteger("max_lines", mcp.Description("At most this many lines, 1 to 1000; default 200."), mcp.Min(1), mcp.Max(domain.MaxDeployLogLines)),
		mcp.WithOutputSchema[app.DeployLogs](),
		mcp.WithReadOnlyHintAnnotation(true),
		mcp.WithDestructiveHintAnnotation(false),
		mcp.WithIdempotentHintAnnotation(true),
		mcp.WithOpenWorldHintAnnotation(false),
	), handle(h, domain.ToolDeployLogs, tools.DeploymentLogs))

	s.AddTool(mcp.NewTool(domain.ToolDeployCancel,
		mcp.WithTitleAnnotation("Cancel a deployment"),
		mcp.WithDescription("Stops a queued or running deployment (Dokku 0.38 or later for a running one); the app keeps its previous release, if any. "+
			"Use it when a deployment hangs or was started by mistake, after the user agrees; set confirm to the app's name. "+
			"Returns the deployment with its status afterwards, normally cancelled. A deployment that already ended cannot be cancelled."),
		idArg, appArg,
		mcp.WithString("confirm", mcp.Required(), mcp.Description(confirmDescription)),
		mcp.WithOutputSchema[app.Deployment](),
		mcp.WithReadOnlyHintAnnotation(false),
		mcp.WithDestructiveHintAnnotation(true),
		mcp.WithIdempotentHintAnnotation(false),
		mcp.WithOpenWorldHintAnnotation(false),
	), handle(h, domain.ToolDeployCancel, tools.CancelDeployment))
}

// handleDeployCreate is handle for deploy_create, whose wait may outlast the
// usual call timeout and which reports progress with the request's
// progress token. When the client disconnects, ctx ends, which cancels the
// WatchDeployment RPC; the deployment goes on.
func handleDeployCreate(h handler, s *mcpserver.MCPServer, tools *app.Tools) mcpserver.ToolHandlerFunc {
	return func(ctx context.Context, request mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		var args app.DeployCreateArgs
		if err := request.BindArguments(&args); err != nil {
			return mcp.NewToolResultError("invalid arguments for " + domain.ToolDeployCreate + ": " + err.Error() + "; check the tool's input schema"), nil
		}
		timeout := h.timeout
		if args.Wait {
			timeout = max(timeout, deployWaitLimit)
		}
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()

		var token mcp.ProgressToken
		if request.Params.Meta != nil {
			token = request.Params.Meta.ProgressToken
		}
		sent := 0
		progress := func(message string) {
			if token == nil {
				return
			}
			sent++
			err := s.SendNotificationToClient(ctx, string(mcp.MethodNotificationProgress), map[string]any{
				"progressToken": token, "progress": sent, "message": message,
			})
			if err != nil {
				h.logger.InfoContext(ctx, "progress notification not sent", "tool", domain.ToolDeployCreate, "error", err)
			}
		}

		result, err := tools.CreateDeployment(ctx, args, progress)
		if err != nil {
			var toolErr *app.ToolError
			if errors.As(err, &toolErr) {
				return mcp.NewToolResultError(toolErr.Message), nil
			}
			h.logger.ErrorContext(ctx, "tool call failed", "tool", domain.ToolDeployCreate, "error", err)
			return mcp.NewToolResultError(domain.ToolDeployCreate + " failed because of an internal error; retry later or report request id " + logging.RequestID(ctx)), nil
		}
		text, err := json.Marshal(result)
		if err != nil {
			return nil, err
		}
		return mcp.NewToolResultStructured(result, string(text)), nil
	}
}
