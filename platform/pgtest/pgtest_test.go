package pgtest_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"

	"dokkumcp.dev/platform/pgtest"
)

func TestClusterStopRemovesDirectory(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cluster, err := pgtest.Start(ctx)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			cluster.Stop()
		}
	})

	url, err := cluster.CreateDatabase(ctx, "widgets")
	if err != nil {
		t.Fatalf("CreateDatabase: %v", err)
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect to the new database: %v", err)
	}
	var name string
	if err := conn.QueryRow(ctx, "SELECT current_database()").Scan(&name); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	if name != "widgets" {
		t.Errorf("current_database() = %q, want widgets", name)
	}

	if _, err := cluster.CreateDatabase(ctx, "widgets"); err == nil {
		t.Error("CreateDatabase created a database that exists")
	}

	// The cluster's socket folder is its temporary directory.
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	dir := cfg.Host
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("cluster directory %s: %v", dir, err)
	}

	stopped = true
	if err := cluster.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("cluster directory %s still exists after Stop (stat error %v)", dir, err)
	}
	if conn, err := pgx.Connect(ctx, url); err == nil {
		conn.Close(ctx)
		t.Error("the cluster still accepts connections after Stop")
	}
}

func TestNewDatabaseIsEmptyAndSeparate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	first, second := pgtest.NewDatabase(t), pgtest.NewDatabase(t)
	if first == second {
		t.Fatalf("NewDatabase returned %q twice", first)
	}

	conn, err := pgx.Connect(ctx, first)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE TABLE only_in_first (id int)"); err != nil {
		t.Fatal(err)
	}

	other, err := pgx.Connect(ctx, second)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(ctx)
	var exists bool
	if err := other.QueryRow(ctx, "SELECT to_regclass('only_in_first') IS NOT NULL").Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if exists {
		t.Error("a table created in one database is visible in the other")
	}
}

func TestMain(m *testing.M) { pgtest.Main(m) }
