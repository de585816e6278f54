package app

import (
	"context"
	"slices"

	"dokkumcp.dev/dokkuexec/internal/domain"
)

// msgUnlockWithoutLock is the message of `apps:unlock`, with exit status 1,
// when the app has no deploy lock to remove (Dokku 0.38 apps plugin).
const msgUnlockWithoutLock = "Unable to remove deploy lock"

// AppChange is the outcome of a change to an app.
type AppChange struct {
	// App is the app's name after the change.
	App string
	// Changed is false when Dokku had nothing to do.
	Changed bool
	// Warnings are Dokku's stderr warnings.
	Warnings []string
}

// DestroyApp destroys an app and frees its app slot. confirm must equal the
// app's name, so that a caller cannot destroy an app by a slip of another
// argument.
func (s *Service) DestroyApp(ctx context.Context, tenantID, hostRef, appName, confirm string) (AppChange, error) {
	return guarded(ctx, s, writeRequest{operation: "DestroyApp", tenantID: tenantID, hostRef: hostRef, app: appName},
		func(ctx context.Context) (AppChange, error) {
			return s.destroyApp(ctx, tenantID, hostRef, appName, confirm)
		})
}

// destroyApp runs DestroyApp.
func (s *Service) destroyApp(ctx context.Context, tenantID, hostRef, appName, confirm string) (AppChange, error) {
	app, err := domain.ParseAppName(appName)
	if err != nil {
		return AppChange{}, invalid(err)
	}
	if confirm != appName {
		return AppChange{}, Errorf(KindInvalidArgument, "invalid confirm %q: pass the app's name %q as confirm to destroy it", confirm, app)
	}
	cmd, err := domain.AppsDestroyCommand(app)
	if err != nil {
		return AppChange{}, invalid(err)
	}
	target, err := s.target(ctx, tenantID, hostRef)
	if err != nil {
		return AppChange{}, err
	}
	change, err := s.changeTarget(ctx, target, cmd, app)
	if err != nil {
		return AppChange{}, err
	}
	s.recordAppRemoved(ctx, target, app)
	return change, nil
}

// RenameApp renames an app. The new name must follow the rule for new apps.
func (s *Service) RenameApp(ctx context.Context, tenantID, hostRef, appName, newName string) (AppChange, error) {
	return guarded(ctx, s, writeRequest{operation: "RenameApp", tenantID: tenantID, hostRef: hostRef, app: appName, arguments: map[string]any{"new_name": newName}},
		func(ctx context.Context) (AppChange, error) {
			return s.renameApp(ctx, tenantID, hostRef, appName, newName)
		})
}

// renameApp runs RenameApp.
func (s *Service) renameApp(ctx context.Context, tenantID, hostRef, appName, newName string) (AppChange, error) {
	app, err := domain.ParseAppName(appName)
	if err != nil {
		return AppChange{}, invalid(err)
	}
	renamed, err := domain.NewAppName(newName)
	if err != nil {
		return AppChange{}, invalid(err)
	}
	if renamed == app {
		return AppChange{}, Errorf(KindInvalidArgument, "invalid new name %q: it is the app's current name; choose another name", renamed)
	}
	cmd, err := domain.AppsRenameCommand(app, renamed)
	if err != nil {
		return AppChange{}, invalid(err)
	}
	target, err := s.target(ctx, tenantID, hostRef)
	if err != nil {
		return AppChange{}, err
	}
	release, err := s.lockApps(ctx, target, string(app), string(renamed))
	if err != nil {
		return AppChange{}, err
	}
	defer release()

	// The new name takes a slot before the old one frees its own, so a
	// tenant at its app limit cannot rename: the count is never below the
	// number of apps, even for a moment.
	var change AppChange
	err = s.withAppSlot(ctx, target, renamed, func() error {
		result, err := s.run(ctx, target, cmd)
		if err != nil {
			return err
		}
		if result.ExitStatus != 0 {
			if slices.Contains(result.Messages(), "Name is already taken") {
				return Errorf(KindAlreadyExists, "app %q already exists on host %q; choose another name", renamed, target.Host.Name)
			}
			return s.failure(ctx, target, cmd, app, result)
		}
		change = AppChange{App: string(renamed), Changed: true, Warnings: result.Messages()}
		return nil
	})
	if err != nil {
		return AppChange{}, err
	}
	s.recordAppRemoved(ctx, target, app)
	return change, nil
}

// LockApp places an app's deploy lock.
func (s *Service) LockApp(ctx context.Context, tenantID, hostRef, appName string) (AppChange, error) {
	return guarded(ctx, s, writeRequest{operation: "LockApp", tenantID: tenantID, hostRef: hostRef, app: appName},
		func(ctx context.Context) (AppChange, error) { return s.lockApp(ctx, tenantID, hostRef, appName) })
}

// lockApp runs LockApp.
func (s *Service) lockApp(ctx context.Context, tenantID, hostRef, appName string) (AppChange, error) {
	app, err := domain.ParseAppName(appName)
	if err != nil {
		return AppChange{}, invalid(err)
	}
	cmd, err := domain.AppsLockCommand(app)
	if err != nil {
		return AppChange{}, invalid(err)
	}
	return s.changeApp(ctx, tenantID, hostRef, cmd, app)
}

// UnlockApp removes an app's deploy lock. Removing the lock of an app that
// has none changes nothing and returns Changed false.
func (s *Service) UnlockApp(ctx context.Context, tenantID, hostRef, appName string) (AppChange, error) {
	return guarded(ctx, s, writeRequest{operation: "UnlockApp", tenantID: tenantID, hostRef: hostRef, app: appName},
		func(ctx context.Context) (AppChange, error) { return s.unlockApp(ctx, tenantID, hostRef, appName) })
}

// unlockApp runs UnlockApp.
func (s *Service) unlockApp(ctx context.Context, tenantID, hostRef, appName string) (AppChange, error) {
	app, err := domain.ParseAppName(appName)
	if err != nil {
		return AppChange{}, invalid(err)
	}
	cmd, err := domain.AppsUnlockCommand(app)
	if err != nil {
		return AppChange{}, invalid(err)
	}
	target, err := s.target(ctx, tenantID, hostRef)
	if err != nil {
		return AppChange{}, err
	}
	release, err := s.lockApps(ctx, target, string(app))
	if err != nil {
		return AppChange{}, err
	}
	defer release()

	result, err := s.run(ctx, target, cmd)
	if err != nil {
		return AppChange{}, err
	}
	if result.ExitStatus == 0 {
		return AppChange{App: string(app), Changed: true, Warnings: result.Messages()}, nil
	}
	if result.ExitStatus != 1 || !slices.Equal(result.Messages(), []string{msgUnlockWithoutLock}) {
		return AppChange{}, s.failure(ctx, target, cmd, app, result)
	}

	// Dokku prints the same message when the lock file exists but cannot
	// be removed, so the report decides whether there was a lock.
	report, err := s.appReport(ctx, target, app)
	if err != nil {
		return AppChange{}, err
	}
	if report.Locked {
		return AppChange{}, s.failure(ctx, target, cmd, app, result)
	}
	return AppChange{App: string(app), Changed: false, Warnings: result.Messages()}, nil
}

// changeApp runs cmd, a change to app, while holding the app's write lock.
func (s *Service) changeApp(ctx context.Context, tenantID, hostRef string, cmd domain.Command, app domain.AppName) (AppChange, error) {
	target, err := s.target(ctx, tenantID, hostRef)
	if err != nil {
		return AppChange{}, err
	}
	return s.changeTarget(ctx, target, cmd, app)
}

// changeTarget is changeApp on a resolved target.
func (s *Service) changeTarget(ctx context.Context, target Target, cmd domain.Command, app domain.AppName) (AppChange, error) {
	release, err := s.lockApps(ctx, target, string(app))
	if err != nil {
		return AppChange{}, err
	}
	defer release()

	result, err := s.run(ctx, target, cmd)
	if err != nil {
		return AppChange{}, err
	}
	if result.ExitStatus != 0 {
		return AppChange{}, s.failure(ctx, target, cmd, app, result)
	}
	return AppChange{App: string(app), Changed: true, Warnings: result.Messages()}, nil
}
