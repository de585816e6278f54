// Command dokkumcp runs the whole platform in one process for development.
// `dokkumcp run` starts a throwaway PostgreSQL, Vault's dev server (or the
// built-in CA), a Dokku test host and all five services. It then seeds a
// demo tenant and prints how to connect an MCP client.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"dokkumcp.dev/devstack/internal/admin"
	"dokkumcp.dev/devstack/internal/stack"
	"dokkumcp.dev/platform/config"
	"dokkumcp.dev/platform/logging"
)

const usage = `usage: dokkumcp <command> [flags]

commands:
  run              start the whole stack with a demo tenant; Ctrl-C stops it
  tenant create    create a tenant on a plan
  host add         read a Dokku host's SSH key, register it and print its trust command
  client create    create an API client for a tenant and print MCP client configuration
  host verify      log in to a tenant's host through DokkuExec, show and record its Dokku version
  host remove      remove a tenant's host and its app records

The onboarding commands talk to a running stack; dokkumcp run prints the
environment variables they read. Each command takes --help.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	switch os.Args[1] {
	case "run":
		err := run(os.Args[2:])
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "dokkumcp run:", err)
			os.Exit(1)
		}
	case "tenant", "host", "client":
		if len(os.Args) < 3 {
			fmt.Fprint(os.Stderr, usage)
			os.Exit(2)
		}
		err := onboard(context.Background(), os.Args[1]+" "+os.Args[2], os.Args[3:], os.Stdout)
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "dokkumcp %s %s: %v\n", os.Args[1], os.Args[2], err)
			os.Exit(1)
		}
	case "help", "-h", "--help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "unknown command %q\n%s", os.Args[1], usage)
		os.Exit(2)
	}
}

func run(args []string) error {
	fs := config.NewFlagSet("dokkumcp run")
	mcpAddr := fs.String("mcp-listen", "127.0.0.1:8080", "address of the MCP endpoint")
	identityAddr := fs.String("identity-listen", "127.0.0.1:8081", "address of Identity (token endpoint)")
	tenancyAddr := fs.String("tenancy-listen", "127.0.0.1:8082", "address of Tenancy")
	secretsAddr := fs.String("secrets-listen", "127.0.0.1:8083", "address of Secrets")
	dokkuexecAddr := fs.String("dokkuexec-listen", "127.0.0.1:8084", "address of DokkuExec")
	hostAddr := fs.String("testhost-listen", "127.0.0.1:2222", "address of the demo Dokku test host (SSH)")
	dokkuHost := fs.String("dokku-host", "", "host:port of a real Dokku host to use for the demo tenant instead of the test host")
	postgresURL := fs.String("postgres-url", "", "PostgreSQL to use instead of a throwaway cluster; give an empty database at every start, since each start makes new keys")
	vault := fs.String("vault", "auto", "SSH CA backend: auto (Vault dev server when its binary is found), dev (require it) or off (built-in CA)")
	logFile := fs.String("log-file", "", "file for the services' JSON logs; empty writes them to stderr")
	logLevel := fs.String("log-level", "info", "minimum log level: debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return err
	}

	var logs io.Writer = os.Stderr
	if *logFile != "" {
		f, err := os.OpenFile(*logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return err
		}
		defer f.Close()
		logs = f
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	st, err := stack.Start(ctx, stack.Options{
		MCPEdgeAddr: *mcpAddr, IdentityAddr: *identityAddr, TenancyAddr: *tenancyAddr,
		SecretsAddr: *secretsAddr, DokkuExecAddr: *dokkuexecAddr,
		PostgresURL: *postgresURL, Vault: *vault, Logs: logs, LogLevel: logging.ParseLevel(*logLevel),
	})
	if err != nil {
		return err
	}
	defer st.Stop()

	demo, err := st.SeedTenant(ctx, stack.TenantOptions{Slug: "demo", HostAddr: *hostAddr, ExternalHost: *dokkuHost})
	if err != nil {
		return err
	}
	printBanner(os.Stdout, st, demo)

	select {
	case <-ctx.Done():
		slog.New(slog.NewTextHandler(os.Stderr, nil)).Info("stopping")
	case err := <-st.Errors():
		return err
	}
	return nil
}

func printBanner(w io.Writer, st *stack.Stack, demo *stack.Tenant) {
	fmt.Fprintf(w, `
dokkumcp is running (SSH CA: %s). Ctrl-C stops everything.

MCP endpoint:   %s
Token endpoint: %s/oauth2/token
Demo tenant:    %s (id %s), host %q at %s
Host key:       %s
API client:     %s
Client secret:  %s

`, st.CABackend, st.MCPURL, st.IdentityURL, demo.Slug, demo.ID, demo.HostName, demo.HostAddr, demo.HostKeyFingerprint,
		demo.ClientID, demo.ClientSecret)

	endpoints := &admin.Endpoints{IdentityURL: st.IdentityURL, TenancyURL: st.TenancyURL, SecretsURL: st.SecretsURL,
		DokkuExecURL: st.DokkuExecURL, MCPURL: st.MCPURL}
	printClientConfig(w, endpoints, demo.ClientID, demo.ClientSecret)

	fmt.Fprintf(w, `
To onboard more tenants with dokkumcp tenant create, host add, client create
and host verify, export this in another shell:
  export %s=%s %s=%s %s=%s %s=%s %s=%s %s=%s
`, config.EnvName("identity-url"), st.IdentityURL, config.EnvName("tenancy-url"), st.TenancyURL,
		config.EnvName("secrets-url"), st.SecretsURL, config.EnvName("dokkuexec-url"), st.DokkuExecURL,
		config.EnvName("mcp-url"), st.MCPURL, config.EnvName("operator-secret"), st.OperatorSecret())

	if demo.Host == nil {
		fmt.Fprintf(w, `
The demo host is a real Dokku host. Check that the host key fingerprint above
is the host's (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub on it), then run
this once as root on the host so it trusts this platform's SSH CA:
  %s
`, demo.TrustCommand)
	}
}
