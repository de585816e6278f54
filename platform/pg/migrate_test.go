package pg_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5/pgxpool"

	"dokkumcp.dev/platform/pg"
	"dokkumcp.dev/platform/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func connect(t *testing.T) *pgxpool.Pool {
	t.Helper()
	pool, err := pg.Connect(context.Background(), pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func file(body string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(body)} }

// widgetMigrations create a table and insert one row, so a migration applied
// twice fails or leaves two rows.
func widgetMigrations() fstest.MapFS {
	return fstest.MapFS{
		"0002_seed.sql":    file(`INSERT INTO widgets (name) VALUES ('first');`),
		"0001_widgets.sql": file(`CREATE TABLE widgets (id bigserial PRIMARY KEY, name text NOT NULL);`),
		"0003_index.sql":   file(`CREATE UNIQUE INDEX widgets_name ON widgets (name); ALTER TABLE widgets ADD COLUMN size int;`),
	}
}

// appliedVersions returns the versions and names recorded in schema.
func appliedVersions(t *testing.T, pool *pgxpool.Pool, schema string) []string {
	t.Helper()
	rows, err := pool.Query(context.Background(), "SELECT version || ' ' || name FROM "+schema+".schema_migrations ORDER BY version")
	if err != nil {
		t.Fatal(err)
	}
	var versions []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		versions = append(versions, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return versions
}

func countRows(t *testing.T, pool *pgxpool.Pool, table string) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func tableExists(t *testing.T, pool *pgxpool.Pool, name string) bool {
	t.Helper()
	var exists bool
	if err := pool.QueryRow(context.Background(), "SELECT to_regclass($1) IS NOT NULL", name).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	return exists
}

func TestMigrateAppliesInOrder(t *testing.T) {
	t.Parallel()
	pool := connect(t)
	ctx := context.Background()

	if err := pg.Migrate(ctx, pool, "tenancy", widgetMigrations()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}

	if !tableExists(t, pool, "tenancy.widgets") {
		t.Error("table tenancy.widgets was not created")
	}
	if tableExists(t, pool, "public.widgets") {
		t.Error("table public.widgets was created outside the schema")
	}
	if !tableExists(t, pool, "tenancy.widgets_name") {
		t.Error("index tenancy.widgets_name was not created")
	}
	if n := countRows(t, pool, "tenancy.widgets"); n != 1 {
		t.Errorf("tenancy.widgets has %d rows, want 1", n)
	}
	want := []string{"0001 0001_widgets.sql", "0002 0002_seed.sql", "0003 0003_index.sql"}
	if got := appliedVersions(t, pool, "tenancy"); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("applied versions = %q, want %q", got, want)
	}
}

func TestMigrateIdempotent(t *testing.T) {
	t.Parallel()
	pool := connect(t)
	ctx := context.Background()

	for run := range 2 {
		if err := pg.Migrate(ctx, pool, "tenancy", widgetMigrations()); err != nil {
			t.Fatalf("Migrate run %d: %v", run+1, err)
		}
	}
	if n := countRows(t, pool, "tenancy.widgets"); n != 1 {
		t.Errorf("tenancy.widgets has %d rows after two runs, want 1", n)
	}
	if got := appliedVersions(t, pool, "tenancy"); len(got) != 3 {
		t.Errorf("applied versions = %q, want 3", got)
	}

	// A later run applies only the new file.
	more := widgetMigrations()
	more["0004_more.sql"] = file(`INSERT INTO widgets (name) VALUES ('second');`)
	if err := pg.Migrate(ctx, pool, "tenancy", more); err != nil {
		t.Fatalf("Migrate with a new file: %v", err)
	}
	if n := countRows(t, pool, "tenancy.widgets"); n != 2 {
		t.Errorf("tenancy.widgets has %d rows after a new migration, want 2", n)
	}
}

func TestMigrateSchemasAreSeparate(t *testing.T) {
	t.Parallel()
	pool := connect(t)
	ctx := context.Background()

	for _, schema := range []string{"tenancy", "secrets"} {
		if err := pg.Migrate(ctx, pool, schema, widgetMigrations()); err != nil {
			t.Fatalf("Migrate %s: %v", schema, err)
		}
	}
	for _, table := range []string{"tenancy.widgets", "secrets.widgets"} {
		if n := countRows(t, pool, table); n != 1 {
			t.Errorf("%s has %d rows, want 1", table, n)
		}
	}
}

func TestMigrateRejectsBadFileNames(t *testing.T) {
	t.Parallel()
	pool := connect(t)
	tests := []string{
		"1_init.sql",
		"00001_init.sql",
		"0001_Init.sql",
		"0001-init.sql",
		"0001_init.txt",
		"0001_.sql",
		"init.sql",
		"README.md",
	}
	for _, name := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			schema := "bad_" + strings.NewReplacer(".", "_", "-", "_").Replace(strings.ToLower(name))
			migrations := fstest.MapFS{
				"0001_ok.sql": file(`CREATE TABLE ok (id int);`),
				name:          file(`CREATE TABLE bad (id int);`),
			}

			err := pg.Migrate(context.Background(), pool, schema, migrations)
			if err == nil {
				t.Fatalf("Migrate accepted file %q", name)
			}
			if !strings.Contains(err.Error(), name) {
				t.Errorf("error %q does not name file %q", err, name)
			}
			if tableExists(t, pool, schema+".ok") {
				t.Error("Migrate applied files before rejecting the folder")
			}
		})
	}
}

func TestMigrateIgnoresFolders(t *testing.T) {
	t.Parallel()
	pool := connect(t)
	migrations := fstest.MapFS{
		"0001_ok.sql":         file(`CREATE TABLE ok (id int);`),
		"old/0002_nested.sql": file(`CREATE TABLE nested (id int);`),
		"old/not-a-migration": file(`garbage`),
	}

	if err := pg.Migrate(context.Background(), pool, "tenancy", migrations); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	if tableExists(t, pool, "tenancy.nested") {
		t.Error("Migrate applied a file from a subfolder")
	}
}

func TestMigrateRejectsBadSchemaNames(t *testing.T) {
	t.Parallel()
	pool := connect(t)
	tests := []string{"", "Tenancy", "1tenancy", "_tenancy", "ten-ancy", "tenancy;DROP", "ten ancy", `"tenancy"`}
	for _, schema := range tests {
		t.Run(schema, func(t *testing.T) {
			t.Parallel()
			err := pg.Migrate(context.Background(), pool, schema, widgetMigrations())
			if err == nil {
				t.Fatalf("Migrate accepted schema %q", schema)
			}
			if !strings.Contains(err.Error(), "invalid schema name") {
				t.Errorf("error %q does not say the schema name is invalid", err)
			}
		})
	}
}

func TestMigrateFailureRollsBack(t *testing.T) {
	t.Parallel()
	pool := connect(t)
	ctx := context.Background()
	migrations := fstest.MapFS{
		"0001_widgets.sql": file(`CREATE TABLE widgets (id int);`),
		"0002_broken.sql":  file(`CREATE TABLE gadgets (id int); INSERT INTO widgets VALUES (1); SELECT no_such_column FROM widgets;`),
		"0003_later.sql":   file(`CREATE TABLE later (id int);`),
	}

	err := pg.Migrate(ctx, pool, "tenancy", migrations)
	if err == nil {
		t.Fatal("Migrate succeeded with a broken migration")
	}
	if !strings.Contains(err.Error(), "0002_broken.sql") {
		t.Errorf("error %q does not name 0002_broken.sql", err)
	}
	if tableExists(t, pool, "tenancy.gadgets") {
		t.Error("the broken migration's table survived")
	}
	if n := countRows(t, pool, "tenancy.widgets"); n != 0 {
		t.Errorf("tenancy.widgets has %d rows from the broken migration, want 0", n)
	}
	if tableExists(t, pool, "tenancy.later") {
		t.Error("a migration after the broken one was applied")
	}
	if got := appliedVersions(t, pool, "tenancy"); strings.Join(got, ",") != "0001 0001_widgets.sql" {
		t.Errorf("applied versions = %q, want only 0001", got)
	}

	// Once fixed, the migration and the ones after it apply.
	migrations["0002_broken.sql"] = file(`CREATE TABLE gadgets (id int);`)
	if err := pg.Migrate(ctx, pool, "tenancy", migrations); err != nil {
		t.Fatalf("Migrate after the fix: %v", err)
	}
	if got := appliedVersions(t, pool, "tenancy"); len(got) != 3 {
		t.Errorf("applied versions after the fix = %q, want 3", got)
	}
}

func TestMigrateConcurrent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := pgtest.NewDatabase(t)
	// Two pools stand in for two replicas starting at once.
	var pools []*pgxpool.Pool
	for range 2 {
		pool, err := pg.Connect(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close)
		pools = append(pools, pool)
	}

	errs := make([]error, len(pools))
	var wg sync.WaitGroup
	for i, pool := range pools {
		wg.Go(func() {
			errs[i] = pg.Migrate(ctx, pool, "tenancy", widgetMigrations())
		})
	}
	wg.Wait()

	for i, err := range errs {
		if err != nil {
			t.Errorf("Migrate %d: %v", i+1, err)
		}
	}
	if n := countRows(t, pools[0], "tenancy.widgets"); n != 1 {
		t.Errorf("tenancy.widgets has %d rows, want 1 (each migration applied once)", n)
	}
	if got := appliedVersions(t, pools[0], "tenancy"); len(got) != 3 {
		t.Errorf("applied versions = %q, want 3", got)
	}
}

func TestConnectInvalidURL(t *testing.T) {
	t.Parallel()
	_, err := pg.Connect(context.Background(), "postgres://user:hunter2@[::1")
	if err == nil {
		t.Fatal("Connect accepted an invalid URL")
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error %q echoes the password", err)
	}
}
