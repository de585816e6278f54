package app_test

import (
	"testing"
	"time"

	"dokkumcp.dev/identity/internal/app"
)

func TestRateLimiterBucket(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	limiter := app.NewRateLimiter(2, 3)
	limiter.SetClock(func() time.Time { return now })

	for i := range 3 {
		if ok, _ := limiter.Allow("c-1"); !ok {
			t.Fatalf("request %d of the burst rejected", i+1)
		}
	}
	ok, retry := limiter.Allow("c-1")
	if ok {
		t.Fatal("request beyond the burst allowed")
	}
	if retry != 500*time.Millisecond {
		t.Errorf("retry after = %s, want 500ms at 2 per second", retry)
	}
	if ok, _ := limiter.Allow("c-2"); !ok {
		t.Error("another key shares the bucket of c-1")
	}

	now = now.Add(500 * time.Millisecond)
	if ok, _ := limiter.Allow("c-1"); !ok {
		t.Error("request after the refill time rejected")
	}
	if ok, _ := limiter.Allow("c-1"); ok {
		t.Error("second request after one refill allowed")
	}
}

func TestRateLimiterOff(t *testing.T) {
	t.Parallel()
	var limiter *app.RateLimiter = app.NewRateLimiter(0, 10)
	for range 100 {
		if ok, _ := limiter.Allow("c-1"); !ok {
			t.Fatal("a limiter with rate 0 rejected a request")
		}
	}
}
