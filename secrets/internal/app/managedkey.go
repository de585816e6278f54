package app

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"dokkumcp.dev/platform/auth"
	"dokkumcp.dev/secrets/internal/domain"
)

// Credential modes, as Tenancy records them for a host.
const (
	// ModeAuto lets Secrets choose: managed-key for a host it holds a
	// managed key for, certificate otherwise.
	ModeAuto        = ""
	ModeCertificate = "certificate"
	ModeManagedKey  = "managed-key"
)

// ErrNoManagedKey is returned by ManagedKeyStore.Load for a host without a
// managed key.
var ErrNoManagedKey = errors.New("no managed key for the host")

// ErrManagedKeyConflict is returned by ManagedKeyStore.Save when the
// record changed since it was read: the check-and-set write lost.
var ErrManagedKeyConflict = errors.New("managed key record changed concurrently")

// ManagedKey is one version of a host's managed ed25519 key pair.
type ManagedKey struct {
	// Version counts the host's keys from 1.
	Version uint64 `json:"version"`
	// Name is the key's name in Dokku's ssh-keys.
	Name string `json:"name"`
	// PrivateKeyPEM is the private key in OpenSSH PEM form.
	PrivateKeyPEM []byte `json:"private_key"`
	// PublicKey is the public key in authorized_keys form.
	PublicKey  string    `json:"public_key"`
	CreateTime time.Time `json:"create_time"`
}

// HostAccess is the SSH address, port and pinned host key of a host, as
// Tenancy registers them, which the rotation logs in to. GetHostTrust
// stores them at onboarding.
type HostAccess struct {
	Address string `json:"address"`
	Port    uint32 `json:"port"`
	// HostKey is the pinned SSH host public key in authorized_keys form.
	HostKey string `json:"host_key"`
}

// ManagedKeyRecord is everything Secrets keeps for one managed-key host.
// The store writes it as a whole with check-and-set, so a reader never
// sees half of a change.
type ManagedKeyRecord struct {
	// Current is the key issued to DokkuExec.
	Current ManagedKey `json:"current"`
	// Host is the rotation's login target; nil for a record without one,
	// which is never rotated.
	Host *HostAccess `json:"host,omitempty"`
	// State is the rotation's step, RotationIdle between rotations.
	State string `json:"state,omitempty"`
	// Pending is the next key, from RotationPending to RotationVerified.
	Pending *ManagedKey `json:"pending,omitempty"`
	// Retired is the replaced key's name and public key, without its
	// private key, in RotationPromoted until it is removed from the host.
	Retired *RetiredKey `json:"retired,omitempty"`
	// RotateTime is when Current became current.
	RotateTime time.Time `json:"rotate_time"`
}

// RetiredKey is a replaced key that may still be on the host.
type RetiredKey struct {
	Version   uint64 `json:"version"`
	Name      string `json:"name"`
	PublicKey string `json:"public_key"`
}

// ManagedKeyStore keeps managed-key records, versioned. Vault's KV v2
// engine implements it.
type ManagedKeyStore interface {
	// Load returns the host's record and its store version, or
	// ErrNoManagedKey.
	Load(ctx context.Context, target domain.Target) (*ManagedKeyRecord, int, error)
	// Save writes record if the stored version is still version (0: only
	// if there is none yet) and returns the new version. It fails with
	// ErrManagedKeyConflict when another writer came first.
	Save(ctx context.Context, target domain.Target, record *ManagedKeyRecord, version int) (int, error)
	// Delete removes the host's record with every version; a host without
	// one is not an error.
	Delete(ctx context.Context, target domain.Target) error
}

// NoManagedKeys is the ManagedKeyStore of a Secrets without Vault: it
// holds no keys and rejects every write.
type NoManagedKeys struct{}

func (NoManagedKeys) Load(context.Context, domain.Target) (*ManagedKeyRecord, int, error) {
	return nil, 0, ErrNoManagedKey
}

func (NoManagedKeys) Save(context.Context, domain.Target, *ManagedKeyRecord, int) (int, error) {
	return 0, &CAConfigError{
		Message: "managed-key mode needs Vault: start Secrets with --vault-addr, or register the host in certificate mode",
		Err:     errors.New("no managed key store without Vault"),
	}
}

func (NoManagedKeys) Delete(context.Context, domain.Target) error { return nil }

// newManagedKey generates version of target's key pair in memory.
func newManagedKey(target domain.Target, version uint64, now time.Time) (ManagedKey, error) {
	public, private, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return ManagedKey{}, fmt.Errorf("generate ed25519 key: %w", err)
	}
	sshPublic, err := ssh.NewPublicKey(public)
	if err != nil {
		return ManagedKey{}, err
	}
	block, err := ssh.MarshalPrivateKey(private, "")
	if err != nil {
		return ManagedKey{}, fmt.Errorf("encode private key: %w", err)
	}
	return ManagedKey{
		Version:       version,
		Name:          domain.ManagedKeyName(target, version),
		PrivateKeyPEM: pem.EncodeToMemory(block),
		PublicKey:     string(trimNewline(ssh.MarshalAuthorizedKey(sshPublic))),
		CreateTime:    now.UTC(),
	}, nil
}

// ensureManagedKey returns the host's record, creating it with key version
// 1 when there is none. Of two concurrent creations only one write
// succeeds; the other reads the winner's key.
func (s *Service) ensureManagedKey(ctx context.Context, target domain.Target, access *HostAccess) (*ManagedKeyRecord, error) {
	record, version, err := s.keys.Load(ctx, target)
	if err == nil {
		if access == nil || (record.Host != nil && *record.Host == *access) {
			return record, nil
		}
		// The host moved or was onboarded without its address: keep the
		// rotation's view of it current. A lost race leaves the winner's.
		record.Host = access
		if _, err := s.keys.Save(ctx, target, record, version); err != nil && !errors.Is(err, ErrManagedKeyConflict) {
			return nil, err
		}
		return record, nil
	}
	if !errors.Is(err, ErrNoManagedKey) {
		return nil, err
	}

	key, err := newManagedKey(target, 1, s.now())
	if err != nil {
		return nil, err
	}
	record = &ManagedKeyRecord{Current: key, Host: access, RotateTime: key.CreateTime}
	_, err = s.keys.Save(ctx, target, record, 0)
	if errors.Is(err, ErrManagedKeyConflict) {
		record, _, err = s.keys.Load(ctx, target)
	}
	if err != nil {
		return nil, err
	}
	s.logger.InfoContext(ctx, "managed key created", "tenant_id", target.TenantID, "host_id", target.HostID, "key_version", record.Current.Version)
	return record, nil
}

// issueManagedKey returns the host's current managed key, or a
// FailedPrecondition-style error when the host was never onboarded.
func (s *Service) issueManagedKey(ctx context.Context, target domain.Target, record *ManagedKeyRecord) (*Credential, error) {
	key := record.Current
	credential := &Credential{
		PrivateKeyPEM: key.PrivateKeyPEM,
		KeyID:         key.Name,
		// The key has no expiry of its own; the caller fetches it again
		// after this time, so that it picks up a rotated key.
		ExpireTime: s.now().Add(s.ttl).UTC(),
		Backend:    "vault",
		Mode:       ModeManagedKey,
		KeyVersion: key.Version,
	}
	err := s.log.RecordIssuance(ctx, Issuance{
		TenantID: target.TenantID, HostID: target.HostID, KeyID: key.Name, Backend: credential.Backend,
		Mode: ModeManagedKey, KeyVersion: key.Version, ExpireTime: credential.ExpireTime,
	})
	if err != nil {
		return nil, fmt.Errorf("record issuance of managed key version %d: %w", key.Version, err)
	}
	return credential, nil
}

// managedKeyMissing explains a managed-key request for a host that has no
// key yet.
func managedKeyMissing(target domain.Target) error {
	return &PreconditionError{Message: fmt.Sprintf(
		"host %s of tenant %s has no managed key yet: onboard it with GetHostTrust in managed-key mode and run the install command as root on the host",
		target.HostID, target.TenantID)}
}

// PreconditionError is a request that the system's state does not allow
// yet. Message is safe to show and names the fix.
type PreconditionError struct {
	Message string
}

func (e *PreconditionError) Error() string { return e.Message }

// checkHostAccess validates the host address and key given at onboarding.
func checkHostAccess(access *HostAccess) error {
	switch {
	case access.Address == "" || strings.ContainsAny(access.Address, " \t\n/@"):
		return &domain.InvalidError{Message: fmt.Sprintf("address %q is invalid: give the host's address from Tenancy's GetHost, for example dokku.example.com or 203.0.113.7", access.Address)}
	case access.Port == 0 || access.Port > 65535:
		return &domain.InvalidError{Message: fmt.Sprintf("port %d is invalid: give the host's SSH port from Tenancy's GetHost, for example 22", access.Port)}
	}
	if _, _, _, _, err := ssh.ParseAuthorizedKey([]byte(access.HostKey)); err != nil {
		return &domain.InvalidError{Message: "host_key is invalid: give the host's pinned SSH host key in authorized_keys form, as Tenancy's GetHost returns it"}
	}
	return nil
}

// OperationForgetHost is the audit operation of ForgetHost.
const OperationForgetHost = "secrets.ForgetHost"

// ForgetHost deletes the managed key record of a host that was removed
// from Tenancy, which also ends its rotation, and returns the names of the
// keys that may still be on the host. A host without a managed key (or a
// Secrets whose Vault policy cannot read the KV mount) has nothing to
// delete. A deletion is recorded in the tenant's audit ledger.
func (s *Service) ForgetHost(ctx context.Context, tenantID, hostID string) (deleted bool, keyNames []string, err error) {
	start := time.Now()
	target, err := domain.NewTarget(tenantID, hostID)
	if err != nil {
		return false, nil, err
	}

	record, _, err := s.keys.Load(ctx, target)
	switch {
	case errors.Is(err, ErrNoManagedKey):
		return false, nil, nil
	case isConfigError(err):
		s.logger.WarnContext(ctx, "managed key lookup failed; nothing to forget", "tenant_id", target.TenantID, "host_id", target.HostID, "error", err)
		return false, nil, nil
	case err != nil:
		return false, nil, err
	}

	keyNames = []string{record.Current.Name}
	if record.Pending != nil {
		keyNames = append(keyNames, record.Pending.Name)
	}
	if record.Retired != nil {
		keyNames = append(keyNames, record.Retired.Name)
	}
	if err := s.keys.Delete(ctx, target); err != nil {
		return false, nil, err
	}
	s.logger.InfoContext(ctx, "managed key record deleted", "tenant_id", target.TenantID, "host_id", target.HostID, "key_names", keyNames)
	if err := s.auditForget(ctx, target, keyNames, start); err != nil {
		return true, keyNames, err
	}
	return true, keyNames, nil
}

// auditForget appends the event of a deleted managed key record and waits
// for the commit. The record is gone either way, so an error only means
// that the ledger does not show the deletion.
func (s *Service) auditForget(ctx context.Context, target domain.Target, keyNames []string, start time.Time) error {
	if s.audit == nil {
		return nil
	}
	event := AuditEvent{
		TenantID: target.TenantID, Time: start, Operation: OperationForgetHost, Target: target.HostID,
		Arguments: map[string]any{"host_id": target.HostID, "key_names": keyNames},
		Result:    "ok", Latency: time.Since(start),
	}
	if principal, ok := auth.PrincipalFrom(ctx); ok {
		event.Subject, event.ClientID, event.Actor = principal.Subject, principal.ClientID, principal.Actor
	}

	appendCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), auditAppendTimeout)
	defer cancel()
	appendStart := time.Now()
	err := s.audit.AppendAuditEvent(appendCtx, event)
	s.auditMetrics.Appended(appendCtx, appendStart, err)
	if err != nil {
		return fmt.Errorf("%w for deleting the managed key of tenant %s host %s: %w", ErrNotAudited, target.TenantID, target.HostID, err)
	}
	return nil
}
