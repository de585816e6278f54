// Package postgres stores DokkuExec's deployments in its own schema.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"dokkumcp.dev/dokkuexec/internal/app"
	"dokkumcp.dev/dokkuexec/internal/domain"
)

// Store implements app.DeploymentStore.
//
// NOTE: the table has no row-level security, unlike Tenancy's: every query
// names the tenant, except those of reconciliation, which reads every
// tenant's stale deployments.
type Store struct {
	pool *pgxpool.Pool
}

var _ app.DeploymentStore = (*Store)(nil)

// NewStore returns a Store on pool, whose search path need not include the
// dokkuexec schema.
func NewStore(pool *pgxpool.Pool) *Store {
	return &Store{pool: pool}
}

const columns = `id, tenant_id, host_id, host_name, app, source_kind, repository, ref, image, status, message, step,
	build_id, exit_code, output_lines, create_time, start_time, end_time, runner`

// uniqueViolation is PostgreSQL's SQLSTATE for a unique index conflict.
const uniqueViolation = "23505"

// InsertDeployment stores a new deployment. When the app already has a
// queued or running one, it returns *app.DeploymentConflictError naming it.
func (s *Store) InsertDeployment(ctx context.Context, d domain.Deployment) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO dokkuexec.deployments (`+columns+`, heartbeat_time)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $16)`, values(d)...)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == uniqueViolation && pgErr.ConstraintName == "deployments_one_active_per_app" {
		var running string
		lookup := s.pool.QueryRow(ctx, `SELECT id FROM dokkuexec.deployments
			WHERE tenant_id = $1 AND host_id = $2 AND app = $3 AND status IN ('queued', 'running')`, d.TenantID, d.HostID, string(d.App))
		if lookupErr := lookup.Scan(&running); lookupErr != nil && !errors.Is(lookupErr, pgx.ErrNoRows) {
			return fmt.Errorf("find the running deployment of app %s: %w", d.App, lookupErr)
		}
		return &app.DeploymentConflictError{RunningID: running}
	}
	if err != nil {
		return fmt.Errorf("insert deployment %s: %w", d.ID, err)
	}
	return nil
}

// UpdateDeployment stores the deployment's changing fields.
func (s *Store) UpdateDeployment(ctx context.Context, d domain.Deployment) error {
	tag, err := s.pool.Exec(ctx, `UPDATE dokkuexec.deployments
		SET status = $3, message = $4, step = $5, build_id = $6, exit_code = $7, output_lines = $8, start_time = $9, end_time = $10
		WHERE tenant_id = $1 AND id = $2`,
		d.TenantID, d.ID, string(d.Status), d.Message, d.Step, d.BuildID, d.ExitCode, d.OutputLines, d.StartTime, d.EndTime)
	if err != nil {
		return fmt.Errorf("update deployment %s: %w", d.ID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("update deployment %s: no such deployment", d.ID)
	}
	return nil
}

// GetDeployment returns one of the tenant's deployments, or
// app.ErrDeploymentNotFound.
func (s *Store) GetDeployment(ctx context.Context, tenantID, id string) (domain.Deployment, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+columns+` FROM dokkuexec.deployments WHERE tenant_id = $1 AND id = $2`, tenantID, id)
	if err != nil {
		return domain.Deployment{}, fmt.Errorf("get deployment %s: %w", id, err)
	}
	found, err := collect(rows)
	if err != nil {
		return domain.Deployment{}, fmt.Errorf("get deployment %s: %w", id, err)
	}
	if len(found) == 0 {
		return domain.Deployment{}, app.ErrDeploymentNotFound
	}
	return found[0], nil
}

// ListDeployments returns an app's deployments, newest first.
func (s *Store) ListDeployments(ctx context.Context, tenantID, hostID string, appName domain.AppName, limit int) ([]domain.Deployment, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+columns+` FROM dokkuexec.deployments
		WHERE tenant_id = $1 AND host_id = $2 AND app = $3 ORDER BY create_time DESC, id LIMIT $4`, tenantID, hostID, string(appName), limit)
	if err != nil {
		return nil, fmt.Errorf("list deployments of app %s: %w", appName, err)
	}
	return collect(rows)
}

// ListStaleDeployments returns every tenant's queued and running
// deployments whose runner last proved alive before staleBefore, oldest
// first.
func (s *Store) ListStaleDeployments(ctx context.Context, staleBefore time.Time) ([]domain.Deployment, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+columns+` FROM dokkuexec.deployments
		WHERE status IN ('queued', 'running') AND heartbeat_time < $1 ORDER BY create_time`, staleBefore)
	if err != nil {
		return nil, fmt.Errorf("list stale deployments: %w", err)
	}
	return collect(rows)
}

// ClaimDeployment makes runner the runner of a stale deployment. It
// reports false when another runner proved alive or claimed it first.
func (s *Store) ClaimDeployment(ctx context.Context, id, runner string, now, staleBefore time.Time) (bool, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE dokkuexec.deployments SET runner = $2, heartbeat_time = $3
		WHERE id = $1 AND status IN ('queued', 'running') AND heartbeat_time < $4`, id, runner, now, staleBefore)
	if err != nil {
		return false, fmt.Errorf("claim deployment %s: %w", id, err)
	}
	return tag.RowsAffected() == 1, nil
}

// Heartbeat records that runner is alive for its unfinished deployments.
func (s *Store) Heartbeat(ctx context.Context, runner string, now time.Time) error {
	_, err := s.pool.Exec(ctx, `UPDATE dokkuexec.deployments SET heartbeat_time = $2
		WHERE runner = $1 AND status IN ('queued', 'running')`, runner, now)
	if err != nil {
		return fmt.Errorf("record heartbeat of runner %s: %w", runner, err)
	}
	return nil
}

func values(d domain.Deployment) []any {
	return []any{d.ID, d.TenantID, d.HostID, d.HostName, string(d.App), string(d.Source.Kind), string(d.Source.Repository),
		string(d.Source.Ref), string(d.Source.Image), string(d.Status), d.Message, d.Step, d.BuildID, d.ExitCode,
		d.OutputLines, d.CreateTime, d.StartTime, d.EndTime, d.Runner}
}

func collect(rows pgx.Rows) ([]domain.Deployment, error) {
	var out []domain.Deployment
	defer rows.Close()
	for rows.Next() {
		var d domain.Deployment
		var app, kind, repository, ref, image, status string
		err := rows.Scan(&d.ID, &d.TenantID, &d.HostID, &d.HostName, &app, &kind, &repository, &ref, &image, &status,
			&d.Message, &d.Step, &d.BuildID, &d.ExitCode, &d.OutputLines, &d.CreateTime, &d.StartTime, &d.EndTime, &d.Runner)
		if err != nil {
			return nil, err
		}
		d.App = domain.AppName(app)
		d.Source = domain.DeploymentSource{Kind: domain.SourceKind(kind), Repository: domain.GitRepository(repository),
			Ref: domain.GitRef(ref), Image: domain.ImageReference(image)}
		d.Status = domain.DeploymentStatus(status)
		d.CreateTime = d.CreateTime.UTC()
		out = append(out, d)
	}
	return out, rows.Err()
}
