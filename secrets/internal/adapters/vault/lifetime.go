package vault

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	vaultapi "github.com/hashicorp/vault/api"
)

// Backoff between failed re-logins: exponential from reloginMinBackoff,
// capped at reloginMaxBackoff, each wait drawn at random from its upper
// half.
const (
	reloginMinBackoff = time.Second
	reloginMaxBackoff = time.Minute
)

// Start logs in to Vault and keeps the token valid in the background
// until ctx ends or stop is called; stop waits for the background loop to
// end. Start returns the first login's error without starting the loop.
//
// The loop renews the token with the api client's LifetimeWatcher. When
// the watcher ends (the token is not renewable, reached its max TTL or
// failed to renew until close to expiry) the loop logs in again, retrying
// with backoff. A static token cannot be replaced: a non-renewable one is
// used as is, and a renewable one is renewed until it reaches its max TTL.
func (c *CA) Start(ctx context.Context, logger *slog.Logger) (stop func(), err error) {
	secret, err := c.login(ctx)
	if err != nil {
		return nil, err
	}
	c.logLogin(ctx, logger, secret)

	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { c.keepTokenValid(ctx, logger, secret) })
	return func() { cancel(); wg.Wait() }, nil
}

func (c *CA) keepTokenValid(ctx context.Context, logger *slog.Logger, secret *vaultapi.Secret) {
	for {
		if secret.Auth.LeaseDuration == 0 {
			// Logged at Info because a root or dev token is the usual case.
			logger.InfoContext(ctx, "vault token does not expire and is used as is", "auth_method", c.cfg.Auth.Method)
			return
		}
		if c.loginMethod == nil && !secret.Auth.Renewable {
			logger.InfoContext(ctx, "vault token is not renewable and is used as is until it expires",
				"auth_method", AuthToken, "ttl_seconds", secret.Auth.LeaseDuration)
			return
		}

		err := c.watch(ctx, logger, secret)
		if ctx.Err() != nil {
			return
		}
		if c.loginMethod == nil {
			logger.ErrorContext(ctx, "vault token can no longer be renewed and will expire; restart Secrets with a new --vault-token",
				"auth_method", AuthToken, "error", err)
			return
		}
		logger.InfoContext(ctx, "vault token lifetime ended; logging in again", "auth_method", c.cfg.Auth.Method, "error", err)

		secret = c.reloginWithBackoff(ctx, logger)
		if secret == nil {
			return
		}
	}
}

// watch renews secret's token until the LifetimeWatcher ends or ctx ends,
// and returns the watcher's error.
func (c *CA) watch(ctx context.Context, logger *slog.Logger, secret *vaultapi.Secret) error {
	watcher, err := c.client.NewLifetimeWatcher(&vaultapi.LifetimeWatcherInput{
		Secret:        secret,
		RenewBehavior: vaultapi.RenewBehaviorIgnoreErrors,
	})
	if err != nil {
		return err
	}
	go watcher.Start()
	defer watcher.Stop()

	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-watcher.DoneCh():
			return err
		case renewal := <-watcher.RenewCh():
			c.recordExpiry(renewal.Secret.Auth)
			if renewal.Secret.Auth != nil {
				logger.DebugContext(ctx, "vault token renewed", "ttl_seconds", renewal.Secret.Auth.LeaseDuration)
			}
		}
	}
}

// reloginWithBackoff logs in until it succeeds or ctx ends, when it
// returns nil.
func (c *CA) reloginWithBackoff(ctx context.Context, logger *slog.Logger) *vaultapi.Secret {
	wait := reloginMinBackoff
	for attempt := 1; ; attempt++ {
		secret, err := c.login(ctx)
		if err == nil {
			c.logLogin(ctx, logger, secret)
			return secret
		}
		if ctx.Err() != nil {
			return nil
		}

		jittered := wait/2 + rand.N(wait/2+1)
		logger.ErrorContext(ctx, "vault login failed; retrying", "auth_method", c.cfg.Auth.Method,
			"attempt", attempt, "retry_in", jittered.String(), "error", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(jittered):
		}
		wait = min(2*wait, reloginMaxBackoff)
	}
}

func (c *CA) logLogin(ctx context.Context, logger *slog.Logger, secret *vaultapi.Secret) {
	logger.InfoContext(ctx, "vault login succeeded", "auth_method", c.cfg.Auth.Method,
		"ttl_seconds", secret.Auth.LeaseDuration, "renewable", secret.Auth.Renewable)
}
