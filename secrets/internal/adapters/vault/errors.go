package vault

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	vaultapi "github.com/hashicorp/vault/api"

	"dokkumcp.dev/secrets/internal/app"
)

// callError classifies a failed Vault call on path. A 4xx other than 429
// is a configuration problem that retrying cannot fix, so it becomes an
// app.CAConfigError whose message names the fix. Everything else (no
// connection, a timeout, a 5xx, a 429 after the retries) wraps
// app.ErrCAUnavailable.
func (c *CA) callError(ctx context.Context, op, path string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("Vault %s on %s: %w", op, path, ctx.Err())
	}
	if errors.Is(err, context.DeadlineExceeded) {
		// The call's own timeout expired. The context error is not wrapped,
		// because callers read context.DeadlineExceeded as their own
		// request's deadline.
		return fmt.Errorf("%w: Vault %s on %s timed out after %s (--vault-timeout)", app.ErrCAUnavailable, op, path, c.cfg.Timeout)
	}

	var respErr *vaultapi.ResponseError
	if !errors.As(err, &respErr) || respErr.StatusCode < 400 || respErr.StatusCode >= 500 || respErr.StatusCode == http.StatusTooManyRequests {
		return fmt.Errorf("%w: Vault %s on %s: %w", app.ErrCAUnavailable, op, path, err)
	}
	return &app.CAConfigError{Message: c.rejectionMessage(op, respErr), Err: err}
}

// rejectionMessage explains a 4xx from Vault in terms of Secrets' flags.
// It names the mount and role, which are configuration rather than
// secrets, and leaves out Vault's address.
func (c *CA) rejectionMessage(op string, respErr *vaultapi.ResponseError) string {
	vaultText := strings.Join(respErr.Errors, "; ")
	switch {
	case op == opSign && strings.Contains(vaultText, "Unknown role"):
		return fmt.Sprintf("Vault role %s on mount %s not found; create it or run with --vault-bootstrap", c.cfg.Role, c.cfg.Mount)
	case respErr.StatusCode == http.StatusForbidden:
		return fmt.Sprintf("Vault denied the %s request on mount %s: the token's policy must allow update on %s/sign/%s and read on %s/config/ca",
			op, c.cfg.Mount, c.cfg.Mount, c.cfg.Role, c.cfg.Mount)
	case respErr.StatusCode == http.StatusNotFound:
		return fmt.Sprintf("Vault has no SSH secrets engine at mount %s; enable one there or run with --vault-bootstrap", c.cfg.Mount)
	}
	return fmt.Sprintf("Vault rejected the %s request on mount %s, role %s with status %d; check the role's settings, or run with --vault-bootstrap to rewrite it",
		op, c.cfg.Mount, c.cfg.Role, respErr.StatusCode)
}
