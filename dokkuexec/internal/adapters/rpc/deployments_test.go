package rpc_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"dokkumcp.dev/dokkuexec/internal/adapters/postgres"
	"dokkumcp.dev/dokkuexec/internal/adapters/rpc"
	sshadapter "dokkumcp.dev/dokkuexec/internal/adapters/ssh"
	"dokkumcp.dev/dokkuexec/internal/app"
	"dokkumcp.dev/dokkuexec/internal/sshtest"
	"dokkumcp.dev/dokkuexec/internal/tenancytest"
	"dokkumcp.dev/dokkuexec/migrations"
	dokkuexecv1 "dokkumcp.dev/gen/dokkumcp/dokkuexec/v1"
	"dokkumcp.dev/gen/dokkumcp/dokkuexec/v1/dokkuexecv1connect"
	"dokkumcp.dev/platform/auth"
	"dokkumcp.dev/platform/pg"
	"dokkumcp.dev/platform/pgtest"
	"dokkumcp.dev/testhost/emulator"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// newDeployFixture is newFixture with a deployment store and a deploy gate
// on the test host, which has the app shop.
func newDeployFixture(t *testing.T) (*fixture, *emulator.DeployGate) {
	t.Helper()
	logger := slog.New(slog.DiscardHandler)
	iss := newIssuer(t)
	host := sshtest.Start(t, emulator.Options{})
	gate := emulator.NewDeployGate()
	host.Emulator.SetDeployGate(gate)
	var out bytes.Buffer
	if code := host.Emulator.Run(t.Context(), emulator.Invocation{OriginalCommand: "apps:create shop", Stdout: &out}); code != 0 {
		t.Fatalf("apps:create shop: %d", code)
	}

	pool, err := pg.Connect(t.Context(), pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if err := pg.Migrate(t.Context(), pool, "dokkuexec", migrations.FS); err != nil {
		t.Fatal(err)
	}

	resolver := &hostResolver{host: host.Host}
	executor := sshadapter.New(sshadapter.Options{DialTimeout: 5 * time.Second, CommandTimeout: 10 * time.Second, OutputLimit: 1 << 20, Logger: logger})
	t.Cleanup(func() { _ = executor.Close() })
	tenancy := tenancytest.New()
	service := app.NewService(app.Options{Hosts: resolver, Credentials: host.CA, Executor: executor, Tenancy: tenancy, Audit: tenancy,
		Logger: logger, Deployments: postgres.NewStore(pool)})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		service.StopDeployments(ctx)
	})

	verifier := auth.NewVerifier(auth.VerifierConfig{Issuer: iss.url, Audience: audience, JWKSURL: iss.url + "/oauth2/jwks"})
	path, handler := dokkuexecv1connect.NewDokkuExecServiceHandler(rpc.NewHandler(service, logger),
		connect.WithInterceptors(auth.NewServerInterceptor(verifier, logger)))
	mux := http.NewServeMux()
	mux.Handle(path, handler)
	server := httptest.NewServer(mux)
	t.Cleanup(server.Close)
	return &fixture{issuer: iss, host: host, resolver: resolver, client: dokkuexecv1connect.NewDokkuExecServiceClient(server.Client(), server.URL)}, gate
}

func TestHandlerDeployments(t *testing.T) {
	t.Parallel()
	f, gate := newDeployFixture(t)
	ctx := t.Context()
	token := f.issuer.token(t, sshtest.TenantID, "apps:read", "apps:deploy")

	created, err := f.client.CreateDeployment(ctx, request(&dokkuexecv1.CreateDeploymentRequest{App: "shop",
		Source: &dokkuexecv1.CreateDeploymentRequest_Image{Image: &dokkuexecv1.ImageSource{Image: "nginx:1.27"}}}, token))
	if err != nil {
		t.Fatalf("CreateDeployment: %v", err)
	}
	d := created.Msg.GetDeployment()
	if d.GetStatus() != dokkuexecv1.DeploymentStatus_DEPLOYMENT_STATUS_QUEUED || d.GetImage().GetImage() != "nginx:1.27" || d.GetHost() != sshtest.HostName {
		t.Fatalf("created = %v, want queued from nginx:1.27 on %s", d, sshtest.HostName)
	}
	<-gate.Waiting()

	_, err = f.client.CreateDeployment(ctx, request(&dokkuexecv1.CreateDeploymentRequest{App: "shop",
		Source: &dokkuexecv1.CreateDeploymentRequest_Rebuild{Rebuild: &dokkuexecv1.RebuildSource{}}}, token))
	wantCode(t, err, connect.CodeAborted, "already being deployed by deployment "+d.GetId())
	var connectErr *connect.Error
	if !errors.As(err, &connectErr) || len(connectErr.Details()) != 1 {
		t.Fatalf("conflict error %v carries no detail", err)
	}
	detail, err := connectErr.Details()[0].Value()
	if running, ok := detail.(*dokkuexecv1.DeploymentInProgress); err != nil || !ok || running.GetDeploymentId() != d.GetId() {
		t.Errorf("detail = %v, %v; want DeploymentInProgress %s", detail, err, d.GetId())
	}

	stream, err := f.client.WatchDeployment(ctx, request(&dokkuexecv1.WatchDeploymentRequest{Id: d.GetId(), Follow: true}, token))
	if err != nil {
		t.Fatalf("WatchDeployment: %v", err)
	}
	if !stream.Receive() || stream.Msg().GetDeployment().GetStatus() == dokkuexecv1.DeploymentStatus_DEPLOYMENT_STATUS_UNSPECIFIED {
		t.Fatalf("first watch message = %v, %v; want the deployment", stream.Msg(), stream.Err())
	}
	gate.Finish(0)
	var lines []string
	var last *dokkuexecv1.Deployment
	for stream.Receive() {
		if line := stream.Msg().GetLine(); line != nil {
			lines = append(lines, line.GetText())
		}
		if msg := stream.Msg().GetDeployment(); msg != nil {
			last = msg
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("watch stream: %v", err)
	}
	if last.GetStatus() != dokkuexecv1.DeploymentStatus_DEPLOYMENT_STATUS_SUCCEEDED || last.GetEndTime() == nil || last.ExitCode == nil {
		t.Errorf("last state = %v, want succeeded with an end time and exit code", last)
	}
	if !strings.Contains(strings.Join(lines, "\n"), "=====> Application deployed:") {
		t.Errorf("watched lines = %q", lines)
	}

	got, err := f.client.GetDeployment(ctx, request(&dokkuexecv1.GetDeploymentRequest{Id: d.GetId()}, token))
	if err != nil || got.Msg.GetDeployment().GetStatus() != dokkuexecv1.DeploymentStatus_DEPLOYMENT_STATUS_SUCCEEDED {
		t.Errorf("GetDeployment = %v, %v", got, err)
	}
	list, err := f.client.ListDeployments(ctx, request(&dokkuexecv1.ListDeploymentsRequest{App: "shop"}, token))
	if err != nil || len(list.Msg.GetDeployments()) != 1 {
		t.Errorf("ListDeployments = %v, %v", list, err)
	}
	_, err = f.client.CancelDeployment(ctx, request(&dokkuexecv1.CancelDeploymentRequest{Id: d.GetId()}, token))
	wantCode(t, err, connect.CodeFailedPrecondition, "already ended with status succeeded")

	// Another tenant does not see the deployment, and apps:read alone
	// does not reach deployments.
	other := f.issuer.token(t, "t-other", "apps:deploy")
	_, err = f.client.GetDeployment(ctx, request(&dokkuexecv1.GetDeploymentRequest{Id: d.GetId()}, other))
	wantCode(t, err, connect.CodeNotFound, "deployment "+d.GetId()+" not found")
	reader := f.issuer.token(t, sshtest.TenantID, "apps:read")
	_, err = f.client.GetDeployment(ctx, request(&dokkuexecv1.GetDeploymentRequest{Id: d.GetId()}, reader))
	wantCode(t, err, connect.CodePermissionDenied, "apps:deploy")
}
