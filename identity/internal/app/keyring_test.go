package app_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"testing"

	"dokkumcp.dev/identity/internal/app"
)

func TestThumbprintRFC8037Vector(t *testing.T) {
	t.Parallel()
	// RFC 8037 appendix A.2 and A.3: the Ed25519 public key and its RFC 7638
	// thumbprint.
	x, err := base64.RawURLEncoding.DecodeString("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := app.Thumbprint(ed25519.PublicKey(x)), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"; got != want {
		t.Errorf("Thumbprint = %q, want %q", got, want)
	}
}

func newKeyring(t *testing.T, fill byte) *app.Keyring {
	t.Helper()
	keyring, err := app.NewKeyring(bytes.Repeat([]byte{fill}, app.MasterKeySize))
	if err != nil {
		t.Fatal(err)
	}
	return keyring
}

func TestKeyringSealOpen(t *testing.T) {
	t.Parallel()
	keyring := newKeyring(t, 1)
	plaintext := []byte("ed25519 seed of thirty-two bytes")
	sealed := keyring.Seal(plaintext, "kid-1")

	if bytes.Contains(sealed, plaintext) {
		t.Fatal("sealed value contains the plaintext")
	}
	opened, err := keyring.Open(sealed, "kid-1")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(opened, plaintext) {
		t.Errorf("Open = %q, want %q", opened, plaintext)
	}

	tampered := bytes.Clone(sealed)
	tampered[len(tampered)-1] ^= 1
	tests := []struct {
		name    string
		keyring *app.Keyring
		sealed  []byte
		label   string
	}{
		{"other label", keyring, sealed, "kid-2"},
		{"other master key", newKeyring(t, 2), sealed, "kid-1"},
		{"tampered", keyring, tampered, "kid-1"},
		{"truncated", keyring, sealed[:10], "kid-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := tt.keyring.Open(tt.sealed, tt.label); err == nil {
				t.Error("Open succeeded, want an error")
			}
		})
	}
}

func TestKeyringSecretHash(t *testing.T) {
	t.Parallel()
	keyring := newKeyring(t, 1)
	secret := app.NewClientSecret()
	hash := keyring.HashSecret(secret)

	if len(secret) != 43 {
		t.Errorf("secret has %d characters, want 43 (256 bits in base64url)", len(secret))
	}
	if !keyring.SecretMatches(secret, hash) {
		t.Error("the secret does not match its own hash")
	}
	if keyring.SecretMatches(secret+"x", hash) {
		t.Error("another secret matches the hash")
	}
	if newKeyring(t, 2).SecretMatches(secret, hash) {
		t.Error("the hash matches under another master key")
	}
}

func TestNewKeyringRejectsShortKey(t *testing.T) {
	t.Parallel()
	if _, err := app.NewKeyring(make([]byte, 16)); err == nil {
		t.Error("NewKeyring accepted a 16-byte master key")
	}
}
