package builtinca

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
)

// MasterKeySize is the size of the AES-256 key that seals the CA key.
const MasterKeySize = 32

// ErrWrongMasterKey is returned when the stored CA key does not open with
// the configured master key.
var ErrWrongMasterKey = errors.New("the built-in CA key does not decrypt with the configured master key: start with the master key the CA was created with")

// sealer encrypts the CA's private key seed with AES-256-GCM. The
// additional data binds a ciphertext to its row, so a sealed key copied to
// another name or paired with another public key does not open.
type sealer struct {
	aead cipher.AEAD
}

func newSealer(masterKey []byte) (*sealer, error) {
	if len(masterKey) != MasterKeySize {
		return nil, fmt.Errorf("master key has %d bytes, want %d", len(masterKey), MasterKeySize)
	}
	block, err := aes.NewCipher(masterKey)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead}, nil
}

func (s *sealer) seal(plaintext []byte, name, publicKey string) (nonce, ciphertext []byte) {
	nonce = make([]byte, s.aead.NonceSize())
	rand.Read(nonce)
	return nonce, s.aead.Seal(nil, nonce, plaintext, additionalData(name, publicKey))
}

func (s *sealer) open(nonce, ciphertext []byte, name, publicKey string) ([]byte, error) {
	if len(nonce) != s.aead.NonceSize() {
		return nil, fmt.Errorf("sealed CA key %q has a %d-byte nonce, want %d", name, len(nonce), s.aead.NonceSize())
	}
	plaintext, err := s.aead.Open(nil, nonce, ciphertext, additionalData(name, publicKey))
	if err != nil {
		return nil, ErrWrongMasterKey
	}
	return plaintext, nil
}

func additionalData(name, publicKey string) []byte {
	return []byte("dokkumcp secrets ca_keys\x00" + name + "\x00" + publicKey)
}
