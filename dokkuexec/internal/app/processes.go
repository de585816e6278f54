package app

import (
	"context"
	"slices"

	"dokkumcp.dev/dokkuexec/internal/domain"
)

// GetProcessReport returns the process report of one app.
func (s *Service) GetProcessReport(ctx context.Context, tenantID, hostRef, appName string) (domain.ProcessReport, error) {
	app, err := domain.ParseAppName(appName)
	if err != nil {
		return domain.ProcessReport{}, invalid(err)
	}
	cmd, err := domain.PsReportCommand(app)
	if err != nil {
		return domain.ProcessReport{}, invalid(err)
	}
	target, err := s.target(ctx, tenantID, hostRef)
	if err != nil {
		return domain.ProcessReport{}, err
	}
	result, err := s.runChecked(ctx, target, cmd, app)
	if err != nil {
		return domain.ProcessReport{}, err
	}
	report, err := domain.ParseProcessReportJSON(app, result.Stdout)
	if err != nil {
		return domain.ProcessReport{}, s.unparsable(ctx, target, cmd, err)
	}
	return report, nil
}

// ScaleResult is the outcome of ScaleProcesses.
type ScaleResult struct {
	App string
	// Scale lists every process type after the call, sorted.
	Scale []domain.ProcessScale
	// Changed is false when no count was set or every count already had
	// its value.
	Changed  bool
	Warnings []string
}

// ScaleProcesses sets the number of containers per process type. Without
// counts it only reads the current scale, which is not a change.
func (s *Service) ScaleProcesses(ctx context.Context, tenantID, hostRef, appName string, counts map[string]int32, skipDeploy bool) (ScaleResult, error) {
	if len(counts) == 0 {
		return s.scaleProcesses(ctx, tenantID, hostRef, appName, nil, skipDeploy)
	}
	req := writeRequest{operation: "ScaleProcesses", tenantID: tenantID, hostRef: hostRef, app: appName,
		arguments: map[string]any{"scale": counts, "skip_deploy": skipDeploy}}
	return guarded(ctx, s, req, func(ctx context.Context) (ScaleResult, error) {
		return s.scaleProcesses(ctx, tenantID, hostRef, appName, counts, skipDeploy)
	})
}

// scaleProcesses runs ScaleProcesses.
func (s *Service) scaleProcesses(ctx context.Context, tenantID, hostRef, appName string, counts map[string]int32, skipDeploy bool) (ScaleResult, error) {
	app, err := domain.ParseAppName(appName)
	if err != nil {
		return ScaleResult{}, invalid(err)
	}
	scaleCmd, err := domain.PsScaleJSONCommand(app)
	if err != nil {
		return ScaleResult{}, invalid(err)
	}
	var setCmd domain.Command
	if len(counts) > 0 {
		wanted := make([]domain.ProcessScale, 0, len(counts))
		for processType, quantity := range counts {
			wanted = append(wanted, domain.ProcessScale{ProcessType: processType, Quantity: int(quantity)})
		}
		if setCmd, err = domain.PsScaleCommand(app, wanted, skipDeploy); err != nil {
			return ScaleResult{}, invalid(err)
		}
	}
	target, err := s.target(ctx, tenantID, hostRef)
	if err != nil {
		return ScaleResult{}, err
	}
	if len(counts) == 0 {
		scale, err := s.currentScale(ctx, target, app, scaleCmd)
		if err != nil {
			return ScaleResult{}, err
		}
		return ScaleResult{App: string(app), Scale: scale}, nil
	}

	release, err := s.lockApps(ctx, target, string(app))
	if err != nil {
		return ScaleResult{}, err
	}
	defer release()
	before, err := s.currentScale(ctx, target, app, scaleCmd)
	if err != nil {
		return ScaleResult{}, err
	}
	result, err := s.runChecked(ctx, target, setCmd, app)
	if err != nil {
		return ScaleResult{}, err
	}
	after, err := s.currentScale(ctx, target, app, scaleCmd)
	if err != nil {
		return ScaleResult{}, err
	}
	return ScaleResult{App: string(app), Scale: after, Changed: !slices.Equal(before, after), Warnings: result.Messages()}, nil
}

// currentScale runs `ps:scale --format json`.
//
// NOTE: the JSON form of `ps:scale` is assumed on every supported release;
// it is confirmed only for Dokku 0.38.27 (recordings 08-04 and 08-07).
func (s *Service) currentScale(ctx context.Context, target Target, app domain.AppName, cmd domain.Command) ([]domain.ProcessScale, error) {
	result, err := s.runChecked(ctx, target, cmd, app)
	if err != nil {
		return nil, err
	}
	scale, err := domain.ParseScaleJSON(result.Stdout)
	if err != nil {
		return nil, s.unparsable(ctx, target, cmd, err)
	}
	return scale, nil
}

// ProcessChange is the outcome of StartProcesses, StopProcesses and
// RestartProcesses.
type ProcessChange struct {
	App     string
	Changed bool
	// Reason is Dokku's message for why nothing changed.
	Reason   string
	Warnings []string
}

// StartProcesses starts an app's containers.
func (s *Service) StartProcesses(ctx context.Context, tenantID, hostRef, appName string) (ProcessChange, error) {
	return guarded(ctx, s, writeRequest{operation: "StartProcesses", tenantID: tenantID, hostRef: hostRef, app: appName},
		func(ctx context.Context) (ProcessChange, error) {
			return s.startProcesses(ctx, tenantID, hostRef, appName)
		})
}

// startProcesses runs StartProcesses.
func (s *Service) startProcesses(ctx context.Context, tenantID, hostRef, appName string) (ProcessChange, error) {
	return s.changeProcesses(ctx, tenantID, hostRef, appName, domain.PsStartCommand)
}

// StopProcesses stops an app's containers.
func (s *Service) StopProcesses(ctx context.Context, tenantID, hostRef, appName string) (ProcessChange, error) {
	return guarded(ctx, s, writeRequest{operation: "StopProcesses", tenantID: tenantID, hostRef: hostRef, app: appName},
		func(ctx context.Context) (ProcessChange, error) {
			return s.stopProcesses(ctx, tenantID, hostRef, appName)
		})
}

// stopProcesses runs StopProcesses.
func (s *Service) stopProcesses(ctx context.Context, tenantID, hostRef, appName string) (ProcessChange, error) {
	return s.changeProcesses(ctx, tenantID, hostRef, appName, domain.PsStopCommand)
}

// RestartProcesses restarts an app's containers.
func (s *Service) RestartProcesses(ctx context.Context, tenantID, hostRef, appName string) (ProcessChange, error) {
	return guarded(ctx, s, writeRequest{operation: "RestartProcesses", tenantID: tenantID, hostRef: hostRef, app: appName},
		func(ctx context.Context) (ProcessChange, error) {
			return s.restartProcesses(ctx, tenantID, hostRef, appName)
		})
}

// restartProcesses runs RestartProcesses.
func (s *Service) restartProcesses(ctx context.Context, tenantID, hostRef, appName string) (ProcessChange, error) {
	return s.changeProcesses(ctx, tenantID, hostRef, appName, domain.PsRestartCommand)
}

// changeProcesses runs a ps command under the app's write lock. When there
// is nothing to do, Dokku exits 0 with only a warning, so that case returns
// Changed false with the warning as Reason.
func (s *Service) changeProcesses(ctx context.Context, tenantID, hostRef, appName string, build func(domain.AppName) (domain.Command, error)) (ProcessChange, error) {
	app, err := domain.ParseAppName(appName)
	if err != nil {
		return ProcessChange{}, invalid(err)
	}
	cmd, err := build(app)
	if err != nil {
		return ProcessChange{}, invalid(err)
	}
	target, err := s.target(ctx, tenantID, hostRef)
	if err != nil {
		return ProcessChange{}, err
	}
	release, err := s.lockApps(ctx, target, string(app))
	if err != nil {
		return ProcessChange{}, err
	}
	defer release()

	result, err := s.run(ctx, target, cmd)
	if err != nil {
		return ProcessChange{}, err
	}
	if result.ExitStatus != 0 {
		return ProcessChange{}, s.failure(ctx, target, cmd, app, result)
	}
	warnings := result.Messages()
	if domain.NotDeployedNoOp(app, result) {
		return ProcessChange{App: string(app), Reason: domain.NotDeployedMessage(app), Warnings: warnings}, nil
	}
	if slices.Contains(warnings, domain.AlreadyRunningMessage(app)) {
		return ProcessChange{App: string(app), Reason: domain.AlreadyRunningMessage(app), Warnings: warnings}, nil
	}
	return ProcessChange{App: string(app), Changed: true, Warnings: warnings}, nil
}

// runChecked runs cmd and fails on a non-zero exit status or output cut at
// the output limit.
func (s *Service) runChecked(ctx context.Context, target Target, cmd domain.Command, app domain.AppName) (domain.Result, error) {
	result, err := s.run(ctx, target, cmd)
	if err != nil {
		return domain.Result{}, err
	}
	if result.ExitStatus != 0 {
		return domain.Result{}, s.failure(ctx, target, cmd, app, result)
	}
	if err := checkComplete(target, cmd, result); err != nil {
		return domain.Result{}, err
	}
	return result, nil
}
