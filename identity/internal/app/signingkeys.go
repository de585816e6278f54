package app

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"log/slog"
	"time"

	"dokkumcp.dev/platform/auth"
)

// Signing key states. Only an active key signs. Every stored key is
// published in the JWKS, so a pending key is trusted before it signs and a
// retired one while tokens it signed are still valid.
const (
	KeyStatePending = "pending"
	KeyStateActive  = "active"
	KeyStateRetired = "retired"
)

// SealedSigningKey is a signing key as stored: the private key is sealed
// under the master key.
type SealedSigningKey struct {
	KeyID            string
	PublicKey        ed25519.PublicKey
	SealedPrivateKey []byte
	State            string
	CreateTime       time.Time
	NotBefore        time.Time
}

// SigningKeyStore persists signing keys.
type SigningKeyStore interface {
	// EnsureActiveSigningKey stores the key returned by create unless an
	// active key exists. Concurrent callers create at most one key.
	EnsureActiveSigningKey(ctx context.Context, create func() (SealedSigningKey, error)) (created bool, err error)
	// ListSigningKeys returns every stored key, newest not_before first.
	ListSigningKeys(ctx context.Context) ([]SealedSigningKey, error)
}

// SigningKeys is the in-memory key set: the key that signs and the public
// keys that verify.
type SigningKeys struct {
	signingKID string
	signing    ed25519.PrivateKey
	public     map[string]ed25519.PublicKey
	jwks       auth.JWKS
}

// LoadSigningKeys creates the first signing key when none is active, then
// loads and unseals the stored keys.
//
// NOTE: the key set is read once at start, so a key that another replica
// adds is not seen until this one restarts. Rotation will have to publish a
// key as pending well before it signs.
func LoadSigningKeys(ctx context.Context, store SigningKeyStore, keyring *Keyring, logger *slog.Logger) (*SigningKeys, error) {
	created, err := store.EnsureActiveSigningKey(ctx, func() (SealedSigningKey, error) {
		return newSealedSigningKey(keyring)
	})
	if err != nil {
		return nil, fmt.Errorf("create signing key: %w", err)
	}
	if created {
		logger.InfoContext(ctx, "signing key created")
	}

	stored, err := store.ListSigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("load signing keys: %w", err)
	}
	keys := &SigningKeys{public: map[string]ed25519.PublicKey{}}
	now := time.Now()
	for _, k := range stored {
		keys.public[k.KeyID] = k.PublicKey
		keys.jwks.Keys = append(keys.jwks.Keys, auth.NewEd25519JWK(k.KeyID, k.PublicKey))

		// The newest active key that is already valid signs.
		if keys.signing != nil || k.State != KeyStateActive || k.NotBefore.After(now) {
			continue
		}
		seed, err := keyring.Open(k.SealedPrivateKey, k.KeyID)
		if err != nil {
			return nil, fmt.Errorf("unseal signing key %s: %w; start with the master key that created it", k.KeyID, err)
		}
		if len(seed) != ed25519.SeedSize {
			return nil, fmt.Errorf("unseal signing key %s: seed is %d bytes, want %d", k.KeyID, len(seed), ed25519.SeedSize)
		}
		keys.signingKID, keys.signing = k.KeyID, ed25519.NewKeyFromSeed(seed)
	}
	if keys.signing == nil {
		return nil, fmt.Errorf("no active signing key is valid now")
	}
	logger.InfoContext(ctx, "signing keys loaded", "kid", keys.signingKID, "keys", len(keys.public))
	return keys, nil
}

func newSealedSigningKey(keyring *Keyring) (SealedSigningKey, error) {
	public, private, err := ed25519.GenerateKey(nil)
	if err != nil {
		return SealedSigningKey{}, err
	}
	kid := Thumbprint(public)
	now := time.Now().UTC()
	return SealedSigningKey{
		KeyID:            kid,
		PublicKey:        public,
		SealedPrivateKey: keyring.Seal(private.Seed(), kid),
		State:            KeyStateActive,
		CreateTime:       now,
		NotBefore:        now,
	}, nil
}

// Thumbprint returns the RFC 7638 thumbprint of an Ed25519 public key:
// base64url(SHA-256) of the JWK's required members in lexicographic order
// with no whitespace (RFC 8037 section 2 names crv, kty and x for OKP keys).
func Thumbprint(public ed25519.PublicKey) string {
	canonical := `{"crv":"Ed25519","kty":"OKP","x":"` + base64.RawURLEncoding.EncodeToString(public) + `"}`
	sum := sha256.Sum256([]byte(canonical))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// JWKS returns the public keys as a JSON Web Key Set.
func (k *SigningKeys) JWKS() auth.JWKS {
	return k.jwks
}

// PublicKey returns the public key with id kid.
func (k *SigningKeys) PublicKey(kid string) (ed25519.PublicKey, bool) {
	key, ok := k.public[kid]
	return key, ok
}
