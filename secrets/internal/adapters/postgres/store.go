// Package postgres stores Secrets' data in the secrets schema: the
// built-in CA's sealed key and the metadata of issued certificates.
package postgres

import (
	"context"
	"errors"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"dokkumcp.dev/secrets/internal/adapters/builtinca"
	"dokkumcp.dev/secrets/internal/app"
)

// Store implements builtinca.KeyStore and app.IssuanceLog.
type Store struct {
	pool *pgxpool.Pool
}

var (
	_ builtinca.KeyStore = (*Store)(nil)
	_ app.IssuanceLog    = (*Store)(nil)
)

// NewStore returns a Store on a pool whose database has the secrets schema
// migrated.
func NewStore(pool *pgxpool.Pool) *Store {
	return &Store{pool: pool}
}

func (s *Store) LoadCAKey(ctx context.Context, name string) (*builtinca.SealedKey, error) {
	var key builtinca.SealedKey
	err := s.pool.QueryRow(ctx, `
		SELECT name, public_key, nonce, ciphertext, create_time
		FROM secrets.ca_keys WHERE name = $1`, name).
		Scan(&key.Name, &key.PublicKey, &key.Nonce, &key.Ciphertext, &key.CreateTime)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, builtinca.ErrNoKey
	}
	if err != nil {
		return nil, err
	}
	return &key, nil
}

func (s *Store) InsertCAKey(ctx context.Context, key *builtinca.SealedKey) error {
	_, err := s.pool.Exec(ctx, `
		INSERT INTO secrets.ca_keys (name, public_key, nonce, ciphertext, create_time)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (name) DO NOTHING`,
		key.Name, key.PublicKey, key.Nonce, key.Ciphertext, key.CreateTime)
	return err
}

func (s *Store) RecordIssuance(ctx context.Context, i app.Issuance) error {
	// The serial is a uint64, which bigint cannot hold; it travels as
	// decimal text into a numeric column.
	mode := i.Mode
	if mode == "" {
		mode = app.ModeCertificate
	}
	var keyVersion *int64
	if i.KeyVersion > 0 {
		v := int64(i.KeyVersion)
		keyVersion = &v
	}
	_, err := s.pool.Exec(ctx, `
		INSERT INTO secrets.issuances (tenant_id, host_id, principal, serial, key_id, backend, expire_time, credential_mode, key_version)
		VALUES ($1, $2, $3, $4::numeric, $5, $6, $7, $8, $9)`,
		i.TenantID, i.HostID, i.Principal, strconv.FormatUint(i.Serial, 10), i.KeyID, i.Backend, i.ExpireTime, mode, keyVersion)
	return err
}
