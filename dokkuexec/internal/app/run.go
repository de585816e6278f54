package app

import (
	"context"
	"slices"

	"dokkumcp.dev/dokkuexec/internal/domain"
)

// RunResult is the outcome of RunCommand.
type RunResult struct {
	ExitCode int
	Stdout   []byte
	Stderr   []byte
	// StdoutTruncated and StderrTruncated mark output cut at
	// domain.RunOutputLimit.
	StdoutTruncated bool
	StderrTruncated bool
}

// RunCommand runs a one-off command in a new container of an app and
// returns its exit code and output. A command that fails is a result, not
// an error.
//
// NOTE: a run does not take the app's write lock: it changes nothing Dokku
// stores for the app, and it may take as long as the command timeout, which
// would hold up every change to the app.
func (s *Service) RunCommand(ctx context.Context, tenantID, hostRef, appName string, args []string) (RunResult, error) {
	return guarded(ctx, s, writeRequest{operation: "RunCommand", tenantID: tenantID, hostRef: hostRef, app: appName, arguments: runArguments(args)},
		func(ctx context.Context) (RunResult, error) {
			return s.runCommand(ctx, tenantID, hostRef, appName, args)
		})
}

// runArguments are a run's arguments for the audit ledger: the program's
// name and the number of arguments, because arguments may carry secrets.
func runArguments(args []string) map[string]any {
	arguments := map[string]any{"arg_count": len(args)}
	if len(args) > 0 {
		arguments["program"] = args[0]
	}
	return arguments
}

// runCommand runs RunCommand.
func (s *Service) runCommand(ctx context.Context, tenantID, hostRef, appName string, args []string) (RunResult, error) {
	app, err := domain.ParseAppName(appName)
	if err != nil {
		return RunResult{}, invalid(err)
	}
	cmd, err := domain.RunCommand(app, args)
	if err != nil {
		return RunResult{}, invalid(err)
	}
	target, err := s.target(ctx, tenantID, hostRef)
	if err != nil {
		return RunResult{}, err
	}
	result, err := s.run(ctx, target, cmd)
	if err != nil {
		return RunResult{}, err
	}

	// Dokku's own failures come before the container starts, with no
	// stdout and only Dokku's message on stderr. Any other exit status,
	// 20 included, is the command's own and is returned as it is.
	if len(result.Stdout) == 0 {
		messages := result.Messages()
		switch {
		case result.ExitStatus == domain.ExitAppNotFound && slices.Equal(messages, []string{domain.AppMissingMessage(app)}):
			return RunResult{}, Errorf(KindNotFound, "app %q not found on host %q; create it with apps_create", app, target.Host.Name)
		case result.ExitStatus == 1 && slices.Equal(messages, []string{domain.NotDeployedMessage(app)}):
			return RunResult{}, Errorf(KindFailedPrecondition, "%s on host %q, so there is no image to run the command in; deploy it first", domain.NotDeployedMessage(app), target.Host.Name)
		}
	}

	out := RunResult{
		ExitCode:        result.ExitStatus,
		Stdout:          result.Stdout,
		Stderr:          result.Stderr,
		StdoutTruncated: result.StdoutTruncated,
		StderrTruncated: result.StderrTruncated,
	}
	if len(out.Stdout) > domain.RunOutputLimit {
		out.Stdout, out.StdoutTruncated = out.Stdout[:domain.RunOutputLimit], true
	}
	if len(out.Stderr) > domain.RunOutputLimit {
		out.Stderr, out.StderrTruncated = out.Stderr[:domain.RunOutputLimit], true
	}
	return out, nil
}
