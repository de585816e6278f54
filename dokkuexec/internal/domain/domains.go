package domain

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Host name rules. Dokku's domains plugin checks a domain in lower case
// against `^[a-z0-9.*-]*[a-z0-9*-]$` and stores it as typed. DokkuExec is
// stricter: DNS lengths, non-empty labels that start and end with a letter
// or digit, and no "*", because the host's shell would expand a "*" as a
// file pattern before Dokku sees it.
const (
	MaxDomainLength      = 253
	MaxDomainLabelLength = 63
)

var domainLabelPattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)

// Domain is a validated host name, kept in the case it was typed.
type Domain string

// ParseDomain validates a host name for an app.
func ParseDomain(domain string) (Domain, error) {
	invalid := func(rule string) error {
		return &InvalidArgumentError{Field: "domain", Value: truncateForMessage(domain), Rule: rule}
	}
	if domain == "" {
		return "", invalid("name a host, for example www.example.com")
	}
	if len(domain) > MaxDomainLength {
		return "", invalid(fmt.Sprintf("use at most %d characters (this one has %d)", MaxDomainLength, len(domain)))
	}
	if strings.Contains(domain, "*") {
		return "", invalid("wildcard domains are not supported, because the host's shell would expand \"*\" as a file pattern; add each host name")
	}
	for _, label := range strings.Split(strings.ToLower(domain), ".") {
		if len(label) > MaxDomainLabelLength {
			return "", invalid(fmt.Sprintf("use labels (the parts between dots) of at most %d characters", MaxDomainLabelLength))
		}
		if !domainLabelPattern.MatchString(label) {
			return "", invalid("use letters, digits, dashes and dots, with each part between dots starting and ending with a letter or digit")
		}
	}
	return Domain(domain), nil
}

// ParseDomains validates a list of domains, each named once.
func ParseDomains(domains []string) ([]Domain, error) {
	if len(domains) == 0 {
		return nil, &InvalidArgumentError{Field: "domains", Redact: true, Rule: "name at least one domain"}
	}
	parsed := make([]Domain, 0, len(domains))
	for _, d := range domains {
		domain, err := ParseDomain(d)
		if err != nil {
			return nil, err
		}
		if slices.Contains(parsed, domain) {
			return nil, &InvalidArgumentError{Field: "domain", Value: d, Rule: "name each domain once"}
		}
		parsed = append(parsed, domain)
	}
	return parsed, nil
}

// DomainsReportJSONSince is the first release whose `domains:report`
// accepts `--format json`. Before it, domains:report is a bash command that
// takes a second argument as an info flag and fails on --format.
var DomainsReportJSONSince = Version{Major: 0, Minor: 38, Patch: 0}

// DomainsReportCommand returns `domains:report <app> --format json`.
func DomainsReportCommand(app AppName) (Command, error) {
	return newCommand("domains:report", string(app), "--format", "json")
}

// DomainsReportTextCommand returns `domains:report <app>`, for hosts before
// DomainsReportJSONSince.
func DomainsReportTextCommand(app AppName) (Command, error) {
	return newCommand("domains:report", string(app))
}

// ParseDomainsReportText reads the text form of `domains:report <app>`: a
// "=====> <app> domains information" header, then one line per key, the
// label ("Domains app vhosts") padded to 30 columns before the value.
func ParseDomainsReportText(app AppName, stdout []byte) (DomainsReport, error) {
	fields := map[string]string{}
	for _, line := range strings.Split(string(stdout), "\n") {
		if strings.HasPrefix(line, "=====> ") || strings.TrimSpace(line) == "" {
			continue
		}
		label, value, ok := cutReportLine(line)
		if !ok {
			return DomainsReport{}, fmt.Errorf("parse domains:report output: line %q has no label", truncate(line, 80))
		}
		key := strings.ReplaceAll(strings.ToLower(label), " ", "-")
		fields[strings.TrimPrefix(key, "domains-")] = value
	}
	if _, ok := fields["app-enabled"]; !ok {
		return DomainsReport{}, fmt.Errorf("parse domains:report output: no \"Domains app enabled\" line")
	}
	return newDomainsReport(app, fields), nil
}

// DomainsAddCommand, DomainsRemoveCommand and DomainsSetCommand return
// `domains:add`, `domains:remove` and `domains:set <app> <domain>...`, with
// the domains in the order given, which is the order Dokku stores them in.
func DomainsAddCommand(app AppName, domains []Domain) (Command, error) {
	return domainsCommand("domains:add", app, domains)
}

func DomainsRemoveCommand(app AppName, domains []Domain) (Command, error) {
	return domainsCommand("domains:remove", app, domains)
}

func DomainsSetCommand(app AppName, domains []Domain) (Command, error) {
	return domainsCommand("domains:set", app, domains)
}

func domainsCommand(subcommand string, app AppName, domains []Domain) (Command, error) {
	if len(domains) == 0 {
		return Command{}, &InvalidArgumentError{Field: "domains", Redact: true, Rule: "name at least one domain"}
	}
	args := []string{string(app)}
	for _, d := range domains {
		if _, err := ParseDomain(string(d)); err != nil {
			return Command{}, err
		}
		args = append(args, string(d))
	}
	return newCommand(subcommand, args...)
}

// DomainsReport is the report of one app from `domains:report`.
type DomainsReport struct {
	App           string
	Enabled       bool
	Domains       []string
	GlobalEnabled bool
	GlobalDomains []string
	Fields        map[string]string
}

// ParseDomainsReportJSON reads `domains:report <app> --format json`, with
// or without the "domains-" key prefix.
func ParseDomainsReportJSON(app AppName, stdout []byte) (DomainsReport, error) {
	fields, err := parseReportJSON("domains:report", "domains-", stdout)
	if err != nil {
		return DomainsReport{}, err
	}
	return newDomainsReport(app, fields), nil
}

func newDomainsReport(app AppName, fields map[string]string) DomainsReport {
	return DomainsReport{
		App:           string(app),
		Enabled:       fields["app-enabled"] == "true",
		Domains:       strings.Fields(fields["app-vhosts"]),
		GlobalEnabled: fields["global-enabled"] == "true",
		GlobalDomains: strings.Fields(fields["global-vhosts"]),
		Fields:        fields,
	}
}

// RemovalCollateral returns the domains in current, other than those in
// removing, that `domains:remove` would also delete. Dokku deletes every
// line that matches the argument as an anchored regular expression, so the
// "." of a validated domain matches any character: removing "a.example.com"
// also removes "abexample.com".
func RemovalCollateral(current []string, removing []Domain) []string {
	var collateral []string
	for _, d := range removing {
		pattern := regexp.MustCompile("^" + strings.ReplaceAll(regexp.QuoteMeta(string(d)), `\.`, ".") + "$")
		for _, existing := range current {
			if slices.Contains(removing, Domain(existing)) || slices.Contains(collateral, existing) {
				continue
			}
			if pattern.MatchString(existing) {
				collateral = append(collateral, existing)
			}
		}
	}
	return collateral
}
