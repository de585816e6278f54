// Package migrations holds the SQL of Identity's schema, applied at start
// by platform/pg.Migrate.
package migrations

import "embed"

// FS contains the migration files NNNN_name.sql.
//
//go:embed *.sql
var FS embed.FS
