package domain

import (
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// MaxPublicKeyLength bounds the text of a public key in a request.
const MaxPublicKeyLength = 4096

// ParseClientPublicKey returns the Ed25519 public key given as a JWK, or as
// an OpenSSH authorized_keys line or PEM block. Both empty means the client
// uses a secret and returns nil.
func ParseClientPublicKey(jwk, text string) (ed25519.PublicKey, error) {
	jwk, text = strings.TrimSpace(jwk), strings.TrimSpace(text)
	switch {
	case jwk == "" && text == "":
		return nil, nil
	case jwk != "" && text != "":
		return nil, errors.New("both public_key_jwk and public_key are set: send the client's key once")
	case len(jwk) > MaxPublicKeyLength || len(text) > MaxPublicKeyLength:
		return nil, fmt.Errorf("the public key is longer than %d bytes: send one Ed25519 public key", MaxPublicKeyLength)
	case jwk != "":
		return parseJWK(jwk)
	case strings.HasPrefix(text, "-----BEGIN"):
		return parsePEM(text)
	default:
		return parseAuthorizedKey(text)
	}
}

func parseJWK(text string) (ed25519.PublicKey, error) {
	var jwk struct {
		KeyType string `json:"kty"`
		Curve   string `json:"crv"`
		X       string `json:"x"`
		D       string `json:"d"`
	}
	if err := json.Unmarshal([]byte(text), &jwk); err != nil {
		return nil, errors.New("invalid public_key_jwk: it is not a JSON object; send a JWK such as {\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"...\"}")
	}
	if jwk.D != "" {
		return nil, errors.New("invalid public_key_jwk: it contains the private key (d); send only the public members kty, crv and x")
	}
	if jwk.KeyType != "OKP" || jwk.Curve != "Ed25519" {
		return nil, fmt.Errorf("invalid public_key_jwk: kty %q crv %q; only OKP Ed25519 keys are accepted", jwk.KeyType, jwk.Curve)
	}
	raw, err := base64.RawURLEncoding.DecodeString(jwk.X)
	if err != nil || len(raw) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("invalid public_key_jwk: x is not the base64url of %d bytes", ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(raw), nil
}

func parsePEM(text string) (ed25519.PublicKey, error) {
	block, rest := pem.Decode([]byte(text))
	if block == nil || block.Type != "PUBLIC KEY" || len(bytes.TrimSpace(rest)) > 0 {
		return nil, errors.New("invalid public_key: want one PEM block of type PUBLIC KEY")
	}
	key, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, errors.New("invalid public_key: the PEM block is not a PKIX public key")
	}
	public, ok := key.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("invalid public_key: the key is %T; only Ed25519 keys are accepted", key)
	}
	return public, nil
}

// parseAuthorizedKey reads "ssh-ed25519 <base64> [comment]". The base64
// contains the SSH wire form: the string "ssh-ed25519" and the 32-byte key,
// each after its 4-byte big-endian length.
func parseAuthorizedKey(text string) (ed25519.PublicKey, error) {
	const keyType = "ssh-ed25519"
	fields := strings.Fields(text)
	if len(fields) < 2 || fields[0] != keyType {
		return nil, errors.New("invalid public_key: want an ssh-ed25519 authorized_keys line or a PEM PUBLIC KEY block")
	}
	blob, err := base64.StdEncoding.DecodeString(fields[1])
	if err != nil {
		return nil, errors.New("invalid public_key: the key of the authorized_keys line is not base64")
	}
	name, blob, ok := readSSHString(blob)
	if !ok || string(name) != keyType {
		return nil, errors.New("invalid public_key: the authorized_keys line does not hold an ssh-ed25519 key")
	}
	key, rest, ok := readSSHString(blob)
	if !ok || len(rest) != 0 || len(key) != ed25519.PublicKeySize {
		return nil, errors.New("invalid public_key: the ssh-ed25519 key is not 32 bytes")
	}
	return ed25519.PublicKey(key), nil
}

func readSSHString(b []byte) (value, rest []byte, ok bool) {
	if len(b) < 4 {
		return nil, nil, false
	}
	n := binary.BigEndian.Uint32(b)
	if uint64(n) > uint64(len(b)-4) {
		return nil, nil, false
	}
	return b[4 : 4+n], b[4+n:], true
}
