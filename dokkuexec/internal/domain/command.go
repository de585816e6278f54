package domain

import (
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
)

// MaxCommandBytes is the longest command string a Dokku host accepts over
// SSH. sshd hands the command to the forced command as the environment string
// SSH_ORIGINAL_COMMAND=<command>, and Linux limits one such string to
// MAX_ARG_STRLEN (131072 bytes, including its terminating NUL).
const MaxCommandBytes = 131072 - len("SSH_ORIGINAL_COMMAND=") - 1

// Command is one Dokku command line, built only from validated values by the
// constructors in this file. Every argument survives both of the forced
// command's tokenizing passes unchanged:
//
//  1. bash splits the unquoted $SSH_ORIGINAL_COMMAND on blanks and expands
//     glob patterns;
//  2. Dokku re-tokenizes the string with `xargs -n 1`, which runs /bin/echo
//     once per word, so quotes and backslashes are interpreted and a word
//     that echo takes as an option (-n, -e, -E, --help, --version) is lost
//     or replaced.
//
// Arguments are therefore restricted to a small set of bytes that neither
// pass treats specially, and values are sent base64-encoded.
type Command struct {
	args []string
}

// Args returns a copy of the argument vector Dokku runs.
func (c Command) Args() []string { return slices.Clone(c.args) }

// String returns the command string sent in the SSH exec request.
func (c Command) String() string { return strings.Join(c.args, " ") }

// Name returns the Dokku subcommand, such as "apps:list". Logs use it in
// place of the full command, whose arguments may carry config values.
func (c Command) Name() string {
	for _, arg := range c.args {
		if !strings.HasPrefix(arg, "--") {
			return arg
		}
	}
	return ""
}

// VersionCommand returns `version`.
func VersionCommand() Command {
	return mustCommand("version")
}

// AppsListCommand returns `apps:list`, with `--format json` when json is set
// (Dokku 0.38.21 and later).
func AppsListCommand(json bool) Command {
	if json {
		return mustCommand("apps:list", "--format", "json")
	}
	return mustCommand("apps:list")
}

// AppsCreateCommand returns `apps:create <app>`.
func AppsCreateCommand(app AppName) (Command, error) {
	return newCommand("apps:create", string(app))
}

// AppsReportCommand returns `apps:report <app>`, with `--format json` when
// json is set. The app is always given because without it Dokku reports every
// app and its JSON objects do not name the app.
func AppsReportCommand(app AppName, json bool) (Command, error) {
	if json {
		return newCommand("apps:report", string(app), "--format", "json")
	}
	return newCommand("apps:report", string(app))
}

// AppsDestroyCommand returns `--force apps:destroy <app>`. Without --force,
// Dokku prompts for the app's name on stdin, which is empty, so it fails.
// The flag goes before the subcommand because Dokku takes global flags
// there (Dokku 0.38.27 also accepts it after the app).
func AppsDestroyCommand(app AppName) (Command, error) {
	return newCommand("--force", "apps:destroy", string(app))
}

// AppsRenameCommand returns `apps:rename <app> <newName>`.
func AppsRenameCommand(app, newName AppName) (Command, error) {
	return newCommand("apps:rename", string(app), string(newName))
}

// AppsLockCommand returns `apps:lock <app>`.
func AppsLockCommand(app AppName) (Command, error) {
	return newCommand("apps:lock", string(app))
}

// AppsUnlockCommand returns `apps:unlock <app>`.
func AppsUnlockCommand(app AppName) (Command, error) {
	return newCommand("apps:unlock", string(app))
}

// ConfigGetCommand returns `config:get <app> <key>`.
func ConfigGetCommand(app AppName, key ConfigKey) (Command, error) {
	return newCommand("config:get", string(app), string(key))
}

// ConfigVar is one config var to set.
type ConfigVar struct {
	Key ConfigKey
	// Value is sent as exact bytes; it may hold anything, including
	// newlines, quotes and an empty string.
	Value string
}

// ConfigSetCommand returns `config:set --encoded [--no-restart] <app>
// KEY=<base64>...` with the vars sorted by key. Dokku decodes each value with
// --encoded, so the bytes arrive unchanged whatever they contain.
func ConfigSetCommand(app AppName, vars []ConfigVar, noRestart bool) (Command, error) {
	if len(vars) == 0 {
		return Command{}, &InvalidArgumentError{Field: "config vars", Redact: true, Rule: "set at least one config var"}
	}
	sorted := slices.Clone(vars)
	slices.SortFunc(sorted, func(a, b ConfigVar) int { return strings.Compare(string(a.Key), string(b.Key)) })
	for i := 1; i < len(sorted); i++ {
		if sorted[i].Key == sorted[i-1].Key {
			return Command{}, &InvalidArgumentError{Field: "config key", Value: string(sorted[i].Key), Rule: "set each key once"}
		}
	}

	args := []string{"config:set", "--encoded"}
	if noRestart {
		args = append(args, "--no-restart")
	}
	args = append(args, string(app))
	for _, v := range sorted {
		if _, err := ParseConfigKey(string(v.Key)); err != nil {
			return Command{}, err
		}
		args = append(args, string(v.Key)+"="+base64.StdEncoding.EncodeToString([]byte(v.Value)))
	}

	cmd, err := newCommand(args[0], args[1:]...)
	if err != nil {
		return Command{}, err
	}
	return cmd, nil
}

// ConfigUnsetCommand returns `config:unset [--no-restart] <app> KEY...` with
// the keys sorted.
func ConfigUnsetCommand(app AppName, keys []ConfigKey, noRestart bool) (Command, error) {
	if len(keys) == 0 {
		return Command{}, &InvalidArgumentError{Field: "config keys", Redact: true, Rule: "name at least one config key"}
	}
	sorted := slices.Clone(keys)
	slices.Sort(sorted)
	for i := 1; i < len(sorted); i++ {
		if sorted[i] == sorted[i-1] {
			return Command{}, &InvalidArgumentError{Field: "config key", Value: string(sorted[i]), Rule: "name each key once"}
		}
	}

	args := []string{"config:unset"}
	if noRestart {
		args = append(args, "--no-restart")
	}
	args = append(args, string(app))
	for _, key := range sorted {
		if _, err := ParseConfigKey(string(key)); err != nil {
			return Command{}, err
		}
		args = append(args, string(key))
	}
	return newCommand(args[0], args[1:]...)
}

// ConfigExportJSONCommand returns `config:export --format json <app>`.
func ConfigExportJSONCommand(app AppName) (Command, error) {
	return newCommand("config:export", "--format", "json", string(app))
}

// newCommand checks every argument and the total length.
func newCommand(subcommand string, args ...string) (Command, error) {
	all := append([]string{subcommand}, args...)
	for i, arg := range all {
		if err := checkArgument(arg); err != nil {
			// The argument itself is left out: it may be an encoded
			// config value.
			return Command{}, fmt.Errorf("argument %d of %s: %w", i, subcommand, err)
		}
	}

	cmd := Command{args: all}
	if n := len(cmd.String()); n > MaxCommandBytes {
		return Command{}, &InvalidArgumentError{
			Field:  "request",
			Redact: true,
			Rule:   fmt.Sprintf("the %s command would be %d bytes, over the %d bytes a Dokku host accepts over SSH; send fewer or smaller values per call", subcommand, n, MaxCommandBytes),
		}
	}
	return cmd, nil
}

// mustCommand builds a command from constant arguments.
func mustCommand(subcommand string, args ...string) Command {
	cmd, err := newCommand(subcommand, args...)
	if err != nil {
		panic(err)
	}
	return cmd
}

// checkArgument reports whether arg would reach Dokku unchanged. Validated
// names and base64 values always pass, so a failure here is a bug in a
// constructor, not a caller error.
func checkArgument(arg string) error {
	if arg == "" {
		return fmt.Errorf("empty argument would be dropped by the shell")
	}
	for i := 0; i < len(arg); i++ {
		if !isSafeArgumentByte(arg[i]) {
			return fmt.Errorf("byte %#x at offset %d would be interpreted by the shell or xargs", arg[i], i)
		}
	}
	if isEchoOption(arg) {
		return fmt.Errorf("argument would be taken by /bin/echo as an option")
	}
	return nil
}

// isSafeArgumentByte allows letters, digits and punctuation that neither
// bash word splitting and globbing nor xargs quoting treat specially.
func isSafeArgumentByte(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("._:=+/,@%-", c) >= 0
}

// isEchoOption reports whether GNU coreutils echo, which xargs runs on each
// word, would take arg as an option: --help, --version, or a dash followed
// only by the letters n, e and E.
func isEchoOption(arg string) bool {
	if arg == "--help" || arg == "--version" {
		return true
	}
	return len(arg) > 1 && arg[0] == '-' && strings.Trim(arg[1:], "neE") == ""
}
