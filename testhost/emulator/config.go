package emulator

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/joho/godotenv"
	"github.com/ryanuber/columnize"
)

// validConfigKey applies Dokku's rule for config var names,
// ^[a-zA-Z_][a-zA-Z0-9_]*$.
func validConfigKey(key string) error {
	if key == "" || !(isLetter(key[0]) || key[0] == '_') {
		return fmt.Errorf("Invalid key name: '%s'", key)
	}
	for i := 1; i < len(key); i++ {
		c := key[i]
		if !(isLetter(c) || c == '_' || (c >= '0' && c <= '9')) {
			return fmt.Errorf("Invalid key name: '%s'", key)
		}
	}
	return nil
}

func isLetter(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }

// storeConfig returns env as Dokku reads it back after writing its ENV file
// with godotenv. The round trip is not always exact: an integer value such
// as "007" or "+5" is written unquoted in canonical form and reads back as
// "7" or "5".
func storeConfig(env map[string]string) map[string]string {
	content, err := godotenv.Marshal(env)
	if err != nil {
		return maps.Clone(env)
	}
	stored, err := godotenv.Unmarshal(content + "\n")
	if err != nil {
		return maps.Clone(env)
	}
	return stored
}

// configTarget resolves the environment a config command works on: the
// app's, or the global one when global is set.
func (s *session) configTarget(appName string, global bool) (*map[string]string, *app, error) {
	if global {
		return &s.e.globalConfig, nil, nil
	}
	a, err := s.verifyApp(appName)
	if err != nil {
		return nil, nil, err
	}
	return &a.config, a, nil
}

// configArgs parses the flags shared by the config commands and returns the
// app name and the remaining arguments.
func configArgs(fs *flagSet, global bool) (string, []string) {
	rest := fs.Args()
	if global {
		return "", rest
	}
	if len(rest) == 0 {
		return "", nil
	}
	return rest[0], rest[1:]
}

// prettyEnv formats entries in two columns like Dokku's
// prettyPrintEnvEntries, which trims each value of surrounding white space.
func prettyEnv(prefix string, entries map[string]string) string {
	config := columnize.DefaultConfig()
	config.Prefix = prefix
	config.Delim = "\x00"

	lines := make([]string, 0, len(entries))
	for _, key := range slices.Sorted(maps.Keys(entries)) {
		lines = append(lines, key+":\x00"+entries[key])
	}
	return columnize.Format(lines, config)
}

func cmdConfigSet(s *session, args []string) int {
	fs := s.newFlagSet("config:set")
	global := fs.Bool("global", false, "--global: use the global environment")
	encoded := fs.Bool("encoded", false, "--encoded: interpret VALUEs as base64")
	noRestart := fs.Bool("no-restart", false, "--no-restart: no restart")
	if code, ok := fs.parse(args); !ok {
		return code
	}
	appName, pairs := configArgs(fs, *global)

	env, a, err := s.configTarget(appName, *global)
	if err != nil {
		return s.failWith(err)
	}
	if len(pairs) == 0 {
		return s.fail("At least one env pair must be given")
	}

	updated := map[string]string{}
	for _, pair := range pairs {
		key, value, found := strings.Cut(pair, "=")
		if !found {
			return s.fail(fmt.Sprintf("Invalid env pair: %v", pair))
		}
		if *encoded {
			decoded, err := base64.StdEncoding.DecodeString(value)
			if err != nil {
				return s.fail(fmt.Sprintf("%s for key '%s'", err.Error(), key))
			}
			value = string(decoded)
		}
		updated[key] = value
	}
	// Dokku validates in map order; sorting makes the reported key stable.
	for _, key := range slices.Sorted(maps.Keys(updated)) {
		if err := validConfigKey(key); err != nil {
			return s.failWith(err)
		}
	}

	s.info1Quiet("Setting config vars")
	if !s.quiet {
		s.stdoutLine(prettyEnv("       ", updated))
	}
	merged := maps.Clone(*env)
	maps.Copy(merged, updated)
	*env = storeConfig(merged)

	if a != nil && !*noRestart {
		s.restartAfterConfigChange(a)
	}
	return 0
}

// restartAfterConfigChange redeploys a deployed app after its config
// changed, as Dokku does unless --no-restart is given.
func (s *session) restartAfterConfigChange(a *app) {
	if !a.deployed {
		return
	}
	s.info1(fmt.Sprintf("Restarting app %s", a.name))
	s.releaseAndDeploy(a)
}

func cmdConfigGet(s *session, args []string) int {
	fs := s.newFlagSet("config:get")
	global := fs.Bool("global", false, "--global: use the global environment")
	quoted := fs.Bool("quoted", false, "--quoted: get the value quoted")
	if code, ok := fs.parse(args); !ok {
		return code
	}
	appName, keys := configArgs(fs, *global)

	env, _, err := s.configTarget(appName, *global)
	if err != nil {
		return s.failWith(err)
	}
	if len(keys) == 0 {
		return s.fail("Expected: key")
	}
	if len(keys) != 1 {
		return s.fail(fmt.Sprintf("Unexpected argument(s): %v", keys[1:]))
	}

	// A missing or invalid key exits 1 without any output.
	value, ok := (*env)[keys[0]]
	if !ok || validConfigKey(keys[0]) != nil {
		return 1
	}
	if *quoted {
		s.stdoutLine("'" + singleQuoteEscape(value) + "'")
		return 0
	}
	s.stdoutLine(value)
	return 0
}

func cmdConfigUnset(s *session, args []string) int {
	fs := s.newFlagSet("config:unset")
	global := fs.Bool("global", false, "--global: use the global environment")
	noRestart := fs.Bool("no-restart", false, "--no-restart: no restart")
	if code, ok := fs.parse(args); !ok {
		return code
	}
	appName, keys := configArgs(fs, *global)

	env, a, err := s.configTarget(appName, *global)
	if err != nil {
		return s.failWith(err)
	}
	if len(keys) == 0 {
		return s.fail("At least one key must be given")
	}
	for _, key := range keys {
		if err := validConfigKey(key); err != nil {
			return s.failWith(err)
		}
	}

	updated := maps.Clone(*env)
	for _, key := range keys {
		if _, ok := updated[key]; ok {
			s.info1Quiet("Unsetting " + key)
			delete(updated, key)
		} else {
			s.info1Quiet(fmt.Sprintf("Skipping %s, it is not set in the environment", key))
		}
	}
	*env = storeConfig(updated)

	if a != nil && !*noRestart {
		s.restartAfterConfigChange(a)
	}
	return 0
}

// configEnv resolves the environment for the read-only config commands,
// merged with the global one when merged is set.
func (s *session) configEnv(appName string, global, merged bool) (map[string]string, error) {
	env, _, err := s.configTarget(appName, global)
	if err != nil {
		return nil, err
	}
	if merged && !global {
		out := maps.Clone(s.e.globalConfig)
		maps.Copy(out, *env)
		return out, nil
	}
	return *env, nil
}

func cmdConfigKeys(s *session, args []string) int {
	fs := s.newFlagSet("config:keys")
	global := fs.Bool("global", false, "--global: use the global environment")
	merged := fs.Bool("merged", false, "--merged: merge app environment and global environment")
	if code, ok := fs.parse(args); !ok {
		return code
	}
	appName, _ := configArgs(fs, *global)

	env, err := s.configEnv(appName, *global, *merged)
	if err != nil {
		return s.failWith(err)
	}
	for _, key := range slices.Sorted(maps.Keys(env)) {
		s.stdoutLine(key)
	}
	return 0
}

func cmdConfigShow(s *session, args []string) int {
	fs := s.newFlagSet("config:show")
	global := fs.Bool("global", false, "--global: use the global environment")
	merged := fs.Bool("merged", false, "--merged: display the app's environment merged with the global environment")
	if code, ok := fs.parse(args); !ok {
		return code
	}
	appName, _ := configArgs(fs, *global)

	env, err := s.configEnv(appName, *global, *merged)
	if err != nil {
		return s.failWith(err)
	}
	context := "global"
	if appName != "" {
		context = appName
	}
	s.info2Quiet(context + " env vars")
	s.stdoutLine(prettyEnv("", env))
	return 0
}

func cmdConfigExport(s *session, args []string) int {
	fs := s.newFlagSet("config:export")
	global := fs.Bool("global", false, "--global: use the global environment")
	merged := fs.Bool("merged", false, "--merged: merge app environment and global environment")
	format := fs.String("format", "exports", "--format: [ docker-args | docker-args-keys | exports | envfile | json | json-list | pack-keys | pretty | shell ] which format to export as)")
	if code, ok := fs.parse(args); !ok {
		return code
	}
	appName, _ := configArgs(fs, *global)

	env, err := s.configEnv(appName, *global, *merged)
	if err != nil {
		return s.failWith(err)
	}
	exported, err := exportConfig(env, *format)
	if err != nil {
		return s.failWith(err)
	}
	suffix := "\n"
	if *format == "shell" {
		suffix = " "
	}
	s.write(s.stdout, exported+suffix)
	return 0
}

// exportConfig renders env in one of the config:export formats.
func exportConfig(env map[string]string, format string) (string, error) {
	keys := slices.Sorted(maps.Keys(env))
	joinQuoted := func(prefix, separator string) string {
		entries := make([]string, len(keys))
		for i, key := range keys {
			entries[i] = fmt.Sprintf("%s%s='%s'", prefix, key, singleQuoteEscape(env[key]))
		}
		return strings.Join(entries, separator)
	}
	joinKeys := func(prefix string) string {
		entries := make([]string, len(keys))
		for i, key := range keys {
			entries[i] = prefix + key
		}
		return strings.Join(entries, " ")
	}

	switch format {
	case "exports":
		return joinQuoted("export ", "\n"), nil
	case "envfile":
		content, _ := godotenv.Marshal(env)
		return content, nil
	case "docker-args":
		return joinQuoted("--env=", " "), nil
	case "docker-args-keys":
		return joinKeys("--env="), nil
	case "pack-keys":
		return joinKeys("--env "), nil
	case "shell":
		return joinQuoted("", " "), nil
	case "pretty":
		return prettyEnv("", env), nil
	case "json":
		out, err := json.Marshal(env)
		if err != nil {
			return "{}", nil
		}
		return string(out), nil
	case "json-list":
		// Dokku marshals a nil slice here, so an empty environment
		// exports as "null".
		var list []map[string]string
		for _, key := range keys {
			list = append(list, map[string]string{"name": key, "value": env[key]})
		}
		out, _ := json.Marshal(list)
		return string(out), nil
	}
	return "", errors.New("Unknown export format: " + format)
}

// singleQuoteEscape escapes value for use inside single quotes in a shell.
func singleQuoteEscape(value string) string {
	return strings.ReplaceAll(value, "'", `'\''`)
}
