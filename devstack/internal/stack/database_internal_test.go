package stack

import (
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"dokkumcp.dev/platform/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestCheckEmptyDatabase checks that a database an earlier start used is
// refused up front with the fix, rather than by Identity failing to open
// signing keys sealed under the earlier start's random master key.
func TestCheckEmptyDatabase(t *testing.T) {
	t.Parallel()
	empty := pgtest.NewDatabase(t)
	if err := checkEmptyDatabase(t.Context(), empty); err != nil {
		t.Fatalf("checkEmptyDatabase(empty) = %v, want nil", err)
	}

	used := pgtest.NewDatabase(t)
	conn, err := pgx.Connect(t.Context(), used)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	if _, err := conn.Exec(t.Context(), "CREATE SCHEMA identity; CREATE SCHEMA tenancy"); err != nil {
		t.Fatal(err)
	}
	err = checkEmptyDatabase(t.Context(), used)
	if err == nil || !strings.Contains(err.Error(), "identity, tenancy") || !strings.Contains(err.Error(), "empty database") {
		t.Errorf("checkEmptyDatabase(used) = %v, want an error naming the schemas and asking for an empty database", err)
	}
}
