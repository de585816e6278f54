package domain

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Resource template names. Each resource reads through the RPC of one tool,
// so it needs that tool's permission.
const (
	ResourceApps      = "apps"
	ResourceAppReport = "app_report"
	ResourceAppLogs   = "app_logs"
	ResourceDeploy    = "deployment"
)

// URI templates (RFC 6570, level 1) of the resources. {host} is a host name
// or host id of the caller's tenant and {app} an app on that host.
const (
	AppsURITemplate      = "dokku://hosts/{host}/apps"
	AppReportURITemplate = "dokku://hosts/{host}/apps/{app}"
	AppLogsURITemplate   = "dokku://hosts/{host}/apps/{app}/logs"
	// DeploymentURITemplate names one deployment of an app; {id} is a
	// deployment id such as d-abcdefghij.
	DeploymentURITemplate = "dokku://hosts/{host}/apps/{app}/deployments/{id}"
)

// resourceURIPrefix is the prefix of every resource URI.
const resourceURIPrefix = "dokku://hosts/"

// maxResourceURILength bounds a URI before it is parsed: the longest valid
// one, a 40-character host and a 255-character app, is about 320 bytes.
const maxResourceURILength = 512

// resourceTools maps each resource to the tool whose RPC reads it.
var resourceTools = map[string]string{
	ResourceApps:      ToolAppsList,
	ResourceAppReport: ToolAppsReport,
	ResourceAppLogs:   ToolLogsGet,
	ResourceDeploy:    ToolDeployStatus,
}

var (
	hostPattern         = regexp.MustCompile(HostPattern)
	appNamePattern      = regexp.MustCompile(AppNamePattern)
	deploymentIDPattern = regexp.MustCompile(DeploymentIDPattern)
)

// ResourceRef is a parsed resource URI.
type ResourceRef struct {
	// Name is the resource template's name, such as ResourceAppReport.
	Name string
	Host string
	// App is empty for ResourceApps.
	App string
	// DeploymentID is set for ResourceDeploy only.
	DeploymentID string
}

// ResourceURIError is an invalid resource URI; its message is safe to show
// the caller.
type ResourceURIError struct {
	Message string
}

func (e *ResourceURIError) Error() string { return e.Message }

// ParseResourceURI parses and validates a resource URI with the same rules
// as the tools' host and app arguments. It is stricter than URI template
// matching: no query, no fragment, no percent-encoding and no empty or extra
// segments.
func ParseResourceURI(uri string) (ResourceRef, error) {
	if len(uri) > maxResourceURILength {
		return ResourceRef{}, &ResourceURIError{Message: fmt.Sprintf("resource URI is longer than %d bytes: use one of the resource templates", maxResourceURILength)}
	}
	rest, ok := strings.CutPrefix(uri, resourceURIPrefix)
	if !ok {
		return ResourceRef{}, unknownResource(uri)
	}
	segments := strings.Split(rest, "/")
	if len(segments) < 2 || len(segments) > 5 || segments[1] != "apps" {
		return ResourceRef{}, unknownResource(uri)
	}
	ref := ResourceRef{Host: segments[0]}
	switch len(segments) {
	case 2:
		ref.Name = ResourceApps
	case 3:
		ref.Name, ref.App = ResourceAppReport, segments[2]
	case 4:
		if segments[3] != "logs" {
			return ResourceRef{}, unknownResource(uri)
		}
		ref.Name, ref.App = ResourceAppLogs, segments[2]
	case 5:
		if segments[3] != "deployments" {
			return ResourceRef{}, unknownResource(uri)
		}
		ref.Name, ref.App, ref.DeploymentID = ResourceDeploy, segments[2], segments[4]
		if !deploymentIDPattern.MatchString(ref.DeploymentID) {
			return ResourceRef{}, &ResourceURIError{Message: fmt.Sprintf("deployment id %q in resource URI %q is invalid: use an id that deploy_create or deploy_list returned, such as d-abcdefghij", ref.DeploymentID, uri)}
		}
	}
	if !hostPattern.MatchString(ref.Host) {
		return ResourceRef{}, &ResourceURIError{Message: fmt.Sprintf("host %q in resource URI %q is invalid: use the name or id of one of your hosts, for example main", ref.Host, uri)}
	}
	if ref.Name != ResourceApps && (len(ref.App) > 255 || !appNamePattern.MatchString(ref.App)) {
		return ResourceRef{}, &ResourceURIError{Message: fmt.Sprintf("app %q in resource URI %q is invalid: app names use lower-case letters, digits, dots, dashes and underscores", ref.App, uri)}
	}
	return ref, nil
}

func unknownResource(uri string) error {
	return &ResourceURIError{Message: fmt.Sprintf("resource URI %q matches no resource: use %s, %s, %s or %s",
		uri, AppsURITemplate, AppReportURITemplate, AppLogsURITemplate, DeploymentURITemplate)}
}

// ResourceNames returns every resource template's name, sorted.
func ResourceNames() []string {
	names := make([]string, 0, len(resourceTools))
	for name := range resourceTools {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// ResourcePermission returns the permission a resource needs, or "" for an
// unknown resource.
func ResourcePermission(name string) string {
	tool, ok := resourceTools[name]
	if !ok {
		return ""
	}
	return Permission(tool)
}

// ResourceAllowed reports whether a caller holding scopes may see and read
// resource name.
func ResourceAllowed(name string, scopes []string) bool {
	permission := ResourcePermission(name)
	return permission != "" && slices.Contains(scopes, permission)
}

// ResourceOperation is the audit operation suffix of a resource read; the
// ledger records it as mcpedge.resource.<name>. An unparsable URI is
// recorded as mcpedge.resource.
func ResourceOperation(name string) string {
	if name == "" {
		return "resource"
	}
	return "resource." + name
}

// Prompt names.
const (
	PromptDiagnoseApp     = "diagnose_app"
	PromptDeployChecklist = "deploy_checklist"
)

// promptTools lists, per prompt, the tools its text directs the model to
// call. A caller sees a prompt only when it may call all of them.
var promptTools = map[string][]string{
	PromptDiagnoseApp:     {ToolAppsReport, ToolPsReport, ToolLogsGet},
	PromptDeployChecklist: {ToolAppsReport, ToolPsReport, ToolConfigExport, ToolLogsGet, ToolPsRestart},
}

// PromptNames returns every prompt's name, sorted.
func PromptNames() []string {
	names := make([]string, 0, len(promptTools))
	for name := range promptTools {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// PromptAllowed reports whether a caller holding scopes may see and get
// prompt name.
func PromptAllowed(name string, scopes []string) bool {
	tools, ok := promptTools[name]
	if !ok {
		return false
	}
	for _, tool := range tools {
		if !Allowed(tool, scopes) {
			return false
		}
	}
	return true
}

// PromptOperation is the audit operation suffix of a prompt request; the
// ledger records it as mcpedge.prompt.<name>.
func PromptOperation(name string) string {
	return "prompt." + name
}

// ValidHost reports whether host is a valid host name or id.
func ValidHost(host string) bool { return hostPattern.MatchString(host) }

// ValidAppName reports whether app is a valid existing app's name.
func ValidAppName(app string) bool { return len(app) <= 255 && appNamePattern.MatchString(app) }
