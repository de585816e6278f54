package vault

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	vaultapi "github.com/hashicorp/vault/api"
	"github.com/hashicorp/vault/api/auth/approle"
	"github.com/hashicorp/vault/api/auth/kubernetes"
)

// Auth methods Secrets can log in to Vault with.
const (
	AuthToken      = "token"
	AuthAppRole    = "approle"
	AuthKubernetes = "kubernetes"
)

// AuthConfig selects how Secrets gets its Vault token. Secrets never logs
// any of its secret fields.
type AuthConfig struct {
	// Method is AuthToken, AuthAppRole or AuthKubernetes.
	Method string
	// Token is the static token for AuthToken.
	Token string

	AppRoleMount        string
	AppRoleRoleID       string
	AppRoleSecretID     string
	AppRoleSecretIDFile string

	KubernetesMount     string
	KubernetesRole      string
	KubernetesTokenFile string
}

// loginMethod returns the api client's login for AppRole and Kubernetes
// auth, or nil for a static token.
func (a AuthConfig) loginMethod() (vaultapi.AuthMethod, error) {
	switch a.Method {
	case AuthToken:
		return nil, nil
	case AuthAppRole:
		secretID := &approle.SecretID{FromString: a.AppRoleSecretID}
		if a.AppRoleSecretIDFile != "" {
			// FromFile is read at every login, so a rotated secret id is
			// picked up without a restart.
			secretID = &approle.SecretID{FromFile: a.AppRoleSecretIDFile}
		}
		return approle.NewAppRoleAuth(a.AppRoleRoleID, secretID, approle.WithMountPath(a.AppRoleMount))
	case AuthKubernetes:
		return kubernetesLogin{mount: a.KubernetesMount, role: a.KubernetesRole, tokenFile: a.KubernetesTokenFile}, nil
	}
	return nil, fmt.Errorf("unknown Vault auth method %q", a.Method)
}

// kubernetesLogin logs in with Kubernetes auth. kubernetes.NewKubernetesAuth
// reads the ServiceAccount token file once, but the kubelet rotates
// projected tokens, so every login builds a new one to read the file afresh.
type kubernetesLogin struct {
	mount, role, tokenFile string
}

func (k kubernetesLogin) Login(ctx context.Context, client *vaultapi.Client) (*vaultapi.Secret, error) {
	method, err := kubernetes.NewKubernetesAuth(k.role,
		kubernetes.WithMountPath(k.mount), kubernetes.WithServiceAccountTokenPath(k.tokenFile))
	if err != nil {
		return nil, fmt.Errorf("read the Kubernetes ServiceAccount token file %s: %w", k.tokenFile, err)
	}
	return method.Login(ctx, client)
}

// login gets a token and returns it as an auth secret for the
// LifetimeWatcher. With a static token it looks the token up to learn
// its TTL and whether it is renewable.
func (c *CA) login(ctx context.Context) (*vaultapi.Secret, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	ctx, span := c.startSpan(ctx, opLogin)
	start := time.Now()

	var secret *vaultapi.Secret
	var err error
	if c.loginMethod == nil {
		secret, err = c.lookupStaticToken(ctx)
	} else {
		secret, err = c.client.Auth().Login(ctx, c.loginMethod)
		if err == nil && (secret == nil || secret.Auth == nil) {
			err = errors.New("the login response carries no token")
		}
	}
	endSpan(span, err)
	c.metrics.observe(opLogin, start, err)
	if err != nil {
		return nil, c.loginError(ctx, err)
	}

	c.recordExpiry(secret.Auth)
	return secret, nil
}

func (c *CA) lookupStaticToken(ctx context.Context) (*vaultapi.Secret, error) {
	lookup, err := c.client.Auth().Token().LookupSelfWithContext(ctx)
	if err != nil {
		return nil, err
	}
	if lookup == nil {
		return nil, errors.New("the token lookup returned no data")
	}
	ttl, err := lookup.TokenTTL()
	if err != nil {
		return nil, fmt.Errorf("read the token's TTL: %w", err)
	}
	renewable, err := lookup.TokenIsRenewable()
	if err != nil {
		return nil, fmt.Errorf("read whether the token is renewable: %w", err)
	}
	return &vaultapi.Secret{Auth: &vaultapi.SecretAuth{
		ClientToken:   c.cfg.Auth.Token,
		Renewable:     renewable,
		LeaseDuration: int(ttl / time.Second),
	}}, nil
}

// recordExpiry sets the expiry gauge. A lease duration of 0 is a token
// without expiry, such as a root token, which has no expiry to report.
func (c *CA) recordExpiry(auth *vaultapi.SecretAuth) {
	if auth != nil && auth.LeaseDuration > 0 {
		c.metrics.setExpiry(time.Now().Add(time.Duration(auth.LeaseDuration) * time.Second))
	}
}

// loginError names the settings to check. The api client's error text is
// included because it names the Vault address and Vault's reason, which
// the operator reading a startup error needs and no RPC caller receives.
func (c *CA) loginError(ctx context.Context, err error) error {
	if ctx.Err() != nil && errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("timed out after %s", c.cfg.Timeout)
	}
	var respErr *vaultapi.ResponseError
	rejected := errors.As(err, &respErr) && respErr.StatusCode >= 400 && respErr.StatusCode < 500 && respErr.StatusCode != http.StatusTooManyRequests

	a := c.cfg.Auth
	var check string
	switch a.Method {
	case AuthToken:
		check = "check --vault-token (DOKKUMCP_VAULT_TOKEN): it must be a valid Vault token"
	case AuthAppRole:
		check = fmt.Sprintf("check --vault-approle-role-id (DOKKUMCP_VAULT_APPROLE_ROLE_ID), --vault-approle-secret-id (DOKKUMCP_VAULT_APPROLE_SECRET_ID) or --vault-approle-secret-id-file (DOKKUMCP_VAULT_APPROLE_SECRET_ID_FILE), and that AppRole auth is enabled at mount %s (--vault-approle-mount, DOKKUMCP_VAULT_APPROLE_MOUNT)", a.AppRoleMount)
	case AuthKubernetes:
		check = fmt.Sprintf("check --vault-kubernetes-role (DOKKUMCP_VAULT_KUBERNETES_ROLE), --vault-kubernetes-token-file (DOKKUMCP_VAULT_KUBERNETES_TOKEN_FILE), and that Kubernetes auth is enabled at mount %s (--vault-kubernetes-mount, DOKKUMCP_VAULT_KUBERNETES_MOUNT) with that role bound to this ServiceAccount", a.KubernetesMount)
	}
	if rejected {
		return fmt.Errorf("Vault rejected the %s login (%s): %s", a.Method, strings.Join(respErr.Errors, "; "), check)
	}
	return fmt.Errorf("Vault %s login failed: %w; %s", a.Method, err, check)
}
