package app

import (
	"context"
	"fmt"
	"time"

	"connectrpc.com/connect"

	dokkuexecv1 "dokkumcp.dev/gen/dokkumcp/dokkuexec/v1"
	"dokkumcp.dev/mcpedge/internal/domain"
)

// ScaleArgs sets the number of containers per process type.
type ScaleArgs struct {
	Host       string         `json:"host,omitempty"`
	App        string         `json:"app"`
	Counts     map[string]int `json:"counts,omitempty"`
	SkipDeploy bool           `json:"skip_deploy,omitempty"`
}

// DomainsArgs names domains of an app.
type DomainsArgs struct {
	Host    string   `json:"host,omitempty"`
	App     string   `json:"app"`
	Domains []string `json:"domains"`
}

// DomainsConfirmArgs names domains of an app and repeats the app's name to
// confirm a change that can take the app off a domain.
type DomainsConfirmArgs struct {
	Host    string   `json:"host,omitempty"`
	App     string   `json:"app"`
	Domains []string `json:"domains"`
	Confirm string   `json:"confirm"`
}

// LogsArgs selects an app's log lines.
type LogsArgs struct {
	Host        string `json:"host,omitempty"`
	App         string `json:"app"`
	Num         int    `json:"num,omitempty"`
	ProcessType string `json:"process_type,omitempty"`
}

// RunArgs is a one-off command in a new container of an app.
type RunArgs struct {
	Host string   `json:"host,omitempty"`
	App  string   `json:"app"`
	Args []string `json:"args"`
}

// ProcessReport is the result of ps_report.
type ProcessReport struct {
	App           string            `json:"app"`
	Deployed      bool              `json:"deployed"`
	Processes     int               `json:"processes"`
	Running       string            `json:"running"`
	RestartPolicy string            `json:"restart_policy"`
	Fields        map[string]string `json:"fields"`
}

// ProcessScale is the number of containers of one process type.
type ProcessScale struct {
	ProcessType string `json:"process_type"`
	Quantity    int    `json:"quantity"`
}

// ScaleResult is the result of ps_scale.
type ScaleResult struct {
	App      string         `json:"app"`
	Scale    []ProcessScale `json:"scale"`
	Changed  bool           `json:"changed"`
	Warnings []string       `json:"warnings"`
}

// ProcessChanged is the result of ps_start, ps_stop and ps_restart. Reason
// explains why nothing changed, for example that the app is not deployed.
type ProcessChanged struct {
	App      string   `json:"app"`
	Changed  bool     `json:"changed"`
	Reason   string   `json:"reason,omitempty"`
	Warnings []string `json:"warnings"`
}

// DomainsReport is the result of domains_report.
type DomainsReport struct {
	App           string            `json:"app"`
	Enabled       bool              `json:"enabled"`
	Domains       []string          `json:"domains"`
	GlobalEnabled bool              `json:"global_enabled"`
	GlobalDomains []string          `json:"global_domains"`
	Fields        map[string]string `json:"fields"`
}

// DomainsChanged is the result of domains_add, domains_remove and
// domains_set.
type DomainsChanged struct {
	App      string   `json:"app"`
	Domains  []string `json:"domains"`
	Changed  bool     `json:"changed"`
	Warnings []string `json:"warnings"`
}

// LogLine is one line of an app's logs.
type LogLine struct {
	Time    string `json:"time,omitempty"`
	Process string `json:"process,omitempty"`
	Message string `json:"message"`
}

// Logs is the result of logs_get.
type Logs struct {
	Lines     []LogLine `json:"lines"`
	Truncated bool      `json:"truncated"`
	// Hint explains to the model how to see more or fewer lines.
	Hint string `json:"hint"`
}

// RunResult is the result of run.
type RunResult struct {
	ExitCode        int    `json:"exit_code"`
	Stdout          string `json:"stdout"`
	Stderr          string `json:"stderr"`
	StdoutTruncated bool   `json:"stdout_truncated"`
	StderrTruncated bool   `json:"stderr_truncated"`
}

// Plugin is one Dokku plugin.
type Plugin struct {
	Name        string `json:"name"`
	Version     string `json:"version"`
	Enabled     bool   `json:"enabled"`
	Core        bool   `json:"core"`
	Description string `json:"description"`
}

// HostInfo is the result of host_info.
type HostInfo struct {
	DokkuVersion string   `json:"dokku_version"`
	Plugins      []Plugin `json:"plugins"`
	FetchedAt    string   `json:"fetched_at,omitempty"`
}

const timeLayout = "2006-01-02T15:04:05Z"

// ProcessReport returns an app's process report.
func (t *Tools) ProcessReport(ctx context.Context, args AppArgs) (*ProcessReport, error) {
	resp, err := t.DokkuExec.GetProcessReport(ctx, connect.NewRequest(&dokkuexecv1.GetProcessReportRequest{Host: args.Host, App: args.App}))
	if err != nil {
		return nil, t.toolError(ctx, domain.ToolPsReport, err)
	}
	r := resp.Msg.GetReport()
	out := &ProcessReport{
		App: r.GetApp(), Deployed: r.GetDeployed(), Processes: int(r.GetProcesses()),
		Running: runningState(r.GetRunning()), RestartPolicy: r.GetRestartPolicy(), Fields: r.GetFields(),
	}
	if out.Fields == nil {
		out.Fields = map[string]string{}
	}
	return out, nil
}

func runningState(s dokkuexecv1.RunningState) string {
	switch s {
	case dokkuexecv1.RunningState_RUNNING_STATE_RUNNING:
		return "running"
	case dokkuexecv1.RunningState_RUNNING_STATE_STOPPED:
		return "stopped"
	case dokkuexecv1.RunningState_RUNNING_STATE_MIXED:
		return "mixed"
	default:
		return "unknown"
	}
}

// ScaleProcesses sets, or with no counts reads, an app's scale.
func (t *Tools) ScaleProcesses(ctx context.Context, args ScaleArgs) (*ScaleResult, error) {
	counts := make(map[string]int32, len(args.Counts))
	for processType, n := range args.Counts {
		if n < 0 || n > domain.MaxProcessQuantity {
			return nil, &ToolError{Message: fmt.Sprintf("count %d for process type %q is out of range: use 0 to %d", n, processType, domain.MaxProcessQuantity)}
		}
		counts[processType] = int32(n)
	}
	resp, err := t.DokkuExec.ScaleProcesses(ctx, connect.NewRequest(&dokkuexecv1.ScaleProcessesRequest{
		Host: args.Host, App: args.App, Counts: counts, SkipDeploy: args.SkipDeploy,
	}))
	if err != nil {
		return nil, t.toolError(ctx, domain.ToolPsScale, err)
	}
	scale := make([]ProcessScale, 0, len(resp.Msg.GetScale()))
	for _, s := range resp.Msg.GetScale() {
		scale = append(scale, ProcessScale{ProcessType: s.GetProcessType(), Quantity: int(s.GetQuantity())})
	}
	return &ScaleResult{App: resp.Msg.GetApp(), Scale: scale, Changed: resp.Msg.GetChanged(), Warnings: orEmpty(resp.Msg.GetWarnings())}, nil
}

// StartProcesses starts an app's stopped containers.
func (t *Tools) StartProcesses(ctx context.Context, args AppArgs) (*ProcessChanged, error) {
	resp, err := t.DokkuExec.StartProcesses(ctx, connect.NewRequest(&dokkuexecv1.StartProcessesRequest{Host: args.Host, App: args.App}))
	if err != nil {
		return nil, t.toolError(ctx, domain.ToolPsStart, err)
	}
	return &ProcessChanged{App: resp.Msg.GetApp(), Changed: resp.Msg.GetChanged(), Reason: resp.Msg.GetReason(), Warnings: orEmpty(resp.Msg.GetWarnings())}, nil
}

// StopProcesses stops an app's containers.
func (t *Tools) StopProcesses(ctx context.Context, args AppArgs) (*ProcessChanged, error) {
	resp, err := t.DokkuExec.StopProcesses(ctx, connect.NewRequest(&dokkuexecv1.StopProcessesRequest{Host: args.Host, App: args.App}))
	if err != nil {
		return nil, t.toolError(ctx, domain.ToolPsStop, err)
	}
	return &ProcessChanged{App: resp.Msg.GetApp(), Changed: resp.Msg.GetChanged(), Reason: resp.Msg.GetReason(), Warnings: orEmpty(resp.Msg.GetWarnings())}, nil
}

// RestartProcesses restarts an app's containers.
func (t *Tools) RestartProcesses(ctx context.Context, args AppArgs) (*ProcessChanged, error) {
	resp, err := t.DokkuExec.RestartProcesses(ctx, connect.NewRequest(&dokkuexecv1.RestartProcessesRequest{Host: args.Host, App: args.App}))
	if err != nil {
		return nil, t.toolError(ctx, domain.ToolPsRestart, err)
	}
	return &ProcessChanged{App: resp.Msg.GetApp(), Changed: resp.Msg.GetChanged(), Reason: resp.Msg.GetReason(), Warnings: orEmpty(resp.Msg.GetWarnings())}, nil
}

// DomainsReport returns an app's domains.
func (t *Tools) DomainsReport(ctx context.Context, args AppArgs) (*DomainsReport, error) {
	resp, err := t.DokkuExec.GetDomainsReport(ctx, connect.NewRequest(&dokkuexecv1.GetDomainsReportRequest{Host: args.Host, App: args.App}))
	if err != nil {
		return nil, t.toolError(ctx, domain.ToolDomainsReport, err)
	}
	r := resp.Msg.GetReport()
	out := &DomainsReport{
		App: r.GetApp(), Enabled: r.GetEnabled(), Domains: orEmpty(r.GetDomains()),
		GlobalEnabled: r.GetGlobalEnabled(), GlobalDomains: orEmpty(r.GetGlobalDomains()), Fields: r.GetFields(),
	}
	if out.Fields == nil {
		out.Fields = map[string]string{}
	}
	return out, nil
}

// AddDomains adds domains to an app.
func (t *Tools) AddDomains(ctx context.Context, args DomainsArgs) (*DomainsChanged, error) {
	resp, err := t.DokkuExec.AddDomains(ctx, connect.NewRequest(&dokkuexecv1.AddDomainsRequest{Host: args.Host, App: args.App, Domains: args.Domains}))
	if err != nil {
		return nil, t.toolError(ctx, domain.ToolDomainsAdd, err)
	}
	return &DomainsChanged{App: resp.Msg.GetApp(), Domains: orEmpty(resp.Msg.GetDomains()), Changed: resp.Msg.GetChanged(), Warnings: orEmpty(resp.Msg.GetWarnings())}, nil
}

// RemoveDomains removes domains from an app.
func (t *Tools) RemoveDomains(ctx context.Context, args DomainsConfirmArgs) (*DomainsChanged, error) {
	if err := confirm(domain.ToolDomainsRemove, args.App, args.Confirm); err != nil {
		return nil, err
	}
	resp, err := t.DokkuExec.RemoveDomains(ctx, connect.NewRequest(&dokkuexecv1.RemoveDomainsRequest{Host: args.Host, App: args.App, Domains: args.Domains}))
	if err != nil {
		return nil, t.toolError(ctx, domain.ToolDomainsRemove, err)
	}
	return &DomainsChanged{App: resp.Msg.GetApp(), Domains: orEmpty(resp.Msg.GetDomains()), Changed: resp.Msg.GetChanged(), Warnings: orEmpty(resp.Msg.GetWarnings())}, nil
}

// SetDomains replaces an app's domains.
func (t *Tools) SetDomains(ctx context.Context, args DomainsConfirmArgs) (*DomainsChanged, error) {
	if err := confirm(domain.ToolDomainsSet, args.App, args.Confirm); err != nil {
		return nil, err
	}
	resp, err := t.DokkuExec.SetDomains(ctx, connect.NewRequest(&dokkuexecv1.SetDomainsRequest{Host: args.Host, App: args.App, Domains: args.Domains}))
	if err != nil {
		return nil, t.toolError(ctx, domain.ToolDomainsSet, err)
	}
	return &DomainsChanged{App: resp.Msg.GetApp(), Domains: orEmpty(resp.Msg.GetDomains()), Changed: resp.Msg.GetChanged(), Warnings: orEmpty(resp.Msg.GetWarnings())}, nil
}

// GetLogs returns the last lines of an app's logs.
func (t *Tools) GetLogs(ctx context.Context, args LogsArgs) (*Logs, error) {
	return t.getLogs(ctx, args, domain.ToolLogsGet)
}

// getLogs returns the last lines of an app's logs; label names the tool or
// resource in error messages.
func (t *Tools) getLogs(ctx context.Context, args LogsArgs, label string) (*Logs, error) {
	if args.Num < 0 || args.Num > domain.MaxLogLines {
		return nil, &ToolError{Message: fmt.Sprintf("num %d is out of range: ask for 1 to %d lines per container, or omit it for %d", args.Num, domain.MaxLogLines, domain.DefaultLogLines)}
	}
	resp, err := t.DokkuExec.GetLogs(ctx, connect.NewRequest(&dokkuexecv1.GetLogsRequest{
		Host: args.Host, App: args.App, Num: int32(args.Num), ProcessType: args.ProcessType,
	}))
	if err != nil {
		return nil, t.toolError(ctx, label, err)
	}
	lines := make([]LogLine, 0, len(resp.Msg.GetLines()))
	for _, l := range resp.Msg.GetLines() {
		line := LogLine{Process: l.GetProcess(), Message: l.GetMessage()}
		if l.GetTime() != nil {
			line.Time = l.GetTime().AsTime().UTC().Format(time.RFC3339Nano)
		}
		lines = append(lines, line)
	}
	return &Logs{Lines: lines, Truncated: resp.Msg.GetTruncated(), Hint: logsHint(args, len(lines), resp.Msg.GetTruncated())}, nil
}

// logsHint explains to the model how to get more, or more relevant, lines.
func logsHint(args LogsArgs, got int, truncated bool) string {
	num := args.Num
	if num == 0 {
		num = domain.DefaultLogLines
	}
	switch {
	case truncated && args.ProcessType == "":
		return "the output was cut at the size limit and later lines are missing: lower num or set process_type (for example \"web\") to see the newest lines"
	case truncated:
		return "the output was cut at the size limit and later lines are missing: lower num to see the newest lines"
	case got == 0:
		return "no lines: the app may not be deployed or may not have written anything yet; check ps_report"
	case num < domain.MaxLogLines:
		return fmt.Sprintf("these are the last %d lines per container; for earlier lines raise num (up to %d), and set process_type to keep one process type", num, domain.MaxLogLines)
	default:
		return fmt.Sprintf("these are the last %d lines per container, the most logs_get returns; set process_type to keep one process type", num)
	}
}

// Run runs a one-off command in a new container of an app. A command that
// exits non-zero is a result, not a tool error: the model reads exit_code.
func (t *Tools) Run(ctx context.Context, args RunArgs) (*RunResult, error) {
	resp, err := t.DokkuExec.RunCommand(ctx, connect.NewRequest(&dokkuexecv1.RunCommandRequest{Host: args.Host, App: args.App, Args: args.Args}))
	if err != nil {
		return nil, t.toolError(ctx, domain.ToolRun, err)
	}
	m := resp.Msg
	return &RunResult{
		ExitCode: int(m.GetExitCode()), Stdout: m.GetStdout(), Stderr: m.GetStderr(),
		StdoutTruncated: m.GetStdoutTruncated(), StderrTruncated: m.GetStderrTruncated(),
	}, nil
}

// HostInfo returns a host's Dokku version and plugins.
func (t *Tools) HostInfo(ctx context.Context, args HostArgs) (*HostInfo, error) {
	resp, err := t.DokkuExec.GetHostInfo(ctx, connect.NewRequest(&dokkuexecv1.GetHostInfoRequest{Host: args.Host}))
	if err != nil {
		return nil, t.toolError(ctx, domain.ToolHostInfo, err)
	}
	plugins := make([]Plugin, 0, len(resp.Msg.GetPlugins()))
	for _, p := range resp.Msg.GetPlugins() {
		plugins = append(plugins, Plugin{Name: p.GetName(), Version: p.GetVersion(), Enabled: p.GetEnabled(), Core: p.GetCore(), Description: p.GetDescription()})
	}
	out := &HostInfo{DokkuVersion: resp.Msg.GetDokkuVersion(), Plugins: plugins}
	if resp.Msg.GetFetchTime() != nil {
		out.FetchedAt = resp.Msg.GetFetchTime().AsTime().UTC().Format(timeLayout)
	}
	return out, nil
}
