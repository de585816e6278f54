package vault

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeKubernetesVault is a fake standing in for Vault's
// auth/<mount>/login endpoint of Kubernetes auth, which cannot run here
// without a cluster to review the ServiceAccount token. It records every
// login and responds with a non-renewable token that lives two seconds, so
// the client logs in again shortly.
type fakeKubernetesVault struct {
	mu     sync.Mutex
	logins []map[string]string
	paths  []string
}

func (f *fakeKubernetesVault) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.paths = append(f.paths, r.Method+" "+r.URL.Path)
	if r.URL.Path != "/v1/auth/k8s-test/login" {
		http.Error(w, `{"errors":["unexpected path"]}`, http.StatusNotFound)
		return
	}
	body, _ := io.ReadAll(r.Body)
	var login map[string]string
	if err := json.Unmarshal(body, &login); err != nil {
		http.Error(w, `{"errors":["bad body"]}`, http.StatusBadRequest)
		return
	}
	f.logins = append(f.logins, login)
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"auth":{"client_token":"fake-token","lease_duration":2,"renewable":false}}`)
}

func (f *fakeKubernetesVault) loginCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.logins)
}

func TestKubernetesLoginReadsTokenFileAtEveryLogin(t *testing.T) {
	fake := &fakeKubernetesVault{}
	server := httptest.NewServer(fake)
	defer server.Close()
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("jwt-one"), 0o600); err != nil {
		t.Fatal(err)
	}

	ca, err := New(Config{
		Address: server.URL,
		Auth:    AuthConfig{Method: AuthKubernetes, KubernetesMount: "k8s-test", KubernetesRole: "secrets", KubernetesTokenFile: tokenFile},
		Mount:   "ssh", Role: "dokku", TTL: time.Hour, Timeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	stop, err := ca.Start(context.Background(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer stop()
	if got := ca.client.Token(); got != "fake-token" {
		t.Errorf("client token after login = %q, want the fake's token", got)
	}

	// The kubelet rotates the token; the next login must send the new one.
	if err := os.WriteFile(tokenFile, []byte("jwt-two"), 0o600); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for fake.loginCount() < 2 {
		if time.Now().After(deadline) {
			t.Fatal("no second login within 20s of the token's two-second lifetime")
		}
		// Polling: the fake has no channel to wait on.
		time.Sleep(50 * time.Millisecond)
	}

	fake.mu.Lock()
	defer fake.mu.Unlock()
	if want := (map[string]string{"jwt": "jwt-one", "role": "secrets"}); !equalMaps(fake.logins[0], want) {
		t.Errorf("first login sent %v, want %v", fake.logins[0], want)
	}
	if want := (map[string]string{"jwt": "jwt-two", "role": "secrets"}); !equalMaps(fake.logins[1], want) {
		t.Errorf("second login sent %v, want %v", fake.logins[1], want)
	}
	for _, p := range fake.paths {
		if p != "PUT /v1/auth/k8s-test/login" && p != "POST /v1/auth/k8s-test/login" {
			t.Errorf("unexpected request %s", p)
		}
	}
}

func TestKubernetesLoginMissingTokenFile(t *testing.T) {
	ca, err := New(Config{
		Address: "http://127.0.0.1:1",
		Auth:    AuthConfig{Method: AuthKubernetes, KubernetesMount: "kubernetes", KubernetesRole: "secrets", KubernetesTokenFile: filepath.Join(t.TempDir(), "absent")},
		Timeout: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = ca.Start(context.Background(), slog.New(slog.DiscardHandler))
	if err == nil {
		t.Fatal("Start succeeded without a token file")
	}
	if want := "--vault-kubernetes-token-file (DOKKUMCP_VAULT_KUBERNETES_TOKEN_FILE)"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not name %s", err, want)
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
