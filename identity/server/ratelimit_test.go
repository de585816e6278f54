package server_test

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"dokkumcp.dev/identity/server"
)

func TestTokenRateLimitPerClient(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverSetup{configure: func(cfg *server.Config) {
		cfg.TokenClientRate = 0.01
		cfg.TokenClientBurst = 2
		cfg.TokenAddressRate = 0
	}})
	idA, secretA := srv.createClient(t, "t-1", "viewer")
	idB, secretB := srv.createClient(t, "t-2", "viewer")
	form := url.Values{"grant_type": {"client_credentials"}, "resource": {mcpURL}}

	for i := range 2 {
		if resp := srv.postToken(t, form, []string{idA, secretA}); resp.Status != http.StatusOK {
			t.Fatalf("request %d within the burst: status %d %s", i+1, resp.Status, resp.ErrorDescription)
		}
	}
	resp := srv.postToken(t, form, []string{idA, secretA})
	if resp.Status != http.StatusTooManyRequests || resp.Error != "invalid_request" || !strings.HasPrefix(resp.ErrorDescription, "rate limit exceeded; retry after ") {
		t.Errorf("request beyond the burst: status %d %s %q, want 429 invalid_request naming the wait", resp.Status, resp.Error, resp.ErrorDescription)
	}
	if retry, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || retry < 1 {
		t.Errorf("Retry-After = %q, want a positive number of seconds", resp.Header.Get("Retry-After"))
	}
	if resp := srv.postToken(t, form, []string{idB, secretB}); resp.Status != http.StatusOK {
		t.Errorf("another client is limited too: status %d %s", resp.Status, resp.ErrorDescription)
	}
	// Failed authentications do not use up the client's budget.
	for range 3 {
		srv.postToken(t, form, []string{idB, "wrong"})
	}
	if resp := srv.postToken(t, form, []string{idB, secretB}); resp.Status != http.StatusOK {
		t.Errorf("failed authentications with client B's id used up its budget: status %d %s", resp.Status, resp.ErrorDescription)
	}
	if logs := srv.Logs.String(); !strings.Contains(logs, `"msg":"client authentication failed"`) || !strings.Contains(logs, `"remote_addr":"127.0.0.1:`) {
		t.Errorf("the log lacks the failed authentication with its source address:\n%s", logs)
	}
}

func TestTokenRateLimitPerAddress(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverSetup{configure: func(cfg *server.Config) {
		cfg.TokenAddressRate = 0.01
		cfg.TokenAddressBurst = 3
	}})
	form := url.Values{"grant_type": {"client_credentials"}, "resource": {mcpURL}}
	for i := range 3 {
		if resp := srv.postToken(t, form, []string{"c-unknown", "wrong"}); resp.Status != http.StatusUnauthorized {
			t.Fatalf("request %d within the burst: status %d, want 401", i+1, resp.Status)
		}
	}
	resp := srv.postToken(t, form, []string{"dokkuexec", srv.Secrets["dokkuexec"]})
	if resp.Status != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Errorf("request beyond the address burst: status %d, Retry-After %q; want 429 with Retry-After", resp.Status, resp.Header.Get("Retry-After"))
	}
}
