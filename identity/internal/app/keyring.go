package app

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
)

// MasterKeySize is the length of the master key in bytes.
const MasterKeySize = 32

// HKDF labels keep the two keys derived from the master key apart, so a
// sealed signing key and a client secret hash never share a key.
const (
	sealKeyInfo       = "dokkumcp identity signing-key seal v1"
	secretHashKeyInfo = "dokkumcp identity client-secret hmac v1"
)

// Keyring holds the keys derived from the master key: one seals signing keys
// at rest with AES-256-GCM, the other keys the HMAC-SHA256 of client secrets.
type Keyring struct {
	seal       cipher.AEAD
	hashSecret []byte
}

// NewKeyring derives the keyring from a 32-byte master key.
func NewKeyring(masterKey []byte) (*Keyring, error) {
	if len(masterKey) != MasterKeySize {
		return nil, fmt.Errorf("master key is %d bytes, want %d", len(masterKey), MasterKeySize)
	}
	sealKey, err := hkdf.Key(sha256.New, masterKey, nil, sealKeyInfo, 32)
	if err != nil {
		return nil, err
	}
	hashKey, err := hkdf.Key(sha256.New, masterKey, nil, secretHashKeyInfo, 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(sealKey)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Keyring{seal: aead, hashSecret: hashKey}, nil
}

// Seal encrypts plaintext and binds it to label (the key id), so a sealed
// value copied to another row does not open. The result is nonce ‖
// ciphertext ‖ tag.
func (k *Keyring) Seal(plaintext []byte, label string) []byte {
	nonce := make([]byte, k.seal.NonceSize(), k.seal.NonceSize()+len(plaintext)+k.seal.Overhead())
	rand.Read(nonce)
	return k.seal.Seal(nonce, nonce, plaintext, []byte(label))
}

// Open decrypts a value made by Seal with the same label.
func (k *Keyring) Open(sealed []byte, label string) ([]byte, error) {
	if len(sealed) < k.seal.NonceSize()+k.seal.Overhead() {
		return nil, errors.New("sealed value is too short")
	}
	nonce, ciphertext := sealed[:k.seal.NonceSize()], sealed[k.seal.NonceSize():]
	plaintext, err := k.seal.Open(nil, nonce, ciphertext, []byte(label))
	if err != nil {
		return nil, errors.New("sealed value does not open under this master key")
	}
	return plaintext, nil
}

// HashSecret returns the HMAC-SHA256 of a client secret. Secrets are 256-bit
// random values, so a keyed hash suffices where a password would need a slow
// one. The key stops a leaked table from confirming guesses offline.
func (k *Keyring) HashSecret(secret string) []byte {
	mac := hmac.New(sha256.New, k.hashSecret)
	mac.Write([]byte(secret))
	return mac.Sum(nil)
}

// SecretMatches compares secret with a stored hash in constant time.
func (k *Keyring) SecretMatches(secret string, hash []byte) bool {
	return subtle.ConstantTimeCompare(k.HashSecret(secret), hash) == 1
}

// NewClientSecret returns a 256-bit random secret, base64url without padding.
func NewClientSecret() string {
	return base64.RawURLEncoding.EncodeToString(randomBytes(32))
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}
