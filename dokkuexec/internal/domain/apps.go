package domain

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// appsListHeader is the section header `apps:list` prints before the names.
const appsListHeader = "=====> "

// ParseAppsListJSON reads `apps:list --format json`: a JSON array of names.
func ParseAppsListJSON(stdout []byte) ([]string, error) {
	var apps []string
	if err := json.Unmarshal(stdout, &apps); err != nil {
		return nil, fmt.Errorf("parse apps:list JSON output: %w", err)
	}
	if apps == nil {
		apps = []string{}
	}
	return apps, nil
}

// ParseAppsListText reads the text form of `apps:list`: the "=====> My Apps"
// header, then one name per line. A host without apps prints only the header
// on stdout and its notice on stderr, with exit status 0.
func ParseAppsListText(stdout []byte) []string {
	apps := []string{}
	for _, line := range strings.Split(string(stdout), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, appsListHeader) {
			continue
		}
		apps = append(apps, line)
	}
	return apps
}

// AppReport is the report of one app from `apps:report`.
type AppReport struct {
	App          string
	CreateTime   time.Time
	DeploySource string
	Dir          string
	Locked       bool
	// Fields holds every report key in Dokku's unprefixed shape, such as
	// "created-at" and "locked".
	Fields map[string]string
}

// appReportPrefix is the key prefix that `apps:report --format json` used
// before Dokku 0.38.8 and still emits next to the unprefixed keys in 0.38.x.
const appReportPrefix = "app-"

// ParseAppReportJSON reads `apps:report <app> --format json`: one flat JSON
// object of strings. It accepts prefixed keys ("app-locked"), unprefixed
// keys ("locked") or both; an unprefixed key wins when both are present.
func ParseAppReportJSON(app AppName, stdout []byte) (AppReport, error) {
	var raw map[string]string
	if err := json.Unmarshal(stdout, &raw); err != nil {
		return AppReport{}, fmt.Errorf("parse apps:report JSON output: %w", err)
	}
	if raw == nil {
		return AppReport{}, fmt.Errorf("parse apps:report JSON output: expected an object, got null")
	}

	fields := make(map[string]string, len(raw))
	for key, value := range raw {
		if unprefixed, ok := strings.CutPrefix(key, appReportPrefix); ok {
			if _, both := raw[unprefixed]; both {
				continue
			}
			key = unprefixed
		}
		fields[key] = value
	}
	return newAppReport(app, fields)
}

// ParseAppReportText reads the text form of `apps:report <app>`: a
// "=====> <app> app information" header, then one line per key with a
// 7-space indent, the label, a colon and padding before the value. Labels
// are the report flags with dashes turned into spaces ("App created at" for
// --app-created-at).
//
// NOTE: the padding makes leading spaces of a value indistinguishable from
// the padding, so values are trimmed.
func ParseAppReportText(app AppName, stdout []byte) (AppReport, error) {
	fields := map[string]string{}
	for _, line := range strings.Split(string(stdout), "\n") {
		if strings.HasPrefix(line, appsListHeader) || strings.TrimSpace(line) == "" {
			continue
		}
		label, value, ok := cutReportLine(line)
		if !ok {
			return AppReport{}, fmt.Errorf("parse apps:report output: line %q has no label", truncate(line, 80))
		}
		key := strings.ReplaceAll(strings.ToLower(label), " ", "-")
		key = strings.TrimPrefix(key, appReportPrefix)
		fields[key] = value
	}
	return newAppReport(app, fields)
}

// cutReportLine splits a report line on the first colon that is followed by
// white space or ends the line, because values may contain colons.
func cutReportLine(line string) (label, value string, ok bool) {
	for i := 0; i < len(line); i++ {
		if line[i] != ':' {
			continue
		}
		if i+1 == len(line) || line[i+1] == ' ' || line[i+1] == '\t' {
			return strings.TrimSpace(line[:i]), strings.TrimSpace(line[i+1:]), true
		}
	}
	return "", "", false
}

func newAppReport(app AppName, fields map[string]string) (AppReport, error) {
	report := AppReport{
		App:          string(app),
		DeploySource: fields["deploy-source"],
		Dir:          fields["dir"],
		Locked:       fields["locked"] == "true",
		Fields:       fields,
	}
	if created := fields["created-at"]; created != "" {
		seconds, err := strconv.ParseInt(created, 10, 64)
		if err != nil {
			return AppReport{}, fmt.Errorf("parse apps:report created-at %q: expected Unix seconds", truncate(created, 40))
		}
		report.CreateTime = time.Unix(seconds, 0).UTC()
	}
	return report, nil
}

// ParseConfigValue reads the output of `config:get`, which prints the value
// followed by one newline. Only that newline is removed, so a value that ends
// in newlines keeps them.
func ParseConfigValue(stdout []byte) string {
	return strings.TrimSuffix(string(stdout), "\n")
}
