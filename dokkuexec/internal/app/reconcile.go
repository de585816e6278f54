package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"time"

	"dokkumcp.dev/dokkuexec/internal/domain"
)

// Defaults of the deployment maintenance.
const (
	// DefaultReconcileInterval is how often stale deployments are looked
	// for, and how often a deployment still running on its host is checked
	// until it ends.
	DefaultReconcileInterval = 15 * time.Second
	// DefaultHeartbeatInterval is how often a process proves alive for
	// the deployments it runs.
	DefaultHeartbeatInterval = 10 * time.Second
	// DefaultStaleAfter is how long a deployment's runner may miss its
	// heartbeats before another process reconciles the deployment: four
	// heartbeats and a margin for a slow database.
	DefaultStaleAfter = 45 * time.Second
)

// newRunnerID returns a random name for this process.
func newRunnerID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "dokkuexec-" + hex.EncodeToString(b)
}

// MaintainDeployments proves this process alive for its deployments every
// heartbeat interval and reconciles stale deployments at once and then every
// reconcile interval, until ctx ends.
func (s *Service) MaintainDeployments(ctx context.Context) {
	if s.deployments == nil {
		return
	}
	heartbeat := time.NewTicker(s.heartbeatInterval)
	defer heartbeat.Stop()
	reconcile := time.NewTicker(s.reconcileInterval)
	defer reconcile.Stop()
	for {
		if _, err := s.Reconcile(ctx); err != nil && ctx.Err() == nil {
			s.logger.ErrorContext(ctx, "deployments not reconciled", "error", err)
		}
		for waiting := true; waiting; {
			select {
			case <-ctx.Done():
				return
			case <-heartbeat.C:
				if err := s.deployments.Heartbeat(ctx, s.runner, s.now().UTC()); err != nil && ctx.Err() == nil {
					s.logger.ErrorContext(ctx, "deployment heartbeat not recorded", "runner", s.runner, "error", err)
				}
			case <-reconcile.C:
				waiting = false
			}
		}
	}
}

// ReconcileReport counts what Reconcile did.
type ReconcileReport struct {
	// Settled deployments got their final status.
	Settled int
	// Running deployments still run on their host and are followed until
	// they end.
	Running int
	// Failed deployments could not be checked, for example because their
	// host was unreachable; they stay as they were.
	Failed int
}

// Reconcile gives the queued and running deployments whose runner stopped
// proving alive (a DokkuExec that was killed or lost its database) their
// true status: from Dokku's build record where the host keeps them, from
// `ps:report` otherwise. It claims each one first, so two replicas never
// reconcile the same deployment. Builds still running on their host are
// followed in the background until they end.
func (s *Service) Reconcile(ctx context.Context) (ReconcileReport, error) {
	var report ReconcileReport
	if s.deployments == nil {
		return report, nil
	}
	staleBefore := s.now().UTC().Add(-s.staleAfter)
	stale, err := s.deployments.ListStaleDeployments(ctx, staleBefore)
	if err != nil {
		return report, err
	}

	for _, d := range stale {
		if _, followed := s.following.Load(d.ID); followed || s.runs.get(d.ID) != nil {
			continue
		}
		claimed, err := s.deployments.ClaimDeployment(ctx, d.ID, s.runner, s.now().UTC(), staleBefore)
		if err != nil || !claimed {
			if err != nil {
				report.Failed++
				s.logger.WarnContext(ctx, "deployment not claimed", "deployment_id", d.ID, "error", err)
			}
			continue
		}
		settled, err := s.reconcileOne(ctx, d)
		switch {
		case err != nil:
			report.Failed++
			s.logger.WarnContext(ctx, "deployment not reconciled", "tenant_id", d.TenantID, "host_id", d.HostID,
				"deployment_id", d.ID, "error", err)
		case settled.Status.Ended():
			report.Settled++
		default:
			report.Running++
			s.following.Store(d.ID, true)
			s.runWG.Add(1)
			go s.followReconciled(settled)
		}
	}
	s.logger.InfoContext(ctx, "deployments reconciled", "settled", report.Settled, "running", report.Running, "failed", report.Failed)
	return report, nil
}

// reconcileOne checks one deployment on its host and stores what it finds.
func (s *Service) reconcileOne(ctx context.Context, d domain.Deployment) (domain.Deployment, error) {
	if d.Status == domain.DeploymentQueued {
		return s.settle(ctx, d, domain.DeploymentFailed, "DokkuExec stopped before this deployment started, so nothing ran; create a new deployment", "")
	}
	target, err := s.target(ctx, d.TenantID, d.HostID)
	if err != nil {
		return domain.Deployment{}, err
	}
	version, err := s.version(ctx, target)
	if err != nil {
		return domain.Deployment{}, err
	}
	if !version.AtLeast(domain.BuildsSince) {
		return s.reconcileByProcesses(ctx, target, d, version)
	}

	records, err := s.buildRecords(ctx, target, d.App)
	if err != nil {
		return domain.Deployment{}, err
	}
	started := d.CreateTime
	if d.StartTime != nil {
		started = *d.StartTime
	}
	record, ok := domain.MatchBuild(records, d.BuildID, d.Source.BuildSource(), started)
	if !ok {
		return s.settle(ctx, d, domain.DeploymentUnknown, "DokkuExec restarted during this deployment and the host has no build record of it; "+
			"check the app with ps_report and its logs, and deploy again if needed", "")
	}
	status, message := domain.StatusOfBuild(record)
	if status == domain.DeploymentRunning {
		d.BuildID = record.ID
		s.store(ctx, d, s.logger)
		return d, nil
	}
	if record.ExitCode != nil && *record.ExitCode >= 0 {
		code := *record.ExitCode
		d.ExitCode = &code
	}
	return s.settle(ctx, d, status, message, record.ID)
}

// reconcileByProcesses settles a deployment on a host without build
// records from the app's process report. The report shows whether the app
// is deployed, but not which deploy deployed it.
func (s *Service) reconcileByProcesses(ctx context.Context, target Target, d domain.Deployment, version domain.Version) (domain.Deployment, error) {
	cmd, err := domain.PsReportCommand(d.App)
	if err != nil {
		return domain.Deployment{}, invalid(err)
	}
	result, err := s.runChecked(ctx, target, cmd, d.App)
	if err != nil {
		return domain.Deployment{}, err
	}
	report, err := domain.ParseProcessReportJSON(d.App, result.Stdout)
	if err != nil {
		return domain.Deployment{}, s.unparsable(ctx, target, cmd, err)
	}
	if !report.Deployed {
		return s.settle(ctx, d, domain.DeploymentFailed, "DokkuExec restarted during this deployment and the app is not deployed on the host; deploy again", "")
	}
	return s.settle(ctx, d, domain.DeploymentUnknown, "DokkuExec restarted during this deployment, and Dokku "+version.String()+
		" keeps no build records; ps_report shows the app deployed with running="+report.Fields["running"]+", which may be an earlier deploy; check the app's logs and deploy again if needed", "")
}

// settle stores a final status.
func (s *Service) settle(ctx context.Context, d domain.Deployment, status domain.DeploymentStatus, message, buildID string) (domain.Deployment, error) {
	ended := s.now().UTC()
	d.Status, d.Message, d.EndTime = status, message, &ended
	if buildID != "" {
		d.BuildID = buildID
	}
	if err := s.deployments.UpdateDeployment(ctx, d); err != nil {
		return domain.Deployment{}, err
	}
	s.logger.InfoContext(ctx, "deployment settled", "tenant_id", d.TenantID, "deployment_id", d.ID, "status", string(status))
	return d, nil
}

// followReconciled checks a deployment still running on its host every
// reconcile interval until it ends or DokkuExec stops.
func (s *Service) followReconciled(d domain.Deployment) {
	defer s.runWG.Done()
	defer s.following.Delete(d.ID)
	ticker := time.NewTicker(s.reconcileInterval)
	defer ticker.Stop()
	for {
		select {
		case <-s.runCtx.Done():
			return
		case <-ticker.C:
		}
		next, err := s.reconcileOne(s.runCtx, d)
		if err != nil {
			if !errors.Is(err, context.Canceled) {
				s.logger.Warn("deployment not reconciled", "tenant_id", d.TenantID, "deployment_id", d.ID, "error", err)
			}
			continue
		}
		if next.Status.Ended() {
			return
		}
		d = next
	}
}
