package domain

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// processTypePattern is the rule for process types.
//
// NOTE: Dokku takes process types from the app's Procfile through
// procfile-util, whose exact rule is not confirmed here. This rule is
// stricter than any Procfile needs in practice: a leading letter or digit
// keeps a `type=n` argument from being read as a flag by `ps:scale`.
var processTypePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]*$`)

// Limits of ScaleProcesses.
const (
	MaxProcessTypeLength = 63
	MaxProcessQuantity   = 100
)

// ProcessType is a validated process type, such as "web" or "worker".
type ProcessType string

// ParseProcessType validates a process type.
func ParseProcessType(processType string) (ProcessType, error) {
	if len(processType) > MaxProcessTypeLength || !processTypePattern.MatchString(processType) {
		return "", &InvalidArgumentError{
			Field: "process type",
			Value: truncateForMessage(processType),
			Rule:  fmt.Sprintf("use letters, digits, dashes and underscores, starting with a letter or digit, at most %d characters", MaxProcessTypeLength),
		}
	}
	return ProcessType(processType), nil
}

// ProcessScale is the number of containers of one process type.
type ProcessScale struct {
	ProcessType string `json:"process_type"`
	Quantity    int    `json:"quantity"`
}

// PsReportCommand returns `ps:report <app> --format json`.
func PsReportCommand(app AppName) (Command, error) {
	return newCommand("ps:report", string(app), "--format", "json")
}

// PsScaleJSONCommand returns `ps:scale --format json <app>`, which prints the
// current scale.
func PsScaleJSONCommand(app AppName) (Command, error) {
	return newCommand("ps:scale", "--format", "json", string(app))
}

// PsScaleCommand returns `ps:scale [--skip-deploy] <app> <type>=<n>...` with
// the types sorted. It needs at least one count.
func PsScaleCommand(app AppName, counts []ProcessScale, skipDeploy bool) (Command, error) {
	if len(counts) == 0 {
		return Command{}, &InvalidArgumentError{Field: "counts", Redact: true, Rule: "set at least one process type's count"}
	}
	sorted := slices.Clone(counts)
	slices.SortFunc(sorted, func(a, b ProcessScale) int { return strings.Compare(a.ProcessType, b.ProcessType) })
	args := []string{"ps:scale"}
	if skipDeploy {
		args = append(args, "--skip-deploy")
	}
	args = append(args, string(app))
	for _, c := range sorted {
		if _, err := ParseProcessType(c.ProcessType); err != nil {
			return Command{}, err
		}
		if c.Quantity < 0 || c.Quantity > MaxProcessQuantity {
			return Command{}, &InvalidArgumentError{
				Field: "count of process type " + strconv.Quote(c.ProcessType),
				Value: strconv.Itoa(c.Quantity),
				Rule:  fmt.Sprintf("use a count from 0 to %d", MaxProcessQuantity),
			}
		}
		args = append(args, c.ProcessType+"="+strconv.Itoa(c.Quantity))
	}
	return newCommand(args[0], args[1:]...)
}

// PsStartCommand, PsStopCommand and PsRestartCommand return `ps:start`,
// `ps:stop` and `ps:restart <app>`.
func PsStartCommand(app AppName) (Command, error)   { return newCommand("ps:start", string(app)) }
func PsStopCommand(app AppName) (Command, error)    { return newCommand("ps:stop", string(app)) }
func PsRestartCommand(app AppName) (Command, error) { return newCommand("ps:restart", string(app)) }

// RunningState is whether an app's containers run.
type RunningState int

const (
	RunningUnknown RunningState = iota
	Running
	Stopped
	RunningMixed
)

// ProcessReport is the report of one app from `ps:report`.
type ProcessReport struct {
	App           string
	Deployed      bool
	Processes     int
	Running       RunningState
	RestartPolicy string
	// Fields holds every report key in the unprefixed shape.
	Fields map[string]string
}

// ParseProcessReportJSON reads `ps:report <app> --format json`. It accepts
// keys with the "ps-" prefix of Dokku before 0.38.8, without it, or both.
// When both are present, the unprefixed key wins.
func ParseProcessReportJSON(app AppName, stdout []byte) (ProcessReport, error) {
	fields, err := parseReportJSON("ps:report", "ps-", stdout)
	if err != nil {
		return ProcessReport{}, err
	}
	report := ProcessReport{App: string(app), Deployed: fields["deployed"] == "true", Fields: fields}
	if processes := fields["processes"]; processes != "" {
		n, err := strconv.Atoi(processes)
		if err != nil {
			return ProcessReport{}, fmt.Errorf("parse ps:report processes %q: expected a number", truncate(processes, 40))
		}
		report.Processes = n
	}
	switch fields["running"] {
	case "true":
		report.Running = Running
	case "false":
		report.Running = Stopped
	case "mixed":
		report.Running = RunningMixed
	}
	report.RestartPolicy = fields["computed-restart-policy"]
	if report.RestartPolicy == "" {
		report.RestartPolicy = fields["restart-policy"]
	}
	return report, nil
}

// parseReportJSON reads the flat JSON object of a `:report --format json`
// command and drops prefix from its keys. An unprefixed key wins over its
// prefixed twin.
func parseReportJSON(command, prefix string, stdout []byte) (map[string]string, error) {
	var raw map[string]string
	if err := json.Unmarshal(stdout, &raw); err != nil {
		return nil, fmt.Errorf("parse %s JSON output: %w", command, err)
	}
	if raw == nil {
		return nil, fmt.Errorf("parse %s JSON output: expected an object, got null", command)
	}
	fields := make(map[string]string, len(raw))
	for key, value := range raw {
		if unprefixed, ok := strings.CutPrefix(key, prefix); ok {
			if _, both := raw[unprefixed]; both {
				continue
			}
			key = unprefixed
		}
		fields[key] = value
	}
	return fields, nil
}

// ParseScaleJSON reads `ps:scale --format json <app>`: an array of process
// types and quantities. The result is sorted by process type.
func ParseScaleJSON(stdout []byte) ([]ProcessScale, error) {
	var scale []ProcessScale
	if err := json.Unmarshal(stdout, &scale); err != nil {
		return nil, fmt.Errorf("parse ps:scale JSON output: %w", err)
	}
	if scale == nil {
		scale = []ProcessScale{}
	}
	slices.SortFunc(scale, func(a, b ProcessScale) int { return strings.Compare(a.ProcessType, b.ProcessType) })
	return scale, nil
}

// NotDeployedMessage returns Dokku's message for an app without a deploy,
// as `ps:stop`, `ps:start`, `ps:restart` and `logs` print it.
func NotDeployedMessage(app AppName) string {
	return "App " + string(app) + " has not been deployed"
}

// NotDeployedNoOp reports whether result is Dokku's exit status 0 no-op for
// an app that was never deployed. `ps:stop` and `ps:start` print the
// message on stderr, `ps:restart` on stdout (Dokku 0.38.27 recordings 08-08
// and 08-09).
func NotDeployedNoOp(app AppName, result Result) bool {
	if result.ExitStatus != 0 {
		return false
	}
	want := messagePrefix + NotDeployedMessage(app)
	for _, stream := range [][]byte{result.Stderr, result.Stdout} {
		for _, line := range strings.Split(string(stream), "\n") {
			if strings.TrimRight(line, " \r") == want {
				return true
			}
		}
	}
	return false
}

// AlreadyRunningMessage returns the warning of `ps:start`, with exit status
// 0, for an app whose containers already run.
func AlreadyRunningMessage(app AppName) string {
	return "App " + string(app) + " already running"
}
