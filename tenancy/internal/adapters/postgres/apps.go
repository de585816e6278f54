package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"dokkumcp.dev/tenancy/internal/app"
	"dokkumcp.dev/tenancy/internal/domain"
)

func (s *Store) ReserveApp(ctx context.Context, r *domain.AppReservation, admit app.AdmitFunc) error {
	return s.inTenant(ctx, r.TenantID, func(tx pgx.Tx) error {
		// The row lock on the tenant makes concurrent reservations of one
		// tenant count and insert one after another.
		limits, err := lockLimits(ctx, tx, r.TenantID)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM tenancy.app_reservations WHERE tenant_id = $1 AND expire_time <= $2`,
			r.TenantID, r.CreateTime); err != nil {
			return err
		}

		var hostExists, appExists bool
		var apps int
		err = tx.QueryRow(ctx, `
			SELECT EXISTS (SELECT 1 FROM tenancy.hosts WHERE tenant_id = $1 AND id = $2),
				EXISTS (SELECT 1 FROM tenancy.apps WHERE tenant_id = $1 AND host_id = $2 AND name = $3),
				(SELECT count(*) FROM tenancy.apps WHERE tenant_id = $1)
					+ (SELECT count(*) FROM tenancy.app_reservations WHERE tenant_id = $1)`,
			r.TenantID, r.HostID, r.App).Scan(&hostExists, &appExists, &apps)
		if err != nil {
			return err
		}
		if !hostExists {
			return app.ErrHostNotFound
		}
		if appExists {
			return app.ErrAppExists
		}
		if err := admit(limits, apps); err != nil {
			return err
		}

		_, err = tx.Exec(ctx, `
			INSERT INTO tenancy.app_reservations (id, tenant_id, host_id, app, create_time, expire_time)
			VALUES ($1, $2, $3, $4, $5, $6)`,
			r.ID, r.TenantID, r.HostID, r.App, r.CreateTime, r.ExpireTime)
		return mapUniqueViolation(err, "app_reservations_app_key")
	})
}

func (s *Store) CommitAppReservation(ctx context.Context, tenantID, id string, now time.Time) error {
	return s.inTenant(ctx, tenantID, func(tx pgx.Tx) error {
		var hostID, name string
		err := tx.QueryRow(ctx, `
			DELETE FROM tenancy.app_reservations WHERE tenant_id = $1 AND id = $2 AND expire_time > $3
			RETURNING host_id, app`, tenantID, id, now).Scan(&hostID, &name)
		if errors.Is(err, pgx.ErrNoRows) {
			return app.ErrNotFound
		}
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `
			INSERT INTO tenancy.apps (tenant_id, host_id, name, create_time) VALUES ($1, $2, $3, $4)
			ON CONFLICT DO NOTHING`, tenantID, hostID, name, now)
		return err
	})
}

func (s *Store) ReleaseAppReservation(ctx context.Context, tenantID, id string) error {
	return s.inTenant(ctx, tenantID, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM tenancy.app_reservations WHERE tenant_id = $1 AND id = $2`, tenantID, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return app.ErrNotFound
		}
		return nil
	})
}

func (s *Store) RemoveApp(ctx context.Context, tenantID, hostID, name string) (bool, error) {
	var removed bool
	err := s.inTenant(ctx, tenantID, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM tenancy.apps WHERE tenant_id = $1 AND host_id = $2 AND name = $3`,
			tenantID, hostID, name)
		removed = tag.RowsAffected() > 0
		return err
	})
	return removed, err
}
