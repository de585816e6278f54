package emulator

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

var hostnamePattern = regexp.MustCompile(`^[a-z0-9.*-]*[a-z0-9*-]$`)

// validHostname is the domains plugin's is_valid_hostname: the domain is
// checked in lower case (ASCII only, as in the C locale) but stored as typed,
// and a lone "_" is allowed.
func validHostname(domain string) bool {
	lower := strings.Map(func(r rune) rune {
		if r >= 'A' && r <= 'Z' {
			return r + ('a' - 'A')
		}
		return r
	}, domain)
	return lower == "_" || hostnamePattern.MatchString(lower)
}

// domainArgs checks the arguments shared by domains:add, :remove and :set.
func (s *session) domainArgs(args []string) (*app, []string, int, bool) {
	appName, domain := "", ""
	if len(args) > 0 {
		appName = args[0]
	}
	if len(args) > 1 {
		domain = args[1]
	}
	if domain == "" {
		// The message repeats the app and the empty domain argument.
		return nil, nil, s.fail(fmt.Sprintf("Please specify a domain name. Usage: dokku %s %s <domain> [<domain> ...]", appName, domain)), false
	}
	a, code, ok := s.verifyAppBash(appName)
	if !ok {
		return nil, nil, code, false
	}
	return a, args[1:], 0, true
}

// validateDomains fails on the first domain that is not a valid hostname.
func (s *session) validateDomains(domains []string) (int, bool) {
	for _, domain := range domains {
		if !validHostname(domain) {
			return s.fail(domain + " is invalid. exiting..."), false
		}
	}
	return 0, true
}

// enableDomains turns domains on for an app where they are off, which sets
// NO_VHOST=0 and rebuilds the proxy configuration.
func (s *session) enableDomains(a *app) {
	if a.vhostEnabled() {
		return
	}
	config := a.config
	config["NO_VHOST"] = "0"
	a.config = storeConfig(config)
	s.buildProxyConfig(a)
}

func cmdDomainsAdd(s *session, args []string) int {
	a, domains, code, ok := s.domainArgs(args)
	if !ok {
		return code
	}
	if code, ok := s.validateDomains(domains); !ok {
		return code
	}

	for _, domain := range domains {
		if slices.Contains(a.domains, domain) {
			s.info1(fmt.Sprintf("Skipping: %s already added to %s", domain, a.name))
			continue
		}
		a.domains = append(a.domains, domain)
		s.info1(fmt.Sprintf("Added %s to %s", domain, a.name))
	}
	s.enableDomains(a)
	s.buildProxyConfig(a)
	return 0
}

func cmdDomainsRemove(s *session, args []string) int {
	a, domains, code, ok := s.domainArgs(args)
	if !ok {
		return code
	}

	// Dokku deletes matching lines with sed, so each domain is a basic
	// regular expression anchored to the whole line, and it is not validated.
	for _, domain := range domains {
		pattern, err := regexp.Compile("^(?:" + basicRegexp(domain) + ")$")
		if err == nil {
			a.domains = slices.DeleteFunc(a.domains, pattern.MatchString)
		}
		s.info1(fmt.Sprintf("Removed %s from %s", domain, a.name))
	}
	s.buildProxyConfig(a)
	return 0
}

// basicRegexp translates a POSIX basic regular expression into Go syntax:
// in BRE, "+?(){}|" are literal unless a backslash precedes them.
//
// NOTE: sed would fail on a domain containing its "|" delimiter; such a
// domain simply matches nothing here.
func basicRegexp(bre string) string {
	var out strings.Builder
	for i := 0; i < len(bre); i++ {
		c := bre[i]
		if c == '\\' && i+1 < len(bre) {
			i++
			next := bre[i]
			if strings.IndexByte("+?(){}|", next) >= 0 {
				out.WriteByte(next)
			} else {
				out.WriteString(regexp.QuoteMeta(string(next)))
			}
			continue
		}
		if strings.IndexByte("+?(){}|", c) >= 0 {
			out.WriteString(regexp.QuoteMeta(string(c)))
			continue
		}
		out.WriteByte(c)
	}
	return out.String()
}

func cmdDomainsSet(s *session, args []string) int {
	a, domains, code, ok := s.domainArgs(args)
	if !ok {
		return code
	}
	if code, ok := s.validateDomains(domains); !ok {
		return code
	}

	a.domains = slices.Clone(domains)
	s.info1(fmt.Sprintf("Set %s for %s", strings.Join(domains, " "), a.name))
	s.enableDomains(a)
	s.buildProxyConfig(a)
	return 0
}

// domainsReport is the spec of `domains:report`. Its JSON has only the
// unprefixed keys.
var domainsReport = reportSpec{
	command:    "domains:report",
	plugin:     "domains",
	reportType: "domains",
	appFlags: func(s *session, a *app) map[string]string {
		return map[string]string{
			"--domains-app-enabled":    fmt.Sprint(a.vhostEnabled()),
			"--domains-app-vhosts":     strings.Join(a.domains, " "),
			"--domains-global-enabled": "false",
			"--domains-global-vhosts":  "",
		}
	},
	globalFlags: func(s *session) map[string]string {
		return map[string]string{
			"--domains-global-enabled": "false",
			"--domains-global-vhosts":  "",
		}
	},
}

func cmdDomainsReport(s *session, args []string) int {
	if !s.e.has(featureDomainsReportJSON) {
		return s.domainsReportBash(args)
	}
	return s.runReport(domainsReport, args)
}

// domainsReportBash is the bash domains:report of Dokku 0.35 to 0.37
// (plugins/domains/internal-functions), which has no --format: a second
// argument is always an info flag. Only the report of one app is emulated.
func (s *session) domainsReportBash(args []string) int {
	appName, infoFlag := argAt(args, 0), argAt(args, 1)
	if appName == "" || strings.HasPrefix(appName, "--") {
		s.warn("`domains:report` without an app is not emulated by the Dokku test host")
		return 1
	}
	a, code, ok := s.verifyAppBash(appName)
	if !ok {
		return code
	}
	flags := [][2]string{
		{"--domains-app-enabled", fmt.Sprint(a.vhostEnabled())},
		{"--domains-app-vhosts", strings.Join(a.domains, " ")},
		{"--domains-global-enabled", "false"},
		{"--domains-global-vhosts", ""},
	}

	if infoFlag == "" {
		s.info2Quiet(a.name + " domains information")
		for _, flag := range flags {
			label := upperFirst(strings.ReplaceAll(strings.TrimPrefix(flag[0], "--"), "-", " ")) + ":"
			s.verbose(fmt.Sprintf("%-30s %-25s", label, flag[1]))
		}
		return 0
	}
	var valid strings.Builder
	match := false
	for _, flag := range flags {
		valid.WriteString(" " + flag[0])
		if flag[0] == infoFlag {
			match = true
			if flag[1] != "" {
				s.stdoutLine(flag[1])
			}
		}
	}
	if !match {
		return s.fail("Invalid flag passed, valid flags:" + valid.String())
	}
	return 0
}
