package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"dokkumcp.dev/tenancy/internal/app"
	"dokkumcp.dev/tenancy/internal/domain"
)

func (s *Store) AppendAuditEvent(ctx context.Context, e *domain.AuditEvent) error {
	err := s.inTenant(ctx, e.TenantID, func(tx pgx.Tx) error {
		// The advisory lock serializes appends per tenant until commit, so
		// seq stays gapless and each prev_hash is the committed head's hash.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('tenancy.audit_events:' || $1, 0))`, e.TenantID); err != nil {
			return err
		}
		prevSeq, prevHash := int64(0), domain.GenesisHash
		err := tx.QueryRow(ctx, `SELECT seq, hash FROM tenancy.audit_events WHERE tenant_id = $1 ORDER BY seq DESC LIMIT 1`,
			e.TenantID).Scan(&prevSeq, &prevHash)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		e.Chain(prevSeq, prevHash)

		_, err = tx.Exec(ctx, `
			INSERT INTO tenancy.audit_events (tenant_id, seq, time, subject, client_id, actor, operation, target,
				arguments, result, latency_ms, trace_id, prev_hash, hash)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
			e.TenantID, e.Seq, e.Time, e.Subject, e.ClientID, e.Actor, e.Operation, e.Target,
			e.Arguments, e.Result, e.LatencyMS, e.TraceID, e.PrevHash, e.Hash)
		return err
	})
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == foreignKeyViolation {
		return app.ErrNotFound
	}
	return err
}

func (s *Store) ScanAuditEvents(ctx context.Context, tenantID string, filter domain.AuditFilter, afterSeq int64, limit int, fn func(*domain.AuditEvent) error) error {
	query, args := auditQuery(tenantID, filter, afterSeq, limit)
	return s.inTenant(ctx, tenantID, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var e domain.AuditEvent
			err := rows.Scan(&e.TenantID, &e.Seq, &e.Time, &e.Subject, &e.ClientID, &e.Actor, &e.Operation, &e.Target,
				&e.Arguments, &e.Result, &e.LatencyMS, &e.TraceID, &e.PrevHash, &e.Hash)
			if err != nil {
				return err
			}
			e.Time = e.Time.UTC()
			if err := fn(&e); err != nil {
				return err
			}
		}
		return rows.Err()
	})
}

// auditQuery builds the SELECT for ScanAuditEvents; limit 0 means all rows.
func auditQuery(tenantID string, filter domain.AuditFilter, afterSeq int64, limit int) (string, []any) {
	args := []any{tenantID, afterSeq}
	where := []string{"tenant_id = $1", "seq > $2"}
	add := func(condition string, value any) {
		args = append(args, value)
		where = append(where, fmt.Sprintf(condition, len(args)))
	}
	if !filter.Start.IsZero() {
		add("time >= $%d", filter.Start)
	}
	if !filter.End.IsZero() {
		add("time < $%d", filter.End)
	}
	if filter.Principal != "" {
		add("(subject = $%[1]d OR actor = $%[1]d)", filter.Principal)
	}
	if filter.Operation != "" {
		add("operation = $%d", filter.Operation)
	}
	if filter.Result != "" {
		add("result = $%d", filter.Result)
	}

	query := `SELECT tenant_id, seq, time, subject, client_id, actor, operation, target, arguments, result,
		latency_ms, trace_id, prev_hash, hash
		FROM tenancy.audit_events WHERE ` + strings.Join(where, " AND ") + ` ORDER BY seq`
	if limit > 0 {
		query += fmt.Sprintf(" LIMIT %d", limit)
	}
	return query, args
}
