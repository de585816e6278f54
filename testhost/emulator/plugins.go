package emulator

import (
	"fmt"
	"slices"
	"strings"
)

// pluginInfo is one installed plugin as `plugin:list --format json` prints it.
type pluginInfo struct {
	Name        string `json:"name"`
	Version     string `json:"version"`
	Enabled     bool   `json:"enabled"`
	Core        bool   `json:"core"`
	Description string `json:"description"`
	SourceURL   string `json:"source_url"`
	Committish  string `json:"committish"`
	Branch      string `json:"branch"`
}

// corePlugins lists Dokku's core plugins; a plugin whose description is
// empty is described as "dokku core <name> plugin".
var corePlugins = []struct {
	name        string
	description string
	since       feature
	hasSince    bool
}{
	{name: "00_dokku-standard", description: "dokku core standard plugin"},
	{name: "20_events", description: "dokku core events logging plugin"},
	{name: "app-json"},
	{name: "apps"},
	{name: "builder"},
	{name: "builder-dockerfile"},
	{name: "builder-herokuish"},
	{name: "builder-lambda"},
	{name: "builder-nixpacks"},
	{name: "builder-null"},
	{name: "builder-pack"},
	{name: "builder-railpack", since: featureRailpack, hasSince: true},
	{name: "buildpacks"},
	{name: "builds", since: featureBuilds, hasSince: true},
	{name: "caddy-vhosts"},
	{name: "certs", description: "dokku core certificate management plugin"},
	{name: "checks"},
	{name: "common"},
	{name: "config"},
	{name: "cron"},
	{name: "docker-options"},
	{name: "domains"},
	{name: "enter"},
	{name: "git"},
	{name: "haproxy-vhosts"},
	{name: "logs"},
	{name: "network"},
	{name: "nginx-vhosts"},
	{name: "openresty-vhosts"},
	{name: "plugin"},
	{name: "ports"},
	{name: "proxy"},
	{name: "ps"},
	{name: "registry"},
	{name: "repo"},
	{name: "resource"},
	{name: "run"},
	{name: "scheduler"},
	{name: "scheduler-docker-local"},
	{name: "scheduler-k3s"},
	{name: "scheduler-null"},
	{name: "shell"},
	{name: "ssh-keys"},
	{name: "storage"},
	{name: "trace"},
	{name: "traefik-vhosts"},
}

// buildsPluginVersion is the version the builds plugin declares in its
// plugin.toml in 0.38.x, which differs from Dokku's own version.
const buildsPluginVersion = "0.34.0"

// knownPlugins describes the community plugins that Options.Plugins may name.
//
// The versions are those in each plugin's plugin.toml (dokku-postgres 1.48.0,
// dokku-redis 1.43.0, dokku-letsencrypt 0.25.1), whose commands the emulator
// follows. NOTE: the commit ids are placeholders.
var knownPlugins = map[string]pluginInfo{
	"postgres": {
		Version:     "1.48.0",
		Description: "dokku postgres service plugin",
		SourceURL:   "https://github.com/dokku/dokku-postgres.git",
		Committish:  "0000000000000000000000000000000000000001",
		Branch:      "master",
	},
	"redis": {
		Version:     "1.43.0",
		Description: "dokku redis service plugin",
		SourceURL:   "https://github.com/dokku/dokku-redis.git",
		Committish:  "0000000000000000000000000000000000000002",
		Branch:      "master",
	},
	"letsencrypt": {
		Version:     "0.25.1",
		Description: "Automated installation of let's encrypt TLS certificates",
		SourceURL:   "https://github.com/dokku/dokku-letsencrypt.git",
		Committish:  "0000000000000000000000000000000000000003",
		Branch:      "master",
	},
}

// installedPlugins returns the core plugins of the emulated version and the
// extra plugins, sorted by name as plugn lists its plugin directory.
func (e *Emulator) installedPlugins(extra []string) []pluginInfo {
	version := releaseString(e.version)
	var plugins []pluginInfo
	for _, core := range corePlugins {
		if core.hasSince && !e.has(core.since) {
			continue
		}
		description := core.description
		if description == "" {
			description = fmt.Sprintf("dokku core %s plugin", core.name)
		}
		pluginVersion := version
		if core.name == "builds" {
			pluginVersion = buildsPluginVersion
		}
		plugins = append(plugins, pluginInfo{Name: core.name, Version: pluginVersion, Enabled: true, Core: true, Description: description})
	}

	for _, name := range extra {
		if slices.ContainsFunc(plugins, func(p pluginInfo) bool { return p.Name == name }) {
			continue
		}
		info, ok := knownPlugins[name]
		if !ok {
			info = pluginInfo{Version: "0.1.0", Description: fmt.Sprintf("dokku %s plugin", name)}
		}
		info.Name = name
		info.Enabled = true
		plugins = append(plugins, info)
	}

	slices.SortFunc(plugins, func(a, b pluginInfo) int { return strings.Compare(a.Name, b.Name) })
	return plugins
}

// pluginByName returns the installed plugin called name, or nil.
func (e *Emulator) pluginByName(name string) *pluginInfo {
	for i := range e.plugins {
		if e.plugins[i].Name == name {
			return &e.plugins[i]
		}
	}
	return nil
}

// isCorePlugin reports whether name is an installed core plugin.
func (e *Emulator) isCorePlugin(name string) bool {
	p := e.pluginByName(name)
	return p != nil && p.Core
}

func cmdPluginList(s *session, args []string) int {
	format := "stdout"
	for i := 0; i < len(args); i++ {
		switch {
		case args[i] == "--format":
			format = ""
			if i+1 < len(args) {
				format = args[i+1]
				i++
			}
		case strings.HasPrefix(args[i], "--format="):
			format = strings.TrimPrefix(args[i], "--format=")
		}
	}

	// Before 0.38.22 plugin:list ignores its arguments.
	if !s.e.has(featurePluginListJSON) {
		format = "stdout"
	}
	if format != "stdout" && format != "json" {
		return s.fail("Invalid output format specified, supported formats: json, stdout")
	}
	if format == "json" {
		return s.printJSON(s.e.plugins)
	}

	for _, p := range s.e.plugins {
		state := "disabled"
		if p.Enabled {
			state = "enabled"
		}
		s.stdoutLine(fmt.Sprintf("  %-20s %s %-10s %s", p.Name, p.Version, state, p.Description))
	}
	return 0
}
