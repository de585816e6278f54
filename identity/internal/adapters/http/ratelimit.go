package http

import (
	"context"
	"log/slog"
	"net"
	"net/http"

	"dokkumcp.dev/identity/internal/app"
)

// AddressRateLimit limits the requests from each source address before next
// reads them, responding 429 with Retry-After beyond the limit and calling
// onLimited, when it is set, for each rejected request.
//
// NOTE: the address is the TCP peer. Behind a reverse proxy every request
// shares the proxy's address; trusting a forwarded header needs a
// configured list of proxies, which does not exist yet.
func AddressRateLimit(limiter *app.RateLimiter, logger *slog.Logger, onLimited func(context.Context), next http.Handler) http.Handler {
	if limiter == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		address := sourceAddress(r)
		if ok, retryAfter := limiter.Allow(address); !ok {
			if onLimited != nil {
				onLimited(r.Context())
			}
			writeError(r.Context(), w, logger, "request rate limited", app.ClientCredentials{}, app.RateLimitedError(retryAfter), "path", r.URL.Path, "remote_addr", r.RemoteAddr)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// sourceAddress returns the IP address of the request's TCP peer.
func sourceAddress(r *http.Request) string {
	address, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return address
}
