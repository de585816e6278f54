// Command dokkuexec runs DokkuExec, which executes typed Dokku operations on
// tenants' hosts over SSH.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"dokkumcp.dev/dokkuexec/server"
	"dokkumcp.dev/platform/config"
)

func main() {
	fs := config.NewFlagSet("dokkuexec")
	cfg := server.RegisterFlags(fs)
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "dokkuexec:", err)
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := server.Run(ctx, server.Options{Config: cfg}); err != nil {
		fmt.Fprintln(os.Stderr, "dokkuexec:", err)
		os.Exit(1)
	}
}
