package auth

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// DefaultRevocationRefresh is how often a verifier fetches the revocation
// list by default. A revoked token or a disabled client's token is therefore
// rejected at most this long, plus one fetch, after Identity records it.
const DefaultRevocationRefresh = 30 * time.Second

// RevocationList is the document Identity serves at GET
// /oauth2/revocations: the revoked tokens that a verifier may still accept,
// those expired less than MaxLeeway ago included, and the disabled clients.
type RevocationList struct {
	// Version grows with every revocation and every client disable or
	// enable.
	Version         int64          `json:"version"`
	Revoked         []RevokedToken `json:"revoked"`
	DisabledClients []string       `json:"disabled_clients"`
}

// RevokedToken is one revoked access token.
type RevokedToken struct {
	JTI string `json:"jti"`
	// Exp is the token's expiry in seconds since the Unix epoch; after it the
	// entry leaves the list.
	Exp int64 `json:"exp"`
}

// revocations is the decoded list in the form Verify looks it up.
type revocations struct {
	version         int64
	revoked         map[string]bool
	disabledClients map[string]bool
}

func newRevocations(list RevocationList) *revocations {
	r := &revocations{
		version:         list.Version,
		revoked:         make(map[string]bool, len(list.Revoked)),
		disabledClients: make(map[string]bool, len(list.DisabledClients)),
	}
	for _, t := range list.Revoked {
		r.revoked[t.JTI] = true
	}
	for _, c := range list.DisabledClients {
		r.disabledClients[c] = true
	}
	return r
}

// reason returns why the list rejects a token, or "" when it does not.
func (r *revocations) reason(claims *Claims) string {
	if r == nil {
		return ""
	}
	switch {
	case r.revoked[claims.ID]:
		return "revoked"
	case r.disabledClients[claims.ClientID]:
		return "revoked: client " + claims.ClientID + " is disabled"
	case claims.Act != nil && r.disabledClients[claims.Act.Subject]:
		return "revoked: actor " + claims.Act.Subject + " is disabled"
	}
	return ""
}

// revocationURL returns the revocation list URL next to an Identity JWKS
// URL, or "" when jwksURL does not end in /oauth2/jwks.
func revocationURL(jwksURL string) string {
	base, ok := strings.CutSuffix(jwksURL, "/oauth2/jwks")
	if !ok {
		return ""
	}
	return base + "/oauth2/revocations"
}

// checkRevocations fetches the revocation list when the cached one is older
// than RevocationRefresh, then returns the reason the list rejects claims.
// One caller fetches while the others use the cached list. When the fetch
// fails the verifier keeps the last list it fetched (fail-open for entries
// added since) and retries after the next RevocationRefresh: an Identity
// outage must not stop every service, and signatures and expiry are still
// checked.
func (v *Verifier) checkRevocations(ctx context.Context, claims *Claims) string {
	if v.cfg.RevocationURL == "" {
		return ""
	}

	v.revocationMu.Lock()
	stale := !v.revocationsFetching && time.Since(v.revocationsFetchedAt) >= v.cfg.RevocationRefresh
	if stale {
		v.revocationsFetching = true
	}
	v.revocationMu.Unlock()

	if stale {
		list, err := v.fetchRevocations(ctx)
		v.revocationMu.Lock()
		v.revocationsFetching = false
		v.revocationsFetchedAt = time.Now()
		if err == nil {
			v.revocations = newRevocations(list)
		}
		v.revocationMu.Unlock()
		if err != nil && v.cfg.Logger != nil {
			v.cfg.Logger.WarnContext(ctx, "revocation list fetch failed; keeping the last list", "error", err)
		}
	}

	v.revocationMu.Lock()
	defer v.revocationMu.Unlock()
	return v.revocations.reason(claims)
}

func (v *Verifier) fetchRevocations(ctx context.Context) (RevocationList, error) {
	var list RevocationList
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.cfg.RevocationURL, nil)
	if err != nil {
		return list, err
	}
	resp, err := v.cfg.HTTPClient.Do(req)
	if err != nil {
		return list, fmt.Errorf("fetch revocation list from %s: %w", v.cfg.RevocationURL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return list, fmt.Errorf("fetch revocation list from %s: status %d", v.cfg.RevocationURL, resp.StatusCode)
	}
	if err := json.NewDecoder(http.MaxBytesReader(nil, resp.Body, 16<<20)).Decode(&list); err != nil {
		return list, fmt.Errorf("decode revocation list from %s: %w", v.cfg.RevocationURL, err)
	}
	return list, nil
}
