package app

import (
	"fmt"
	"strings"

	"dokkumcp.dev/mcpedge/internal/domain"
)

// PromptArgs are the arguments of both prompts. Host may be empty when the
// tenant has one host.
type PromptArgs struct {
	Host string
	App  string
}

// promptStep is one step of a prompt; it is left out when the caller may
// not call its tool.
type promptStep struct {
	tool string
	text string
}

// target returns how the prompt names the app and the arguments every tool
// call needs.
func (a PromptArgs) target() (where, arguments string) {
	if a.Host == "" {
		return fmt.Sprintf("the app %q on your tenant's only Dokku host", a.App),
			fmt.Sprintf(`{"app": %q}`, a.App)
	}
	return fmt.Sprintf("the app %q on the Dokku host %q", a.App, a.Host),
		fmt.Sprintf(`{"host": %q, "app": %q}`, a.Host, a.App)
}

// DiagnoseAppPrompt returns the text of the diagnose_app prompt, with a
// step for each read-only tool the caller may call.
func DiagnoseAppPrompt(args PromptArgs, scopes []string) string {
	where, arguments := args.target()
	var b strings.Builder
	fmt.Fprintf(&b, "Find out why %s is not working as expected. Use only read-only tools, and change nothing "+
		"unless the user asks you to after reading your findings. Pass %s to every tool below.\n\n", where, arguments)

	steps := []promptStep{
		{domain.ToolAppsReport, "apps_report: check that the app exists and note deploy_source (empty when the app was never deployed) " +
			"and locked (true blocks new deploys). If the app is not found, call apps_list and ask the user which app they mean."},
		{domain.ToolPsReport, "ps_report: check deployed, running (running, stopped, mixed or unknown) and restart_policy. " +
			"The status-<type>-<n> fields show each container. An app that is not deployed has no containers and no logs; stop here and say so."},
		{domain.ToolLogsGet, "logs_get with num 200: read from the end and look for the first error, stack traces, repeated start-up " +
			"lines (a crash loop), a process not listening on $PORT, and out-of-memory kills. When one process type drowns the others, " +
			"call it again with process_type. When truncated is true, lower num."},
		{domain.ToolDomainsReport, "domains_report: check that the domain the user requests is among domains and that enabled is true; " +
			"requests for a domain the app does not have never reach it."},
		{domain.ToolConfigExport, "config_export without reveal: check that the config vars the app needs (for example DATABASE_URL) are set. " +
			"Values stay hidden; do not reveal them unless the user asks for a value."},
		{domain.ToolHostInfo, "host_info: check the Dokku version and that the plugins the app relies on (for example postgres or letsencrypt) are installed and enabled."},
	}
	writeSteps(&b, steps, scopes)

	b.WriteString("\nThen report: the app's state in one sentence, the most likely cause with the evidence " +
		"(quote the log lines), and the next step. Offer changes such as ps_restart, config_set or a new deploy as suggestions; " +
		"do not make them without the user's go-ahead. Say plainly when the evidence does not point to a cause: " +
		"logs_get shows only what the containers wrote to stdout and stderr, and nothing from outside the host.\n")
	if args.Host != "" {
		fmt.Fprintf(&b, "\nThe same data is available as resources: dokku://hosts/%s/apps/%s (the report) and "+
			"dokku://hosts/%s/apps/%s/logs (the most recent lines).\n", args.Host, args.App, args.Host, args.App)
	}
	return b.String()
}

// DeployChecklistPrompt returns the text of the deploy_checklist prompt,
// with a step for each tool the caller may call.
func DeployChecklistPrompt(args PromptArgs, scopes []string) string {
	where, arguments := args.target()
	var b strings.Builder
	fmt.Fprintf(&b, "Go through this checklist before, during and after a deploy of %s. Pass %s to every tool below. "+
		"Report each item as done, failed or skipped with the reason, and stop to ask the user when an item fails.\n\n"+
		"Before the deploy:\n", where, arguments)
	writeSteps(&b, []promptStep{
		{domain.ToolAppsReport, "apps_report: confirm that this is the app and host the user means. If locked is true, someone has frozen deploys; " +
			"ask the user before anyone runs apps_unlock."},
		{domain.ToolPsReport, "ps_report: write down deployed, running and processes, to compare after the deploy."},
		{domain.ToolConfigExport, "config_export without reveal: check that every config var the new version needs is set. " +
			"Set missing ones with config_set and no_restart true, so that the deploy starts the new version with them in one restart."},
		{domain.ToolLogsGet, "logs_get with num 50: note the errors that already occur, so that they are not blamed on the deploy."},
		{domain.ToolHostInfo, "host_info: check that the plugins the new version relies on are installed."},
	}, scopes)
	b.WriteString("- Ask the user to confirm the app, the host and the exact version to deploy (a git commit or an image tag), " +
		"and tell them that the app restarts during the deploy.\n")

	b.WriteString("\nThe deploy:\n")
	writeSteps(&b, []promptStep{
		{domain.ToolDeployList, "deploy_list: check that no deployment of the app is queued or running. Only one deploy of an app runs at a time, " +
			"and deploy_create for an app that is deploying fails and names the running deployment; wait for it to end, or ask the user " +
			"whether to stop it with deploy_cancel."},
		{domain.ToolDeployCreate, "deploy_create with the version the user confirmed (source git with repository and ref, source image with image, " +
			"or source rebuild) and wait true: the call sends progress notifications until the build ends and returns the outcome " +
			"with the last output lines. Without wait, it returns the deployment's id at once."},
		{domain.ToolDeployStatus, "deploy_status with the deployment's id, until status is succeeded, failed, cancelled or unknown, " +
			"if you did not wait. The resource dokku://hosts/{host}/apps/{app}/deployments/{id} holds the same data."},
		{domain.ToolDeployLogs, "deploy_logs with the deployment's id when it failed: quote the output lines that show why, and follow the hint " +
			"in the deployment's message."},
	}, scopes)

	b.WriteString("\nAfter the deploy:\n")
	writeSteps(&b, []promptStep{
		{domain.ToolPsReport, "ps_report: check that running is \"running\" and processes matches what you wrote down."},
		{domain.ToolLogsGet, "logs_get: look for errors that were not in the earlier logs."},
		{domain.ToolPsRestart, "If the new version runs but misbehaves, tell the user; ps_restart only restarts the same version and " +
			"does not roll back. Rolling back means deploying the previous version again."},
	}, scopes)
	return b.String()
}

// writeSteps writes the steps whose tools the caller may call, as a list.
func writeSteps(b *strings.Builder, steps []promptStep, scopes []string) {
	for _, step := range steps {
		if domain.Allowed(step.tool, scopes) {
			b.WriteString("- " + step.text + "\n")
		}
	}
}
