package app

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"dokkumcp.dev/platform/auth"
)

// Signing key states as stored. Which key signs and which are published is
// derived from not_before by keyView, so the state only records what the
// maintenance loop has seen. A retired key is never used again.
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
	// NotBefore is when the key starts to sign.
	NotBefore time.Time
}

// SigningKeyStore persists signing keys.
type SigningKeyStore interface {
	// InsertSigningKeyIf stores the key returned by create when add, given
	// every stored key newest not_before first, returns true. Concurrent
	// callers, on any replica, run one at a time, so at most one of them
	// adds a key for the same condition. It returns the stored key, or the
	// zero key when add returned false.
	InsertSigningKeyIf(ctx context.Context, add func(existing []SealedSigningKey) bool, create func() (SealedSigningKey, error)) (SealedSigningKey, error)
	// ListSigningKeys returns every stored key, newest not_before first.
	ListSigningKeys(ctx context.Context) ([]SealedSigningKey, error)
	// SetSigningKeyState records the state of a key.
	SetSigningKeyState(ctx context.Context, kid, state string) error
}

// KeySchedule sets when signing keys rotate, sign and leave the JWKS.
type KeySchedule struct {
	// RotationInterval is the age of the newest key at which the
	// maintenance loop creates the next one; 0 turns scheduled rotation off.
	RotationInterval time.Duration
	// PublishDelay is the time between a key's creation, when it enters the
	// JWKS, and the moment it starts to sign. It must cover ReloadInterval
	// plus the verifiers' JWKS cache age (platform/auth VerifierConfig.MaxAge,
	// default 5 minutes), so that every verifier holds the key before the
	// first token it signs arrives.
	PublishDelay time.Duration
	// Retention is how long a key stays in the JWKS after a newer key
	// replaced it: the token lifetime, the verifiers' maximum clock leeway
	// and ReloadInterval, during which another replica may still sign with it.
	Retention time.Duration
	// ReloadInterval is the longest time a replica uses its cached copy of
	// the stored keys before it reads them again.
	ReloadInterval time.Duration
}

// SigningKeys is the key set every replica reads from PostgreSQL: the key
// that signs now and the public keys that verify.
type SigningKeys struct {
	store    SigningKeyStore
	keyring  *Keyring
	schedule KeySchedule
	logger   *slog.Logger
	now      func() time.Time

	mu       sync.Mutex
	stored   []SealedSigningKey
	loadedAt time.Time
	private  map[string]ed25519.PrivateKey
	// readsStarted and readApplied number the reads of the stored keys.
	readsStarted, readApplied uint64
	reloading                 bool
}

// LoadSigningKeys creates the first signing key when no key can sign, then
// loads the stored keys.
func LoadSigningKeys(ctx context.Context, store SigningKeyStore, keyring *Keyring, schedule KeySchedule, logger *slog.Logger) (*SigningKeys, error) {
	k := &SigningKeys{
		store:    store,
		keyring:  keyring,
		schedule: schedule,
		logger:   logger,
		now:      time.Now,
		private:  map[string]ed25519.PrivateKey{},
	}
	created, err := store.InsertSigningKeyIf(ctx, func(existing []SealedSigningKey) bool {
		view := newKeyView(existing, k.now(), schedule.Retention)
		return view.signing == nil
	}, func() (SealedSigningKey, error) {
		return newSealedSigningKey(keyring, k.now(), 0)
	})
	if err != nil {
		return nil, fmt.Errorf("create signing key: %w", err)
	}
	if created.KeyID != "" {
		logger.InfoContext(ctx, "signing key created", "kid", created.KeyID)
	}
	if err := k.reload(ctx); err != nil {
		return nil, err
	}
	if _, _, err := k.Signer(ctx); err != nil {
		return nil, err
	}
	return k, nil
}

// SetClock replaces the clock; tests use it to pass a key's publish delay
// and retention without waiting.
func (k *SigningKeys) SetClock(now func() time.Time) {
	k.mu.Lock()
	k.now = now
	k.mu.Unlock()
}

// reload reads the stored keys. Reads may overlap, so a read keeps its
// result only when no read that started later has already stored one.
// Otherwise a slow read could hide a key that Rotate has just added.
func (k *SigningKeys) reload(ctx context.Context) error {
	k.mu.Lock()
	k.readsStarted++
	read := k.readsStarted
	k.mu.Unlock()

	stored, err := k.store.ListSigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("load signing keys: %w", err)
	}

	k.mu.Lock()
	defer k.mu.Unlock()
	if read > k.readApplied {
		k.stored = stored
		k.loadedAt = k.now()
		k.readApplied = read
	}
	return nil
}

// view returns the key view at the current time, reading the stored keys
// again when the cached copy is older than ReloadInterval. One caller reads
// while the others use the cached copy. When PostgreSQL fails it keeps the
// cached copy, which stays correct until the next rotation.
func (k *SigningKeys) view(ctx context.Context) keyView {
	k.mu.Lock()
	stale := !k.reloading && k.now().Sub(k.loadedAt) >= k.schedule.ReloadInterval
	if stale {
		k.reloading = true
	}
	k.mu.Unlock()
	if stale {
		err := k.reload(ctx)
		k.mu.Lock()
		k.reloading = false
		k.mu.Unlock()
		if err != nil {
			k.logger.WarnContext(ctx, "signing key reload failed; using the cached keys", "error", err)
		}
	}

	k.mu.Lock()
	defer k.mu.Unlock()
	return newKeyView(k.stored, k.now(), k.schedule.Retention)
}

// Signer returns the id and private key of the key that signs now.
func (k *SigningKeys) Signer(ctx context.Context) (string, ed25519.PrivateKey, error) {
	view := k.view(ctx)
	if view.signing == nil {
		return "", nil, errors.New("no stored signing key is valid now")
	}
	kid := view.signing.KeyID

	k.mu.Lock()
	defer k.mu.Unlock()
	if key, ok := k.private[kid]; ok {
		return kid, key, nil
	}
	seed, err := k.keyring.Open(view.signing.SealedPrivateKey, kid)
	if err != nil {
		return "", nil, fmt.Errorf("unseal signing key %s: %w; start with the master key that created it", kid, err)
	}
	if len(seed) != ed25519.SeedSize {
		return "", nil, fmt.Errorf("unseal signing key %s: seed is %d bytes, want %d", kid, len(seed), ed25519.SeedSize)
	}
	key := ed25519.NewKeyFromSeed(seed)
	k.private[kid] = key
	return kid, key, nil
}

// JWKS returns the published public keys as a JSON Web Key Set.
func (k *SigningKeys) JWKS(ctx context.Context) auth.JWKS {
	set := auth.JWKS{Keys: []auth.JWK{}}
	for _, key := range k.view(ctx).published {
		set.Keys = append(set.Keys, auth.NewEd25519JWK(key.KeyID, key.PublicKey))
	}
	return set
}

// PublicKey returns the published public key with id kid.
func (k *SigningKeys) PublicKey(ctx context.Context, kid string) (ed25519.PublicKey, bool) {
	for _, key := range k.view(ctx).published {
		if key.KeyID == kid {
			return key.PublicKey, true
		}
	}
	return nil, false
}

// Rotate creates a key that signs after the publish delay. While an earlier
// key still waits to sign, it returns that key with created false.
func (k *SigningKeys) Rotate(ctx context.Context) (key SealedSigningKey, created bool, err error) {
	return k.rotate(ctx, func(view keyView) bool { return true })
}

func (k *SigningKeys) rotate(ctx context.Context, due func(keyView) bool) (SealedSigningKey, bool, error) {
	var waiting SealedSigningKey
	key, err := k.store.InsertSigningKeyIf(ctx, func(existing []SealedSigningKey) bool {
		view := newKeyView(existing, k.now(), k.schedule.Retention)
		if len(view.pending) > 0 {
			waiting = view.pending[0]
			return false
		}
		return due(view)
	}, func() (SealedSigningKey, error) {
		return newSealedSigningKey(k.keyring, k.now(), k.schedule.PublishDelay)
	})
	if err != nil {
		return SealedSigningKey{}, false, fmt.Errorf("create signing key: %w", err)
	}
	if key.KeyID == "" {
		return waiting, false, nil
	}

	k.logger.InfoContext(ctx, "signing key created", "kid", key.KeyID, "sign_time", key.NotBefore)
	if err := k.reload(ctx); err != nil {
		k.logger.WarnContext(ctx, "signing key reload failed; using the cached keys", "error", err)
	}
	return key, true, nil
}

// Maintain runs one round of the maintenance loop: it rotates when the
// newest key is older than RotationInterval and records the states the
// schedule has reached.
func (k *SigningKeys) Maintain(ctx context.Context) error {
	if k.schedule.RotationInterval > 0 {
		_, _, err := k.rotate(ctx, func(view keyView) bool {
			newest := view.newestCreateTime()
			return !newest.IsZero() && k.now().Sub(newest) >= k.schedule.RotationInterval
		})
		if err != nil {
			return err
		}
	}

	if err := k.reload(ctx); err != nil {
		return err
	}
	k.mu.Lock()
	view := newKeyView(k.stored, k.now(), k.schedule.Retention)
	k.mu.Unlock()
	for kid, state := range view.stateChanges() {
		if err := k.store.SetSigningKeyState(ctx, kid, state); err != nil {
			return err
		}
		k.logger.InfoContext(ctx, "signing key state changed", "kid", kid, "state", state)
	}
	return nil
}

// keyView is the key set at one moment, derived from the stored keys.
type keyView struct {
	// signing is the newest key whose not_before has passed.
	signing *SealedSigningKey
	// pending are keys whose not_before is still ahead, newest first.
	pending []SealedSigningKey
	// published are the keys of the JWKS: pending keys, the signing key,
	// and older keys until Retention after a newer key replaced them.
	published []SealedSigningKey
	// retired are stored keys that are no longer published.
	retired []SealedSigningKey
	stored  []SealedSigningKey
}

// newKeyView derives the view at now from keys sorted newest not_before
// first. A key replaced by a newer one at time T may have signed tokens
// until T, so it stays published until T + retention.
func newKeyView(keys []SealedSigningKey, now time.Time, retention time.Duration) keyView {
	view := keyView{stored: keys}
	var replacedAt time.Time
	for i := range keys {
		key := keys[i]
		switch {
		case key.State == KeyStateRetired:
			view.retired = append(view.retired, key)
		case key.NotBefore.After(now):
			view.pending = append(view.pending, key)
			view.published = append(view.published, key)
		case view.signing == nil:
			view.signing = &keys[i]
			view.published = append(view.published, key)
		case now.Before(replacedAt.Add(retention)):
			view.published = append(view.published, key)
		default:
			view.retired = append(view.retired, key)
		}
		if key.State != KeyStateRetired && !key.NotBefore.After(now) {
			replacedAt = key.NotBefore
		}
	}
	return view
}

func (v keyView) newestCreateTime() time.Time {
	var newest time.Time
	for _, key := range v.stored {
		if key.CreateTime.After(newest) {
			newest = key.CreateTime
		}
	}
	return newest
}

// stateChanges returns the stored keys whose state differs from the view.
func (v keyView) stateChanges() map[string]string {
	changes := map[string]string{}
	for _, key := range v.published {
		if key.State == KeyStatePending && (v.signing != nil && key.KeyID == v.signing.KeyID || !containsKey(v.pending, key.KeyID)) {
			changes[key.KeyID] = KeyStateActive
		}
	}
	for _, key := range v.retired {
		if key.State != KeyStateRetired {
			changes[key.KeyID] = KeyStateRetired
		}
	}
	return changes
}

func containsKey(keys []SealedSigningKey, kid string) bool {
	for _, key := range keys {
		if key.KeyID == kid {
			return true
		}
	}
	return false
}

// newSealedSigningKey generates a key that signs from now + delay.
func newSealedSigningKey(keyring *Keyring, now time.Time, delay time.Duration) (SealedSigningKey, error) {
	public, private, err := ed25519.GenerateKey(nil)
	if err != nil {
		return SealedSigningKey{}, err
	}
	kid := Thumbprint(public)
	state := KeyStateActive
	if delay > 0 {
		state = KeyStatePending
	}
	return SealedSigningKey{
		KeyID:            kid,
		PublicKey:        public,
		SealedPrivateKey: keyring.Seal(private.Seed(), kid),
		State:            state,
		CreateTime:       now.UTC(),
		NotBefore:        now.Add(delay).UTC(),
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
