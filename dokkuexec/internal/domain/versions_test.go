package domain

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// versionOutput returns a stream of one output in testdata/dokku-<version>:
// a recording for 0.38.27, derived from source for older versions (see
// testdata/VERSIONS.md).
func versionOutput(t *testing.T, version, name, stream string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "dokku-"+version, name, stream))
	if err != nil {
		t.Fatalf("read %s output: %v", version, err)
	}
	return data
}

// TestParseOlderVersions parses the outputs of 0.35 to 0.37 with the form
// that DokkuExec picks for each version.
func TestParseOlderVersions(t *testing.T) {
	t.Parallel()
	for _, release := range []string{"0.35.20", "0.36.11", "0.37.10"} {
		t.Run(release, func(t *testing.T) {
			t.Parallel()
			version, err := ParseVersion(string(versionOutput(t, release, "01", "stdout")))
			if err != nil || version.String() != release {
				t.Fatalf("ParseVersion = %v, %v", version, err)
			}
			if version.AtLeast(AppsListJSONSince) || version.AtLeast(PluginListJSONSince) || version.AtLeast(DomainsReportJSONSince) {
				t.Errorf("version %s is taken to have JSON apps:list, plugin:list or domains:report", version)
			}
			if !version.AtLeast(ReportJSONSince) {
				t.Errorf("version %s is taken to lack JSON reports", version)
			}

			if apps := ParseAppsListText(versionOutput(t, release, "03", "stdout")); !slices.Equal(apps, []string{"shop"}) {
				t.Errorf("ParseAppsListText = %q, want [shop]", apps)
			}

			text, err := ParseAppReportText("shop", versionOutput(t, release, "05", "stdout"))
			if err != nil {
				t.Fatal(err)
			}
			json, err := ParseAppReportJSON("shop", versionOutput(t, release, "06", "stdout"))
			if err != nil {
				t.Fatal(err)
			}
			for _, report := range []AppReport{text, json} {
				if report.Dir != "/home/dokku/shop" || report.Locked || report.CreateTime.Unix() != 1796413860 {
					t.Errorf("app report = %+v", report)
				}
			}

			ps, err := ParseProcessReportJSON("shop", versionOutput(t, release, "07", "stdout"))
			if err != nil {
				t.Fatal(err)
			}
			if ps.Deployed || ps.Running != Stopped || ps.RestartPolicy != "on-failure:10" || ps.Fields["can-scale"] != "true" {
				t.Errorf("process report = %+v", ps)
			}

			domains, err := ParseDomainsReportText("shop", versionOutput(t, release, "08", "stdout"))
			if err != nil {
				t.Fatal(err)
			}
			if domains.Enabled || len(domains.Domains) != 0 || domains.Fields["global-enabled"] != "false" {
				t.Errorf("domains report = %+v", domains)
			}
			if exit := strings.TrimSpace(string(versionOutput(t, release, "09", "exit"))); exit != "1" {
				t.Errorf("domains:report --format json exit status = %s, want 1", exit)
			}

			plugins, err := ParsePluginListText(versionOutput(t, release, "10", "stdout"))
			if err != nil {
				t.Fatal(err)
			}
			names := make([]string, len(plugins))
			for i, p := range plugins {
				names[i] = p.Name
			}
			if !slices.Contains(names, "apps") || slices.Contains(names, "builds") {
				t.Errorf("plugins = %q, want apps and no builds plugin before 0.38", names)
			}
		})
	}
}

func TestParseDomainsReportTextOfRecording(t *testing.T) {
	t.Parallel()
	report, err := ParseDomainsReportText("shop", versionOutput(t, "0.38.27", "07-08", "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(report.Domains, []string{"a.example.com", "b.example.com"}) || !report.Enabled {
		t.Errorf("domains report = %+v", report)
	}
}
