package app

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"time"
)

// credentialCache keeps one SSH credential per (tenant, host) in memory and
// renews it once two thirds of its lifetime have passed. When renewal fails,
// a credential that has not expired yet is still used, so a short Secrets
// outage does not stop new connections.
type credentialCache struct {
	issuer CredentialIssuer
	now    func() time.Time
	logger *slog.Logger

	mu      sync.Mutex
	entries map[string]*credentialEntry
}

type credentialEntry struct {
	// mu serializes issuing, so concurrent calls for one host share a
	// single request to Secrets.
	mu         sync.Mutex
	credential Credential
	// mode is the host's credential mode the credential was issued for.
	mode    string
	renewAt time.Time
	cached  bool
}

func newCredentialCache(issuer CredentialIssuer, now func() time.Time, logger *slog.Logger) *credentialCache {
	return &credentialCache{issuer: issuer, now: now, logger: logger, entries: map[string]*credentialEntry{}}
}

// Get returns a valid credential for the host, issuing a new one when none
// is cached or the cached one is due for renewal.
// handshakeMargin is how long before its expiry a cached credential stops
// being handed out while renewal fails.
const handshakeMargin = 5 * time.Second

func (c *credentialCache) Get(ctx context.Context, tenantID string, host Host) (Credential, error) {
	entry := c.entry(tenantID + "/" + host.ID)
	entry.mu.Lock()
	defer entry.mu.Unlock()

	now := c.now()
	if entry.cached && entry.mode != host.CredentialMode {
		// The host's credential mode changed in Tenancy: the cached
		// credential is of the other kind, and the host may no longer
		// accept it.
		c.logger.InfoContext(ctx, "ssh credential mode changed; fetching a new credential", "host_id", host.ID, "mode", host.CredentialMode)
		entry.cached = false
	}
	if entry.cached && now.Before(entry.renewAt) {
		return entry.credential, nil
	}

	fresh, err := c.issuer.IssueSSHCredential(ctx, tenantID, host.ID, host.CredentialMode)
	if err == nil && !fresh.ExpireTime.After(now) {
		err = Errorf(KindUnavailable, "the SSH credential service (Secrets) issued a credential for host %q that has already expired; check the clocks of Secrets and DokkuExec", host.Name)
	}
	if err == nil {
		lifetime := fresh.ExpireTime.Sub(now)
		entry.credential = fresh
		entry.mode = host.CredentialMode
		entry.renewAt = now.Add(lifetime * 2 / 3)
		entry.cached = true
		c.logger.InfoContext(ctx, "ssh credential issued", "host_id", host.ID, "expire_time", fresh.ExpireTime)
		return fresh, nil
	}

	// The failed call may have taken as long as its timeout, so the cached
	// credential is judged at the current time, with a margin for the SSH
	// handshake that will present it.
	now = c.now()
	if entry.cached && now.Add(handshakeMargin).Before(entry.credential.ExpireTime) {
		c.logger.WarnContext(ctx, "ssh credential renewal failed; using the cached credential", "host_id", host.ID, "expire_time", entry.credential.ExpireTime, "error", err)
		return entry.credential, nil
	}
	c.logger.ErrorContext(ctx, "ssh credential issue failed", "host_id", host.ID, "error", err)
	switch KindOf(err) {
	case KindPermissionDenied, KindNotFound, KindFailedPrecondition, KindInvalidArgument:
		// Retrying does not fix a rejection, and its message gives the reason.
		return Credential{}, err
	}
	return Credential{}, &Error{
		Kind:    KindUnavailable,
		Message: "the SSH credential service (Secrets) is unavailable and no valid credential for host " + quote(host.Name) + " is cached; retry later",
		Err:     err,
	}
}

// Invalidate drops the host's cached credential if it is still rejected,
// the one a host rejected, so that the next Get fetches a fresh one.
func (c *credentialCache) Invalidate(tenantID, hostID string, rejected Credential) {
	entry := c.entry(tenantID + "/" + hostID)
	entry.mu.Lock()
	defer entry.mu.Unlock()
	if entry.cached && bytes.Equal(entry.credential.PrivateKey, rejected.PrivateKey) {
		entry.cached = false
	}
}

func (c *credentialCache) entry(key string) *credentialEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	entry, ok := c.entries[key]
	if !ok {
		entry = &credentialEntry{}
		c.entries[key] = entry
	}
	return entry
}
