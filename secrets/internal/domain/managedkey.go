package domain

import (
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/ssh"
)

// DefaultKeyOptions are the authorized_keys options sshcommand gives a key
// when SSHCOMMAND_ALLOWED_KEYS is unset, as `dokku ssh-keys:add` leaves it.
const DefaultKeyOptions = "no-agent-forwarding,no-user-rc,no-X11-forwarding,no-port-forwarding"

// ManagedKeyName is the name a managed key of the given version is filed
// under in Dokku's ssh-keys. Each version has its own name, because
// `ssh-keys:remove <name>` removes every line with that name, and during a
// rotation the old and the new key are both installed.
//
// The name contains "admin", which Dokku before 0.19 read as permission to
// run ssh-keys:add. Dokku 0.19 and later give the word no meaning, because
// ssh-keys:add and ssh-keys:remove run only as root, whatever the key's
// name (see docs/managed-keys.md).
func ManagedKeyName(target Target, version uint64) string {
	return "dokkumcp-admin-" + target.Principal() + "-v" + strconv.FormatUint(version, 10)
}

// NewManagedTrust builds the trust material for a host in managed-key mode:
// the line `dokku ssh-keys:add <name>` appends for the dokku user, and the
// root command that runs it with the key on stdin.
//
// ssh-keys:add reads one line from stdin when stdin is a pipe, checks it
// with ssh-keygen and hands it to `sshcommand acl-add dokku <name>`, which
// appends the forced-command line with DefaultKeyOptions.
func NewManagedTrust(target Target, name string, key ssh.PublicKey) Trust {
	authorized := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key)))
	line := fmt.Sprintf(`command="FINGERPRINT=%s NAME=\"%s\" `+"`cat /home/dokku/.sshcommand`"+` $SSH_ORIGINAL_COMMAND",%s %s`,
		ssh.FingerprintSHA256(key), name, DefaultKeyOptions, authorized)
	command := fmt.Sprintf("echo %s | dokku ssh-keys:add %s", shellQuote(authorized), shellQuote(name))
	return Trust{
		Principal:          target.Principal(),
		ManagedPublicKey:   authorized,
		KeyName:            name,
		AuthorizedKeysLine: line,
		InstallCommand:     command,
	}
}
