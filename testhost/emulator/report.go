package emulator

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"unicode"
)

// reportSpec describes one plugin's `:report` command.
type reportSpec struct {
	// command is the full command name, such as "apps:report".
	command string
	// plugin is the name used in the "only a single flag" error.
	plugin string
	// reportType is the word in the header and the JSON key prefix.
	reportType string
	// legacyKeys makes JSON output carry the prefixed keys as well as the
	// unprefixed ones, as apps and ps do since 0.38.8.
	legacyKeys bool
	// appFlags returns the report values for one app, keyed by flag.
	appFlags func(s *session, a *app) map[string]string
	// globalFlags returns the report values for --global.
	globalFlags func(s *session) map[string]string
}

// reportArgs is the result of Dokku's ParseReportArgs.
type reportArgs struct {
	osArgs   []string
	infoFlag string
	isGlobal bool
}

// errReportIndex stands for the index-out-of-range panic that Dokku's
// ParseReportArgs raises when --format is the last argument.
var errReportIndex = errors.New("report index out of range")

// parseReportArgs separates --format, --global and one info flag from the
// other arguments, as Dokku's ParseReportArgs does.
func parseReportArgs(args []string) (reportArgs, int, error) {
	var out reportArgs
	var infoFlags []string
	skipNext := false
	for i, arg := range args {
		if skipNext {
			skipNext = false
			continue
		}
		if arg == "--format" {
			if i+1 >= len(args) {
				return out, i + 1, errReportIndex
			}
			out.osArgs = append(out.osArgs, arg, args[i+1])
			skipNext = true
			continue
		}
		if arg == "--global" {
			out.isGlobal = true
			continue
		}
		if strings.HasPrefix(arg, "--") {
			infoFlags = append(infoFlags, arg)
		} else {
			out.osArgs = append(out.osArgs, arg)
		}
	}

	switch len(infoFlags) {
	case 0:
	case 1:
		out.infoFlag = infoFlags[0]
	default:
		return out, 0, errors.New("only a single flag")
	}
	return out, 0, nil
}

// runReport implements a `:report` command from its spec.
func (s *session) runReport(spec reportSpec, args []string) int {
	parsed, index, err := parseReportArgs(args)
	if errors.Is(err, errReportIndex) {
		// NOTE: the goroutine trace that Go prints after this line is
		// left out.
		s.stderrLine(fmt.Sprintf("panic: runtime error: index out of range [%d] with length %d", index, index))
		s.stderrLine("")
		s.stderrLine("goroutine 1 [running]:")
		return 2
	}
	if err != nil {
		// Dokku drops this error without printing it and exits 0.
		return 0
	}

	fs := s.newFlagSet(spec.command)
	format := fs.String("format", "stdout", "format: [ stdout | json ]")
	if code, ok := fs.parse(parsed.osArgs); !ok {
		return code
	}

	if parsed.isGlobal {
		return s.printReport(spec, "--global", *format, parsed.infoFlag, spec.globalFlags(s))
	}

	appName := fs.Arg(0)
	if appName != "" {
		a, err := s.verifyApp(appName)
		if err != nil {
			return s.failWith(err)
		}
		return s.printReport(spec, appName, *format, parsed.infoFlag, spec.appFlags(s, a))
	}

	names := s.e.sortedAppNames()
	if len(names) == 0 {
		s.warn("You haven't deployed any applications yet")
		return 0
	}
	for _, name := range names {
		if code := s.printReport(spec, name, *format, parsed.infoFlag, spec.appFlags(s, s.e.apps[name])); code != 0 {
			return code
		}
	}
	return 0
}

// printReport renders one report the way Dokku's ReportSingleApp does.
func (s *session) printReport(spec reportSpec, appName, format, infoFlag string, flags map[string]string) int {
	keys := make([]string, 0, len(flags))
	width := 31
	for key := range flags {
		keys = append(keys, key)
		width = max(width, len(key))
	}
	sort.Strings(keys)

	if format == "json" {
		out, err := json.Marshal(s.reportJSON(spec, flags))
		if err != nil {
			return s.failWith(err)
		}
		s.stdoutLine(string(out))
		return 0
	}

	if infoFlag == "" {
		s.info2Quiet(fmt.Sprintf("%s %s information", appName, spec.reportType))
		for _, key := range keys {
			label := strings.NewReplacer("-", " ", ".", " ").Replace(strings.TrimPrefix(key, "--"))
			label = upperFirst(label) + ":"
			s.verbose(label + strings.Repeat(" ", max(0, width-len(label))) + flags[key])
		}
		return 0
	}

	if value, ok := flags[infoFlag]; ok {
		s.stdoutLine(value)
		return 0
	}
	return s.fail("Invalid flag passed, valid flags: " + strings.Join(keys, ", "))
}

// reportJSON builds the flat JSON object of a report. Since 0.38.8 keys drop
// the "<type>-" prefix, and some plugins keep emitting the prefixed keys too.
func (s *session) reportJSON(spec reportSpec, flags map[string]string) map[string]string {
	data := make(map[string]string, len(flags)*2)
	prefix := "--" + spec.reportType + "-"
	for key, value := range flags {
		legacyKey := strings.TrimPrefix(key, "--")
		if !s.e.has(featureUnprefixedReportKeys) || !strings.HasPrefix(key, prefix) {
			data[legacyKey] = value
			continue
		}
		data[strings.TrimPrefix(key, prefix)] = value
		if spec.legacyKeys {
			data[legacyKey] = value
		}
	}
	return data
}

// upperFirst upper-cases the first rune, like Dokku's UcFirst.
func upperFirst(s string) string {
	for i, r := range s {
		return string(unicode.ToUpper(r)) + s[i+len(string(r)):]
	}
	return ""
}
