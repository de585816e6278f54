package rpc_test

import (
	"strings"
	"testing"

	"connectrpc.com/connect"

	"dokkumcp.dev/dokkuexec/internal/sshtest"
	dokkuexecv1 "dokkumcp.dev/gen/dokkumcp/dokkuexec/v1"
)

func TestHandlerRunCommand(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	token := f.issuer.token(t, sshtest.TenantID, ownerScopes...)
	viewer := f.issuer.token(t, sshtest.TenantID, "apps:read", "logs:read")
	if _, err := f.client.CreateApp(ctx, request(&dokkuexecv1.CreateAppRequest{App: "shop"}, token)); err != nil {
		t.Fatalf("CreateApp: %v", err)
	}
	run := func(app string, args ...string) (*dokkuexecv1.RunCommandResponse, error) {
		resp, err := f.client.RunCommand(ctx, request(&dokkuexecv1.RunCommandRequest{App: app, Args: args}, token))
		if err != nil {
			return nil, err
		}
		return resp.Msg, nil
	}

	_, err := run("shop", "echo", "hi")
	wantCode(t, err, connect.CodeFailedPrecondition, `App shop has not been deployed on host "prod", so there is no image to run the command in`)
	_, err = run("nope", "echo", "hi")
	wantCode(t, err, connect.CodeNotFound, `app "nope" not found on host "prod"`)
	_, err = f.client.RunCommand(ctx, request(&dokkuexecv1.RunCommandRequest{App: "shop", Args: []string{"true"}}, viewer))
	wantCode(t, err, connect.CodePermissionDenied, `permission "apps:deploy" is required`)

	deploy(t, f, "shop")
	tests := []struct {
		args      []string
		exit      int32
		stdout    string
		stderr    string
		stdoutCut bool
	}{
		{[]string{"echo", "rake", "db:migrate", "A=1", "user@example.com", "50%"}, 0, "rake db:migrate A=1 user@example.com 50%\n", "", false},
		{[]string{"false"}, 1, "", "", false},
		// The command's own exit status 20 is not Dokku's "app not found".
		{[]string{"exit", "20"}, 20, "", "", false},
		{[]string{"stderr", "oops"}, 0, "", "oops\n", false},
		{[]string{"ls"}, 127, "", "bash: line 1: ls: command not found\n", false},
	}
	for _, tt := range tests {
		got, err := run("shop", tt.args...)
		if err != nil {
			t.Errorf("run %q: %v", tt.args, err)
			continue
		}
		if got.GetExitCode() != tt.exit || got.GetStdout() != tt.stdout || got.GetStderr() != tt.stderr || got.GetStdoutTruncated() != tt.stdoutCut {
			t.Errorf("run %q = %v, want exit %d, stdout %q, stderr %q", tt.args, got, tt.exit, tt.stdout, tt.stderr)
		}
	}

	long, err := run("shop", "seq", "20000")
	if err != nil {
		t.Fatalf("run seq: %v", err)
	}
	if !long.GetStdoutTruncated() || len(long.GetStdout()) != 64<<10 || !strings.HasPrefix(long.GetStdout(), "1\n2\n3\n") {
		t.Errorf("run seq 20000: truncated %v, %d bytes; want cut at 64 KiB", long.GetStdoutTruncated(), len(long.GetStdout()))
	}
}

func TestHandlerRunCommandRejects(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	token := f.issuer.token(t, sshtest.TenantID, ownerScopes...)
	tests := []struct {
		args []string
		want string
	}{
		{nil, "invalid args: name the command to run"},
		{[]string{"echo", "two words"}, `invalid argument 1 "two words": character ' ' is not allowed`},
		{[]string{"echo", `"quoted"`}, `character '"' is not allowed`},
		{[]string{"echo", "it's"}, `character '\'' is not allowed`},
		{[]string{"echo", `a\b`}, `character '\\' is not allowed`},
		{[]string{"echo", "a\nb"}, `character '\n' is not allowed`},
		{[]string{"echo", "*"}, `character '*' is not allowed`},
		{[]string{"echo", "$HOME"}, `character '$' is not allowed`},
		{[]string{"echo", ""}, `invalid argument 1 "": pass a non-empty word`},
		{[]string{"echo", "-n"}, `invalid argument 1 "-n": Dokku's SSH command passes every word through echo`},
		{[]string{"echo", "-E"}, `invalid argument 1 "-E"`},
		{[]string{"echo", "--help"}, `invalid argument 1 "--help"`},
		{[]string{"echo", "--version"}, `invalid argument 1 "--version"`},
		{[]string{"--env", "A=1"}, `invalid command "--env": name a program, not an option`},
	}
	for _, tt := range tests {
		_, err := f.client.RunCommand(ctx, request(&dokkuexecv1.RunCommandRequest{App: "shop", Args: tt.args}, token))
		wantCode(t, err, connect.CodeInvalidArgument, tt.want)
	}
}
