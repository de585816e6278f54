package auth_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/emptypb"

	tenancyv1 "dokkumcp.dev/gen/dokkumcp/tenancy/v1"
	"dokkumcp.dev/gen/dokkumcp/tenancy/v1/tenancyv1connect"
	"dokkumcp.dev/platform/auth"
)

// tenancyStub returns from GetHost and GetTenant values taken from the
// principal the interceptor stored, so a test can see what the handler saw.
type tenancyStub struct {
	tenancyv1connect.UnimplementedTenancyServiceHandler
}

func (tenancyStub) GetHost(ctx context.Context, req *connect.Request[tenancyv1.GetHostRequest]) (*connect.Response[tenancyv1.GetHostResponse], error) {
	p, ok := auth.PrincipalFrom(ctx)
	if !ok {
		return nil, connect.NewError(connect.CodeInternal, errors.New("no principal in context"))
	}
	return connect.NewResponse(&tenancyv1.GetHostResponse{Host: &tenancyv1.Host{
		Id:       "h-1",
		TenantId: p.TenantID,
		Name:     p.Subject,
		SshUser:  p.Actor,
	}}), nil
}

func (tenancyStub) GetTenant(ctx context.Context, req *connect.Request[tenancyv1.GetTenantRequest]) (*connect.Response[tenancyv1.GetTenantResponse], error) {
	p, ok := auth.PrincipalFrom(ctx)
	if !ok {
		return nil, connect.NewError(connect.CodeInternal, errors.New("no principal in context"))
	}
	return connect.NewResponse(&tenancyv1.GetTenantResponse{Tenant: &tenancyv1.Tenant{
		Id:   req.Msg.GetTenantId(),
		Slug: p.Subject,
	}}), nil
}

// syncBuffer is a bytes.Buffer safe for a logger used by handler goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
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

// tenancyServer serves tenancyStub behind the server interceptor and
// returns its URL and the buffer the interceptor logs into.
func tenancyServer(t *testing.T, verifier *auth.Verifier) (string, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, nil))
	mux := http.NewServeMux()
	mux.Handle(tenancyv1connect.NewTenancyServiceHandler(tenancyStub{},
		connect.WithInterceptors(auth.NewServerInterceptor(verifier, logger))))
	server := httptest.NewServer(mux)
	t.Cleanup(server.Close)
	return server.URL, logs
}

func staticToken(token string) auth.TokenFunc {
	return func(context.Context) (string, error) { return token, nil }
}

func TestServerInterceptorUnary(t *testing.T) {
	t.Parallel()
	id := newIdentity(t)
	url, logs := tenancyServer(t, id.verifier(nil))

	readHosts := id.sign(t, "k1", validClaims())
	admin := id.sign(t, "k1", with(validClaims(), map[string]any{"scope": "platform:admin", "sub": "admin-1"}))
	expired := id.sign(t, "k1", with(validClaims(), map[string]any{"exp": 1, "iat": 0}))

	tests := []struct {
		name         string
		token        string
		call         func(context.Context, tenancyv1connect.TenancyServiceClient) error
		wantCode     connect.Code
		wantInMsg    string
		wantNotInMsg string
	}{
		{
			name:      "no token",
			call:      getHost,
			wantCode:  connect.CodeUnauthenticated,
			wantInMsg: "missing bearer token",
		},
		{
			name:         "invalid token",
			token:        "garbage." + readHosts[10:],
			call:         getHost,
			wantCode:     connect.CodeUnauthenticated,
			wantInMsg:    "invalid access token",
			wantNotInMsg: readHosts[10:40],
		},
		{
			name:         "expired token",
			token:        expired,
			call:         getHost,
			wantCode:     connect.CodeUnauthenticated,
			wantNotInMsg: "expired",
		},
		{
			name:      "GetTenant without platform:admin",
			token:     readHosts,
			call:      getTenant,
			wantCode:  connect.CodePermissionDenied,
			wantInMsg: `"platform:admin"`,
		},
		{
			name:      "GetHost without tenancy:read-hosts",
			token:     admin,
			call:      getHost,
			wantCode:  connect.CodePermissionDenied,
			wantInMsg: `"tenancy:read-hosts"`,
		},
		{name: "GetHost with tenancy:read-hosts", token: readHosts, call: getHost},
		{name: "GetTenant with platform:admin", token: admin, call: getTenant},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var opts []connect.ClientOption
			if tt.token != "" {
				opts = append(opts, connect.WithInterceptors(auth.NewClientInterceptor(staticToken(tt.token))))
			}
			client := tenancyv1connect.NewTenancyServiceClient(http.DefaultClient, url, opts...)

			err := tt.call(context.Background(), client)
			if tt.wantCode == 0 {
				if err != nil {
					t.Fatalf("call: %v", err)
				}
				return
			}
			if got := connect.CodeOf(err); got != tt.wantCode {
				t.Fatalf("code = %v (%v), want %v", got, err, tt.wantCode)
			}
			msg := connectMessage(err)
			if tt.wantInMsg != "" && !strings.Contains(msg, tt.wantInMsg) {
				t.Errorf("message %q does not contain %q", msg, tt.wantInMsg)
			}
			if tt.wantNotInMsg != "" && strings.Contains(msg, tt.wantNotInMsg) {
				t.Errorf("message %q contains %q", msg, tt.wantNotInMsg)
			}
			if tt.token != "" && strings.Contains(msg, tt.token) {
				t.Errorf("message %q echoes the token", msg)
			}
		})
	}

	t.Cleanup(func() {
		for _, token := range []string{readHosts, admin, expired} {
			if strings.Contains(logs.String(), token) {
				t.Error("the interceptor logged a bearer token")
			}
		}
	})
}

func getHost(ctx context.Context, client tenancyv1connect.TenancyServiceClient) error {
	_, err := client.GetHost(ctx, connect.NewRequest(&tenancyv1.GetHostRequest{TenantId: "t-42", Host: "prod"}))
	return err
}

func getTenant(ctx context.Context, client tenancyv1connect.TenancyServiceClient) error {
	_, err := client.GetTenant(ctx, connect.NewRequest(&tenancyv1.GetTenantRequest{TenantId: "t-42"}))
	return err
}

func connectMessage(err error) string {
	var connectErr *connect.Error
	if errors.As(err, &connectErr) {
		return connectErr.Message()
	}
	return ""
}

func TestServerInterceptorStoresPrincipal(t *testing.T) {
	t.Parallel()
	id := newIdentity(t)
	url, _ := tenancyServer(t, id.verifier(nil))
	token := id.sign(t, "k1", validClaims())
	client := tenancyv1connect.NewTenancyServiceClient(http.DefaultClient, url,
		connect.WithInterceptors(auth.NewClientInterceptor(staticToken(token))))

	resp, err := client.GetHost(context.Background(), connect.NewRequest(&tenancyv1.GetHostRequest{TenantId: "t-42"}))
	if err != nil {
		t.Fatalf("GetHost: %v", err)
	}
	host := resp.Msg.GetHost()
	if host.GetName() != "user-7" {
		t.Errorf("handler saw subject %q, want user-7", host.GetName())
	}
	if host.GetTenantId() != "t-42" {
		t.Errorf("handler saw tenant %q, want t-42", host.GetTenantId())
	}
	if host.GetSshUser() != "mcpedge" {
		t.Errorf("handler saw actor %q, want mcpedge", host.GetSshUser())
	}
}

func TestServerInterceptorClosesUndeclaredMethod(t *testing.T) {
	t.Parallel()
	id := newIdentity(t)
	logger := slog.New(slog.NewJSONHandler(&syncBuffer{}, nil))
	// A handler built without a schema has no permission option to read.
	const procedure = "/test.v1.OpenService/Open"
	handler := connect.NewUnaryHandler(procedure,
		func(context.Context, *connect.Request[emptypb.Empty]) (*connect.Response[emptypb.Empty], error) {
			return connect.NewResponse(&emptypb.Empty{}), nil
		},
		connect.WithInterceptors(auth.NewServerInterceptor(id.verifier(nil), logger)))
	mux := http.NewServeMux()
	mux.Handle(procedure, handler)
	server := httptest.NewServer(mux)
	t.Cleanup(server.Close)

	client := connect.NewClient[emptypb.Empty, emptypb.Empty](http.DefaultClient, server.URL+procedure,
		connect.WithInterceptors(auth.NewClientInterceptor(staticToken(id.sign(t, "k1", validClaims())))))
	_, err := client.CallUnary(context.Background(), connect.NewRequest(&emptypb.Empty{}))
	if got := connect.CodeOf(err); got != connect.CodePermissionDenied {
		t.Fatalf("code = %v (%v), want PermissionDenied", got, err)
	}
	if msg := connectMessage(err); !strings.Contains(msg, "declares no permission") {
		t.Errorf("message %q does not say the method declares no permission", msg)
	}
}

func TestClientInterceptorTokenError(t *testing.T) {
	t.Parallel()
	id := newIdentity(t)
	url, _ := tenancyServer(t, id.verifier(nil))
	failing := func(context.Context) (string, error) { return "", errors.New("identity unreachable") }
	client := tenancyv1connect.NewTenancyServiceClient(http.DefaultClient, url,
		connect.WithInterceptors(auth.NewClientInterceptor(failing)))

	err := getHost(context.Background(), client)
	if got := connect.CodeOf(err); got != connect.CodeUnavailable {
		t.Fatalf("code = %v (%v), want Unavailable", got, err)
	}
	if msg := connectMessage(err); !strings.Contains(msg, "identity unreachable") {
		t.Errorf("message %q does not carry the token error", msg)
	}
}

func TestRequiredPermission(t *testing.T) {
	t.Parallel()
	methods := tenancyv1.File_dokkumcp_tenancy_v1_tenancy_proto.Services().ByName("TenancyService").Methods()
	tests := []struct {
		method string
		want   string
	}{
		{method: "GetHost", want: "tenancy:read-hosts"},
		{method: "GetTenant", want: "platform:admin"},
		{method: "CreateTenant", want: "platform:admin"},
		{method: "RegisterHost", want: "platform:admin"},
	}
	for _, tt := range tests {
		t.Run(tt.method, func(t *testing.T) {
			t.Parallel()
			method := methods.ByName(protoreflect.Name(tt.method))
			if method == nil {
				t.Fatalf("TenancyService has no method %s", tt.method)
			}
			if got := auth.RequiredPermission(method); got != tt.want {
				t.Errorf("RequiredPermission(%s) = %q, want %q", tt.method, got, tt.want)
			}
		})
	}

	if got := auth.RequiredPermission(nil); got != "" {
		t.Errorf("RequiredPermission(nil) = %q, want empty", got)
	}
}

func TestBearerToken(t *testing.T) {
	t.Parallel()
	tests := []struct {
		header string
		want   string
		ok     bool
	}{
		{header: "Bearer abc", want: "abc", ok: true},
		{header: "bearer abc", want: "abc", ok: true},
		{header: "Bearer  abc ", want: "abc", ok: true},
		{header: "Basic abc"},
		{header: "Bearer"},
		{header: "Bearer "},
		{header: "Bearer    "},
		{header: ""},
		{header: "abc"},
	}
	for _, tt := range tests {
		t.Run(tt.header, func(t *testing.T) {
			t.Parallel()
			h := http.Header{}
			if tt.header != "" {
				h.Set("Authorization", tt.header)
			}
			got, ok := auth.BearerToken(h)
			if got != tt.want || ok != tt.ok {
				t.Errorf("BearerToken(%q) = %q, %v; want %q, %v", tt.header, got, ok, tt.want, tt.ok)
			}
		})
	}
}

// fakeStreamingConn is the smallest StreamingHandlerConn the server
// interceptor needs. No streaming RPC exists in the contracts yet, so the
// streaming path is driven directly rather than through generated code.
type fakeStreamingConn struct {
	spec   connect.Spec
	header http.Header
}

func (c *fakeStreamingConn) Spec() connect.Spec { return c.spec }
func (c *fakeStreamingConn) Peer() connect.Peer {
	return connect.Peer{Addr: "127.0.0.1:1", Protocol: connect.ProtocolConnect}
}
func (c *fakeStreamingConn) Receive(any) error {
	return errors.New("fakeStreamingConn has no messages")
}
func (c *fakeStreamingConn) RequestHeader() http.Header   { return c.header }
func (c *fakeStreamingConn) Send(any) error               { return nil }
func (c *fakeStreamingConn) ResponseHeader() http.Header  { return http.Header{} }
func (c *fakeStreamingConn) ResponseTrailer() http.Header { return http.Header{} }

func TestServerInterceptorStreaming(t *testing.T) {
	t.Parallel()
	id := newIdentity(t)
	interceptor := auth.NewServerInterceptor(id.verifier(nil), slog.New(slog.NewJSONHandler(&syncBuffer{}, nil)))
	method := tenancyv1.File_dokkumcp_tenancy_v1_tenancy_proto.Services().ByName("TenancyService").Methods().ByName("GetHost")
	spec := connect.Spec{
		StreamType: connect.StreamTypeServer,
		Schema:     method,
		Procedure:  tenancyv1connect.TenancyServiceGetHostProcedure,
	}

	tests := []struct {
		name     string
		header   string
		wantCode connect.Code
	}{
		{name: "no token", wantCode: connect.CodeUnauthenticated},
		{name: "invalid token", header: "Bearer not-a-token", wantCode: connect.CodeUnauthenticated},
		{name: "without permission", header: "Bearer " + id.sign(t, "k1", with(validClaims(), map[string]any{"scope": "platform:admin"})), wantCode: connect.CodePermissionDenied},
		{name: "with permission", header: "Bearer " + id.sign(t, "k1", validClaims())},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			conn := &fakeStreamingConn{spec: spec, header: http.Header{}}
			if tt.header != "" {
				conn.header.Set("Authorization", tt.header)
			}
			var seen *auth.Principal
			next := func(ctx context.Context, conn connect.StreamingHandlerConn) error {
				seen, _ = auth.PrincipalFrom(ctx)
				return nil
			}

			err := interceptor.WrapStreamingHandler(next)(context.Background(), conn)
			if tt.wantCode != 0 {
				if got := connect.CodeOf(err); got != tt.wantCode {
					t.Errorf("code = %v (%v), want %v", got, err, tt.wantCode)
				}
				if seen != nil {
					t.Error("the handler ran for a rejected stream")
				}
				return
			}
			if err != nil {
				t.Fatalf("stream: %v", err)
			}
			if seen == nil || seen.Subject != "user-7" {
				t.Errorf("handler saw principal %+v, want subject user-7", seen)
			}
		})
	}
}
