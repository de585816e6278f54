// Package postgres stores Identity's clients, signing keys, revoked tokens
// and used client assertions in the identity schema.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"dokkumcp.dev/identity/internal/app"
	"dokkumcp.dev/identity/internal/domain"
)

// Store implements app.ClientStore, app.SigningKeyStore and
// app.RevocationStore.
type Store struct {
	pool *pgxpool.Pool
}

// New returns a store on pool. The identity schema must be migrated.
func New(pool *pgxpool.Pool) *Store {
	return &Store{pool: pool}
}

const clientColumns = `client_id, coalesce(tenant_id, ''), name, role, resources, disabled, create_time, public_key, secret_hash`

func scanClient(row pgx.Row) (domain.Client, []byte, error) {
	var (
		c      domain.Client
		role   string
		public []byte
		hash   []byte
	)
	err := row.Scan(&c.ID, &c.TenantID, &c.Name, &role, &c.Resources, &c.Disabled, &c.CreateTime, &public, &hash)
	c.Role = domain.Role(role)
	if public != nil {
		c.PublicKey = public
	}
	return c, hash, err
}

// CreateClient inserts a tenant client.
func (s *Store) CreateClient(ctx context.Context, c domain.Client, secretHash []byte) (domain.Client, error) {
	row := s.pool.QueryRow(ctx, `
		INSERT INTO identity.clients (client_id, tenant_id, name, role, resources, public_key, secret_hash)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		RETURNING `+clientColumns,
		c.ID, nullIfEmpty(c.TenantID), c.Name, string(c.Role), c.Resources, nullIfNoKey(c.PublicKey), secretHash)
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

// UseClientAssertion records the id of a client assertion until it expires.
// It returns false when the client used the id before.
func (s *Store) UseClientAssertion(ctx context.Context, clientID, jti string, expireTime time.Time) (bool, error) {
	tag, err := s.pool.Exec(ctx, `
		INSERT INTO identity.used_client_assertions (client_id, jti, expire_time)
		VALUES ($1, $2, $3) ON CONFLICT (client_id, jti) DO NOTHING`, clientID, jti, expireTime)
	if err != nil {
		return false, fmt.Errorf("insert client assertion of %s: %w", clientID, err)
	}
	return tag.RowsAffected() == 1, nil
}

// DeleteExpiredAssertions deletes the ids of assertions that expired before
// before.
func (s *Store) DeleteExpiredAssertions(ctx context.Context, before time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM identity.used_client_assertions WHERE expire_time < $1`, before)
	if err != nil {
		return 0, fmt.Errorf("delete expired client assertions: %w", err)
	}
	return tag.RowsAffected(), nil
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

// InsertSigningKeyIf inserts the key from create when add accepts the
// stored keys. A transaction-level advisory lock serializes replicas, so two
// that start or rotate together add one key.
func (s *Store) InsertSigningKeyIf(ctx context.Context, add func([]app.SealedSigningKey) bool, create func() (app.SealedSigningKey, error)) (app.SealedSigningKey, error) {
	var inserted app.SealedSigningKey
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, signingKeyLock); err != nil {
			return fmt.Errorf("lock signing keys: %w", err)
		}
		existing, err := listSigningKeys(ctx, tx)
		if err != nil {
			return err
		}
		if !add(existing) {
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
		inserted = key
		return nil
	})
	return inserted, err
}

// SetSigningKeyState records the state of a key.
func (s *Store) SetSigningKeyState(ctx context.Context, kid, state string) error {
	if _, err := s.pool.Exec(ctx, `UPDATE identity.signing_keys SET state = $2 WHERE kid = $1`, kid, state); err != nil {
		return fmt.Errorf("update state of signing key %s: %w", kid, err)
	}
	return nil
}

// ListSigningKeys returns every stored key, newest not_before first.
func (s *Store) ListSigningKeys(ctx context.Context) ([]app.SealedSigningKey, error) {
	return listSigningKeys(ctx, s.pool)
}

type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func listSigningKeys(ctx context.Context, db querier) ([]app.SealedSigningKey, error) {
	rows, err := db.Query(ctx, `
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

func nullIfNoKey(key []byte) []byte {
	if len(key) == 0 {
		return nil
	}
	return key
}

func nullIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
