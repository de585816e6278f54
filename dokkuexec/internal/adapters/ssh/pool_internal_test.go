package ssh

import (
	"fmt"
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

func TestMetricsLabelCapsHostSeries(t *testing.T) {
	t.Parallel()
	m := &metrics{labels: map[string]bool{}}

	for i := range maxHostSeries {
		id := fmt.Sprintf("h-%d", i)
		if got := m.label(id); got != id {
			t.Fatalf("label(%q) = %q, want the host id", id, got)
		}
	}
	if got := m.label("h-late"); got != otherHosts {
		t.Errorf("label of host %d = %q, want %q", maxHostSeries+1, got, otherHosts)
	}
	if got := m.label("h-0"); got != "h-0" {
		t.Errorf("label(h-0) after the cap = %q, want h-0", got)
	}
}
