package ssh

import (
	"fmt"
	"time"

	"dokkumcp.dev/dokkuexec/internal/app"
)

// breaker is a host's circuit breaker. It counts consecutive connection
// failures (TCP connect, SSH handshake, timeouts) and opens at threshold:
// while open, commands for the host fail at once instead of each waiting
// for a dial timeout. When the cool-down has passed, the breaker is half
// open and lets one dial through as a probe, because dials to one host are
// serialized: success closes it, failure opens it for another cool-down.
// Non-zero exit statuses, a changed host key and a rejected certificate are
// not connection failures and leave it alone.
//
// A breaker has no lock of its own; hostPool.mu guards it.
type breaker struct {
	failures int
	// openUntil is the end of the cool-down; zero while closed.
	openUntil time.Time
}

// allow returns an error while the breaker is open and its cool-down has
// not passed. A disabled breaker (threshold 0) always allows.
func (b *breaker) allow(now time.Time, threshold int, hostName string) error {
	if threshold <= 0 || b.openUntil.IsZero() || !now.Before(b.openUntil) {
		return nil
	}
	return &app.Error{
		Kind: app.KindUnavailable,
		Message: fmt.Sprintf("host %q is unreachable: the last %d connection attempts failed; DokkuExec tries again at %s (in %s)",
			hostName, b.failures, b.openUntil.UTC().Format(time.RFC3339), b.openUntil.Sub(now).Round(time.Second)),
	}
}

// failure records a failed connection attempt and reports whether it opened
// the breaker. A failed probe reopens it for a full cool-down.
func (b *breaker) failure(now time.Time, threshold int, cooldown time.Duration) (opened bool) {
	b.failures++
	if threshold <= 0 || b.failures < threshold {
		return false
	}
	b.openUntil = now.Add(cooldown)
	return true
}

// success records a connection that was established and closes the
// breaker. It reports whether the breaker was open or half open before.
func (b *breaker) success() (wasOpen bool) {
	wasOpen = !b.openUntil.IsZero()
	b.failures = 0
	b.openUntil = time.Time{}
	return wasOpen
}

// Breaker states, as the breaker gauge's state label names them.
const (
	breakerClosed   = "closed"
	breakerOpen     = "open"
	breakerHalfOpen = "half_open"
)

// state returns the breaker's state at now.
func (b *breaker) state(now time.Time) string {
	switch {
	case b.openUntil.IsZero():
		return breakerClosed
	case now.Before(b.openUntil):
		return breakerOpen
	}
	return breakerHalfOpen
}
