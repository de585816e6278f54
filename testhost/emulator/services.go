package emulator

import (
	"fmt"
	"hash/fnv"
	"maps"
	"regexp"
	"slices"
	"strings"
)

// The postgres and redis commands follow the bash sources of dokku-postgres
// 1.48.0 and dokku-redis 1.43.0, which share their common-functions file.
// No recording of them exists, so their output is derived from those
// sources with a Docker engine that has the service image and succeeds.

// servicePlugin describes one service plugin's constants (its config file).
type servicePlugin struct {
	prefix       string // PLUGIN_COMMAND_PREFIX
	title        string // PLUGIN_SERVICE
	scheme       string // PLUGIN_SCHEME
	port         int    // PLUGIN_DATASTORE_PORTS[0]
	defaultAlias string // PLUGIN_DEFAULT_ALIAS
	altAlias     string // PLUGIN_ALT_ALIAS
	configSuffix string // PLUGIN_CONFIG_SUFFIX
	image        string // the image in the plugin's Dockerfile
}

var servicePlugins = map[string]servicePlugin{
	"postgres": {prefix: "postgres", title: "Postgres", scheme: "postgres", port: 5432, defaultAlias: "DATABASE", altAlias: "DOKKU_POSTGRES", configSuffix: "data", image: "postgres:18.4"},
	"redis":    {prefix: "redis", title: "Redis", scheme: "redis", port: 6379, defaultAlias: "REDIS", altAlias: "DOKKU_REDIS", configSuffix: "config", image: "redis:8.8.0"},
}

// aliasColors are the suffixes service_alternative_alias tries, in order.
var aliasColors = strings.Fields("AQUA BLACK BLUE FUCHSIA GRAY GREEN LIME MAROON NAVY OLIVE PURPLE RED SILVER TEAL WHITE YELLOW")

// service is the state a service plugin keeps for one service.
type service struct {
	name     string
	password string
	// links lists the linked apps, sorted, as the LINKS file keeps them.
	links []string
	// ip is the container's address on Docker's bridge network.
	ip string
}

var serviceNamePattern = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// servicesOf returns the services of one plugin, creating the map.
func (e *Emulator) servicesOf(prefix string) map[string]*service {
	if e.services == nil {
		e.services = map[string]map[string]*service{}
	}
	if e.services[prefix] == nil {
		e.services[prefix] = map[string]*service{}
	}
	return e.services[prefix]
}

// serviceHash derives repeatable "random" values from a service's name.
func serviceHash(prefix, name, salt string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(prefix + "/" + name + "/" + salt))
	return h.Sum64()
}

func (p servicePlugin) root(name string) string {
	return "/var/lib/dokku/services/" + p.prefix + "/" + name
}

// dnsHostname is service_dns_hostname: "dokku.<prefix>.<name>" with dots
// and underscores turned into dashes.
func (p servicePlugin) dnsHostname(name string) string {
	return strings.NewReplacer(".", "-", "_", "-").Replace("dokku." + p.prefix + "." + name)
}

// url is the plugin's service_url.
func (p servicePlugin) url(svc *service) string {
	if p.prefix == "postgres" {
		database := strings.NewReplacer(".", "_", "-", "_").Replace(svc.name)
		return fmt.Sprintf("%s://postgres:%s@%s:%d/%s", p.scheme, svc.password, p.dnsHostname(svc.name), p.port, database)
	}
	return fmt.Sprintf("%s://:%s@%s:%d", p.scheme, svc.password, p.dnsHostname(svc.name), p.port)
}

// infoFlags is service_info's flag_map, in its order.
func (p servicePlugin) infoFlags(svc *service) [][2]string {
	root := p.root(svc.name)
	links := "-"
	if len(svc.links) > 0 {
		links = strings.Join(svc.links, " ") + " "
	}
	id := fmt.Sprintf("%016x%016x%016x%016x", serviceHash(p.prefix, svc.name, "id1"), serviceHash(p.prefix, svc.name, "id2"),
		serviceHash(p.prefix, svc.name, "id3"), serviceHash(p.prefix, svc.name, "id4"))
	return [][2]string{
		{"--config-dir", root + "/" + p.configSuffix},
		{"--config-options", ""},
		{"--data-dir", root + "/data"},
		{"--dsn", p.url(svc)},
		{"--exposed-ports", "-"},
		{"--id", id},
		{"--internal-ip", svc.ip},
		{"--initial-network", ""},
		{"--links", links},
		{"--post-create-network", ""},
		{"--post-start-network", ""},
		{"--service-root", root},
		{"--status", "running"},
		{"--version", p.image},
	}
}

// printServiceInfo is service_info.
func (s *session) printServiceInfo(p servicePlugin, svc *service, infoFlag string) int {
	flags := p.infoFlags(svc)
	if infoFlag == "" {
		s.info2Quiet(fmt.Sprintf("%s %s service information", svc.name, p.prefix))
		for _, flag := range flags {
			label := upperFirst(strings.ReplaceAll(strings.TrimPrefix(flag[0], "--"), "-", " ")) + ":"
			s.verbose(fmt.Sprintf("%-20s %-25s", label, flag[1]))
		}
		return 0
	}

	var valid strings.Builder
	match := false
	for _, flag := range flags {
		valid.WriteString(" " + flag[0])
		if flag[0] == infoFlag {
			s.stdoutLine(flag[1])
			match = true
		}
	}
	if !match {
		return s.fail("Invalid flag passed, valid flags:" + valid.String())
	}
	return 0
}

// verifyService is verify_service_name.
func (s *session) verifyService(p servicePlugin, name string) (*service, int, bool) {
	if name == "" {
		return nil, s.fail("Please specify a valid name for the service"), false
	}
	svc := s.e.servicesOf(p.prefix)[name]
	if svc == nil {
		return nil, s.fail(fmt.Sprintf("%s service %s does not exist", p.title, name)), false
	}
	return svc, 0, true
}

// serviceCommand builds the handler of one service plugin subcommand.
func serviceCommand(prefix string, run func(s *session, p servicePlugin, args []string) int) handler {
	return func(s *session, args []string) int {
		return run(s, servicePlugins[prefix], args)
	}
}

func cmdServiceCreate(s *session, p servicePlugin, args []string) int {
	name := argAt(args, 0)
	if !serviceNamePattern.MatchString(name) {
		return s.fail("Please specify a valid name for the service. Valid characters are: [A-Za-z0-9_]+")
	}
	services := s.e.servicesOf(p.prefix)
	if services[name] != nil {
		return s.fail(fmt.Sprintf("%s service %s already exists", p.title, name))
	}

	svc := &service{
		name:     name,
		password: fmt.Sprintf("%016x%016x", serviceHash(p.prefix, name, "password1"), serviceHash(p.prefix, name, "password2")),
		links:    []string{},
		ip:       fmt.Sprintf("172.17.0.%d", 2+len(s.e.services["postgres"])+len(s.e.services["redis"])),
	}
	services[name] = svc

	if !s.quiet {
		s.verbose("Waiting for container to be ready")
		if p.prefix == "postgres" {
			s.verbose("Creating container database")
			s.verbose("Securing connection to database")
		}
	}
	s.stdoutLine(fmt.Sprintf("=====> %s container created: %s", p.title, name))
	return s.printServiceInfo(p, svc, "")
}

func cmdServiceInfo(s *session, p servicePlugin, args []string) int {
	svc, code, ok := s.verifyService(p, argAt(args, 0))
	if !ok {
		return code
	}
	return s.printServiceInfo(p, svc, argAt(args, 1))
}

func cmdServiceList(s *session, p servicePlugin, _ []string) int {
	names := slices.Sorted(maps.Keys(s.e.servicesOf(p.prefix)))
	if len(names) == 0 {
		s.warn(fmt.Sprintf("There are no %s services", p.title))
		return 0
	}
	s.info2Quiet(p.title + " services")
	for _, name := range names {
		s.stdoutLine(name)
	}
	return 0
}

// serviceAppArgs checks the service and app arguments of link and unlink,
// in the order each command checks them.
func (s *session) serviceAppArgs(p servicePlugin, args []string, appFirst bool) (*service, *app, int, bool) {
	name, appName := argAt(args, 0), argAt(args, 1)
	if appName == "" {
		appName = s.appFlag
	}
	if name == "" {
		return nil, nil, s.fail("Please specify a valid name for the service"), false
	}
	if appName == "" {
		return nil, nil, s.fail("Please specify an app to run the command on"), false
	}
	if !appFirst {
		if _, code, ok := s.verifyService(p, name); !ok {
			return nil, nil, code, false
		}
	}
	a, code, ok := s.verifyAppBash(appName)
	if !ok {
		return nil, nil, code, false
	}
	svc, code, ok := s.verifyService(p, name)
	if !ok {
		return nil, nil, code, false
	}
	return svc, a, 0, true
}

// hasGlobalFlag reports whether word was given anywhere, as Dokku collects
// every "--" word into DOKKU_GLOBAL_FLAGS.
func hasGlobalFlag(args []string, word string) bool {
	return slices.Contains(args, word)
}

// linkKeys returns the app's config keys whose value contains url, as the
// plugins find a link with grep over `config:show`.
func linkKeys(a *app, url string) []string {
	var keys []string
	for _, key := range a.sortedConfigKeys() {
		if strings.Contains(a.config[key], url) {
			keys = append(keys, key)
		}
	}
	return keys
}

func cmdServiceLink(s *session, p servicePlugin, args []string) int {
	svc, a, code, ok := s.serviceAppArgs(p, args, true)
	if !ok {
		return code
	}
	url := p.url(svc)
	if keys := linkKeys(a, url); len(keys) > 0 {
		return s.fail("Already linked as " + keys[0])
	}

	alias := p.defaultAlias
	if _, taken := a.config[alias+"_URL"]; taken {
		alias = ""
		for _, color := range aliasColors {
			candidate := p.altAlias + "_" + color
			if _, inUse := a.config[candidate+"_URL"]; !inUse {
				alias = candidate
				break
			}
		}
	}
	if alias == "" {
		return s.fail("Unable to use default or generated URL alias")
	}

	svc.links = append(svc.links, a.name)
	slices.Sort(svc.links)
	svc.links = slices.Compact(svc.links)

	noRestart := hasGlobalFlag(args, "--no-restart")
	setArgs := []string{a.name, alias + "_URL=" + url}
	if noRestart {
		setArgs = append([]string{"--no-restart"}, setArgs...)
	}
	if code := cmdConfigSet(s, setArgs); code != 0 {
		return code
	}
	if noRestart {
		s.verbose("Skipping restart of linked app")
	}
	return 0
}

func cmdServiceUnlink(s *session, p servicePlugin, args []string) int {
	svc, a, code, ok := s.serviceAppArgs(p, args, false)
	if !ok {
		return code
	}
	keys := linkKeys(a, p.url(svc))
	svc.links = slices.DeleteFunc(svc.links, func(name string) bool { return name == a.name })
	if len(keys) == 0 {
		return s.fail("Not linked to app " + a.name)
	}

	noRestart := hasGlobalFlag(args, "--no-restart")
	unsetArgs := append([]string{a.name}, keys...)
	if noRestart {
		unsetArgs = append([]string{"--no-restart"}, unsetArgs...)
	}
	if code := cmdConfigUnset(s, unsetArgs); code != 0 {
		return code
	}
	if noRestart {
		s.verbose("Skipping restart of linked app")
	}
	return 0
}

func cmdServiceDestroy(s *session, p servicePlugin, args []string) int {
	name := argAt(args, 0)
	svc, code, ok := s.verifyService(p, name)
	if !ok {
		return code
	}
	if len(svc.links) > 0 {
		return s.fail("Cannot delete linked service")
	}

	forceFlag := argAt(args, 1)
	if !s.force && forceFlag != "force" && forceFlag != "-f" && forceFlag != "--force" {
		s.warn("WARNING: Potentially Destructive Action")
		s.warn(fmt.Sprintf("This command will destroy %s %s service.", name, p.title))
		s.warn(fmt.Sprintf("To proceed, type \"%s\"", name))
		s.stdoutLine("")
		// bash's read -p shows its prompt only on a terminal, and stdin
		// over SSH without a PTY is at EOF, so read fails and set -e
		// ends the script with status 1.
		var answer string
		if _, err := fmt.Fscanln(s.stdin, &answer); err != nil {
			return 1
		}
		if answer != name {
			return s.fail(fmt.Sprintf("Confirmation did not match %s. Aborted.", name))
		}
	}

	s.info2Quiet("Deleting " + name)
	s.info2Quiet("Pausing container")
	if !s.quiet {
		s.verbose("Container paused")
		s.verbose("Removing container")
		s.verbose("Removing data")
	}
	delete(s.e.servicesOf(p.prefix), name)
	s.stdoutLine(fmt.Sprintf("=====> %s container deleted: %s", p.title, name))
	return 0
}

// unlinkDestroyedApp drops a destroyed app from every service's links, as
// the plugins' pre-delete trigger does.
func (e *Emulator) unlinkDestroyedApp(name string) {
	for _, services := range e.services {
		for _, svc := range services {
			svc.links = slices.DeleteFunc(svc.links, func(linked string) bool { return linked == name })
		}
	}
}
