package app

import (
	"context"
	"fmt"

	"connectrpc.com/connect"

	dokkuexecv1 "dokkumcp.dev/gen/dokkumcp/dokkuexec/v1"
)

// ConfirmArgs names an app and repeats its name to confirm a destructive
// change.
type ConfirmArgs struct {
	Host    string `json:"host,omitempty"`
	App     string `json:"app"`
	Confirm string `json:"confirm"`
}

// RenameArgs names an app and its new name.
type RenameArgs struct {
	Host    string `json:"host,omitempty"`
	App     string `json:"app"`
	NewName string `json:"new_name"`
	Confirm string `json:"confirm"`
}

// ConfigUnsetArgs names config vars to remove.
type ConfigUnsetArgs struct {
	Host      string   `json:"host,omitempty"`
	App       string   `json:"app"`
	Keys      []string `json:"keys"`
	Confirm   string   `json:"confirm"`
	NoRestart bool     `json:"no_restart,omitempty"`
}

// ConfigExportArgs selects an app's config and whether to show values.
type ConfigExportArgs struct {
	Host   string `json:"host,omitempty"`
	App    string `json:"app"`
	Reveal bool   `json:"reveal,omitempty"`
}

// AppChanged is the result of the lifecycle tools. Changed is false when
// Dokku had nothing to do, for example when unlocking an unlocked app.
type AppChanged struct {
	App      string   `json:"app"`
	Changed  bool     `json:"changed"`
	Warnings []string `json:"warnings"`
}

// ConfigUnsetResult is the result of config_unset.
type ConfigUnsetResult struct {
	App         string   `json:"app"`
	UnsetKeys   []string `json:"unset_keys"`
	SkippedKeys []string `json:"skipped_keys"`
}

// ConfigExport is the result of config_export.
type ConfigExport struct {
	App      string            `json:"app"`
	Vars     map[string]string `json:"vars"`
	Redacted bool              `json:"redacted"`
}

// confirm checks that a destructive call repeats the target's name, before
// anything reaches DokkuExec, which checks it again for destroy.
func confirm(tool, target, given string) error {
	if given != target {
		return &ToolError{Message: fmt.Sprintf("%s needs confirm set to the app's name %q; ask the user to confirm before retrying", tool, target)}
	}
	return nil
}

// DestroyApp destroys an app and everything Dokku keeps for it.
func (t *Tools) DestroyApp(ctx context.Context, args ConfirmArgs) (*AppChanged, error) {
	if err := confirm("apps_destroy", args.App, args.Confirm); err != nil {
		return nil, err
	}
	resp, err := t.DokkuExec.DestroyApp(ctx, connect.NewRequest(&dokkuexecv1.DestroyAppRequest{Host: args.Host, App: args.App, Confirm: args.Confirm}))
	if err != nil {
		return nil, t.toolError(ctx, "apps_destroy", err)
	}
	return &AppChanged{App: resp.Msg.GetApp(), Changed: true, Warnings: orEmpty(resp.Msg.GetWarnings())}, nil
}

// RenameApp renames an app.
func (t *Tools) RenameApp(ctx context.Context, args RenameArgs) (*AppChanged, error) {
	if err := confirm("apps_rename", args.App, args.Confirm); err != nil {
		return nil, err
	}
	resp, err := t.DokkuExec.RenameApp(ctx, connect.NewRequest(&dokkuexecv1.RenameAppRequest{Host: args.Host, App: args.App, NewName: args.NewName}))
	if err != nil {
		return nil, t.toolError(ctx, "apps_rename", err)
	}
	return &AppChanged{App: resp.Msg.GetApp(), Changed: true, Warnings: orEmpty(resp.Msg.GetWarnings())}, nil
}

// LockApp blocks deploys of an app.
func (t *Tools) LockApp(ctx context.Context, args AppArgs) (*AppChanged, error) {
	resp, err := t.DokkuExec.LockApp(ctx, connect.NewRequest(&dokkuexecv1.LockAppRequest{Host: args.Host, App: args.App}))
	if err != nil {
		return nil, t.toolError(ctx, "apps_lock", err)
	}
	return &AppChanged{App: resp.Msg.GetApp(), Changed: true, Warnings: orEmpty(resp.Msg.GetWarnings())}, nil
}

// UnlockApp allows deploys of an app again.
func (t *Tools) UnlockApp(ctx context.Context, args AppArgs) (*AppChanged, error) {
	resp, err := t.DokkuExec.UnlockApp(ctx, connect.NewRequest(&dokkuexecv1.UnlockAppRequest{Host: args.Host, App: args.App}))
	if err != nil {
		return nil, t.toolError(ctx, "apps_unlock", err)
	}
	return &AppChanged{App: resp.Msg.GetApp(), Changed: resp.Msg.GetChanged(), Warnings: orEmpty(resp.Msg.GetWarnings())}, nil
}

// UnsetConfig removes config vars.
func (t *Tools) UnsetConfig(ctx context.Context, args ConfigUnsetArgs) (*ConfigUnsetResult, error) {
	if err := confirm("config_unset", args.App, args.Confirm); err != nil {
		return nil, err
	}
	resp, err := t.DokkuExec.UnsetConfig(ctx, connect.NewRequest(&dokkuexecv1.UnsetConfigRequest{
		Host: args.Host, App: args.App, Keys: args.Keys, NoRestart: args.NoRestart,
	}))
	if err != nil {
		return nil, t.toolError(ctx, "config_unset", err)
	}
	return &ConfigUnsetResult{App: args.App, UnsetKeys: orEmpty(resp.Msg.GetUnsetKeys()), SkippedKeys: orEmpty(resp.Msg.GetSkippedKeys())}, nil
}

// ExportConfig returns an app's config vars, with values redacted unless
// reveal is set.
func (t *Tools) ExportConfig(ctx context.Context, args ConfigExportArgs) (*ConfigExport, error) {
	resp, err := t.DokkuExec.ExportConfig(ctx, connect.NewRequest(&dokkuexecv1.ExportConfigRequest{Host: args.Host, App: args.App, Reveal: args.Reveal}))
	if err != nil {
		return nil, t.toolError(ctx, "config_export", err)
	}
	vars := resp.Msg.GetVars()
	if vars == nil {
		vars = map[string]string{}
	}
	return &ConfigExport{App: args.App, Vars: vars, Redacted: resp.Msg.GetRedacted()}, nil
}

func orEmpty(values []string) []string {
	if values == nil {
		return []string{}
	}
	return values
}
