package emulator

import (
	"errors"
	"hash/fnv"
	"maps"
	"regexp"
	"slices"
	"sort"
)

// app is the state Dokku keeps for one app.
type app struct {
	name      string
	createdAt int64
	locked    bool
	// config holds the config vars as Dokku reads them back from its ENV
	// file; keys are sorted whenever they are listed.
	config map[string]string
	// domains is the app's VHOST file, one domain per line, in file order.
	domains []string
	// scale is the ps "scale" property in stored order.
	scale []formation
	// port is the random proxy port chosen at creation.
	port int

	deployed bool
	stopped  bool
	// deploying is set while a build or deploy holds the deploy lock.
	deploying bool
	// cancelBuild, while a build waits at the deploy gate, is closed by
	// builds:cancel; runningBuild is that build's record.
	cancelBuild  chan struct{}
	runningBuild *build
	// hasCode is set once the app's git repository has a deploy branch.
	hasCode bool
	// builder names what builds the code, such as "Dockerfile".
	builder string
	// gitSource is the remote and ref of the last git:sync.
	gitSource            string
	sourceImage          string
	deploySource         string
	deploySourceMetadata string
}

// formation is a process type and its number of containers.
type formation struct {
	ProcessType string `json:"process_type"`
	Quantity    int    `json:"quantity"`
}

var (
	appNamePattern       = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]*$`)
	legacyAppNamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)
)

// validAppName applies the naming rule for new apps.
func validAppName(name string) error {
	if name == "" {
		return errors.New("Please specify an app to run the command on")
	}
	if !appNamePattern.MatchString(name) {
		return errors.New("App name must begin with lowercase alphanumeric character, and may only contain lowercase alphanumerics, dots, and hyphens")
	}
	return nil
}

// validLegacyAppName applies the older rule that also allowed underscores,
// which existing apps may still follow.
func validLegacyAppName(name string) error {
	if name == "" {
		return errors.New("Please specify an app to run the command on")
	}
	if !legacyAppNamePattern.MatchString(name) {
		return errors.New("App name must begin with lowercase alphanumeric character, and may only contain lowercase alphanumerics, dots, hyphens, and underscores")
	}
	return nil
}

// sortedAppNames returns the app names in byte order, as Dokku lists them.
func (e *Emulator) sortedAppNames() []string {
	return slices.Sorted(maps.Keys(e.apps))
}

// randomPort returns the "random" proxy port for an app. It is derived from
// the name so runs are repeatable; Dokku picks a free port above 1024.
func randomPort(name string) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(name))
	return 20000 + int(h.Sum32()%40000)
}

// sortedConfigKeys returns the app's config keys in byte order.
func (a *app) sortedConfigKeys() []string {
	keys := slices.Collect(maps.Keys(a.config))
	sort.Strings(keys)
	return keys
}

// vhostEnabled reports whether domains are enabled, which Dokku derives from
// the NO_VHOST config var.
func (a *app) vhostEnabled() bool {
	return a.config["NO_VHOST"] != "1"
}

// processCount is the sum of all process quantities.
func (a *app) processCount() int {
	total := 0
	for _, f := range a.scale {
		total += f.Quantity
	}
	return total
}
