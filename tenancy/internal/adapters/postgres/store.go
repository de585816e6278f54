// Package postgres stores Tenancy's tenants, hosts, apps and audit ledger
// in the tenancy schema.
//
// The pool connects as the migrating role and switches to the application
// role dokkumcp_tenancy_app on every new connection (see Open). That role
// does not own the tables, so row-level security applies to it: every
// statement on a tenant-owned table (hosts, apps, app_reservations,
// audit_events) runs in a transaction that first names its tenant with
// set_config('app.tenant_id', id, true), and sees only that tenant's rows.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"dokkumcp.dev/platform/pg"
	"dokkumcp.dev/tenancy/internal/app"
	"dokkumcp.dev/tenancy/internal/domain"
)

// AppRole is the PostgreSQL role the service's queries run as. Migration
// 0002 creates it and grants it no UPDATE or DELETE on audit_events.
const AppRole = "dokkumcp_tenancy_app"

// PostgreSQL SQLSTATEs the store maps to app errors.
const (
	uniqueViolation     = "23505"
	foreignKeyViolation = "23503"
)

// Store implements app.Store.
type Store struct {
	pool *pgxpool.Pool
}

// Open returns a pool whose connections run as AppRole. The role in url
// must be a member of AppRole (superusers are); migration 0002 grants the
// membership to the role that runs it.
func Open(ctx context.Context, url string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("invalid PostgreSQL URL: %w; use postgres://user:password@host:port/db or a key=value string", err)
	}
	cfg.AfterConnect = func(ctx context.Context, conn *pgx.Conn) error {
		_, err := conn.Exec(ctx, "SET ROLE "+AppRole)
		return err
	}
	cfg.ConnConfig.Tracer = pg.QueryTracer{}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open PostgreSQL pool: %w", err)
	}

	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to PostgreSQL at %s:%d as role %s: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, AppRole, err)
	}
	return pool, nil
}

// NewStore returns a Store on a pool from Open whose database has the
// tenancy schema migrated.
func NewStore(pool *pgxpool.Pool) *Store {
	return &Store{pool: pool}
}

var _ app.Store = (*Store)(nil)

// inTenant runs fn in a transaction that row-level security scopes to
// tenantID.
func (s *Store) inTenant(ctx context.Context, tenantID string, fn func(tx pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT set_config('app.tenant_id', $1, true)", tenantID); err != nil {
			return fmt.Errorf("set tenant of transaction: %w", err)
		}
		return fn(tx)
	})
}

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

func (s *Store) SetTenantStatus(ctx context.Context, id string, status domain.TenantStatus) error {
	tag, err := s.pool.Exec(ctx, `UPDATE tenancy.tenants SET status = $2 WHERE id = $1`, id, string(status))
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return app.ErrNotFound
	}
	return nil
}

func (s *Store) ChangePlan(ctx context.Context, id string, plan domain.Plan, o domain.Overrides) error {
	tag, err := s.pool.Exec(ctx, `
		UPDATE tenancy.tenants SET plan = $2, max_apps_override = $3, max_hosts_override = $4,
			tool_calls_per_minute_override = $5
		WHERE id = $1`, id, string(plan), o.MaxApps, o.MaxHosts, o.ToolCallsPerMinute)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return app.ErrNotFound
	}
	return nil
}

const selectLimits = `
	SELECT t.id, t.slug, t.display_name, t.plan, t.status, t.create_time,
		COALESCE(t.max_apps_override, p.max_apps),
		COALESCE(t.max_hosts_override, p.max_hosts),
		COALESCE(t.tool_calls_per_minute_override, p.tool_calls_per_minute),
		p.read_only, p.dedicated_hosts
	FROM tenancy.tenants t JOIN tenancy.plans p ON p.name = t.plan
	WHERE t.id = $1`

func (s *Store) Limits(ctx context.Context, tenantID string) (*domain.Limits, error) {
	return scanLimits(s.pool.QueryRow(ctx, selectLimits, tenantID))
}

// lockLimits loads a tenant's limits and locks its row until tx ends, which
// serializes every quota check of the tenant.
func lockLimits(ctx context.Context, tx pgx.Tx, tenantID string) (*domain.Limits, error) {
	return scanLimits(tx.QueryRow(ctx, selectLimits+` FOR UPDATE OF t`, tenantID))
}

func scanLimits(row pgx.Row) (*domain.Limits, error) {
	var l domain.Limits
	var plan, status string
	err := row.Scan(&l.Tenant.ID, &l.Tenant.Slug, &l.Tenant.DisplayName, &plan, &status, &l.Tenant.CreateTime,
		&l.MaxApps, &l.MaxHosts, &l.ToolCallsPerMinute, &l.ReadOnly, &l.DedicatedHosts)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, app.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	l.Tenant.Plan, l.Tenant.Status, l.Tenant.CreateTime = domain.Plan(plan), domain.TenantStatus(status), l.Tenant.CreateTime.UTC()
	return &l, nil
}

func (s *Store) CreateHost(ctx context.Context, h *domain.Host, admit app.AdmitFunc) error {
	return s.inTenant(ctx, h.TenantID, func(tx pgx.Tx) error {
		limits, err := lockLimits(ctx, tx, h.TenantID)
		if err != nil {
			return err
		}
		var hosts int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM tenancy.hosts WHERE tenant_id = $1`, h.TenantID).Scan(&hosts); err != nil {
			return err
		}
		if err := admit(limits, hosts); err != nil {
			return err
		}

		_, err = tx.Exec(ctx, `
			INSERT INTO tenancy.hosts (id, tenant_id, name, address, port, ssh_user, host_key,
				host_key_fingerprint, credential_mode, create_time)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			h.ID, h.TenantID, h.Name, h.Address, h.Port, h.SSHUser, h.HostKey,
			h.HostKeyFingerprint, string(h.CredentialMode), h.CreateTime)
		return mapUniqueViolation(err, "hosts_tenant_name_key")
	})
}

const selectHost = `
	SELECT id, tenant_id, name, address, port, ssh_user, host_key, host_key_fingerprint,
		credential_mode, create_time, dokku_version, plugins, verify_time
	FROM tenancy.hosts`

func (s *Store) HostByID(ctx context.Context, tenantID, hostID string) (*domain.Host, error) {
	return s.oneHost(ctx, tenantID, selectHost+` WHERE tenant_id = $1 AND id = $2`, tenantID, hostID)
}

func (s *Store) HostByName(ctx context.Context, tenantID, name string) (*domain.Host, error) {
	return s.oneHost(ctx, tenantID, selectHost+` WHERE tenant_id = $1 AND name = $2`, tenantID, name)
}

func (s *Store) Hosts(ctx context.Context, tenantID string) ([]domain.Host, error) {
	var hosts []domain.Host
	err := s.inTenant(ctx, tenantID, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, selectHost+` WHERE tenant_id = $1 ORDER BY name`, tenantID)
		if err != nil {
			return err
		}
		hosts, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (domain.Host, error) {
			h, err := scanHost(row)
			if err != nil {
				return domain.Host{}, err
			}
			return *h, nil
		})
		return err
	})
	return hosts, err
}

func (s *Store) oneHost(ctx context.Context, tenantID, query string, args ...any) (*domain.Host, error) {
	var h *domain.Host
	err := s.inTenant(ctx, tenantID, func(tx pgx.Tx) error {
		var err error
		h, err = scanHost(tx.QueryRow(ctx, query, args...))
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, app.ErrNotFound
	}
	return h, err
}

func scanHost(row pgx.Row) (*domain.Host, error) {
	var h domain.Host
	var mode string
	var verifyTime *time.Time
	err := row.Scan(&h.ID, &h.TenantID, &h.Name, &h.Address, &h.Port, &h.SSHUser, &h.HostKey,
		&h.HostKeyFingerprint, &mode, &h.CreateTime, &h.DokkuVersion, &h.Plugins, &verifyTime)
	if err != nil {
		return nil, err
	}
	h.CredentialMode, h.CreateTime = domain.CredentialMode(mode), h.CreateTime.UTC()
	if verifyTime != nil {
		h.VerifyTime = verifyTime.UTC()
	}
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
