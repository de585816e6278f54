package emulator

import (
	"fmt"
	"strings"
)

// handler runs one command with the arguments after the command name and
// returns its exit status.
type handler func(s *session, args []string) int

// command is one entry of the command table.
type command struct {
	run handler
	// unlocked marks handlers that take the emulator lock themselves,
	// because they wait for input or stream for a long time.
	unlocked bool
	// since is the first release with the command; zero means all
	// supported releases.
	since    feature
	hasSince bool
	// plugin names the non-core plugin that provides the command.
	plugin string
}

// commands maps each emulated command name to its handler.
var commands map[string]command

func init() {
	commands = map[string]command{
		"apps:create":     {run: cmdAppsCreate},
		"apps:destroy":    {run: cmdAppsDestroy, unlocked: true},
		"apps:exists":     {run: cmdAppsExists},
		"apps:list":       {run: cmdAppsList},
		"apps:lock":       {run: cmdAppsLock},
		"apps:locked":     {run: cmdAppsLocked},
		"apps:rename":     {run: cmdAppsRename},
		"apps:report":     {run: cmdAppsReport},
		"apps:unlock":     {run: cmdAppsUnlock},
		"builds:cancel":   {run: cmdBuildsCancel, since: featureBuilds, hasSince: true},
		"builds:list":     {run: cmdBuildsList, since: featureBuilds, hasSince: true},
		"config:export":   {run: cmdConfigExport},
		"config:get":      {run: cmdConfigGet},
		"config:keys":     {run: cmdConfigKeys},
		"config:set":      {run: cmdConfigSet},
		"config:show":     {run: cmdConfigShow},
		"config:unset":    {run: cmdConfigUnset},
		"domains:add":     {run: cmdDomainsAdd},
		"domains:remove":  {run: cmdDomainsRemove},
		"domains:report":  {run: cmdDomainsReport},
		"domains:set":     {run: cmdDomainsSet},
		"git:from-image":  {run: cmdGitFromImage},
		"git:sync":        {run: cmdGitSync},
		"logs":            {run: cmdLogs, unlocked: true},
		"plugin:list":     {run: cmdPluginList},
		"ps:rebuild":      {run: cmdPsRebuild},
		"ps:report":       {run: cmdPsReport},
		"ps:restart":      {run: cmdPsRestart},
		"ps:scale":        {run: cmdPsScale},
		"ps:start":        {run: cmdPsStart},
		"ps:stop":         {run: cmdPsStop},
		"run":             {run: cmdRun},
		"ssh-keys:list":   {run: cmdSSHKeysList},
		"ssh-keys:add":    {run: cmdSSHKeysAdd, unlocked: true},
		"ssh-keys:remove": {run: cmdSSHKeysRemove},

		"letsencrypt:active":  {run: cmdLetsencryptActive, plugin: "letsencrypt"},
		"letsencrypt:disable": {run: cmdLetsencryptDisable, plugin: "letsencrypt"},
		"letsencrypt:enable":  {run: cmdLetsencryptEnable, plugin: "letsencrypt"},
		"letsencrypt:report":  {run: cmdLetsencryptReport, plugin: "letsencrypt"},
		"letsencrypt:set":     {run: cmdLetsencryptSet, plugin: "letsencrypt"},
	}
	for prefix := range servicePlugins {
		for name, run := range map[string]func(*session, servicePlugin, []string) int{
			"create":  cmdServiceCreate,
			"destroy": cmdServiceDestroy,
			"info":    cmdServiceInfo,
			"link":    cmdServiceLink,
			"list":    cmdServiceList,
			"unlink":  cmdServiceUnlink,
		} {
			commands[prefix+":"+name] = command{run: serviceCommand(prefix, run), plugin: prefix}
		}
	}
}

// pluginAliases are the short plugin names that /usr/bin/dokku rewrites
// before it looks a command up.
var pluginAliases = map[string]string{
	"docker-local": "scheduler-docker-local",
	"dockerfile":   "builder-dockerfile",
	"herokuish":    "builder-herokuish",
	"k3s":          "scheduler-k3s",
	"lambda":       "builder-lambda",
	"nixpacks":     "builder-nixpacks",
	"pack":         "builder-pack",
	"rails":        "builder-railpack",
}

// dispatch runs the command in args[0] the way /usr/bin/dokku's case
// statement and execute_dokku_cmd do.
func (s *session) dispatch(args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "" {
		return s.help()
	}
	switch args[0] {
	case "version", "-v", "--version":
		s.stdoutLine("dokku version " + s.e.version)
		return 0
	}

	name := args[0]
	prefix, rest, hasColon := strings.Cut(name, ":")
	if target, ok := pluginAliases[prefix]; ok {
		prefix = target
		name = target
		if hasColon {
			name = target + ":" + rest
		}
		args = append([]string{name}, args[1:]...)
	}

	// Core plugins receive the --app value as their first argument.
	if s.e.isCorePlugin(pluginDirectory(prefix, name)) && s.appFlag != "" {
		args = append([]string{name, s.appFlag}, args[1:]...)
	}

	cmd, ok := s.e.lookup(name)
	if !ok {
		if s.isUnemulated(name, prefix, hasColon, rest) {
			// TODO: emulate more commands; until then the caller learns
			// that the gap is in the test host, not in Dokku.
			s.warn(fmt.Sprintf("`%s` is not emulated by the Dokku test host", name))
			return 1
		}
		s.warn(fmt.Sprintf("`%s` is not a dokku command.", strings.Join(args, " ")))
		s.warn("See `dokku help` for a list of available commands.")
		return 1
	}

	// ps:rebuild and ps:restart capture everything they print into a build
	// log through tee, so their stderr reaches the client on stdout.
	if (name == "ps:rebuild" || name == "ps:restart") && len(args) > 1 && args[1] != "" && s.e.has(featureBuilds) {
		s.e.mu.Lock()
		s.captureBuild(args[1], name)
		s.e.mu.Unlock()
	}

	if !cmd.unlocked {
		s.e.mu.Lock()
		defer s.e.mu.Unlock()
	}
	return cmd.run(s, args[1:])
}

// pluginDirectory returns the plugin that /usr/bin/dokku looks in for a
// command with the given prefix.
func pluginDirectory(prefix, name string) string {
	switch prefix {
	case "events":
		return "20_events"
	case "caddy", "haproxy", "nginx", "openresty", "traefik":
		return prefix + "-vhosts"
	}
	switch name {
	case "deploy", "cleanup", "url", "urls", "report":
		return "00_dokku-standard"
	}
	return prefix
}

// lookup returns the handler for name if the emulated version and the
// installed plugins provide it.
func (e *Emulator) lookup(name string) (command, bool) {
	cmd, ok := commands[name]
	if !ok {
		return command{}, false
	}
	if cmd.hasSince && !e.has(cmd.since) {
		return command{}, false
	}
	if cmd.plugin != "" && e.pluginByName(cmd.plugin) == nil {
		return command{}, false
	}
	return cmd, true
}

// isUnemulated reports whether a real host would run name: a core command
// the emulator lacks, a plugin's own name or help command, or any command
// of an installed community plugin.
func (s *session) isUnemulated(name, prefix string, hasColon bool, rest string) bool {
	if unemulatedCommands[name] {
		return true
	}
	plugin := s.e.pluginByName(pluginDirectory(prefix, name))
	if plugin == nil {
		return false
	}
	return !plugin.Core || !hasColon || rest == "help"
}

// help prints the header of `dokku help`.
//
// TODO: list the commands of every plugin as Dokku does after the header.
func (s *session) help() int {
	if s.quiet {
		return 0
	}
	s.stdoutLine("Usage: dokku [--quiet|--trace|--force] COMMAND <app> [command-specific-options]")
	s.stdoutLine("")
	s.stdoutLine(`Primary help options, type "dokku COMMAND:help" for more details, or dokku help --all to see all commands.`)
	s.stdoutLine("")
	s.stdoutLine("Commands:")
	s.stdoutLine("")
	return 0
}
