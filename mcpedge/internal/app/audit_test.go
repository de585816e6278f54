package app_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"dokkumcp.dev/mcpedge/internal/app"
	"dokkumcp.dev/platform/auth"
)

type fakeSink struct {
	mu      sync.Mutex
	records []app.CallRecord
	block   chan struct{}
	err     error
}

func (s *fakeSink) AppendCall(_ context.Context, r app.CallRecord) error {
	if s.block != nil {
		<-s.block
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	s.records = append(s.records, r)
	return nil
}

func (s *fakeSink) all() []app.CallRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]app.CallRecord(nil), s.records...)
}

func TestArgumentsDigestCanonical(t *testing.T) {
	t.Parallel()
	a := app.ArgumentsDigest([]byte(`{"b": 1, "a": {"y": "x", "x": [1, 2]}}`))
	b := app.ArgumentsDigest([]byte(`{"a":{"x":[1,2],"y":"x"},"b":1}`))
	if a != b {
		t.Fatal("key order and white space change the digest")
	}
	if len(a) != 64 {
		t.Fatalf("digest %q is not hex SHA-256", a)
	}
	if app.ArgumentsDigest(nil) != app.ArgumentsDigest([]byte(`{}`)) || app.ArgumentsDigest([]byte("null")) != app.ArgumentsDigest([]byte(`{}`)) {
		t.Fatal("absent arguments do not hash as {}")
	}
	if app.ArgumentsDigest([]byte(`{"a":1}`)) == app.ArgumentsDigest([]byte(`{"a":2}`)) {
		t.Fatal("different arguments have the same digest")
	}
}

func TestRecorderAppendsInOrderAndDrains(t *testing.T) {
	t.Parallel()
	sink := &fakeSink{}
	r := app.NewRecorder(sink, slog.New(slog.DiscardHandler), 100, nil)
	for _, tool := range []string{"apps_list", "apps_create", "run"} {
		r.Record(context.Background(), app.CallRecord{TenantID: "t-1", Tool: tool, Outcome: app.OutcomeOK})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r.Close(ctx)
	got := sink.all()
	if len(got) != 3 || got[0].Tool != "apps_list" || got[2].Tool != "run" {
		t.Fatalf("appended %+v, want the three events in order", got)
	}
	// Events after Close are dropped, not appended or panicking.
	r.Record(context.Background(), app.CallRecord{TenantID: "t-1", Tool: "late"})
	r.Close(ctx)
	if len(sink.all()) != 3 {
		t.Fatal("an event recorded after Close was appended")
	}
}

func TestRecorderDropsWhenFull(t *testing.T) {
	t.Parallel()
	sink := &fakeSink{block: make(chan struct{})}
	r := app.NewRecorder(sink, slog.New(slog.DiscardHandler), 2, nil)
	done := make(chan struct{})
	go func() {
		// One event is held by the blocked worker, two fill the queue, the
		// rest are dropped; Record never blocks.
		for range 10 {
			r.Record(context.Background(), app.CallRecord{TenantID: "t-1", Tool: "apps_list"})
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Record blocked on a full queue")
	}
	close(sink.block)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r.Close(ctx)
	if n := len(sink.all()); n < 1 || n > 3 {
		t.Fatalf("appended %d events, want 1 to 3 (the rest dropped)", n)
	}
}

func TestRecorderSurvivesSinkErrors(t *testing.T) {
	t.Parallel()
	sink := &fakeSink{err: errors.New("tenancy down")}
	r := app.NewRecorder(sink, slog.New(slog.DiscardHandler), 10, nil)
	r.Record(context.Background(), app.CallRecord{TenantID: "t-1", Tool: "apps_list"})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r.Close(ctx)
}

func TestCallGateRecordsRateLimitedAndOutcome(t *testing.T) {
	t.Parallel()
	sink := &fakeSink{}
	recorder := app.NewRecorder(sink, slog.New(slog.DiscardHandler), 100, nil)
	gate := &app.CallGate{
		Limiter:  &app.Limiter{Source: &fakeLimits{perMinute: map[string]int{"t-1": 1}}, Logger: slog.New(slog.DiscardHandler)},
		Recorder: recorder,
		Logger:   slog.New(slog.DiscardHandler),
	}
	principal := &auth.Principal{TenantID: "t-1", Subject: "c-1", ClientID: "c-1"}
	args := []byte(`{"app":"shop","vars":{"SECRET":"hunter2"}}`)

	call, ok, _ := gate.Admit(context.Background(), principal, "config_set", args, "trace-1")
	if !ok {
		t.Fatal("the first call was refused")
	}
	call.Finish(context.Background(), app.OutcomeIsError)
	call.Finish(context.Background(), app.OutcomeOK) // ignored: a call has one outcome

	_, ok, wait := gate.Admit(context.Background(), principal, "config_set", args, "trace-2")
	if ok || wait <= 0 {
		t.Fatalf("the second call at 1 a minute = %v, %v; want refused with a wait", ok, wait)
	}

	// A caller without a tenant has no ledger.
	noTenant, _, _ := gate.Admit(context.Background(), &auth.Principal{Subject: "svc"}, "apps_list", nil, "")
	noTenant.Finish(context.Background(), app.OutcomeOK)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	recorder.Close(ctx)
	got := sink.all()
	if len(got) != 2 {
		t.Fatalf("recorded %+v, want two events", got)
	}
	if got[0].Outcome != app.OutcomeIsError || got[1].Outcome != app.OutcomeRateLimited {
		t.Fatalf("outcomes = %q, %q; want is_error then rate_limited", got[0].Outcome, got[1].Outcome)
	}
	for _, r := range got {
		if r.Operation() != "mcpedge.config_set" || r.Target != "shop" || r.Subject != "c-1" || r.TenantID != "t-1" {
			t.Errorf("record = %+v", r)
		}
		if strings.Contains(r.ArgumentsJSON(), "hunter2") || !strings.HasPrefix(r.ArgumentsJSON(), `{"sha256":"`) {
			t.Errorf("arguments = %s, want only the digest", r.ArgumentsJSON())
		}
	}
	if got[0].TraceID != "trace-1" {
		t.Errorf("trace id = %q, want trace-1", got[0].TraceID)
	}
}
