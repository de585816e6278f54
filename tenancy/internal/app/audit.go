package app

import (
	"context"
	"errors"

	"dokkumcp.dev/tenancy/internal/domain"
)

// AppendAuditEvent validates e and appends it to its tenant's chain. It
// returns after the event is committed, so a caller that waits for it
// knows the event is durable.
func (s *Service) AppendAuditEvent(ctx context.Context, e domain.AuditEvent) (*domain.AuditEvent, error) {
	event, err := domain.NewAuditEvent(e, s.timestamp())
	if err != nil {
		return nil, err
	}
	err = s.store.AppendAuditEvent(ctx, event)
	if errors.Is(err, ErrNotFound) {
		return nil, tenantNotFound(event.TenantID)
	}
	if err != nil {
		return nil, passDomainError(err, "append audit event of tenant %s", event.TenantID)
	}
	return event, nil
}

// ListAuditEvents returns up to pageSize events after afterSeq that match
// filter.
func (s *Service) ListAuditEvents(ctx context.Context, tenantID string, filter domain.AuditFilter, afterSeq int64, pageSize int) ([]domain.AuditEvent, error) {
	if err := domain.ValidateTenantID(tenantID); err != nil {
		return nil, err
	}
	var events []domain.AuditEvent
	err := s.store.ScanAuditEvents(ctx, tenantID, filter, afterSeq, pageSize, func(e *domain.AuditEvent) error {
		events = append(events, *e)
		return nil
	})
	if err != nil {
		return nil, passDomainError(err, "list audit events of tenant %s", tenantID)
	}
	return events, nil
}

// ExportAuditEvents calls fn for every event that matches filter, in seq
// order.
func (s *Service) ExportAuditEvents(ctx context.Context, tenantID string, filter domain.AuditFilter, fn func(*domain.AuditEvent) error) error {
	if err := domain.ValidateTenantID(tenantID); err != nil {
		return err
	}
	err := s.store.ScanAuditEvents(ctx, tenantID, filter, 0, 0, fn)
	if err != nil {
		return passDomainError(err, "export audit events of tenant %s", tenantID)
	}
	return nil
}

// ChainReport is the result of VerifyAuditChain: BrokenSeq is 0 when the
// chain is intact.
type ChainReport struct {
	Checked   int64
	BrokenSeq int64
	Reason    string
}

// errChainBroken stops the scan at the first broken event.
var errChainBroken = errors.New("chain broken")

// VerifyAuditChain recomputes the tenant's chain from seq 1 and reports the
// first event that breaks it.
func (s *Service) VerifyAuditChain(ctx context.Context, tenantID string) (*ChainReport, error) {
	if err := domain.ValidateTenantID(tenantID); err != nil {
		return nil, err
	}
	verifier := domain.NewChainVerifier()
	report := &ChainReport{}
	err := s.store.ScanAuditEvents(ctx, tenantID, domain.AuditFilter{}, 0, 0, func(e *domain.AuditEvent) error {
		if reason := verifier.Check(e); reason != "" {
			report.BrokenSeq, report.Reason = e.Seq, reason
			return errChainBroken
		}
		return nil
	})
	if err != nil && !errors.Is(err, errChainBroken) {
		return nil, passDomainError(err, "verify audit chain of tenant %s", tenantID)
	}
	report.Checked = verifier.Checked()
	if report.BrokenSeq != 0 {
		s.logger.WarnContext(ctx, "audit chain broken", "tenant_id", tenantID, "seq", report.BrokenSeq, "reason", report.Reason)
	}
	return report, nil
}

// CheckTenantActive returns a FailedPrecondition error naming the status
// when the tenant is not active. A tenant's own tokens read its ledger only
// while it is active; platform identities read it whatever the status.
func (s *Service) CheckTenantActive(ctx context.Context, tenantID string) error {
	if err := domain.ValidateTenantID(tenantID); err != nil {
		return err
	}
	tenant, err := s.tenant(ctx, tenantID)
	if err != nil {
		return err
	}
	switch tenant.Status {
	case domain.TenantActive:
		return nil
	case domain.TenantSuspended:
		return domain.FailedPrecondition("tenant %s is suspended: its tokens are accepted again once the tenant is reactivated", tenant.ID)
	default:
		return domain.FailedPrecondition("tenant %s is %s: its tokens are no longer accepted", tenant.ID, tenant.Status)
	}
}
