package app

import (
	"context"
	"slices"
	"strings"

	"dokkumcp.dev/dokkuexec/internal/domain"
)

// GetDomainsReport returns the domains report of one app.
func (s *Service) GetDomainsReport(ctx context.Context, tenantID, hostRef, appName string) (domain.DomainsReport, error) {
	app, err := domain.ParseAppName(appName)
	if err != nil {
		return domain.DomainsReport{}, invalid(err)
	}
	target, err := s.target(ctx, tenantID, hostRef)
	if err != nil {
		return domain.DomainsReport{}, err
	}
	return s.domainsReport(ctx, target, app)
}

// domainsReport runs `domains:report` for app, in JSON where the host's Dokku
// version has it.
func (s *Service) domainsReport(ctx context.Context, target Target, app domain.AppName) (domain.DomainsReport, error) {
	version, err := s.version(ctx, target)
	if err != nil {
		return domain.DomainsReport{}, err
	}

	json := version.AtLeast(domain.DomainsReportJSONSince)
	build, parse := domain.DomainsReportCommand, domain.ParseDomainsReportJSON
	if !json {
		build, parse = domain.DomainsReportTextCommand, domain.ParseDomainsReportText
	}
	cmd, err := build(app)
	if err != nil {
		return domain.DomainsReport{}, invalid(err)
	}
	result, err := s.runChecked(ctx, target, cmd, app)
	if err != nil {
		return domain.DomainsReport{}, err
	}
	report, err := parse(app, result.Stdout)
	if err != nil {
		return domain.DomainsReport{}, s.unparsable(ctx, target, cmd, err)
	}
	return report, nil
}

// DomainsChange is the outcome of AddDomains, RemoveDomains and SetDomains.
type DomainsChange struct {
	App string
	// Domains lists the app's domains after the change.
	Domains []string
	// Changed is false when the app's domains are the same as before.
	Changed  bool
	Warnings []string
}

// AddDomains adds domains to an app.
func (s *Service) AddDomains(ctx context.Context, tenantID, hostRef, appName string, domains []string) (DomainsChange, error) {
	return guarded(ctx, s, writeRequest{operation: "AddDomains", tenantID: tenantID, hostRef: hostRef, app: appName, arguments: map[string]any{"domains": domains}},
		func(ctx context.Context) (DomainsChange, error) {
			return s.addDomains(ctx, tenantID, hostRef, appName, domains)
		})
}

// addDomains runs AddDomains.
func (s *Service) addDomains(ctx context.Context, tenantID, hostRef, appName string, domains []string) (DomainsChange, error) {
	return s.changeDomains(ctx, tenantID, hostRef, appName, domains, domain.DomainsAddCommand, nil)
}

// SetDomains replaces the domains of an app.
func (s *Service) SetDomains(ctx context.Context, tenantID, hostRef, appName string, domains []string) (DomainsChange, error) {
	return guarded(ctx, s, writeRequest{operation: "SetDomains", tenantID: tenantID, hostRef: hostRef, app: appName, arguments: map[string]any{"domains": domains}},
		func(ctx context.Context) (DomainsChange, error) {
			return s.setDomains(ctx, tenantID, hostRef, appName, domains)
		})
}

// setDomains runs SetDomains.
func (s *Service) setDomains(ctx context.Context, tenantID, hostRef, appName string, domains []string) (DomainsChange, error) {
	return s.changeDomains(ctx, tenantID, hostRef, appName, domains, domain.DomainsSetCommand, nil)
}

// RemoveDomains removes domains from an app. Each domain must be one of the
// app's domains as Dokku stores it, and removing it must not remove others:
// Dokku matches the argument as a pattern in which "." stands for any
// character.
func (s *Service) RemoveDomains(ctx context.Context, tenantID, hostRef, appName string, domains []string) (DomainsChange, error) {
	return guarded(ctx, s, writeRequest{operation: "RemoveDomains", tenantID: tenantID, hostRef: hostRef, app: appName, arguments: map[string]any{"domains": domains}},
		func(ctx context.Context) (DomainsChange, error) {
			return s.removeDomains(ctx, tenantID, hostRef, appName, domains)
		})
}

// removeDomains runs RemoveDomains.
func (s *Service) removeDomains(ctx context.Context, tenantID, hostRef, appName string, domains []string) (DomainsChange, error) {
	check := func(target Target, app domain.AppName, current []string, removing []domain.Domain) error {
		for _, d := range removing {
			if !slices.Contains(current, string(d)) {
				return Errorf(KindNotFound, "domain %q is not a domain of app %q on host %q (its domains: %s); name each domain as GetDomainsReport lists it, in the same case",
					d, app, target.Host.Name, listOrNone(current))
			}
		}
		if collateral := domain.RemovalCollateral(current, removing); len(collateral) > 0 {
			return Errorf(KindFailedPrecondition, "removing %s from app %q would also remove %s, because Dokku matches each name as a pattern in which \".\" stands for any character; remove those domains in the same call, or use SetDomains",
				quoteAll(removing), app, listOrNone(collateral))
		}
		return nil
	}
	return s.changeDomains(ctx, tenantID, hostRef, appName, domains, domain.DomainsRemoveCommand, check)
}

// changeDomains runs a domains change under the app's write lock, between
// two reports, so the result lists the app's domains after the change.
// check, if not nil, validates the request against the domains before it.
func (s *Service) changeDomains(ctx context.Context, tenantID, hostRef, appName string, domains []string,
	build func(domain.AppName, []domain.Domain) (domain.Command, error),
	check func(Target, domain.AppName, []string, []domain.Domain) error,
) (DomainsChange, error) {
	app, err := domain.ParseAppName(appName)
	if err != nil {
		return DomainsChange{}, invalid(err)
	}
	parsed, err := domain.ParseDomains(domains)
	if err != nil {
		return DomainsChange{}, invalid(err)
	}
	cmd, err := build(app, parsed)
	if err != nil {
		return DomainsChange{}, invalid(err)
	}
	target, err := s.target(ctx, tenantID, hostRef)
	if err != nil {
		return DomainsChange{}, err
	}
	release, err := s.lockApps(ctx, target, string(app))
	if err != nil {
		return DomainsChange{}, err
	}
	defer release()

	before, err := s.domainsReport(ctx, target, app)
	if err != nil {
		return DomainsChange{}, err
	}
	if check != nil {
		if err := check(target, app, before.Domains, parsed); err != nil {
			return DomainsChange{}, err
		}
	}
	result, err := s.run(ctx, target, cmd)
	if err != nil {
		return DomainsChange{}, err
	}
	if result.ExitStatus != 0 {
		return DomainsChange{}, s.failure(ctx, target, cmd, app, result)
	}
	after, err := s.domainsReport(ctx, target, app)
	if err != nil {
		return DomainsChange{}, err
	}
	return DomainsChange{
		App:      string(app),
		Domains:  after.Domains,
		Changed:  !slices.Equal(before.Domains, after.Domains) || before.Enabled != after.Enabled,
		Warnings: result.Messages(),
	}, nil
}

func listOrNone(domains []string) string {
	if len(domains) == 0 {
		return "none"
	}
	return strings.Join(domains, ", ")
}

func quoteAll(domains []domain.Domain) string {
	quoted := make([]string, len(domains))
	for i, d := range domains {
		quoted[i] = quote(string(d))
	}
	return strings.Join(quoted, ", ")
}
