package ssh_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sshadapter "dokkumcp.dev/dokkuexec/internal/adapters/ssh"
	"dokkumcp.dev/dokkuexec/internal/app"
	"dokkumcp.dev/dokkuexec/internal/domain"
	"dokkumcp.dev/dokkuexec/internal/sshtest"
	"dokkumcp.dev/testhost/emulator"
)

const benchVersion = "0.38.27"

// warmConcurrency bounds the connections the concurrent-hosts benchmark
// opens at once before it starts measuring.
const warmConcurrency = 32

// newBenchExecutor returns a pooled executor with the options newExecutor
// uses, for a benchmark.
func newBenchExecutor(b *testing.B) *sshadapter.Executor {
	b.Helper()
	// Keepalive and idle timeout as the server's flags default them, so
	// that each warm connection carries its keepalive goroutine.
	executor := sshadapter.New(sshadapter.Options{
		DialTimeout:       5 * time.Second,
		CommandTimeout:    10 * time.Second,
		OutputLimit:       1 << 20,
		KeepaliveInterval: 15 * time.Second,
		IdleTimeout:       5 * time.Minute,
		Logger:            slog.New(slog.DiscardHandler),
	})
	b.Cleanup(func() { _ = executor.Close() })
	return executor
}

// BenchmarkPooledCommand measures one `version` through the pooled executor
// on a warm connection to the test host: a new SSH session per command, no
// new TCP connection or handshake.
func BenchmarkPooledCommand(b *testing.B) {
	host := sshtest.Start(b, emulator.Options{Version: benchVersion})
	executor := newBenchExecutor(b)
	target := host.Target()
	ctx := context.Background()
	if _, err := executor.Run(ctx, target, domain.VersionCommand()); err != nil {
		b.Fatalf("warm-up Run: %v", err)
	}

	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		result, err := executor.Run(ctx, target, domain.VersionCommand())
		if err != nil || result.ExitStatus != 0 {
			b.Fatalf("Run = %+v, %v", result, err)
		}
	}
}

// BenchmarkSSHPerCommand measures one `version` by starting the system
// OpenSSH client per command against the same kind of test host: process
// start, TCP connection, key exchange, certificate login and the session.
func BenchmarkSSHPerCommand(b *testing.B) {
	sshPath := "/usr/bin/ssh"
	if _, err := os.Stat(sshPath); err != nil {
		b.Skipf("no OpenSSH client at %s: %v", sshPath, err)
	}
	host := sshtest.Start(b, emulator.Options{Version: benchVersion})
	credential, err := host.CA.IssueSSHCredential(context.Background(), sshtest.TenantID, sshtest.HostID, "")
	if err != nil {
		b.Fatalf("issue credential: %v", err)
	}

	// Test-only key material in the benchmark's temporary directory, which
	// the testing package removes afterwards.
	dir := b.TempDir()
	keyFile := filepath.Join(dir, "id_ed25519")
	certFile := filepath.Join(dir, "id_ed25519-cert.pub")
	knownHosts := filepath.Join(dir, "known_hosts")
	port := strconv.Itoa(int(host.Host.Port))
	for _, file := range []struct {
		path string
		data string
	}{
		{keyFile, string(credential.PrivateKey)},
		{certFile, credential.Certificate},
		{knownHosts, fmt.Sprintf("[%s]:%s %s", host.Host.Address, port, host.Host.HostKey)},
	} {
		if err := os.WriteFile(file.path, []byte(file.data), 0o600); err != nil {
			b.Fatalf("write %s: %v", file.path, err)
		}
	}
	args := []string{
		"-F", "none", "-T",
		"-o", "BatchMode=yes",
		"-o", "StrictHostKeyChecking=yes",
		"-o", "UserKnownHostsFile=" + knownHosts,
		"-o", "GlobalKnownHostsFile=/dev/null",
		"-o", "IdentitiesOnly=yes",
		"-o", "IdentityAgent=none",
		"-o", "LogLevel=ERROR",
		"-i", keyFile,
		"-o", "CertificateFile=" + certFile,
		"-p", port,
		host.Host.SSHUser + "@" + host.Host.Address,
		"version",
	}
	run := func() {
		out, err := exec.Command(sshPath, args...).CombinedOutput()
		if err != nil || string(out) != "dokku version "+benchVersion+"\n" {
			b.Fatalf("ssh version = %q, %v", out, err)
		}
	}
	run()

	b.ResetTimer()
	for b.Loop() {
		run()
	}
}

// BenchmarkPooledConcurrentHosts runs `version` on 1, 10, 100 and 1,000
// test hosts at once through one pooled executor, one worker per host, each
// on its warm connection. It reports latency percentiles over all commands
// and the heap, resident memory and goroutines per warm connection. The
// test hosts run in the same process, so the per-host memory counts both
// ends of each connection.
func BenchmarkPooledConcurrentHosts(b *testing.B) {
	for _, hosts := range []int{1, 10, 100, 1000} {
		b.Run(fmt.Sprintf("hosts=%d", hosts), func(b *testing.B) {
			benchmarkConcurrentHosts(b, hosts)
		})
	}
}

func benchmarkConcurrentHosts(b *testing.B, hosts int) {
	ctx := context.Background()
	targets := make([]app.Target, hosts)
	for i := range targets {
		host := sshtest.Start(b, emulator.Options{Version: benchVersion})
		target := host.Target()
		// One pool slot per host: the pool is keyed by tenant and host id.
		target.Host.ID = fmt.Sprintf("h-%d", i)
		targets[i] = target
	}

	before := heapInuse()
	rssBefore := residentBytes(b)
	goroutinesBefore := runtime.NumGoroutine()
	executor := newBenchExecutor(b)
	// At most warmConcurrency handshakes at once: 1,000 simultaneous
	// handshakes outlasted the 5 s dial timeout on a shared 2-core machine.
	var warm sync.WaitGroup
	errs := make(chan error, hosts)
	handshakes := make(chan struct{}, warmConcurrency)
	for _, target := range targets {
		warm.Go(func() {
			handshakes <- struct{}{}
			defer func() { <-handshakes }()
			if _, err := executor.Run(ctx, target, domain.VersionCommand()); err != nil {
				errs <- err
			}
		})
	}
	warm.Wait()
	close(errs)
	for err := range errs {
		b.Fatalf("warm-up Run: %v", err)
	}
	after := heapInuse()
	rssAfter := residentBytes(b)
	goroutinesAfter := runtime.NumGoroutine()

	var next atomic.Int64
	latencies := make([][]time.Duration, hosts)
	var failed atomic.Pointer[error]
	b.ReportAllocs()
	b.ResetTimer()
	var workers sync.WaitGroup
	for i, target := range targets {
		workers.Go(func() {
			for next.Add(1) <= int64(b.N) {
				start := time.Now()
				result, err := executor.Run(ctx, target, domain.VersionCommand())
				latencies[i] = append(latencies[i], time.Since(start))
				if err == nil && result.ExitStatus != 0 {
					err = fmt.Errorf("exit status %d", result.ExitStatus)
				}
				if err != nil {
					failed.CompareAndSwap(nil, &err)
					return
				}
			}
		})
	}
	workers.Wait()
	b.StopTimer()
	if err := failed.Load(); err != nil {
		b.Fatalf("Run: %v", *err)
	}

	all := slices.Concat(latencies...)
	slices.Sort(all)
	for _, p := range []struct {
		unit string
		q    float64
	}{{"p50-ns", 0.50}, {"p95-ns", 0.95}, {"p99-ns", 0.99}} {
		b.ReportMetric(float64(percentile(all, p.q)), p.unit)
	}
	b.ReportMetric(float64(int64(after)-int64(before))/float64(hosts), "heap-inuse-B/host")
	b.ReportMetric(float64(rssAfter-rssBefore)/float64(hosts), "rss-B/host")
	b.ReportMetric(float64(goroutinesAfter-goroutinesBefore)/float64(hosts), "goroutines/host")
}

func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(q*float64(len(sorted))))]
}

// residentBytes returns the process's resident set size from VmRSS in
// /proc/self/status, or 0 where that file is missing. It first returns
// freed memory to the operating system, so that memory the previous run
// of the benchmark freed does not hide the growth being measured.
func residentBytes(b *testing.B) int64 {
	b.Helper()
	debug.FreeOSMemory()
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(status)) {
		fields := strings.Fields(line)
		if len(fields) == 3 && fields[0] == "VmRSS:" && fields[2] == "kB" {
			kib, err := strconv.ParseInt(fields[1], 10, 64)
			if err != nil {
				b.Fatalf("parse VmRSS %q: %v", line, err)
			}
			return kib * 1024
		}
	}
	return 0
}

func heapInuse() uint64 {
	runtime.GC()
	var stats runtime.MemStats
	runtime.ReadMemStats(&stats)
	return stats.HeapInuse
}
