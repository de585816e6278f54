// Package migrations embeds the SQL of DokkuExec's schema, dokkuexec.
package migrations

import "embed"

// FS holds the migration files, applied in name order by platform/pg.Migrate.
//
//go:embed *.sql
var FS embed.FS
