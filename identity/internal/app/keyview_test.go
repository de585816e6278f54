package app

import (
	"slices"
	"testing"
	"time"
)

func TestKeyViewSchedule(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const retention = 10 * time.Minute
	// k2 was created at start+1h and signs from start+1h+5m.
	keys := []SealedSigningKey{
		{KeyID: "k2", State: KeyStatePending, CreateTime: start.Add(time.Hour), NotBefore: start.Add(time.Hour + 5*time.Minute)},
		{KeyID: "k1", State: KeyStateActive, CreateTime: start, NotBefore: start},
		{KeyID: "k0", State: KeyStateRetired, CreateTime: start.Add(-time.Hour), NotBefore: start.Add(-time.Hour)},
	}

	tests := []struct {
		name          string
		at            time.Time
		wantSigning   string
		wantPublished []string
		wantChanges   map[string]string
	}{
		{"before rotation", start.Add(30 * time.Minute), "k1", []string{"k2", "k1"}, map[string]string{}},
		{"pending published", start.Add(time.Hour + time.Minute), "k1", []string{"k2", "k1"}, map[string]string{}},
		{"new key signs", start.Add(time.Hour + 5*time.Minute), "k2", []string{"k2", "k1"}, map[string]string{"k2": KeyStateActive}},
		{"old key kept for retention", start.Add(time.Hour + 14*time.Minute), "k2", []string{"k2", "k1"}, map[string]string{"k2": KeyStateActive}},
		{"old key retired", start.Add(time.Hour + 15*time.Minute), "k2", []string{"k2"}, map[string]string{"k2": KeyStateActive, "k1": KeyStateRetired}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			view := newKeyView(keys, tt.at, retention)
			if view.signing == nil || view.signing.KeyID != tt.wantSigning {
				t.Errorf("signing key = %v, want %s", view.signing, tt.wantSigning)
			}
			var published []string
			for _, k := range view.published {
				published = append(published, k.KeyID)
			}
			if !slices.Equal(published, tt.wantPublished) {
				t.Errorf("published = %v, want %v", published, tt.wantPublished)
			}
			changes := view.stateChanges()
			if len(changes) != len(tt.wantChanges) {
				t.Errorf("state changes = %v, want %v", changes, tt.wantChanges)
			}
			for kid, state := range tt.wantChanges {
				if changes[kid] != state {
					t.Errorf("state change of %s = %q, want %q", kid, changes[kid], state)
				}
			}
		})
	}
}

func TestKeyViewWithoutValidKey(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	view := newKeyView([]SealedSigningKey{
		{KeyID: "k1", State: KeyStatePending, NotBefore: now.Add(time.Minute)},
		{KeyID: "k0", State: KeyStateRetired, NotBefore: now.Add(-time.Hour)},
	}, now, time.Minute)
	if view.signing != nil {
		t.Errorf("signing key = %s, want none while the only live key is pending", view.signing.KeyID)
	}
}
