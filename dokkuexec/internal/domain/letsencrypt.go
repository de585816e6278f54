package domain

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// LetsencryptPlugin is the name of the dokku-letsencrypt plugin in
// `plugin:list`.
const LetsencryptPlugin = "letsencrypt"

// LetsencryptInstallCommand is the command a host's administrator runs as
// root to install the plugin.
const LetsencryptInstallCommand = "sudo dokku plugin:install https://github.com/dokku/dokku-letsencrypt.git"

// Email is an e-mail address for Let's Encrypt's account registration.
type Email string

// MaxEmailLength is RFC 5321's limit on a forward path.
const MaxEmailLength = 254

// emailPattern accepts the common address form. It keeps to bytes that
// survive Dokku's tokenizing and starts with a letter or digit so the
// address cannot be read as a flag.
var emailPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$`)

// ParseEmail validates an e-mail address.
func ParseEmail(email string) (Email, error) {
	if len(email) > MaxEmailLength || !emailPattern.MatchString(email) {
		return "", &InvalidArgumentError{
			Field: "e-mail address",
			Value: truncateForMessage(email),
			Rule:  "use an address such as ops@example.com: letters, digits and . _ % + - before the @, a domain name after it",
		}
	}
	return Email(email), nil
}

// LetsencryptEnableCommand returns `letsencrypt:enable <app>`.
func LetsencryptEnableCommand(app AppName) (Command, error) {
	return newCommand("letsencrypt:enable", string(app))
}

// LetsencryptDisableCommand returns `letsencrypt:disable <app>`.
func LetsencryptDisableCommand(app AppName) (Command, error) {
	return newCommand("letsencrypt:disable", string(app))
}

// LetsencryptSetEmailCommand returns `letsencrypt:set <app> email <email>`.
func LetsencryptSetEmailCommand(app AppName, email Email) (Command, error) {
	return newCommand("letsencrypt:set", string(app), "email", string(email))
}

// LetsencryptReportCommand returns `letsencrypt:report <app>`. The text
// form is used with every plugin release: `--format json` arrived only in
// dokku-letsencrypt 0.25.
func LetsencryptReportCommand(app AppName) (Command, error) {
	return newCommand("letsencrypt:report", string(app))
}

// LetsencryptReport is the report of `letsencrypt:report` on one app.
type LetsencryptReport struct {
	App       string
	Active    bool
	Autorenew bool
	// Email is the computed address: the app's own, else the global one.
	Email string
	// Server is the computed ACME directory URL.
	Server string
	// ExpireTime is when the certificate expires; zero without one.
	ExpireTime time.Time
	// Fields holds every line by its key without the "letsencrypt-"
	// prefix.
	Fields map[string]string
}

// ParseLetsencryptReport reads the text form of `letsencrypt:report <app>`:
// a "=====> <app> letsencrypt information" header, then one line per key
// with a 7-space indent and the label padded to 30 columns
// (dokku-letsencrypt 0.25.1 cmd-letsencrypt-report-single). Labels are the
// flags with dashes as spaces ("Letsencrypt computed email").
func ParseLetsencryptReport(app AppName, stdout []byte) (LetsencryptReport, error) {
	fields := map[string]string{}
	for _, line := range strings.Split(string(stdout), "\n") {
		if strings.HasPrefix(line, "=====> ") || strings.TrimSpace(line) == "" {
			continue
		}
		label, value, ok := cutReportLine(line)
		if !ok {
			return LetsencryptReport{}, fmt.Errorf("parse letsencrypt:report output: line %q has no label", truncate(line, 80))
		}
		key := strings.ReplaceAll(strings.ToLower(label), " ", "-")
		fields[strings.TrimPrefix(key, "letsencrypt-")] = value
	}
	if _, ok := fields["active"]; !ok {
		return LetsencryptReport{}, fmt.Errorf("parse letsencrypt:report output: no \"Letsencrypt active\" line")
	}

	report := LetsencryptReport{
		App:       string(app),
		Active:    fields["active"] == "true",
		Autorenew: fields["autorenew"] == "true",
		Email:     fields["computed-email"],
		Server:    fields["computed-server"],
		Fields:    fields,
	}
	if expiration := fields["expiration"]; expiration != "" {
		seconds, err := strconv.ParseInt(expiration, 10, 64)
		if err != nil {
			return LetsencryptReport{}, fmt.Errorf("parse letsencrypt:report expiration %q: expected Unix seconds", truncate(expiration, 40))
		}
		report.ExpireTime = time.Unix(seconds, 0).UTC()
	}
	return report, nil
}

// LetsencryptStillValid reports whether `letsencrypt:enable` skipped the
// request because the app's certificate is still valid.
func LetsencryptStillValid(stdout []byte) bool {
	return strings.Contains(string(stdout), "skipping certificate request")
}

// Messages of dokku-letsencrypt that DokkuExec maps to error codes.
const (
	LetsencryptNoEmailMessage   = "ERROR: Cannot request a certificate without an e-mail address!"
	LetsencryptNoDomainsMessage = "No domains detected for "
)
