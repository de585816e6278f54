package app_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"dokkumcp.dev/mcpedge/internal/app"
	"dokkumcp.dev/mcpedge/internal/domain"
)

type fakeLimits struct {
	mu        sync.Mutex
	perMinute map[string]int
	err       error
	calls     int
}

func (f *fakeLimits) ToolCallsPerMinute(_ context.Context, tenantID string) (int, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.err != nil {
		return 0, false, f.err
	}
	n, ok := f.perMinute[tenantID]
	return n, ok, nil
}

type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

func newLimiter(source app.LimitsSource, c *clock) *app.Limiter {
	return &app.Limiter{Source: source, Logger: slog.New(slog.DiscardHandler), Now: c.Now}
}

func takeN(t *testing.T, l *app.Limiter, tenant, tool string, n int) {
	t.Helper()
	for i := range n {
		if ok, _, limit := l.Take(context.Background(), tenant, tool); !ok {
			t.Fatalf("call %d of %s for %s refused by the %s limit", i+1, tool, tenant, limit)
		}
	}
}

func TestLimiterPerTenant(t *testing.T) {
	t.Parallel()
	c := &clock{now: time.Unix(1_000_000, 0)}
	source := &fakeLimits{perMinute: map[string]int{"t-1": 3, "t-2": 3}}
	l := newLimiter(source, c)

	takeN(t, l, "t-1", domain.ToolAppsList, 3)
	ok, wait, limit := l.Take(context.Background(), "t-1", domain.ToolAppsList)
	if ok || limit != "tenant" || wait != 20*time.Second {
		t.Fatalf("fourth call = %v, %v, %q; want refused by the tenant limit for 20s", ok, wait, limit)
	}
	// Another tenant has its own bucket.
	takeN(t, l, "t-2", domain.ToolAppsList, 3)
	// Tokens come back over time.
	c.now = c.now.Add(20 * time.Second)
	takeN(t, l, "t-1", domain.ToolAppsList, 1)
}

func TestLimiterUnlimitedTenantStillHasToolLimit(t *testing.T) {
	t.Parallel()
	c := &clock{now: time.Unix(1_000_000, 0)}
	l := newLimiter(&fakeLimits{perMinute: map[string]int{}}, c)

	takeN(t, l, "t-1", domain.ToolAppsList, 500)
	takeN(t, l, "t-1", domain.ToolRun, domain.ToolCallLimit(domain.ToolRun))
	if ok, _, limit := l.Take(context.Background(), "t-1", domain.ToolRun); ok || limit != "tool" {
		t.Fatalf("run over its limit = %v, %q; want refused by the tool limit", ok, limit)
	}
	// Other tools are not affected by run's limit.
	takeN(t, l, "t-1", domain.ToolAppsList, 1)
}

func TestLimiterRefusedCallTakesNoToken(t *testing.T) {
	t.Parallel()
	c := &clock{now: time.Unix(1_000_000, 0)}
	l := newLimiter(&fakeLimits{perMinute: map[string]int{"t-1": 20}}, c)
	takeN(t, l, "t-1", domain.ToolRun, 10)
	for range 5 {
		if ok, _, _ := l.Take(context.Background(), "t-1", domain.ToolRun); ok {
			t.Fatal("run over its tool limit was allowed")
		}
	}
	// The refused runs took nothing from the tenant's bucket of 20.
	takeN(t, l, "t-1", domain.ToolAppsList, 10)
}

func TestLimiterCachesLimits(t *testing.T) {
	t.Parallel()
	c := &clock{now: time.Unix(1_000_000, 0)}
	source := &fakeLimits{perMinute: map[string]int{"t-1": 1000}}
	l := newLimiter(source, c)
	takeN(t, l, "t-1", domain.ToolAppsList, 10)
	if source.calls != 1 {
		t.Fatalf("Tenancy asked %d times within the cache time, want 1", source.calls)
	}

	source.mu.Lock()
	source.perMinute["t-1"] = 1
	source.mu.Unlock()
	c.now = c.now.Add(31 * time.Second)
	takeN(t, l, "t-1", domain.ToolAppsList, 1)
	if source.calls != 2 {
		t.Fatalf("Tenancy asked %d times after the cache expired, want 2", source.calls)
	}
	if ok, _, _ := l.Take(context.Background(), "t-1", domain.ToolAppsList); ok {
		t.Fatal("the lowered rate was not applied")
	}
}

func TestLimiterFailsOpen(t *testing.T) {
	t.Parallel()
	c := &clock{now: time.Unix(1_000_000, 0)}
	source := &fakeLimits{err: errors.New("tenancy down")}
	l := newLimiter(source, c)

	// Without a known rate only the per-tool limits apply.
	takeN(t, l, "t-1", domain.ToolAppsList, 200)
	if source.calls != 1 {
		t.Fatalf("Tenancy asked %d times within the retry time, want 1", source.calls)
	}
	takeN(t, l, "t-1", domain.ToolRun, 10)
	if ok, _, _ := l.Take(context.Background(), "t-1", domain.ToolRun); ok {
		t.Fatal("run's own limit was not applied while Tenancy was down")
	}

	// A known rate is kept while Tenancy is down.
	source.mu.Lock()
	source.err, source.perMinute = nil, map[string]int{"t-2": 2}
	source.mu.Unlock()
	takeN(t, l, "t-2", domain.ToolAppsList, 2)
	source.mu.Lock()
	source.err = errors.New("tenancy down")
	source.mu.Unlock()
	c.now = c.now.Add(31 * time.Second)
	takeN(t, l, "t-2", domain.ToolAppsList, 1)
	if ok, _, _ := l.Take(context.Background(), "t-2", domain.ToolAppsList); ok {
		t.Fatal("the last known rate was dropped when Tenancy failed")
	}
}

func TestLimiterConcurrent(t *testing.T) {
	t.Parallel()
	l := &app.Limiter{Source: &fakeLimits{perMinute: map[string]int{"t-1": 50}}, Logger: slog.New(slog.DiscardHandler)}
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := 0
	for range 100 {
		wg.Go(func() {
			if ok, _, _ := l.Take(context.Background(), "t-1", domain.ToolAppsList); ok {
				mu.Lock()
				allowed++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	// Calls that came before the first read of the rate pass unlimited, and
	// time passes during the test, so allow a little slack above 50.
	if allowed < 50 || allowed > 100 {
		t.Fatalf("allowed %d of 100 concurrent calls at 50 a minute", allowed)
	}
}
