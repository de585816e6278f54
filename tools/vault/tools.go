//go:build tools

// Package tools records the Vault server as a dependency of this module so
// that `go mod tidy` keeps its requirements.
package tools

import _ "github.com/hashicorp/vault"
