package auth

import (
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
)

// JWK is one public key of a JSON Web Key Set (RFC 7517) in the Ed25519
// OKP form of RFC 8037.
type JWK struct {
	KeyType   string `json:"kty"`
	Curve     string `json:"crv"`
	X         string `json:"x"`
	KeyID     string `json:"kid"`
	Algorithm string `json:"alg"`
	Use       string `json:"use"`
}

// JWKS is a JSON Web Key Set.
type JWKS struct {
	Keys []JWK `json:"keys"`
}

// NewEd25519JWK returns the JWK for an Ed25519 public signing key.
func NewEd25519JWK(kid string, key ed25519.PublicKey) JWK {
	return JWK{
		KeyType:   "OKP",
		Curve:     "Ed25519",
		X:         base64.RawURLEncoding.EncodeToString(key),
		KeyID:     kid,
		Algorithm: "EdDSA",
		Use:       "sig",
	}
}

// Ed25519 returns the key as an Ed25519 public key. Keys of any other type
// are rejected because EdDSA is the only algorithm the platform accepts.
func (k JWK) Ed25519() (ed25519.PublicKey, error) {
	if k.KeyType != "OKP" || k.Curve != "Ed25519" {
		return nil, fmt.Errorf("JWK %q has kty %q crv %q; only OKP Ed25519 keys are accepted", k.KeyID, k.KeyType, k.Curve)
	}
	raw, err := base64.RawURLEncoding.DecodeString(k.X)
	if err != nil || len(raw) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("JWK %q has an invalid x value", k.KeyID)
	}
	return ed25519.PublicKey(raw), nil
}
