// Command mcpedge serves the MCP gateway.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"dokkumcp.dev/mcpedge/server"
	"dokkumcp.dev/platform/config"
)

func main() {
	fs := config.NewFlagSet("mcpedge")
	cfg := server.RegisterFlags(fs)
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := server.Run(ctx, server.Options{Config: cfg}); err != nil {
		fmt.Fprintln(os.Stderr, "mcpedge:", err)
		os.Exit(1)
	}
}
