package app

import (
	"context"
	"slices"
	"strings"

	"dokkumcp.dev/dokkuexec/internal/domain"
)

// serviceRequest is a validated service kind and name.
type serviceRequest struct {
	kind domain.ServiceKind
	name domain.ServiceName
}

func parseServiceRequest(kind, name string) (serviceRequest, error) {
	k, err := domain.ParseServiceKind(kind)
	if err != nil {
		return serviceRequest{}, invalid(err)
	}
	n, err := domain.ParseServiceName(name)
	if err != nil {
		return serviceRequest{}, invalid(err)
	}
	return serviceRequest{kind: k, name: n}, nil
}

// lockKey is the key of the service's write lock in the app locks' table.
// ParseAppName rejects colons, so no app has this key.
func (r serviceRequest) lockKey() string {
	return string(r.kind) + ":" + string(r.name)
}

// serviceTarget resolves the host and checks that it has the kind's plugin.
func (s *Service) serviceTarget(ctx context.Context, tenantID, hostRef string, kind domain.ServiceKind) (Target, error) {
	target, err := s.target(ctx, tenantID, hostRef)
	if err != nil {
		return Target{}, err
	}
	if err := s.requirePlugin(ctx, target, kind.Plugin(), kind.InstallCommand()); err != nil {
		return Target{}, err
	}
	return target, nil
}

// serviceFailure turns a failed service command into an Error, mapping the
// plugins' messages for a missing or existing service. The output is
// redacted first, because the plugins print DSNs with their passwords.
func (s *Service) serviceFailure(ctx context.Context, target Target, cmd domain.Command, req serviceRequest, app domain.AppName, result domain.Result) error {
	result = redactDSNs(result)
	messages := result.Messages()
	switch {
	case slices.Contains(messages, domain.ServiceMissingMessage(req.kind, req.name)):
		return Errorf(KindNotFound, "%s service %q not found on host %q; list services with services_list or create it with services_create", req.kind, req.name, target.Host.Name)
	case slices.Contains(messages, domain.ServiceExistsMessage(req.kind, req.name)):
		return Errorf(KindAlreadyExists, "%s service %q already exists on host %q; choose another name", req.kind, req.name, target.Host.Name)
	}
	return s.failure(ctx, target, cmd, app, result)
}

// redactDSNs removes the passwords of any URLs in a result's output.
func redactDSNs(result domain.Result) domain.Result {
	result.Stdout = []byte(domain.RedactDSN(string(result.Stdout)))
	result.Stderr = []byte(domain.RedactDSN(string(result.Stderr)))
	return result
}

// redactedMessages returns the result's warnings without passwords.
func redactedMessages(result domain.Result) []string {
	return redactDSNs(result).Messages()
}

// CreateServiceResult is the outcome of CreateService.
type CreateServiceResult struct {
	// Info is the new service with its DSN redacted.
	Info     domain.ServiceInfo
	Warnings []string
}

// CreateService creates a postgres or redis service.
func (s *Service) CreateService(ctx context.Context, tenantID, hostRef, kind, name string) (CreateServiceResult, error) {
	return guarded(ctx, s, writeRequest{operation: "CreateService", tenantID: tenantID, hostRef: hostRef, arguments: map[string]any{"kind": kind, "service": name}},
		func(ctx context.Context) (CreateServiceResult, error) {
			return s.createService(ctx, tenantID, hostRef, kind, name)
		})
}

// createService runs CreateService.
func (s *Service) createService(ctx context.Context, tenantID, hostRef, kind, name string) (CreateServiceResult, error) {
	req, err := parseServiceRequest(kind, name)
	if err != nil {
		return CreateServiceResult{}, err
	}
	cmd, err := domain.ServiceCreateCommand(req.kind, req.name)
	if err != nil {
		return CreateServiceResult{}, invalid(err)
	}
	target, err := s.serviceTarget(ctx, tenantID, hostRef, req.kind)
	if err != nil {
		return CreateServiceResult{}, err
	}
	release, err := s.lockApps(ctx, target, req.lockKey())
	if err != nil {
		return CreateServiceResult{}, err
	}
	defer release()

	result, err := s.run(ctx, target, cmd)
	if err != nil {
		return CreateServiceResult{}, err
	}
	if result.ExitStatus != 0 {
		return CreateServiceResult{}, s.serviceFailure(ctx, target, cmd, req, "", result)
	}
	info, err := domain.ParseServiceInfo(req.kind, req.name, result.Stdout)
	if err != nil {
		// The service exists now; only its report was not understood.
		return CreateServiceResult{}, s.unparsable(ctx, target, cmd, err)
	}
	return CreateServiceResult{Info: info.Redacted(), Warnings: redactedMessages(result)}, nil
}

// GetServiceInfo returns a service's report. The DSN keeps its password only
// when reveal is set; the caller decides whether the requester may see it.
func (s *Service) GetServiceInfo(ctx context.Context, tenantID, hostRef, kind, name string, reveal bool) (domain.ServiceInfo, error) {
	req, err := parseServiceRequest(kind, name)
	if err != nil {
		return domain.ServiceInfo{}, err
	}
	cmd, err := domain.ServiceInfoCommand(req.kind, req.name)
	if err != nil {
		return domain.ServiceInfo{}, invalid(err)
	}
	target, err := s.serviceTarget(ctx, tenantID, hostRef, req.kind)
	if err != nil {
		return domain.ServiceInfo{}, err
	}

	result, err := s.run(ctx, target, cmd)
	if err != nil {
		return domain.ServiceInfo{}, err
	}
	if result.ExitStatus != 0 {
		return domain.ServiceInfo{}, s.serviceFailure(ctx, target, cmd, req, "", result)
	}
	if err := checkComplete(target, cmd, result); err != nil {
		return domain.ServiceInfo{}, err
	}
	info, err := domain.ParseServiceInfo(req.kind, req.name, result.Stdout)
	if err != nil {
		return domain.ServiceInfo{}, s.unparsable(ctx, target, cmd, err)
	}
	if reveal {
		return info, nil
	}
	return info.Redacted(), nil
}

// ListServices returns the names of the services of one kind on the host.
func (s *Service) ListServices(ctx context.Context, tenantID, hostRef, kind string) ([]string, error) {
	k, err := domain.ParseServiceKind(kind)
	if err != nil {
		return nil, invalid(err)
	}
	cmd := domain.ServiceListCommand(k)
	target, err := s.serviceTarget(ctx, tenantID, hostRef, k)
	if err != nil {
		return nil, err
	}

	result, err := s.run(ctx, target, cmd)
	if err != nil {
		return nil, err
	}
	if result.ExitStatus != 0 {
		return nil, s.failure(ctx, target, cmd, "", result)
	}
	if err := checkComplete(target, cmd, result); err != nil {
		return nil, err
	}
	names, err := domain.ParseServiceList(k, result.Stdout)
	if err != nil {
		return nil, s.unparsable(ctx, target, cmd, err)
	}
	return names, nil
}

// ServiceLink is the outcome of LinkService.
type ServiceLink struct {
	App string
	// ConfigKey is the config var that holds the DSN, such as
	// DATABASE_URL.
	ConfigKey string
	Warnings  []string
}

// LinkService links a service to an app, which sets a config var with the
// service's DSN on the app.
func (s *Service) LinkService(ctx context.Context, tenantID, hostRef, kind, name, appName string, noRestart bool) (ServiceLink, error) {
	return guarded(ctx, s, writeRequest{operation: "LinkService", tenantID: tenantID, hostRef: hostRef, app: appName, arguments: map[string]any{"kind": kind, "service": name, "no_restart": noRestart}},
		func(ctx context.Context) (ServiceLink, error) {
			return s.linkService(ctx, tenantID, hostRef, kind, name, appName, noRestart)
		})
}

// linkService runs LinkService.
func (s *Service) linkService(ctx context.Context, tenantID, hostRef, kind, name, appName string, noRestart bool) (ServiceLink, error) {
	req, err := parseServiceRequest(kind, name)
	if err != nil {
		return ServiceLink{}, err
	}
	app, err := domain.ParseAppName(appName)
	if err != nil {
		return ServiceLink{}, invalid(err)
	}
	cmd, err := domain.ServiceLinkCommand(req.kind, req.name, app, noRestart)
	if err != nil {
		return ServiceLink{}, invalid(err)
	}
	target, err := s.serviceTarget(ctx, tenantID, hostRef, req.kind)
	if err != nil {
		return ServiceLink{}, err
	}
	release, err := s.lockApps(ctx, target, string(app), req.lockKey())
	if err != nil {
		return ServiceLink{}, err
	}
	defer release()

	result, err := s.run(ctx, target, cmd)
	if err != nil {
		return ServiceLink{}, err
	}
	if result.ExitStatus != 0 {
		for _, message := range redactedMessages(result) {
			if key, ok := strings.CutPrefix(message, domain.ServiceAlreadyLinkedTag); ok {
				return ServiceLink{}, Errorf(KindAlreadyExists, "%s service %q is already linked to app %q as %s", req.kind, req.name, app, key)
			}
		}
		return ServiceLink{}, s.serviceFailure(ctx, target, cmd, req, app, result)
	}
	key, err := domain.ParseServiceLink(req.kind, result.Stdout)
	if err != nil {
		return ServiceLink{}, s.unparsable(ctx, target, cmd, err)
	}
	return ServiceLink{App: string(app), ConfigKey: key, Warnings: redactedMessages(result)}, nil
}

// ServiceUnlink is the outcome of UnlinkService.
type ServiceUnlink struct {
	App string
	// UnsetKeys lists the config vars that pointed at the service and
	// were removed.
	UnsetKeys []string
	Warnings  []string
}

// UnlinkService unlinks a service from an app and removes the config var
// that held its DSN. confirm must equal the service's name.
func (s *Service) UnlinkService(ctx context.Context, tenantID, hostRef, kind, name, appName, confirm string, noRestart bool) (ServiceUnlink, error) {
	return guarded(ctx, s, writeRequest{operation: "UnlinkService", tenantID: tenantID, hostRef: hostRef, app: appName, arguments: map[string]any{"kind": kind, "service": name, "no_restart": noRestart}},
		func(ctx context.Context) (ServiceUnlink, error) {
			return s.unlinkService(ctx, tenantID, hostRef, kind, name, appName, confirm, noRestart)
		})
}

// unlinkService runs UnlinkService.
func (s *Service) unlinkService(ctx context.Context, tenantID, hostRef, kind, name, appName, confirm string, noRestart bool) (ServiceUnlink, error) {
	req, err := parseServiceRequest(kind, name)
	if err != nil {
		return ServiceUnlink{}, err
	}
	app, err := domain.ParseAppName(appName)
	if err != nil {
		return ServiceUnlink{}, invalid(err)
	}
	if confirm != name {
		return ServiceUnlink{}, Errorf(KindInvalidArgument, "invalid confirm %q: pass the service's name %q as confirm to unlink it from app %q", confirm, req.name, app)
	}
	cmd, err := domain.ServiceUnlinkCommand(req.kind, req.name, app, noRestart)
	if err != nil {
		return ServiceUnlink{}, invalid(err)
	}
	target, err := s.serviceTarget(ctx, tenantID, hostRef, req.kind)
	if err != nil {
		return ServiceUnlink{}, err
	}
	release, err := s.lockApps(ctx, target, string(app), req.lockKey())
	if err != nil {
		return ServiceUnlink{}, err
	}
	defer release()

	result, err := s.run(ctx, target, cmd)
	if err != nil {
		return ServiceUnlink{}, err
	}
	if result.ExitStatus != 0 {
		if slices.Contains(redactedMessages(result), domain.ServiceNotLinkedPrefix+string(app)) {
			return ServiceUnlink{}, Errorf(KindFailedPrecondition, "%s service %q is not linked to app %q; services_info lists its links", req.kind, req.name, app)
		}
		return ServiceUnlink{}, s.serviceFailure(ctx, target, cmd, req, app, result)
	}
	return ServiceUnlink{App: string(app), UnsetKeys: domain.ParseServiceUnlink(result.Stdout), Warnings: redactedMessages(result)}, nil
}

// DestroyService deletes a service with its container and data. confirm must
// equal the service's name. Dokku refuses while apps are linked to it.
func (s *Service) DestroyService(ctx context.Context, tenantID, hostRef, kind, name, confirm string) ([]string, error) {
	return guarded(ctx, s, writeRequest{operation: "DestroyService", tenantID: tenantID, hostRef: hostRef, arguments: map[string]any{"kind": kind, "service": name}},
		func(ctx context.Context) ([]string, error) {
			return s.destroyService(ctx, tenantID, hostRef, kind, name, confirm)
		})
}

// destroyService runs DestroyService and returns Dokku's warnings.
func (s *Service) destroyService(ctx context.Context, tenantID, hostRef, kind, name, confirm string) ([]string, error) {
	req, err := parseServiceRequest(kind, name)
	if err != nil {
		return nil, err
	}
	if confirm != name {
		return nil, Errorf(KindInvalidArgument, "invalid confirm %q: pass the service's name %q as confirm to destroy it", confirm, req.name)
	}
	cmd, err := domain.ServiceDestroyCommand(req.kind, req.name)
	if err != nil {
		return nil, invalid(err)
	}
	target, err := s.serviceTarget(ctx, tenantID, hostRef, req.kind)
	if err != nil {
		return nil, err
	}
	release, err := s.lockApps(ctx, target, req.lockKey())
	if err != nil {
		return nil, err
	}
	defer release()

	result, err := s.run(ctx, target, cmd)
	if err != nil {
		return nil, err
	}
	if result.ExitStatus != 0 {
		if slices.Contains(result.Messages(), domain.ServiceLinkedMessage) {
			return nil, Errorf(KindFailedPrecondition, "%s service %q is linked to apps, so Dokku keeps it; unlink each app that services_info lists with services_unlink first", req.kind, req.name)
		}
		return nil, s.serviceFailure(ctx, target, cmd, req, "", result)
	}
	warnings := redactedMessages(result)
	if warnings == nil {
		warnings = []string{}
	}
	return warnings, nil
}
