package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"dokkumcp.dev/tenancy/internal/app"
	"dokkumcp.dev/tenancy/internal/domain"
)

func (s *Store) RecordHostVerification(ctx context.Context, tenantID, hostID string, v domain.Verification, now time.Time) (*domain.Host, error) {
	plugins := v.Plugins
	if plugins == nil {
		plugins = []string{}
	}
	var h *domain.Host
	err := s.inTenant(ctx, tenantID, func(tx pgx.Tx) error {
		var err error
		h, err = scanHost(tx.QueryRow(ctx, `
			UPDATE tenancy.hosts SET dokku_version = $3, plugins = $4, verify_time = $5
			WHERE tenant_id = $1 AND id = $2
			RETURNING id, tenant_id, name, address, port, ssh_user, host_key, host_key_fingerprint,
				credential_mode, create_time, dokku_version, plugins, verify_time`,
			tenantID, hostID, v.DokkuVersion, plugins, now))
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, app.ErrNotFound
	}
	return h, err
}

func (s *Store) RemoveHost(ctx context.Context, tenantID, hostID string, force bool) (app.RemovedHost, error) {
	var removed app.RemovedHost
	err := s.inTenant(ctx, tenantID, func(tx pgx.Tx) error {
		// The tenant's row lock orders the removal with ReserveApp, which
		// takes the same lock before it checks that the host exists.
		if _, err := lockLimits(ctx, tx, tenantID); err != nil {
			return err
		}
		var exists bool
		var apps int
		err := tx.QueryRow(ctx, `
			SELECT EXISTS (SELECT 1 FROM tenancy.hosts WHERE tenant_id = $1 AND id = $2),
				(SELECT count(*) FROM tenancy.apps WHERE tenant_id = $1 AND host_id = $2)`,
			tenantID, hostID).Scan(&exists, &apps)
		if err != nil {
			return err
		}
		if !exists {
			return app.ErrHostNotFound
		}
		if apps > 0 && !force {
			return &app.HostInUseError{Apps: apps}
		}

		tag, err := tx.Exec(ctx, `DELETE FROM tenancy.apps WHERE tenant_id = $1 AND host_id = $2`, tenantID, hostID)
		if err != nil {
			return err
		}
		removed.Apps = int(tag.RowsAffected())
		tag, err = tx.Exec(ctx, `DELETE FROM tenancy.app_reservations WHERE tenant_id = $1 AND host_id = $2`, tenantID, hostID)
		if err != nil {
			return err
		}
		removed.Reservations = int(tag.RowsAffected())
		_, err = tx.Exec(ctx, `DELETE FROM tenancy.hosts WHERE tenant_id = $1 AND id = $2`, tenantID, hostID)
		return err
	})
	return removed, err
}

func (s *Store) Usage(ctx context.Context, tenantID string, now time.Time) (*domain.Usage, error) {
	usage := &domain.Usage{TenantID: tenantID}
	err := s.inTenant(ctx, tenantID, func(tx pgx.Tx) error {
		var tenantExists bool
		var lastEvent *time.Time
		err := tx.QueryRow(ctx, `
			SELECT EXISTS (SELECT 1 FROM tenancy.tenants WHERE id = $1),
				(SELECT count(*) FROM tenancy.apps WHERE tenant_id = $1),
				(SELECT count(*) FROM tenancy.hosts WHERE tenant_id = $1),
				(SELECT count(*) FROM tenancy.app_reservations WHERE tenant_id = $1 AND expire_time > $2),
				(SELECT count(*) FROM tenancy.audit_events WHERE tenant_id = $1),
				(SELECT max(time) FROM tenancy.audit_events WHERE tenant_id = $1)`,
			tenantID, now).Scan(&tenantExists, &usage.Apps, &usage.Hosts, &usage.PendingReservations,
			&usage.AuditEvents, &lastEvent)
		if err != nil {
			return err
		}
		if !tenantExists {
			return app.ErrNotFound
		}
		if lastEvent != nil {
			usage.LastEventTime = lastEvent.UTC()
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return usage, nil
}
