package app

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"dokkumcp.dev/mcpedge/internal/domain"
)

// LimitsSource reads a tenant's tool-call rate. limited is false when the
// tenant's plan sets no rate.
type LimitsSource interface {
	ToolCallsPerMinute(ctx context.Context, tenantID string) (perMinute int, limited bool, err error)
}

// Limiter limits tool calls per tenant with token buckets: one at the
// tenant's tool_calls_per_minute, read from Tenancy and cached for
// CacheFor, and one per tool that has its own limit (domain.ToolCallLimit).
// A call must fit in both.
//
// When Tenancy cannot be reached, the limiter fails open: it logs a warning,
// keeps the tenant's last known rate if it has one, applies only the
// per-tool limits otherwise, and requests the limits again after RetryFor.
type Limiter struct {
	Source LimitsSource
	Logger *slog.Logger
	// CacheFor is how long a tenant's rate is reused; default 30s.
	CacheFor time.Duration
	// RetryFor is how long after a failed read the limiter requests the limits again;
	// default 5s.
	RetryFor time.Duration
	// Now returns the current time; default time.Now.
	Now func() time.Time

	mu      sync.Mutex
	tenants map[string]*tenantLimits
}

type tenantLimits struct {
	// perMinute is the tenant's rate; 0 with known false means not known.
	perMinute int
	limited   bool
	known     bool
	// nextFetch is when the rate is read again.
	nextFetch time.Time
	fetching  bool
	overall   *domain.Bucket
	tools     map[string]*domain.Bucket
}

func (l *Limiter) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}

// Take takes one call of tool for tenant. When the call does not fit, it
// takes nothing and returns how long until it would fit and which limit
// rejected it ("tenant" or "tool").
func (l *Limiter) Take(ctx context.Context, tenantID, tool string) (ok bool, retryAfter time.Duration, limit string) {
	l.refresh(ctx, tenantID)

	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	state := l.state(tenantID, now)

	var checks []*domain.Bucket
	var names []string
	if state.limited && state.overall != nil {
		checks, names = append(checks, state.overall), append(names, "tenant")
	}
	if perTool := domain.ToolCallLimit(tool); perTool > 0 {
		bucket, found := state.tools[tool]
		if !found {
			bucket = domain.NewBucket(perTool, now)
			state.tools[tool] = bucket
		}
		checks, names = append(checks, bucket), append(names, "tool")
	}
	for i, bucket := range checks {
		if allowed, wait := bucket.Allow(now); !allowed {
			return false, wait, names[i]
		}
	}
	for _, bucket := range checks {
		bucket.Take(now)
	}
	return true, 0, ""
}

// state returns the tenant's entry; l.mu must be held.
func (l *Limiter) state(tenantID string, now time.Time) *tenantLimits {
	if l.tenants == nil {
		l.tenants = map[string]*tenantLimits{}
	}
	state, ok := l.tenants[tenantID]
	if !ok {
		state = &tenantLimits{tools: map[string]*domain.Bucket{}}
		l.tenants[tenantID] = state
	}
	if state.limited && state.overall == nil {
		state.overall = domain.NewBucket(state.perMinute, now)
	}
	return state
}

// refresh reads the tenant's rate when the cached one is stale. One caller
// per tenant reads; the others use the cached rate meanwhile.
func (l *Limiter) refresh(ctx context.Context, tenantID string) {
	if tenantID == "" || l.Source == nil {
		return
	}
	l.mu.Lock()
	state := l.state(tenantID, l.now())
	if state.fetching || l.now().Before(state.nextFetch) {
		l.mu.Unlock()
		return
	}
	state.fetching = true
	l.mu.Unlock()

	perMinute, limited, err := l.Source.ToolCallsPerMinute(ctx, tenantID)

	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	state.fetching = false
	if err != nil {
		retry := l.RetryFor
		if retry <= 0 {
			retry = 5 * time.Second
		}
		state.nextFetch = now.Add(retry)
		l.Logger.WarnContext(ctx, "tenant limits unavailable; tool calls are limited only per tool until Tenancy responds",
			"tenant_id", tenantID, "known_rate", state.known, "error", err)
		return
	}
	cache := l.CacheFor
	if cache <= 0 {
		cache = 30 * time.Second
	}
	state.nextFetch = now.Add(cache)
	state.known, state.limited, state.perMinute = true, limited, perMinute
	switch {
	case !limited:
		state.overall = nil
	case state.overall == nil:
		state.overall = domain.NewBucket(perMinute, now)
	case state.overall.Rate() != perMinute:
		state.overall.SetRate(perMinute)
	}
}
