// Package app holds Secrets' use cases: issuing short-lived SSH user
// certificates for tenant hosts, and producing the trust line a host needs
// to accept them.
package app

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"golang.org/x/crypto/ssh"

	"dokkumcp.dev/platform/telemetry"
	"dokkumcp.dev/secrets/internal/domain"
)

// ErrCAUnavailable wraps every failure to reach the CA backend, such as a
// Vault outage, which callers may retry.
var ErrCAUnavailable = errors.New("SSH CA unavailable")

// CAConfigError is a CA rejection that retrying cannot fix, such as a
// missing Vault role or a policy that denies signing. Message is safe to
// show to callers and names the fix; Err carries the detail for the log.
type CAConfigError struct {
	Message string
	Err     error
}

func (e *CAConfigError) Error() string { return e.Message + ": " + e.Err.Error() }

func (e *CAConfigError) Unwrap() error { return e.Err }

// CA signs SSH user certificates. It is Vault's SSH secrets engine or the
// built-in CA.
type CA interface {
	// Backend names the CA in responses and logs: "vault" or "builtin".
	Backend() string
	// PublicKey returns the CA's public key.
	PublicKey(ctx context.Context) (ssh.PublicKey, error)
	// SignUserKey returns a user certificate for key with exactly one
	// principal, the key id, a validity of ttl from now, and no critical
	// options or extensions.
	SignUserKey(ctx context.Context, req SignRequest) (*ssh.Certificate, error)
}

// SignRequest is the input of CA.SignUserKey.
type SignRequest struct {
	Key       ssh.PublicKey
	Principal string
	KeyID     string
	TTL       time.Duration
}

// Issuance is the metadata of one issued credential. It holds no key
// material.
type Issuance struct {
	TenantID  string
	HostID    string
	Principal string
	Serial    uint64
	KeyID     string
	Backend   string
	// Mode is ModeCertificate or ModeManagedKey; KeyVersion is set for
	// managed keys.
	Mode       string
	KeyVersion uint64
	ExpireTime time.Time
}

// IssuanceLog records issued certificates.
type IssuanceLog interface {
	RecordIssuance(ctx context.Context, issuance Issuance) error
}

// Credential is a fresh private key and its certificate, or a host's
// managed key. It lives only in memory and in the response that carries
// it.
type Credential struct {
	// PrivateKeyPEM is the ed25519 private key in OpenSSH PEM form.
	PrivateKeyPEM []byte
	// Certificate is the user certificate in authorized_keys form; empty
	// for a managed key.
	Certificate string
	Principal   string
	Serial      uint64
	KeyID       string
	ExpireTime  time.Time
	Backend     string
	// Mode is ModeCertificate or ModeManagedKey; KeyVersion is the managed
	// key's version.
	Mode       string
	KeyVersion uint64
}

// Service runs Secrets' use cases.
type Service struct {
	ca     CA
	keys   ManagedKeyStore
	log    IssuanceLog
	ttl    time.Duration
	now    func() time.Time
	logger *slog.Logger
	issued metric.Int64Counter
	// audit, when set, receives an event for every issuance.
	audit        AuditLog
	auditMetrics *telemetry.AuditMetrics
}

// NewService returns a Service that signs with ca, keeps managed keys in
// keys, and issues certificates valid for ttl. It counts issued
// credentials by backend and mode on meter as
// dokkumcp_secrets_credentials_issued_total.
func NewService(ca CA, keys ManagedKeyStore, log IssuanceLog, ttl time.Duration, logger *slog.Logger, meter metric.Meter) (*Service, error) {
	issued, err := meter.Int64Counter("dokkumcp_secrets_credentials_issued",
		metric.WithDescription("SSH credentials issued, by backend (vault or builtin) and mode (certificate or managed-key)."))
	if err != nil {
		return nil, err
	}
	return &Service{ca: ca, keys: keys, log: log, ttl: ttl, now: time.Now, logger: logger, issued: issued}, nil
}

// IssueSSHCredential returns the host's managed key in managed-key mode.
// In certificate mode it generates an ed25519 key in memory, has the CA
// sign a user certificate for the host's principal, records the
// certificate's metadata and returns both. ModeAuto picks managed-key for
// a host that has a managed key. Every credential's audit event is
// committed before the credential is returned; one whose event cannot be
// appended is not returned.
func (s *Service) IssueSSHCredential(ctx context.Context, tenantID, hostID, mode string) (*Credential, error) {
	start := time.Now()
	target, err := domain.NewTarget(tenantID, hostID)
	if err != nil {
		return nil, err
	}
	if mode != ModeCertificate {
		record, _, err := s.keys.Load(ctx, target)
		switch {
		case err == nil:
			credential, err := s.issueManagedKey(ctx, target, record)
			if err != nil {
				return nil, err
			}
			if err := s.auditIssuance(ctx, target.TenantID, target.HostID, credential, start); err != nil {
				return nil, err
			}
			s.recordIssued(ctx, target, credential)
			return credential, nil
		case mode == ModeAuto && isConfigError(err):
			// A Vault policy that allows only SSH signing, or no KV mount,
			// means this deployment has no managed keys; certificates
			// must keep working there.
			s.logger.WarnContext(ctx, "managed key lookup failed; issuing a certificate", "tenant_id", target.TenantID, "host_id", target.HostID, "error", err)
		case !errors.Is(err, ErrNoManagedKey):
			return nil, err
		case mode == ModeManagedKey:
			return nil, managedKeyMissing(target)
		}
	}
	credential, err := s.issueCertificate(ctx, target)
	if err != nil {
		return nil, err
	}
	if err := s.auditIssuance(ctx, target.TenantID, target.HostID, credential, start); err != nil {
		return nil, err
	}
	s.recordIssued(ctx, target, credential)
	return credential, nil
}

func isConfigError(err error) bool {
	var config *CAConfigError
	return errors.As(err, &config)
}

// recordIssued counts and logs an issued credential, without key material.
func (s *Service) recordIssued(ctx context.Context, target domain.Target, credential *Credential) {
	s.issued.Add(ctx, 1, metric.WithAttributes(attribute.String("backend", credential.Backend), attribute.String("mode", credential.Mode)))
	s.logger.InfoContext(ctx, "ssh credential issued", "tenant_id", target.TenantID, "host_id", target.HostID, "mode", credential.Mode,
		"serial", credential.Serial, "key_version", credential.KeyVersion, "key_id", credential.KeyID,
		"expire_time", credential.ExpireTime, "backend", credential.Backend)
}

// issueCertificate generates a key in memory, has the CA sign it and
// records the certificate's metadata.
func (s *Service) issueCertificate(ctx context.Context, target domain.Target) (*Credential, error) {

	public, private, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate ed25519 key: %w", err)
	}
	sshPublic, err := ssh.NewPublicKey(public)
	if err != nil {
		return nil, err
	}
	principal := target.Principal()
	keyID := target.KeyID(newRequestID())

	cert, err := s.ca.SignUserKey(ctx, SignRequest{Key: sshPublic, Principal: principal, KeyID: keyID, TTL: s.ttl})
	if err != nil {
		return nil, err
	}
	if err := checkCertificate(cert, sshPublic, principal); err != nil {
		return nil, fmt.Errorf("%s CA returned an unusable certificate: %w", s.ca.Backend(), err)
	}

	block, err := ssh.MarshalPrivateKey(private, "")
	if err != nil {
		return nil, fmt.Errorf("encode private key: %w", err)
	}
	credential := &Credential{
		PrivateKeyPEM: pem.EncodeToMemory(block),
		Certificate:   string(trimNewline(ssh.MarshalAuthorizedKey(cert))),
		Principal:     principal,
		Serial:        cert.Serial,
		KeyID:         cert.KeyId,
		ExpireTime:    time.Unix(int64(cert.ValidBefore), 0).UTC(),
		Backend:       s.ca.Backend(),
		Mode:          ModeCertificate,
	}

	// The issuance is recorded before the credential is returned, so every
	// certificate in use has a record.
	err = s.log.RecordIssuance(ctx, Issuance{
		TenantID: target.TenantID, HostID: target.HostID, Principal: principal, Serial: cert.Serial,
		KeyID: cert.KeyId, Backend: credential.Backend, Mode: ModeCertificate, ExpireTime: credential.ExpireTime,
	})
	if err != nil {
		return nil, fmt.Errorf("record issuance of certificate %d: %w", cert.Serial, err)
	}
	return credential, nil
}

// GetHostTrust returns the trust line and install command for a host. In
// managed-key mode the first call generates the host's key pair and stores
// it; later calls return the current key.
//
// access, if not nil, is where the key rotation reaches the host.
func (s *Service) GetHostTrust(ctx context.Context, tenantID, hostID, mode string, access *HostAccess) (*domain.Trust, error) {
	target, err := domain.NewTarget(tenantID, hostID)
	if err != nil {
		return nil, err
	}
	if mode == ModeManagedKey {
		if access != nil {
			if err := checkHostAccess(access); err != nil {
				return nil, err
			}
		}
		record, err := s.ensureManagedKey(ctx, target, access)
		if err != nil {
			return nil, err
		}
		public, _, _, _, err := ssh.ParseAuthorizedKey([]byte(record.Current.PublicKey))
		if err != nil {
			return nil, fmt.Errorf("parse stored managed public key version %d: %w", record.Current.Version, err)
		}
		trust := domain.NewManagedTrust(target, record.Current.Name, public)
		return &trust, nil
	}
	caKey, err := s.ca.PublicKey(ctx)
	if err != nil {
		return nil, err
	}
	trust := domain.NewTrust(target, caKey)
	return &trust, nil
}

// checkCertificate guards against a misconfigured CA (for example a Vault
// role with default extensions): the certificate must be a user
// certificate for exactly key and principal, with no critical options or
// extensions.
func checkCertificate(cert *ssh.Certificate, key ssh.PublicKey, principal string) error {
	switch {
	case cert.CertType != ssh.UserCert:
		return fmt.Errorf("certificate type %d is not a user certificate", cert.CertType)
	case string(cert.Key.Marshal()) != string(key.Marshal()):
		return errors.New("certificate is for another public key")
	case !slices.Equal(cert.ValidPrincipals, []string{principal}):
		return fmt.Errorf("certificate principals %q are not exactly %q", cert.ValidPrincipals, principal)
	case len(cert.CriticalOptions) > 0:
		return fmt.Errorf("certificate carries critical options %v", mapKeys(cert.CriticalOptions))
	case len(cert.Extensions) > 0:
		return fmt.Errorf("certificate carries extensions %v", mapKeys(cert.Extensions))
	}
	return nil
}

func mapKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// newRequestID returns 16 random hex characters that tie a certificate's key
// id to one issuance.
func newRequestID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func trimNewline(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		return b[:n-1]
	}
	return b
}
