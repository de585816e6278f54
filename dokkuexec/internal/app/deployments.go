package app

import (
	"context"
	"errors"
	"log/slog"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"dokkumcp.dev/dokkuexec/internal/domain"
)

// Deployments run in the background, one per app at a time:
//
//   - CreateDeployment validates the request and rejects an app that already
//     has a queued or running deployment with KindAborted naming it. The
//     store's unique index decides across replicas. It also rejects an app
//     that Dokku is deploying outside DokkuExec. Then it stores the
//     deployment as queued, audits the request and returns.
//   - The run waits for the app's write lock, so it is serialized with every
//     other change to the app. Then it streams the Dokku command's output
//     into a bounded buffer. It takes the outcome from Dokku's build record
//     where the host keeps them, and from the exit status otherwise.
//   - The run has its own context: the caller going away does not stop it,
//     only CancelDeployment or DokkuExec stopping does. A run stopped by
//     shutdown records nothing more, and Reconcile settles it once its
//     heartbeats stop.

// DeploymentRequest is a request to deploy an app from one source.
type DeploymentRequest struct {
	Host       string
	App        string
	Kind       domain.SourceKind
	Repository string
	Ref        string
	Image      string
}

// Limits of ListDeployments.
const (
	DefaultDeploymentPageSize = 20
	MaxDeploymentPageSize     = 100
)

// cancelWait bounds how long CancelDeployment waits for the cancelled run
// to record its outcome.
const cancelWait = 10 * time.Second

// source validates the request's source.
func (r DeploymentRequest) source() (domain.DeploymentSource, error) {
	switch r.Kind {
	case domain.SourceGit:
		repository, err := domain.ParseGitRepository(r.Repository)
		if err != nil {
			return domain.DeploymentSource{}, err
		}
		ref, err := domain.ParseGitRef(r.Ref)
		if err != nil {
			return domain.DeploymentSource{}, err
		}
		return domain.DeploymentSource{Kind: domain.SourceGit, Repository: repository, Ref: ref}, nil
	case domain.SourceImage:
		image, err := domain.ParseImageReference(r.Image)
		if err != nil {
			return domain.DeploymentSource{}, err
		}
		return domain.DeploymentSource{Kind: domain.SourceImage, Image: image}, nil
	case domain.SourceRebuild:
		return domain.DeploymentSource{Kind: domain.SourceRebuild}, nil
	}
	return domain.DeploymentSource{}, &domain.InvalidArgumentError{Field: "deployment source", Redact: true,
		Rule: "give exactly one source: a git repository, an image or a rebuild"}
}

// CreateDeployment starts a deployment of an app and returns it queued.
func (s *Service) CreateDeployment(ctx context.Context, tenantID string, req DeploymentRequest) (domain.Deployment, error) {
	arguments := map[string]any{"source": string(req.Kind)}
	switch req.Kind {
	case domain.SourceGit:
		// A refused URL is recorded too, so its credential is cut out.
		arguments["repository"], arguments["ref"] = domain.RedactGitRepository(req.Repository), req.Ref
	case domain.SourceImage:
		arguments["image"] = req.Image
	}
	write := writeRequest{operation: "CreateDeployment", tenantID: tenantID, hostRef: req.Host, app: req.App, arguments: arguments}
	return guarded(ctx, s, write, func(ctx context.Context) (domain.Deployment, error) {
		d, err := s.createDeployment(ctx, tenantID, req)
		if err == nil {
			// The event is built after the change, so it names the id.
			arguments["deployment_id"] = d.ID
		}
		return d, err
	})
}

// createDeployment runs CreateDeployment.
func (s *Service) createDeployment(ctx context.Context, tenantID string, req DeploymentRequest) (domain.Deployment, error) {
	if s.deployments == nil || s.streamer == nil {
		return domain.Deployment{}, Errorf(KindInternal, "this DokkuExec cannot run deployments: it has no deployment store or cannot stream command output")
	}
	app, err := domain.ParseAppName(req.App)
	if err != nil {
		return domain.Deployment{}, invalid(err)
	}
	source, err := req.source()
	if err != nil {
		return domain.Deployment{}, invalid(err)
	}
	cmd, err := source.Command(app)
	if err != nil {
		return domain.Deployment{}, invalid(err)
	}
	target, err := s.target(ctx, tenantID, req.Host)
	if err != nil {
		return domain.Deployment{}, err
	}
	version, err := s.version(ctx, target)
	if err != nil {
		return domain.Deployment{}, err
	}
	builds := version.AtLeast(domain.BuildsSince)

	if err := s.checkNoActiveDeployment(ctx, target, app); err != nil {
		return domain.Deployment{}, err
	}
	if builds {
		if err := s.checkNotDeploying(ctx, target, app); err != nil {
			return domain.Deployment{}, err
		}
	}

	d := domain.Deployment{
		ID: domain.NewDeploymentID(), TenantID: tenantID, HostID: target.Host.ID, HostName: target.Host.Name,
		App: app, Source: source, Status: domain.DeploymentQueued, CreateTime: s.now().UTC(), Runner: s.runner,
	}
	// The run is known before it is stored, so that a Reconcile running
	// meanwhile does not take the stored deployment for an orphan.
	runCtx, cancel := context.WithCancelCause(s.runCtx)
	run := newDeploymentRun(d, s.outputLines, cancel)
	s.runs.add(run)
	if err := s.deployments.InsertDeployment(ctx, d); err != nil {
		s.runs.remove(d.ID)
		cancel(nil)
		var conflict *DeploymentConflictError
		if errors.As(err, &conflict) {
			return domain.Deployment{}, deploymentConflict(app, target, conflict.RunningID)
		}
		s.logger.ErrorContext(ctx, "deployment not stored", "tenant_id", tenantID, "app", string(app), "error", err)
		return domain.Deployment{}, &Error{Kind: KindUnavailable, Message: "the deployment of app " + quote(string(app)) + " could not be recorded, so it was not started; retry later", Err: err}
	}

	s.runWG.Add(1)
	go s.runDeployment(runCtx, run, target, cmd, builds)
	s.logger.InfoContext(ctx, "deployment started", "tenant_id", tenantID, "host_id", target.Host.ID, "app", string(app),
		"deployment_id", d.ID, "source", string(source.Kind))
	return d, nil
}

// deploymentConflict is the error for an app that has a deployment queued or
// running in DokkuExec.
func deploymentConflict(app domain.AppName, target Target, runningID string) error {
	return &Error{
		Kind: KindAborted,
		Message: "app " + quote(string(app)) + " on host " + quote(target.Host.Name) + " is already being deployed by deployment " + runningID +
			"; watch it with WatchDeployment, or cancel it with CancelDeployment, then deploy again",
		DeploymentID: runningID,
	}
}

// checkNoActiveDeployment rejects an app with a queued or running
// deployment, before the host is asked whether it is deploying.
func (s *Service) checkNoActiveDeployment(ctx context.Context, target Target, app domain.AppName) error {
	newest, err := s.deployments.ListDeployments(ctx, target.TenantID, target.Host.ID, app, 1)
	if err != nil {
		s.logger.ErrorContext(ctx, "deployments not read", "tenant_id", target.TenantID, "app", string(app), "error", err)
		return &Error{Kind: KindUnavailable, Message: "the deployments of app " + quote(string(app)) + " could not be read; retry later", Err: err}
	}
	if len(newest) > 0 && !newest[0].Status.Ended() {
		return deploymentConflict(app, target, newest[0].ID)
	}
	return nil
}

// checkNotDeploying rejects an app whose build Dokku is running outside
// DokkuExec, which holds the app's deploy lock.
func (s *Service) checkNotDeploying(ctx context.Context, target Target, app domain.AppName) error {
	records, err := s.buildRecords(ctx, target, app)
	if err != nil {
		return err
	}
	for _, r := range records {
		if r.DisplayStatus == "running" {
			return deployLocked(app, target, "build "+r.ID+" ("+r.Source+", started "+r.StartedAt.UTC().Format(time.RFC3339)+")")
		}
	}
	return nil
}

// deployLocked is the error for an app whose deploy lock another deploy
// holds.
func deployLocked(app domain.AppName, target Target, holder string) error {
	return Errorf(KindAborted, "app %q on host %q is already being deployed outside DokkuExec by %s, which has Dokku's deploy lock. "+
		"Wait for it to finish or stop it with `dokku builds:cancel %s`. If no deploy is running, remove a stale lock with apps_unlock, then deploy again",
		app, target.Host.Name, holder, app)
}

// buildRecords returns the app's build records (Dokku 0.38 and later).
func (s *Service) buildRecords(ctx context.Context, target Target, app domain.AppName) ([]domain.BuildRecord, error) {
	cmd, err := domain.BuildsListJSONCommand(app)
	if err != nil {
		return nil, invalid(err)
	}
	result, err := s.runChecked(ctx, target, cmd, app)
	if err != nil {
		return nil, err
	}
	records, err := domain.ParseBuildsJSON(result.Stdout)
	if err != nil {
		return nil, s.unparsable(ctx, target, cmd, err)
	}
	return records, nil
}

// runDeployment runs a deployment to its end, or until ctx ends.
func (s *Service) runDeployment(ctx context.Context, run *deploymentRun, target Target, cmd domain.Command, builds bool) {
	defer s.runWG.Done()
	defer close(run.done)
	start := run.snapshotRecord()
	defer time.AfterFunc(s.outputRetention, func() { s.runs.remove(start.ID) })
	logger := s.logger.With("tenant_id", target.TenantID, "host_id", target.Host.ID, "app", string(start.App), "deployment_id", start.ID)

	release, err := s.appLocks.acquire(ctx, appLockKey(target, string(start.App)))
	if err != nil {
		if errors.Is(context.Cause(ctx), errDeploymentCancelled) {
			s.finish(context.WithoutCancel(ctx), run, logger, func(d *domain.Deployment) {
				d.Status, d.Message = domain.DeploymentCancelled, "cancelled before it started"
			})
			return
		}
		logger.InfoContext(ctx, "deployment left queued at shutdown")
		return
	}
	defer release()

	started := s.now().UTC()
	d := run.update(func(d *domain.Deployment) { d.Status, d.StartTime = domain.DeploymentRunning, &started })
	s.store(ctx, d, logger)

	result, err := s.streamer.Stream(ctx, target, cmd, func(line string) error {
		run.addLine(line)
		return nil
	})
	if ctx.Err() != nil && !run.isCancelRequested() {
		// DokkuExec is stopping. The outcome is left to Reconcile.
		logger.InfoContext(ctx, "deployment left running at shutdown", "error", err)
		return
	}
	for _, line := range strings.Split(strings.TrimRight(string(result.Stderr), "\n"), "\n") {
		// Hosts without build records keep stderr apart; it follows
		// stdout in the buffer.
		if line != "" {
			run.addLine(line)
		}
	}

	outcome := s.deploymentOutcome(context.WithoutCancel(ctx), run, target, cmd, builds, result, err)
	s.finish(context.WithoutCancel(ctx), run, logger, outcome)
}

// deploymentOutcome decides how a finished run ended.
func (s *Service) deploymentOutcome(ctx context.Context, run *deploymentRun, target Target, cmd domain.Command, builds bool, result domain.Result, runErr error) func(d *domain.Deployment) {
	output := run.output()
	var warnings []string
	for _, line := range output {
		if message, ok := strings.CutPrefix(line, " !     "); ok {
			warnings = append(warnings, message)
		}
	}
	d := run.snapshotRecord()
	exitCode := result.ExitStatus
	withExit := func(status domain.DeploymentStatus, message string) func(d *domain.Deployment) {
		return func(d *domain.Deployment) {
			d.Status, d.Message = status, message
			if runErr == nil {
				d.ExitCode = &exitCode
			}
		}
	}

	switch {
	case run.isCancelRequested() && (runErr != nil || exitCode != 0):
		// A build that ended on its own before the cancellation reached
		// it keeps its own outcome.
		return withExit(domain.DeploymentCancelled, "cancelled with CancelDeployment")
	case slices.Contains(warnings, domain.DeployLockMessage(d.App)):
		return withExit(domain.DeploymentFailed, deployLocked(d.App, target, "another deploy").Error())
	case runErr == nil && exitCode == 0 && d.Source.Kind == domain.SourceRebuild && len(output) == 0:
		// ps:rebuild of an app without code exits 0 and prints nothing.
		return withExit(domain.DeploymentFailed, "app "+quote(string(d.App))+" has no source to rebuild; deploy it from a git repository or an image first")
	case slices.Contains(warnings, "No changes detected, skipping git commit"):
		return withExit(domain.DeploymentFailed, "image "+quote(string(d.Source.Image))+" is already the app's source, so Dokku built nothing; deploy with rebuild to build it again")
	}

	if builds {
		records, err := s.buildRecords(ctx, target, d.App)
		if err == nil {
			started := d.CreateTime
			if d.StartTime != nil {
				started = *d.StartTime
			}
			if record, ok := domain.MatchBuild(records, "", d.Source.BuildSource(), started); ok {
				status, message := domain.StatusOfBuild(record)
				if status != domain.DeploymentRunning {
					outcome := withExit(status, failureMessage(message, cmd, exitCode, warnings))
					return func(d *domain.Deployment) {
						outcome(d)
						d.BuildID = record.ID
					}
				}
			}
		}
	}

	if runErr != nil {
		return withExit(domain.DeploymentFailed, s.transportError(target, cmd, runErr).Error())
	}
	if exitCode == 0 {
		return withExit(domain.DeploymentSucceeded, "")
	}
	return withExit(domain.DeploymentFailed, failureMessage("", cmd, exitCode, warnings))
}

// failureMessage describes a failed build from Dokku's warnings.
func failureMessage(base string, cmd domain.Command, exitCode int, warnings []string) string {
	if base == "" && exitCode == 0 {
		return ""
	}
	message := "dokku " + cmd.Name() + " failed with exit status " + strconv.Itoa(exitCode)
	if base != "" && !strings.HasPrefix(base, "the build failed") {
		message = base
	}
	if len(warnings) > 0 {
		message += ": " + joinMessages(warnings)
	}
	return message + "; read the build output with WatchDeployment, fix the cause and deploy again"
}

// finish records a run's outcome, then wakes its watchers. The store comes
// first, so that a caller who saw the deployment end and deploys again is
// not taken for a conflict with it.
func (s *Service) finish(ctx context.Context, run *deploymentRun, logger *slog.Logger, outcome func(d *domain.Deployment)) {
	ended := s.now().UTC()
	d := run.snapshotRecord()
	outcome(&d)
	d.EndTime = &ended
	s.store(ctx, d, logger)
	run.update(func(live *domain.Deployment) { *live = d })
	logger.InfoContext(ctx, "deployment ended", "status", string(d.Status), "output_lines", d.OutputLines)
}

// store persists d and logs a failure: the run goes on, and Reconcile
// settles what the store missed.
func (s *Service) store(ctx context.Context, d domain.Deployment, logger *slog.Logger) {
	storeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), auditTimeout)
	defer cancel()
	if err := s.deployments.UpdateDeployment(storeCtx, d); err != nil {
		logger.ErrorContext(ctx, "deployment not stored", "deployment_id", d.ID, "status", string(d.Status), "error", err)
	}
}

// errDeploymentCancelled ends the context of a queued run that
// CancelDeployment cancels.
var errDeploymentCancelled = errors.New("deployment cancelled")

func (r *deploymentRun) isCancelRequested() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cancelRequested
}

func (r *deploymentRun) snapshotRecord() domain.Deployment {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.d
}

// GetDeployment returns one of the tenant's deployments, with the live state
// of a run in this process. Other parts of mcpedge-facing code, such as MCP
// resources, read deployments through it.
func (s *Service) GetDeployment(ctx context.Context, tenantID, id string) (domain.Deployment, error) {
	if tenantID == "" {
		return domain.Deployment{}, Errorf(KindPermissionDenied, "the access token names no tenant; use a token issued for a tenant's user")
	}
	if _, err := domain.ParseDeploymentID(id); err != nil {
		return domain.Deployment{}, invalid(err)
	}
	if _, err := s.checkActive(ctx, tenantID); err != nil {
		return domain.Deployment{}, err
	}
	if run := s.runs.get(id); run != nil {
		if d := run.snapshotRecord(); d.TenantID == tenantID {
			return d, nil
		}
	}
	if s.deployments == nil {
		return domain.Deployment{}, Errorf(KindNotFound, "deployment %s not found; list the app's deployments with ListDeployments", id)
	}
	d, err := s.deployments.GetDeployment(ctx, tenantID, id)
	if errors.Is(err, ErrDeploymentNotFound) {
		return domain.Deployment{}, Errorf(KindNotFound, "deployment %s not found; list the app's deployments with ListDeployments", id)
	}
	if err != nil {
		s.logger.ErrorContext(ctx, "deployment not read", "tenant_id", tenantID, "deployment_id", id, "error", err)
		return domain.Deployment{}, &Error{Kind: KindUnavailable, Message: "deployment " + id + " could not be read; retry later", Err: err}
	}
	return d, nil
}

// ListDeployments returns an app's deployments, newest first.
func (s *Service) ListDeployments(ctx context.Context, tenantID, hostRef, appName string, pageSize int) ([]domain.Deployment, error) {
	app, err := domain.ParseAppName(appName)
	if err != nil {
		return nil, invalid(err)
	}
	switch {
	case pageSize == 0:
		pageSize = DefaultDeploymentPageSize
	case pageSize < 0 || pageSize > MaxDeploymentPageSize:
		return nil, Errorf(KindInvalidArgument, "invalid page size %d: use 1 to %d, or 0 for %d", pageSize, MaxDeploymentPageSize, DefaultDeploymentPageSize)
	}
	if s.deployments == nil {
		return nil, nil
	}
	target, err := s.target(ctx, tenantID, hostRef)
	if err != nil {
		return nil, err
	}

	list, err := s.deployments.ListDeployments(ctx, tenantID, target.Host.ID, app, pageSize)
	if err != nil {
		s.logger.ErrorContext(ctx, "deployments not read", "tenant_id", tenantID, "app", string(app), "error", err)
		return nil, &Error{Kind: KindUnavailable, Message: "the deployments of app " + quote(string(app)) + " could not be read; retry later", Err: err}
	}
	for i, d := range list {
		if run := s.runs.get(d.ID); run != nil {
			list[i] = run.snapshotRecord()
		}
	}
	return list, nil
}

// DeploymentEvent is one message of WatchDeployment: a deployment's state or
// one output line.
type DeploymentEvent struct {
	Deployment *domain.Deployment
	Line       *OutputLine
}

// storedWatchInterval is how often WatchDeployment rereads a deployment
// that runs outside this process.
const storedWatchInterval = 2 * time.Second

// WatchDeployment sends a deployment's state, its kept output lines
// numbered above afterLine and, with follow, every later line and change of
// state until the deployment ends, ctx ends or send fails. Ending the watch
// does not affect the deployment.
func (s *Service) WatchDeployment(ctx context.Context, tenantID, id string, afterLine int64, follow bool, send func(DeploymentEvent) error) error {
	d, err := s.GetDeployment(ctx, tenantID, id)
	if err != nil {
		return err
	}
	if afterLine < 0 {
		return Errorf(KindInvalidArgument, "invalid after_line %d: use 0 or a line number already received", afterLine)
	}
	run := s.runs.get(id)
	if run == nil {
		return s.watchStored(ctx, d, follow, send)
	}

	var sent *domain.Deployment
	for {
		d, _, lines, changed := run.snapshot(afterLine)
		if sent == nil || stateChanged(*sent, d) {
			if err := send(DeploymentEvent{Deployment: &d}); err != nil {
				return err
			}
			sent = &d
		}
		for i := range lines {
			if err := send(DeploymentEvent{Line: &lines[i]}); err != nil {
				return err
			}
			afterLine = lines[i].Number
		}
		if !follow || d.Status.Ended() {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil
		case <-s.stopping:
			return Errorf(KindUnavailable, "the watch of deployment %s ended because DokkuExec is shutting down; the deployment goes on, watch it again", id)
		}
	}
}

// stateChanged reports whether b differs from a in more than its count of
// output lines, which the line events already tell.
func stateChanged(a, b domain.Deployment) bool {
	a.OutputLines = b.OutputLines
	return !reflect.DeepEqual(a, b)
}

// watchStored watches a deployment that no run of this process holds: the
// stored record, reread until it ends.
//
// NOTE: build output lives in the memory of the DokkuExec that runs the
// deployment, so with several replicas a watch served by another replica
// gets the state but no output lines.
func (s *Service) watchStored(ctx context.Context, d domain.Deployment, follow bool, send func(DeploymentEvent) error) error {
	for {
		if err := send(DeploymentEvent{Deployment: &d}); err != nil {
			return err
		}
		if !follow || d.Status.Ended() {
			return nil
		}
		previous := d
		for reflect.DeepEqual(d, previous) {
			select {
			case <-time.After(storedWatchInterval):
			case <-ctx.Done():
				return nil
			case <-s.stopping:
				return Errorf(KindUnavailable, "the watch of deployment %s ended because DokkuExec is shutting down; the deployment goes on, watch it again", d.ID)
			}
			next, err := s.GetDeployment(ctx, d.TenantID, d.ID)
			if err != nil {
				return err
			}
			d = next
		}
	}
}

// CancelDeployment cancels a queued or running deployment and returns its
// state once the run has recorded the cancellation, or after cancelWait.
func (s *Service) CancelDeployment(ctx context.Context, tenantID, id string) (domain.Deployment, error) {
	write := writeRequest{operation: "CancelDeployment", tenantID: tenantID, arguments: map[string]any{"deployment_id": id}}
	var d domain.Deployment
	err := s.write(ctx, write, func(ctx context.Context) error {
		found, err := s.GetDeployment(ctx, tenantID, id)
		if err != nil {
			return err
		}
		// The audit event names the deployment's host and app; the
		// host lookup inside would name the host alone.
		defer noteHost(ctx, found.HostName+"/"+string(found.App))
		d, err = s.cancelDeployment(ctx, found)
		return err
	})
	return d, err
}

// cancelDeployment runs CancelDeployment.
func (s *Service) cancelDeployment(ctx context.Context, d domain.Deployment) (domain.Deployment, error) {
	if d.Status.Ended() {
		return domain.Deployment{}, Errorf(KindFailedPrecondition, "deployment %s already ended with status %s; nothing to cancel", d.ID, d.Status)
	}
	run := s.runs.get(d.ID)
	if run != nil && d.Status == domain.DeploymentQueued {
		run.mu.Lock()
		run.cancelRequested = true
		run.mu.Unlock()
		run.cancel(errDeploymentCancelled)
		return s.awaitRun(ctx, run)
	}

	target, err := s.target(ctx, d.TenantID, d.HostID)
	if err != nil && KindOf(err) == KindNotFound && run != nil {
		// The host was removed while the deployment ran, so builds:cancel
		// cannot reach it. Closing the run's SSH session ends the build
		// on the host instead, as it does when a client disconnects.
		run.mu.Lock()
		run.cancelRequested = true
		run.mu.Unlock()
		run.cancel(errDeploymentCancelled)
		return s.awaitRun(ctx, run)
	}
	if err != nil {
		return domain.Deployment{}, err
	}
	version, err := s.version(ctx, target)
	if err != nil {
		return domain.Deployment{}, err
	}
	if !version.AtLeast(domain.BuildsSince) {
		return domain.Deployment{}, Errorf(KindFailedPrecondition, "host %q runs Dokku %s, which cannot cancel a build (builds:cancel needs 0.38 or later); wait for deployment %s to end",
			target.Host.Name, version, d.ID)
	}
	cmd, err := domain.BuildsCancelCommand(d.App)
	if err != nil {
		return domain.Deployment{}, invalid(err)
	}
	if run != nil {
		run.mu.Lock()
		run.cancelRequested = true
		run.mu.Unlock()
	}
	if _, err := s.runChecked(ctx, target, cmd, d.App); err != nil {
		return domain.Deployment{}, err
	}

	if run != nil {
		return s.awaitRun(ctx, run)
	}
	// The deployment runs in no run of this process: its stored status
	// follows from the host's build record.
	return s.reconcileOne(ctx, d)
}

// awaitRun waits for run to end, at most cancelWait, and returns its state.
func (s *Service) awaitRun(ctx context.Context, run *deploymentRun) (domain.Deployment, error) {
	timer := time.NewTimer(cancelWait)
	defer timer.Stop()
	select {
	case <-run.done:
	case <-timer.C:
	case <-ctx.Done():
	}
	return run.snapshotRecord(), nil
}

// StopDeployments waits for the runs of this process to end until ctx ends,
// then stops the rest, which Reconcile settles on the next start.
func (s *Service) StopDeployments(ctx context.Context) {
	done := make(chan struct{})
	go func() {
		s.runWG.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		s.logger.Info("deployments still running at shutdown are left to the next start")
	}
	s.runCancel()
	<-done
}
