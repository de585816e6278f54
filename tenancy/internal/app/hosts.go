package app

import (
	"context"
	"errors"
	"fmt"

	"dokkumcp.dev/tenancy/internal/domain"
)

// RemovedHost counts what RemoveHost deleted with the host.
type RemovedHost struct {
	// HostID is the removed host's id.
	HostID       string
	Apps         int
	Reservations int
}

// HostInUseError is the store's rejection of a host removal while apps are
// recorded on the host.
type HostInUseError struct {
	Apps int
}

func (e *HostInUseError) Error() string { return fmt.Sprintf("%d apps recorded on the host", e.Apps) }

// RecordHostVerification stores the Dokku version and plugins a successful
// verification found on the tenant's host (selected by id, name, or "" for
// the tenant's only host).
func (s *Service) RecordHostVerification(ctx context.Context, tenantID, selector string, v domain.Verification) (*domain.Host, error) {
	if err := domain.ValidateTenantID(tenantID); err != nil {
		return nil, err
	}
	if err := domain.ValidateVerification(v); err != nil {
		return nil, err
	}
	if _, err := s.tenant(ctx, tenantID); err != nil {
		return nil, err
	}
	host, err := s.findHost(ctx, tenantID, selector)
	if err != nil {
		return nil, err
	}

	recorded, err := s.store.RecordHostVerification(ctx, tenantID, host.ID, v, s.timestamp())
	if errors.Is(err, ErrNotFound) {
		return nil, domain.NotFound("host %s of tenant %s was removed while its verification was recorded: register it again", host.ID, tenantID)
	}
	if err != nil {
		return nil, fmt.Errorf("record verification of host %s of tenant %s: %w", host.ID, tenantID, err)
	}
	s.logger.InfoContext(ctx, "host verification recorded", "tenant_id", tenantID, "host_id", host.ID,
		"dokku_version", v.DokkuVersion, "plugins", len(v.Plugins))
	return recorded, nil
}

// RemoveHost deletes the tenant's host (by id or name) with its app
// records and pending reservations. Unless force is set, it rejects the
// removal while apps are recorded on the host. Audit events stay.
func (s *Service) RemoveHost(ctx context.Context, tenantID, selector string, force bool) (RemovedHost, error) {
	if err := domain.ValidateTenantID(tenantID); err != nil {
		return RemovedHost{}, err
	}
	if selector == "" {
		return RemovedHost{}, domain.Invalid("host is missing: give the name or id of the host to remove")
	}
	if _, err := s.tenant(ctx, tenantID); err != nil {
		return RemovedHost{}, err
	}
	host, err := s.findHost(ctx, tenantID, selector)
	if err != nil {
		return RemovedHost{}, err
	}

	removed, err := s.store.RemoveHost(ctx, tenantID, host.ID, force)
	var inUse *HostInUseError
	switch {
	case err == nil:
	case errors.As(err, &inUse):
		return RemovedHost{}, domain.FailedPrecondition("host %q of tenant %s has %d apps recorded: destroy them first, or set force to remove the host with their records",
			host.Name, tenantID, inUse.Apps)
	case errors.Is(err, ErrNotFound):
		return RemovedHost{}, tenantNotFound(tenantID)
	case errors.Is(err, ErrHostNotFound):
		return RemovedHost{}, domain.NotFound("host %q not found for tenant %s: it was removed already", selector, tenantID)
	default:
		return RemovedHost{}, passDomainError(err, "remove host %s of tenant %s", host.ID, tenantID)
	}
	s.logger.InfoContext(ctx, "host removed", "tenant_id", tenantID, "host_id", host.ID, "force", force,
		"apps_removed", removed.Apps, "reservations_removed", removed.Reservations)
	removed.HostID = host.ID
	return removed, nil
}

// GetTenantUsage counts what the tenant holds now.
func (s *Service) GetTenantUsage(ctx context.Context, tenantID string) (*domain.Usage, error) {
	if err := domain.ValidateTenantID(tenantID); err != nil {
		return nil, err
	}
	usage, err := s.store.Usage(ctx, tenantID, s.timestamp())
	if errors.Is(err, ErrNotFound) {
		return nil, tenantNotFound(tenantID)
	}
	if err != nil {
		return nil, passDomainError(err, "count usage of tenant %s", tenantID)
	}
	return usage, nil
}
