package app

import (
	"context"
	"slices"
	"strings"

	"dokkumcp.dev/dokkuexec/internal/domain"
)

// letsencryptTarget resolves the host and checks that it has the
// letsencrypt plugin.
func (s *Service) letsencryptTarget(ctx context.Context, tenantID, hostRef string) (Target, error) {
	target, err := s.target(ctx, tenantID, hostRef)
	if err != nil {
		return Target{}, err
	}
	if err := s.requirePlugin(ctx, target, domain.LetsencryptPlugin, domain.LetsencryptInstallCommand); err != nil {
		return Target{}, err
	}
	return target, nil
}

// GetLetsencryptReport returns an app's Let's Encrypt report.
func (s *Service) GetLetsencryptReport(ctx context.Context, tenantID, hostRef, appName string) (domain.LetsencryptReport, error) {
	app, err := domain.ParseAppName(appName)
	if err != nil {
		return domain.LetsencryptReport{}, invalid(err)
	}
	target, err := s.letsencryptTarget(ctx, tenantID, hostRef)
	if err != nil {
		return domain.LetsencryptReport{}, err
	}
	return s.letsencryptReport(ctx, target, app)
}

func (s *Service) letsencryptReport(ctx context.Context, target Target, app domain.AppName) (domain.LetsencryptReport, error) {
	cmd, err := domain.LetsencryptReportCommand(app)
	if err != nil {
		return domain.LetsencryptReport{}, invalid(err)
	}
	result, err := s.runChecked(ctx, target, cmd, app)
	if err != nil {
		return domain.LetsencryptReport{}, err
	}
	report, err := domain.ParseLetsencryptReport(app, result.Stdout)
	if err != nil {
		return domain.LetsencryptReport{}, s.unparsable(ctx, target, cmd, err)
	}
	return report, nil
}

// LetsencryptChange is the outcome of EnableLetsencrypt.
type LetsencryptChange struct {
	App string
	// Changed is false when the certificate was still valid and no new
	// one was requested.
	Changed bool
	// Report is the app's report after the change.
	Report   domain.LetsencryptReport
	Warnings []string
}

// EnableLetsencrypt requests or renews a Let's Encrypt certificate for an
// app's domains. A non-empty email is stored as the app's address first.
func (s *Service) EnableLetsencrypt(ctx context.Context, tenantID, hostRef, appName, email string) (LetsencryptChange, error) {
	return guarded(ctx, s, writeRequest{operation: "EnableLetsencrypt", tenantID: tenantID, hostRef: hostRef, app: appName, arguments: map[string]any{"email_set": email != ""}},
		func(ctx context.Context) (LetsencryptChange, error) {
			return s.enableLetsencrypt(ctx, tenantID, hostRef, appName, email)
		})
}

// enableLetsencrypt runs EnableLetsencrypt.
func (s *Service) enableLetsencrypt(ctx context.Context, tenantID, hostRef, appName, email string) (LetsencryptChange, error) {
	app, err := domain.ParseAppName(appName)
	if err != nil {
		return LetsencryptChange{}, invalid(err)
	}
	var setEmail *domain.Command
	if email != "" {
		address, err := domain.ParseEmail(email)
		if err != nil {
			return LetsencryptChange{}, invalid(err)
		}
		cmd, err := domain.LetsencryptSetEmailCommand(app, address)
		if err != nil {
			return LetsencryptChange{}, invalid(err)
		}
		setEmail = &cmd
	}
	cmd, err := domain.LetsencryptEnableCommand(app)
	if err != nil {
		return LetsencryptChange{}, invalid(err)
	}
	target, err := s.letsencryptTarget(ctx, tenantID, hostRef)
	if err != nil {
		return LetsencryptChange{}, err
	}
	release, err := s.lockApps(ctx, target, string(app))
	if err != nil {
		return LetsencryptChange{}, err
	}
	defer release()

	if setEmail != nil {
		if _, err := s.runChecked(ctx, target, *setEmail, app); err != nil {
			return LetsencryptChange{}, err
		}
	}
	result, err := s.run(ctx, target, cmd)
	if err != nil {
		return LetsencryptChange{}, err
	}
	if result.ExitStatus != 0 {
		return LetsencryptChange{}, s.letsencryptFailure(ctx, target, cmd, app, result)
	}
	report, err := s.letsencryptReport(ctx, target, app)
	if err != nil {
		return LetsencryptChange{}, err
	}
	return LetsencryptChange{
		App:      string(app),
		Changed:  !domain.LetsencryptStillValid(result.Stdout),
		Report:   report,
		Warnings: result.Messages(),
	}, nil
}

// letsencryptFailure maps the plugin's failures that the caller can fix.
func (s *Service) letsencryptFailure(ctx context.Context, target Target, cmd domain.Command, app domain.AppName, result domain.Result) error {
	messages := result.Messages()
	if slices.Contains(messages, domain.LetsencryptNoEmailMessage) {
		return Errorf(KindFailedPrecondition, "app %q has no e-mail address for Let's Encrypt; call again with email set to the address that should receive expiry notices", app)
	}
	for _, message := range messages {
		if strings.HasPrefix(message, domain.LetsencryptNoDomainsMessage) {
			return Errorf(KindFailedPrecondition, "app %q has no domains, so Let's Encrypt has nothing to certify; add one with domains_add first", app)
		}
	}
	return s.failure(ctx, target, cmd, app, result)
}

// DisableLetsencrypt removes an app's Let's Encrypt certificate and returns
// Dokku's warnings.
func (s *Service) DisableLetsencrypt(ctx context.Context, tenantID, hostRef, appName string) ([]string, error) {
	return guarded(ctx, s, writeRequest{operation: "DisableLetsencrypt", tenantID: tenantID, hostRef: hostRef, app: appName},
		func(ctx context.Context) ([]string, error) {
			return s.disableLetsencrypt(ctx, tenantID, hostRef, appName)
		})
}

// disableLetsencrypt runs DisableLetsencrypt.
func (s *Service) disableLetsencrypt(ctx context.Context, tenantID, hostRef, appName string) ([]string, error) {
	app, err := domain.ParseAppName(appName)
	if err != nil {
		return nil, invalid(err)
	}
	cmd, err := domain.LetsencryptDisableCommand(app)
	if err != nil {
		return nil, invalid(err)
	}
	target, err := s.letsencryptTarget(ctx, tenantID, hostRef)
	if err != nil {
		return nil, err
	}
	release, err := s.lockApps(ctx, target, string(app))
	if err != nil {
		return nil, err
	}
	defer release()

	result, err := s.runChecked(ctx, target, cmd, app)
	if err != nil {
		return nil, err
	}
	warnings := result.Messages()
	if warnings == nil {
		warnings = []string{}
	}
	return warnings, nil
}
