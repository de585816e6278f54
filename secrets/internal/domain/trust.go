package domain

import (
	"fmt"
	"strings"

	"golang.org/x/crypto/ssh"
)

// AllowedKeyOptions are the authorized_keys options of a CA trust line for
// principal: sshcommand's defaults (no agent, user rc, X11 or port
// forwarding) plus cert-authority, so the line admits certificates signed
// by the key, and principals, so it admits only this host's certificates.
func AllowedKeyOptions(principal string) string {
	return fmt.Sprintf(`no-agent-forwarding,no-user-rc,no-X11-forwarding,no-port-forwarding,cert-authority,principals="%s"`, principal)
}

// TrustName is the key name the trust line is filed under in sshcommand,
// which `sshcommand acl-remove dokku <name>` takes to remove it.
func TrustName(principal string) string {
	return "dokkumcp-" + principal
}

// Trust is the material a Dokku host needs to accept the platform's certificates
// for one principal.
type Trust struct {
	Principal string
	// CAPublicKey is the CA key in authorized_keys form, without comment;
	// empty in managed-key mode.
	CAPublicKey string
	// ManagedPublicKey and KeyName are the managed key in authorized_keys
	// form and its name in Dokku's ssh-keys; empty in certificate mode.
	ManagedPublicKey string
	KeyName          string
	// AuthorizedKeysLine is the line for /home/dokku/.ssh/authorized_keys.
	AuthorizedKeysLine string
	// InstallCommand is a one-line root shell command that appends the line
	// through sshcommand, or through dokku ssh-keys:add for a managed key.
	InstallCommand string
}

// NewTrust builds the trust material for target and the CA key.
//
// The line is byte for byte what `sshcommand acl-add dokku <name>` appends
// (sshcommand's sshcommand-acl-add, dokku/sshcommand master) when
// SSHCOMMAND_ALLOWED_KEYS holds AllowedKeyOptions:
//
//	command="FINGERPRINT=<fp> NAME=\"<name>\" `cat /home/dokku/.sshcommand` $SSH_ORIGINAL_COMMAND",<options> <key>
//
// where <fp> is the key's SHA256 fingerprint as ssh-keygen -l prints it.
// The forced command is Dokku's own entry point, so a certificate login
// runs the same dokku command a key login does.
func NewTrust(target Target, caKey ssh.PublicKey) Trust {
	principal := target.Principal()
	name := TrustName(principal)
	options := AllowedKeyOptions(principal)
	key := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(caKey)))

	line := fmt.Sprintf(`command="FINGERPRINT=%s NAME=\"%s\" `+"`cat /home/dokku/.sshcommand`"+` $SSH_ORIGINAL_COMMAND",%s %s`,
		ssh.FingerprintSHA256(caKey), name, options, key)

	// sshcommand reads the key from stdin and the options from the
	// environment; each value is single-quoted for the root shell.
	command := fmt.Sprintf("echo %s | SSHCOMMAND_ALLOWED_KEYS=%s sshcommand acl-add dokku %s",
		shellQuote(key), shellQuote(options), shellQuote(name))

	return Trust{Principal: principal, CAPublicKey: key, AuthorizedKeysLine: line, InstallCommand: command}
}

// shellQuote quotes s as one POSIX shell word.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
