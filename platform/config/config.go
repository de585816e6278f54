// Package config reads a service's settings from command-line flags, with an
// environment variable behind every flag, so the same binary runs from a
// shell, from `make run` and from a Kubernetes manifest.
package config

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"
)

// FlagSet is a flag.FlagSet whose unset flags fall back to environment
// variables named DOKKUMCP_<FLAG>, with dashes turned into underscores:
// --postgres-url reads DOKKUMCP_POSTGRES_URL.
type FlagSet struct {
	*flag.FlagSet
}

// NewFlagSet returns an empty flag set for the named command.
func NewFlagSet(name string) *FlagSet {
	return &FlagSet{FlagSet: flag.NewFlagSet(name, flag.ContinueOnError)}
}

// EnvName returns the environment variable that backs a flag.
func EnvName(flagName string) string {
	return "DOKKUMCP_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// Parse parses args, then fills every flag that was not given on the
// command line from its environment variable. A flag given on the command
// line wins over the environment.
func (fs *FlagSet) Parse(args []string) error {
	if err := fs.FlagSet.Parse(args); err != nil {
		return err
	}

	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })

	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if err != nil || given[f.Name] {
			return
		}
		value, ok := os.LookupEnv(EnvName(f.Name))
		if !ok {
			return
		}
		if setErr := fs.Set(f.Name, value); setErr != nil {
			err = fmt.Errorf("invalid value %q in %s: %w", value, EnvName(f.Name), setErr)
		}
	})
	return err
}

// Common holds the settings every service shares.
type Common struct {
	Listen          string
	LogLevel        string
	OTLPEndpoint    string
	ShutdownTimeout time.Duration
}

// RegisterCommon adds the shared flags to fs with defaultListen as the
// default listen address.
func RegisterCommon(fs *FlagSet, defaultListen string) *Common {
	c := &Common{}
	fs.StringVar(&c.Listen, "listen", defaultListen, "host:port to serve HTTP (Connect, gRPC, health, /metrics) on")
	fs.StringVar(&c.LogLevel, "log-level", "info", "minimum log level: debug, info, warn or error")
	fs.StringVar(&c.OTLPEndpoint, "otlp-endpoint", "", "OTLP/HTTP endpoint for traces, for example http://127.0.0.1:4318; empty disables export")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", 15*time.Second, "how long in-flight requests may run after a shutdown signal")
	return c
}
