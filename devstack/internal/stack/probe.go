package stack

import (
	"errors"
	"fmt"
	"net"
	"time"

	"golang.org/x/crypto/ssh"
)

var errKeyCaptured = errors.New("host key captured")

// ProbeHostKey connects to an SSH server only far enough to read its host
// key, like ssh-keyscan. The caller must show the fingerprint to the user,
// who confirms it out of band before the key is pinned.
func ProbeHostKey(addr string) (ssh.PublicKey, error) {
	var captured ssh.PublicKey
	cfg := &ssh.ClientConfig{
		User: "dokku",
		HostKeyCallback: func(_ string, _ net.Addr, key ssh.PublicKey) error {
			captured = key
			return errKeyCaptured
		},
		HostKeyAlgorithms: []string{ssh.KeyAlgoED25519, ssh.KeyAlgoECDSA256, ssh.KeyAlgoRSASHA256},
		Timeout:           10 * time.Second,
	}
	conn, err := ssh.Dial("tcp", addr, cfg)
	if conn != nil {
		conn.Close()
	}
	if captured == nil {
		return nil, fmt.Errorf("read the SSH host key of %s: %w", addr, err)
	}
	return captured, nil
}
