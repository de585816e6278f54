package sshd_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"dokkumcp.dev/testhost/sshd"
)

func TestFaultSlowStreamWritesLinesApart(t *testing.T) {
	t.Parallel()
	h := startHost(t)
	h.server.SetFault(sshd.Fault{Mode: sshd.FaultSlowStream, Output: "one\ntwo\n", Interval: time.Millisecond})
	client := h.mustDial(t, h.plain)

	stdout, _, exit := run(t, client, "logs shop -t")
	if stdout != "one\ntwo\n" {
		t.Errorf("stdout = %q, want both lines", stdout)
	}
	if exit != 0 {
		t.Errorf("exit status = %d, want 0", exit)
	}
}

func TestFaultSlowStreamStopsWhenSessionCloses(t *testing.T) {
	t.Parallel()
	h := startHost(t)
	h.server.SetFault(sshd.Fault{Mode: sshd.FaultSlowStream, Output: "one\ntwo\n", Interval: time.Hour})
	client := h.mustDial(t, h.plain)

	session, err := client.NewSession()
	if err != nil {
		t.Fatalf("new session: %v", err)
	}
	stdout, err := session.StdoutPipe()
	if err != nil {
		t.Fatalf("stdout pipe: %v", err)
	}
	if err := session.Start("logs shop -t"); err != nil {
		t.Fatalf("start: %v", err)
	}
	first := make([]byte, len("one\n"))
	if _, err := stdout.Read(first); err != nil || string(first) != "one\n" {
		t.Fatalf("first read = %q, %v; want the first line", first, err)
	}
	if err := session.Close(); err != nil {
		t.Fatalf("close session: %v", err)
	}
	waitFor(t, func() bool { return h.server.ActiveSessions() == 0 })
}

func TestFaultDropConnectionEndsWithoutExitStatus(t *testing.T) {
	t.Parallel()
	h := startHost(t)
	h.server.SetFault(sshd.Fault{Mode: sshd.FaultDropConnection, Command: "apps:create", Output: "-----> Creating shop...\n"})
	client := h.mustDial(t, h.plain)

	session, err := client.NewSession()
	if err != nil {
		t.Fatalf("new session: %v", err)
	}
	var out strings.Builder
	session.Stdout = &out
	err = session.Run("apps:create shop")
	var exitErr *ssh.ExitError
	if err == nil || errors.As(err, &exitErr) {
		t.Fatalf("Run error = %v, want a missing exit status or a closed connection", err)
	}
	if got := out.String(); got != "-----> Creating shop...\n" {
		t.Errorf("stdout = %q, want the partial output", got)
	}
	if err := client.Wait(); err == nil {
		t.Error("client.Wait() = nil, want the connection closed with an error")
	}
	waitFor(t, func() bool { return h.server.ActiveConnections() == 0 })
}

func TestConnFaultRefuseClosesNewConnections(t *testing.T) {
	t.Parallel()
	h := startHost(t)
	h.server.SetConnFault(sshd.ConnFaultRefuse)

	if _, err := h.dial("dokku", h.plain); err == nil {
		t.Fatal("dial succeeded, want the connection closed before the handshake")
	}

	h.server.SetConnFault(sshd.ConnFaultNone)
	client := h.mustDial(t, h.plain)
	if _, _, exit := run(t, client, "version"); exit != 0 {
		t.Errorf("version after the fault was cleared: exit status %d, want 0", exit)
	}
}

func TestConnFaultRejectLogin(t *testing.T) {
	t.Parallel()
	h := startHost(t)
	h.server.SetConnFault(sshd.ConnFaultRejectLogin)

	_, err := h.dial("dokku", h.plain)
	if err == nil || !strings.Contains(err.Error(), "unable to authenticate") {
		t.Fatalf("dial error = %v, want an authentication failure", err)
	}
}

func TestConnFaultIgnoreKeepalive(t *testing.T) {
	t.Parallel()
	h := startHost(t)
	client := h.mustDial(t, h.plain)

	if _, _, err := client.SendRequest("keepalive@openssh.com", true, nil); err != nil {
		t.Fatalf("keepalive before the fault: %v", err)
	}

	h.server.SetConnFault(sshd.ConnFaultIgnoreKeepalive)
	replied := make(chan error, 1)
	go func() {
		_, _, err := client.SendRequest("keepalive@openssh.com", true, nil)
		replied <- err
	}()
	// Sessions still work while keepalives go unanswered.
	if _, _, exit := run(t, client, "version"); exit != 0 {
		t.Errorf("version exit status = %d, want 0", exit)
	}
	select {
	case err := <-replied:
		t.Fatalf("keepalive returned %v, want no reply", err)
	default:
	}
	_ = client.Close()
	if err := <-replied; err == nil {
		t.Error("keepalive after close returned nil, want an error")
	}
}

func TestSetHostKeyAppliesToNewConnections(t *testing.T) {
	t.Parallel()
	h := startHost(t)
	old := h.mustDial(t, h.plain)
	rotated := newSigner(t)
	h.server.SetHostKey(rotated)

	if _, err := h.dial("dokku", h.plain); err == nil || !strings.Contains(err.Error(), "host key mismatch") {
		t.Errorf("dial pinned to the old key: error %v, want a host key mismatch", err)
	}
	client, err := ssh.Dial("tcp", h.server.Addr(), &ssh.ClientConfig{
		User:            "dokku",
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(h.plain)},
		HostKeyCallback: ssh.FixedHostKey(rotated.PublicKey()),
		Timeout:         10 * time.Second,
	})
	if err != nil {
		t.Fatalf("dial pinned to the rotated key: %v", err)
	}
	_ = client.Close()
	if _, _, exit := run(t, old, "version"); exit != 0 {
		t.Errorf("version on the connection made before the rotation: exit status %d, want 0", exit)
	}
}

func TestSetMaxSessionsRejectsExtraSession(t *testing.T) {
	t.Parallel()
	h := startHost(t)
	h.server.SetMaxSessions(1)
	client := h.mustDial(t, h.plain)

	first, err := client.NewSession()
	if err != nil {
		t.Fatalf("first session: %v", err)
	}
	_, err = client.NewSession()
	var openErr *ssh.OpenChannelError
	if !errors.As(err, &openErr) || openErr.Reason != ssh.ConnectionFailed || openErr.Message != "open failed" {
		t.Fatalf("second session error = %v, want a rejection with reason connect failed and message \"open failed\"", err)
	}

	if err := first.Close(); err != nil {
		t.Fatalf("close first session: %v", err)
	}
	waitFor(t, func() bool { return h.server.ActiveSessions() == 0 })
	if _, _, exit := run(t, client, "version"); exit != 0 {
		t.Errorf("version after the first session closed: exit status %d, want 0", exit)
	}
}
