package domain_test

import (
	"slices"
	"strings"
	"testing"

	"dokkumcp.dev/dokkuexec/internal/domain"
	"dokkumcp.dev/testhost/emulator"
)

// FuzzServiceAndEmailTokens checks that every service name, app name and
// e-mail address the validators accept reaches Dokku as the intended
// arguments after both tokenizing passes.
func FuzzServiceAndEmailTokens(f *testing.F) {
	for _, seed := range []struct{ service, app, email string }{
		{"lollipop", "shop", "ops@example.com"},
		{"_db-1", "legacy_app", "a.b+tag%x@sub.example.io"},
		{"-n", "shop", "-e@example.com"},
		{"DB", "my.app", "ops@example.com;id"},
		{"a'b", "shop", "o ps@example.com"},
	} {
		f.Add(seed.service, seed.app, seed.email)
	}
	f.Fuzz(func(t *testing.T, service, app, email string) {
		name, err := domain.ParseServiceName(service)
		if err != nil {
			return
		}
		appName, err := domain.ParseAppName(app)
		if err != nil {
			return
		}
		link, err := domain.ServiceLinkCommand(domain.ServicePostgres, name, appName, true)
		if err != nil {
			t.Fatalf("ServiceLinkCommand(%q, %q): %v", service, app, err)
		}
		checkTokens(t, link, []string{"postgres:link", service, app, "--no-restart"})

		address, err := domain.ParseEmail(email)
		if err != nil {
			return
		}
		set, err := domain.LetsencryptSetEmailCommand(appName, address)
		if err != nil {
			t.Fatalf("LetsencryptSetEmailCommand(%q, %q): %v", app, email, err)
		}
		checkTokens(t, set, []string{"letsencrypt:set", app, "email", email})
	})
}

// checkTokens fails unless bash word splitting and Dokku's xargs pass both
// turn cmd into want.
func checkTokens(t *testing.T, cmd domain.Command, want []string) {
	t.Helper()
	argv, stderr := emulator.Tokenize(cmd.String())
	if stderr != "" {
		t.Fatalf("Tokenize(%q) wrote %q to stderr", cmd.String(), stderr)
	}
	if !slices.Equal(argv, want) {
		t.Fatalf("Tokenize(%q) = %q, want %q", cmd.String(), argv, want)
	}
	if fields := strings.Fields(cmd.String()); !slices.Equal(fields, want) {
		t.Fatalf("shell word splitting of %q = %q, want %q", cmd.String(), fields, want)
	}
}
