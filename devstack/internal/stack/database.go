package stack

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// serviceSchemas are the schemas the services create in the database.
var serviceSchemas = []string{"dokkuexec", "identity", "secrets", "tenancy"}

// checkEmptyDatabase refuses a database that an earlier start used. Every
// start makes a new master key, CA and service secrets, which cannot open
// what an earlier start sealed there, so Identity would fail to load its
// signing keys with a message about a master key the stack never shows.
func checkEmptyDatabase(ctx context.Context, url string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return fmt.Errorf("connect to the PostgreSQL given with --postgres-url: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	rows, err := conn.Query(ctx, "SELECT nspname FROM pg_namespace WHERE nspname = ANY($1) ORDER BY nspname", serviceSchemas)
	if err != nil {
		return fmt.Errorf("list the schemas of the PostgreSQL given with --postgres-url: %w", err)
	}
	found, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("list the schemas of the PostgreSQL given with --postgres-url: %w", err)
	}
	if len(found) > 0 {
		return fmt.Errorf("the database given with --postgres-url already contains the schemas %s of an earlier start. "+
			"the development stack makes new keys at every start and cannot open what an earlier one stored: "+
			"give an empty database, or drop those schemas with DROP SCHEMA ... CASCADE", strings.Join(found, ", "))
	}
	return nil
}
