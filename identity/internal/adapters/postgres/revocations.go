package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"dokkumcp.dev/identity/internal/app"
	"dokkumcp.dev/identity/internal/domain"
	"dokkumcp.dev/platform/auth"
)

// SetClientDisabled sets a client's disabled flag and advances the
// revocation list version.
func (s *Store) SetClientDisabled(ctx context.Context, clientID string, disabled bool) (domain.Client, error) {
	var client domain.Client
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		client, _, err = scanClient(tx.QueryRow(ctx, `
			UPDATE identity.clients SET disabled = $2 WHERE client_id = $1
			RETURNING `+clientColumns, clientID, disabled))
		if errors.Is(err, pgx.ErrNoRows) {
			return app.ErrClientNotFound
		}
		if err != nil {
			return fmt.Errorf("update client %s: %w", clientID, err)
		}
		return advanceRevocationVersion(ctx, tx)
	})
	return client, err
}

// RevokeToken records a revoked token and advances the revocation list
// version.
func (s *Store) RevokeToken(ctx context.Context, jti, clientID string, expireTime time.Time) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `
			INSERT INTO identity.revoked_tokens (jti, client_id, expire_time)
			VALUES ($1, $2, $3) ON CONFLICT (jti) DO NOTHING`, jti, clientID, expireTime)
		if err != nil {
			return fmt.Errorf("insert revoked token %s: %w", jti, err)
		}
		if tag.RowsAffected() == 0 {
			return nil
		}
		return advanceRevocationVersion(ctx, tx)
	})
}

func advanceRevocationVersion(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, `SELECT nextval('identity.revocation_version')`); err != nil {
		return fmt.Errorf("advance revocation version: %w", err)
	}
	return nil
}

// TokenRevoked reports whether the token with id jti is revoked.
func (s *Store) TokenRevoked(ctx context.Context, jti string) (bool, error) {
	var revoked bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM identity.revoked_tokens WHERE jti = $1)`, jti).Scan(&revoked)
	if err != nil {
		return false, fmt.Errorf("look up revoked token %s: %w", jti, err)
	}
	return revoked, nil
}

// RevocationList returns the revoked tokens that a verifier may still
// accept, those expired less than auth.MaxLeeway ago included, and the
// disabled clients in one snapshot.
func (s *Store) RevocationList(ctx context.Context) (auth.RevocationList, error) {
	list := auth.RevocationList{Revoked: []auth.RevokedToken{}, DisabledClients: []string{}}
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `
			SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM identity.revocation_version`).Scan(&list.Version)
		if err != nil {
			return fmt.Errorf("select revocation version: %w", err)
		}

		rows, err := tx.Query(ctx, `
			SELECT jti, expire_time FROM identity.revoked_tokens
			WHERE expire_time > now() - make_interval(secs => $1) ORDER BY expire_time, jti`, auth.MaxLeeway.Seconds())
		if err != nil {
			return fmt.Errorf("select revoked tokens: %w", err)
		}
		for rows.Next() {
			var (
				jti    string
				expire time.Time
			)
			if err := rows.Scan(&jti, &expire); err != nil {
				rows.Close()
				return fmt.Errorf("scan revoked token: %w", err)
			}
			list.Revoked = append(list.Revoked, auth.RevokedToken{JTI: jti, Exp: expire.Unix()})
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("select revoked tokens: %w", err)
		}

		rows, err = tx.Query(ctx, `SELECT client_id FROM identity.clients WHERE disabled ORDER BY client_id`)
		if err != nil {
			return fmt.Errorf("select disabled clients: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return fmt.Errorf("scan disabled client: %w", err)
			}
			list.DisabledClients = append(list.DisabledClients, id)
		}
		return rows.Err()
	})
	return list, err
}

// DeleteExpiredRevocations deletes revoked tokens that expired before
// before.
func (s *Store) DeleteExpiredRevocations(ctx context.Context, before time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM identity.revoked_tokens WHERE expire_time < $1`, before)
	if err != nil {
		return 0, fmt.Errorf("delete expired revocations: %w", err)
	}
	return tag.RowsAffected(), nil
}
