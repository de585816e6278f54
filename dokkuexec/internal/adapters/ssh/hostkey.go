package ssh

import (
	"bytes"
	"fmt"
	"net"

	"golang.org/x/crypto/ssh"

	"dokkumcp.dev/dokkuexec/internal/app"
)

// pinnedHostKey is a host's pinned SSH host key.
type pinnedHostKey struct {
	key ssh.PublicKey
}

// parsePinnedHostKey parses the authorized_keys form stored by Tenancy.
func parsePinnedHostKey(host app.Host) (pinnedHostKey, error) {
	key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(host.HostKey))
	if err != nil {
		return pinnedHostKey{}, app.Errorf(app.KindFailedPrecondition,
			"the pinned SSH host key of host %q is not a valid authorized_keys line; re-pin the host's key with RegisterHost", host.Name)
	}
	return pinnedHostKey{key: key}, nil
}

// algorithms returns the host key algorithms to offer, so that a host with
// several host keys presents the pinned one. RSA keys sign with SHA-2
// (RFC 8332) and fall back to SHA-1 only for old servers.
func (p pinnedHostKey) algorithms() []string {
	if p.key.Type() == ssh.KeyAlgoRSA {
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	}
	return []string{p.key.Type()}
}

// callback accepts only the pinned key and returns *app.HostKeyChangedError
// for any other.
func (p pinnedHostKey) callback(hostName string) ssh.HostKeyCallback {
	return func(_ string, _ net.Addr, presented ssh.PublicKey) error {
		if bytes.Equal(presented.Marshal(), p.key.Marshal()) {
			return nil
		}
		return &app.HostKeyChangedError{
			Host:     hostName,
			Expected: ssh.FingerprintSHA256(p.key),
			Received: ssh.FingerprintSHA256(presented),
		}
	}
}

// signer builds the signer of a credential: the certificate signer, or the
// plain key of a managed-key credential.
func signer(host app.Host, credential app.Credential) (ssh.Signer, error) {
	private, err := ssh.ParsePrivateKey(credential.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("parse SSH credential private key for host %s: %w", host.ID, err)
	}
	if credential.Certificate == "" {
		// A managed key logs in as itself.
		return private, nil
	}
	public, _, _, _, err := ssh.ParseAuthorizedKey([]byte(credential.Certificate))
	if err != nil {
		return nil, fmt.Errorf("parse SSH certificate for host %s: %w", host.ID, err)
	}
	cert, ok := public.(*ssh.Certificate)
	if !ok {
		return nil, fmt.Errorf("SSH credential for host %s holds a %s key, not a certificate", host.ID, public.Type())
	}
	return ssh.NewCertSigner(cert, private)
}
