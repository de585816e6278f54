package vault

import (
	"errors"
	"log/slog"
	"testing"
	"time"

	"dokkumcp.dev/platform/vaulttest"
	"dokkumcp.dev/secrets/internal/app"
	"dokkumcp.dev/secrets/internal/domain"
)

// newKeyStore returns a KeyStore on a fresh Vault dev server, with its KV
// engine mounted.
func newKeyStore(t *testing.T) *KeyStore {
	t.Helper()
	v := vaulttest.New(t)
	ca, err := New(Config{
		Address: v.Addr, Auth: AuthConfig{Method: AuthToken, Token: v.RootToken},
		Mount: "ssh-client-signer", Role: "dokku", TTL: time.Hour, Timeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	keys := ca.KeyStore("dokkumcp-kv")
	if err := keys.Bootstrap(t.Context(), slog.New(slog.DiscardHandler)); err != nil {
		t.Fatalf("Bootstrap: %v", err)
	}
	// A second bootstrap finds the mount in place.
	if err := keys.Bootstrap(t.Context(), slog.New(slog.DiscardHandler)); err != nil {
		t.Fatalf("second Bootstrap: %v", err)
	}
	return keys
}

func record(version uint64) *app.ManagedKeyRecord {
	return &app.ManagedKeyRecord{Current: app.ManagedKey{
		Version: version, Name: "k", PrivateKeyPEM: []byte("not a real key"), PublicKey: "ssh-ed25519 AAAA",
		CreateTime: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	}}
}

func TestKeyStoreCheckAndSet(t *testing.T) {
	t.Parallel()
	keys := newKeyStore(t)
	target, err := domain.NewTarget("t-k3xq7a2mzd", "h-p4w2ndr6ta")
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()

	if _, _, err := keys.Load(ctx, target); !errors.Is(err, app.ErrNoManagedKey) {
		t.Fatalf("Load before any write = %v, want ErrNoManagedKey", err)
	}
	steps := []struct {
		name    string
		cas     int
		version uint64
		want    int
		wantErr error
	}{
		{"create", 0, 1, 1, nil},
		{"second create loses", 0, 9, 0, app.ErrManagedKeyConflict},
		{"update on the current version", 1, 2, 2, nil},
		{"update on a stale version loses", 1, 9, 0, app.ErrManagedKeyConflict},
		{"update from the future loses", 7, 9, 0, app.ErrManagedKeyConflict},
	}
	for _, step := range steps {
		got, err := keys.Save(ctx, target, record(step.version), step.cas)
		if !errors.Is(err, step.wantErr) || got != step.want {
			t.Fatalf("%s: Save(cas %d) = %d, %v; want %d, %v", step.name, step.cas, got, err, step.want, step.wantErr)
		}
	}

	loaded, version, err := keys.Load(ctx, target)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := record(2)
	if version != 2 || loaded.Current.Version != 2 || string(loaded.Current.PrivateKeyPEM) != string(want.Current.PrivateKeyPEM) ||
		!loaded.Current.CreateTime.Equal(want.Current.CreateTime) {
		t.Errorf("Load = %+v at version %d, want %+v at version 2", loaded.Current, version, want.Current)
	}
}
