package emulator

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The letsencrypt commands follow the bash sources of dokku-letsencrypt
// 0.25.1. No recording of them exists. `letsencrypt:enable` cannot reach
// Let's Encrypt from a test host, so it prints the plugin's own step lines
// with one synthetic line where a real host prints lego's output, and records
// a certificate valid for 90 days.

// letsencryptState is the plugin's stored state for one app or for --global.
type letsencryptState struct {
	email string
	// expiration is the certificate's notAfter in Unix seconds; zero
	// without a certificate.
	expiration int64
}

// letsencryptGracePeriod is the default renewal window, 30 days.
const letsencryptGracePeriod = 60 * 60 * 24 * 30

// letsencryptDefaultServer is the ACME directory the plugin uses by default.
const letsencryptDefaultServer = "https://acme-v02.api.letsencrypt.org/directory"

// letsencryptFor returns the app's state, creating it.
func (e *Emulator) letsencryptFor(appName string) *letsencryptState {
	if e.letsencrypt == nil {
		e.letsencrypt = map[string]*letsencryptState{}
	}
	if e.letsencrypt[appName] == nil {
		e.letsencrypt[appName] = &letsencryptState{}
	}
	return e.letsencrypt[appName]
}

// letsencryptAppArg applies --app: the plugin prepends DOKKU_APP_NAME.
func (s *session) letsencryptAppArg(args []string) []string {
	if s.appFlag != "" {
		return append([]string{s.appFlag}, args...)
	}
	return args
}

func (s *session) computedEmail(appName string) string {
	if email := s.e.letsencryptFor(appName).email; email != "" {
		return email
	}
	return s.e.letsencryptFor("--global").email
}

func (s *session) letsencryptActive(appName string) bool {
	return s.e.letsencryptFor(appName).expiration != 0
}

func cmdLetsencryptEnable(s *session, args []string) int {
	force := false
	var positional []string
	for _, arg := range args {
		if arg == "--force" || arg == "-f" {
			force = true
			continue
		}
		positional = append(positional, arg)
	}
	positional = s.letsencryptAppArg(positional)
	appName := argAt(positional, 0)
	if appName == "--all" {
		for _, name := range s.e.sortedAppNames() {
			if code := s.enableLetsencrypt(name, force); code != 0 {
				return code
			}
		}
		return 0
	}
	return s.enableLetsencrypt(appName, force)
}

// enableLetsencrypt is fn-letsencrypt-enable.
func (s *session) enableLetsencrypt(appName string, force bool) int {
	a, code, ok := s.verifyAppBash(appName)
	if !ok {
		return code
	}
	if len(a.domains) == 0 {
		return s.fail("No domains detected for " + a.name)
	}

	s.stdoutLine("=====> Enabling letsencrypt for " + a.name)
	if s.computedEmail(a.name) == "" {
		s.warn("ERROR: Cannot request a certificate without an e-mail address!")
		s.warn("  please provide your e-mail address using")
		s.warn("  dokku letsencrypt:set " + a.name + " email <e-mail>")
		return 1
	}

	state := s.e.letsencryptFor(a.name)
	now := s.e.clock().Unix()
	if !force && state.expiration != 0 && state.expiration-letsencryptGracePeriod-now >= 0 {
		s.info1("Certificate is still valid for " + a.name + ", skipping certificate request")
		s.info1("Pass --force to letsencrypt:enable to request a new certificate anyway")
		return 0
	}

	s.info1("Enabling ACME proxy for " + a.name + "...")
	s.info1("Getting letsencrypt certificate for " + a.name + " via HTTP-01")
	for _, domain := range a.domains {
		s.verbose("- Domain '" + domain + "'")
	}
	s.verbose("[INFO] [" + a.domains[0] + "] Server responded with a certificate.")
	s.info1("Certificate retrieved successfully.")
	s.info1("Disabling ACME proxy for " + a.name + "...")
	state.expiration = s.e.clock().Add(90 * 24 * time.Hour).Unix()
	s.info1("Done")
	return 0
}

func cmdLetsencryptDisable(s *session, args []string) int {
	a, code, ok := s.verifyAppBash(argAt(s.letsencryptAppArg(args), 0))
	if !ok {
		return code
	}
	s.info1("Disabling letsencrypt for app")
	s.verbose("Removing letsencrypt files for " + a.name)
	s.verbose("Removing SSL endpoint from " + a.name)
	s.e.letsencryptFor(a.name).expiration = 0
	s.info1("Done")
	return 0
}

func cmdLetsencryptActive(s *session, args []string) int {
	a, code, ok := s.verifyAppBash(argAt(s.letsencryptAppArg(args), 0))
	if !ok {
		return code
	}
	s.stdoutLine(strconv.FormatBool(s.letsencryptActive(a.name)))
	return 0
}

var letsencryptKeys = []string{"dns-provider", "email", "graceperiod", "server", "lego-args", "lego-docker-options"}

func cmdLetsencryptSet(s *session, args []string) int {
	appName, key, value := argAt(args, 0), argAt(args, 1), argAt(args, 2)
	if appName != "--global" {
		if _, code, ok := s.verifyAppBash(appName); !ok {
			return code
		}
	}
	if key == "" {
		return s.fail("No key specified")
	}
	if !slices.Contains(letsencryptKeys, key) && !strings.HasPrefix(key, "dns-provider-") {
		return s.fail("Invalid key specified, valid keys include: dns-provider, dns-provider-*, email, graceperiod, server, lego-args, lego-docker-options")
	}
	if value == "" {
		s.info2Quiet("Unsetting " + key)
	} else {
		s.info2Quiet(fmt.Sprintf("Setting %s to %s", key, value))
	}
	// NOTE: only email changes what the emulator does; the other keys
	// are accepted and forgotten.
	if key == "email" {
		s.e.letsencryptFor(appName).email = value
	}
	return 0
}

// letsencryptFlags is cmd-letsencrypt-report-single's flag_map, in order.
func (s *session) letsencryptFlags(appName string) [][2]string {
	state := s.e.letsencryptFor(appName)
	expiration := ""
	if state.expiration != 0 {
		expiration = strconv.FormatInt(state.expiration, 10)
	}
	global := s.e.letsencryptFor("--global")
	return [][2]string{
		{"--letsencrypt-active", strconv.FormatBool(state.expiration != 0)},
		{"--letsencrypt-autorenew", "false"},
		{"--letsencrypt-computed-dns-provider", ""},
		{"--letsencrypt-global-dns-provider", ""},
		{"--letsencrypt-dns-provider", ""},
		{"--letsencrypt-computed-email", s.computedEmail(appName)},
		{"--letsencrypt-global-email", global.email},
		{"--letsencrypt-email", state.email},
		{"--letsencrypt-expiration", expiration},
		{"--letsencrypt-computed-graceperiod", strconv.Itoa(letsencryptGracePeriod)},
		{"--letsencrypt-global-graceperiod", ""},
		{"--letsencrypt-graceperiod", ""},
		{"--letsencrypt-computed-lego-args", ""},
		{"--letsencrypt-global-lego-args", ""},
		{"--letsencrypt-lego-args", ""},
		{"--letsencrypt-computed-lego-docker-options", ""},
		{"--letsencrypt-global-lego-docker-options", ""},
		{"--letsencrypt-lego-docker-options", ""},
		{"--letsencrypt-computed-server", letsencryptDefaultServer},
		{"--letsencrypt-global-server", ""},
		{"--letsencrypt-server", ""},
	}
}

func cmdLetsencryptReport(s *session, args []string) int {
	format := "stdout"
	var rest []string
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "--format":
			format = argAt(args, i+1)
			i++
		default:
			rest = append(rest, args[i])
		}
	}
	appName, infoFlag := argAt(rest, 0), argAt(rest, 1)
	if strings.HasPrefix(appName, "--") {
		appName, infoFlag = "", appName
	}
	if appName == "" {
		// NOTE: the report of every app and --global are not emulated.
		s.warn("`letsencrypt:report` without an app is not emulated by the Dokku test host")
		return 1
	}
	if _, code, ok := s.verifyAppBash(appName); !ok {
		return code
	}
	if format != "stdout" && infoFlag != "" {
		return s.fail("--format flag cannot be specified when specifying an info flag")
	}

	flags := s.letsencryptFlags(appName)
	if format == "json" {
		// jq keeps the keys in the order they were added.
		var b strings.Builder
		b.WriteString("{")
		for i, flag := range flags {
			if i > 0 {
				b.WriteString(",")
			}
			key, _ := json.Marshal(strings.TrimPrefix(flag[0], "--letsencrypt-"))
			value, _ := json.Marshal(flag[1])
			b.Write(key)
			b.WriteString(":")
			b.Write(value)
		}
		b.WriteString("}")
		s.stdoutLine(b.String())
		return 0
	}

	if infoFlag == "" {
		s.info2Quiet(appName + " letsencrypt information")
		for _, flag := range flags {
			label := upperFirst(strings.ReplaceAll(strings.TrimPrefix(flag[0], "--"), "-", " ")) + ":"
			s.verbose(fmt.Sprintf("%-30s %-25s", label, flag[1]))
		}
		return 0
	}
	var valid strings.Builder
	for _, flag := range flags {
		valid.WriteString(" " + flag[0])
		if flag[0] != infoFlag {
			continue
		}
		// An empty value fails with the plugin's generic message.
		if flag[1] == "" {
			return s.fail("not deployed")
		}
		s.stdoutLine(flag[1])
		return 0
	}
	return s.fail("Invalid flag passed, valid flags:" + valid.String())
}
