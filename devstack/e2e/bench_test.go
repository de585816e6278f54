package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"
	"golang.org/x/oauth2/clientcredentials"

	"dokkumcp.dev/devstack/internal/stack"
	dokkuexecv1 "dokkumcp.dev/gen/dokkumcp/dokkuexec/v1"
	"dokkumcp.dev/gen/dokkumcp/dokkuexec/v1/dokkuexecv1connect"
)

// startBenchStack starts the stack with its logs discarded and Identity's
// token rate limits off: every tenant's token, and every exchange mcpedge
// makes for it, comes from 127.0.0.1 and, for exchanges, from one client.
func startBenchStack(b *testing.B) *stack.Stack {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	st, err := stack.Start(ctx, stack.Options{Vault: "auto", IdentityRateLimitsOff: true})
	if err != nil {
		b.Fatalf("start stack: %v", err)
	}
	b.Cleanup(st.Stop)
	b.Logf("SSH CA backend: %s", st.CABackend)
	return st
}

// benchHTTPClient keeps a connection per concurrent worker open, as an MCP
// client that stays connected would, instead of the default two idle ones.
func benchHTTPClient(workers int) *http.Client {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConns = workers
	transport.MaxIdleConnsPerHost = workers
	return &http.Client{Transport: transport, Timeout: time.Minute}
}

// postTool posts one stateless tools/call, as a 2025-11-25 client does
// after initialize, and fails unless it returns a result without isError.
func postTool(client *http.Client, mcpURL, token, body string) error {
	req, err := http.NewRequest(http.MethodPost, mcpURL, bytes.NewReader([]byte(body)))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("MCP-Protocol-Version", "2025-11-25")
	req.Header.Set("Authorization", "Bearer "+token)

	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d: %s", resp.StatusCode, raw)
	}

	// mcpedge responds with JSON, or with an SSE stream whose first data line
	// is the response.
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		for line := range strings.Lines(string(raw)) {
			if data, ok := strings.CutPrefix(strings.TrimSpace(line), "data: "); ok {
				raw = []byte(data)
				break
			}
		}
	}
	var answer struct {
		Result *struct {
			IsError bool `json:"isError"`
		} `json:"result"`
		Error *struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(raw, &answer); err != nil {
		return fmt.Errorf("decode %q: %w", raw, err)
	}
	if answer.Error != nil || answer.Result == nil || answer.Result.IsError {
		return fmt.Errorf("tool call failed: %s", raw)
	}
	return nil
}

// requestToken fetches an access token for resource with the client
// credentials grant.
func requestToken(ctx context.Context, tokenURL, clientID, secret, resource string) (string, error) {
	cfg := clientcredentials.Config{
		ClientID: clientID, ClientSecret: secret, TokenURL: tokenURL,
		EndpointParams: url.Values{"resource": {resource}},
	}
	token, err := cfg.Token(ctx)
	if err != nil {
		return "", fmt.Errorf("fetch token for %s: %w", clientID, err)
	}
	return token.AccessToken, nil
}

// latencies collects per-call durations from concurrent workers.
type latencies struct {
	mu     sync.Mutex
	values []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.values = append(l.values, d)
	l.mu.Unlock()
}

// report adds the mean, p50, p95 and p99 of the collected durations to b,
// each metric's unit starting with prefix.
func (l *latencies) report(b *testing.B, prefix string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.values) == 0 {
		return
	}
	slices.Sort(l.values)
	var sum time.Duration
	for _, d := range l.values {
		sum += d
	}
	b.ReportMetric(float64(sum.Nanoseconds())/float64(len(l.values)), prefix+"mean-ns")
	for _, p := range []int{50, 95, 99} {
		index := min(len(l.values)*p/100, len(l.values)-1)
		b.ReportMetric(float64(l.values[index].Nanoseconds()), prefix+"p"+strconv.Itoa(p)+"-ns")
	}
}

// BenchmarkToolCallOverhead reads one app's report through mcpedge
// (apps_report over Streamable HTTP) and straight from DokkuExec
// (GetAppReport over Connect), against the same Dokku test host. Each
// iteration makes one call of each, in alternating order, so that both see
// the same load on a shared machine. The difference between the two is
// what mcpedge adds: bearer verification, the strict JSON-RPC parse, the
// rate limiter, the audit event, mcp-go's dispatch and schema validation,
// and a second HTTP hop. Both clients send one request at a time.
func BenchmarkToolCallOverhead(b *testing.B) {
	st := startBenchStack(b)
	ctx := context.Background()
	tenant, err := st.SeedTenant(ctx, stack.TenantOptions{Slug: "bench-overhead", Resources: []string{"urn:dokkumcp:dokkuexec"}})
	if err != nil {
		b.Fatal(err)
	}
	// The benchmark makes more calls than the pro plan's 600 a minute.
	if err := st.SetToolCallsPerMinute(ctx, tenant.ID, 1_000_000_000); err != nil {
		b.Fatal(err)
	}
	tokenURL := st.IdentityURL + "/oauth2/token"
	mcpToken, err := requestToken(ctx, tokenURL, tenant.ClientID, tenant.ClientSecret, st.MCPURL)
	if err != nil {
		b.Fatal(err)
	}
	execToken, err := requestToken(ctx, tokenURL, tenant.ClientID, tenant.ClientSecret, "urn:dokkumcp:dokkuexec")
	if err != nil {
		b.Fatal(err)
	}

	client := benchHTTPClient(1)
	create := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"apps_create","arguments":{"app":"bench"}}}`
	if err := postTool(client, st.MCPURL, mcpToken, create); err != nil {
		b.Fatal(err)
	}

	body := `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"apps_report","arguments":{"app":"bench"}}}`
	viaMCPEdge := func() error { return postTool(client, st.MCPURL, mcpToken, body) }
	exec := dokkuexecv1connect.NewDokkuExecServiceClient(client, st.DokkuExecURL)
	direct := func() error {
		req := connect.NewRequest(&dokkuexecv1.GetAppReportRequest{App: "bench"})
		req.Header().Set("Authorization", "Bearer "+execToken)
		resp, err := exec.GetAppReport(ctx, req)
		if err == nil && resp.Msg.GetReport().GetApp() != "bench" {
			err = fmt.Errorf("report of app %q, want bench", resp.Msg.GetReport().GetApp())
		}
		return err
	}
	// The first calls exchange the token and open the SSH connection.
	for _, call := range []func() error{viaMCPEdge, direct} {
		if err := call(); err != nil {
			b.Fatal(err)
		}
	}

	var mcpedgeLatency, directLatency latencies
	// CPU time is measured around each call. Work a call leaves running,
	// such as mcpedge's asynchronous audit append, is counted in whichever
	// call runs next, and the alternating order spreads it over both.
	var mcpedgeCPU, directCPU time.Duration
	timed := func(call func() error, into *latencies, cpu *time.Duration) {
		start, cpuStart := time.Now(), processCPU(b)
		if err := call(); err != nil {
			b.Fatal(err)
		}
		into.add(time.Since(start))
		*cpu += processCPU(b) - cpuStart
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if i%2 == 0 {
			timed(viaMCPEdge, &mcpedgeLatency, &mcpedgeCPU)
			timed(direct, &directLatency, &directCPU)
		} else {
			timed(direct, &directLatency, &directCPU)
			timed(viaMCPEdge, &mcpedgeLatency, &mcpedgeCPU)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(mcpedgeCPU.Nanoseconds())/float64(b.N), "mcpedge-cpu-ns")
	b.ReportMetric(float64(directCPU.Nanoseconds())/float64(b.N), "direct-cpu-ns")
	mcpedgeLatency.report(b, "mcpedge-")
	directLatency.report(b, "direct-")
}

// benchTenants is the number of tenants of BenchmarkConcurrentTenants;
// DOKKUMCP_BENCH_TENANTS overrides it for a quicker trial run.
func benchTenants(b *testing.B) int {
	text := os.Getenv("DOKKUMCP_BENCH_TENANTS")
	if text == "" {
		return 1000
	}
	n, err := strconv.Atoi(text)
	if err != nil || n < 1 {
		b.Fatalf("invalid DOKKUMCP_BENCH_TENANTS %q: use a positive integer", text)
	}
	return n
}

// processCPU returns the CPU time, user and system, the process has used.
// It counts every service and test host in the process, but not PostgreSQL
// or Vault, which run as separate processes.
func processCPU(b *testing.B) time.Duration {
	var usage syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &usage); err != nil {
		b.Fatal(err)
	}
	return time.Duration(usage.Utime.Nano() + usage.Stime.Nano())
}

// heapInuse returns the process's in-use heap after a garbage collection.
func heapInuse() uint64 {
	runtime.GC()
	var stats runtime.MemStats
	runtime.ReadMemStats(&stats)
	return stats.HeapInuse
}

// BenchmarkConcurrentTenants seeds 1,000 tenants, each with its own API
// client, token and Dokku test host, and warms each one up with one call.
// Then one worker per tenant calls apps_list through mcpedge until b.N
// calls are done, so 1,000 calls are in flight at a time. Tenants keep the
// pro plan's rate limit of 600 calls a minute.
//
// It reports ns/op (wall time / calls, the inverse of throughput, not a
// call's latency), the latency percentiles of all calls, and the heap in
// use after the run. The whole platform and the test hosts share the
// process, so the heap counts all of them; PostgreSQL and Vault run as
// separate processes and are not counted.
func BenchmarkConcurrentTenants(b *testing.B) {
	heapBefore := heapInuse()
	st := startBenchStack(b)
	ctx := context.Background()
	n := benchTenants(b)
	tokenURL := st.IdentityURL + "/oauth2/token"
	client := benchHTTPClient(n)
	body := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"apps_list","arguments":{}}}`

	// Seed and warm up the tenants, a few at a time.
	tokens := make([]string, n)
	seedStart := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range 8 {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				tenant, err := st.SeedTenant(ctx, stack.TenantOptions{Slug: fmt.Sprintf("bench-%04d", i)})
				if err != nil {
					errs <- fmt.Errorf("seed tenant %d: %w", i, err)
					return
				}
				if tokens[i], err = requestToken(ctx, tokenURL, tenant.ClientID, tenant.ClientSecret, st.MCPURL); err != nil {
					errs <- fmt.Errorf("token of tenant %d: %w", i, err)
					return
				}
				if err := postTool(client, st.MCPURL, tokens[i], body); err != nil {
					errs <- fmt.Errorf("warm up tenant %d: %w", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	heapWarm := heapInuse()
	b.Logf("seeded and warmed %d tenants in %v; heap in use %d MiB before the stack, %d MiB with all tenants warm",
		n, time.Since(seedStart).Round(time.Second), heapBefore>>20, heapWarm>>20)

	b.Run(fmt.Sprintf("tenants=%d", n), func(b *testing.B) {
		var lat latencies
		var remaining atomic.Int64
		remaining.Store(int64(b.N))
		var failed atomic.Int64
		var errOnce sync.Once
		var firstErr error
		cpuStart := processCPU(b)
		b.ResetTimer()
		var workers sync.WaitGroup
		for i := range n {
			workers.Go(func() {
				for remaining.Add(-1) >= 0 {
					start := time.Now()
					if err := postTool(client, st.MCPURL, tokens[i], body); err != nil {
						failed.Add(1)
						errOnce.Do(func() { firstErr = err })
						continue
					}
					lat.add(time.Since(start))
				}
			})
		}
		workers.Wait()
		b.StopTimer()
		if failed.Load() > 0 {
			b.Fatalf("%d of %d calls failed; first: %v", failed.Load(), b.N, firstErr)
		}
		b.ReportMetric(float64((processCPU(b)-cpuStart).Nanoseconds())/float64(b.N), "cpu-ns/op")
		lat.report(b, "")
		b.ReportMetric(float64(heapInuse())/(1<<20), "heap-inuse-MiB")
	})
}
