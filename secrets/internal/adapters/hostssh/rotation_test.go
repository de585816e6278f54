package hostssh_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"golang.org/x/crypto/ssh"

	"dokkumcp.dev/platform/vaulttest"
	"dokkumcp.dev/secrets/internal/adapters/hostssh"
	"dokkumcp.dev/secrets/internal/adapters/vault"
	"dokkumcp.dev/secrets/internal/app"
	"dokkumcp.dev/secrets/internal/domain"
	"dokkumcp.dev/testhost/emulator"
	"dokkumcp.dev/testhost/sshd"
)

const tenantID = "t-k3xq7a2mzd"

var errFakeCrash = errors.New("fake crash")

// nopIssuances replaces the issuance log, which these tests do not read.
// Onboarding records nothing in it.
type nopIssuances struct{}

func (nopIssuances) RecordIssuance(context.Context, app.Issuance) error { return nil }

// fixture is a Vault dev server with a KV engine, shared by subtests.
type fixture struct {
	keys    *vault.KeyStore
	service *app.Service
	logger  *slog.Logger
	// logs holds everything the rotation and the service logged.
	logs *syncBuffer
}

type syncBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	v := vaulttest.New(t)
	ca, err := vault.New(vault.Config{
		Address: v.Addr, Auth: vault.AuthConfig{Method: vault.AuthToken, Token: v.RootToken},
		Mount: "ssh-client-signer", Role: "dokku", TTL: time.Hour, Timeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(io.MultiWriter(testWriter{t}, logs), nil))
	keys := ca.KeyStore("dokkumcp-kv")
	if err := keys.Bootstrap(t.Context(), logger); err != nil {
		t.Fatal(err)
	}
	service, err := app.NewService(ca, keys, nopIssuances{}, time.Hour, logger, noop.NewMeterProvider().Meter("test"))
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{keys: keys, service: service, logger: logger, logs: logs}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// host is a test host onboarded in managed-key mode.
type host struct {
	target  domain.Target
	server  *sshd.Server
	hostKey ssh.PublicKey
	access  app.HostAccess
}

// onboard starts a test host, gets its trust from Secrets and installs it
// as the root command would.
func (f *fixture) onboard(t *testing.T, hostID string) *host {
	t.Helper()
	target, err := domain.NewTarget(tenantID, hostID)
	if err != nil {
		t.Fatal(err)
	}
	hostSigner := newSigner(t)
	server, err := sshd.New(sshd.Options{
		HostKey: hostSigner, Emulator: emulator.New(emulator.Options{}),
		Logger: slog.New(slog.DiscardHandler), RootKeyNamePrefix: "dokkumcp-admin-",
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := server.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = server.Close() })
	address, portText, _ := net.SplitHostPort(server.Addr())
	port, _ := strconv.Atoi(portText)
	access := app.HostAccess{Address: address, Port: uint32(port), HostKey: string(ssh.MarshalAuthorizedKey(hostSigner.PublicKey()))}

	trust, err := f.service.GetHostTrust(t.Context(), tenantID, hostID, app.ModeManagedKey, &access)
	if err != nil {
		t.Fatalf("GetHostTrust: %v", err)
	}
	if err := server.AddAuthorizedKey(trust.AuthorizedKeysLine); err != nil {
		t.Fatalf("install the trust line: %v", err)
	}
	return &host{target: target, server: server, hostKey: hostSigner.PublicKey(), access: access}
}

func newSigner(t *testing.T) ssh.Signer {
	t.Helper()
	_, private, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(private)
	if err != nil {
		t.Fatal(err)
	}
	return signer
}

// rotator returns a rotator whose clock is a day and an hour ahead, so
// every onboarded key is due.
func (f *fixture) rotator(hook func(string) error) *app.Rotator {
	return &app.Rotator{
		Keys:         f.keys,
		Host:         hostssh.New(hostssh.Options{AdminUser: "root", Timeout: 10 * time.Second}),
		Interval:     24 * time.Hour,
		Now:          func() time.Time { return time.Now().Add(25 * time.Hour) },
		Logger:       f.logger,
		FakeStepHook: hook,
	}
}

// keysOnHost returns the names ssh-keys:list shows, read as dokku with the
// current key.
func (h *host) keysOnHost(t *testing.T, key app.ManagedKey) []string {
	t.Helper()
	out := h.run(t, "dokku", key, "ssh-keys:list")
	var names []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if _, rest, ok := strings.Cut(line, `NAME="`); ok {
			name, _, _ := strings.Cut(rest, `"`)
			names = append(names, name)
		}
	}
	return names
}

func (h *host) dial(user string, key app.ManagedKey) (*ssh.Client, error) {
	signer, err := ssh.ParsePrivateKey(key.PrivateKeyPEM)
	if err != nil {
		return nil, err
	}
	return ssh.Dial("tcp", net.JoinHostPort(h.access.Address, strconv.Itoa(int(h.access.Port))), &ssh.ClientConfig{
		User: user, Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.FixedHostKey(h.hostKey), Timeout: 10 * time.Second,
	})
}

func (h *host) run(t *testing.T, user string, key app.ManagedKey, command string) string {
	t.Helper()
	client, err := h.dial(user, key)
	if err != nil {
		t.Fatalf("log in as %s with key version %d: %v", user, key.Version, err)
	}
	defer client.Close()
	session, err := client.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer session.Close()
	out, err := session.Output(command)
	if err != nil {
		t.Fatalf("%s as %s: %v", command, user, err)
	}
	return string(out)
}

// hostID returns a valid host id that differs by n.
func hostID(n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz234567"
	return "h-rot" + strings.Repeat("a", 5) + string(alphabet[n/32%32]) + string(alphabet[n%32])
}

// checkRotated checks the end state of one rotation from version 1: Vault
// issues version 2 with no rotation under way, the host lists exactly
// version 2, and version 1 logs in as neither dokku nor root.
func checkRotated(t *testing.T, f *fixture, h *host, old app.ManagedKey) {
	t.Helper()
	record, _, err := f.keys.Load(t.Context(), h.target)
	if err != nil {
		t.Fatal(err)
	}
	if record.State != app.RotationIdle || record.Current.Version != 2 || record.Pending != nil || record.Retired != nil {
		t.Fatalf("record after rotation: state %q, version %d, pending %v, retired %v; want idle at version 2",
			record.State, record.Current.Version, record.Pending != nil, record.Retired != nil)
	}
	want := domain.ManagedKeyName(h.target, 2)
	if names := h.keysOnHost(t, record.Current); len(names) != 1 || names[0] != want {
		t.Errorf("host lists keys %q, want only %q", names, want)
	}
	for _, user := range []string{"dokku", "root"} {
		if client, err := h.dial(user, old); err == nil {
			client.Close()
			t.Errorf("the retired key still logs in as %s", user)
		}
	}

	// Neither key's private half reached the logs.
	logs := f.logs.String()
	for _, key := range []app.ManagedKey{old, record.Current} {
		for _, line := range strings.Split(string(key.PrivateKeyPEM), "\n") {
			if len(line) >= 40 && strings.Contains(logs, line) {
				t.Errorf("the logs contain private key material of version %d", key.Version)
			}
		}
	}
	if strings.Contains(logs, "PRIVATE KEY") {
		t.Error("the logs contain a PEM private key")
	}
}

func TestRotationResumesAfterCrashAtEveryStep(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	states := []string{"idle", app.RotationPending, app.RotationAdded, app.RotationVerified, app.RotationPromoted}
	n := 0
	for _, state := range states {
		for _, when := range []string{"acted", "saved"} {
			point := state + "/" + when
			if state == "idle" {
				point = "/" + when
			}
			n++
			t.Run(state+"/"+when, func(t *testing.T) {
				h := f.onboard(t, hostID(n))
				before, _, err := f.keys.Load(t.Context(), h.target)
				if err != nil {
					t.Fatal(err)
				}
				crashed := false
				crashing := f.rotator(func(at string) error {
					if at == point {
						crashed = true
						return errFakeCrash
					}
					return nil
				})
				if err := crashing.Rotate(t.Context(), h.target); !errors.Is(err, errFakeCrash) || !crashed {
					t.Fatalf("Rotate with a crash at %s = %v, want the fake crash", point, err)
				}

				// Between the crash and the restart the platform can still
				// log in with whatever Secrets issues now.
				record, _, err := f.keys.Load(t.Context(), h.target)
				if err != nil {
					t.Fatal(err)
				}
				h.run(t, "dokku", record.Current, "version")

				if err := f.rotator(nil).Rotate(t.Context(), h.target); err != nil {
					t.Fatalf("Rotate after the crash at %s: %v", point, err)
				}
				checkRotated(t, f, h, before.Current)
			})
		}
	}
}

func TestRotationLosesCheckAndSetToAnotherReplica(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	h := f.onboard(t, hostID(100))
	before, _, err := f.keys.Load(t.Context(), h.target)
	if err != nil {
		t.Fatal(err)
	}

	// Replica A generates its pending key; before A writes it, replica B
	// runs a whole rotation. A's write then fails the check-and-set, so
	// its key is never stored or installed.
	reader := sdkmetric.NewManualReader()
	steps, err := app.NewRotationStepCounter(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)).Meter("test"))
	if err != nil {
		t.Fatal(err)
	}
	var other error
	a := f.rotator(func(at string) error {
		if at == "/acted" {
			b := f.rotator(nil)
			b.Steps = steps
			other = b.Rotate(t.Context(), h.target)
		}
		return nil
	})
	a.Steps = steps
	if err := a.Rotate(t.Context(), h.target); !errors.Is(err, app.ErrManagedKeyConflict) {
		t.Fatalf("replica A's Rotate = %v, want ErrManagedKeyConflict", err)
	}
	if other != nil {
		t.Fatalf("replica B's Rotate: %v", other)
	}
	checkRotated(t, f, h, before.Current)

	// B counted its five steps, A its lost first step.
	counts := stepCounts(t, reader)
	want := map[string]int64{
		"idle/ok": 1, "pending/ok": 1, "added/ok": 1, "verified/ok": 1, "promoted/ok": 1, "idle/conflict": 1,
	}
	for key, value := range want {
		if counts[key] != value {
			t.Errorf("rotation steps %s = %d, want %d (all: %v)", key, counts[key], value, counts)
		}
	}
	if len(counts) != len(want) {
		t.Errorf("rotation steps = %v, want exactly %v", counts, want)
	}
}

// stepCounts reads the rotation step counter as "<step>/<outcome>" sums.
func stepCounts(t *testing.T, reader *sdkmetric.ManualReader) map[string]int64 {
	t.Helper()
	var data metricdata.ResourceMetrics
	if err := reader.Collect(t.Context(), &data); err != nil {
		t.Fatal(err)
	}
	counts := map[string]int64{}
	for _, scope := range data.ScopeMetrics {
		for _, m := range scope.Metrics {
			sum, ok := m.Data.(metricdata.Sum[int64])
			if !ok || m.Name != "dokkumcp_secrets_managed_key_rotation_steps" {
				continue
			}
			for _, point := range sum.DataPoints {
				step, _ := point.Attributes.Value("step")
				outcome, _ := point.Attributes.Value("outcome")
				counts[step.AsString()+"/"+outcome.AsString()] += point.Value
			}
		}
	}
	return counts
}

func TestRotationRejectsForeignKeyUnderName(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	h := f.onboard(t, hostID(101))
	record, _, err := f.keys.Load(t.Context(), h.target)
	if err != nil {
		t.Fatal(err)
	}
	// Someone filed another key under the name version 2 will take.
	foreign := newSigner(t)
	line := fmt.Sprintf(`command="FINGERPRINT=%s NAME=\"%s\" `+"`cat /home/dokku/.sshcommand`"+` $SSH_ORIGINAL_COMMAND",no-agent-forwarding %s`,
		ssh.FingerprintSHA256(foreign.PublicKey()), domain.ManagedKeyName(h.target, 2), ssh.MarshalAuthorizedKey(foreign.PublicKey()))
	if err := h.server.AddAuthorizedKey(strings.TrimSpace(line)); err != nil {
		t.Fatal(err)
	}

	err = f.rotator(nil).Rotate(t.Context(), h.target)
	if err == nil || !strings.Contains(err.Error(), "already lists a key") {
		t.Fatalf("Rotate = %v, want a refusal naming the foreign key", err)
	}
	// The platform keeps its key, and Secrets keeps issuing it.
	after, _, err := f.keys.Load(t.Context(), h.target)
	if err != nil {
		t.Fatal(err)
	}
	if after.Current.Version != 1 || after.State != app.RotationPending {
		t.Errorf("record after the refused add: version %d, state %q; want version 1 still pending", after.Current.Version, after.State)
	}
	h.run(t, "dokku", record.Current, "version")
}
