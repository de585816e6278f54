// Package postgres stores Identity's clients and signing keys in the
// identity schema.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"dokkumcp.dev/identity/internal/app"
	"dokkumcp.dev/identity/internal/domain"
)

// Store implements app.ClientStore and app.SigningKeyStore.
type Store struct {
	pool *pgxpool.Pool
}

// New returns a store on pool. The identity schema must be migrated.
func New(pool *pgxpool.Pool) *Store {
	return &Store{pool: pool}
}

const clientColumns = `client_id, coalesce(tenant_id, ''), name, role, resources, disabled, create_time, secret_hash`

func scanClient(row pgx.Row) (domain.Client, []byte, error) {
	var (
		c    domain.Client
		role string
		hash []byte
	)
	err := row.Scan(&c.ID, &c.TenantID, &c.Name, &role, &c.Resources, &c.Disabled, &c.CreateTime, &hash)
	c.Role = domain.Role(role)
	return c, hash, err
}

// CreateClient inserts a tenant client.
func (s *Store) CreateClient(ctx context.Context, c domain.Client, secretHash []byte) (domain.Client, error) {
	row := s.pool.QueryRow(ctx, `
		INSERT INTO identity.clients (client_id, tenant_id, name, role, resources, secret_hash)
		VALUES ($1, $2, $3, $4, $5, $6)
		RETURNING `+clientColumns,
		c.ID, nullIfEmpty(c.TenantID), c.Name, string(c.Role), c.Resources, secretHash)
	created, _, err := scanClient(row)
	if err != nil {
		return domain.Client{}, fmt.Errorf("insert client %s: %w", c.ID, err)
	}
	return created, nil
}

// UpsertPlatformClient inserts a platform client or replaces its role,
// resources and secret, and enables it.
func (s *Store) UpsertPlatformClient(ctx context.Context, c domain.Client, secretHash []byte) error {
	_, err := s.pool.Exec(ctx, `
		INSERT INTO identity.clients (client_id, tenant_id, name, role, resources, secret_hash)
		VALUES ($1, NULL, $2, $3, $4, $5)
		ON CONFLICT (client_id) DO UPDATE
		SET tenant_id = NULL, name = EXCLUDED.name, role = EXCLUDED.role,
		    resources = EXCLUDED.resources, secret_hash = EXCLUDED.secret_hash, disabled = false`,
		c.ID, c.Name, string(c.Role), c.Resources, secretHash)
	if err != nil {
		return fmt.Errorf("upsert client %s: %w", c.ID, err)
	}
	return nil
}

// ClientByID returns a client and its secret hash.
func (s *Store) ClientByID(ctx context.Context, id string) (domain.Client, []byte, error) {
	c, hash, err := scanClient(s.pool.QueryRow(ctx, `SELECT `+clientColumns+` FROM identity.clients WHERE client_id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return domain.Client{}, nil, app.ErrClientNotFound
	}
	if err != nil {
		return domain.Client{}, nil, fmt.Errorf("select client %s: %w", id, err)
	}
	return c, hash, nil
}

// ListClients returns a tenant's clients, oldest first.
func (s *Store) ListClients(ctx context.Context, tenantID string) ([]domain.Client, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+clientColumns+` FROM identity.clients WHERE tenant_id = $1 ORDER BY create_time, client_id`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("select clients of tenant %s: %w", tenantID, err)
	}
	defer rows.Close()

	var clients []domain.Client
	for rows.Next() {
		c, _, err := scanClient(rows)
		if err != nil {
			return nil, fmt.Errorf("scan client of tenant %s: %w", tenantID, err)
		}
		clients = append(clients, c)
	}
	return clients, rows.Err()
}

// EnsureActiveSigningKey inserts the key from create unless an active key
// exists. A transaction-level advisory lock serializes replicas that start
// together, so they share one first key.
func (s *Store) EnsureActiveSigningKey(ctx context.Context, create func() (app.SealedSigningKey, error)) (bool, error) {
	created := false
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, signingKeyLock); err != nil {
			return fmt.Errorf("lock signing keys: %w", err)
		}
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM identity.signing_keys WHERE state = 'active')`).Scan(&exists); err != nil {
			return fmt.Errorf("look for an active signing key: %w", err)
		}
		if exists {
			return nil
		}

		key, err := create()
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `
			INSERT INTO identity.signing_keys (kid, public_key, sealed_private_key, state, create_time, not_before)
			VALUES ($1, $2, $3, $4, $5, $6)`,
			key.KeyID, []byte(key.PublicKey), key.SealedPrivateKey, key.State, key.CreateTime, key.NotBefore)
		if err != nil {
			return fmt.Errorf("insert signing key %s: %w", key.KeyID, err)
		}
		created = true
		return nil
	})
	return created, err
}

// ListSigningKeys returns every stored key, newest not_before first.
func (s *Store) ListSigningKeys(ctx context.Context) ([]app.SealedSigningKey, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT kid, public_key, sealed_private_key, state, create_time, not_before
		FROM identity.signing_keys ORDER BY not_before DESC, kid`)
	if err != nil {
		return nil, fmt.Errorf("select signing keys: %w", err)
	}
	defer rows.Close()

	var keys []app.SealedSigningKey
	for rows.Next() {
		var (
			k      app.SealedSigningKey
			public []byte
		)
		if err := rows.Scan(&k.KeyID, &public, &k.SealedPrivateKey, &k.State, &k.CreateTime, &k.NotBefore); err != nil {
			return nil, fmt.Errorf("scan signing key: %w", err)
		}
		k.PublicKey = public
		keys = append(keys, k)
	}
	return keys, rows.Err()
}

var signingKeyLock = func() int64 {
	h := fnv.New64a()
	h.Write([]byte("dokkumcp.identity.signing_keys"))
	return int64(h.Sum64())
}()

func nullIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
