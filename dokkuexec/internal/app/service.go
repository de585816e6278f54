// Package app holds DokkuExec's use cases: resolve the tenant's host, get a
// credential, run one typed Dokku command over SSH and turn its output into
// a result or an error the caller can act on.
package app

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	"dokkumcp.dev/dokkuexec/internal/domain"
)

// Options configures a Service.
type Options struct {
	Hosts       HostResolver
	Credentials CredentialIssuer
	Executor    Executor
	// Tenancy supplies the tenant's plan limits and counts its apps.
	Tenancy Tenancy
	// Audit receives one event per state-changing request.
	Audit AuditLog
	// LimitsTTL is how long a tenant's limits are cached; it defaults to
	// DefaultLimitsTTL.
	LimitsTTL time.Duration
	// Streamer runs commands that stream; it defaults to Executor when
	// that implements LineStreamer.
	Streamer LineStreamer
	// Stopping is closed when DokkuExec shuts down, which ends the open
	// streams of FollowLogs. Nil means never.
	Stopping <-chan struct{}
	Logger   *slog.Logger
	// Now returns the current time; it defaults to time.Now.
	Now func() time.Time
	// Metrics, when set, records credential and audit metrics.
	Metrics *Metrics
	// Deployments stores deployments; without it CreateDeployment fails.
	Deployments DeploymentStore
	// DeploymentOutputLines is how many build output lines are kept per
	// deployment; it defaults to DefaultDeploymentOutputLines.
	DeploymentOutputLines int
	// DeploymentOutputRetention is how long a finished deployment's
	// output stays readable; it defaults to one hour.
	DeploymentOutputRetention time.Duration
	// ReconcileInterval is how often stale deployments are looked for and
	// a deployment still running on its host is checked; it defaults to
	// DefaultReconcileInterval.
	ReconcileInterval time.Duration
	// HeartbeatInterval is how often this process proves alive for the
	// deployments it runs; it defaults to DefaultHeartbeatInterval.
	HeartbeatInterval time.Duration
	// StaleAfter is how long after its runner's last heartbeat a queued
	// or running deployment is reconciled by another process; it defaults
	// to DefaultStaleAfter.
	StaleAfter time.Duration
}

// Service runs the Dokku operations of DokkuExecService.
type Service struct {
	hosts       HostResolver
	executor    Executor
	streamer    LineStreamer
	stopping    <-chan struct{}
	credentials *credentialCache
	tenancy     Tenancy
	limits      *limitsCache
	audit       AuditLog
	logger      *slog.Logger
	metrics     *Metrics

	// appLocks serializes writes to each app.
	appLocks *appLocks

	versionsMu sync.Mutex
	// versions caches each host's Dokku version by tenant and host id.
	versions map[string]domain.Version

	now         func() time.Time
	hostInfosMu sync.Mutex
	// hostInfos caches GetHostInfo by tenant and host id.
	hostInfos map[string]HostInfo

	deployments       DeploymentStore
	runs              *deploymentRuns
	outputLines       int
	outputRetention   time.Duration
	reconcileInterval time.Duration
	heartbeatInterval time.Duration
	staleAfter        time.Duration
	// runner names this process in the deployments it runs.
	runner string
	// following holds the ids of deployments this process follows on
	// their host after reconciling them.
	following sync.Map
	// runCtx is the context of deployment runs, independent of the
	// requests that start them; StopDeployments ends it.
	runCtx    context.Context
	runCancel context.CancelFunc
	runWG     sync.WaitGroup
}

// NewService returns a Service.
func NewService(opts Options) *Service {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Streamer == nil {
		opts.Streamer, _ = opts.Executor.(LineStreamer)
	}
	if opts.Metrics != nil {
		opts.Credentials = measuredIssuer{next: opts.Credentials, metrics: opts.Metrics}
		opts.Audit = measuredAuditLog{next: opts.Audit, metrics: opts.Metrics.audit}
		opts.Executor = measuredExecutor{next: opts.Executor, metrics: opts.Metrics}
		if opts.Streamer != nil {
			opts.Streamer = measuredStreamer{next: opts.Streamer, metrics: opts.Metrics}
		}
	}
	if opts.DeploymentOutputLines <= 0 {
		opts.DeploymentOutputLines = DefaultDeploymentOutputLines
	}
	if opts.DeploymentOutputRetention <= 0 {
		opts.DeploymentOutputRetention = time.Hour
	}
	if opts.ReconcileInterval <= 0 {
		opts.ReconcileInterval = DefaultReconcileInterval
	}
	if opts.HeartbeatInterval <= 0 {
		opts.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if opts.StaleAfter <= 0 {
		opts.StaleAfter = DefaultStaleAfter
	}
	runCtx, runCancel := context.WithCancel(context.Background())
	return &Service{
		deployments:       opts.Deployments,
		runs:              &deploymentRuns{runs: map[string]*deploymentRun{}},
		outputLines:       opts.DeploymentOutputLines,
		outputRetention:   opts.DeploymentOutputRetention,
		reconcileInterval: opts.ReconcileInterval,
		heartbeatInterval: opts.HeartbeatInterval,
		staleAfter:        opts.StaleAfter,
		runner:            newRunnerID(),
		runCtx:            runCtx,
		runCancel:         runCancel,
		hosts:             opts.Hosts,
		executor:          opts.Executor,
		streamer:          opts.Streamer,
		stopping:          opts.Stopping,
		credentials:       newCredentialCache(opts.Credentials, opts.Now, opts.Logger),
		tenancy:           opts.Tenancy,
		limits:            newLimitsCache(opts.Tenancy, opts.LimitsTTL, opts.Now),
		audit:             opts.Audit,
		logger:            opts.Logger,
		metrics:           opts.Metrics,
		appLocks:          newAppLocks(),
		versions:          map[string]domain.Version{},
		now:               opts.Now,
		hostInfos:         map[string]HostInfo{},
	}
}

// ListApps returns the names of the apps on the host.
func (s *Service) ListApps(ctx context.Context, tenantID, hostRef string) ([]string, error) {
	target, err := s.target(ctx, tenantID, hostRef)
	if err != nil {
		return nil, err
	}
	version, err := s.version(ctx, target)
	if err != nil {
		return nil, err
	}

	cmd := domain.AppsListCommand(version.AtLeast(domain.AppsListJSONSince))
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

	if !version.AtLeast(domain.AppsListJSONSince) {
		return domain.ParseAppsListText(result.Stdout), nil
	}
	apps, err := domain.ParseAppsListJSON(result.Stdout)
	if err != nil {
		return nil, s.unparsable(ctx, target, cmd, err)
	}
	return apps, nil
}

// CreateAppResult is the outcome of CreateApp.
type CreateAppResult struct {
	App string
	// Warnings are Dokku's stderr warnings, such as "No web listeners
	// specified for shop".
	Warnings []string
}

// CreateApp creates an app on the host, in one of the tenant's app slots.
func (s *Service) CreateApp(ctx context.Context, tenantID, hostRef, appName string) (CreateAppResult, error) {
	return guarded(ctx, s, writeRequest{operation: "CreateApp", tenantID: tenantID, hostRef: hostRef, app: appName},
		func(ctx context.Context) (CreateAppResult, error) {
			return s.createApp(ctx, tenantID, hostRef, appName)
		})
}

// createApp runs CreateApp.
func (s *Service) createApp(ctx context.Context, tenantID, hostRef, appName string) (CreateAppResult, error) {
	app, err := domain.NewAppName(appName)
	if err != nil {
		return CreateAppResult{}, invalid(err)
	}
	cmd, err := domain.AppsCreateCommand(app)
	if err != nil {
		return CreateAppResult{}, invalid(err)
	}
	target, err := s.target(ctx, tenantID, hostRef)
	if err != nil {
		return CreateAppResult{}, err
	}
	release, err := s.lockApps(ctx, target, string(app))
	if err != nil {
		return CreateAppResult{}, err
	}
	defer release()

	var created CreateAppResult
	err = s.withAppSlot(ctx, target, app, func() error {
		result, err := s.run(ctx, target, cmd)
		if err != nil {
			return err
		}
		if result.ExitStatus != 0 {
			for _, message := range result.Messages() {
				if message == "Name is already taken" {
					return Errorf(KindAlreadyExists, "app %q already exists on host %q; choose another name", app, target.Host.Name)
				}
			}
			return s.failure(ctx, target, cmd, app, result)
		}
		created = CreateAppResult{App: string(app), Warnings: result.Messages()}
		return nil
	})
	return created, err
}

// GetAppReport returns the report of one app.
func (s *Service) GetAppReport(ctx context.Context, tenantID, hostRef, appName string) (domain.AppReport, error) {
	app, err := domain.ParseAppName(appName)
	if err != nil {
		return domain.AppReport{}, invalid(err)
	}
	target, err := s.target(ctx, tenantID, hostRef)
	if err != nil {
		return domain.AppReport{}, err
	}
	return s.appReport(ctx, target, app)
}

// appReport runs `apps:report` for app, in JSON where the host supports it.
func (s *Service) appReport(ctx context.Context, target Target, app domain.AppName) (domain.AppReport, error) {
	version, err := s.version(ctx, target)
	if err != nil {
		return domain.AppReport{}, err
	}

	json := version.AtLeast(domain.ReportJSONSince)
	cmd, err := domain.AppsReportCommand(app, json)
	if err != nil {
		return domain.AppReport{}, invalid(err)
	}
	result, err := s.run(ctx, target, cmd)
	if err != nil {
		return domain.AppReport{}, err
	}
	if result.ExitStatus != 0 {
		return domain.AppReport{}, s.failure(ctx, target, cmd, app, result)
	}
	if err := checkComplete(target, cmd, result); err != nil {
		return domain.AppReport{}, err
	}

	parse := domain.ParseAppReportText
	if json {
		parse = domain.ParseAppReportJSON
	}
	report, err := parse(app, result.Stdout)
	if err != nil {
		return domain.AppReport{}, s.unparsable(ctx, target, cmd, err)
	}
	return report, nil
}

// SetConfig sets config vars on an app and returns their keys, sorted.
func (s *Service) SetConfig(ctx context.Context, tenantID, hostRef, appName string, vars map[string]string, noRestart bool) ([]string, error) {
	return guarded(ctx, s, writeRequest{operation: "SetConfig", tenantID: tenantID, hostRef: hostRef, app: appName, arguments: map[string]any{"keys": slices.Sorted(maps.Keys(vars)), "no_restart": noRestart}},
		func(ctx context.Context) ([]string, error) {
			return s.setConfig(ctx, tenantID, hostRef, appName, vars, noRestart)
		})
}

// setConfig runs SetConfig.
func (s *Service) setConfig(ctx context.Context, tenantID, hostRef, appName string, vars map[string]string, noRestart bool) ([]string, error) {
	app, err := domain.ParseAppName(appName)
	if err != nil {
		return nil, invalid(err)
	}
	configVars := make([]domain.ConfigVar, 0, len(vars))
	for key, value := range vars {
		configKey, err := domain.ParseConfigKey(key)
		if err != nil {
			return nil, invalid(err)
		}
		if err := domain.CheckStorable(configKey, value); err != nil {
			return nil, invalid(err)
		}
		configVars = append(configVars, domain.ConfigVar{Key: configKey, Value: value})
	}
	cmd, err := domain.ConfigSetCommand(app, configVars, noRestart)
	if err != nil {
		return nil, invalid(err)
	}
	target, err := s.target(ctx, tenantID, hostRef)
	if err != nil {
		return nil, err
	}
	release, err := s.lockApps(ctx, target, string(app))
	if err != nil {
		return nil, err
	}
	defer release()

	result, err := s.run(ctx, target, cmd)
	if err != nil {
		return nil, err
	}
	if result.ExitStatus != 0 {
		// Dokku's messages may quote what it was given, so every value
		// and its encoding is cut from them first.
		return nil, s.failure(ctx, target, cmd, app, redact(result, configVars))
	}

	return slices.Sorted(maps.Keys(vars)), nil
}

// GetConfig returns the value of one config var of an app.
func (s *Service) GetConfig(ctx context.Context, tenantID, hostRef, appName, key string) (string, error) {
	app, err := domain.ParseAppName(appName)
	if err != nil {
		return "", invalid(err)
	}
	configKey, err := domain.ParseConfigKey(key)
	if err != nil {
		return "", invalid(err)
	}
	cmd, err := domain.ConfigGetCommand(app, configKey)
	if err != nil {
		return "", invalid(err)
	}
	target, err := s.target(ctx, tenantID, hostRef)
	if err != nil {
		return "", err
	}

	result, err := s.run(ctx, target, cmd)
	if err != nil {
		return "", err
	}
	if result.ExitStatus == 1 && len(result.Stdout) == 0 && len(result.Stderr) == 0 {
		// Dokku exits 1 without output when the key is not set.
		return "", Errorf(KindNotFound, "config var %q is not set on app %q", configKey, app)
	}
	if result.ExitStatus != 0 {
		return "", s.failure(ctx, target, cmd, app, result)
	}
	if err := checkComplete(target, cmd, result); err != nil {
		return "", err
	}
	return domain.ParseConfigValue(result.Stdout), nil
}

// target refuses tenants that are not active, resolves the tenant's host
// and binds the credential cache to it. Every request goes through it.
func (s *Service) target(ctx context.Context, tenantID, hostRef string) (Target, error) {
	if tenantID == "" {
		return Target{}, Errorf(KindPermissionDenied, "the access token names no tenant; use a token issued for a tenant's user")
	}
	if _, err := s.checkActive(ctx, tenantID); err != nil {
		return Target{}, err
	}
	host, err := s.hosts.GetHost(ctx, tenantID, hostRef)
	if err != nil {
		return Target{}, err
	}
	noteHost(ctx, host.Name)
	return Target{
		TenantID: tenantID,
		Host:     host,
		Credential: func(ctx context.Context) (Credential, error) {
			return s.credential(ctx, tenantID, host)
		},
		CredentialRejected: func(rejected Credential) {
			s.credentials.Invalidate(tenantID, host.ID, rejected)
		},
	}, nil
}

// version returns the host's Dokku version, running `version` on the first
// call for each host.
//
// NOTE: the version stays cached for the life of the process, so an upgrade
// of Dokku on a host is seen only after DokkuExec restarts.
func (s *Service) version(ctx context.Context, target Target) (domain.Version, error) {
	key := target.TenantID + "/" + target.Host.ID
	s.versionsMu.Lock()
	version, ok := s.versions[key]
	s.versionsMu.Unlock()
	if ok {
		return version, nil
	}

	cmd := domain.VersionCommand()
	result, err := s.run(ctx, target, cmd)
	if err != nil {
		return domain.Version{}, err
	}
	if result.ExitStatus != 0 {
		return domain.Version{}, s.failure(ctx, target, cmd, "", result)
	}
	version, err = domain.ParseVersion(string(result.Stdout))
	if err != nil {
		return domain.Version{}, s.unparsable(ctx, target, cmd, err)
	}

	s.versionsMu.Lock()
	s.versions[key] = version
	s.versionsMu.Unlock()
	s.logger.InfoContext(ctx, "dokku version detected", "host_id", target.Host.ID, "version", version.String())
	return version, nil
}

// run executes cmd and turns transport failures into Errors.
func (s *Service) run(ctx context.Context, target Target, cmd domain.Command) (domain.Result, error) {
	start := time.Now()
	result, err := s.executor.Run(ctx, target, cmd)
	duration := time.Since(start).Milliseconds()
	if err == nil {
		s.logger.InfoContext(ctx, "dokku command finished", "host_id", target.Host.ID, "operation", cmd.Name(),
			"exit_status", result.ExitStatus, "duration_ms", duration)
		return result, nil
	}

	s.logger.WarnContext(ctx, "dokku command failed", "host_id", target.Host.ID, "operation", cmd.Name(), "duration_ms", duration, "error", err)
	return domain.Result{}, s.transportError(target, cmd, err)
}

// transportError turns an Executor's error into an Error.
func (s *Service) transportError(target Target, cmd domain.Command, err error) error {
	var hostKeyChanged *HostKeyChangedError
	switch {
	case errors.As(err, &hostKeyChanged):
		return &Error{Kind: KindFailedPrecondition, Message: hostKeyChanged.Error(), Err: err}
	case errors.Is(err, context.DeadlineExceeded):
		return &Error{Kind: KindDeadlineExceeded, Message: "dokku " + cmd.Name() + " on host " + quote(target.Host.Name) + " timed out; the command may still finish on the host", Err: err}
	case errors.Is(err, context.Canceled):
		return &Error{Kind: KindCanceled, Message: "dokku " + cmd.Name() + " on host " + quote(target.Host.Name) + " was canceled; the command may still finish on the host", Err: err}
	}
	var appErr *Error
	if errors.As(err, &appErr) {
		return err
	}
	return &Error{Kind: KindUnavailable, Message: "dokku " + cmd.Name() + " on host " + quote(target.Host.Name) + " failed: the SSH connection failed; retry later", Err: err}
}

// failure turns a non-zero exit status into an Error. app is empty for
// commands that name no app.
func (s *Service) failure(ctx context.Context, target Target, cmd domain.Command, app domain.AppName, result domain.Result) error {
	if result.ExitStatus == domain.ExitAppNotFound && app != "" {
		return Errorf(KindNotFound, "app %q not found on host %q; create it with apps_create", app, target.Host.Name)
	}

	messages := result.Messages()
	s.logger.WarnContext(ctx, "dokku command exited with an error", "host_id", target.Host.ID, "operation", cmd.Name(),
		"exit_status", result.ExitStatus, "messages", messages)
	if result.ExitStatus == 1 && len(messages) > 0 {
		return Errorf(KindFailedPrecondition, "dokku %s failed on host %q: %s", cmd.Name(), target.Host.Name, joinMessages(messages))
	}
	if len(messages) > 0 {
		return Errorf(KindInternal, "dokku %s failed on host %q with exit status %d: %s", cmd.Name(), target.Host.Name, result.ExitStatus, joinMessages(messages))
	}
	return Errorf(KindInternal, "dokku %s failed on host %q with exit status %d and no message", cmd.Name(), target.Host.Name, result.ExitStatus)
}

// unparsable reports output that DokkuExec does not understand.
func (s *Service) unparsable(ctx context.Context, target Target, cmd domain.Command, err error) error {
	s.logger.ErrorContext(ctx, "dokku output not understood", "host_id", target.Host.ID, "operation", cmd.Name(), "error", err)
	return &Error{
		Kind:    KindInternal,
		Message: "the output of dokku " + cmd.Name() + " on host " + quote(target.Host.Name) + " was not understood; check that the host runs Dokku 0.35 or later",
		Err:     err,
	}
}

// checkComplete rejects output cut at the output limit, because a parsed
// prefix of it would be wrong without saying so.
func checkComplete(target Target, cmd domain.Command, result domain.Result) error {
	if !result.StdoutTruncated {
		return nil
	}
	return Errorf(KindResourceExhausted, "the output of dokku %s on host %q is larger than DokkuExec's output limit (--output-limit)", cmd.Name(), target.Host.Name)
}

// invalid wraps a domain validation error as an InvalidArgument Error.
func invalid(err error) error {
	return &Error{Kind: KindInvalidArgument, Message: err.Error(), Err: err}
}

func quote(s string) string { return strconv.Quote(s) }
