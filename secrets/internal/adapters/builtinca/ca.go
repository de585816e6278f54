// Package builtinca is an SSH CA that runs inside Secrets, for development
// and tests without Vault. Its ed25519 key is generated on first start and
// stored in PostgreSQL, sealed under a master key. The private key exists in
// the clear only in this process's memory.
package builtinca

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"dokkumcp.dev/secrets/internal/app"
)

// Backend is the name the built-in CA reports.
const Backend = "builtin"

// KeyName names the CA key row. There is one CA key; rotation is not
// implemented.
const KeyName = "ssh-user-ca"

// backdate is how far before now a certificate becomes valid, to absorb
// clock skew between Secrets and the hosts.
const backdate = time.Minute

// SealedKey is a CA key as stored: the public key in the clear, the
// private key's ed25519 seed encrypted with AES-256-GCM.
type SealedKey struct {
	Name string
	// PublicKey is in authorized_keys form, without comment.
	PublicKey  string
	Nonce      []byte
	Ciphertext []byte
	CreateTime time.Time
}

// ErrNoKey is returned by KeyStore.LoadCAKey when no key has the name.
var ErrNoKey = errors.New("no CA key stored")

// KeyStore persists sealed CA keys.
type KeyStore interface {
	// LoadCAKey returns ErrNoKey when no key has the name.
	LoadCAKey(ctx context.Context, name string) (*SealedKey, error)
	// InsertCAKey stores key unless a key with its name exists, in which
	// case it does nothing, so that replicas starting together keep the
	// first key written.
	InsertCAKey(ctx context.Context, key *SealedKey) error
}

// CA is the built-in CA. It implements app.CA.
type CA struct {
	signer ssh.Signer
}

var _ app.CA = (*CA)(nil)

// Open loads the CA key from store and unseals it with masterKey, first
// generating and storing a key if there is none.
func Open(ctx context.Context, store KeyStore, masterKey []byte, logger *slog.Logger) (*CA, error) {
	sealer, err := newSealer(masterKey)
	if err != nil {
		return nil, err
	}

	sealed, err := store.LoadCAKey(ctx, KeyName)
	if errors.Is(err, ErrNoKey) {
		if err := createKey(ctx, store, sealer); err != nil {
			return nil, err
		}
		logger.InfoContext(ctx, "no built-in SSH CA key stored; generated one")
		sealed, err = store.LoadCAKey(ctx, KeyName)
	}
	if err != nil {
		return nil, fmt.Errorf("load built-in CA key: %w", err)
	}

	seed, err := sealer.open(sealed.Nonce, sealed.Ciphertext, sealed.Name, sealed.PublicKey)
	if err != nil {
		return nil, err
	}
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("built-in CA key %q has a %d-byte seed, want %d", sealed.Name, len(seed), ed25519.SeedSize)
	}
	signer, err := ssh.NewSignerFromKey(ed25519.NewKeyFromSeed(seed))
	if err != nil {
		return nil, err
	}
	if publicKeyText(signer.PublicKey()) != sealed.PublicKey {
		return nil, fmt.Errorf("built-in CA key %q does not match its stored public key: the row was altered; restore it from a backup", sealed.Name)
	}

	logger.WarnContext(ctx, "built-in SSH CA in use: it is for development and tests, not for production; configure --vault-addr",
		"fingerprint", ssh.FingerprintSHA256(signer.PublicKey()))
	return &CA{signer: signer}, nil
}

func createKey(ctx context.Context, store KeyStore, sealer *sealer) error {
	public, private, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return fmt.Errorf("generate built-in CA key: %w", err)
	}
	sshPublic, err := ssh.NewPublicKey(public)
	if err != nil {
		return err
	}

	text := publicKeyText(sshPublic)
	nonce, ciphertext := sealer.seal(private.Seed(), KeyName, text)
	key := &SealedKey{Name: KeyName, PublicKey: text, Nonce: nonce, Ciphertext: ciphertext, CreateTime: time.Now().UTC()}
	if err := store.InsertCAKey(ctx, key); err != nil {
		return fmt.Errorf("store built-in CA key: %w", err)
	}
	return nil
}

// Backend returns "builtin".
func (c *CA) Backend() string { return Backend }

// PublicKey returns the CA's public key.
func (c *CA) PublicKey(context.Context) (ssh.PublicKey, error) { return c.signer.PublicKey(), nil }

// SignUserKey signs a user certificate valid from a minute ago until ttl
// from now, with a random serial and no critical options or extensions.
func (c *CA) SignUserKey(_ context.Context, req app.SignRequest) (*ssh.Certificate, error) {
	var serial [8]byte
	if _, err := rand.Read(serial[:]); err != nil {
		return nil, err
	}
	now := time.Now()
	cert := &ssh.Certificate{
		Key:             req.Key,
		Serial:          binary.BigEndian.Uint64(serial[:]),
		CertType:        ssh.UserCert,
		KeyId:           req.KeyID,
		ValidPrincipals: []string{req.Principal},
		ValidAfter:      uint64(now.Add(-backdate).Unix()),
		ValidBefore:     uint64(now.Add(req.TTL).Unix()),
	}
	if err := cert.SignCert(rand.Reader, c.signer); err != nil {
		return nil, fmt.Errorf("sign certificate %q: %w", req.KeyID, err)
	}
	return cert, nil
}

func publicKeyText(key ssh.PublicKey) string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key)))
}
