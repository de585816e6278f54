package vault

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	vaultapi "github.com/hashicorp/vault/api"

	"dokkumcp.dev/secrets/internal/app"
	"dokkumcp.dev/secrets/internal/domain"
)

// Operations on the managed-key store, for the duration histogram.
const (
	opReadKey   = "read_key"
	opWriteKey  = "write_key"
	opListKeys  = "list_keys"
	opDeleteKey = "delete_key"
)

// keyPathPrefix is the path of the managed-key records under the KV mount,
// each at <prefix>/<tenant id>/<host id>.
const keyPathPrefix = "dokkumcp/managed-keys"

// KeyStore implements app.ManagedKeyStore with Vault's KV secrets engine,
// version 2, sharing the CA's client and token. Every write is a
// check-and-set on the record's KV version.
type KeyStore struct {
	ca    *CA
	mount string
}

var (
	_ app.ManagedKeyStore  = (*KeyStore)(nil)
	_ app.ManagedKeyLister = (*KeyStore)(nil)
)

// KeyStore returns the managed-key store on the KV v2 engine at mount.
func (c *CA) KeyStore(mount string) *KeyStore {
	return &KeyStore{ca: c, mount: mount}
}

func (k *KeyStore) path(target domain.Target) string {
	return keyPathPrefix + "/" + target.TenantID + "/" + target.HostID
}

// Load reads the host's record and its KV version.
func (k *KeyStore) Load(ctx context.Context, target domain.Target) (*app.ManagedKeyRecord, int, error) {
	callCtx, cancel := context.WithTimeout(ctx, k.ca.cfg.Timeout)
	defer cancel()
	callCtx, span := k.ca.startSpan(callCtx, opReadKey)
	start := time.Now()
	secret, err := k.ca.client.KVv2(k.mount).Get(callCtx, k.path(target))
	if errors.Is(err, vaultapi.ErrSecretNotFound) {
		endSpan(span, nil)
		k.ca.metrics.observe(opReadKey, start, nil)
		return nil, 0, app.ErrNoManagedKey
	}
	endSpan(span, err)
	k.ca.metrics.observe(opReadKey, start, err)
	if err != nil {
		return nil, 0, k.callError(ctx, opReadKey, err)
	}
	if secret == nil || secret.VersionMetadata == nil {
		return nil, 0, app.ErrNoManagedKey
	}

	encoded, err := json.Marshal(secret.Data)
	if err != nil {
		return nil, 0, fmt.Errorf("encode managed key record of host %s: %w", target.HostID, err)
	}
	var record app.ManagedKeyRecord
	if err := json.Unmarshal(encoded, &record); err != nil {
		return nil, 0, fmt.Errorf("decode managed key record of host %s at KV version %d: %w", target.HostID, secret.VersionMetadata.Version, err)
	}
	if record.Current.Version == 0 || len(record.Current.PrivateKeyPEM) == 0 {
		return nil, 0, fmt.Errorf("managed key record of host %s at KV version %d has no current key", target.HostID, secret.VersionMetadata.Version)
	}
	return &record, secret.VersionMetadata.Version, nil
}

// Save writes record with check-and-set on version.
func (k *KeyStore) Save(ctx context.Context, target domain.Target, record *app.ManagedKeyRecord, version int) (int, error) {
	encoded, err := json.Marshal(record)
	if err != nil {
		return 0, fmt.Errorf("encode managed key record of host %s: %w", target.HostID, err)
	}
	var data map[string]any
	if err := json.Unmarshal(encoded, &data); err != nil {
		return 0, fmt.Errorf("encode managed key record of host %s: %w", target.HostID, err)
	}

	callCtx, cancel := context.WithTimeout(ctx, k.ca.cfg.Timeout)
	defer cancel()
	callCtx, span := k.ca.startSpan(callCtx, opWriteKey)
	start := time.Now()
	secret, err := k.ca.client.KVv2(k.mount).Put(callCtx, k.path(target), data, vaultapi.WithCheckAndSet(version))
	endSpan(span, err)
	k.ca.metrics.observe(opWriteKey, start, err)
	if err != nil {
		if isCASMismatch(err) {
			return 0, app.ErrManagedKeyConflict
		}
		return 0, k.callError(ctx, opWriteKey, err)
	}
	if secret == nil || secret.VersionMetadata == nil {
		return 0, fmt.Errorf("%w: KV write of host %s returned no version", app.ErrCAUnavailable, target.HostID)
	}
	return secret.VersionMetadata.Version, nil
}

// Delete removes the host's record with every version and its metadata.
// Deleting a host without a record succeeds.
func (k *KeyStore) Delete(ctx context.Context, target domain.Target) error {
	callCtx, cancel := context.WithTimeout(ctx, k.ca.cfg.Timeout)
	defer cancel()
	callCtx, span := k.ca.startSpan(callCtx, opDeleteKey)
	start := time.Now()
	err := k.ca.client.KVv2(k.mount).DeleteMetadata(callCtx, k.path(target))
	endSpan(span, err)
	k.ca.metrics.observe(opDeleteKey, start, err)
	if err != nil {
		return k.callError(ctx, opDeleteKey, err)
	}
	return nil
}

// isCASMismatch reports whether Vault rejected a check-and-set write
// because its version is no longer the current one.
func isCASMismatch(err error) bool {
	var respErr *vaultapi.ResponseError
	return errors.As(err, &respErr) && respErr.StatusCode == http.StatusBadRequest &&
		strings.Contains(strings.Join(respErr.Errors, " "), "check-and-set")
}

// callError classifies a failed KV call like CA.callError, with messages
// about the KV mount.
func (k *KeyStore) callError(ctx context.Context, op string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("Vault %s on mount %s: %w", op, k.mount, ctx.Err())
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: Vault %s on mount %s timed out after %s (--vault-timeout)", app.ErrCAUnavailable, op, k.mount, k.ca.cfg.Timeout)
	}
	var respErr *vaultapi.ResponseError
	if !errors.As(err, &respErr) || respErr.StatusCode < 400 || respErr.StatusCode >= 500 || respErr.StatusCode == http.StatusTooManyRequests {
		return fmt.Errorf("%w: Vault %s on mount %s: %w", app.ErrCAUnavailable, op, k.mount, err)
	}
	message := fmt.Sprintf("Vault rejected the %s request on KV mount %s with status %d; check that it is a KV version 2 engine, or run with --vault-bootstrap", op, k.mount, respErr.StatusCode)
	switch respErr.StatusCode {
	case http.StatusForbidden:
		message = fmt.Sprintf("Vault denied the %s request on KV mount %s: the token's policy must allow create, read and update on %s/data/%s/*", op, k.mount, k.mount, keyPathPrefix)
	case http.StatusNotFound:
		message = fmt.Sprintf("Vault has no KV version 2 engine at mount %s; enable one there (--vault-kv-mount) or run with --vault-bootstrap", k.mount)
	}
	return &app.CAConfigError{Message: message, Err: err}
}

// Bootstrap mounts a KV version 2 engine at the store's mount if the mount
// is missing, and checks that an existing mount is KV version 2.
func (k *KeyStore) Bootstrap(ctx context.Context, logger *slog.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, 2*k.ca.cfg.Timeout)
	defer cancel()
	mounts, err := k.ca.client.Sys().ListMountsWithContext(ctx)
	if err != nil {
		return fmt.Errorf("list Vault secrets engines: %w", err)
	}
	if mount, ok := mounts[k.mount+"/"]; ok {
		if mount.Type != "kv" || mount.Options["version"] != "2" {
			return fmt.Errorf("Vault mount %s is a %s engine with options %v, not KV version 2: choose another --vault-kv-mount", k.mount, mount.Type, mount.Options)
		}
		return nil
	}
	err = k.ca.client.Sys().MountWithContext(ctx, k.mount, &vaultapi.MountInput{
		Type:        "kv",
		Description: "dokkumcp managed SSH keys",
		Options:     map[string]string{"version": "2"},
	})
	if err != nil {
		return fmt.Errorf("mount the KV version 2 engine at %s: %w", k.mount, err)
	}
	logger.InfoContext(ctx, "vault kv secrets engine mounted", "mount", k.mount)
	return nil
}

// List returns every host that has a managed-key record.
func (k *KeyStore) List(ctx context.Context) ([]domain.Target, error) {
	tenants, err := k.listKeys(ctx, keyPathPrefix)
	if err != nil {
		return nil, err
	}
	var targets []domain.Target
	for _, tenant := range tenants {
		tenantID := strings.TrimSuffix(tenant, "/")
		hosts, err := k.listKeys(ctx, keyPathPrefix+"/"+tenantID)
		if err != nil {
			return nil, err
		}
		for _, host := range hosts {
			if strings.HasSuffix(host, "/") {
				continue
			}
			target, err := domain.NewTarget(tenantID, host)
			if err != nil {
				// Not written by Secrets; leave it alone.
				continue
			}
			targets = append(targets, target)
		}
	}
	return targets, nil
}

// listKeys lists the KV metadata under path; a missing path lists nothing.
func (k *KeyStore) listKeys(ctx context.Context, path string) ([]string, error) {
	callCtx, cancel := context.WithTimeout(ctx, k.ca.cfg.Timeout)
	defer cancel()
	callCtx, span := k.ca.startSpan(callCtx, opListKeys)
	start := time.Now()
	secret, err := k.ca.client.Logical().ListWithContext(callCtx, k.mount+"/metadata/"+path)
	endSpan(span, err)
	k.ca.metrics.observe(opListKeys, start, err)
	if err != nil {
		return nil, k.callError(ctx, opListKeys, err)
	}
	if secret == nil {
		return nil, nil
	}
	raw, _ := secret.Data["keys"].([]any)
	keys := make([]string, 0, len(raw))
	for _, key := range raw {
		if text, ok := key.(string); ok {
			keys = append(keys, text)
		}
	}
	return keys, nil
}
