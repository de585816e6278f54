package domain

import (
	"net"
	"regexp"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// CredentialMode is the method the platform authenticates to a host with
// over SSH. Its string form is the value the database stores.
type CredentialMode string

const (
	// CredentialCertificate: short-lived OpenSSH user certificates signed by
	// the platform's SSH CA.
	CredentialCertificate CredentialMode = "certificate"
	// CredentialManagedKey: a per-host key pair kept in Vault.
	CredentialManagedKey CredentialMode = "managed-key"
)

// DefaultSSHPort and DefaultSSHUser apply when a registration leaves them
// empty. Dokku's SSH entry point is the dokku user.
const (
	DefaultSSHPort = 22
	DefaultSSHUser = "dokku"
)

// Host is a tenant's Dokku host with its pinned SSH host key.
type Host struct {
	ID       string
	TenantID string
	// Name is unique within the tenant, for example "prod".
	Name    string
	Address string
	Port    int
	SSHUser string
	// HostKey is the pinned host public key in authorized_keys form,
	// without options or comment.
	HostKey            string
	HostKeyFingerprint string
	CredentialMode     CredentialMode
	CreateTime         time.Time
	// DokkuVersion and Plugins are what the last recorded verification
	// found on the host; VerifyTime is when it was recorded, zero before.
	DokkuVersion string
	Plugins      []string
	VerifyTime   time.Time
}

// Verification is the Dokku version and plugin names that a successful
// host verification found.
type Verification struct {
	DokkuVersion string
	Plugins      []string
}

var (
	// dokkuVersionPattern accepts version strings such as 0.38.27 or
	// 0.35.0-rc1, with an optional package epoch such as 1:.
	dokkuVersionPattern = regexp.MustCompile(`^[0-9A-Za-z][0-9A-Za-z.+~:-]{0,63}$`)
	// pluginNamePattern accepts Dokku plugin names such as postgres or
	// letsencrypt.
	pluginNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
)

// maxPlugins bounds the plugin list a verification may record.
const maxPlugins = 256

// ValidateVerification checks a verification's version and plugin names.
func ValidateVerification(v Verification) error {
	if !dokkuVersionPattern.MatchString(v.DokkuVersion) {
		return invalid("dokku_version %q is invalid: give the version GetHostInfo reports, for example 0.38.27", v.DokkuVersion)
	}
	if len(v.Plugins) > maxPlugins {
		return invalid("plugins lists %d names: record at most %d", len(v.Plugins), maxPlugins)
	}
	for _, name := range v.Plugins {
		if !pluginNamePattern.MatchString(name) {
			return invalid("plugin name %q is invalid: give the plugin names GetHostInfo reports, for example postgres", name)
		}
	}
	return nil
}

// HostRegistration is the input of NewHost; zero values select defaults.
type HostRegistration struct {
	TenantID       string
	Name           string
	Address        string
	Port           uint32
	SSHUser        string
	HostKey        string
	CredentialMode CredentialMode
}

var (
	hostNamePattern = regexp.MustCompile(`^[a-z][a-z0-9-]{0,30}$`)
	// sshUserPattern is the portable POSIX user name set, as useradd accepts it.
	sshUserPattern = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}$`)
	// dnsLabelPattern is one RFC 1123 host name label.
	dnsLabelPattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
)

// NewHost validates a registration and returns a host with a fresh id, the
// defaults filled in and the host key normalized and fingerprinted.
func NewHost(r HostRegistration, now time.Time) (*Host, error) {
	if err := ValidateTenantID(r.TenantID); err != nil {
		return nil, err
	}
	if err := ValidateHostName(r.Name); err != nil {
		return nil, err
	}
	address, err := normalizeAddress(r.Address)
	if err != nil {
		return nil, err
	}

	port := int(r.Port)
	if port == 0 {
		port = DefaultSSHPort
	}
	if port > 65535 {
		return nil, invalid("port %d is invalid: use 1 to 65535, or leave it empty for 22", r.Port)
	}

	user := r.SSHUser
	if user == "" {
		user = DefaultSSHUser
	}
	if !sshUserPattern.MatchString(user) {
		return nil, invalid("ssh_user %q is invalid: use a POSIX user name such as dokku, or leave it empty for dokku", r.SSHUser)
	}

	hostKey, fingerprint, err := parseHostKey(r.HostKey)
	if err != nil {
		return nil, err
	}

	mode := r.CredentialMode
	if mode == "" {
		mode = CredentialCertificate
	}
	if mode != CredentialCertificate && mode != CredentialManagedKey {
		return nil, invalid("credential_mode %q is invalid: use certificate or managed-key", mode)
	}

	return &Host{
		ID:                 NewHostID(),
		TenantID:           r.TenantID,
		Name:               r.Name,
		Address:            address,
		Port:               port,
		SSHUser:            user,
		HostKey:            hostKey,
		HostKeyFingerprint: fingerprint,
		CredentialMode:     mode,
		CreateTime:         now.UTC(),
	}, nil
}

// ValidateHostName checks a host name. Names that look like host ids are
// rejected so that GetHost can take either without ambiguity.
func ValidateHostName(name string) error {
	if !hostNamePattern.MatchString(name) {
		return invalid("host name %q is invalid: use 1 to 31 characters a-z, 0-9 and -, starting with a letter, for example prod", name)
	}
	if IsHostID(name) {
		return invalid("host name %q has the form of a host id: choose a name that is not h- followed by 10 characters", name)
	}
	return nil
}

// normalizeAddress accepts an IP address or an RFC 1123 host name without
// scheme, port or path, and returns it in canonical form: IPs as net.IP
// prints them, names in lower case.
func normalizeAddress(address string) (string, error) {
	const hint = "give a host name or IP address without scheme, port or path, for example dokku.example.com or 203.0.113.10"
	if address == "" {
		return "", invalid("address is missing: %s", hint)
	}
	if ip := net.ParseIP(address); ip != nil {
		return ip.String(), nil
	}

	name := strings.ToLower(strings.TrimSuffix(address, "."))
	if len(name) > 253 {
		return "", invalid("address %q is invalid: host names have at most 253 characters", address)
	}
	for _, label := range strings.Split(name, ".") {
		if !dnsLabelPattern.MatchString(label) {
			return "", invalid("address %q is invalid: %s", address, hint)
		}
	}
	return name, nil
}

// parseHostKey parses one public key in authorized_keys or known_hosts key
// form and returns it without options or comment, with its SHA256
// fingerprint.
func parseHostKey(text string) (string, string, error) {
	const hint = "paste one line of the host's /etc/ssh/ssh_host_ed25519_key.pub, for example ssh-ed25519 AAAA..."
	if strings.TrimSpace(text) == "" {
		return "", "", invalid("host_key is missing: %s", hint)
	}
	key, _, options, rest, err := ssh.ParseAuthorizedKey([]byte(text))
	if err != nil {
		return "", "", invalid("host_key is not an SSH public key: %s", hint)
	}
	if len(options) > 0 {
		return "", "", invalid("host_key carries authorized_keys options: %s", hint)
	}
	if len(strings.TrimSpace(string(rest))) > 0 {
		return "", "", invalid("host_key holds more than one key: %s", hint)
	}
	if _, isCert := key.(*ssh.Certificate); isCert {
		return "", "", invalid("host_key is a certificate: pin the host's plain public key instead; %s", hint)
	}
	normalized := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key)))
	return normalized, ssh.FingerprintSHA256(key), nil
}
