// Package app turns tool calls into DokkuExec RPCs and their responses into
// results a language model can act on.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"connectrpc.com/connect"

	dokkuexecv1 "dokkumcp.dev/gen/dokkumcp/dokkuexec/v1"
	"dokkumcp.dev/gen/dokkumcp/dokkuexec/v1/dokkuexecv1connect"
	"dokkumcp.dev/gen/dokkumcp/tenancy/v1/tenancyv1connect"
	"dokkumcp.dev/platform/logging"
)

// Tools runs tool calls against DokkuExec and, for audit_log, Tenancy. Both
// clients must carry a token exchanged from the caller's token in the call's
// context.
type Tools struct {
	DokkuExec dokkuexecv1connect.DokkuExecServiceClient
	Tenancy   tenancyv1connect.TenancyServiceClient
	Logger    *slog.Logger
	// NewTicker starts the ticker that paces deploy_create's progress
	// notifications while a deployment shows no change; default
	// time.NewTicker. Tests set it to tick on demand.
	NewTicker func(time.Duration) Ticker
}

// Ticker is the part of a *time.Ticker that deploy_create uses.
type Ticker interface {
	C() <-chan time.Time
	Reset(time.Duration)
	Stop()
}

// timeTicker is a Ticker backed by a *time.Ticker.
type timeTicker struct{ *time.Ticker }

func (t timeTicker) C() <-chan time.Time { return t.Ticker.C }

func (t *Tools) newTicker(interval time.Duration) Ticker {
	if t.NewTicker != nil {
		return t.NewTicker(interval)
	}
	return timeTicker{time.NewTicker(interval)}
}

// HostArgs selects one of the tenant's hosts.
type HostArgs struct {
	Host string `json:"host,omitempty"`
}

// AppArgs names an app on a host.
type AppArgs struct {
	Host string `json:"host,omitempty"`
	App  string `json:"app"`
}

// ConfigGetArgs names one config var.
type ConfigGetArgs struct {
	Host string `json:"host,omitempty"`
	App  string `json:"app"`
	Key  string `json:"key"`
}

// ConfigSetArgs carries config vars to set.
type ConfigSetArgs struct {
	Host      string            `json:"host,omitempty"`
	App       string            `json:"app"`
	Vars      map[string]string `json:"vars"`
	NoRestart bool              `json:"no_restart,omitempty"`
}

// AppList is the result of apps_list.
type AppList struct {
	Apps []string `json:"apps"`
}

// AppCreated is the result of apps_create.
type AppCreated struct {
	App      string   `json:"app"`
	Warnings []string `json:"warnings"`
}

// AppReport is the result of apps_report.
type AppReport struct {
	App          string            `json:"app"`
	CreatedAt    string            `json:"created_at,omitempty"`
	DeploySource string            `json:"deploy_source"`
	Dir          string            `json:"dir"`
	Locked       bool              `json:"locked"`
	Fields       map[string]string `json:"fields"`
}

// ConfigValue is the result of config_get.
type ConfigValue struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// ConfigSetResult is the result of config_set. Values are not echoed.
type ConfigSetResult struct {
	App  string   `json:"app"`
	Keys []string `json:"keys"`
}

// ListApps lists the apps on a host.
func (t *Tools) ListApps(ctx context.Context, args HostArgs) (*AppList, error) {
	return t.listApps(ctx, args, "apps_list")
}

// listApps lists the apps on a host; label names the tool or resource in
// error messages.
func (t *Tools) listApps(ctx context.Context, args HostArgs, label string) (*AppList, error) {
	resp, err := t.DokkuExec.ListApps(ctx, connect.NewRequest(&dokkuexecv1.ListAppsRequest{Host: args.Host}))
	if err != nil {
		return nil, t.toolError(ctx, label, err)
	}
	apps := resp.Msg.GetApps()
	if apps == nil {
		apps = []string{}
	}
	return &AppList{Apps: apps}, nil
}

// CreateApp creates an app.
func (t *Tools) CreateApp(ctx context.Context, args AppArgs) (*AppCreated, error) {
	resp, err := t.DokkuExec.CreateApp(ctx, connect.NewRequest(&dokkuexecv1.CreateAppRequest{Host: args.Host, App: args.App}))
	if err != nil {
		return nil, t.toolError(ctx, "apps_create", err)
	}
	warnings := resp.Msg.GetWarnings()
	if warnings == nil {
		warnings = []string{}
	}
	return &AppCreated{App: resp.Msg.GetApp(), Warnings: warnings}, nil
}

// AppReport returns an app's report.
func (t *Tools) AppReport(ctx context.Context, args AppArgs) (*AppReport, error) {
	return t.appReport(ctx, args, "apps_report")
}

// appReport returns an app's report; label names the tool or resource in
// error messages.
func (t *Tools) appReport(ctx context.Context, args AppArgs, label string) (*AppReport, error) {
	resp, err := t.DokkuExec.GetAppReport(ctx, connect.NewRequest(&dokkuexecv1.GetAppReportRequest{Host: args.Host, App: args.App}))
	if err != nil {
		return nil, t.toolError(ctx, label, err)
	}
	report := resp.Msg.GetReport()
	out := &AppReport{
		App:          report.GetApp(),
		DeploySource: report.GetDeploySource(),
		Dir:          report.GetDir(),
		Locked:       report.GetLocked(),
		Fields:       report.GetFields(),
	}
	if report.GetCreateTime() != nil {
		out.CreatedAt = report.GetCreateTime().AsTime().UTC().Format("2006-01-02T15:04:05Z")
	}
	if out.Fields == nil {
		out.Fields = map[string]string{}
	}
	return out, nil
}

// GetConfig returns one config var.
func (t *Tools) GetConfig(ctx context.Context, args ConfigGetArgs) (*ConfigValue, error) {
	resp, err := t.DokkuExec.GetConfig(ctx, connect.NewRequest(&dokkuexecv1.GetConfigRequest{Host: args.Host, App: args.App, Key: args.Key}))
	if err != nil {
		return nil, t.toolError(ctx, "config_get", err)
	}
	return &ConfigValue{Key: resp.Msg.GetKey(), Value: resp.Msg.GetValue()}, nil
}

// SetConfig sets config vars.
func (t *Tools) SetConfig(ctx context.Context, args ConfigSetArgs) (*ConfigSetResult, error) {
	if len(args.Vars) == 0 {
		return nil, &ToolError{Message: "vars is empty: pass at least one KEY: value pair"}
	}
	resp, err := t.DokkuExec.SetConfig(ctx, connect.NewRequest(&dokkuexecv1.SetConfigRequest{
		Host: args.Host, App: args.App, Vars: args.Vars, NoRestart: args.NoRestart,
	}))
	if err != nil {
		return nil, t.toolError(ctx, "config_set", err)
	}
	keys := resp.Msg.GetKeys()
	if keys == nil {
		keys = slices.Sorted(maps.Keys(args.Vars))
	}
	return &ConfigSetResult{App: args.App, Keys: keys}, nil
}

// ErrExchangeRejected is wrapped by errors of token exchanges that Identity
// rejected because mcpedge may not exchange tokens for the tool's service.
// Retrying does not help.
var ErrExchangeRejected = errors.New("token exchange rejected")

// ToolError is an error whose message is safe to show the model.
type ToolError struct {
	Message string
	// Code is the Connect code of the downstream error the message comes
	// from; zero (connect's "ok") when the error arose in mcpedge.
	Code connect.Code
}

func (e *ToolError) Error() string { return e.Message }

// rpcNamesToTools rewrites the RPCs that DokkuExec's and Tenancy's
// messages point their callers at into the tools, or the operator's
// command, that do the same: the model can call only tools.
var rpcNamesToTools = strings.NewReplacer(
	"CreateDeployment", "deploy_create",
	"ListDeployments", "deploy_list",
	"WatchDeployment", "deploy_logs",
	"CancelDeployment", "deploy_cancel",
	"GetDeployment", "deploy_status",
	"RegisterHost", "the platform operator's `dokkumcp host add`",
	"GetHostTrust", "the platform operator's `dokkumcp host add`",
)

// toolError turns a DokkuExec error into a message for the model.
// DokkuExec writes the messages of client-side codes for callers, so they
// pass through. Any other error is logged and replaced by a generic message
// with the request id.
func (t *Tools) toolError(ctx context.Context, tool string, err error) error {
	if errors.Is(err, ErrExchangeRejected) {
		t.Logger.ErrorContext(ctx, "token exchange for the tool's service rejected", "tool", tool, "error", err)
		return &ToolError{Message: fmt.Sprintf("%s is not available: Identity does not let mcpedge act for you at the service this tool calls; "+
			"ask the platform operator to allow it, and use other tools meanwhile", tool)}
	}
	var connectErr *connect.Error
	if !errors.As(err, &connectErr) {
		t.Logger.ErrorContext(ctx, "tool call failed", "tool", tool, "error", err)
		return &ToolError{Message: fmt.Sprintf("%s failed because of an internal error; retry later or report request id %q", tool, logging.RequestID(ctx))}
	}

	switch connectErr.Code() {
	case connect.CodeInvalidArgument, connect.CodeNotFound, connect.CodeAlreadyExists,
		connect.CodeFailedPrecondition, connect.CodeAborted, connect.CodeOutOfRange, connect.CodeResourceExhausted:
		t.Logger.InfoContext(ctx, "tool call rejected", "tool", tool, "code", connectErr.Code().String(), "error", err)
		return &ToolError{Message: rpcNamesToTools.Replace(connectErr.Message()), Code: connectErr.Code()}
	case connect.CodePermissionDenied:
		t.Logger.InfoContext(ctx, "tool call denied", "tool", tool, "error", err)
		return &ToolError{Message: connectErr.Message() + "; ask the tenant owner for a client with a role that grants it", Code: connectErr.Code()}
	case connect.CodeUnavailable, connect.CodeDeadlineExceeded:
		t.Logger.WarnContext(ctx, "tool call unavailable", "tool", tool, "error", err)
		return &ToolError{Message: fmt.Sprintf("%s could not reach the Dokku host or a platform service in time; retry in a minute", tool), Code: connectErr.Code()}
	default:
		t.Logger.ErrorContext(ctx, "tool call failed", "tool", tool, "code", connectErr.Code().String(), "error", err)
		return &ToolError{Message: fmt.Sprintf("%s failed because of an internal error; retry later or report request id %q", tool, logging.RequestID(ctx))}
	}
}
