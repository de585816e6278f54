package sshd

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// authorizedKey is one parsed line of the dokku user's authorized_keys file.
type authorizedKey struct {
	key ssh.PublicKey
	// certAuthority marks a cert-authority line, which admits certificates
	// signed by key rather than key itself.
	certAuthority bool
	// principals is the principals="..." option of a cert-authority line.
	principals []string
	// name and fingerprint come from the NAME= and FINGERPRINT= variables
	// in the line's forced command.
	name        string
	fingerprint string
}

var (
	commandNamePattern        = regexp.MustCompile(`NAME=(?:"([^"]*)"|(\S*))`)
	commandFingerprintPattern = regexp.MustCompile(`FINGERPRINT=(\S*)`)
)

// parseAuthorizedKeys parses authorized_keys content in OpenSSH format.
// Blank lines and lines starting with # are skipped.
func parseAuthorizedKeys(content []byte) ([]authorizedKey, error) {
	var keys []authorizedKey
	for i, line := range bytes.Split(content, []byte("\n")) {
		trimmed := bytes.TrimSpace(line)
		if len(trimmed) == 0 || trimmed[0] == '#' {
			continue
		}
		key, err := parseAuthorizedKeyLine(trimmed)
		if err != nil {
			return nil, fmt.Errorf("parse authorized_keys line %d: %w; fix or remove the line", i+1, err)
		}
		keys = append(keys, key)
	}
	return keys, nil
}

func parseAuthorizedKeyLine(line []byte) (authorizedKey, error) {
	publicKey, _, options, _, err := ssh.ParseAuthorizedKey(line)
	if err != nil {
		return authorizedKey{}, err
	}

	key := authorizedKey{key: publicKey}
	for _, option := range options {
		name, value, hasValue := strings.Cut(option, "=")
		switch strings.ToLower(name) {
		case "cert-authority":
			key.certAuthority = true
		case "principals":
			if hasValue {
				key.principals = strings.Split(unquoteOption(value), ",")
			}
		case "command":
			command := unquoteOption(value)
			if m := commandNamePattern.FindStringSubmatch(command); m != nil {
				key.name = m[1] + m[2]
			}
			if m := commandFingerprintPattern.FindStringSubmatch(command); m != nil {
				key.fingerprint = m[1]
			}
		}
	}
	if key.fingerprint == "" {
		key.fingerprint = ssh.FingerprintSHA256(publicKey)
	}
	return key, nil
}

// unquoteOption removes the double quotes around an authorized_keys option
// value and the backslashes that escape quotes inside it.
func unquoteOption(value string) string {
	if len(value) >= 2 && value[0] == '"' && value[len(value)-1] == '"' {
		value = value[1 : len(value)-1]
	}
	return strings.ReplaceAll(value, `\"`, `"`)
}

// matchKey returns the authorized key line that admits presented for user
// dokku, following OpenSSH. A plain key must be listed on a line without
// cert-authority. A certificate must be a valid user certificate without
// critical options, signed by the key of a cert-authority line, and issued
// for one of that line's principals.
func matchKey(keys []authorizedKey, presented ssh.PublicKey, now func() time.Time) (authorizedKey, error) {
	cert, isCert := presented.(*ssh.Certificate)
	if !isCert {
		for _, k := range keys {
			if !k.certAuthority && bytes.Equal(k.key.Marshal(), presented.Marshal()) {
				return k, nil
			}
		}
		return authorizedKey{}, fmt.Errorf("key %s is not listed in authorized_keys", ssh.FingerprintSHA256(presented))
	}

	if cert.CertType != ssh.UserCert {
		return authorizedKey{}, fmt.Errorf("certificate %q is a host certificate; present a user certificate", cert.KeyId)
	}
	var lastErr error = fmt.Errorf("certificate %q is not signed by a cert-authority key in authorized_keys", cert.KeyId)
	for _, k := range keys {
		if !k.certAuthority || !bytes.Equal(k.key.Marshal(), cert.SignatureKey.Marshal()) {
			continue
		}
		checker := ssh.CertChecker{
			IsUserAuthority: func(auth ssh.PublicKey) bool {
				return bytes.Equal(auth.Marshal(), k.key.Marshal())
			},
			Clock: now,
		}
		// OpenSSH requires the user name itself as a principal when the
		// line has no principals= option.
		principals := k.principals
		if len(principals) == 0 {
			principals = []string{"dokku"}
		}
		for _, principal := range principals {
			// CheckCert rejects every critical option, because
			// SupportedCriticalOptions is empty, as OpenSSH rejects a
			// certificate's force-command under a forced command line.
			if err := checker.CheckCert(principal, cert); err != nil {
				lastErr = fmt.Errorf("certificate %q rejected: %w", cert.KeyId, err)
				continue
			}
			return k, nil
		}
	}
	return authorizedKey{}, lastErr
}
