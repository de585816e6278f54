package app

import (
	"context"
	"errors"

	"dokkumcp.dev/tenancy/internal/domain"
)

// ReserveApp reserves an app slot for app on the tenant's host. The store
// counts and inserts under the tenant's row lock, so concurrent
// reservations never exceed max_apps.
func (s *Service) ReserveApp(ctx context.Context, tenantID, hostID, app string) (*domain.AppReservation, error) {
	reservation, err := domain.NewAppReservation(tenantID, hostID, app, s.timestamp())
	if err != nil {
		return nil, err
	}

	err = s.store.ReserveApp(ctx, reservation, func(limits *domain.Limits, apps int) error { return limits.AdmitApp(apps) })
	switch {
	case err == nil:
	case errors.Is(err, ErrNotFound):
		return nil, tenantNotFound(tenantID)
	case errors.Is(err, ErrHostNotFound):
		return nil, domain.NotFound("host %s not found for tenant %s: give the id GetHost returns", hostID, tenantID)
	case errors.Is(err, ErrAppExists):
		return nil, domain.AlreadyExists("app %q already exists on host %s: choose another name, or destroy the app first", app, hostID)
	case errors.Is(err, ErrConflict):
		return nil, domain.AlreadyExists("app %q on host %s already has a pending reservation: commit or release it, or wait %s for it to expire",
			app, hostID, domain.ReservationTTL)
	default:
		return nil, passDomainError(err, "reserve app %q on host %s of tenant %s", app, hostID, tenantID)
	}

	s.logger.InfoContext(ctx, "app reserved", "tenant_id", tenantID, "host_id", hostID, "app", app, "reservation_id", reservation.ID)
	return reservation, nil
}

// CommitAppReservation records the reserved app as created.
func (s *Service) CommitAppReservation(ctx context.Context, tenantID, reservationID string) error {
	if err := validateReservationRef(tenantID, reservationID); err != nil {
		return err
	}
	err := s.store.CommitAppReservation(ctx, tenantID, reservationID, s.timestamp())
	if errors.Is(err, ErrNotFound) {
		return domain.NotFound("reservation %s not found for tenant %s or expired after %s: reserve the app again", reservationID, tenantID, domain.ReservationTTL)
	}
	if err != nil {
		return passDomainError(err, "commit reservation %s of tenant %s", reservationID, tenantID)
	}
	s.logger.InfoContext(ctx, "app reservation committed", "tenant_id", tenantID, "reservation_id", reservationID)
	return nil
}

// ReleaseAppReservation frees a reservation whose app was not created.
func (s *Service) ReleaseAppReservation(ctx context.Context, tenantID, reservationID string) error {
	if err := validateReservationRef(tenantID, reservationID); err != nil {
		return err
	}
	err := s.store.ReleaseAppReservation(ctx, tenantID, reservationID)
	if errors.Is(err, ErrNotFound) {
		return domain.NotFound("reservation %s not found for tenant %s: it was committed, released or has expired", reservationID, tenantID)
	}
	if err != nil {
		return passDomainError(err, "release reservation %s of tenant %s", reservationID, tenantID)
	}
	s.logger.InfoContext(ctx, "app reservation released", "tenant_id", tenantID, "reservation_id", reservationID)
	return nil
}

// RecordAppRemoved deletes the record of a destroyed app. Removing an app
// that is not recorded succeeds, so DokkuExec may retry.
func (s *Service) RecordAppRemoved(ctx context.Context, tenantID, hostID, app string) error {
	if err := domain.ValidateAppRef(tenantID, hostID, app); err != nil {
		return err
	}
	removed, err := s.store.RemoveApp(ctx, tenantID, hostID, app)
	if err != nil {
		return passDomainError(err, "remove app %q on host %s of tenant %s", app, hostID, tenantID)
	}
	s.logger.InfoContext(ctx, "app removed", "tenant_id", tenantID, "host_id", hostID, "app", app, "was_recorded", removed)
	return nil
}

func validateReservationRef(tenantID, reservationID string) error {
	if err := domain.ValidateTenantID(tenantID); err != nil {
		return err
	}
	return domain.ValidateReservationID(reservationID)
}
