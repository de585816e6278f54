package vault

import (
	"context"
	"fmt"
	"log/slog"

	vaultapi "github.com/hashicorp/vault/api"
)

// Bootstrap makes the SSH secrets engine ready to sign: it mounts the
// engine if the mount is missing, generates an ed25519 CA key if the mount
// has none, and writes the role. Each step leaves existing state alone
// except the role, which it overwrites so that the role always matches
// this configuration.
func (c *CA) Bootstrap(ctx context.Context, logger *slog.Logger) error {
	// Bootstrap makes at most five calls, each bounded by its own timeout
	// in readCA or by this overall one.
	ctx, cancel := context.WithTimeout(ctx, 5*c.cfg.Timeout)
	defer cancel()
	if err := c.ensureMount(ctx, logger); err != nil {
		return err
	}
	if err := c.ensureCAKey(ctx, logger); err != nil {
		return err
	}
	return c.writeRole(ctx, logger)
}

func (c *CA) ensureMount(ctx context.Context, logger *slog.Logger) error {
	mounts, err := c.client.Sys().ListMountsWithContext(ctx)
	if err != nil {
		return fmt.Errorf("list Vault secrets engines: %w", err)
	}
	if mount, ok := mounts[c.cfg.Mount+"/"]; ok {
		if mount.Type != "ssh" {
			return fmt.Errorf("Vault mount %s is a %s secrets engine, not ssh: choose another --vault-mount", c.cfg.Mount, mount.Type)
		}
		return nil
	}

	err = c.client.Sys().MountWithContext(ctx, c.cfg.Mount, &vaultapi.MountInput{
		Type:        "ssh",
		Description: "dokkumcp SSH user CA",
	})
	if err != nil {
		return fmt.Errorf("mount the ssh secrets engine at %s: %w", c.cfg.Mount, err)
	}
	logger.InfoContext(ctx, "vault ssh secrets engine mounted", "mount", c.cfg.Mount)
	return nil
}

func (c *CA) ensureCAKey(ctx context.Context, logger *slog.Logger) error {
	if _, configured, err := c.readCA(ctx); err != nil || configured {
		return err
	}

	_, writeErr := c.client.Logical().WriteWithContext(ctx, c.cfg.Mount+"/config/ca", map[string]any{
		"generate_signing_key": true,
		"key_type":             "ed25519",
	})
	if writeErr != nil {
		// Another replica may have generated the key in the meantime.
		if _, configured, err := c.readCA(ctx); err == nil && configured {
			return nil
		}
		return fmt.Errorf("generate the CA key at %s/config/ca: %w", c.cfg.Mount, writeErr)
	}
	logger.InfoContext(ctx, "vault ssh CA key generated", "mount", c.cfg.Mount)
	return nil
}

// writeRole writes a role that signs only user certificates, with the
// principals the caller names, the key id Secrets sets, a fixed lifetime,
// and no extensions.
func (c *CA) writeRole(ctx context.Context, logger *slog.Logger) error {
	path := c.cfg.Mount + "/roles/" + c.cfg.Role
	_, err := c.client.Logical().WriteWithContext(ctx, path, map[string]any{
		"key_type":                 "ca",
		"allow_user_certificates":  true,
		"allow_host_certificates":  false,
		"allowed_users":            "*",
		"allow_user_key_ids":       true,
		"ttl":                      seconds(c.cfg.TTL),
		"max_ttl":                  seconds(c.cfg.TTL),
		"default_extensions":       map[string]string{},
		"allowed_extensions":       "",
		"default_critical_options": map[string]string{},
		// NOTE: Vault (1.21) reads an empty allowed_critical_options as
		// "any critical option may be requested". Secrets never requests
		// one, and critical options only narrow what a certificate allows.
		"allowed_critical_options": "",
		"algorithm_signer":         "default",
	})
	if err != nil {
		return fmt.Errorf("write Vault role %s: %w", path, err)
	}
	logger.InfoContext(ctx, "vault ssh role written", "mount", c.cfg.Mount, "role", c.cfg.Role, "ttl", c.cfg.TTL.String())
	return nil
}
