package app

import (
	"context"
	"fmt"
	"time"

	"connectrpc.com/connect"

	dokkuexecv1 "dokkumcp.dev/gen/dokkumcp/dokkuexec/v1"
	"dokkumcp.dev/mcpedge/internal/domain"
)

// ServiceKinds are the values of a tool's kind argument.
var ServiceKinds = []string{"postgres", "redis"}

var serviceKinds = map[string]dokkuexecv1.ServiceKind{
	"postgres": dokkuexecv1.ServiceKind_SERVICE_KIND_POSTGRES,
	"redis":    dokkuexecv1.ServiceKind_SERVICE_KIND_REDIS,
}

// serviceKind returns the contract's kind for a tool's kind argument.
func serviceKind(tool, kind string) (dokkuexecv1.ServiceKind, error) {
	if k, ok := serviceKinds[kind]; ok {
		return k, nil
	}
	return 0, &ToolError{Message: fmt.Sprintf("%s: invalid kind %q; use postgres or redis", tool, kind)}
}

// confirmService checks that a destructive service tool's confirm argument
// repeats the service's name.
func confirmService(tool, name, given string) error {
	if given != name {
		return &ToolError{Message: fmt.Sprintf("%s needs confirm set to the service's name %q; ask the user to confirm before retrying", tool, name)}
	}
	return nil
}

// ServiceKindArgs selects the service plugin.
type ServiceKindArgs struct {
	Host string `json:"host,omitempty"`
	Kind string `json:"kind"`
}

// ServiceArgs names one service.
type ServiceArgs struct {
	Host string `json:"host,omitempty"`
	Kind string `json:"kind"`
	Name string `json:"name"`
}

// ServiceInfoArgs names one service and whether to reveal its DSN.
type ServiceInfoArgs struct {
	Host   string `json:"host,omitempty"`
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	Reveal bool   `json:"reveal,omitempty"`
}

// ServiceDestroyArgs names the service to destroy and confirms it.
type ServiceDestroyArgs struct {
	Host    string `json:"host,omitempty"`
	Kind    string `json:"kind"`
	Name    string `json:"name"`
	Confirm string `json:"confirm"`
}

// ServiceLinkArgs names a service and an app to link it to.
type ServiceLinkArgs struct {
	Host      string `json:"host,omitempty"`
	Kind      string `json:"kind"`
	Name      string `json:"name"`
	App       string `json:"app"`
	NoRestart bool   `json:"no_restart,omitempty"`
}

// ServiceUnlinkArgs names a service and an app to unlink, and confirms it.
type ServiceUnlinkArgs struct {
	Host      string `json:"host,omitempty"`
	Kind      string `json:"kind"`
	Name      string `json:"name"`
	App       string `json:"app"`
	Confirm   string `json:"confirm"`
	NoRestart bool   `json:"no_restart,omitempty"`
}

// ServiceInfo is the result of services_info and services_create.
type ServiceInfo struct {
	Kind         string            `json:"kind"`
	Name         string            `json:"name"`
	Status       string            `json:"status"`
	Version      string            `json:"version"`
	DSN          string            `json:"dsn"`
	DSNRedacted  bool              `json:"dsn_redacted"`
	Links        []string          `json:"links"`
	ExposedPorts []string          `json:"exposed_ports"`
	Fields       map[string]string `json:"fields"`
}

// ServiceCreated is the result of services_create.
type ServiceCreated struct {
	Info     ServiceInfo `json:"info"`
	Warnings []string    `json:"warnings"`
}

// ServiceList is the result of services_list.
type ServiceList struct {
	Kind  string   `json:"kind"`
	Names []string `json:"names"`
}

// ServiceLinked is the result of services_link.
type ServiceLinked struct {
	App       string   `json:"app"`
	ConfigKey string   `json:"config_key"`
	Warnings  []string `json:"warnings"`
}

// ServiceUnlinked is the result of services_unlink.
type ServiceUnlinked struct {
	App       string   `json:"app"`
	UnsetKeys []string `json:"unset_keys"`
	Warnings  []string `json:"warnings"`
}

// ServiceDestroyed is the result of services_destroy.
type ServiceDestroyed struct {
	Name     string   `json:"name"`
	Warnings []string `json:"warnings"`
}

func serviceInfo(kind string, info *dokkuexecv1.ServiceInfo) ServiceInfo {
	out := ServiceInfo{
		Kind: kind, Name: info.GetName(), Status: info.GetStatus(), Version: info.GetVersion(),
		DSN: info.GetDsn(), DSNRedacted: info.GetDsnRedacted(),
		Links: orEmpty(info.GetLinks()), ExposedPorts: orEmpty(info.GetExposedPorts()), Fields: info.GetFields(),
	}
	if out.Fields == nil {
		out.Fields = map[string]string{}
	}
	return out
}

// CreateService creates a postgres or redis service.
func (t *Tools) CreateService(ctx context.Context, args ServiceArgs) (*ServiceCreated, error) {
	kind, err := serviceKind(domain.ToolServicesCreate, args.Kind)
	if err != nil {
		return nil, err
	}
	resp, err := t.DokkuExec.CreateService(ctx, connect.NewRequest(&dokkuexecv1.CreateServiceRequest{Host: args.Host, Kind: kind, Name: args.Name}))
	if err != nil {
		return nil, t.toolError(ctx, domain.ToolServicesCreate, err)
	}
	return &ServiceCreated{Info: serviceInfo(args.Kind, resp.Msg.GetInfo()), Warnings: orEmpty(resp.Msg.GetWarnings())}, nil
}

// ServiceInfo returns a service's report.
func (t *Tools) ServiceInfo(ctx context.Context, args ServiceInfoArgs) (*ServiceInfo, error) {
	kind, err := serviceKind(domain.ToolServicesInfo, args.Kind)
	if err != nil {
		return nil, err
	}
	resp, err := t.DokkuExec.GetServiceInfo(ctx, connect.NewRequest(&dokkuexecv1.GetServiceInfoRequest{Host: args.Host, Kind: kind, Name: args.Name, Reveal: args.Reveal}))
	if err != nil {
		return nil, t.toolError(ctx, domain.ToolServicesInfo, err)
	}
	info := serviceInfo(args.Kind, resp.Msg.GetInfo())
	return &info, nil
}

// ListServices lists the services of one kind.
func (t *Tools) ListServices(ctx context.Context, args ServiceKindArgs) (*ServiceList, error) {
	kind, err := serviceKind(domain.ToolServicesList, args.Kind)
	if err != nil {
		return nil, err
	}
	resp, err := t.DokkuExec.ListServices(ctx, connect.NewRequest(&dokkuexecv1.ListServicesRequest{Host: args.Host, Kind: kind}))
	if err != nil {
		return nil, t.toolError(ctx, domain.ToolServicesList, err)
	}
	return &ServiceList{Kind: args.Kind, Names: orEmpty(resp.Msg.GetNames())}, nil
}

// LinkService links a service to an app.
func (t *Tools) LinkService(ctx context.Context, args ServiceLinkArgs) (*ServiceLinked, error) {
	kind, err := serviceKind(domain.ToolServicesLink, args.Kind)
	if err != nil {
		return nil, err
	}
	resp, err := t.DokkuExec.LinkService(ctx, connect.NewRequest(&dokkuexecv1.LinkServiceRequest{
		Host: args.Host, Kind: kind, Name: args.Name, App: args.App, NoRestart: args.NoRestart,
	}))
	if err != nil {
		return nil, t.toolError(ctx, domain.ToolServicesLink, err)
	}
	return &ServiceLinked{App: resp.Msg.GetApp(), ConfigKey: resp.Msg.GetConfigKey(), Warnings: orEmpty(resp.Msg.GetWarnings())}, nil
}

// UnlinkService unlinks a service from an app.
func (t *Tools) UnlinkService(ctx context.Context, args ServiceUnlinkArgs) (*ServiceUnlinked, error) {
	kind, err := serviceKind(domain.ToolServicesUnlink, args.Kind)
	if err != nil {
		return nil, err
	}
	if err := confirmService(domain.ToolServicesUnlink, args.Name, args.Confirm); err != nil {
		return nil, err
	}
	resp, err := t.DokkuExec.UnlinkService(ctx, connect.NewRequest(&dokkuexecv1.UnlinkServiceRequest{
		Host: args.Host, Kind: kind, Name: args.Name, App: args.App, Confirm: args.Confirm, NoRestart: args.NoRestart,
	}))
	if err != nil {
		return nil, t.toolError(ctx, domain.ToolServicesUnlink, err)
	}
	return &ServiceUnlinked{App: resp.Msg.GetApp(), UnsetKeys: orEmpty(resp.Msg.GetUnsetKeys()), Warnings: orEmpty(resp.Msg.GetWarnings())}, nil
}

// DestroyService destroys a service with its data.
func (t *Tools) DestroyService(ctx context.Context, args ServiceDestroyArgs) (*ServiceDestroyed, error) {
	kind, err := serviceKind(domain.ToolServicesDestroy, args.Kind)
	if err != nil {
		return nil, err
	}
	if err := confirmService(domain.ToolServicesDestroy, args.Name, args.Confirm); err != nil {
		return nil, err
	}
	resp, err := t.DokkuExec.DestroyService(ctx, connect.NewRequest(&dokkuexecv1.DestroyServiceRequest{Host: args.Host, Kind: kind, Name: args.Name, Confirm: args.Confirm}))
	if err != nil {
		return nil, t.toolError(ctx, domain.ToolServicesDestroy, err)
	}
	return &ServiceDestroyed{Name: resp.Msg.GetName(), Warnings: orEmpty(resp.Msg.GetWarnings())}, nil
}

// LetsencryptEnableArgs names an app and, optionally, its e-mail address.
type LetsencryptEnableArgs struct {
	Host  string `json:"host,omitempty"`
	App   string `json:"app"`
	Email string `json:"email,omitempty"`
}

// LetsencryptReport is the result of letsencrypt_report.
type LetsencryptReport struct {
	App       string            `json:"app"`
	Active    bool              `json:"active"`
	Autorenew bool              `json:"autorenew"`
	Email     string            `json:"email"`
	Server    string            `json:"server"`
	ExpiresAt string            `json:"expires_at,omitempty"`
	Fields    map[string]string `json:"fields"`
}

// LetsencryptEnabled is the result of letsencrypt_enable.
type LetsencryptEnabled struct {
	App      string            `json:"app"`
	Changed  bool              `json:"changed"`
	Report   LetsencryptReport `json:"report"`
	Warnings []string          `json:"warnings"`
}

func letsencryptReport(r *dokkuexecv1.LetsencryptReport) LetsencryptReport {
	out := LetsencryptReport{App: r.GetApp(), Active: r.GetActive(), Autorenew: r.GetAutorenew(), Email: r.GetEmail(), Server: r.GetServer(), Fields: r.GetFields()}
	if r.GetExpireTime() != nil {
		out.ExpiresAt = r.GetExpireTime().AsTime().UTC().Format(time.RFC3339)
	}
	if out.Fields == nil {
		out.Fields = map[string]string{}
	}
	return out
}

// EnableLetsencrypt requests or renews an app's certificate.
func (t *Tools) EnableLetsencrypt(ctx context.Context, args LetsencryptEnableArgs) (*LetsencryptEnabled, error) {
	resp, err := t.DokkuExec.EnableLetsencrypt(ctx, connect.NewRequest(&dokkuexecv1.EnableLetsencryptRequest{Host: args.Host, App: args.App, Email: args.Email}))
	if err != nil {
		return nil, t.toolError(ctx, domain.ToolLetsencryptEnable, err)
	}
	return &LetsencryptEnabled{
		App: resp.Msg.GetApp(), Changed: resp.Msg.GetChanged(),
		Report: letsencryptReport(resp.Msg.GetReport()), Warnings: orEmpty(resp.Msg.GetWarnings()),
	}, nil
}

// LetsencryptDisabled is the result of letsencrypt_disable.
type LetsencryptDisabled struct {
	App      string   `json:"app"`
	Warnings []string `json:"warnings"`
}

// DisableLetsencrypt removes an app's certificate.
func (t *Tools) DisableLetsencrypt(ctx context.Context, args ConfirmArgs) (*LetsencryptDisabled, error) {
	if err := confirm(domain.ToolLetsencryptDisable, args.App, args.Confirm); err != nil {
		return nil, err
	}
	resp, err := t.DokkuExec.DisableLetsencrypt(ctx, connect.NewRequest(&dokkuexecv1.DisableLetsencryptRequest{Host: args.Host, App: args.App}))
	if err != nil {
		return nil, t.toolError(ctx, domain.ToolLetsencryptDisable, err)
	}
	return &LetsencryptDisabled{App: resp.Msg.GetApp(), Warnings: orEmpty(resp.Msg.GetWarnings())}, nil
}

// LetsencryptReport returns an app's Let's Encrypt report.
func (t *Tools) LetsencryptReport(ctx context.Context, args AppArgs) (*LetsencryptReport, error) {
	resp, err := t.DokkuExec.GetLetsencryptReport(ctx, connect.NewRequest(&dokkuexecv1.GetLetsencryptReportRequest{Host: args.Host, App: args.App}))
	if err != nil {
		return nil, t.toolError(ctx, domain.ToolLetsencryptReport, err)
	}
	report := letsencryptReport(resp.Msg.GetReport())
	return &report, nil
}
