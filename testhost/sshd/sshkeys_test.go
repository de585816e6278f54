package sshd_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"dokkumcp.dev/testhost/emulator"
	"dokkumcp.dev/testhost/sshd"
)

// runStdin runs command with stdin and returns both streams and the exit
// status.
func runStdin(t *testing.T, client *ssh.Client, command, stdin string) (stdout, stderr string, exit int) {
	t.Helper()
	session, err := client.NewSession()
	if err != nil {
		t.Fatalf("new session: %v", err)
	}
	defer session.Close()
	var out, errOut bytes.Buffer
	session.Stdin = strings.NewReader(stdin)
	session.Stdout = &out
	session.Stderr = &errOut
	if err := session.Run(command); err != nil {
		exitErr, ok := err.(*ssh.ExitError)
		if !ok {
			t.Fatalf("run %q: %v", command, err)
		}
		return out.String(), errOut.String(), exitErr.ExitStatus()
	}
	return out.String(), errOut.String(), 0
}

func TestServerSSHKeysAddAndRemoveAsRoot(t *testing.T) {
	t.Parallel()
	hostKey, admin, second := newSigner(t), newSigner(t), newSigner(t)
	server, err := sshd.New(sshd.Options{
		HostKey: hostKey, Emulator: emulator.New(emulator.Options{}),
		Logger: slog.New(slog.DiscardHandler), RootKeyNamePrefix: "dokkumcp-admin-",
	})
	if err != nil {
		t.Fatal(err)
	}
	line := fmt.Sprintf(forcedCommand, "dokkumcp-admin-v1") + string(ssh.MarshalAuthorizedKey(admin.PublicKey()))
	if err := server.SetAuthorizedKeys([]byte(line)); err != nil {
		t.Fatal(err)
	}
	if err := server.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = server.Close() })
	h := &testHost{server: server, hostKey: hostKey}

	dokku := h.mustDial(t, admin)
	secondKey := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(second.PublicKey())))
	_, stderr, exit := runStdin(t, dokku, "ssh-keys:add dokkumcp-admin-v2", secondKey+"\n")
	if exit != 1 || !strings.Contains(stderr, "This command must be run as root") {
		t.Errorf("ssh-keys:add as dokku = (%q, %d), want the root-only refusal", stderr, exit)
	}

	root, err := h.dial("root", admin)
	if err != nil {
		t.Fatalf("dial as root with a dokkumcp-admin key: %v", err)
	}
	defer root.Close()
	stdout, stderr, exit := runStdin(t, root, "ssh-keys:add dokkumcp-admin-v2", secondKey+"\n")
	if exit != 0 || strings.TrimSpace(stdout) != ssh.FingerprintSHA256(second.PublicKey()) {
		t.Fatalf("ssh-keys:add as root = (%q, %q, %d), want the fingerprint", stdout, stderr, exit)
	}
	for _, tt := range []struct{ name, stdin, want string }{
		{"dokkumcp-admin-v2", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB1hSSTZkALhR8bDZUwhmdnUhumjn40nK7wUdRJU0ngk\n", "Duplicate ssh key name"},
		{"other", secondKey + "\n", "Duplicate ssh public key specified"},
		{"other", "", "Empty key was specified"},
		{"other", "not a key\n", "not a valid ssh public key"},
	} {
		_, stderr, exit := runStdin(t, root, "ssh-keys:add "+tt.name, tt.stdin)
		if exit != 1 || !strings.Contains(stderr, tt.want) {
			t.Errorf("ssh-keys:add %s with %q = (%q, %d), want %q", tt.name, tt.stdin, stderr, exit, tt.want)
		}
	}

	// The added key logs in as dokku and as root; removing the first key
	// locks it out of both.
	if _, _, exit := run(t, h.mustDial(t, second), "version"); exit != 0 {
		t.Errorf("version with the added key exited %d", exit)
	}
	if _, stderr, exit := run(t, root, "ssh-keys:remove dokkumcp-admin-v1"); exit != 0 {
		t.Fatalf("ssh-keys:remove as root = (%q, %d)", stderr, exit)
	}
	for _, user := range []string{"dokku", "root"} {
		if _, err := h.dial(user, admin); err == nil {
			t.Errorf("the removed key still logs in as %s", user)
		}
	}
	stdout, _, _ = run(t, dokku, "ssh-keys:list")
	if strings.Contains(stdout, "dokkumcp-admin-v1") || !strings.Contains(stdout, `NAME="dokkumcp-admin-v2"`) {
		t.Errorf("ssh-keys:list after the rotation = %q", stdout)
	}
	if _, _, exit := run(t, root, "ssh-keys:remove dokkumcp-admin-v1"); exit != 0 {
		t.Errorf("removing an absent name exited %d, want 0 like sshcommand acl-remove", exit)
	}
}
