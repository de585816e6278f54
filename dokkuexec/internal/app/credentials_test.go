package app

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeIssuer issues credentials that expire ttl after the fake clock's now.
type fakeIssuer struct {
	mu     sync.Mutex
	now    *time.Time
	ttl    time.Duration
	err    error
	issued int
	// modes are the credential modes asked for, in order.
	modes []string
}

func (f *fakeIssuer) IssueSSHCredential(_ context.Context, _, _, mode string) (Credential, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return Credential{}, f.err
	}
	f.issued++
	f.modes = append(f.modes, mode)
	return Credential{PrivateKey: []byte{byte(f.issued)}, ExpireTime: f.now.Add(f.ttl)}, nil
}

func TestCredentialCacheFollowsModeChange(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	issuer := &fakeIssuer{now: &now, ttl: time.Hour}
	cache := newCredentialCache(issuer, func() time.Time { return now }, slog.New(slog.DiscardHandler))
	managed := Host{ID: "h-1", Name: "prod", CredentialMode: CredentialModeManagedKey}

	first, err := cache.Get(t.Context(), "t-1", managed)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if again, err := cache.Get(t.Context(), "t-1", managed); err != nil || again.PrivateKey[0] != first.PrivateKey[0] {
		t.Fatalf("second Get = %v, %v; want the cached credential", again.PrivateKey, err)
	}
	// Tenancy now records the host in certificate mode: the managed key
	// must not be handed out again, even though it is still fresh.
	certificate := managed
	certificate.CredentialMode = CredentialModeCertificate
	switched, err := cache.Get(t.Context(), "t-1", certificate)
	if err != nil {
		t.Fatalf("Get after the mode change: %v", err)
	}
	if switched.PrivateKey[0] == first.PrivateKey[0] {
		t.Error("Get after the mode change returned the credential of the old mode")
	}
	want := []string{CredentialModeManagedKey, CredentialModeCertificate}
	if !slices.Equal(issuer.modes, want) {
		t.Errorf("modes asked of the issuer = %q, want %q", issuer.modes, want)
	}
}

func TestCredentialCacheLifecycle(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := start
	issuer := &fakeIssuer{now: &now, ttl: 30 * time.Minute}
	cache := newCredentialCache(issuer, func() time.Time { return now }, slog.New(slog.DiscardHandler))
	host := Host{ID: "h-1", Name: "prod"}
	get := func() (Credential, error) { return cache.Get(t.Context(), "t-1", host) }

	first, err := get()
	if err != nil {
		t.Fatalf("first Get: %v", err)
	}

	now = start.Add(19 * time.Minute)
	reused, err := get()
	if err != nil {
		t.Fatalf("Get before renewal: %v", err)
	}
	if reused.PrivateKey[0] != first.PrivateKey[0] || issuer.issued != 1 {
		t.Errorf("credential renewed before two thirds of its lifetime (issued %d)", issuer.issued)
	}

	now = start.Add(21 * time.Minute)
	renewed, err := get()
	if err != nil {
		t.Fatalf("Get after two thirds: %v", err)
	}
	if renewed.PrivateKey[0] == first.PrivateKey[0] || issuer.issued != 2 {
		t.Errorf("credential not renewed after two thirds of its lifetime (issued %d)", issuer.issued)
	}

	// Secrets goes down: the renewed credential (valid until 51m) stays in use.
	issuer.err = &Error{Kind: KindUnavailable, Message: "down"}
	now = start.Add(45 * time.Minute)
	kept, err := get()
	if err != nil {
		t.Fatalf("Get while renewal fails and the credential is valid: %v", err)
	}
	if kept.PrivateKey[0] != renewed.PrivateKey[0] {
		t.Error("Get did not return the cached credential while renewal failed")
	}

	now = start.Add(52 * time.Minute)
	_, err = get()
	if KindOf(err) != KindUnavailable {
		t.Fatalf("kind after expiry = %v (error %v), want Unavailable", KindOf(err), err)
	}
	if !strings.Contains(err.Error(), "Secrets") {
		t.Errorf("message %q does not name the credential service", err)
	}
}

func TestCredentialCachePassesRefusals(t *testing.T) {
	t.Parallel()
	now := time.Now()
	refusal := &Error{Kind: KindNotFound, Message: `host "h-9" not found`}
	issuer := &fakeIssuer{now: &now, ttl: time.Minute, err: refusal}
	cache := newCredentialCache(issuer, func() time.Time { return now }, slog.New(slog.DiscardHandler))

	_, err := cache.Get(t.Context(), "t-1", Host{ID: "h-9"})
	if !errors.Is(err, refusal) {
		t.Errorf("error = %v, want the issuer's refusal", err)
	}
}

func TestCredentialCacheRejectsExpiredIssue(t *testing.T) {
	t.Parallel()
	now := time.Now()
	issuer := &fakeIssuer{now: &now, ttl: -time.Second}
	cache := newCredentialCache(issuer, func() time.Time { return now }, slog.New(slog.DiscardHandler))

	_, err := cache.Get(t.Context(), "t-1", Host{ID: "h-1", Name: "prod"})
	if KindOf(err) != KindUnavailable {
		t.Errorf("kind = %v (error %v), want Unavailable", KindOf(err), err)
	}
}

func TestCredentialCacheInvalidateRefused(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	issuer := &fakeIssuer{now: &now, ttl: 30 * time.Minute}
	cache := newCredentialCache(issuer, func() time.Time { return now }, slog.New(slog.DiscardHandler))
	host := Host{ID: "h-1", Name: "prod"}

	first, err := cache.Get(t.Context(), "t-1", host)
	if err != nil {
		t.Fatal(err)
	}
	// A rejection of a credential the cache no longer holds changes nothing.
	cache.Invalidate("t-1", "h-1", Credential{PrivateKey: []byte{99}})
	if again, _ := cache.Get(t.Context(), "t-1", host); again.PrivateKey[0] != first.PrivateKey[0] || issuer.issued != 1 {
		t.Fatalf("an unrelated rejection dropped the cached credential (issued %d)", issuer.issued)
	}
	cache.Invalidate("t-1", "h-1", first)
	fresh, err := cache.Get(t.Context(), "t-1", host)
	if err != nil {
		t.Fatal(err)
	}
	if fresh.PrivateKey[0] == first.PrivateKey[0] || issuer.issued != 2 {
		t.Errorf("after a rejection Get returned the rejected credential (issued %d), want a fresh one", issuer.issued)
	}
}
