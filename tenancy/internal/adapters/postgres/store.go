// Package postgres stores Tenancy's tenants and hosts in the tenancy schema.
package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"dokkumcp.dev/tenancy/internal/app"
	"dokkumcp.dev/tenancy/internal/domain"
)

// uniqueViolation is PostgreSQL's SQLSTATE for a unique constraint failure.
const uniqueViolation = "23505"

// Store implements app.Store.
type Store struct {
	pool *pgxpool.Pool
}

// NewStore returns a Store on a pool whose database has the tenancy schema
// migrated.
func NewStore(pool *pgxpool.Pool) *Store {
	return &Store{pool: pool}
}

var _ app.Store = (*Store)(nil)

func (s *Store) CreateTenant(ctx context.Context, t *domain.Tenant) error {
	_, err := s.pool.Exec(ctx, `
		INSERT INTO tenancy.tenants (id, slug, display_name, plan, status, create_time)
		VALUES ($1, $2, $3, $4, $5, $6)`,
		t.ID, t.Slug, t.DisplayName, string(t.Plan), string(t.Status), t.CreateTime)
	return mapUniqueViolation(err, "tenants_slug_key")
}

func (s *Store) Tenant(ctx context.Context, id string) (*domain.Tenant, error) {
	row := s.pool.QueryRow(ctx, `
		SELECT id, slug, display_name, plan, status, create_time
		FROM tenancy.tenants WHERE id = $1`, id)

	var t domain.Tenant
	var plan, status string
	err := row.Scan(&t.ID, &t.Slug, &t.DisplayName, &plan, &status, &t.CreateTime)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, app.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	t.Plan, t.Status, t.CreateTime = domain.Plan(plan), domain.TenantStatus(status), t.CreateTime.UTC()
	return &t, nil
}

func (s *Store) CreateHost(ctx context.Context, h *domain.Host) error {
	_, err := s.pool.Exec(ctx, `
		INSERT INTO tenancy.hosts (id, tenant_id, name, address, port, ssh_user, host_key,
			host_key_fingerprint, credential_mode, create_time)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		h.ID, h.TenantID, h.Name, h.Address, h.Port, h.SSHUser, h.HostKey,
		h.HostKeyFingerprint, string(h.CredentialMode), h.CreateTime)
	return mapUniqueViolation(err, "hosts_tenant_name_key")
}

const selectHost = `
	SELECT id, tenant_id, name, address, port, ssh_user, host_key, host_key_fingerprint,
		credential_mode, create_time
	FROM tenancy.hosts`

func (s *Store) HostByID(ctx context.Context, tenantID, hostID string) (*domain.Host, error) {
	return s.oneHost(ctx, selectHost+` WHERE tenant_id = $1 AND id = $2`, tenantID, hostID)
}

func (s *Store) HostByName(ctx context.Context, tenantID, name string) (*domain.Host, error) {
	return s.oneHost(ctx, selectHost+` WHERE tenant_id = $1 AND name = $2`, tenantID, name)
}

func (s *Store) Hosts(ctx context.Context, tenantID string) ([]domain.Host, error) {
	rows, err := s.pool.Query(ctx, selectHost+` WHERE tenant_id = $1 ORDER BY name`, tenantID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (domain.Host, error) {
		h, err := scanHost(row)
		if err != nil {
			return domain.Host{}, err
		}
		return *h, nil
	})
}

func (s *Store) oneHost(ctx context.Context, query string, args ...any) (*domain.Host, error) {
	h, err := scanHost(s.pool.QueryRow(ctx, query, args...))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, app.ErrNotFound
	}
	return h, err
}

func scanHost(row pgx.Row) (*domain.Host, error) {
	var h domain.Host
	var mode string
	err := row.Scan(&h.ID, &h.TenantID, &h.Name, &h.Address, &h.Port, &h.SSHUser, &h.HostKey,
		&h.HostKeyFingerprint, &mode, &h.CreateTime)
	if err != nil {
		return nil, err
	}
	h.CredentialMode, h.CreateTime = domain.CredentialMode(mode), h.CreateTime.UTC()
	return &h, nil
}

// mapUniqueViolation turns a violation of the named unique constraint into
// app.ErrConflict and leaves every other error as it is.
func mapUniqueViolation(err error, constraint string) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == uniqueViolation && pgErr.ConstraintName == constraint {
		return app.ErrConflict
	}
	return err
}
