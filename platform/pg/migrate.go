package pg

import (
	"context"
	"fmt"
	"hash/fnv"
	"io/fs"
	"regexp"
	"sort"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

var migrationName = regexp.MustCompile(`^(\d{4})_[a-z0-9_]+\.sql$`)
var schemaName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// Migrate applies the files NNNN_name.sql found at the root of migrations,
// in order, each in its own transaction, into schema. Applied versions are
// recorded in <schema>.schema_migrations. A transaction-level advisory lock
// per schema lets several replicas start at once.
func Migrate(ctx context.Context, pool *pgxpool.Pool, schema string, migrations fs.FS) error {
	if !schemaName.MatchString(schema) {
		return fmt.Errorf("invalid schema name %q: use lower-case letters, digits and underscores", schema)
	}
	entries, err := fs.ReadDir(migrations, ".")
	if err != nil {
		return fmt.Errorf("read migrations of schema %s: %w", schema, err)
	}
	var files []string
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		if !migrationName.MatchString(e.Name()) {
			return fmt.Errorf("invalid migration file name %q in schema %s: use NNNN_name.sql", e.Name(), schema)
		}
		files = append(files, e.Name())
	}
	sort.Strings(files)

	for _, name := range files {
		body, err := fs.ReadFile(migrations, name)
		if err != nil {
			return err
		}
		version := name[:4]
		if err := applyMigration(ctx, pool, schema, version, name, string(body)); err != nil {
			return err
		}
	}
	return nil
}

func applyMigration(ctx context.Context, pool *pgxpool.Pool, schema, version, name, body string) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", lockKey(schema)); err != nil {
			return fmt.Errorf("lock migrations of schema %s: %w", schema, err)
		}
		setup := fmt.Sprintf(`CREATE SCHEMA IF NOT EXISTS %[1]s;
			CREATE TABLE IF NOT EXISTS %[1]s.schema_migrations (
				version text PRIMARY KEY,
				name text NOT NULL,
				applied_at timestamptz NOT NULL DEFAULT now())`, schema)
		if _, err := tx.Exec(ctx, setup); err != nil {
			return fmt.Errorf("create schema %s: %w", schema, err)
		}

		var applied bool
		err := tx.QueryRow(ctx, fmt.Sprintf("SELECT EXISTS (SELECT 1 FROM %s.schema_migrations WHERE version = $1)", schema), version).Scan(&applied)
		if err != nil || applied {
			return err
		}

		if _, err := tx.Exec(ctx, fmt.Sprintf("SET LOCAL search_path TO %s", schema)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, body); err != nil {
			return fmt.Errorf("apply migration %s to schema %s: %w", name, schema, err)
		}
		_, err = tx.Exec(ctx, fmt.Sprintf("INSERT INTO %s.schema_migrations (version, name) VALUES ($1, $2)", schema), version, name)
		return err
	})
}

func lockKey(schema string) int64 {
	h := fnv.New64a()
	h.Write([]byte("dokkumcp.migrate." + schema))
	return int64(h.Sum64())
}
