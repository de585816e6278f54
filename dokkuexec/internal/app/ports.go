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
	// CredentialMode is the platform's login method on the host as Tenancy
	// records it: CredentialModeCertificate, CredentialModeManagedKey, or
	// empty when Tenancy has none and Secrets chooses.
	CredentialMode string
}

// Credential modes of a host.
const (
	CredentialModeCertificate = "certificate"
	CredentialModeManagedKey  = "managed-key"
)

// HostResolver finds a tenant's host by name or id; an empty reference
// selects the tenant's only host. Tenancy implements it.
type HostResolver interface {
	GetHost(ctx context.Context, tenantID, host string) (Host, error)
}

// Credential is a short-lived SSH user certificate and its private key, or
// a managed-key host's current key. The key exists only in memory.
type Credential struct {
	// PrivateKey is the private key in OpenSSH PEM form.
	PrivateKey []byte
	// Certificate is the OpenSSH user certificate in authorized_keys form;
	// empty for a managed key, which logs in as a plain key.
	Certificate string
	// ExpireTime is when the certificate expires, or for a managed key
	// when it should be fetched again.
	ExpireTime time.Time
	// KeyVersion is the managed key's version; 0 for certificates.
	KeyVersion uint64
}

// CredentialIssuer issues a fresh SSH credential for one of a tenant's
// hosts in the given credential mode (empty lets the issuer choose).
// Secrets implements it.
type CredentialIssuer interface {
	IssueSSHCredential(ctx context.Context, tenantID, hostID, mode string) (Credential, error)
}

// Target is the host an Executor runs a command on, with its credential source.
type Target struct {
	TenantID string
	Host     Host
	// Credential returns the credential to log in with. An Executor calls
	// it only when it opens a new connection.
	Credential func(ctx context.Context) (Credential, error)
	// CredentialRejected, if set, is called when the host rejected a
	// credential that Credential returned, so that the next call fetches
	// a fresh one. A managed key that a rotation removed is rejected this
	// way. The Executor then dials once more.
	CredentialRejected func(rejected Credential)
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

// TenantLimits are the parts of a tenant's plan that DokkuExec enforces.
type TenantLimits struct {
	// Plan is the plan's name in lower case, for example "free".
	Plan string
	// Status is "active", "suspended" or "deleted".
	Status string
	// ReadOnly tenants may read their apps but not change them.
	ReadOnly bool
}

// Tenancy answers for a tenant's plan and counts its apps against the
// plan's app limit. Tenancy implements it.
type Tenancy interface {
	GetTenantLimits(ctx context.Context, tenantID string) (TenantLimits, error)
	// ReserveApp takes one app slot for app on the host hostID and returns
	// the reservation's id. It fails with KindResourceExhausted, naming
	// the limit, when the tenant has no slot left.
	ReserveApp(ctx context.Context, tenantID, hostID, app string) (string, error)
	CommitAppReservation(ctx context.Context, tenantID, reservationID string) error
	ReleaseAppReservation(ctx context.Context, tenantID, reservationID string) error
	// RecordAppRemoved frees the slot of a destroyed app; an app Tenancy
	// does not know is no error.
	RecordAppRemoved(ctx context.Context, tenantID, hostID, app string) error
}

// AuditEvent is one audited request, as DokkuExec sends it to the ledger.
type AuditEvent struct {
	TenantID string
	Time     time.Time
	Subject  string
	ClientID string
	Actor    string
	// Operation is the RPC's name, for example dokkuexec.CreateApp.
	Operation string
	// Target is "host/app", or the host alone.
	Target string
	// ArgumentsJSON holds the request's arguments without config values.
	ArgumentsJSON string
	// Result is "ok" or the error's code, for example permission_denied.
	Result    string
	LatencyMS int64
	TraceID   string
}

// AuditLog appends events to the tenant's audit ledger and returns once the
// event is stored. Tenancy implements it.
type AuditLog interface {
	AppendAuditEvent(ctx context.Context, event AuditEvent) error
}
