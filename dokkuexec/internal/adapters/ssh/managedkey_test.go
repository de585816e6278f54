package ssh_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"dokkumcp.dev/dokkuexec/internal/app"
	"dokkumcp.dev/dokkuexec/internal/domain"
	"dokkumcp.dev/dokkuexec/internal/sshtest"
	"dokkumcp.dev/testhost/emulator"
)

// managedKey is one version of a managed key: the credential Secrets would
// issue and the line `dokku ssh-keys:add` would write for it.
type managedKey struct {
	credential app.Credential
	line       string
}

func newManagedKey(t *testing.T, version uint64) managedKey {
	t.Helper()
	public, private, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sshPublic, err := ssh.NewPublicKey(public)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(private, "")
	if err != nil {
		t.Fatal(err)
	}
	line := fmt.Sprintf(`command="FINGERPRINT=%s NAME=\"dokkumcp-admin-v%d\" `+"`cat /home/dokku/.sshcommand`"+` $SSH_ORIGINAL_COMMAND",no-agent-forwarding,no-user-rc,no-X11-forwarding,no-port-forwarding %s`,
		ssh.FingerprintSHA256(sshPublic), version, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPublic))))
	return managedKey{
		credential: app.Credential{PrivateKey: pem.EncodeToMemory(block), ExpireTime: time.Now().Add(time.Hour), KeyVersion: version},
		line:       line,
	}
}

// keyIssuer hands out the current managed key, and caches what it handed
// out until the executor reports it rejected, like DokkuExec's credential
// cache.
type keyIssuer struct {
	mu         sync.Mutex
	current    app.Credential
	cached     *app.Credential
	rejections int
}

func (k *keyIssuer) credential(context.Context) (app.Credential, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.cached == nil {
		c := k.current
		k.cached = &c
	}
	return *k.cached, nil
}

func (k *keyIssuer) rejected(c app.Credential) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.rejections++
	if k.cached != nil && string(k.cached.PrivateKey) == string(c.PrivateKey) {
		k.cached = nil
	}
}

func TestExecutorManagedKeyRefetchedAfterRemoval(t *testing.T) {
	t.Parallel()
	host := sshtest.Start(t, emulator.Options{})
	executor, dialer := newExecutor(t, nil)
	v1, v2 := newManagedKey(t, 1), newManagedKey(t, 2)
	if err := host.Server.SetAuthorizedKeys([]byte(v1.line + "\n")); err != nil {
		t.Fatal(err)
	}
	issuer := &keyIssuer{current: v1.credential}
	target := host.Target()
	target.Credential = issuer.credential
	target.CredentialRejected = issuer.rejected

	run := func(step string) {
		t.Helper()
		result, err := executor.Run(t.Context(), target, domain.VersionCommand())
		if err != nil || result.ExitStatus != 0 {
			t.Fatalf("%s: version = %+v, %v", step, result, err)
		}
	}
	run("login with key version 1")

	// The rotation installs version 2, promotes it in Secrets and removes
	// version 1; the executor still holds version 1 and a connection.
	if err := host.Server.SetAuthorizedKeys([]byte(v2.line + "\n")); err != nil {
		t.Fatal(err)
	}
	issuer.mu.Lock()
	issuer.current = v2.credential
	issuer.mu.Unlock()
	run("pooled connection after the key's removal")
	dialer.CloseAll()
	run("new connection after the key's removal")

	if issuer.rejections != 1 {
		t.Errorf("rejections = %d, want 1 (version 1 rejected once)", issuer.rejections)
	}
	if got := dialer.Count(); got != 3 {
		t.Errorf("dials = %d, want 3: the first, the rejected one, the one with version 2", got)
	}

	// A key the host never had fails as before, after one fresh attempt.
	if err := host.Server.SetAuthorizedKeys([]byte(v1.line + "\n")); err != nil {
		t.Fatal(err)
	}
	dialer.CloseAll()
	_, err := executor.Run(t.Context(), target, domain.VersionCommand())
	if got := app.KindOf(err); got != app.KindFailedPrecondition {
		t.Fatalf("kind = %v (error %v), want FailedPrecondition", got, err)
	}
	if issuer.rejections != 2 {
		t.Errorf("rejections = %d, want 2", issuer.rejections)
	}
}

func TestExecutorRejectedCertificateNotRefetched(t *testing.T) {
	t.Parallel()
	host := sshtest.Start(t, emulator.Options{})
	executor, dialer := newExecutor(t, nil)
	untrusted := sshtest.NewCA(t)
	target := host.Target()
	target.Credential = func(ctx context.Context) (app.Credential, error) {
		return untrusted.IssueSSHCredential(ctx, sshtest.TenantID, sshtest.HostID, "")
	}
	rejections := 0
	target.CredentialRejected = func(app.Credential) { rejections++ }

	_, err := executor.Run(t.Context(), target, domain.VersionCommand())
	if got := app.KindOf(err); got != app.KindFailedPrecondition {
		t.Fatalf("kind = %v (error %v), want FailedPrecondition", got, err)
	}
	if rejections != 0 || dialer.Count() != 1 || untrusted.Issued() != 1 {
		t.Errorf("rejections %d, dials %d, certificates %d; want 0, 1 and 1: a rejected certificate is not fetched again",
			rejections, dialer.Count(), untrusted.Issued())
	}
}
