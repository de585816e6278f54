package ssh

import (
	"testing"
	"time"
)

func TestBackoffStaysWithinBounds(t *testing.T) {
	t.Parallel()
	e := New(Options{BackoffBase: 100 * time.Millisecond, BackoffMax: time.Second})

	for attempt, ceiling := range map[int]time.Duration{
		1:  100 * time.Millisecond,
		2:  200 * time.Millisecond,
		4:  800 * time.Millisecond,
		5:  time.Second,
		64: time.Second,
	} {
		for range 100 {
			delay := e.backoff(attempt)
			if delay < ceiling/2 || delay > ceiling {
				t.Fatalf("backoff(%d) = %s, want between %s and %s", attempt, delay, ceiling/2, ceiling)
			}
		}
	}
}
