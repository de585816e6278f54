package app

import (
	"context"
	"errors"
	"slices"
	"time"

	"dokkumcp.dev/dokkuexec/internal/domain"
)

// Logs is the outcome of GetLogs.
type Logs struct {
	Lines []domain.LogLine
	// Truncated is true when the output passed the output limit and the
	// later lines were dropped.
	Truncated bool
}

// logsCommand validates a logs request.
func logsCommand(appName string, num int, processType string, follow bool) (domain.AppName, domain.Command, error) {
	app, err := domain.ParseAppName(appName)
	if err != nil {
		return "", domain.Command{}, invalid(err)
	}
	lines, err := domain.LogLines(num)
	if err != nil {
		return "", domain.Command{}, invalid(err)
	}
	var ptype domain.ProcessType
	if processType != "" {
		if ptype, err = domain.ParseProcessType(processType); err != nil {
			return "", domain.Command{}, invalid(err)
		}
	}
	cmd, err := domain.LogsCommand(app, lines, ptype, follow)
	if err != nil {
		return "", domain.Command{}, invalid(err)
	}
	return app, cmd, nil
}

// GetLogs returns the last num lines of each of an app's containers, or of
// those of one process type.
func (s *Service) GetLogs(ctx context.Context, tenantID, hostRef, appName string, num int, processType string) (Logs, error) {
	app, cmd, err := logsCommand(appName, num, processType, false)
	if err != nil {
		return Logs{}, err
	}
	target, err := s.target(ctx, tenantID, hostRef)
	if err != nil {
		return Logs{}, err
	}
	result, err := s.run(ctx, target, cmd)
	if err != nil {
		return Logs{}, err
	}
	if result.ExitStatus != 0 {
		return Logs{}, s.logsFailure(ctx, target, cmd, app, result)
	}
	lines := domain.ParseLogs(result.Stdout)
	if result.StdoutTruncated && len(lines) > 0 {
		// The last line may have been cut in the middle.
		lines = lines[:len(lines)-1]
	}
	return Logs{Lines: lines, Truncated: result.StdoutTruncated}, nil
}

// FollowLogs sends the last num lines of each of an app's containers, then
// every new line, to send until ctx ends or send fails.
//
// NOTE: a follow has no time limit of its own; it lasts until the client
// cancels, its connection drops, or DokkuExec shuts down.
func (s *Service) FollowLogs(ctx context.Context, tenantID, hostRef, appName string, num int, processType string, send func(domain.LogLine) error) error {
	app, cmd, err := logsCommand(appName, num, processType, true)
	if err != nil {
		return err
	}
	if s.streamer == nil {
		return Errorf(KindInternal, "this DokkuExec cannot stream command output")
	}
	target, err := s.target(ctx, tenantID, hostRef)
	if err != nil {
		return err
	}

	// The stream also ends when DokkuExec shuts down, so that shutdown
	// does not wait for clients to cancel.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		select {
		case <-s.stopping:
			cancel(errStopping)
		case <-ctx.Done():
		}
	}()

	start := time.Now()
	sent := 0
	var sendErr error
	result, err := s.streamer.Stream(ctx, target, cmd, func(line string) error {
		if sendErr = send(domain.ParseLogLine(line)); sendErr != nil {
			return sendErr
		}
		sent++
		return nil
	})
	s.logger.InfoContext(ctx, "dokku log stream ended", "host_id", target.Host.ID, "operation", cmd.Name(),
		"lines", sent, "duration_ms", time.Since(start).Milliseconds(), "error", err)
	if sendErr != nil {
		// The client has gone.
		return &Error{Kind: KindCanceled, Message: "the log stream of app " + quote(string(app)) + " ended because it could not be sent to the client", Err: sendErr}
	}
	if errors.Is(context.Cause(ctx), errStopping) {
		return &Error{Kind: KindUnavailable, Message: "the log stream of app " + quote(string(app)) + " ended because DokkuExec is shutting down; follow the logs again", Err: err}
	}
	if err != nil {
		return s.transportError(target, cmd, err)
	}
	if result.ExitStatus != 0 {
		return s.logsFailure(ctx, target, cmd, app, result)
	}
	return nil
}

// errStopping ends streams when DokkuExec shuts down.
var errStopping = errors.New("DokkuExec is shutting down")

// logsFailure reports a failed `logs`, naming an app that has never been
// deployed.
func (s *Service) logsFailure(ctx context.Context, target Target, cmd domain.Command, app domain.AppName, result domain.Result) error {
	if result.ExitStatus == 1 && slices.Contains(result.Messages(), domain.NotDeployedMessage(app)) {
		return Errorf(KindFailedPrecondition, "%s on host %q, so it has no logs yet; deploy it first", domain.NotDeployedMessage(app), target.Host.Name)
	}
	return s.failure(ctx, target, cmd, app, result)
}
