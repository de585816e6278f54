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

// Config locates the SSH secrets engine and how to reach it.
type Config struct {
	// Address is Vault's URL, for example https://vault.example.com:8200.
	Address string
	// Auth selects how Secrets gets its Vault token.
	Auth AuthConfig
	// Mount is the path the SSH secrets engine is mounted at.
	Mount string
	// Role is the signing role under the mount.
	Role string
	// TTL is the certificate lifetime; Bootstrap writes it as the role's
	// ttl and max_ttl.
	TTL time.Duration
	// Timeout bounds each Vault call, its retries included.
	Timeout time.Duration
	// MaxRetries is how often a call is retried after a connection error,
	// a 5xx or a 429.
	MaxRetries int
	// Metrics, if nil, records nothing.
	Metrics *Metrics
}

// CA implements app.CA with Vault's SSH secrets engine.
type CA struct {
	client      *vaultapi.Client
	cfg         Config
	loginMethod vaultapi.AuthMethod
	metrics     *Metrics
}

var _ app.CA = (*CA)(nil)

// New returns a CA client. It does not contact Vault: Start logs in.
func New(cfg Config) (*CA, error) {
	loginMethod, err := cfg.Auth.loginMethod()
	if err != nil {
		return nil, err
	}

	// DefaultConfig reads the VAULT_* TLS settings (VAULT_CACERT and the
	// like) from the environment; the address and token come from cfg.
	apiConfig := vaultapi.DefaultConfig()
	if apiConfig.Error != nil {
		return nil, fmt.Errorf("read Vault settings from the environment: %w", apiConfig.Error)
	}
	apiConfig.Address = cfg.Address
	apiConfig.Timeout = cfg.Timeout
	// The api client retries connection errors, 5xx (except 501), 412 and
	// 429 with linear jittered backoff, honouring Retry-After. Retrying a
	// sign request is safe: if Vault signed but the response was lost, the
	// retry signs again, and the unused certificate is never handed out.
	apiConfig.MaxRetries = cfg.MaxRetries
	client, err := vaultapi.NewClient(apiConfig)
	if err != nil {
		return nil, fmt.Errorf("create Vault client: %w", err)
	}
	metrics := cfg.Metrics.orNoop()
	if err := wrapTransport(apiConfig.HttpClient, metrics); err != nil {
		return nil, err
	}
	if loginMethod == nil {
		client.SetToken(cfg.Auth.Token)
	} else {
		// NewClient takes VAULT_TOKEN from the environment; a login
		// method must not send it along.
		client.ClearToken()
	}
	return &CA{client: client, cfg: cfg, loginMethod: loginMethod, metrics: metrics}, nil
}

// Backend returns "vault".
func (c *CA) Backend() string { return Backend }

// PublicKey reads the CA public key from <mount>/config/ca.
func (c *CA) PublicKey(ctx context.Context) (ssh.PublicKey, error) {
	key, configured, err := c.readCA(ctx)
	if err != nil {
		return nil, err
	}
	if !configured {
		return nil, fmt.Errorf("%w: Vault mount %s has no CA key; run Secrets once with --vault-bootstrap or write %s/config/ca", app.ErrCAUnavailable, c.cfg.Mount, c.cfg.Mount)
	}
	return key, nil
}

// readCA returns the CA key, or configured false when the mount has none.
func (c *CA) readCA(ctx context.Context) (ssh.PublicKey, bool, error) {
	callCtx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	callCtx, span := c.startSpan(callCtx, opReadCA)
	start := time.Now()
	secret, err := c.client.Logical().ReadWithContext(callCtx, c.cfg.Mount+"/config/ca")
	endSpan(span, err)
	var respErr *vaultapi.ResponseError
	if errors.As(err, &respErr) && respErr.StatusCode == http.StatusBadRequest &&
		strings.Contains(strings.Join(respErr.Errors, " "), "haven't been configured") {
		c.metrics.observe(opReadCA, start, nil)
		return nil, false, nil
	}
	c.metrics.observe(opReadCA, start, err)
	if err != nil {
		return nil, false, c.callError(ctx, opReadCA, c.cfg.Mount+"/config/ca", err)
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
	callCtx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	callCtx, span := c.startSpan(callCtx, opSign)
	start := time.Now()
	secret, err := c.client.Logical().WriteWithContext(callCtx, path, map[string]any{
		"public_key":       string(ssh.MarshalAuthorizedKey(req.Key)),
		"valid_principals": req.Principal,
		"cert_type":        "user",
		"ttl":              seconds(req.TTL),
		"key_id":           req.KeyID,
	})
	endSpan(span, err)
	c.metrics.observe(opSign, start, err)
	if err != nil {
		return nil, c.callError(ctx, opSign, path, err)
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
