package emulator

import (
	"regexp"
	"strconv"
)

// DefaultVersion is the Dokku release the recordings in testdata come from.
const DefaultVersion = "0.38.27"

// feature is a behaviour that exists only from some Dokku release on.
type feature int

const (
	// featureRailpack is the builder-railpack core plugin.
	featureRailpack feature = iota
	// featureBuilds is the builds core plugin and its build records.
	featureBuilds
	// featureUnprefixedReportKeys makes `:report --format json` use keys
	// without the `<type>-` prefix.
	featureUnprefixedReportKeys
	// featureAppsListJSON is `apps:list --format json`.
	featureAppsListJSON
	// featurePluginListJSON is `plugin:list --format json`.
	featurePluginListJSON
	// featureDomainsReportJSON is `domains:report --format json`. Before
	// it, domains:report is a bash command without --format.
	featureDomainsReportJSON
	// featurePsStopTimeout adds the unprefixed stop-timeout flags to
	// `ps:report`.
	featurePsStopTimeout
	// featurePsPropertyFlags replaces them with the "ps-" prefixed
	// property flags of 0.38.x (start command, skip deploy, ...).
	featurePsPropertyFlags
	// featureAppsDisableAutocreation is the
	// --app-global-disable-autocreation flag of `apps:report`.
	featureAppsDisableAutocreation
)

// featureSince lists the first Dokku release with each feature, taken from
// the tags of the Dokku repository.

var featureSince = map[feature]release{
	featureRailpack:             {0, 37, 0},
	featureBuilds:               {0, 38, 0},
	featureUnprefixedReportKeys: {0, 38, 8},
	featureAppsListJSON:         {0, 38, 21},
	featurePluginListJSON:       {0, 38, 22},
	featureDomainsReportJSON:    {0, 38, 0},
	featurePsStopTimeout:        {0, 36, 0},
	// NOTE: 0.38.7 and 0.38.8 added these flags in two steps; both
	// releases are emulated with the full set of 0.38.9.
	featurePsPropertyFlags:         {0, 38, 7},
	featureAppsDisableAutocreation: {0, 38, 12},
}

// release is a Dokku version as major, minor and patch numbers.
type release [3]int

func (r release) atLeast(other release) bool {
	for i := range r {
		if r[i] != other[i] {
			return r[i] > other[i]
		}
	}
	return true
}

var releasePattern = regexp.MustCompile(`(\d+)\.(\d+)\.(\d+)`)

// parseRelease finds the release number inside a version string such as
// "0.38.27", "1:0.38.27" or "v0.38.27-33-gabc". A string without one, such
// as "~master (abc)", counts as newer than every release.
func parseRelease(version string) release {
	m := releasePattern.FindStringSubmatch(version)
	if m == nil {
		return release{1 << 30, 0, 0}
	}
	var r release
	for i := range r {
		r[i], _ = strconv.Atoi(m[i+1])
	}
	return r
}

// releaseString returns the plain "X.Y.Z" number that plugin versions show.
func releaseString(version string) string {
	if m := releasePattern.FindString(version); m != "" {
		return m
	}
	return version
}

// has reports whether the emulated Dokku version has f.
func (e *Emulator) has(f feature) bool {
	return e.release.atLeast(featureSince[f])
}
