package e2e_test

import (
	"context"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	"dokkumcp.dev/devstack/internal/stack"
	dokkuexecv1 "dokkumcp.dev/gen/dokkumcp/dokkuexec/v1"
	"dokkumcp.dev/gen/dokkumcp/dokkuexec/v1/dokkuexecv1connect"
	secretsv1 "dokkumcp.dev/gen/dokkumcp/secrets/v1"
	"dokkumcp.dev/gen/dokkumcp/secrets/v1/secretsv1connect"
	"dokkumcp.dev/platform/vaulttest"
)

// TestManagedKeyRotationUnderLoad rotates a managed-key host's key three
// times while commands run through DokkuExec, and requires every command
// to succeed. Between commands the host drops its connections, so
// DokkuExec logs in again and again, also with a cached key the rotation
// has removed. (A connection cut under a running command fails that
// command whatever the credential; that is not what this test is about.)
func TestManagedKeyRotationUnderLoad(t *testing.T) {
	t.Parallel()
	if _, err := vaulttest.Binary(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("the Vault binary is required in CI: %v", err)
		}
		t.Skipf("managed keys need the Vault dev server: %v", err)
	}

	logs := &syncBuffer{}
	startCtx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	st, err := stack.Start(startCtx, stack.Options{
		Vault: "dev", Logs: logs,
		// DokkuExec keeps a managed key for two thirds of a minute, far
		// longer than a key lives here.
		CertTTL:            time.Minute,
		ManagedKeyRotation: 2 * time.Second,
		ManagedKeyCheck:    200 * time.Millisecond,
	})
	if err != nil {
		t.Fatalf("start stack: %v\nlogs:\n%s", err, logs.String())
	}
	t.Cleanup(st.Stop)

	ctx := context.Background()
	tenant, err := st.SeedTenant(ctx, stack.TenantOptions{Slug: "tenant-managed", ManagedKey: true})
	if err != nil {
		t.Fatalf("seed tenant: %v\nlogs:\n%s", err, logs.String())
	}
	if !strings.Contains(tenant.TrustCommand, "dokku ssh-keys:add 'dokkumcp-admin-") {
		t.Fatalf("install command = %q, want dokku ssh-keys:add with a dokkumcp-admin key name", tenant.TrustCommand)
	}
	tokenURL := st.IdentityURL + "/oauth2/token"
	dokkuexec := dokkuexecv1connect.NewDokkuExecServiceClient(
		bearerClient(dokkuexecToken(t, st, tenant.ID, tokenURL)), st.DokkuExecURL)
	secrets := secretsv1connect.NewSecretsServiceClient(bearerClient(st.OperatorToken(t, "urn:dokkumcp:secrets")), st.SecretsURL)
	currentKey := func() string {
		resp, err := secrets.GetHostTrust(ctx, connect.NewRequest(&secretsv1.GetHostTrustRequest{
			TenantId: tenant.ID, HostId: tenant.HostID, CredentialMode: secretsv1.CredentialMode_CREDENTIAL_MODE_MANAGED_KEY,
		}))
		if err != nil {
			t.Fatalf("GetHostTrust: %v", err)
		}
		return resp.Msg.GetKeyName()
	}
	first := currentKey()

	var ok, failed atomic.Int64
	var failures sync.Map
	// Commands hold quiet for reading; dropping connections takes it for
	// writing, so it happens only between commands.
	var quiet sync.RWMutex
	stop := make(chan struct{})
	var workers sync.WaitGroup
	for range 4 {
		workers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				quiet.RLock()
				_, err := dokkuexec.ListApps(ctx, connect.NewRequest(&dokkuexecv1.ListAppsRequest{}))
				quiet.RUnlock()
				if err != nil {
					failed.Add(1)
					failures.Store(err.Error(), true)
					continue
				}
				ok.Add(1)
			}
		})
	}
	workers.Go(func() {
		ticker := time.NewTicker(150 * time.Millisecond)
		defer ticker.Stop()
		for {
			select {
			case <-stop:
				return
			case <-ticker.C:
				quiet.Lock()
				tenant.Host.DropConnections()
				quiet.Unlock()
			}
		}
	})

	want := strings.TrimSuffix(first, "-v1") + "-v4"
	deadline := time.Now().Add(90 * time.Second)
	for current := first; current != want; current = currentKey() {
		if time.Now().After(deadline) {
			close(stop)
			workers.Wait()
			t.Fatalf("the key is %s after 90s, want %s\nlogs:\n%s", current, want, logs.String())
		}
		waitPollInterval(t)
	}
	close(stop)
	workers.Wait()

	failures.Range(func(message, _ any) bool {
		t.Errorf("a command failed during the rotation: %s", message)
		return true
	})
	if failed.Load() != 0 || ok.Load() < 20 {
		t.Fatalf("%d commands succeeded and %d failed during three rotations; want many and none", ok.Load(), failed.Load())
	}
	t.Logf("%d commands succeeded during three rotations", ok.Load())
	text := logs.String()
	for _, want := range []string{
		`"msg":"managed key rotation step done"`,
		// DokkuExec held a removed key, was rejected and fetched the new one.
		`"msg":"ssh credential rejected; fetching a fresh one"`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the logs lack %s", want)
		}
	}
	// Every replaced key leaves the host. Secrets issues a key as soon as
	// it is promoted and removes its predecessor in the next step, and a
	// later rotation may be under way, so the current key may have a
	// successor beside it.
	base := strings.TrimSuffix(first, "-v1")
	replacedGone := func(onHost string) bool {
		for _, version := range []string{"-v1", "-v2", "-v3"} {
			if strings.Contains(onHost, `NAME=\"`+base+version+`\"`) {
				return false
			}
		}
		return true
	}
	removeDeadline := time.Now().Add(30 * time.Second)
	for !replacedGone(tenant.Host.AuthorizedKeys()) {
		if time.Now().After(removeDeadline) {
			t.Fatalf("the host still lists a replaced key 30s after %s became current:\n%s", want, tenant.Host.AuthorizedKeys())
		}
		waitPollInterval(t)
	}
	// The current key is always on the host. A rotation may promote its
	// successor and remove it between two reads, so either read may match.
	before, onHost, after := currentKey(), tenant.Host.AuthorizedKeys(), currentKey()
	if !strings.Contains(onHost, `NAME=\"`+before+`\"`) && !strings.Contains(onHost, `NAME=\"`+after+`\"`) {
		t.Errorf("the host lists neither current key %s nor %s:\n%s", before, after, onHost)
	}
}
