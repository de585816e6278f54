package vaulttest

import (
	"context"
	"os"
	"testing"
)

// New starts a dev server for one test and stops it when the test ends.
// Without the binary the test is skipped locally but fails under CI, where
// .ci/run builds it.
func New(t testing.TB) *Server {
	t.Helper()
	if _, err := Binary(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	s, err := Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop() })
	return s
}
