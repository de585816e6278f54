package rpc_test

import (
	"slices"
	"testing"

	"connectrpc.com/connect"

	"dokkumcp.dev/dokkuexec/internal/sshtest"
	dokkuexecv1 "dokkumcp.dev/gen/dokkumcp/dokkuexec/v1"
)

func TestHandlerDomains(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	token := f.issuer.token(t, sshtest.TenantID, "apps:read", "apps:create", "domains:write")
	if _, err := f.client.CreateApp(ctx, request(&dokkuexecv1.CreateAppRequest{App: "shop"}, token)); err != nil {
		t.Fatalf("CreateApp: %v", err)
	}

	report, err := f.client.GetDomainsReport(ctx, request(&dokkuexecv1.GetDomainsReportRequest{App: "shop"}, token))
	if err != nil {
		t.Fatalf("GetDomainsReport: %v", err)
	}
	if r := report.Msg.GetReport(); r.GetEnabled() || len(r.GetDomains()) != 0 || r.GetFields()["app-enabled"] != "false" {
		t.Errorf("report of a new app = %v, want no domains", r)
	}

	// Dokku keeps the case as typed.
	added, err := f.client.AddDomains(ctx, request(&dokkuexecv1.AddDomainsRequest{App: "shop", Domains: []string{"Example.COM", "www.example.com"}}, token))
	if err != nil {
		t.Fatalf("AddDomains: %v", err)
	}
	if want := []string{"Example.COM", "www.example.com"}; !added.Msg.GetChanged() || !slices.Equal(added.Msg.GetDomains(), want) {
		t.Errorf("AddDomains = %v, want changed with %q", added.Msg, want)
	}
	if want := []string{"No web listeners specified for shop"}; !slices.Equal(added.Msg.GetWarnings(), want) {
		t.Errorf("warnings = %q, want %q", added.Msg.GetWarnings(), want)
	}
	again, err := f.client.AddDomains(ctx, request(&dokkuexecv1.AddDomainsRequest{App: "shop", Domains: []string{"www.example.com"}}, token))
	if err != nil || again.Msg.GetChanged() {
		t.Errorf("AddDomains of a present domain = %v, %v; want unchanged", again, err)
	}

	removed, err := f.client.RemoveDomains(ctx, request(&dokkuexecv1.RemoveDomainsRequest{App: "shop", Domains: []string{"www.example.com"}}, token))
	if err != nil {
		t.Fatalf("RemoveDomains: %v", err)
	}
	if want := []string{"Example.COM"}; !removed.Msg.GetChanged() || !slices.Equal(removed.Msg.GetDomains(), want) {
		t.Errorf("RemoveDomains = %v, want changed with %q", removed.Msg, want)
	}

	set, err := f.client.SetDomains(ctx, request(&dokkuexecv1.SetDomainsRequest{App: "shop", Domains: []string{"a.example.com", "abexample.com"}}, token))
	if err != nil {
		t.Fatalf("SetDomains: %v", err)
	}
	if want := []string{"a.example.com", "abexample.com"}; !set.Msg.GetChanged() || !slices.Equal(set.Msg.GetDomains(), want) {
		t.Errorf("SetDomains = %v, want changed with %q", set.Msg, want)
	}

	// "." matches any character in Dokku's removal, so removing
	// a.example.com alone would take abexample.com too.
	_, err = f.client.RemoveDomains(ctx, request(&dokkuexecv1.RemoveDomainsRequest{App: "shop", Domains: []string{"a.example.com"}}, token))
	wantCode(t, err, connect.CodeFailedPrecondition, `removing "a.example.com" from app "shop" would also remove abexample.com`)
	_, err = f.client.RemoveDomains(ctx, request(&dokkuexecv1.RemoveDomainsRequest{App: "shop", Domains: []string{"A.example.com"}}, token))
	wantCode(t, err, connect.CodeNotFound, `domain "A.example.com" is not a domain of app "shop" on host "prod" (its domains: a.example.com, abexample.com)`)
	both, err := f.client.RemoveDomains(ctx, request(&dokkuexecv1.RemoveDomainsRequest{App: "shop", Domains: []string{"a.example.com", "abexample.com"}}, token))
	if err != nil || !both.Msg.GetChanged() || len(both.Msg.GetDomains()) != 0 {
		t.Errorf("RemoveDomains of both = %v, %v; want changed with none left", both, err)
	}
}

func TestHandlerDomainErrors(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	token := f.issuer.token(t, sshtest.TenantID, "apps:read", "apps:create", "domains:write")
	deployer := f.issuer.token(t, sshtest.TenantID, "apps:read", "apps:deploy", "apps:config")
	if _, err := f.client.CreateApp(ctx, request(&dokkuexecv1.CreateAppRequest{App: "shop"}, token)); err != nil {
		t.Fatalf("CreateApp: %v", err)
	}

	_, err := f.client.AddDomains(ctx, request(&dokkuexecv1.AddDomainsRequest{App: "shop", Domains: []string{"example.com"}}, deployer))
	wantCode(t, err, connect.CodePermissionDenied, `permission "domains:write" is required`)
	_, err = f.client.GetDomainsReport(ctx, request(&dokkuexecv1.GetDomainsReportRequest{App: "nope"}, token))
	wantCode(t, err, connect.CodeNotFound, `app "nope" not found on host "prod"`)
	_, err = f.client.SetDomains(ctx, request(&dokkuexecv1.SetDomainsRequest{App: "nope", Domains: []string{"example.com"}}, token))
	wantCode(t, err, connect.CodeNotFound, `app "nope" not found`)

	long := ""
	for range 64 {
		long += "a"
	}
	tests := []struct {
		name    string
		domains []string
		want    string
	}{
		{"none", nil, "invalid domains: name at least one domain"},
		{"bad character", []string{"bad_domain!"}, `invalid domain "bad_domain!": use letters, digits, dashes and dots`},
		{"wildcard", []string{"*.example.com"}, `invalid domain "*.example.com": wildcard domains are not supported`},
		{"echo option", []string{"-n"}, `invalid domain "-n"`},
		{"regex", []string{"a.*"}, `invalid domain "a.*"`},
		{"empty label", []string{"a..b"}, `invalid domain "a..b"`},
		{"long label", []string{long + ".com"}, "use labels (the parts between dots) of at most 63 characters"},
		{"space", []string{"a b.com"}, `invalid domain "a b.com"`},
		{"duplicate", []string{"a.com", "a.com"}, `invalid domain "a.com": name each domain once`},
	}
	for _, tt := range tests {
		_, err := f.client.AddDomains(ctx, request(&dokkuexecv1.AddDomainsRequest{App: "shop", Domains: tt.domains}, token))
		wantCode(t, err, connect.CodeInvalidArgument, tt.want)
		_, err = f.client.RemoveDomains(ctx, request(&dokkuexecv1.RemoveDomainsRequest{App: "shop", Domains: tt.domains}, token))
		wantCode(t, err, connect.CodeInvalidArgument, tt.want)
	}
}
