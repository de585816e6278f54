package domain

import (
	"math"
	"time"
)

// toolCallLimits caps single tools below the tenant's overall rate, per
// tenant and minute. run starts a container on the host for each call, and
// deploy_create a build, so they get a lower limit than the cheap reads.
var toolCallLimits = map[string]int{
	ToolRun:          10,
	ToolDeployCreate: 10,
}

// ToolCallLimit returns the most calls of tool a tenant may make per
// minute, or 0 when only the tenant's overall limit applies.
func ToolCallLimit(tool string) int {
	return toolCallLimits[tool]
}

// Bucket is a token bucket that holds at most perMinute tokens and gains
// perMinute tokens a minute, so a quiet caller may make perMinute calls at
// once and then one call every minute/perMinute. It is not safe for
// concurrent use.
type Bucket struct {
	perMinute int
	tokens    float64
	last      time.Time
}

// NewBucket returns a full bucket.
func NewBucket(perMinute int, now time.Time) *Bucket {
	return &Bucket{perMinute: perMinute, tokens: float64(perMinute), last: now}
}

// SetRate changes the rate; tokens above the new capacity are dropped.
func (b *Bucket) SetRate(perMinute int) {
	b.perMinute = perMinute
	b.tokens = math.Min(b.tokens, float64(perMinute))
}

// Rate returns the bucket's calls per minute.
func (b *Bucket) Rate() int { return b.perMinute }

// refill adds the tokens earned since the last call.
func (b *Bucket) refill(now time.Time) {
	if elapsed := now.Sub(b.last); elapsed > 0 {
		b.tokens = math.Min(float64(b.perMinute), b.tokens+elapsed.Minutes()*float64(b.perMinute))
		b.last = now
	}
}

// Allow reports whether one token is available at now, without taking it.
// When none is, it returns how long until one is.
func (b *Bucket) Allow(now time.Time) (bool, time.Duration) {
	b.refill(now)
	if b.tokens >= 1 {
		return true, 0
	}
	if b.perMinute <= 0 {
		return false, time.Minute
	}
	missing := 1 - b.tokens
	return false, time.Duration(missing / float64(b.perMinute) * float64(time.Minute))
}

// Take takes one token if one is available at now. Otherwise it takes
// nothing and returns how long until a token is available.
func (b *Bucket) Take(now time.Time) (bool, time.Duration) {
	ok, wait := b.Allow(now)
	if ok {
		b.tokens--
	}
	return ok, wait
}

// RetryAfterSeconds rounds a wait up to whole seconds for a Retry-After
// header, at least 1.
func RetryAfterSeconds(wait time.Duration) int {
	return max(1, int(math.Ceil(wait.Seconds())))
}
