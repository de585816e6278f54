package server_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jackc/pgx/v5"

	"dokkumcp.dev/platform/auth"
	"dokkumcp.dev/platform/pgtest"
)

// tokenLoadWorkers is the number of goroutines that request tokens at once
// in BenchmarkTokenServers, the same for every server.
const tokenLoadWorkers = 8

// hydraMaxConns is Hydra's database pool size (the max_conns DSN parameter)
// unless DOKKUMCP_HYDRA_MAX_CONNS sets another, where 0 keeps Hydra's
// default of 2 × the CPU count, 4 on a 2-core machine. With that default
// and tokenLoadWorkers concurrent requests, Hydra v2.3.0 deadlocks. A
// goroutine dump showed the 4 connections held by open transactions whose
// requests wait for the mutex of the access-token key set. The request
// holding that mutex waits for a connection. So the benchmark gives
// Hydra a connection for each worker and as many spare.
const hydraMaxConns = 2 * tokenLoadWorkers

// hydraAccessTokenSet is the JSON Web Key Set Hydra signs JWT access tokens
// with (x.OAuth2JWTKeyName in Hydra v2.3.0).
const hydraAccessTokenSet = "hydra.jwt.access-token"

// BenchmarkTokenServers measures, in one run, client_credentials issuance
// and access-token verification of Identity and of Ory Hydra v2.3.0, both
// on the same throwaway PostgreSQL cluster, with the same HTTP load
// generator and the same number of concurrent requests. It needs the Hydra
// binary that `make hydra` builds and is skipped without it.
//
// The issue sub-benchmarks report tokens/s and p50/p95/p99 latency. There
// are three Hydra cases. hydra-defaults keeps Hydra's defaults: PBKDF2-SHA256
// with 25,000 iterations for client secrets and RS256 with a 4096-bit RSA
// key. hydra-ed25519 is the same process after its key set is replaced by
// an Ed25519 key. hydra-ed25519-pbkdf2-1 is a second process with PBKDF2 at
// 1 iteration and an Ed25519 key, the settings closest to Identity's
// HMAC-SHA256 client secrets and Ed25519 tokens.
func BenchmarkTokenServers(b *testing.B) {
	hydraBin := hydraBinary(b)
	// The recorder's cleanup is registered before the servers start, so it
	// runs after they stop and also records requests Hydra sends on shutdown.
	recorder := startOutboundRecorder(b)

	identity := startBenchServer(b)
	hydra := startHydra(b, hydraBin, recorder.URL(), 0)
	hydraTuned := startHydra(b, hydraBin, recorder.URL(), 1)
	if err := hydraTuned.useEd25519Key(); err != nil {
		b.Fatalf("replace the access-token key of the tuned Hydra: %v", err)
	}

	identityIssue := func(client *http.Client) (string, error) {
		return issueToken(client, identity.URL+"/oauth2/token", "dokkuexec", identity.Secrets["dokkuexec"], audienceTenancy)
	}

	b.Run("issue/identity", func(b *testing.B) { benchmarkIssuance(b, identityIssue, 0) })
	b.Run("issue/hydra-defaults", func(b *testing.B) { benchmarkIssuance(b, hydra.issue, hydra.pid()) })
	rsaToken, rsaVerifier := hydra.tokenAndVerifier(b, "RS256")
	if err := hydra.useEd25519Key(); err != nil {
		b.Fatalf("replace Hydra's access-token key: %v", err)
	}
	b.Run("issue/hydra-ed25519", func(b *testing.B) { benchmarkIssuance(b, hydra.issue, hydra.pid()) })
	b.Run("issue/hydra-ed25519-pbkdf2-1", func(b *testing.B) { benchmarkIssuance(b, hydraTuned.issue, hydraTuned.pid()) })

	identityToken, err := identityIssue(http.DefaultClient)
	if err != nil {
		b.Fatalf("Identity token: %v", err)
	}
	identityVerifier := identity.verifier(audienceTenancy)
	b.Run("verify/identity", func(b *testing.B) {
		benchmarkVerification(b, func(ctx context.Context) error {
			_, err := identityVerifier.Verify(ctx, identityToken)
			return err
		})
	})
	b.Run("verify/hydra-rs256", func(b *testing.B) {
		benchmarkVerification(b, func(context.Context) error { return rsaVerifier.verify(rsaToken) })
	})
	edToken, edVerifier := hydraTuned.tokenAndVerifier(b, "EdDSA")
	b.Run("verify/hydra-ed25519", func(b *testing.B) {
		benchmarkVerification(b, func(context.Context) error { return edVerifier.verify(edToken) })
	})

	for _, h := range []*hydraServer{hydra, hydraTuned} {
		h.checkStoredTokens(b)
		if err := h.checkConnections(); err != nil {
			b.Error(err)
		}
	}
}

// benchmarkIssuance runs b.N token requests from tokenLoadWorkers goroutines
// and reports tokens/s and latency percentiles over all requests. It also
// reports the CPU time per token of this process (the load generator, and
// Identity when it is the server) and, when serverPID is not 0, of that
// server process. PostgreSQL's CPU time is in neither.
func benchmarkIssuance(b *testing.B, issue func(*http.Client) (string, error), serverPID int) {
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.Cleanup(client.CloseIdleConnections)
	for range tokenLoadWorkers {
		if _, err := issue(client); err != nil {
			b.Fatalf("warm-up token: %v", err)
		}
	}

	var next atomic.Int64
	latencies := make([][]time.Duration, tokenLoadWorkers)
	var failed atomic.Pointer[error]
	selfBefore := processCPU(b, os.Getpid())
	serverBefore := processCPU(b, serverPID)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	var workers sync.WaitGroup
	for i := range tokenLoadWorkers {
		workers.Go(func() {
			for next.Add(1) <= int64(b.N) {
				begin := time.Now()
				_, err := issue(client)
				latencies[i] = append(latencies[i], time.Since(begin))
				if err != nil {
					failed.CompareAndSwap(nil, &err)
					return
				}
			}
		})
	}
	workers.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if err := failed.Load(); err != nil {
		b.Fatalf("token request: %v", *err)
	}
	b.ReportMetric(float64(processCPU(b, os.Getpid())-selfBefore)/float64(b.N), "bench-cpu-ns/token")
	if serverPID != 0 {
		b.ReportMetric(float64(processCPU(b, serverPID)-serverBefore)/float64(b.N), "hydra-cpu-ns/token")
	}

	all := slices.Concat(latencies...)
	slices.Sort(all)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "tokens/s")
	for _, p := range []struct {
		unit string
		q    float64
	}{{"p50-ns", 0.50}, {"p95-ns", 0.95}, {"p99-ns", 0.99}} {
		b.ReportMetric(float64(latencyPercentile(all, p.q)), p.unit)
	}
}

// clockTicksPerSecond is the unit of the CPU times in /proc/<pid>/stat
// (USER_HZ), 100 on Linux for x86 and arm64.
const clockTicksPerSecond = 100

// processCPU returns the user plus system CPU time of process pid, read from
// /proc/<pid>/stat at 10 ms resolution, or 0 for pid 0.
func processCPU(b *testing.B, pid int) time.Duration {
	if pid == 0 {
		return 0
	}
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatalf("read CPU time of process %d: %v", pid, err)
	}
	// The command name in field 2 may contain spaces, so count the fields
	// after its closing parenthesis: utime and stime are fields 14 and 15.
	_, rest, _ := strings.Cut(string(raw), ") ")
	fields := strings.Fields(rest)
	if len(fields) < 13 {
		b.Fatalf("unexpected /proc/%d/stat: %q", pid, raw)
	}
	utime, errU := strconv.ParseInt(fields[11], 10, 64)
	stime, errS := strconv.ParseInt(fields[12], 10, 64)
	if err := errors.Join(errU, errS); err != nil {
		b.Fatalf("parse /proc/%d/stat: %v", pid, err)
	}
	return time.Duration(utime+stime) * time.Second / clockTicksPerSecond
}

func latencyPercentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(q*float64(len(sorted))))]
}

// benchmarkVerification calls verify b.N times on one goroutine. Besides
// the wall time per call (ns/op), it reports this process's CPU time per
// call, which waiting for a busy CPU does not inflate.
func benchmarkVerification(b *testing.B, verify func(context.Context) error) {
	ctx := context.Background()
	if err := verify(ctx); err != nil {
		b.Fatalf("warm-up verification: %v", err)
	}
	cpuBefore := processCPU(b, os.Getpid())
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := verify(ctx); err != nil {
			b.Fatalf("verification: %v", err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(processCPU(b, os.Getpid())-cpuBefore)/float64(b.N), "cpu-ns/op")
}

// postTokenForm sends one token request with client_secret_basic and returns
// the access token.
func postTokenForm(client *http.Client, tokenURL, id, secret string, form url.Values) (string, error) {
	req, err := http.NewRequest(http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	var out tokenResponse
	if err := json.Unmarshal(raw, &out); err != nil || resp.StatusCode != http.StatusOK || out.AccessToken == "" {
		return "", &tokenError{status: resp.StatusCode, body: string(raw)}
	}
	return out.AccessToken, nil
}

// hydraBinary returns the Hydra binary that `make hydra` builds, or skips
// the benchmark when it is missing.
func hydraBinary(b *testing.B) string {
	path := os.Getenv("DOKKUMCP_HYDRA_BIN")
	if path == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			b.Skipf("no cache directory for the Hydra binary (%v): set DOKKUMCP_HYDRA_BIN", err)
		}
		path = filepath.Join(cache, "dokkumcp", "hydra-2.3.0")
	}
	if _, err := os.Stat(path); err != nil {
		b.Skipf("Hydra binary %s not found: run make hydra, or set DOKKUMCP_HYDRA_BIN", path)
	}
	return path
}

// hydraServer is one `hydra serve all` process with its own database and
// one client_credentials client.
type hydraServer struct {
	publicURL   string
	adminURL    string
	postgresURL string
	clientID    string
	secret      string
	cmd         *exec.Cmd
	logPath     string
	admin       *http.Client
	// issued counts the tokens Hydra returned to issue.
	issued atomic.Int64
}

// startHydra migrates a new database in the pgtest cluster and starts Hydra
// on two 127.0.0.1 ports with JWT access tokens. pbkdf2Iterations sets
// oauth2.hashers.pbkdf2.iterations; 0 keeps Hydra's default. Hydra's HTTP
// clients are pointed at proxyURL, and its analytics are opted out.
func startHydra(b *testing.B, bin, proxyURL string, pbkdf2Iterations int) *hydraServer {
	b.Helper()
	dir := b.TempDir()
	keyValueDSN := pgtest.NewDatabase(b)
	dsn, err := hydraDSN(keyValueDSN)
	if err != nil {
		b.Fatal(err)
	}
	publicPort, adminPort := freePort(b), freePort(b)
	h := &hydraServer{
		publicURL: "http://127.0.0.1:" + strconv.Itoa(publicPort),
		adminURL:  "http://127.0.0.1:" + strconv.Itoa(adminPort),
		logPath:   filepath.Join(dir, "hydra.log"),
		admin:     &http.Client{Timeout: 30 * time.Second},
	}
	h.postgresURL = keyValueDSN

	systemSecret := make([]byte, 32)
	rand.Read(systemSecret)
	config := map[string]any{
		"dsn": dsn,
		"serve": map[string]any{
			"public": map[string]any{"host": "127.0.0.1", "port": publicPort},
			"admin":  map[string]any{"host": "127.0.0.1", "port": adminPort},
		},
		"urls":       map[string]any{"self": map[string]any{"issuer": h.publicURL}},
		"secrets":    map[string]any{"system": []string{hex.EncodeToString(systemSecret)}},
		"strategies": map[string]any{"access_token": "jwt"},
		"sqa":        map[string]any{"opt_out": true},
	}
	if pbkdf2Iterations > 0 {
		config["oauth2"] = map[string]any{"hashers": map[string]any{
			"algorithm": "pbkdf2",
			"pbkdf2":    map[string]any{"iterations": pbkdf2Iterations},
		}}
	}
	configJSON, err := json.Marshal(config)
	if err != nil {
		b.Fatal(err)
	}
	// Hydra reads YAML, and JSON is YAML.
	configPath := filepath.Join(dir, "hydra.yaml")
	if err := os.WriteFile(configPath, configJSON, 0o600); err != nil {
		b.Fatal(err)
	}

	// Go's HTTP clients send every request for a host other than loopback
	// through HTTP_PROXY or HTTPS_PROXY, so such requests reach the recorder
	// and nowhere else. SQA_OPT_OUT=true opts out of Ory's analytics.
	env := []string{
		"HOME=" + dir,
		"SQA_OPT_OUT=true",
		"HTTP_PROXY=" + proxyURL, "HTTPS_PROXY=" + proxyURL,
		"http_proxy=" + proxyURL, "https_proxy=" + proxyURL,
		"NO_PROXY=", "no_proxy=",
	}
	migrate := exec.Command(bin, "migrate", "sql", "up", "--read-from-env", "--yes", "--config", configPath)
	migrate.Env = env
	migrate.Dir = dir
	if out, err := migrate.CombinedOutput(); err != nil {
		b.Fatalf("hydra migrate sql up: %v\n%s", err, out)
	}

	logFile, err := os.Create(h.logPath)
	if err != nil {
		b.Fatal(err)
	}
	// --dev allows the http:// issuer on 127.0.0.1.
	h.cmd = exec.Command(bin, "serve", "all", "--dev", "--sqa-opt-out", "--config", configPath)
	h.cmd.Env = env
	h.cmd.Dir = dir
	h.cmd.Stdout, h.cmd.Stderr = logFile, logFile
	h.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := h.cmd.Start(); err != nil {
		logFile.Close()
		b.Fatalf("start hydra: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- h.cmd.Wait() }()
	b.Cleanup(func() {
		h.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			h.cmd.Process.Kill()
			<-exited
			b.Errorf("hydra did not stop within 30s of SIGTERM")
		}
		logFile.Close()
	})

	deadline := time.Now().Add(2 * time.Minute)
	for {
		resp, err := h.admin.Get(h.adminURL + "/health/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case err := <-exited:
			exited <- err
			b.Fatalf("hydra exited during start: %v\nlog:\n%s", err, h.logTail())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			b.Fatalf("hydra was not ready within 2 minutes: %v\nlog:\n%s", err, h.logTail())
		}
	}

	if err := h.createClient(); err != nil {
		b.Fatalf("create Hydra client: %v\nlog:\n%s", err, h.logTail())
	}
	iterations := pbkdf2Iterations
	if iterations == 0 {
		iterations = hydraDefaultPBKDF2Iterations
	}
	h.checkSecretHash(b, fmt.Sprintf("$pbkdf2-sha256$i=%d,l=32$", iterations))
	return h
}

// hydraDefaultPBKDF2Iterations is the default of
// oauth2.hashers.pbkdf2.iterations in Hydra v2.3.0's configuration schema.
const hydraDefaultPBKDF2Iterations = 25000

// checkSecretHash fails the benchmark unless the one client's stored secret
// hash starts with prefix, so the hasher and cost in the results are the
// ones Hydra used.
func (h *hydraServer) checkSecretHash(b *testing.B, prefix string) {
	b.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, h.postgresURL)
	if err != nil {
		b.Fatalf("connect to Hydra's database: %v", err)
	}
	defer conn.Close(ctx)
	var hash string
	if err := conn.QueryRow(ctx, "SELECT client_secret FROM hydra_client").Scan(&hash); err != nil {
		b.Fatalf("read the client's secret hash from hydra_client: %v", err)
	}
	if !strings.HasPrefix(hash, prefix) {
		// The hash parameters are not secret, but the rest of the hash is
		// not printed either.
		params := "unrecognized format"
		if parts := strings.SplitN(hash, "$", 4); len(parts) == 4 {
			params = "$" + parts[1] + "$" + parts[2] + "$"
		}
		b.Fatalf("hydra stored the client secret hash with parameters %s, expected the prefix %s", params, prefix)
	}
}

// hydraDSN turns pgtest's key=value connection string, which names the
// cluster's Unix socket directory, into the URL form Hydra's dsn requires,
// with the pool size that hydraMaxConns describes.
func hydraDSN(keyValue string) (string, error) {
	params := map[string]string{}
	for field := range strings.FieldsSeq(keyValue) {
		key, value, ok := strings.Cut(field, "=")
		if !ok {
			return "", fmt.Errorf("pgtest connection string field %q is not key=value", field)
		}
		params[key] = value
	}
	maxConns := hydraMaxConns
	if v := os.Getenv("DOKKUMCP_HYDRA_MAX_CONNS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return "", fmt.Errorf("DOKKUMCP_HYDRA_MAX_CONNS=%q is not a connection count: set a number, 0 for Hydra's default", v)
		}
		maxConns = n
	}
	query := url.Values{"host": {params["host"]}, "port": {params["port"]}, "sslmode": {"disable"}}
	if maxConns > 0 {
		query.Set("max_conns", strconv.Itoa(maxConns))
	}
	u := url.URL{Scheme: "postgres", User: url.User(params["user"]), Path: "/" + params["dbname"], RawQuery: query.Encode()}
	return u.String(), nil
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
// Hydra takes ports from its configuration rather than a listener, so
// another process could take the port in between, and startHydra would then
// fail to become ready.
func freePort(b *testing.B) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func (h *hydraServer) pid() int { return h.cmd.Process.Pid }

func (h *hydraServer) logTail() string {
	raw, _ := os.ReadFile(h.logPath)
	if len(raw) > 8000 {
		raw = raw[len(raw)-8000:]
	}
	return string(raw)
}

// adminJSON sends a request with a JSON body to Hydra's admin API and decodes
// the JSON response into out when out is not nil.
func (h *hydraServer) adminJSON(method, path string, in, out any, wantStatus int) error {
	var body io.Reader
	if in != nil {
		raw, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, h.adminURL+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := h.admin.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != wantStatus {
		return fmt.Errorf("%s %s returned %d, expected %d: %s", method, path, resp.StatusCode, wantStatus, raw)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(raw, out)
}

// createClient registers a client_credentials client that authenticates with
// client_secret_basic and may request the tenancy audience, as Identity's
// dokkuexec service client does.
func (h *hydraServer) createClient() error {
	secret := make([]byte, 32)
	rand.Read(secret)
	h.secret = base64.RawURLEncoding.EncodeToString(secret)
	var created struct {
		ClientID string `json:"client_id"`
	}
	err := h.adminJSON(http.MethodPost, "/admin/clients", map[string]any{
		"client_name":                "benchmark",
		"client_secret":              h.secret,
		"grant_types":                []string{"client_credentials"},
		"response_types":             []string{"token"},
		"token_endpoint_auth_method": "client_secret_basic",
		"audience":                   []string{audienceTenancy},
		"access_token_strategy":      "jwt",
	}, &created, http.StatusCreated)
	if err != nil {
		return err
	}
	if created.ClientID == "" {
		return errors.New("POST /admin/clients returned no client_id")
	}
	h.clientID = created.ClientID
	return nil
}

// useEd25519Key replaces Hydra's access-token key set with one Ed25519 key.
// Hydra reads the set from PostgreSQL for every token it signs, so the next
// token is signed with EdDSA.
func (h *hydraServer) useEd25519Key() error {
	if err := h.adminJSON(http.MethodDelete, "/admin/keys/"+hydraAccessTokenSet, nil, nil, http.StatusNoContent); err != nil {
		return err
	}
	return h.adminJSON(http.MethodPost, "/admin/keys/"+hydraAccessTokenSet,
		map[string]string{"alg": "EdDSA", "use": "sig", "kid": "benchmark-ed25519"}, nil, http.StatusCreated)
}

// issue requests one token with client_secret_basic. Hydra takes the
// requested audience in an audience parameter, where Identity takes the
// RFC 8707 resource parameter.
func (h *hydraServer) issue(client *http.Client) (string, error) {
	form := url.Values{"grant_type": {"client_credentials"}, "audience": {audienceTenancy}}
	token, err := postTokenForm(client, h.publicURL+"/oauth2/token", h.clientID, h.secret, form)
	if err == nil {
		h.issued.Add(1)
	}
	return token, err
}

// tokenAndVerifier issues one token, checks that its header names alg, and
// returns it with a verifier built from Hydra's published key set.
func (h *hydraServer) tokenAndVerifier(b *testing.B, alg string) (string, *jwksVerifier) {
	b.Helper()
	token, err := h.issue(http.DefaultClient)
	if err != nil {
		b.Fatalf("Hydra token: %v", err)
	}
	parsed, _, err := jwt.NewParser().ParseUnverified(token, jwt.MapClaims{})
	if err != nil {
		b.Fatalf("parse Hydra token: %v", err)
	}
	if parsed.Method.Alg() != alg {
		b.Fatalf("Hydra token alg = %q, expected %q", parsed.Method.Alg(), alg)
	}

	var discovery struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := fetchJSON(h.publicURL+"/.well-known/openid-configuration", &discovery); err != nil {
		b.Fatal(err)
	}
	keys, err := fetchPublicKeys(h.publicURL + "/.well-known/jwks.json")
	if err != nil {
		b.Fatal(err)
	}
	return token, newJWKSVerifier(discovery.Issuer, audienceTenancy, alg, keys)
}

// checkStoredTokens fails the benchmark unless Hydra stored one row in
// hydra_oauth2_access for each token it issued, JWTs included.
func (h *hydraServer) checkStoredTokens(b *testing.B) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, h.postgresURL)
	if err != nil {
		b.Errorf("connect to Hydra's database: %v", err)
		return
	}
	defer conn.Close(ctx)
	var rows int64
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM hydra_oauth2_access").Scan(&rows); err != nil {
		b.Errorf("count Hydra's stored access tokens: %v", err)
		return
	}
	if issued := h.issued.Load(); rows != issued {
		b.Errorf("Hydra at %s stored %d rows in hydra_oauth2_access for %d issued tokens", h.publicURL, rows, issued)
	}
}

// checkConnections returns an error when the Hydra process has a TCP
// socket bound to an address other than loopback, or a TCP or UDP socket
// whose remote end is not loopback. It is a snapshot of /proc, so it
// complements the proxy recorder, which records every HTTP request however
// short-lived.
func (h *hydraServer) checkConnections() error {
	inodes := map[string]bool{}
	fdDir := fmt.Sprintf("/proc/%d/fd", h.pid())
	entries, err := os.ReadDir(fdDir)
	if err != nil {
		return fmt.Errorf("list Hydra's file descriptors: %w", err)
	}
	for _, e := range entries {
		target, err := os.Readlink(filepath.Join(fdDir, e.Name()))
		if err == nil && strings.HasPrefix(target, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(target, "socket:["), "]")] = true
		}
	}
	for _, table := range []string{"tcp", "tcp6", "udp", "udp6"} {
		raw, err := os.ReadFile("/proc/net/" + table)
		if err != nil {
			continue
		}
		for line := range strings.Lines(string(raw)) {
			// Fields: sl local_address rem_address st ... uid timeout inode.
			fields := strings.Fields(line)
			if len(fields) < 10 || !inodes[fields[9]] {
				continue
			}
			local, remote := procNetIP(fields[1]), procNetIP(fields[2])
			if strings.HasPrefix(table, "tcp") && !local.IsLoopback() {
				return fmt.Errorf("hydra has a %s socket bound to %s, which is not loopback", table, local)
			}
			if !remote.IsLoopback() && !remote.IsUnspecified() {
				return fmt.Errorf("hydra has a %s socket to %s, which is not loopback", table, remote)
			}
		}
	}
	return nil
}

// procNetIP decodes the IP of a /proc/net address (hex IP:port). The IP is
// stored as 32-bit words in host byte order, little-endian on the machines
// this runs on, so each word is reversed. It returns nil for a malformed
// address, which is neither loopback nor unspecified.
func procNetIP(hexAddr string) net.IP {
	ipHex, _, _ := strings.Cut(hexAddr, ":")
	raw, err := hex.DecodeString(ipHex)
	if err != nil || len(raw)%4 != 0 {
		return nil
	}
	for i := 0; i < len(raw); i += 4 {
		slices.Reverse(raw[i : i+4])
	}
	return net.IP(raw)
}

func fetchJSON(target string, out any) error {
	resp, err := http.Get(target)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s returned %d", target, resp.StatusCode)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// fetchPublicKeys decodes the RSA and Ed25519 keys of a JSON Web Key Set.
func fetchPublicKeys(jwksURL string) (map[string]any, error) {
	var set struct {
		Keys []struct {
			KeyType string `json:"kty"`
			Curve   string `json:"crv"`
			KeyID   string `json:"kid"`
			N       string `json:"n"`
			E       string `json:"e"`
			X       string `json:"x"`
		} `json:"keys"`
	}
	if err := fetchJSON(jwksURL, &set); err != nil {
		return nil, err
	}
	keys := map[string]any{}
	for _, k := range set.Keys {
		switch {
		case k.KeyType == "RSA":
			n, errN := base64.RawURLEncoding.DecodeString(k.N)
			e, errE := base64.RawURLEncoding.DecodeString(k.E)
			if err := errors.Join(errN, errE); err != nil {
				return nil, fmt.Errorf("decode RSA key %q: %w", k.KeyID, err)
			}
			keys[k.KeyID] = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		case k.KeyType == "OKP" && k.Curve == "Ed25519":
			pub, err := auth.JWK{KeyType: k.KeyType, Curve: k.Curve, X: k.X, KeyID: k.KeyID}.Ed25519()
			if err != nil {
				return nil, err
			}
			keys[k.KeyID] = ed25519.PublicKey(pub)
		}
	}
	return keys, nil
}

// jwksVerifier checks a Hydra access token the way auth.Verifier checks an
// Identity token: the same golang-jwt parser options and claim checks, with
// the key looked up by kid in a key set fetched beforehand. It differs in
// three ways. It accepts the typ "JWT" that Hydra v2.3.0 writes where
// auth.Verifier requires "at+jwt", it takes the algorithm as a parameter, and
// it has no revocation list to check because Hydra publishes none.
type jwksVerifier struct {
	parser *jwt.Parser
	keys   map[string]any
}

func newJWKSVerifier(issuer, audience, alg string, keys map[string]any) *jwksVerifier {
	return &jwksVerifier{
		keys: keys,
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{alg}),
			jwt.WithIssuer(issuer),
			jwt.WithAudience(audience),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithLeeway(30*time.Second),
		),
	}
}

func (v *jwksVerifier) verify(raw string) error {
	var claims auth.Claims
	_, err := v.parser.ParseWithClaims(raw, &claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		key, ok := v.keys[kid]
		if !ok {
			return nil, fmt.Errorf("unknown kid %q", kid)
		}
		return key, nil
	})
	if err != nil {
		return err
	}
	if claims.Subject == "" || claims.ID == "" {
		return errors.New("sub and jti are required")
	}
	return nil
}

// outboundRecorder is an HTTP proxy on 127.0.0.1 that records the target of
// every request it receives and forwards none of them.
type outboundRecorder struct {
	listener net.Listener
	mu       sync.Mutex
	targets  []string
}

// startOutboundRecorder starts the recorder and, at cleanup, fails the
// benchmark if Hydra sent it any request, naming the targets.
func startOutboundRecorder(b *testing.B) *outboundRecorder {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	r := &outboundRecorder{listener: listener}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.targets = append(r.targets, req.Method+" "+req.Host)
		r.mu.Unlock()
		http.Error(w, "outbound requests are blocked during the benchmark", http.StatusForbidden)
	})}
	go srv.Serve(listener)
	b.Cleanup(func() {
		srv.Close()
		r.mu.Lock()
		defer r.mu.Unlock()
		if len(r.targets) > 0 {
			b.Errorf("hydra sent %d requests to hosts other than loopback, all blocked by the recorder: %s", len(r.targets), strings.Join(r.targets, ", "))
		}
	})
	return r
}

func (r *outboundRecorder) URL() string { return "http://" + r.listener.Addr().String() }

func TestProcNetIP(t *testing.T) {
	tests := []struct {
		hexAddr               string
		loopback, unspecified bool
		want                  string
	}{
		{"0100007F:1F90", true, false, "127.0.0.1"},
		{"00000000:0000", false, true, "0.0.0.0"},
		{"0101A8C0:01BB", false, false, "192.168.1.1"},
		{"0000000000000000FFFF00000100007F:1F90", true, false, "127.0.0.1"},
		{"00000000000000000000000001000000:0050", true, false, "::1"},
		{"zz:0050", false, false, "<nil>"},
	}
	for _, tt := range tests {
		ip := procNetIP(tt.hexAddr)
		if got := ip.String(); got != tt.want {
			t.Errorf("procNetIP(%q) = %s, expected %s", tt.hexAddr, got, tt.want)
		}
		if ip.IsLoopback() != tt.loopback {
			t.Errorf("procNetIP(%q).IsLoopback() = %v, expected %v", tt.hexAddr, ip.IsLoopback(), tt.loopback)
		}
		if ip.IsUnspecified() != tt.unspecified {
			t.Errorf("procNetIP(%q).IsUnspecified() = %v, expected %v", tt.hexAddr, ip.IsUnspecified(), tt.unspecified)
		}
	}
}
