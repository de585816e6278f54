package app

import (
	"context"
	"fmt"

	"dokkumcp.dev/dokkuexec/internal/domain"
)

// withAppSlot reserves one of the tenant's app slots in Tenancy for app,
// runs create, and commits the reservation when create succeeds or
// releases it when it fails. A tenant without a free slot gets Tenancy's
// ResourceExhausted error, which names the plan's limit, and create does not
// run.
//
// NOTE: Tenancy counts only the apps it has recorded. Apps created before
// DokkuExec reserved slots, or created on the host without DokkuExec, do
// not count against the limit until they are renamed through DokkuExec.
func (s *Service) withAppSlot(ctx context.Context, target Target, app domain.AppName, create func() error) error {
	reservation, err := s.tenancy.ReserveApp(ctx, target.TenantID, target.Host.ID, string(app))
	if KindOf(err) == KindAlreadyExists {
		// Tenancy names the host by id; the caller knows its name.
		return &Error{Kind: KindAlreadyExists, Message: fmt.Sprintf("app %q already exists on host %q; choose another name", app, target.Host.Name), Err: err}
	}
	if err != nil {
		return err
	}
	if err := create(); err != nil {
		s.releaseAppSlot(ctx, target, app, reservation)
		return err
	}

	// The app exists on the host now. If Tenancy fails to record it, the
	// reservation expires after 5 minutes and the app stops counting.
	// The request still succeeds, because an error would make the caller
	// retry a creation that has happened.
	commitCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), auditTimeout)
	defer cancel()
	if err := s.tenancy.CommitAppReservation(commitCtx, target.TenantID, reservation); err != nil {
		s.logger.ErrorContext(ctx, "app slot not committed; the app is not counted against the plan", "tenant_id", target.TenantID,
			"host_id", target.Host.ID, "app", string(app), "reservation_id", reservation, "error", err)
	}
	return nil
}

// releaseAppSlot frees a reservation whose app was not created. It is best
// effort: a reservation that stays expires after 5 minutes.
func (s *Service) releaseAppSlot(ctx context.Context, target Target, app domain.AppName, reservation string) {
	releaseCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), auditTimeout)
	defer cancel()
	if err := s.tenancy.ReleaseAppReservation(releaseCtx, target.TenantID, reservation); err != nil {
		s.logger.WarnContext(ctx, "app slot not released; it is freed when the reservation expires", "tenant_id", target.TenantID,
			"host_id", target.Host.ID, "app", string(app), "reservation_id", reservation, "error", err)
	}
}

// recordAppRemoved frees the slot of a destroyed or renamed app. A failure
// is logged and not returned: the app is gone from the host either way.
//
// NOTE: after such a failure Tenancy keeps counting the app, and no RPC
// corrects the count yet.
func (s *Service) recordAppRemoved(ctx context.Context, target Target, app domain.AppName) {
	removeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), auditTimeout)
	defer cancel()
	if err := s.tenancy.RecordAppRemoved(removeCtx, target.TenantID, target.Host.ID, string(app)); err != nil {
		s.logger.ErrorContext(ctx, "removed app still counted against the plan", "tenant_id", target.TenantID,
			"host_id", target.Host.ID, "app", string(app), "error", err)
	}
}
