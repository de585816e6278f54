package app

import (
	"context"
	"errors"
	"fmt"

	"dokkumcp.dev/tenancy/internal/domain"
)

// ChangePlan moves a tenant to plan with overrides. Every later limit check
// reads the new values, so the change applies to the next request.
func (s *Service) ChangePlan(ctx context.Context, tenantID string, plan domain.Plan, overrides domain.Overrides) (*domain.Limits, error) {
	if err := domain.ValidateTenantID(tenantID); err != nil {
		return nil, err
	}
	if err := domain.ValidatePlan(plan); err != nil {
		return nil, err
	}
	if err := overrides.Validate(); err != nil {
		return nil, err
	}

	err := s.store.ChangePlan(ctx, tenantID, plan, overrides)
	if errors.Is(err, ErrNotFound) {
		return nil, tenantNotFound(tenantID)
	}
	if err != nil {
		return nil, fmt.Errorf("change plan of tenant %s: %w", tenantID, err)
	}
	s.logger.InfoContext(ctx, "tenant plan changed", "tenant_id", tenantID, "plan", string(plan))
	return s.GetTenantLimits(ctx, tenantID)
}

// SetTenantStatus suspends or resumes a tenant that is not deleted.
func (s *Service) SetTenantStatus(ctx context.Context, tenantID string, status domain.TenantStatus) (*domain.Tenant, error) {
	tenant, err := s.GetTenant(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	if err := tenant.RequireStatusChangeable(); err != nil {
		return nil, err
	}

	err = s.store.SetTenantStatus(ctx, tenantID, status)
	if errors.Is(err, ErrNotFound) {
		return nil, tenantNotFound(tenantID)
	}
	if err != nil {
		return nil, fmt.Errorf("set status of tenant %s: %w", tenantID, err)
	}
	s.logger.InfoContext(ctx, "tenant status changed", "tenant_id", tenantID, "from", string(tenant.Status), "to", string(status))
	tenant.Status = status
	return tenant, nil
}

// GetTenantLimits returns the limits in force for a tenant.
func (s *Service) GetTenantLimits(ctx context.Context, tenantID string) (*domain.Limits, error) {
	if err := domain.ValidateTenantID(tenantID); err != nil {
		return nil, err
	}
	limits, err := s.store.Limits(ctx, tenantID)
	if errors.Is(err, ErrNotFound) {
		return nil, tenantNotFound(tenantID)
	}
	if err != nil {
		return nil, fmt.Errorf("load limits of tenant %s: %w", tenantID, err)
	}
	return limits, nil
}

func tenantNotFound(id string) error {
	return domain.NotFound("tenant %s not found: check the id, or create the tenant with CreateTenant", id)
}

// passDomainError returns err unchanged when it is a domain error, and
// wraps any other error with context.
func passDomainError(err error, format string, args ...any) error {
	var domainErr *domain.Error
	if errors.As(err, &domainErr) {
		return err
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}
