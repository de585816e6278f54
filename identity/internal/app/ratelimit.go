package app

import (
	"math"
	"sync"
	"time"
)

// maxRateLimitKeys bounds the buckets a RateLimiter keeps. Past it, the
// buckets that have refilled are dropped, since a new bucket starts full.
const maxRateLimitKeys = 100_000

// RateLimiter is a set of token buckets in memory, one per key. Each
// replica limits on its own, so N replicas allow up to N times the rate.
type RateLimiter struct {
	rate  float64
	burst float64
	now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// NewRateLimiter returns a limiter that allows ratePerSecond requests per
// key on average and burst at once, or nil, which allows everything, when
// ratePerSecond is not positive.
func NewRateLimiter(ratePerSecond float64, burst int) *RateLimiter {
	if ratePerSecond <= 0 {
		return nil
	}
	return &RateLimiter{
		rate:    ratePerSecond,
		burst:   math.Max(float64(burst), 1),
		now:     time.Now,
		buckets: map[string]*bucket{},
	}
}

// Allow takes one token from key's bucket. When the bucket is empty it
// returns false and the time until a token is back.
func (l *RateLimiter) Allow(key string) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()

	now := l.now()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= maxRateLimitKeys {
			l.dropFull(now)
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	}
	b.tokens = math.Min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now

	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
}

func (l *RateLimiter) dropFull(now time.Time) {
	for key, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*l.rate >= l.burst {
			delete(l.buckets, key)
		}
	}
}

// SetClock replaces the clock; tests use it to refill buckets without
// waiting.
func (l *RateLimiter) SetClock(now func() time.Time) {
	l.mu.Lock()
	l.now = now
	l.mu.Unlock()
}
