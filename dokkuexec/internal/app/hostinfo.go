package app

import (
	"context"
	"time"

	"dokkumcp.dev/dokkuexec/internal/domain"
)

// HostInfoTTL is how long GetHostInfo serves a host's version and plugins
// from its cache before reading them again. A plugin installed or a Dokku
// upgrade on the host shows within this time.
const HostInfoTTL = 5 * time.Minute

// HostInfo is a host's Dokku version and installed plugins.
type HostInfo struct {
	Version domain.Version
	Plugins []domain.Plugin
	// FetchTime is when the host was asked.
	FetchTime time.Time
}

// GetHostInfo returns the host's Dokku version and plugins, from a cache
// that lasts HostInfoTTL per host.
func (s *Service) GetHostInfo(ctx context.Context, tenantID, hostRef string) (HostInfo, error) {
	target, err := s.target(ctx, tenantID, hostRef)
	if err != nil {
		return HostInfo{}, err
	}
	return s.hostInfo(ctx, target)
}

// hostInfo returns the target host's version and plugins from the cache, or
// reads them when the cached copy is older than HostInfoTTL.
func (s *Service) hostInfo(ctx context.Context, target Target) (HostInfo, error) {
	key := target.TenantID + "/" + target.Host.ID
	s.hostInfosMu.Lock()
	info, ok := s.hostInfos[key]
	s.hostInfosMu.Unlock()
	if ok && s.now().Before(info.FetchTime.Add(HostInfoTTL)) {
		return info, nil
	}

	info, err := s.fetchHostInfo(ctx, target)
	if err != nil {
		return HostInfo{}, err
	}
	s.hostInfosMu.Lock()
	s.hostInfos[key] = info
	s.hostInfosMu.Unlock()
	return info, nil
}

// fetchHostInfo runs `version` and `plugin:list`. The version it reads also
// replaces the one the other operations use to pick output formats.
func (s *Service) fetchHostInfo(ctx context.Context, target Target) (HostInfo, error) {
	fetchTime := s.now()
	versionCmd := domain.VersionCommand()
	result, err := s.runChecked(ctx, target, versionCmd, "")
	if err != nil {
		return HostInfo{}, err
	}
	version, err := domain.ParseVersion(string(result.Stdout))
	if err != nil {
		return HostInfo{}, s.unparsable(ctx, target, versionCmd, err)
	}
	s.versionsMu.Lock()
	s.versions[target.TenantID+"/"+target.Host.ID] = version
	s.versionsMu.Unlock()

	json := version.AtLeast(domain.PluginListJSONSince)
	pluginsCmd := domain.PluginListCommand(json)
	result, err = s.runChecked(ctx, target, pluginsCmd, "")
	if err != nil {
		return HostInfo{}, err
	}
	parse := domain.ParsePluginListText
	if json {
		parse = domain.ParsePluginListJSON
	}
	plugins, err := parse(result.Stdout)
	if err != nil {
		return HostInfo{}, s.unparsable(ctx, target, pluginsCmd, err)
	}
	return HostInfo{Version: version, Plugins: plugins, FetchTime: fetchTime}, nil
}

// requirePlugin fails with KindFailedPrecondition unless the target host has
// the plugin installed and enabled. install is the command that installs it.
func (s *Service) requirePlugin(ctx context.Context, target Target, plugin, install string) error {
	info, err := s.hostInfo(ctx, target)
	if err != nil {
		return err
	}
	for _, p := range info.Plugins {
		if p.Name == plugin && p.Enabled {
			return nil
		}
	}
	return Errorf(KindFailedPrecondition, "the Dokku plugin %q is not installed on host %q; ask the host's administrator to install it with `%s` (DokkuExec rereads the host's plugins every %s)",
		plugin, target.Host.Name, install, HostInfoTTL)
}
