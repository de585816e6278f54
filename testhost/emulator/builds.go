package emulator

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ryanuber/columnize"
)

// buildRetention is the builds plugin's default number of finished records
// that `builds:list` shows per app.
const buildRetention = 20

// build is a build record as the builds plugin (Dokku 0.38) stores it.
type build struct {
	ID         string     `json:"id"`
	App        string     `json:"app"`
	Kind       string     `json:"kind"`
	PID        int        `json:"pid"`
	StartedAt  time.Time  `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	Status     string     `json:"status"`
	Source     string     `json:"source"`
	ExitCode   *int       `json:"exit_code,omitempty"`
}

// buildView is a record with the fields that builds:list computes on read.
type buildView struct {
	build
	DisplayStatus string `json:"display_status"`
	Duration      string `json:"duration"`
	LogPath       string `json:"log_path"`
}

// buildKind maps a build source to the kind of work it does: sources that
// make a new image are builds, the others deploys.
func buildKind(source string) string {
	switch source {
	case "git-hook", "ps:rebuild", "git:sync", "git:from-archive", "git:from-image", "git:load-image":
		return "build"
	}
	return "deploy"
}

// captureBuild starts a build record and sends the session's stderr to its
// stdout, as dokku_setup_build_capture does by piping both streams through
// tee into the build log. It runs once per session, and the caller holds
// the lock.
func (s *session) captureBuild(appName, source string) {
	if s.build != nil || !s.e.has(featureBuilds) {
		return
	}
	s.stderr = s.stdout

	s.e.nextBuild++
	now := s.e.clock().UTC()
	b := &build{
		ID:        buildID(now, s.e.nextBuild),
		App:       appName,
		Kind:      buildKind(source),
		PID:       s.pid,
		StartedAt: now,
		Status:    "running",
		Source:    source,
	}
	s.e.builds[appName] = append(s.e.builds[appName], b)
	s.build = b
}

// finishBuild finalizes the session's build record with exitCode. The
// caller holds the lock.
func (s *session) finishBuild(exitCode int) {
	// A killed process writes nothing, and a cancelled record keeps the
	// status builds:cancel gave it.
	if s.build == nil || s.killed || s.build.Status != "running" {
		return
	}
	finished := s.e.clock().UTC()
	s.build.FinishedAt = &finished
	s.build.ExitCode = &exitCode
	s.build.Status = "succeeded"
	if exitCode != 0 {
		s.build.Status = "failed"
	}
}

// buildID returns a 14-character id shaped like the builds plugin's: 8
// base36 digits of the millisecond timestamp, then 6 characters that are
// random in Dokku and derived from a counter here.
func buildID(now time.Time, sequence int) string {
	stamp := strconv.FormatInt(now.UnixMilli(), 36)
	if len(stamp) > 8 {
		stamp = stamp[len(stamp)-8:]
	}
	stamp = strings.Repeat("0", 8-len(stamp)) + stamp

	h := fnv.New64a()
	fmt.Fprintf(h, "%d", sequence)
	suffix := strconv.FormatUint(h.Sum64(), 36)
	return stamp + suffix[len(suffix)-6:]
}

// view computes the display fields of b. A running record whose process is
// gone shows as abandoned.
func (e *Emulator) view(b *build) buildView {
	status := b.Status
	if status == "running" && !e.livePIDs[b.PID] {
		status = "abandoned"
	}
	end := e.clock().UTC()
	if b.FinishedAt != nil {
		end = *b.FinishedAt
	}
	duration := time.Duration(0)
	if !end.Before(b.StartedAt) {
		duration = end.Sub(b.StartedAt).Round(time.Second)
	}
	return buildView{
		build:         *b,
		DisplayStatus: status,
		Duration:      duration.String(),
		LogPath:       fmt.Sprintf("/var/lib/dokku/data/builds/%s/%s.log", b.App, b.ID),
	}
}

func cmdBuildsList(s *session, args []string) int {
	fs := s.newFlagSet("builds:list")
	format := fs.String("format", "stdout", "format: [ stdout | json ]")
	kind := fs.String("kind", "", "filter by kind: [ build | deploy ]")
	status := fs.String("status", "", "filter by status: [ running | succeeded | failed | canceled | abandoned ]")
	if code, ok := fs.parse(args); !ok {
		return code
	}

	if *format == "" {
		*format = "stdout"
	}
	if *format != "stdout" && *format != "json" {
		return s.fail("Invalid format specified, supported formats: json, stdout")
	}
	if *kind != "" && *kind != "build" && *kind != "deploy" {
		return s.fail(fmt.Sprintf("Invalid --kind value %q (allowed: build, deploy)", *kind))
	}
	switch *status {
	case "", "running", "succeeded", "failed", "canceled", "abandoned":
	default:
		return s.fail(fmt.Sprintf("Invalid --status value %q (allowed: running, succeeded, failed, canceled, abandoned)", *status))
	}

	appName := fs.Arg(0)
	if appName == "" {
		return s.listRunningBuilds(*format, *kind, *status)
	}
	if _, err := s.verifyApp(appName); err != nil {
		return s.failWith(err)
	}

	views := s.filteredViews(s.e.builds[appName], *kind, *status, false)
	sort.SliceStable(views, func(i, j int) bool {
		iLive := views[i].Status == "running" && views[i].DisplayStatus == "running"
		jLive := views[j].Status == "running" && views[j].DisplayStatus == "running"
		if iLive != jLive {
			return iLive
		}
		return views[i].StartedAt.After(views[j].StartedAt)
	})
	if *status == "" && *kind == "" && len(views) > buildRetention {
		live := 0
		for _, v := range views {
			if v.DisplayStatus == "running" {
				live++
			}
		}
		views = views[:min(len(views), live+buildRetention)]
	}

	if *format == "json" {
		return s.printJSON(views)
	}
	if len(views) == 0 {
		s.stdoutLine("No builds recorded for this app")
		return 0
	}
	rows := []string{"Build ID | Kind | Status | PID | Source | Started | Duration"}
	for _, v := range views {
		rows = append(rows, fmt.Sprintf("%s | %s | %s | %d | %s | %s | %s",
			v.ID, v.Kind, v.DisplayStatus, v.PID, v.Source, v.StartedAt.Format(time.RFC3339), v.Duration))
	}
	s.stdoutLine(columnize.SimpleFormat(rows))
	return 0
}

// listRunningBuilds lists the running records of every app.
func (s *session) listRunningBuilds(format, kind, status string) int {
	views := []buildView{}
	for _, name := range s.e.sortedAppNames() {
		views = append(views, s.filteredViews(s.e.builds[name], kind, status, true)...)
	}
	sort.SliceStable(views, func(i, j int) bool {
		return views[i].StartedAt.After(views[j].StartedAt)
	})

	if format == "json" {
		return s.printJSON(views)
	}
	if len(views) == 0 {
		s.stdoutLine("No builds currently running")
		return 0
	}
	rows := []string{"App | Build ID | Kind | PID | Source | Started"}
	for _, v := range views {
		rows = append(rows, fmt.Sprintf("%s | %s | %s | %d | %s | %s",
			v.App, v.ID, v.Kind, v.PID, v.Source, v.StartedAt.Format(time.RFC3339)))
	}
	s.stdoutLine(columnize.SimpleFormat(rows))
	return 0
}

func (s *session) filteredViews(records []*build, kind, status string, runningOnly bool) []buildView {
	views := []buildView{}
	for _, b := range records {
		if runningOnly && b.Status != "running" {
			continue
		}
		v := s.e.view(b)
		if kind != "" && b.Kind != kind {
			continue
		}
		if status != "" && v.DisplayStatus != status {
			continue
		}
		views = append(views, v)
	}
	return views
}

// printJSON prints v as one line of JSON.
func (s *session) printJSON(v any) int {
	out, err := json.Marshal(v)
	if err != nil {
		return s.failWith(err)
	}
	s.stdoutLine(string(out))
	return 0
}
