package emulator

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
)

func cmdAppsCreate(s *session, args []string) int {
	fs := s.newFlagSet("apps:create")
	if code, ok := fs.parse(args); !ok {
		return code
	}
	if err := s.createApp(fs.Arg(0)); err != nil {
		return s.failWith(err)
	}
	return 0
}

// createApp creates an app with the output of a host that has no global
// VHOST file: domains are disabled through NO_VHOST=1 and a random proxy
// port is chosen, then the proxy configuration is built twice.
func (s *session) createApp(name string) error {
	if err := validAppName(name); err != nil {
		return err
	}
	if s.e.apps[name] != nil {
		return errors.New("Name is already taken")
	}

	s.info1Quiet(fmt.Sprintf("Creating %s...", name))
	a := &app{
		name:      name,
		createdAt: s.e.clock().Unix(),
		config:    map[string]string{},
		scale:     []formation{{ProcessType: "web", Quantity: 1}},
		port:      randomPort(name),
	}
	s.e.apps[name] = a

	s.info1Quiet("Global server virtual host not set, disabling app vhost...")
	a.config["NO_VHOST"] = "1"
	s.info1("No port set, setting to random open high port")
	s.info1(fmt.Sprintf("Random port %d", a.port))
	s.buildProxyConfig(a)
	s.buildProxyConfig(a)
	return nil
}

// buildProxyConfig prints what the nginx-vhosts plugin prints when it
// rebuilds an app's nginx.conf: one line per domain in sorted order while
// domains are enabled, then the reload. Apps that were never deployed have
// no web listeners, which nginx-vhosts reports on stderr.
func (s *session) buildProxyConfig(a *app) {
	if !a.deployed {
		s.warnQuiet(fmt.Sprintf("No web listeners specified for %s", a.name))
	}
	if a.vhostEnabled() {
		domains := slices.Clone(a.domains)
		slices.Sort(domains)
		for _, domain := range slices.Compact(domains) {
			s.stdoutLine(fmt.Sprintf("-----> Configuring %s...(using built-in template)", domain))
		}
	}
	s.info1("Creating http nginx.conf")
	s.verbose("Reloading nginx")
}

func cmdAppsDestroy(s *session, args []string) int {
	fs := s.newFlagSet("apps:destroy")
	force := fs.Bool("force", false, "--force: force destroy without confirmation")
	if code, ok := fs.parse(args); !ok {
		return code
	}
	name := fs.Arg(0)

	s.e.mu.Lock()
	_, err := s.verifyApp(name)
	s.e.mu.Unlock()
	if err != nil {
		return s.failWith(err)
	}

	// The confirmation prompt reads stdin without holding the lock, so a
	// client that never answers blocks only its own session.
	if !*force && !s.force {
		if code, ok := s.confirmDestruction(name, "app"); !ok {
			return code
		}
	}

	s.e.mu.Lock()
	defer s.e.mu.Unlock()
	if s.e.apps[name] == nil {
		return s.failWith(errAppNotFound(name))
	}
	s.destroyApp(name)
	return 0
}

// confirmDestruction prompts for the app name, like Dokku's
// AskForDestructiveConfirmation, which reads one word with fmt.Scanln.
func (s *session) confirmDestruction(name, objectType string) (int, bool) {
	s.warn("WARNING: Potentially Destructive Action")
	s.warn(fmt.Sprintf("This command will destroy %s %s.", objectType, name))
	s.warn(fmt.Sprintf("To proceed, type \"%s\"", name))
	s.write(s.stdout, "> ")

	type answer struct {
		response string
		err      error
	}
	answers := make(chan answer, 1)
	go func() {
		var response string
		_, err := fmt.Fscanln(s.stdin, &response)
		answers <- answer{response, err}
	}()

	var got answer
	select {
	case got = <-answers:
	case <-s.ctx.Done():
		return 1, false
	}
	if got.err != nil {
		return s.failWith(got.err), false
	}
	if got.response != name {
		s.stderrLine("Confirmation did not match test. Aborted.")
		return 1, false
	}
	return 0, true
}

// destroyApp removes an app and prints Dokku's destroy steps. The caller
// holds the lock.
func (s *session) destroyApp(name string) {
	s.info1(fmt.Sprintf("Destroying %s (including all add-ons)", name))
	s.info1("Cleaning up...")
	s.info1("Retiring old containers and images")
	delete(s.e.apps, name)
	delete(s.e.builds, name)
	delete(s.e.letsencrypt, name)
	s.e.unlinkDestroyedApp(name)
}

func cmdAppsExists(s *session, args []string) int {
	fs := s.newFlagSet("apps:exists")
	if code, ok := fs.parse(args); !ok {
		return code
	}
	if _, err := s.verifyApp(fs.Arg(0)); err != nil {
		return s.failWith(err)
	}
	return 0
}

func cmdAppsList(s *session, args []string) int {
	fs := s.newFlagSet("apps:list")
	format := new(string)
	if s.e.has(featureAppsListJSON) {
		format = fs.String("format", "stdout", "format: [ stdout | json ]")
	}
	if code, ok := fs.parse(args); !ok {
		return code
	}

	names := s.e.sortedAppNames()
	if *format == "json" {
		out, _ := json.Marshal(append([]string{}, names...))
		s.stdoutLine(string(out))
		return 0
	}

	s.info2Quiet("My Apps")
	if len(names) == 0 {
		s.warn("You haven't deployed any applications yet")
		return 0
	}
	for _, name := range names {
		s.stdoutLine(name)
	}
	return 0
}

func cmdAppsLock(s *session, args []string) int {
	fs := s.newFlagSet("apps:lock")
	if code, ok := fs.parse(args); !ok {
		return code
	}
	a, err := s.verifyApp(fs.Arg(0))
	if err != nil {
		return s.failWith(err)
	}
	a.locked = true
	s.info1("Deploy lock created")
	return 0
}

func cmdAppsLocked(s *session, args []string) int {
	fs := s.newFlagSet("apps:locked")
	if code, ok := fs.parse(args); !ok {
		return code
	}
	a, err := s.verifyApp(fs.Arg(0))
	if err != nil {
		return s.failWith(err)
	}
	if !a.locked {
		return s.fail("Deploy lock does not exist")
	}
	if !s.quiet {
		s.stdoutLine("Deploy lock exists")
	}
	return 0
}

func cmdAppsUnlock(s *session, args []string) int {
	fs := s.newFlagSet("apps:unlock")
	if code, ok := fs.parse(args); !ok {
		return code
	}
	a, err := s.verifyApp(fs.Arg(0))
	if err != nil {
		return s.failWith(err)
	}
	// Dokku removes the lock file and fails when there is none.
	if !a.locked {
		return s.fail("Unable to remove deploy lock")
	}
	s.warn("A deploy may be in progress.")
	s.warn("Removing the app lock will not stop in progress deploys.")
	a.locked = false
	s.info1("Deploy lock removed")
	return 0
}

func cmdAppsRename(s *session, args []string) int {
	fs := s.newFlagSet("apps:rename")
	fs.Bool("skip-deploy", false, "--skip-deploy: skip deploy of the new app")
	if code, ok := fs.parse(args); !ok {
		return code
	}
	oldName, newName := fs.Arg(0), fs.Arg(1)

	if oldName == "" {
		return s.fail("Please specify an app to run the command on")
	}
	if newName == "" {
		return s.fail("Please specify an new app name")
	}
	old, err := s.verifyApp(oldName)
	if err != nil {
		return s.failWith(err)
	}
	if err := validAppName(newName); err != nil {
		return s.failWith(err)
	}
	if s.e.apps[newName] != nil {
		return s.fail("Name is already taken")
	}

	s.info1Quiet(fmt.Sprintf("Renaming %s to %s", oldName, newName))
	if err := s.createApp(newName); err != nil {
		return s.failWith(err)
	}

	// post-app-rename-setup carries the old app's settings over.
	renamed := s.e.apps[newName]
	renamed.config = maps.Clone(old.config)
	renamed.domains = slices.Clone(old.domains)
	renamed.scale = slices.Clone(old.scale)
	renamed.locked = old.locked
	s.destroyApp(oldName)
	return 0
}

// appsReport is the spec of `apps:report`.
var appsReport = reportSpec{
	command:    "apps:report",
	plugin:     "apps",
	reportType: "app",
	legacyKeys: true,
	appFlags: func(s *session, a *app) map[string]string {
		flags := map[string]string{
			"--app-created-at":                  strconv.FormatInt(a.createdAt, 10),
			"--app-deploy-source":               a.deploySource,
			"--app-deploy-source-metadata":      a.deploySourceMetadata,
			"--app-dir":                         "/home/dokku/" + a.name,
			"--app-global-disable-autocreation": "",
			"--app-locked":                      strconv.FormatBool(a.locked),
		}
		if !s.e.has(featureAppsDisableAutocreation) {
			delete(flags, "--app-global-disable-autocreation")
		}
		return flags
	},
	globalFlags: func(s *session) map[string]string {
		return map[string]string{"--app-global-disable-autocreation": ""}
	},
}

func cmdAppsReport(s *session, args []string) int {
	return s.runReport(appsReport, args)
}
