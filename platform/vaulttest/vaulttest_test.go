package vaulttest_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"testing"

	"dokkumcp.dev/platform/vaulttest"
)

func TestServerHealthAndRootToken(t *testing.T) {
	t.Parallel()
	s := vaulttest.New(t)

	resp, err := http.Get(s.Addr + "/v1/sys/health")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/v1/sys/health status = %d, want 200", resp.StatusCode)
	}
	var health struct {
		Initialized bool `json:"initialized"`
		Sealed      bool `json:"sealed"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&health); err != nil {
		t.Fatal(err)
	}
	if !health.Initialized || health.Sealed {
		t.Errorf("health = %+v, want initialized and unsealed", health)
	}

	req, err := http.NewRequest(http.MethodGet, s.Addr+"/v1/auth/token/lookup-self", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Vault-Token", s.RootToken)
	lookup, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	lookup.Body.Close()
	if lookup.StatusCode != http.StatusOK {
		t.Errorf("token lookup with RootToken: status = %d, want 200", lookup.StatusCode)
	}
}

func TestStopRemovesHome(t *testing.T) {
	// Start creates its home folder in $TMPDIR, so a private TMPDIR shows
	// what Stop leaves behind. t.Setenv rules out t.Parallel.
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	if _, err := vaulttest.Binary(); err != nil {
		t.Skip(err)
	}
	s, err := vaulttest.Start(context.Background())
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	entries, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		s.Stop()
		t.Fatalf("TMPDIR holds %d entries while Vault runs, want its home folder only", len(entries))
	}

	if err := s.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	entries, err = os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("%s is left in TMPDIR after Stop", e.Name())
	}
	if resp, err := http.Get(s.Addr + "/v1/sys/health"); err == nil {
		resp.Body.Close()
		t.Error("Vault still answers after Stop")
	}
}
