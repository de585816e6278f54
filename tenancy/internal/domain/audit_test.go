package domain

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"testing"
	"time"
)

func sampleEvent(t *testing.T) *AuditEvent {
	t.Helper()
	e, err := NewAuditEvent(AuditEvent{
		TenantID: "t-k3xq7a2mzd", Subject: "alice", ClientID: "claude", Actor: "ci", Operation: "apps.create",
		Target: "web", Arguments: `{"app": "web"}`, Result: "ok", LatencyMS: 42, TraceID: "abc",
		Time: time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC),
	}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	e.Chain(0, GenesisHash)
	return e
}

// TestAuditHashEncoding pins the canonical encoding that docs/audit.md
// describes, so that an external verifier can recompute hashes.
func TestAuditHashEncoding(t *testing.T) {
	e := sampleEvent(t)
	h := sha256.New()
	for _, field := range []string{"dokkumcp.audit.v1", "t-k3xq7a2mzd", "1", "2026-01-02T03:04:05.123456Z", "alice", "claude", "ci",
		"apps.create", "web", `{"app":"web"}`, "ok", "42", "abc", GenesisHash} {
		var length [8]byte
		binary.BigEndian.PutUint64(length[:], uint64(len(field)))
		h.Write(length[:])
		h.Write([]byte(field))
	}
	if want := hex.EncodeToString(h.Sum(nil)); e.Hash != want {
		t.Errorf("hash = %s, want %s", e.Hash, want)
	}
}

func TestAuditHashCoversEveryField(t *testing.T) {
	edits := map[string]func(e *AuditEvent){
		"tenant_id":  func(e *AuditEvent) { e.TenantID = "t-aaaaaaaaaa" },
		"seq":        func(e *AuditEvent) { e.Seq = 2 },
		"time":       func(e *AuditEvent) { e.Time = e.Time.Add(time.Microsecond) },
		"subject":    func(e *AuditEvent) { e.Subject = "bob" },
		"client_id":  func(e *AuditEvent) { e.ClientID = "other" },
		"actor":      func(e *AuditEvent) { e.Actor = "" },
		"operation":  func(e *AuditEvent) { e.Operation = "apps.destroy" },
		"target":     func(e *AuditEvent) { e.Target = "api" },
		"arguments":  func(e *AuditEvent) { e.Arguments = "{}" },
		"result":     func(e *AuditEvent) { e.Result = "internal" },
		"latency_ms": func(e *AuditEvent) { e.LatencyMS = 43 },
		"trace_id":   func(e *AuditEvent) { e.TraceID = "abd" },
		"prev_hash":  func(e *AuditEvent) { e.PrevHash = "00" },
		// Moving a byte between adjacent fields must change the hash too.
		"field boundary": func(e *AuditEvent) { e.Subject, e.ClientID = "alicec", "laude" },
	}
	for name, edit := range edits {
		t.Run(name, func(t *testing.T) {
			e := sampleEvent(t)
			edit(e)
			if e.ComputeHash() == e.Hash {
				t.Errorf("editing %s leaves the hash unchanged", name)
			}
		})
	}
}

func TestChainVerifier(t *testing.T) {
	first := sampleEvent(t)
	second := *first
	second.Chain(first.Seq, first.Hash)

	v := NewChainVerifier()
	if reason := v.Check(first); reason != "" {
		t.Fatalf("first event: %s", reason)
	}
	if reason := v.Check(&second); reason != "" {
		t.Fatalf("second event: %s", reason)
	}
	if v.Checked() != 2 {
		t.Errorf("checked = %d, want 2", v.Checked())
	}

	skipped := second
	skipped.Chain(2, second.Hash)
	if reason := NewChainVerifier().Check(&skipped); reason == "" {
		t.Error("a chain starting at seq 3 passed")
	}
	relinked := second
	relinked.PrevHash = GenesisHash
	relinked.Hash = relinked.ComputeHash()
	v = NewChainVerifier()
	v.Check(first)
	if reason := v.Check(&relinked); reason == "" {
		t.Error("an event whose prev_hash skips its predecessor passed")
	}
}
