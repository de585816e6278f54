package app

import (
	"context"
	"errors"
	"maps"

	"dokkumcp.dev/dokkuexec/internal/domain"
)

// UnsetConfig removes config vars from an app and reports which keys were
// removed and which were not set.
func (s *Service) UnsetConfig(ctx context.Context, tenantID, hostRef, appName string, keys []string, noRestart bool) (domain.ConfigUnsetOutcome, error) {
	return guarded(ctx, s, writeRequest{operation: "UnsetConfig", tenantID: tenantID, hostRef: hostRef, app: appName, arguments: map[string]any{"keys": keys, "no_restart": noRestart}},
		func(ctx context.Context) (domain.ConfigUnsetOutcome, error) {
			return s.unsetConfig(ctx, tenantID, hostRef, appName, keys, noRestart)
		})
}

// unsetConfig runs UnsetConfig.
func (s *Service) unsetConfig(ctx context.Context, tenantID, hostRef, appName string, keys []string, noRestart bool) (domain.ConfigUnsetOutcome, error) {
	app, err := domain.ParseAppName(appName)
	if err != nil {
		return domain.ConfigUnsetOutcome{}, invalid(err)
	}
	configKeys := make([]domain.ConfigKey, 0, len(keys))
	for _, key := range keys {
		configKey, err := domain.ParseConfigKey(key)
		if err != nil {
			return domain.ConfigUnsetOutcome{}, invalid(err)
		}
		configKeys = append(configKeys, configKey)
	}
	cmd, err := domain.ConfigUnsetCommand(app, configKeys, noRestart)
	if err != nil {
		return domain.ConfigUnsetOutcome{}, invalid(err)
	}
	target, err := s.target(ctx, tenantID, hostRef)
	if err != nil {
		return domain.ConfigUnsetOutcome{}, err
	}
	release, err := s.lockApps(ctx, target, string(app))
	if err != nil {
		return domain.ConfigUnsetOutcome{}, err
	}
	defer release()

	result, err := s.run(ctx, target, cmd)
	if err != nil {
		return domain.ConfigUnsetOutcome{}, err
	}
	if result.ExitStatus != 0 {
		return domain.ConfigUnsetOutcome{}, s.failure(ctx, target, cmd, app, result)
	}
	if err := checkComplete(target, cmd, result); err != nil {
		return domain.ConfigUnsetOutcome{}, err
	}
	outcome, err := domain.ParseConfigUnset(configKeys, result.Stdout)
	if err != nil {
		return domain.ConfigUnsetOutcome{}, s.unparsable(ctx, target, cmd, err)
	}
	return outcome, nil
}

// errExportUnparsable replaces the JSON parse error of config:export,
// whose message may quote part of the output and therefore a value.
var errExportUnparsable = errors.New("parse config:export JSON output: expected one object of strings")

// ConfigExport is the outcome of ExportConfig.
type ConfigExport struct {
	// Vars maps each key to its value, or to "" when Redacted is set.
	Vars     map[string]string
	Redacted bool
}

// ExportConfig returns every config var of an app. The values are left out
// unless reveal is set; the caller decides whether the requester may see
// them.
func (s *Service) ExportConfig(ctx context.Context, tenantID, hostRef, appName string, reveal bool) (ConfigExport, error) {
	app, err := domain.ParseAppName(appName)
	if err != nil {
		return ConfigExport{}, invalid(err)
	}
	cmd, err := domain.ConfigExportJSONCommand(app)
	if err != nil {
		return ConfigExport{}, invalid(err)
	}
	target, err := s.target(ctx, tenantID, hostRef)
	if err != nil {
		return ConfigExport{}, err
	}

	result, err := s.run(ctx, target, cmd)
	if err != nil {
		return ConfigExport{}, err
	}
	if result.ExitStatus != 0 {
		return ConfigExport{}, s.failure(ctx, target, cmd, app, result)
	}
	if err := checkComplete(target, cmd, result); err != nil {
		return ConfigExport{}, err
	}
	vars, err := domain.ParseConfigExportJSON(result.Stdout)
	if err != nil {
		return ConfigExport{}, s.unparsable(ctx, target, cmd, errExportUnparsable)
	}
	if reveal {
		return ConfigExport{Vars: vars}, nil
	}

	redacted := make(map[string]string, len(vars))
	for key := range maps.Keys(vars) {
		redacted[key] = ""
	}
	return ConfigExport{Vars: redacted, Redacted: true}, nil
}
