package emulator

import (
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
)

// psReport is the spec of `ps:report`.
var psReport = reportSpec{
	command:    "ps:report",
	plugin:     "ps",
	reportType: "ps",
	legacyKeys: true,
	appFlags: func(s *session, a *app) map[string]string {
		flags := psPropertyFlags(s, a)
		for _, container := range a.containers() {
			status := "exited"
			if a.running() {
				status = "running"
			}
			flags["--status-"+container] = fmt.Sprintf("%s (CID: %s)", status, containerID(a.name, container)[:11])
		}
		return flags
	},
	globalFlags: func(s *session) map[string]string {
		return map[string]string{
			"--ps-computed-procfile-path":        "Procfile",
			"--ps-computed-restart-policy":       "on-failure:10",
			"--ps-computed-skip-deploy":          "false",
			"--ps-computed-stop-timeout-seconds": "30",
			"--ps-global-procfile-path":          "",
			"--ps-global-restart-policy":         "",
			"--ps-global-skip-deploy":            "",
			"--ps-global-stop-timeout-seconds":   "",
		}
	},
}

// running reports whether the app's containers run.
func (a *app) running() bool { return a.deployed && !a.stopped }

// runningProcessCount returns the ps report's process count, which counts
// existing containers and so is 0 before the first deploy.
func (a *app) runningProcessCount() int {
	if !a.deployed {
		return 0
	}
	return a.processCount()
}

// containers returns the deployed containers as "<type>-<n>" names.
func (a *app) containers() []string {
	if !a.deployed {
		return nil
	}
	var names []string
	for _, f := range a.sortedScale() {
		for i := 1; i <= f.Quantity; i++ {
			names = append(names, fmt.Sprintf("%s-%d", f.ProcessType, i))
		}
	}
	return names
}

// containerID returns a stable 64-digit hex container id for a container.
func containerID(appName, container string) string {
	var id strings.Builder
	for i := range 4 {
		h := fnv.New64a()
		fmt.Fprintf(h, "%s/%s/%d", appName, container, i)
		fmt.Fprintf(&id, "%016x", h.Sum64())
	}
	return id.String()
}

// sortedScale returns the formations sorted by process type, as
// `ps:scale` lists them.
func (a *app) sortedScale() []formation {
	sorted := slices.Clone(a.scale)
	slices.SortStableFunc(sorted, func(x, y formation) int { return strings.Compare(x.ProcessType, y.ProcessType) })
	return sorted
}

func cmdPsReport(s *session, args []string) int {
	return s.runReport(psReport, args)
}

func cmdPsScale(s *session, args []string) int {
	fs := s.newFlagSet("ps:scale")
	skipDeploy := fs.Bool("skip-deploy", false, "--skip-deploy: skip deploy of the app")
	format := fs.String("format", "stdout", "format: [ stdout | json ]")
	if code, ok := fs.parse(args); !ok {
		return code
	}

	a, err := s.verifyApp(fs.Arg(0))
	if err != nil {
		return s.failWith(err)
	}
	tuples := fs.Args()[1:]
	if len(tuples) == 0 {
		return s.printScale(a, *format)
	}

	s.info1(fmt.Sprintf("Scaling %s processes: %s", a.name, strings.Join(tuples, " ")))
	updates, err := parseProcessTuples(tuples)
	if err != nil {
		return s.failWith(err)
	}

	var changed []formation
	for _, update := range updates {
		i := slices.IndexFunc(a.scale, func(f formation) bool { return f.ProcessType == update.ProcessType })
		if i < 0 || a.scale[i].Quantity != update.Quantity {
			changed = append(changed, update)
		}
	}
	scale := slices.Clone(updates)
	for _, existing := range a.scale {
		if !slices.ContainsFunc(updates, func(f formation) bool { return f.ProcessType == existing.ProcessType }) {
			scale = append(scale, existing)
		}
	}
	a.scale = scale

	if *skipDeploy || !a.deployed {
		return 0
	}
	for _, f := range changed {
		s.deployProcess(a, f)
	}
	return 0
}

// printScale prints the scale table or its JSON form.
func (s *session) printScale(a *app, format string) int {
	formations := a.sortedScale()
	if format == "json" {
		return s.printJSON(formations)
	}

	s.info1Quiet("Scaling for " + a.name)
	rows := []string{}
	if !s.quiet {
		rows = append(rows, "proctype=qty", "--------=---")
	}
	for _, f := range formations {
		rows = append(rows, fmt.Sprintf("%s=%d", f.ProcessType, f.Quantity))
	}
	for _, row := range rows {
		name, quantity, _ := strings.Cut(row, "=")
		label := name + ":"
		s.stdoutLine(label + strings.Repeat(" ", max(0, 5-len(label))) + " " + quantity)
	}
	return 0
}

// parseProcessTuples parses TYPE=QUANTITY arguments; a repeated type keeps
// its first quantity.
func parseProcessTuples(tuples []string) ([]formation, error) {
	var formations []formation
	for _, tuple := range tuples {
		processType, count, found := strings.Cut(tuple, "=")
		if !found {
			return nil, fmt.Errorf("Missing count for process type %s", tuple)
		}
		processType = strings.TrimSpace(processType)
		quantity, err := strconv.Atoi(strings.TrimSpace(count))
		if err != nil {
			return nil, fmt.Errorf("Invalid count for process type %s", strings.SplitN(tuple, "=", 2)[0])
		}
		if slices.ContainsFunc(formations, func(f formation) bool { return f.ProcessType == processType }) {
			continue
		}
		formations = append(formations, formation{ProcessType: processType, Quantity: quantity})
	}
	return formations, nil
}

// psAppArgs parses the flags of ps:start, ps:stop, ps:restart and
// ps:rebuild and verifies the app.
func (s *session) psAppArgs(name string, args []string) (*app, []string, int, bool) {
	fs := s.newFlagSet(name)
	fs.Bool("all", false, "--all: apply to all apps")
	fs.Int("parallel", 1, "--parallel: number of apps to handle in parallel, -1 to match cpu count")
	if code, ok := fs.parse(args); !ok {
		return nil, nil, code, false
	}
	a, err := s.verifyApp(fs.Arg(0))
	if err != nil {
		return nil, nil, s.failWith(err), false
	}
	return a, fs.Args()[1:], 0, true
}

func cmdPsStop(s *session, args []string) int {
	a, _, code, ok := s.psAppArgs("ps:stop", args)
	if !ok {
		return code
	}
	if !a.deployed {
		s.warn(fmt.Sprintf("App %s has not been deployed", a.name))
		return 0
	}
	s.info1Quiet("Stopping " + a.name)
	a.stopped = true
	return 0
}

func cmdPsStart(s *session, args []string) int {
	a, _, code, ok := s.psAppArgs("ps:start", args)
	if !ok {
		return code
	}
	if !a.deployed {
		s.warn(fmt.Sprintf("App %s has not been deployed", a.name))
		return 0
	}
	if a.running() {
		s.warn(fmt.Sprintf("App %s already running", a.name))
		return 0
	}
	s.warn("App has been detected as not running, releasing")
	s.releaseAndDeploy(a)
	return 0
}

func cmdPsRestart(s *session, args []string) int {
	a, _, code, ok := s.psAppArgs("ps:restart", args)
	if !ok {
		return code
	}
	if !a.deployed {
		s.warn(fmt.Sprintf("App %s has not been deployed", a.name))
		return 0
	}
	return s.withDeployLock(a, func() int {
		s.releaseAndDeploy(a)
		return 0
	})
}

func cmdPsRebuild(s *session, args []string) int {
	a, _, code, ok := s.psAppArgs("ps:rebuild", args)
	if !ok {
		return code
	}
	// Without code in the app's repository there is nothing to build, and
	// Dokku exits without output.
	if !a.hasCode {
		return 0
	}
	return s.withDeployLock(a, func() int {
		return s.buildAndDeploy(a, a.builder)
	})
}

// psPropertyFlags returns the app flags of `ps:report` of the emulated
// version, without the per-container status flags.
func psPropertyFlags(s *session, a *app) map[string]string {
	common := map[string]string{
		"--deployed":     strconv.FormatBool(a.deployed),
		"--processes":    strconv.Itoa(a.runningProcessCount()),
		"--ps-can-scale": "true",
		"--restore":      strconv.FormatBool(!a.stopped),
		"--running":      strconv.FormatBool(a.running()),
	}
	if !s.e.has(featurePsPropertyFlags) {
		// Dokku 0.35 to 0.38.6 (plugins/ps/report.go): the global
		// Procfile path defaults to "Procfile", and --ps-restart-policy
		// is the policy in effect, by default on-failure:10.
		common["--ps-computed-procfile-path"] = "Procfile"
		common["--ps-global-procfile-path"] = "Procfile"
		common["--ps-procfile-path"] = ""
		common["--ps-restart-policy"] = "on-failure:10"
		if s.e.has(featurePsStopTimeout) {
			common["--computed-stop-timeout-seconds"] = "30"
			common["--global-stop-timeout-seconds"] = "30"
			common["--stop-timeout-seconds"] = "30"
		}
		return common
	}

	for key, value := range map[string]string{
		"--ps-computed-dockerfile-start-cmd": "",
		"--ps-computed-procfile-path":        "Procfile",
		"--ps-computed-restart-policy":       "on-failure:10",
		"--ps-computed-skip-deploy":          "false",
		"--ps-computed-start-cmd":            "",
		"--ps-computed-stop-timeout-seconds": "30",
		"--ps-dockerfile-start-cmd":          "",
		"--ps-global-procfile-path":          "",
		"--ps-global-restart-policy":         "",
		"--ps-global-skip-deploy":            "",
		"--ps-global-stop-timeout-seconds":   "",
		"--ps-procfile-path":                 "",
		"--ps-restart-policy":                "",
		"--ps-skip-deploy":                   "",
		"--ps-start-cmd":                     "",
		"--ps-stop-timeout-seconds":          "",
	} {
		common[key] = value
	}
	return common
}
