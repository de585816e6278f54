package domain_test

import (
	"testing"
	"time"

	"dokkumcp.dev/mcpedge/internal/domain"
)

func TestBucket(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b := domain.NewBucket(3, start)
	for i := range 3 {
		if ok, _ := b.Take(start); !ok {
			t.Fatalf("call %d of a full bucket of 3 was refused", i+1)
		}
	}
	ok, wait := b.Take(start)
	if ok {
		t.Fatal("the fourth call within the same instant was allowed")
	}
	if wait != 20*time.Second {
		t.Fatalf("wait = %v, want 20s (one token at 3 a minute)", wait)
	}
	if ok, _ := b.Take(start.Add(19 * time.Second)); ok {
		t.Fatal("a call before the next token was allowed")
	}
	if ok, _ := b.Take(start.Add(20 * time.Second)); !ok {
		t.Fatal("a call after the next token was refused")
	}
	// An idle hour refills only to capacity.
	later := start.Add(time.Hour)
	for i := range 3 {
		if ok, _ := b.Take(later); !ok {
			t.Fatalf("call %d after an idle hour was refused", i+1)
		}
	}
	if ok, _ := b.Take(later); ok {
		t.Fatal("the bucket held more than its capacity")
	}
}

func TestBucketSetRateClipsTokens(t *testing.T) {
	t.Parallel()
	now := time.Now()
	b := domain.NewBucket(100, now)
	b.SetRate(1)
	if ok, _ := b.Take(now); !ok {
		t.Fatal("first call refused")
	}
	if ok, _ := b.Take(now); ok {
		t.Fatal("tokens above the new rate were kept")
	}
}

func TestBucketZeroRate(t *testing.T) {
	t.Parallel()
	now := time.Now()
	b := domain.NewBucket(0, now)
	if ok, wait := b.Take(now); ok || wait <= 0 {
		t.Fatalf("Take on a zero-rate bucket = %v, %v; want refused with a wait", ok, wait)
	}
}

func TestRetryAfterSeconds(t *testing.T) {
	t.Parallel()
	for wait, want := range map[time.Duration]int{0: 1, time.Millisecond: 1, 1500 * time.Millisecond: 2, 20 * time.Second: 20} {
		if got := domain.RetryAfterSeconds(wait); got != want {
			t.Errorf("RetryAfterSeconds(%v) = %d, want %d", wait, got, want)
		}
	}
}

func TestToolCallLimit(t *testing.T) {
	t.Parallel()
	if got := domain.ToolCallLimit(domain.ToolRun); got != 10 {
		t.Errorf("ToolCallLimit(run) = %d, want 10", got)
	}
	if got := domain.ToolCallLimit(domain.ToolDeployCreate); got != 10 {
		t.Errorf("ToolCallLimit(deploy_create) = %d, want 10", got)
	}
	if got := domain.ToolCallLimit(domain.ToolAppsList); got != 0 {
		t.Errorf("ToolCallLimit(apps_list) = %d, want 0", got)
	}
}
