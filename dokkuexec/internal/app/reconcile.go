package app

import (
	"context"
	"errors"
	"time"

	"dokkumcp.dev/dokkuexec/internal/domain"
)

// DefaultReconcileInterval is how often a deployment found running at
// startup is checked on its host until it ends.
const DefaultReconcileInterval = 15 * time.Second

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

// Reconcile gives the deployments that a stopped DokkuExec left queued or
// running their true status: from Dokku's build record where the host keeps
// them, from `ps:report` otherwise. Builds still running on their host are
// followed in the background until they end.
//
// NOTE: Reconcile assumes it runs before this process starts deployments
// and that no other replica is running one: with several replicas, one
// starting would settle another's queued deployments as failed. Giving
// each deployment an owner with a heartbeat would lift this.
func (s *Service) Reconcile(ctx context.Context) (ReconcileReport, error) {
	var report ReconcileReport
	if s.deployments == nil {
		return report, nil
	}
	unfinished, err := s.deployments.ListUnfinishedDeployments(ctx)
	if err != nil {
		return report, err
	}

	for _, d := range unfinished {
		if s.runs.get(d.ID) != nil {
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
// records from the app's process report, which tells whether the app is
// deployed but not which deploy deployed it.
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
