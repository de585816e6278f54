// Package domain holds mcpedge's rules: which tools exist, which RPC each
// one becomes, the input rules that match DokkuExec's validators, and the
// rate limits of tool calls.
package domain

import (
	"slices"

	"google.golang.org/protobuf/reflect/protoreflect"

	dokkuexecv1 "dokkumcp.dev/gen/dokkumcp/dokkuexec/v1"
	tenancyv1 "dokkumcp.dev/gen/dokkumcp/tenancy/v1"
	"dokkumcp.dev/platform/auth"
)

// Input patterns. They mirror DokkuExec's validators so that a model sees
// the rule in the schema before it calls, and DokkuExec still enforces it.
const (
	// NewAppNamePattern is Dokku's rule for a new app's name.
	NewAppNamePattern = `^[a-z0-9][a-z0-9.-]*$`
	// AppNamePattern also accepts the underscores of apps created by older
	// Dokku versions.
	AppNamePattern = `^[a-z0-9][a-z0-9._-]*$`
	// ConfigKeyPattern is Dokku's rule for config var names.
	ConfigKeyPattern = `^[A-Za-z_][A-Za-z0-9_]*$`
	// HostPattern matches a host name or host id within a tenant.
	HostPattern = `^[a-z][a-z0-9-]{0,39}$`
	// ProcessTypePattern is DokkuExec's rule for process types such as
	// "web" or "worker"; at most 63 characters.
	ProcessTypePattern = `^[A-Za-z0-9][A-Za-z0-9_-]*$`
	// DomainPattern is DokkuExec's rule for an app's domains: dot-separated
	// labels of letters, digits and dashes, each starting and ending with a
	// letter or digit, at most 63 characters per label and 253 in all. No
	// wildcards.
	DomainPattern = `^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$`
	// RunArgPattern is DokkuExec's rule for each word of a one-off command:
	// letters, digits and ._:=+/,@%- only.
	RunArgPattern = `^[A-Za-z0-9._:=+/,@%-]+$`
	// ServiceNamePattern is DokkuExec's rule for postgres and redis service
	// names: the plugins' rule, without a leading dash.
	ServiceNamePattern = `^[A-Za-z0-9_][A-Za-z0-9_-]*$`
	// EmailPattern is DokkuExec's rule for a Let's Encrypt e-mail address.
	EmailPattern = `^[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$`
	// GitRepositoryPattern is DokkuExec's rule for a git remote: an
	// https://, http://, ssh:// or git:// URL, or user@host:path, made of
	// letters, digits and ._%+,@=:/- only. DokkuExec also refuses a
	// password in the URL.
	GitRepositoryPattern = `^((https|http|ssh|git)://([A-Za-z0-9._%+:-]+@)?[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?(/[A-Za-z0-9._%+,@=:/-]*)?|[A-Za-z0-9._-]+@[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?:[A-Za-z0-9._%+,@=/-]+)$`
	// GitRefPattern is DokkuExec's rule for a branch, tag or commit;
	// DokkuExec also refuses "..", "//" and a trailing "/", "." or ".lock".
	GitRefPattern = `^[A-Za-z0-9_][A-Za-z0-9._/-]*$`
	// ImagePattern is DokkuExec's rule for a container image reference:
	// [registry[:port]/]name[:tag][@sha256:digest] with a lower-case name.
	ImagePattern = `^([a-zA-Z0-9]([a-zA-Z0-9.-]*[a-zA-Z0-9])?(:[0-9]{1,5})?/)?[a-z0-9]+([._-]+[a-z0-9]+)*(/[a-z0-9]+([._-]+[a-z0-9]+)*)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$`
	// DeploymentIDPattern is the shape of DokkuExec's deployment ids.
	DeploymentIDPattern = `^d-[a-z2-7]{10}$`
)

// Limits that mirror DokkuExec's validators.
const (
	MaxProcessTypeLength = 63
	MaxProcessQuantity   = 100
	MaxDomainLength      = 253
	MaxLogLines          = 1000
	DefaultLogLines      = 100
	MaxRunArgs           = 64
	MaxAuditPageSize     = 1000
	MaxServiceNameLength = 63
	MaxEmailLength       = 254
	MaxGitRepository     = 1024
	MaxGitRef            = 255
	MaxImage             = 1024
	MaxDeploymentPage    = 100
	MaxDeployLogLines    = 1000
	DefaultDeployLogs    = 200
)

// Tool names, `area_verb`.
const (
	ToolAppsList   = "apps_list"
	ToolAppsCreate = "apps_create"
	ToolAppsReport = "apps_report"
	ToolConfigGet  = "config_get"
	ToolConfigSet  = "config_set"

	ToolAppsDestroy  = "apps_destroy"
	ToolAppsRename   = "apps_rename"
	ToolAppsLock     = "apps_lock"
	ToolAppsUnlock   = "apps_unlock"
	ToolConfigUnset  = "config_unset"
	ToolConfigExport = "config_export"

	ToolPsReport      = "ps_report"
	ToolPsScale       = "ps_scale"
	ToolPsStart       = "ps_start"
	ToolPsStop        = "ps_stop"
	ToolPsRestart     = "ps_restart"
	ToolDomainsReport = "domains_report"
	ToolDomainsAdd    = "domains_add"
	ToolDomainsRemove = "domains_remove"
	ToolDomainsSet    = "domains_set"
	ToolLogsGet       = "logs_get"
	ToolRun           = "run"
	ToolHostInfo      = "host_info"
	ToolAuditLog      = "audit_log"

	ToolServicesCreate     = "services_create"
	ToolServicesInfo       = "services_info"
	ToolServicesLink       = "services_link"
	ToolServicesUnlink     = "services_unlink"
	ToolServicesDestroy    = "services_destroy"
	ToolServicesList       = "services_list"
	ToolLetsencryptEnable  = "letsencrypt_enable"
	ToolLetsencryptDisable = "letsencrypt_disable"
	ToolLetsencryptReport  = "letsencrypt_report"
	ToolDeployCreate       = "deploy_create"
	ToolDeployStatus       = "deploy_status"
	ToolDeployList         = "deploy_list"
	ToolDeployLogs         = "deploy_logs"
	ToolDeployCancel       = "deploy_cancel"
)

// Fully qualified names of the services the tools call.
const (
	dokkuExecService = "dokkumcp.dokkuexec.v1.DokkuExecService"
	tenancyService   = "dokkumcp.tenancy.v1.TenancyService"
)

// toolMethods maps each tool to the RPC it becomes. The permission a tool
// needs is the one that RPC declares in its contract, so tool visibility,
// tool-call authorization and RPC authorization follow one rule.
var toolMethods = map[string]protoreflect.FullName{
	ToolAppsList:   dokkuExecService + ".ListApps",
	ToolAppsCreate: dokkuExecService + ".CreateApp",
	ToolAppsReport: dokkuExecService + ".GetAppReport",
	ToolConfigGet:  dokkuExecService + ".GetConfig",
	ToolConfigSet:  dokkuExecService + ".SetConfig",

	ToolAppsDestroy:  dokkuExecService + ".DestroyApp",
	ToolAppsRename:   dokkuExecService + ".RenameApp",
	ToolAppsLock:     dokkuExecService + ".LockApp",
	ToolAppsUnlock:   dokkuExecService + ".UnlockApp",
	ToolConfigUnset:  dokkuExecService + ".UnsetConfig",
	ToolConfigExport: dokkuExecService + ".ExportConfig",

	ToolPsReport:      dokkuExecService + ".GetProcessReport",
	ToolPsScale:       dokkuExecService + ".ScaleProcesses",
	ToolPsStart:       dokkuExecService + ".StartProcesses",
	ToolPsStop:        dokkuExecService + ".StopProcesses",
	ToolPsRestart:     dokkuExecService + ".RestartProcesses",
	ToolDomainsReport: dokkuExecService + ".GetDomainsReport",
	ToolDomainsAdd:    dokkuExecService + ".AddDomains",
	ToolDomainsRemove: dokkuExecService + ".RemoveDomains",
	ToolDomainsSet:    dokkuExecService + ".SetDomains",
	ToolLogsGet:       dokkuExecService + ".GetLogs",
	ToolRun:           dokkuExecService + ".RunCommand",
	ToolHostInfo:      dokkuExecService + ".GetHostInfo",

	ToolAuditLog: tenancyService + ".ListAuditEvents",

	ToolServicesCreate:     dokkuExecService + ".CreateService",
	ToolServicesInfo:       dokkuExecService + ".GetServiceInfo",
	ToolServicesLink:       dokkuExecService + ".LinkService",
	ToolServicesUnlink:     dokkuExecService + ".UnlinkService",
	ToolServicesDestroy:    dokkuExecService + ".DestroyService",
	ToolServicesList:       dokkuExecService + ".ListServices",
	ToolLetsencryptEnable:  dokkuExecService + ".EnableLetsencrypt",
	ToolLetsencryptDisable: dokkuExecService + ".DisableLetsencrypt",
	ToolLetsencryptReport:  dokkuExecService + ".GetLetsencryptReport",
	ToolDeployCreate:       dokkuExecService + ".CreateDeployment",
	ToolDeployStatus:       dokkuExecService + ".GetDeployment",
	ToolDeployList:         dokkuExecService + ".ListDeployments",
	ToolDeployLogs:         dokkuExecService + ".WatchDeployment",
	ToolDeployCancel:       dokkuExecService + ".CancelDeployment",
}

// contractFiles are the contracts the tools' RPCs are declared in.
var contractFiles = []protoreflect.FileDescriptor{
	dokkuexecv1.File_dokkumcp_dokkuexec_v1_dokkuexec_proto,
	tenancyv1.File_dokkumcp_tenancy_v1_tenancy_proto,
}

// Method returns the RPC a tool becomes, or nil for an unknown tool.
func Method(tool string) protoreflect.MethodDescriptor {
	name, ok := toolMethods[tool]
	if !ok {
		return nil
	}
	service, method := name.Parent(), name.Name()
	for _, file := range contractFiles {
		if s := file.Services().ByName(service.Name()); s != nil && s.FullName() == service {
			return s.Methods().ByName(method)
		}
	}
	return nil
}

// ToolNames returns every tool name, sorted.
func ToolNames() []string {
	names := make([]string, 0, len(toolMethods))
	for name := range toolMethods {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// Permission returns the permission a tool needs, or "" for an unknown tool.
func Permission(tool string) string {
	method := Method(tool)
	if method == nil {
		return ""
	}
	return auth.RequiredPermission(method)
}

// Allowed reports whether a caller holding scopes may see and call tool.
func Allowed(tool string, scopes []string) bool {
	permission := Permission(tool)
	return permission != "" && slices.Contains(scopes, permission)
}
