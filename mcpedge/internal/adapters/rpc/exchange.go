// Package rpc connects mcpedge to DokkuExec. It never forwards the caller's
// token: each call carries a token that Identity issued by exchanging the
// caller's token (RFC 8693) for one whose audience is DokkuExec.
package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"dokkumcp.dev/mcpedge/internal/app"
	"dokkumcp.dev/platform/auth"
)

const (
	grantTypeTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"
	tokenTypeAccessToken   = "urn:ietf:params:oauth:token-type:access_token"
)

// Exchanger exchanges callers' tokens at Identity's token endpoint and
// caches each exchanged token per caller token until shortly before it
// expires.
type Exchanger struct {
	TokenURL     string
	ClientID     string
	ClientSecret string
	// Audience is the downstream service, for example urn:dokkumcp:dokkuexec.
	Audience   string
	HTTPClient *http.Client

	mu    sync.Mutex
	cache map[string]exchanged
}

type exchanged struct {
	token   string
	expires time.Time
}

// renewBefore is how long before expiry a cached token is replaced.
const renewBefore = 30 * time.Second

// maxCached bounds the cache; beyond it expired entries are dropped.
const maxCached = 10000

// TokenFunc returns the auth.TokenFunc that exchanges the token of the
// principal in each call's context.
func (e *Exchanger) TokenFunc() auth.TokenFunc {
	return func(ctx context.Context) (string, error) {
		principal, ok := auth.PrincipalFrom(ctx)
		if !ok {
			return "", errors.New("no authenticated caller in context")
		}
		return e.Exchange(ctx, principal)
	}
}

// Exchange returns a DokkuExec token for the principal's token.
func (e *Exchanger) Exchange(ctx context.Context, principal *auth.Principal) (string, error) {
	key := principal.TokenID
	e.mu.Lock()
	if hit, ok := e.cache[key]; ok && time.Until(hit.expires) > renewBefore {
		e.mu.Unlock()
		return hit.token, nil
	}
	e.mu.Unlock()

	token, expiresIn, err := e.request(ctx, principal.Token)
	if err != nil {
		return "", err
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cache == nil {
		e.cache = map[string]exchanged{}
	}
	if len(e.cache) >= maxCached {
		now := time.Now()
		for k, v := range e.cache {
			if v.expires.Before(now) {
				delete(e.cache, k)
			}
		}
	}
	e.cache[key] = exchanged{token: token, expires: time.Now().Add(expiresIn)}
	return token, nil
}

func (e *Exchanger) request(ctx context.Context, subjectToken string) (string, time.Duration, error) {
	form := url.Values{
		"grant_type":         {grantTypeTokenExchange},
		"subject_token":      {subjectToken},
		"subject_token_type": {tokenTypeAccessToken},
		"resource":           {e.Audience},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(e.ClientID), url.QueryEscape(e.ClientSecret))

	client := e.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", 0, fmt.Errorf("token exchange at %s: %w", e.TokenURL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", 0, fmt.Errorf("read token exchange response: %w", err)
	}

	var out struct {
		AccessToken      string `json:"access_token"`
		ExpiresIn        int64  `json:"expires_in"`
		Error            string `json:"error"`
		ErrorDescription string `json:"error_description"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return "", 0, fmt.Errorf("token exchange returned status %d and no JSON", resp.StatusCode)
	}
	if resp.StatusCode != http.StatusOK || out.AccessToken == "" {
		err := fmt.Errorf("status %d: %s: %s", resp.StatusCode, out.Error, out.ErrorDescription)
		// invalid_target (RFC 8693 section 2.2.2): mcpedge may not exchange
		// tokens for this audience at all.
		if out.Error == "invalid_target" {
			err = fmt.Errorf("%w (%w)", app.ErrExchangeRejected, err)
		}
		return "", 0, err
	}
	return out.AccessToken, time.Duration(out.ExpiresIn) * time.Second, nil
}
