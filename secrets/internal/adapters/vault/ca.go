// Package vault signs SSH user certificates with Vault's SSH secrets engine
// in CA mode, and can bootstrap the engine's mount, CA key and role.
package vault

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	vaultapi "github.com/hashicorp/vault/api"
	"golang.org/x/crypto/ssh"

	"dokkumcp.dev/secrets/internal/app"
)

// Backend is the name the Vault CA reports.
const Backend = "vault"

// Config locates the SSH secrets engine.
type Config struct {
	// Address is Vault's URL, for example https://vault.example.com:8200.
	Address string
	// Token authenticates to Vault. It is never logged.
	Token string
	// Mount is the path the SSH secrets engine is mounted at.
	Mount string
	// Role is the signing role under the mount.
	Role string
	// TTL is the certificate lifetime; Bootstrap writes it as the role's
	// ttl and max_ttl.
	TTL time.Duration
}

// CA implements app.CA with Vault's SSH secrets engine.
type CA struct {
	client *vaultapi.Client
	cfg    Config
}

var _ app.CA = (*CA)(nil)

// New returns a CA client. It does not contact Vault.
func New(cfg Config) (*CA, error) {
	// DefaultConfig reads the VAULT_* TLS settings (VAULT_CACERT and the
	// like) from the environment; the address and token come from cfg.
	apiConfig := vaultapi.DefaultConfig()
	if apiConfig.Error != nil {
		return nil, fmt.Errorf("read Vault settings from the environment: %w", apiConfig.Error)
	}
	apiConfig.Address = cfg.Address
	apiConfig.Timeout = 15 * time.Second
	apiConfig.MaxRetries = 1
	client, err := vaultapi.NewClient(apiConfig)
	if err != nil {
		return nil, fmt.Errorf("create Vault client: %w", err)
	}
	client.SetToken(cfg.Token)
	return &CA{client: client, cfg: cfg}, nil
}

// Backend returns "vault".
func (c *CA) Backend() string { return Backend }

// PublicKey reads the CA public key from <mount>/config/ca.
func (c *CA) PublicKey(ctx context.Context) (ssh.PublicKey, error) {
	key, configured, err := c.readCA(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", app.ErrCAUnavailable, err)
	}
	if !configured {
		return nil, fmt.Errorf("%w: Vault mount %s has no CA key; run Secrets once with --vault-bootstrap or write %s/config/ca", app.ErrCAUnavailable, c.cfg.Mount, c.cfg.Mount)
	}
	return key, nil
}

// readCA returns the CA key, or configured false when the mount has none.
func (c *CA) readCA(ctx context.Context) (ssh.PublicKey, bool, error) {
	secret, err := c.client.Logical().ReadWithContext(ctx, c.cfg.Mount+"/config/ca")
	var respErr *vaultapi.ResponseError
	if errors.As(err, &respErr) && respErr.StatusCode == http.StatusBadRequest &&
		strings.Contains(strings.Join(respErr.Errors, " "), "haven't been configured") {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read %s/config/ca from Vault: %w", c.cfg.Mount, err)
	}
	if secret == nil {
		return nil, false, nil
	}

	text, _ := secret.Data["public_key"].(string)
	if text == "" {
		return nil, false, nil
	}
	key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(text))
	if err != nil {
		return nil, false, fmt.Errorf("parse CA public key from %s/config/ca: %w", c.cfg.Mount, err)
	}
	return key, true, nil
}

// SignUserKey calls <mount>/sign/<role>.
func (c *CA) SignUserKey(ctx context.Context, req app.SignRequest) (*ssh.Certificate, error) {
	path := c.cfg.Mount + "/sign/" + c.cfg.Role
	secret, err := c.client.Logical().WriteWithContext(ctx, path, map[string]any{
		"public_key":       string(ssh.MarshalAuthorizedKey(req.Key)),
		"valid_principals": req.Principal,
		"cert_type":        "user",
		"ttl":              seconds(req.TTL),
		"key_id":           req.KeyID,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: write %s: %w", app.ErrCAUnavailable, path, err)
	}
	if secret == nil {
		return nil, fmt.Errorf("%w: write %s returned no data", app.ErrCAUnavailable, path)
	}

	signed, _ := secret.Data["signed_key"].(string)
	key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(signed))
	if err != nil {
		return nil, fmt.Errorf("parse signed_key from %s: %w", path, err)
	}
	cert, ok := key.(*ssh.Certificate)
	if !ok {
		return nil, fmt.Errorf("signed_key from %s is a %s, not a certificate", path, key.Type())
	}
	return cert, nil
}

// seconds formats d as a Vault duration in whole seconds.
func seconds(d time.Duration) string {
	return strconv.FormatInt(int64(d/time.Second), 10) + "s"
}
