// Package app holds Tenancy's use cases: creating tenants and changing
// their plans, registering hosts and resolving the host a service should
// connect to, app quotas, and the audit ledger.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"dokkumcp.dev/tenancy/internal/domain"
)

// Store errors that the use cases turn into caller-facing errors.
var (
	// ErrNotFound: no row matches.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a unique key (tenant slug, host name within a tenant,
	// pending reservation of an app) is taken.
	ErrConflict = errors.New("conflict")
	// ErrHostNotFound: the tenant has no host with the id.
	ErrHostNotFound = errors.New("host not found")
	// ErrAppExists: the app is already recorded on the host.
	ErrAppExists = errors.New("app exists")
)

// AdmitFunc decides, while the store holds the tenant's row lock, whether
// a tenant with these limits and count resources may add one more. It
// returns a domain error to reject the addition.
type AdmitFunc func(limits *domain.Limits, count int) error

// Store persists tenants, hosts, apps and audit events. Every host lookup
// is scoped to one tenant, so two tenants may use the same host name.
type Store interface {
	// CreateTenant returns ErrConflict when the slug is taken.
	CreateTenant(ctx context.Context, t *domain.Tenant) error
	// Tenant returns ErrNotFound when no tenant has the id.
	Tenant(ctx context.Context, id string) (*domain.Tenant, error)
	// SetTenantStatus and ChangePlan return ErrNotFound when no tenant
	// has the id. ChangePlan replaces the tenant's overrides.
	SetTenantStatus(ctx context.Context, id string, status domain.TenantStatus) error
	ChangePlan(ctx context.Context, id string, plan domain.Plan, overrides domain.Overrides) error
	// Limits returns ErrNotFound when no tenant has the id.
	Limits(ctx context.Context, tenantID string) (*domain.Limits, error)
	// CreateHost locks the tenant, calls admit with its host count and
	// stores the host. It returns ErrNotFound for an unknown tenant and
	// ErrConflict when the tenant already has a host with that name.
	CreateHost(ctx context.Context, h *domain.Host, admit AdmitFunc) error
	// HostByID and HostByName return ErrNotFound when the tenant has no
	// such host.
	HostByID(ctx context.Context, tenantID, hostID string) (*domain.Host, error)
	HostByName(ctx context.Context, tenantID, name string) (*domain.Host, error)
	// Hosts returns the tenant's hosts ordered by name.
	Hosts(ctx context.Context, tenantID string) ([]domain.Host, error)
	// RecordHostVerification stores v and now on the host and returns the
	// updated host, or ErrNotFound when the tenant has no such host.
	RecordHostVerification(ctx context.Context, tenantID, hostID string, v domain.Verification, now time.Time) (*domain.Host, error)
	// RemoveHost locks the tenant and deletes the host with its apps and
	// reservations. It returns ErrNotFound for an unknown tenant,
	// ErrHostNotFound for an unknown host, and a *HostInUseError when apps
	// are recorded on the host and force is false.
	RemoveHost(ctx context.Context, tenantID, hostID string, force bool) (RemovedHost, error)
	// Usage counts the tenant's resources; reservations count when they
	// expire after now. It returns ErrNotFound for an unknown tenant.
	Usage(ctx context.Context, tenantID string, now time.Time) (*domain.Usage, error)

	// ReserveApp locks the tenant, drops its expired reservations, calls
	// admit with its apps plus pending reservations and stores r. It
	// returns ErrNotFound, ErrHostNotFound, ErrAppExists, or ErrConflict
	// when the app already has a pending reservation.
	ReserveApp(ctx context.Context, r *domain.AppReservation, admit AdmitFunc) error
	// CommitAppReservation turns a reservation that has not expired at now
	// into an app; ReleaseAppReservation deletes one. Both return
	// ErrNotFound when the tenant has no such reservation.
	CommitAppReservation(ctx context.Context, tenantID, id string, now time.Time) error
	ReleaseAppReservation(ctx context.Context, tenantID, id string) error
	// RemoveApp reports whether the app was recorded.
	RemoveApp(ctx context.Context, tenantID, hostID, app string) (bool, error)

	// AppendAuditEvent chains e to the tenant's last event (setting Seq,
	// PrevHash and Hash) and commits it. It returns ErrNotFound for an
	// unknown tenant.
	AppendAuditEvent(ctx context.Context, e *domain.AuditEvent) error
	// ScanAuditEvents calls fn for the tenant's events matching filter
	// with seq > afterSeq, in seq order, at most limit of them (0: all).
	ScanAuditEvents(ctx context.Context, tenantID string, filter domain.AuditFilter, afterSeq int64, limit int, fn func(*domain.AuditEvent) error) error
}

// Service runs Tenancy's use cases.
type Service struct {
	store  Store
	logger *slog.Logger
	now    func() time.Time
}

// NewService returns a Service backed by store.
func NewService(store Store, logger *slog.Logger) *Service {
	return &Service{store: store, logger: logger, now: time.Now}
}

// timestamp returns the current time at the precision PostgreSQL stores, so that
// a created entity equals the same entity read back.
func (s *Service) timestamp() time.Time {
	return s.now().UTC().Truncate(time.Microsecond)
}

// CreateTenant validates and stores a new active tenant.
func (s *Service) CreateTenant(ctx context.Context, slug, displayName string, plan domain.Plan) (*domain.Tenant, error) {
	tenant, err := domain.NewTenant(slug, displayName, plan, s.timestamp())
	if err != nil {
		return nil, err
	}

	err = s.store.CreateTenant(ctx, tenant)
	if errors.Is(err, ErrConflict) {
		return nil, domain.AlreadyExists("tenant slug %q is taken: choose another slug", slug)
	}
	if err != nil {
		return nil, fmt.Errorf("store tenant %s: %w", tenant.ID, err)
	}

	s.logger.InfoContext(ctx, "tenant created", "tenant_id", tenant.ID, "plan", string(tenant.Plan))
	return tenant, nil
}

// GetTenant returns one tenant.
func (s *Service) GetTenant(ctx context.Context, id string) (*domain.Tenant, error) {
	if err := domain.ValidateTenantID(id); err != nil {
		return nil, err
	}
	return s.tenant(ctx, id)
}

func (s *Service) tenant(ctx context.Context, id string) (*domain.Tenant, error) {
	tenant, err := s.store.Tenant(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, domain.NotFound("tenant %s not found: check the id, or create the tenant with CreateTenant", id)
	}
	if err != nil {
		return nil, fmt.Errorf("load tenant %s: %w", id, err)
	}
	return tenant, nil
}

// RegisterHost validates a host, pins its host key and stores it for an
// existing tenant that is not deleted.
func (s *Service) RegisterHost(ctx context.Context, r domain.HostRegistration) (*domain.Host, error) {
	host, err := domain.NewHost(r, s.timestamp())
	if err != nil {
		return nil, err
	}

	tenant, err := s.tenant(ctx, r.TenantID)
	if err != nil {
		return nil, err
	}
	if tenant.Status == domain.TenantDeleted {
		return nil, domain.FailedPrecondition("tenant %s is deleted: hosts can be registered only for active or suspended tenants", tenant.ID)
	}

	err = s.store.CreateHost(ctx, host, func(limits *domain.Limits, hosts int) error { return limits.AdmitHost(hosts) })
	if errors.Is(err, ErrNotFound) {
		return nil, domain.NotFound("tenant %s not found: check the id, or create the tenant with CreateTenant", r.TenantID)
	}
	if errors.Is(err, ErrConflict) {
		return nil, domain.AlreadyExists("host %q already exists for tenant %s: choose another name, or use the registered host", host.Name, host.TenantID)
	}
	var domainErr *domain.Error
	if errors.As(err, &domainErr) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("store host %s of tenant %s: %w", host.ID, host.TenantID, err)
	}

	s.logger.InfoContext(ctx, "host registered", "tenant_id", host.TenantID, "host_id", host.ID,
		"host_key_fingerprint", host.HostKeyFingerprint, "credential_mode", string(host.CredentialMode))
	return host, nil
}

// GetHost resolves selector (a host id, a host name, or "" for the tenant's
// only host) within an active tenant.
func (s *Service) GetHost(ctx context.Context, tenantID, selector string) (*domain.Host, error) {
	if err := domain.ValidateTenantID(tenantID); err != nil {
		return nil, err
	}
	tenant, err := s.tenant(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	switch tenant.Status {
	case domain.TenantActive:
	case domain.TenantSuspended:
		return nil, domain.FailedPrecondition("tenant %s is suspended: its hosts can be used again once the tenant is reactivated", tenant.ID)
	default:
		return nil, domain.FailedPrecondition("tenant %s is %s: its hosts can no longer be used", tenant.ID, tenant.Status)
	}

	return s.findHost(ctx, tenantID, selector)
}

// findHost resolves selector (a host id, a host name, or "" for the
// tenant's only host) whatever the tenant's status.
func (s *Service) findHost(ctx context.Context, tenantID, selector string) (*domain.Host, error) {
	if selector == "" {
		return s.onlyHost(ctx, tenantID)
	}

	var host *domain.Host
	var err error
	if domain.IsHostID(selector) {
		host, err = s.store.HostByID(ctx, tenantID, selector)
	} else {
		if err := domain.ValidateHostName(selector); err != nil {
			return nil, err
		}
		host, err = s.store.HostByName(ctx, tenantID, selector)
	}
	if errors.Is(err, ErrNotFound) {
		return nil, domain.NotFound("host %q not found for tenant %s: register it with RegisterHost, or give the name or id of a registered host", selector, tenantID)
	}
	if err != nil {
		return nil, fmt.Errorf("load host %q of tenant %s: %w", selector, tenantID, err)
	}
	return host, nil
}

func (s *Service) onlyHost(ctx context.Context, tenantID string) (*domain.Host, error) {
	hosts, err := s.store.Hosts(ctx, tenantID)
	if err != nil {
		return nil, fmt.Errorf("list hosts of tenant %s: %w", tenantID, err)
	}

	switch len(hosts) {
	case 0:
		return nil, domain.NotFound("tenant %s has no hosts: register one with RegisterHost", tenantID)
	case 1:
		return &hosts[0], nil
	default:
		names := make([]string, len(hosts))
		for i, h := range hosts {
			names[i] = h.Name
		}
		return nil, domain.FailedPrecondition("tenant %s has %d hosts (%s): name one in the host field", tenantID, len(hosts), strings.Join(names, ", "))
	}
}
