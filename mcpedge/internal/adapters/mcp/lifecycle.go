package mcp

import (
	"github.com/mark3labs/mcp-go/mcp"
	mcpserver "github.com/mark3labs/mcp-go/server"

	"dokkumcp.dev/mcpedge/internal/app"
	"dokkumcp.dev/mcpedge/internal/domain"
)

const confirmDescription = "The app's name again, to confirm. Ask the user before setting it."

// addLifecycleTools registers the tools that change or remove apps and
// config vars. Destructive ones take a confirm argument equal to the app's
// name.
func addLifecycleTools(s *mcpserver.MCPServer, tools *app.Tools, h handler) {
	appArg := mcp.WithString("app", mcp.Required(), mcp.Description("Name of the app."), mcp.Pattern(domain.AppNamePattern), mcp.MaxLength(255))
	hostArg := mcp.WithString("host", mcp.Description(hostDescription), mcp.Pattern(domain.HostPattern))
	confirmArg := mcp.WithString("confirm", mcp.Required(), mcp.Description(confirmDescription))

	s.AddTool(mcp.NewTool(domain.ToolAppsDestroy,
		mcp.WithTitleAnnotation("Destroy an app"),
		mcp.WithDescription("Destroys an app with its containers, images and config; this cannot be undone. "+
			"Use it only when the user clearly asks to delete the app, and set confirm to the app's name after they confirm. "+
			"Returns {app, changed, warnings}. If the app is not found, check the name with apps_list."),
		hostArg, appArg, confirmArg,
		mcp.WithOutputSchema[app.AppChanged](),
		mcp.WithReadOnlyHintAnnotation(false),
		mcp.WithDestructiveHintAnnotation(true),
		mcp.WithIdempotentHintAnnotation(false),
		mcp.WithOpenWorldHintAnnotation(false),
	), handle(h, domain.ToolAppsDestroy, tools.DestroyApp))

	s.AddTool(mcp.NewTool(domain.ToolAppsRename,
		mcp.WithTitleAnnotation("Rename an app"),
		mcp.WithDescription("Renames an app. Dokku creates the new app, moves the config and destroys the old one, so running "+
			"containers restart and the old name stops working. Set confirm to the current name after the user agrees. "+
			"Returns {app (the new name), changed, warnings}. If the new name is taken, pick another."),
		hostArg, appArg,
		mcp.WithString("new_name", mcp.Required(), mcp.Description("The new name; at most 63 characters."), mcp.Pattern(domain.NewAppNamePattern), mcp.MaxLength(63)),
		confirmArg,
		mcp.WithOutputSchema[app.AppChanged](),
		mcp.WithReadOnlyHintAnnotation(false),
		mcp.WithDestructiveHintAnnotation(true),
		mcp.WithIdempotentHintAnnotation(false),
		mcp.WithOpenWorldHintAnnotation(false),
	), handle(h, domain.ToolAppsRename, tools.RenameApp))

	s.AddTool(mcp.NewTool(domain.ToolAppsLock,
		mcp.WithTitleAnnotation("Lock deploys"),
		mcp.WithDescription("Blocks new deploys of an app until apps_unlock; running containers are not touched. "+
			"Use it to freeze an app during an incident. Returns {app, changed, warnings}."),
		hostArg, appArg,
		mcp.WithOutputSchema[app.AppChanged](),
		mcp.WithReadOnlyHintAnnotation(false),
		mcp.WithDestructiveHintAnnotation(false),
		mcp.WithIdempotentHintAnnotation(true),
		mcp.WithOpenWorldHintAnnotation(false),
	), handle(h, domain.ToolAppsLock, tools.LockApp))

	s.AddTool(mcp.NewTool(domain.ToolAppsUnlock,
		mcp.WithTitleAnnotation("Unlock deploys"),
		mcp.WithDescription("Allows deploys of an app again. It does not stop a deploy that is running. "+
			"Returns {app, changed, warnings}; changed is false when the app was not locked."),
		hostArg, appArg,
		mcp.WithOutputSchema[app.AppChanged](),
		mcp.WithReadOnlyHintAnnotation(false),
		mcp.WithDestructiveHintAnnotation(false),
		mcp.WithIdempotentHintAnnotation(true),
		mcp.WithOpenWorldHintAnnotation(false),
	), handle(h, domain.ToolAppsUnlock, tools.UnlockApp))

	s.AddTool(mcp.NewTool(domain.ToolConfigUnset,
		mcp.WithTitleAnnotation("Remove config vars"),
		mcp.WithDescription("Removes environment variables (config vars) from an app; their values are lost. "+
			"Dokku restarts a deployed app afterwards unless no_restart is true. Set confirm to the app's name after the user agrees. "+
			"Returns the keys removed and the keys skipped because they were not set."),
		hostArg, appArg,
		mcp.WithArray("keys", mcp.Required(), mcp.Description("Names of the config vars to remove."),
			mcp.WithStringItems(mcp.Pattern(domain.ConfigKeyPattern)), mcp.MinItems(1)),
		confirmArg,
		mcp.WithBoolean("no_restart", mcp.Description("Skip the restart that Dokku does after a change.")),
		mcp.WithOutputSchema[app.ConfigUnsetResult](),
		mcp.WithReadOnlyHintAnnotation(false),
		mcp.WithDestructiveHintAnnotation(true),
		mcp.WithIdempotentHintAnnotation(true),
		mcp.WithOpenWorldHintAnnotation(false),
	), handle(h, domain.ToolConfigUnset, tools.UnsetConfig))

	s.AddTool(mcp.NewTool(domain.ToolConfigExport,
		mcp.WithTitleAnnotation("List config vars"),
		mcp.WithDescription("Lists all environment variables (config vars) of an app. Values are hidden unless reveal is true; "+
			"reveal only when the user needs the values, since they often hold secrets. Returns {app, vars, redacted}."),
		hostArg, appArg,
		mcp.WithBoolean("reveal", mcp.Description("Return the values instead of hiding them.")),
		mcp.WithOutputSchema[app.ConfigExport](),
		mcp.WithReadOnlyHintAnnotation(true),
		mcp.WithDestructiveHintAnnotation(false),
		mcp.WithIdempotentHintAnnotation(true),
		mcp.WithOpenWorldHintAnnotation(false),
	), handle(h, domain.ToolConfigExport, tools.ExportConfig))
}
