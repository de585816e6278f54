package emulator

import (
	"bufio"
	"strings"

	"golang.org/x/crypto/ssh"
)

// defaultAllowedKeys are the options sshcommand acl-add gives a key when
// SSHCOMMAND_ALLOWED_KEYS is unset, as it is under ssh-keys:add.
const defaultAllowedKeys = "no-agent-forwarding,no-user-rc,no-X11-forwarding,no-port-forwarding"

// cmdSSHKeysAdd follows ssh-keys:add (Dokku 0.38) and sshcommand acl-add
// (v0.20.2). The key comes from the first line of stdin, because sessions
// have no key files. A duplicate name or fingerprint fails. The line gets
// Dokku's forced command and the default options, and the fingerprint is
// printed.
func cmdSSHKeysAdd(s *session, args []string) int {
	name := argAt(args, 0)
	if argAt(args, 1) != "" {
		// NOTE: a key file on the host cannot exist in the emulator.
		return s.fail("Key specified in is not a valid ssh public key")
	}
	reader := bufio.NewReader(s.stdin)
	line, _ := reader.ReadString('\n')
	line = strings.TrimRight(line, "\n")
	if line == "" {
		return s.fail("Empty key was specified")
	}
	key, _, options, _, err := ssh.ParseAuthorizedKey([]byte(line))
	if err != nil {
		return s.fail("Key specified in is not a valid ssh public key")
	}
	if name == "" {
		s.stderrLine("Usage: sshcommand acl-add USER NAME [KEY_FILE]")
		return s.fail("sshcommand returned an error: 1")
	}

	s.e.mu.Lock()
	defer s.e.mu.Unlock()
	fingerprint := ssh.FingerprintSHA256(key)
	for _, existing := range s.e.authorizedKeys {
		if strings.Contains(existing, `NAME=\"`+name+`\"`) {
			s.stderrLine("Duplicate ssh key name")
			return s.fail("sshcommand returned an error: 1")
		}
	}
	for _, existing := range s.e.authorizedKeys {
		if strings.Contains(existing, fingerprint) {
			s.stderrLine("Duplicate ssh public key specified")
			return s.fail("sshcommand returned an error: 1")
		}
	}
	if len(options) > 0 {
		// sshcommand computes the fingerprint of the line behind a dummy
		// command option, which fails for a line that has options.
		s.stderrLine("Invalid ssh public key")
		return s.fail("sshcommand returned an error: 1")
	}

	keyText := strings.TrimSpace(line)
	s.e.authorizedKeys = append(s.e.authorizedKeys,
		`command="FINGERPRINT=`+fingerprint+` NAME=\"`+name+`\" `+"`cat /home/dokku/.sshcommand`"+` $SSH_ORIGINAL_COMMAND",`+defaultAllowedKeys+` `+keyText)
	s.e.notifyKeysChanged()
	s.stdoutLine(fingerprint)
	return 0
}

// cmdSSHKeysRemove follows ssh-keys:remove <name>: sshcommand acl-remove
// deletes every line with that name, and removing a name that is not
// there succeeds.
func cmdSSHKeysRemove(s *session, args []string) int {
	name := argAt(args, 0)
	if name == "" || name == "--fingerprint" {
		return s.fail("A name is required to remove a key, ie: dokku ssh-keys:remove <name>")
	}
	if len(s.e.authorizedKeys) == 0 {
		return s.fail("No public keys found.")
	}
	var remaining []string
	for _, line := range s.e.authorizedKeys {
		if !strings.Contains(line, ` NAME=\"`+name+`\" `) {
			remaining = append(remaining, line)
		}
	}
	s.e.authorizedKeys = remaining
	s.e.notifyKeysChanged()
	return 0
}

// notifyKeysChanged passes the authorized_keys content to the registered
// listener. The caller holds e.mu; the listener must not call back.
func (e *Emulator) notifyKeysChanged() {
	if e.keysChanged == nil {
		return
	}
	content := strings.Join(e.authorizedKeys, "\n")
	if content != "" {
		content += "\n"
	}
	e.keysChanged([]byte(content))
}
