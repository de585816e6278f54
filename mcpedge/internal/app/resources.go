package app

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"

	"connectrpc.com/connect"

	"dokkumcp.dev/mcpedge/internal/domain"
)

// MaxResourceBytes bounds the JSON text of one resource read. The logs
// resource leaves out its oldest lines to fit; the other resources fail
// with a message that names the tool to use instead.
const MaxResourceBytes = 256 << 10

// ReadResource reads the resource ref names with the caller's exchanged
// token, so DokkuExec resolves the host within the caller's tenant, and
// returns its JSON text: the same object the matching tool returns as
// structured content.
func (t *Tools) ReadResource(ctx context.Context, uri string, ref domain.ResourceRef) (string, error) {
	label := "reading " + uri
	switch ref.Name {
	case domain.ResourceApps:
		list, err := t.listApps(ctx, HostArgs{Host: ref.Host}, label)
		if err != nil {
			return "", err
		}
		return boundedJSON(list, uri, domain.ToolAppsList)
	case domain.ResourceAppReport:
		report, err := t.appReport(ctx, AppArgs{Host: ref.Host, App: ref.App}, label)
		if err != nil {
			return "", err
		}
		return boundedJSON(report, uri, domain.ToolAppsReport)
	case domain.ResourceAppLogs:
		logs, err := t.getLogs(ctx, LogsArgs{Host: ref.Host, App: ref.App}, label)
		if err != nil {
			return "", err
		}
		return fitLogs(logs, MaxResourceBytes)
	case domain.ResourceDeploy:
		deployment, err := t.getDeployment(ctx, DeploymentArgs{ID: ref.DeploymentID}, label)
		if err != nil {
			return "", err
		}
		if !deploymentMatches(deployment, ref) {
			// DokkuExec finds the id within the caller's tenant. A URI
			// that names another app or host of the tenant does not
			// address this deployment.
			return "", &ToolError{Code: connect.CodeNotFound, Message: fmt.Sprintf("deployment %s not found on app %s of host %s: "+
				"list the app's deployments with deploy_list", ref.DeploymentID, ref.App, ref.Host)}
		}
		return boundedJSON(deployment, uri, domain.ToolDeployStatus)
	default:
		return "", &ToolError{Message: fmt.Sprintf("resource URI %q matches no resource", uri)}
	}
}

// boundedJSON encodes v, failing when the text exceeds MaxResourceBytes.
func boundedJSON(v any, uri, tool string) (string, error) {
	text, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	if len(text) > MaxResourceBytes {
		return "", &ToolError{Message: fmt.Sprintf("%s is larger than the %d bytes a resource may hold; call the %s tool instead", uri, MaxResourceBytes, tool)}
	}
	return string(text), nil
}

// fitLogs encodes logs within limit bytes by leaving out the oldest lines,
// because the resource serves recent logs, and explains the cut in the hint.
func fitLogs(logs *Logs, limit int) (string, error) {
	text, err := json.Marshal(logs)
	if err != nil {
		return "", err
	}
	if len(text) <= limit {
		return string(text), nil
	}
	logs.Truncated = true
	logs.Hint = fmt.Sprintf("the resource holds at most %d bytes, so the oldest lines were left out; "+
		"call logs_get with a lower num or with process_type to read the lines you need", limit)
	if text, err = json.Marshal(logs); err != nil {
		return "", err
	}
	// Drop lines from the front until the bytes they held cover the
	// excess; each encoded line also had a comma.
	for len(text) > limit && len(logs.Lines) > 0 {
		excess := len(text) - limit
		dropped := 0
		for freed := 0; dropped < len(logs.Lines) && freed < excess; dropped++ {
			line, err := json.Marshal(logs.Lines[dropped])
			if err != nil {
				return "", err
			}
			freed += len(line) + 1
		}
		logs.Lines = logs.Lines[dropped:]
		if text, err = json.Marshal(logs); err != nil {
			return "", err
		}
	}
	if len(text) > limit {
		return "", fmt.Errorf("logs without lines take %d bytes, more than the resource limit of %d", len(text), limit)
	}
	return string(text), nil
}

// hostIDPattern is the shape of Tenancy's host ids.
var hostIDPattern = regexp.MustCompile(`^h-[a-z2-7]{10}$`)

// deploymentMatches reports whether deployment belongs to the host and app
// ref names. A deployment names its host by name, so a host id in the URI
// is not compared; DokkuExec already limited the id to the caller's tenant.
func deploymentMatches(deployment *Deployment, ref domain.ResourceRef) bool {
	if deployment.App != ref.App {
		return false
	}
	return deployment.Host == ref.Host || hostIDPattern.MatchString(ref.Host)
}
