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
	key := target.TenantID + "/" + target.Host.ID
	s.hostInfosMu.Lock()
	info, ok := s.hostInfos[key]
	s.hostInfosMu.Unlock()
	if ok && s.now().Before(info.FetchTime.Add(HostInfoTTL)) {
		return info, nil
	}

	info, err = s.fetchHostInfo(ctx, target)
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
