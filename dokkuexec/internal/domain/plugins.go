package domain

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// PluginListJSONSince is the first release with `plugin:list --format json`.
var PluginListJSONSince = Version{Major: 0, Minor: 38, Patch: 22}

// Plugin is one plugin installed on a Dokku host.
type Plugin struct {
	Name        string `json:"name"`
	Version     string `json:"version"`
	Enabled     bool   `json:"enabled"`
	Core        bool   `json:"core"`
	Description string `json:"description"`
}

// PluginListCommand returns `plugin:list`, with `--format json` when json is
// set.
func PluginListCommand(json bool) Command {
	if json {
		return mustCommand("plugin:list", "--format", "json")
	}
	return mustCommand("plugin:list")
}

// ParsePluginListJSON reads `plugin:list --format json`.
func ParsePluginListJSON(stdout []byte) ([]Plugin, error) {
	var plugins []Plugin
	if err := json.Unmarshal(stdout, &plugins); err != nil {
		return nil, fmt.Errorf("parse plugin:list JSON output: %w", err)
	}
	if plugins == nil {
		plugins = []Plugin{}
	}
	return plugins, nil
}

// pluginLine is one line of the text form of `plugin:list`: the name, the
// version, "enabled" or "disabled", and the description.
var pluginLine = regexp.MustCompile(`^\s*(\S+)\s+(\S+)\s+(enabled|disabled)\s*(.*)$`)

// ParsePluginListText reads the text form of `plugin:list`. It does not say
// which plugins are core plugins, so Core stays false.
func ParsePluginListText(stdout []byte) ([]Plugin, error) {
	plugins := []Plugin{}
	for _, line := range strings.Split(string(stdout), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		m := pluginLine.FindStringSubmatch(line)
		if m == nil {
			return nil, fmt.Errorf("parse plugin:list output: line %q is not \"<name> <version> enabled|disabled <description>\"", truncate(line, 80))
		}
		plugins = append(plugins, Plugin{Name: m[1], Version: m[2], Enabled: m[3] == "enabled", Description: strings.TrimSpace(m[4])})
	}
	return plugins, nil
}
