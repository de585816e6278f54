package mcp

import (
	"github.com/mark3labs/mcp-go/mcp"
	mcpserver "github.com/mark3labs/mcp-go/server"

	"dokkumcp.dev/mcpedge/internal/app"
	"dokkumcp.dev/mcpedge/internal/domain"
)

// addOperationsTools registers the tools for processes, domains, logs,
// one-off commands, host information and the audit log.
func addOperationsTools(s *mcpserver.MCPServer, tools *app.Tools, h handler) {
	appArg := mcp.WithString("app", mcp.Required(), mcp.Description("Name of the app."), mcp.Pattern(domain.AppNamePattern), mcp.MaxLength(255))
	hostArg := mcp.WithString("host", mcp.Description(hostDescription), mcp.Pattern(domain.HostPattern))
	confirmArg := mcp.WithString("confirm", mcp.Required(), mcp.Description(confirmDescription))
	domainsArg := func(description string) mcp.ToolOption {
		return mcp.WithArray("domains", mcp.Required(), mcp.Description(description),
			mcp.WithStringItems(mcp.Pattern(domain.DomainPattern), mcp.MaxLength(domain.MaxDomainLength)), mcp.MinItems(1), mcp.UniqueItems(true))
	}
	processTypeArg := func(description string) mcp.ToolOption {
		return mcp.WithString("process_type", mcp.Description(description), mcp.Pattern(domain.ProcessTypePattern), mcp.MaxLength(domain.MaxProcessTypeLength))
	}
	readOnly := []mcp.ToolOption{
		mcp.WithReadOnlyHintAnnotation(true), mcp.WithDestructiveHintAnnotation(false),
		mcp.WithIdempotentHintAnnotation(true), mcp.WithOpenWorldHintAnnotation(false),
	}
	with := func(options []mcp.ToolOption, more ...mcp.ToolOption) []mcp.ToolOption {
		return append(append([]mcp.ToolOption{}, more...), options...)
	}

	s.AddTool(mcp.NewTool(domain.ToolPsReport, with(readOnly,
		mcp.WithTitleAnnotation("Show an app's processes"),
		mcp.WithDescription("Shows whether an app is deployed and whether its containers run. Use it to check an app's state "+
			"before or after ps_scale, ps_start, ps_stop or ps_restart, or when an app does not answer. "+
			"Returns {app, deployed, processes, running (running, stopped, mixed or unknown), restart_policy, fields}; "+
			"fields holds every raw report key, including status-<type>-<n> per container. "+
			"If the app is not found, check the name with apps_list."),
		hostArg, appArg,
		mcp.WithOutputSchema[app.ProcessReport](),
	)...), handle(h, domain.ToolPsReport, tools.ProcessReport))

	s.AddTool(mcp.NewTool(domain.ToolPsScale,
		mcp.WithTitleAnnotation("Scale processes"),
		mcp.WithDescription("Sets how many containers of each process type an app runs, for example {\"web\": 2, \"worker\": 1}. "+
			"Omit counts to read the current scale without changing anything. Setting a count to 0 stops that process type. "+
			"Use skip_deploy to record the scale without starting or stopping containers, for an app that is not deployed yet. "+
			"Returns {app, scale: [{process_type, quantity}], changed, warnings}. "+
			"If a process type is unknown, read the current scale first to learn the app's types."),
		hostArg, appArg,
		mcp.WithObject("counts",
			mcp.Description("Containers per process type, from 0 to 100, as {\"web\": 2}."),
			mcp.PropertyNames(map[string]any{"pattern": domain.ProcessTypePattern, "maxLength": domain.MaxProcessTypeLength}),
			mcp.AdditionalProperties(map[string]any{"type": "integer", "minimum": 0, "maximum": domain.MaxProcessQuantity})),
		mcp.WithBoolean("skip_deploy", mcp.Description("Record the scale without starting or stopping containers.")),
		mcp.WithOutputSchema[app.ScaleResult](),
		mcp.WithReadOnlyHintAnnotation(false),
		mcp.WithDestructiveHintAnnotation(false),
		mcp.WithIdempotentHintAnnotation(true),
		mcp.WithOpenWorldHintAnnotation(false),
	), handle(h, domain.ToolPsScale, tools.ScaleProcesses))

	s.AddTool(mcp.NewTool(domain.ToolPsStart,
		mcp.WithTitleAnnotation("Start an app"),
		mcp.WithDescription("Starts an app's stopped containers. Use it after ps_stop or when ps_report shows the app stopped. "+
			"Returns {app, changed, reason, warnings}; changed is false with a reason when there was nothing to start, "+
			"for example when the app has never been deployed (deploy it first)."),
		hostArg, appArg,
		mcp.WithOutputSchema[app.ProcessChanged](),
		mcp.WithReadOnlyHintAnnotation(false),
		mcp.WithDestructiveHintAnnotation(false),
		mcp.WithIdempotentHintAnnotation(true),
		mcp.WithOpenWorldHintAnnotation(false),
	), handle(h, domain.ToolPsStart, tools.StartProcesses))

	s.AddTool(mcp.NewTool(domain.ToolPsStop,
		mcp.WithTitleAnnotation("Stop an app"),
		mcp.WithDescription("Stops all of an app's containers; the app stops serving requests until ps_start. "+
			"Use it only when the user asks to take the app offline. "+
			"Returns {app, changed, reason, warnings}; changed is false with a reason when nothing was running."),
		hostArg, appArg,
		mcp.WithOutputSchema[app.ProcessChanged](),
		mcp.WithReadOnlyHintAnnotation(false),
		mcp.WithDestructiveHintAnnotation(true),
		mcp.WithIdempotentHintAnnotation(true),
		mcp.WithOpenWorldHintAnnotation(false),
	), handle(h, domain.ToolPsStop, tools.StopProcesses))

	s.AddTool(mcp.NewTool(domain.ToolPsRestart,
		mcp.WithTitleAnnotation("Restart an app"),
		mcp.WithDescription("Restarts an app's containers, for example to pick up a change that needs a restart or to recover "+
			"from a hang. Requests may fail briefly while containers restart. "+
			"Returns {app, changed, reason, warnings}; changed is false with a reason when the app is not deployed."),
		hostArg, appArg,
		mcp.WithOutputSchema[app.ProcessChanged](),
		mcp.WithReadOnlyHintAnnotation(false),
		mcp.WithDestructiveHintAnnotation(false),
		mcp.WithIdempotentHintAnnotation(false),
		mcp.WithOpenWorldHintAnnotation(false),
	), handle(h, domain.ToolPsRestart, tools.RestartProcesses))

	s.AddTool(mcp.NewTool(domain.ToolDomainsReport, with(readOnly,
		mcp.WithTitleAnnotation("Show an app's domains"),
		mcp.WithDescription("Lists the host names an app is served on, and the host's global domains. "+
			"Use it before domains_add, domains_remove or domains_set; domains_remove needs each name spelled as listed here. "+
			"Returns {app, enabled, domains, global_enabled, global_domains, fields}."),
		hostArg, appArg,
		mcp.WithOutputSchema[app.DomainsReport](),
	)...), handle(h, domain.ToolDomainsReport, tools.DomainsReport))

	s.AddTool(mcp.NewTool(domain.ToolDomainsAdd,
		mcp.WithTitleAnnotation("Add domains"),
		mcp.WithDescription("Adds host names to an app, keeping the ones it has. DNS for the names must point at the Dokku host "+
			"for traffic to arrive; this tool does not change DNS. Wildcards such as *.example.com are not supported. "+
			"Returns {app, domains (all of the app's domains afterwards), changed, warnings}; changed is false when every name was already there."),
		hostArg, appArg,
		domainsArg("Host names to add, for example [\"www.example.com\"]."),
		mcp.WithOutputSchema[app.DomainsChanged](),
		mcp.WithReadOnlyHintAnnotation(false),
		mcp.WithDestructiveHintAnnotation(false),
		mcp.WithIdempotentHintAnnotation(true),
		mcp.WithOpenWorldHintAnnotation(false),
	), handle(h, domain.ToolDomainsAdd, tools.AddDomains))

	s.AddTool(mcp.NewTool(domain.ToolDomainsRemove,
		mcp.WithTitleAnnotation("Remove domains"),
		mcp.WithDescription("Removes host names from an app; the app stops answering on them. Each name must be one of the app's "+
			"domains, spelled as domains_report lists it. Set confirm to the app's name after the user agrees. "+
			"Returns {app, domains (the remaining ones), changed, warnings}."),
		hostArg, appArg,
		domainsArg("Host names to remove, as domains_report lists them."),
		confirmArg,
		mcp.WithOutputSchema[app.DomainsChanged](),
		mcp.WithReadOnlyHintAnnotation(false),
		mcp.WithDestructiveHintAnnotation(true),
		mcp.WithIdempotentHintAnnotation(true),
		mcp.WithOpenWorldHintAnnotation(false),
	), handle(h, domain.ToolDomainsRemove, tools.RemoveDomains))

	s.AddTool(mcp.NewTool(domain.ToolDomainsSet,
		mcp.WithTitleAnnotation("Replace domains"),
		mcp.WithDescription("Replaces all of an app's host names with the given ones; names not in the list stop working. "+
			"Prefer domains_add or domains_remove for single changes. Set confirm to the app's name after the user agrees. "+
			"Returns {app, domains, changed, warnings}; changed is false when the app already had exactly these names."),
		hostArg, appArg,
		domainsArg("The app's complete new list of host names."),
		confirmArg,
		mcp.WithOutputSchema[app.DomainsChanged](),
		mcp.WithReadOnlyHintAnnotation(false),
		mcp.WithDestructiveHintAnnotation(true),
		mcp.WithIdempotentHintAnnotation(true),
		mcp.WithOpenWorldHintAnnotation(false),
	), handle(h, domain.ToolDomainsSet, tools.SetDomains))

	s.AddTool(mcp.NewTool(domain.ToolLogsGet, with(readOnly,
		mcp.WithTitleAnnotation("Read an app's logs"),
		mcp.WithDescription("Returns the last lines an app's containers wrote, oldest first, to diagnose errors or crashes. "+
			"By default 100 lines per container; raise num up to 1000 for more, or set process_type (for example \"web\") to keep one process type. "+
			"Output is bounded: when truncated is true, later lines were cut, so lower num or filter by process_type. "+
			"Returns {lines: [{time, process, message}], truncated, hint}. "+
			"An app that was never deployed has no logs, and the call fails with Dokku's message; check ps_report."),
		hostArg, appArg,
		mcp.WithInteger("num", mcp.Description("Lines per container, 1 to 1000; default 100."), mcp.Min(1), mcp.Max(domain.MaxLogLines)),
		processTypeArg("Keep only the lines of this process type, for example \"web\"."),
		mcp.WithOutputSchema[app.Logs](),
	)...), handle(h, domain.ToolLogsGet, tools.GetLogs))

	s.AddTool(mcp.NewTool(domain.ToolRun,
		mcp.WithTitleAnnotation("Run a one-off command"),
		mcp.WithDescription("Runs a command once in a new container of a deployed app, like `dokku run`, and returns its exit code and output. "+
			"Use it for maintenance such as database migrations, for example [\"rake\", \"db:migrate\"]. The command can change the app's data; "+
			"ask the user first for anything that writes. Pass the command and each argument as a separate word; each word may hold only "+
			"letters, digits and ._:=+/,@%- (no spaces, quotes or shell syntax, and no pipes or redirections). "+
			"Returns {exit_code, stdout, stderr, stdout_truncated, stderr_truncated}; a non-zero exit_code means the command failed, "+
			"and stderr says why. Each output is cut at 64 KiB. At most 10 runs per minute per tenant."),
		hostArg, appArg,
		mcp.WithArray("args", mcp.Required(), mcp.Description("The command and its arguments, one word each, for example [\"echo\", \"hi\"]."),
			mcp.WithStringItems(mcp.Pattern(domain.RunArgPattern)), mcp.MinItems(1), mcp.MaxItems(domain.MaxRunArgs)),
		mcp.WithOutputSchema[app.RunResult](),
		mcp.WithReadOnlyHintAnnotation(false),
		mcp.WithDestructiveHintAnnotation(true),
		mcp.WithIdempotentHintAnnotation(false),
		mcp.WithOpenWorldHintAnnotation(false),
	), handle(h, domain.ToolRun, tools.Run))

	s.AddTool(mcp.NewTool(domain.ToolHostInfo, with(readOnly,
		mcp.WithTitleAnnotation("Show the Dokku host"),
		mcp.WithDescription("Shows the Dokku version of a host and its installed plugins. Use it to check whether a feature or "+
			"plugin (for example postgres or letsencrypt) is available before relying on it. "+
			"Returns {dokku_version, plugins: [{name, version, enabled, core, description}], fetched_at}; the answer may be up to 5 minutes old."),
		hostArg,
		mcp.WithOutputSchema[app.HostInfo](),
	)...), handle(h, domain.ToolHostInfo, tools.HostInfo))

	s.AddTool(mcp.NewTool(domain.ToolAuditLog, with(readOnly,
		mcp.WithTitleAnnotation("Read the audit log"),
		mcp.WithDescription("Lists your tenant's audit events, oldest first: who called which tool or operation, when, on which app, "+
			"and with what result. Tool calls appear as operation mcpedge.<tool>, resource reads as mcpedge.resource.<name> and "+
			"prompt requests as mcpedge.prompt.<name>, with their arguments as a SHA-256 digest only. "+
			"Use it to answer \"who changed this app\" or \"what happened at 10:00\". Filter by time, principal (a client id), "+
			"operation or result (ok, is_error, denied, rate_limited, or an error code). "+
			"Returns {events, next_page_token}; pass next_page_token as page_token for the next page."),
		mcp.WithString("start_time", mcp.Description("Earliest event time, RFC 3339, for example 2026-01-02T15:04:05Z.")),
		mcp.WithString("end_time", mcp.Description("Events before this time, RFC 3339.")),
		mcp.WithString("principal", mcp.Description("Keep events whose subject or actor is this client id."), mcp.MaxLength(255)),
		mcp.WithString("operation", mcp.Description("Keep events of this operation, for example mcpedge.apps_create."), mcp.MaxLength(255)),
		mcp.WithString("result", mcp.Description("Keep events with this result, for example ok or rate_limited."), mcp.MaxLength(64)),
		mcp.WithInteger("page_size", mcp.Description("Events per page, 1 to 1000; default 100."), mcp.Min(1), mcp.Max(domain.MaxAuditPageSize)),
		mcp.WithString("page_token", mcp.Description("next_page_token from the previous page."), mcp.MaxLength(1024)),
		mcp.WithOutputSchema[app.AuditLog](),
	)...), handle(h, domain.ToolAuditLog, tools.AuditLog))
}
