// Package domain holds mcpedge's rules: which tools exist, which DokkuExec
// RPC each one becomes, and the input rules that match DokkuExec's
// validators.
package domain

import (
	"slices"

	"google.golang.org/protobuf/reflect/protoreflect"

	dokkuexecv1 "dokkumcp.dev/gen/dokkumcp/dokkuexec/v1"
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
)

// toolMethods maps each tool to the DokkuExec RPC it becomes. The permission
// a tool needs is the one that RPC declares in its contract, so tool
// visibility, tool-call authorization and RPC authorization follow one rule.
var toolMethods = map[string]protoreflect.Name{
	ToolAppsList:   "ListApps",
	ToolAppsCreate: "CreateApp",
	ToolAppsReport: "GetAppReport",
	ToolConfigGet:  "GetConfig",
	ToolConfigSet:  "SetConfig",

	ToolAppsDestroy:  "DestroyApp",
	ToolAppsRename:   "RenameApp",
	ToolAppsLock:     "LockApp",
	ToolAppsUnlock:   "UnlockApp",
	ToolConfigUnset:  "UnsetConfig",
	ToolConfigExport: "ExportConfig",
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
	method, ok := toolMethods[tool]
	if !ok {
		return ""
	}
	service := dokkuexecv1.File_dokkumcp_dokkuexec_v1_dokkuexec_proto.Services().ByName("DokkuExecService")
	return auth.RequiredPermission(service.Methods().ByName(method))
}

// Allowed reports whether a caller holding scopes may see and call tool.
func Allowed(tool string, scopes []string) bool {
	permission := Permission(tool)
	return permission != "" && slices.Contains(scopes, permission)
}
