package app

import (
	"context"
	"time"

	"dokkumcp.dev/dokkuexec/internal/domain"
)

// Host is a tenant's Dokku host as Tenancy registers it.
type Host struct {
	ID       string
	TenantID string
	Name     string
	Address  string
	Port     uint32
	SSHUser  string
	// HostKey is the pinned SSH host public key in authorized_keys form.
	HostKey string
}

// HostResolver finds a tenant's host by name or id; an empty reference
// selects the tenant's only host. Tenancy implements it.
type HostResolver interface {
	GetHost(ctx context.Context, tenantID, host string) (Host, error)
}

// Credential is a short-lived SSH user certificate and its private key. The
// key exists only in memory.
type Credential struct {
	// PrivateKey is the private key in OpenSSH PEM form.
	PrivateKey []byte
	// Certificate is the OpenSSH user certificate in authorized_keys form.
	Certificate string
	ExpireTime  time.Time
}

// CredentialIssuer issues a fresh SSH credential for one of a tenant's
// hosts. Secrets implements it.
type CredentialIssuer interface {
	IssueSSHCredential(ctx context.Context, tenantID, hostID string) (Credential, error)
}

// Target is the host an Executor runs a command on, with its credential source.
type Target struct {
	TenantID string
	Host     Host
	// Credential returns the credential to log in with. An Executor calls
	// it only when it opens a new connection.
	Credential func(ctx context.Context) (Credential, error)
}

// Executor runs one Dokku command on a host and returns what Dokku printed
// and its exit status. A non-zero exit status is a Result, not an error.
// Errors are *HostKeyChangedError, *Error, or the context's error.
type Executor interface {
	Run(ctx context.Context, target Target, cmd domain.Command) (domain.Result, error)
}

// LineStreamer runs one Dokku command whose output is read as it arrives,
// such as `logs -t`. It hands each stdout line to onLine, has no command
// timeout, and ends when the command exits, when ctx ends, or when onLine
// returns an error. The SSH executor implements it.
type LineStreamer interface {
	Stream(ctx context.Context, target Target, cmd domain.Command, onLine func(line string) error) (domain.Result, error)
}
