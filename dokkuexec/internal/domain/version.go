package domain

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Version is the Dokku release a host runs.
type Version struct {
	Major, Minor, Patch int
	// Development marks a build from the master branch ("~master (...)"),
	// which has every released feature.
	Development bool
	// Raw is the version as Dokku printed it.
	Raw string
}

// Releases that changed the output DokkuExec parses.
var (
	// AppsListJSONSince is the first release with `apps:list --format json`.
	AppsListJSONSince = Version{Major: 0, Minor: 38, Patch: 21}
	// ReportJSONSince is the first release whose `:report` commands accept
	// `--format json` (Dokku v0.23.1 release notes).
	ReportJSONSince = Version{Major: 0, Minor: 23, Patch: 1}
)

var releasePattern = regexp.MustCompile(`(\d+)\.(\d+)\.(\d+)`)

// ParseVersion reads the output of `dokku version`. Dokku prints
// "dokku version <v>", where <v> is "0.38.27", "<epoch>:0.38.27" for some
// distribution packages, "v0.38.27-33-g<commit>" for builds from git, or
// "~master (<commit>)" for development builds.
func ParseVersion(output string) (Version, error) {
	line := strings.TrimSpace(output)
	if i := strings.IndexByte(line, '\n'); i >= 0 {
		line = strings.TrimSpace(line[:i])
	}
	raw, ok := strings.CutPrefix(line, "dokku version ")
	if !ok || raw == "" {
		return Version{}, fmt.Errorf("unrecognized Dokku version output %q: expected \"dokku version <version>\"", truncate(line, 80))
	}

	if strings.HasPrefix(raw, "~master") {
		return Version{Development: true, Raw: raw}, nil
	}
	release := raw
	if _, afterEpoch, found := strings.Cut(release, ":"); found {
		release = afterEpoch
	}
	m := releasePattern.FindStringSubmatch(release)
	if m == nil || strings.Index(release, m[0]) > 1 {
		return Version{}, fmt.Errorf("unrecognized Dokku version %q: expected a release such as 0.38.27", truncate(raw, 80))
	}
	v := Version{Raw: raw}
	v.Major, _ = strconv.Atoi(m[1])
	v.Minor, _ = strconv.Atoi(m[2])
	v.Patch, _ = strconv.Atoi(m[3])
	return v, nil
}

// AtLeast reports whether v is the release other or a later one.
func (v Version) AtLeast(other Version) bool {
	if v.Development {
		return true
	}
	if v.Major != other.Major {
		return v.Major > other.Major
	}
	if v.Minor != other.Minor {
		return v.Minor > other.Minor
	}
	return v.Patch >= other.Patch
}

func (v Version) String() string {
	if v.Raw != "" {
		return v.Raw
	}
	return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
