package app

import (
	"context"
	"errors"
	"sync"
	"time"

	"dokkumcp.dev/identity/internal/domain"
)

// ErrTenantNotFound is returned by a TenantPlanSource for a tenant that
// does not exist.
var ErrTenantNotFound = errors.New("tenant not found")

// TenantPlanSource returns the plan of a tenant. Tenancy implements it.
type TenantPlanSource interface {
	TenantPlan(ctx context.Context, tenantID string) (domain.TenantPlan, error)
}

// ServiceSubject is the sub and client_id of the tokens Identity mints for
// its own calls to other services, such as Tenancy.
const (
	ServiceSubject = "identity"
	// ServiceTokenTTL is the lifetime of the tokens Identity mints for its
	// own calls.
	ServiceTokenTTL = time.Minute
)

// TenantPlans caches the plans of tenants for a short time so that issuing
// tokens does not ask Tenancy every time. Failures are not cached.
type TenantPlans struct {
	source TenantPlanSource
	ttl    time.Duration
	now    func() time.Time

	mu      sync.Mutex
	entries map[string]cachedPlan
}

type cachedPlan struct {
	plan    domain.TenantPlan
	expires time.Time
}

// NewTenantPlans returns a cache of the plans source returns, each kept for ttl.
func NewTenantPlans(source TenantPlanSource, ttl time.Duration) *TenantPlans {
	return &TenantPlans{source: source, ttl: ttl, now: time.Now, entries: map[string]cachedPlan{}}
}

// Plan returns the plan of tenantID, from the cache while it is fresh.
func (p *TenantPlans) Plan(ctx context.Context, tenantID string) (domain.TenantPlan, error) {
	now := p.now()
	p.mu.Lock()
	entry, ok := p.entries[tenantID]
	p.mu.Unlock()
	if ok && now.Before(entry.expires) {
		return entry.plan, nil
	}

	plan, err := p.source.TenantPlan(ctx, tenantID)
	if err != nil {
		return domain.TenantPlan{}, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	// Drop expired entries so that the cache holds only recent tenants.
	for id, e := range p.entries {
		if !now.Before(e.expires) {
			delete(p.entries, id)
		}
	}
	p.entries[tenantID] = cachedPlan{plan: plan, expires: now.Add(p.ttl)}
	return plan, nil
}
